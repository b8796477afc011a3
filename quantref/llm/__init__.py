"""Quantizing large-language-model activations with outlier channels.

* :mod:`~quantref.llm.synthetic` -- a seeded generator of transformer-like activations with a few
  huge feature channels (``synthetic_layer``, ``outlier_activations``);
* :mod:`~quantref.llm.absmax` -- int8 absmax quantization, per tensor or per row, and the exact
  int8 x int8 product;
* :mod:`~quantref.llm.methods` -- per-tensor and vector-wise int8, LLM.int8()'s mixed-precision
  decomposition, SmoothQuant and its alpha sweep, each returning ``(output, rel_error)``.
"""
from .absmax import Int8Operand, absmax_int8, int8_matmul, int8_product
from .methods import (SMOOTH_CLAMP, THRESHOLD, Int8Decomposition, MatmulResult, alpha_sweep, llm_int8,
                      llm_int8_decompose, outlier_columns, per_tensor_int8, relative_error, smooth, smoothing_factors,
                      smoothquant, vectorwise_int8)
from .synthetic import OutlierActivations, SyntheticLayer, outlier_activations, synthetic_layer

__all__ = ["Int8Decomposition", "Int8Operand", "MatmulResult", "OutlierActivations", "SMOOTH_CLAMP", "SyntheticLayer",
           "THRESHOLD", "absmax_int8", "alpha_sweep", "int8_matmul", "int8_product", "llm_int8", "llm_int8_decompose",
           "outlier_activations", "outlier_columns", "per_tensor_int8", "relative_error", "smooth", "smoothing_factors",
           "smoothquant", "synthetic_layer", "vectorwise_int8"]
