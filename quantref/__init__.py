"""quantref: the reference library of the quantization course.

* :mod:`quantref.linear` -- linear quantization (qparams, quantize, dequantize, rounding, error);
* :mod:`quantref.kernels` -- integer kernels (the zero-point-corrected int8 matmul), compiled
  with Cython, with a pure-NumPy backend that gives the same answers;
* :mod:`quantref.integer` -- integer-only inference: fixed-point requantization (gemmlowp's
  rules), the quantized linear layer, the integer MLP;
* :mod:`quantref.conv` -- im2col, batch-norm folding, the integer convolution and an integer-only ConvNet;
* :mod:`quantref.calibration` -- observers that find ranges batch by batch (min/max, moving
  average, percentile, MSE, entropy);
* :mod:`quantref.qat` -- fake quantization with the straight-through estimator, PTQ and QAT;
* :mod:`quantref.adaround` -- adaptive rounding of one layer's weights;
* :mod:`quantref.llm` -- outliers in large-language-model activations: LLM.int8(), SmoothQuant;
* :mod:`quantref.formats` -- low-precision number formats, bit-exact: FP8 (E4M3, E5M2), NF4,
  the OCP MX block formats (MXFP8, MXFP4 with an E8M0 scale);
* :mod:`quantref.lowbit` -- low-bit weights for language models: group-wise int4/int3, nibble
  packing, the W4A16 kernel (compiled, with a NumPy twin), GPTQ and AWQ;
* :mod:`quantref.zoo` -- the course's small models and datasets.

The packages below :mod:`quantref.kernels` and :mod:`quantref.linear` are imported on demand
(``import quantref.qat``).
"""
from . import integer, kernels, linear
from .linear import dequantize, qparams, quantize

__version__ = "0.1.0"
__all__ = ["dequantize", "integer", "kernels", "linear", "qparams", "quantize"]
