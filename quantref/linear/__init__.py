"""Linear (uniform, affine) quantization: qparams, quantize, dequantize, rounding, error.

Modules, one idea each:

* :mod:`~quantref.linear.grid` -- the integer grid ``[qmin, qmax]`` of a b-bit quantizer;
* :mod:`~quantref.linear.qparams` -- scale and zero point from a real range;
* :mod:`~quantref.linear.rounding` -- the five rounding modes;
* :mod:`~quantref.linear.granularity` -- per-tensor, per-channel and per-group parameters;
* :mod:`~quantref.linear.quantize` -- the mapping and its inverse;
* :mod:`~quantref.linear.error` -- clipping versus rounding error.
"""
from .error import QuantizationError, clipping_mask, quantization_error
from .granularity import minmax, param_shape
from .grid import integer_grid, storage_dtype
from .qparams import SCALE_EPS, asymmetric_qparams, qparams, symmetric_qparams
from .quantize import dequantize, fake_quantize, quantize
from .rounding import ROUNDING_MODES, round_to_integer

__all__ = [
    "QuantizationError", "ROUNDING_MODES", "SCALE_EPS", "asymmetric_qparams", "clipping_mask",
    "dequantize", "fake_quantize", "integer_grid", "minmax", "param_shape", "qparams",
    "quantization_error", "quantize", "round_to_integer", "storage_dtype", "symmetric_qparams",
]
