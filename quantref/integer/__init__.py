"""Integer-only inference: fixed-point requantization, an int8 linear layer, an integer MLP.

Modules, one idea each:

* :mod:`~quantref.integer.fixedpoint` -- a real multiplier as a Q31 integer and a shift, and
  gemmlowp's rounding high multiply and rounding right shift;
* :mod:`~quantref.integer.requantize` -- int32 accumulators back to 8-bit codes (fused ReLU);
* :mod:`~quantref.integer.linear_layer` -- ``QuantizedLinear``: int8 weights, int32 bias with the
  zero-point term folded in, per-channel multipliers, on :func:`quantref.kernels.int_matmul`;
* :mod:`~quantref.integer.mlp` -- ``IntegerMLP``: a float MLP calibrated and run on integers.
"""
from .fixedpoint import (multiply_by_quantized_multiplier, quantize_multiplier, rounding_divide_by_pot,
                         saturating_rounding_doubling_high_mul)
from .linear_layer import QuantizedLinear, fold_bias, quantize_bias, quantize_weights_per_channel
from .mlp import IntegerMLP, IntegerReport, compare_with_float
from .requantize import requantize

__all__ = ["IntegerMLP", "IntegerReport", "QuantizedLinear", "compare_with_float", "fold_bias",
           "multiply_by_quantized_multiplier", "quantize_bias", "quantize_multiplier", "quantize_weights_per_channel",
           "requantize", "rounding_divide_by_pot", "saturating_rounding_doubling_high_mul"]
