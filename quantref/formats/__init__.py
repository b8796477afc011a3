"""Low-precision number formats, bit-exact: FP8 (E4M3, E5M2), NF4, and the OCP MX block formats.

>>> from quantref.formats import encode_e4m3, decode_e4m3, encode_nf4, encode_mxfp4, values

* :mod:`~quantref.formats.minifloat` -- small floats in general (``MiniFloat``: layout, bias,
  specials), rounding to nearest even by integer operations on the bit pattern, decoding;
* :mod:`~quantref.formats.fp8` -- FP8 E4M3 (fn: no infinities, max 448) and E5M2 (IEEE-like, max
  57344), with or without saturation;
* :mod:`~quantref.formats.e8m0` -- the E8M0 shared scale of MX (a power of two, bias 127, 0xFF NaN);
* :mod:`~quantref.formats.mx` -- MXFP8 / MXFP4: one E8M0 scale per 32 E4M3 or E2M1 elements;
* :mod:`~quantref.formats.nf4` -- QLoRA's NormalFloat-4 code book with block-wise absmax;
* :mod:`~quantref.formats.values` -- every finite value of each format, sorted, for plots.

Codes are uint8, one per byte (4-bit codes in the low nibble).  The formats' bit layouts and
rounding rules are summarised in the course's ``docs/formats.md``.
"""
from .e8m0 import decode_e8m0, e8m0_values, encode_e8m0_exponent
from .fp8 import decode_e4m3, decode_e5m2, encode_e4m3, encode_e5m2
from .minifloat import E2M1, E4M3, E5M2, MiniFloat, decode, encode, finite_values
from .mx import MXTensor, decode_mx, element_emax, encode_mx, encode_mxfp4, encode_mxfp8
from .nf4 import NF4_LEVELS, NF4Quantized, decode_nf4, encode_nf4, nf4_levels_from_quantiles
from .values import all_values, values

__all__ = ["E2M1", "E4M3", "E5M2", "NF4_LEVELS", "MXTensor", "MiniFloat", "NF4Quantized", "all_values",
           "decode", "decode_e4m3", "decode_e5m2", "decode_e8m0", "decode_mx", "decode_nf4", "e8m0_values",
           "element_emax", "encode", "encode_e4m3", "encode_e5m2", "encode_e8m0_exponent", "encode_mx",
           "encode_mxfp4", "encode_mxfp8", "encode_nf4", "finite_values", "nf4_levels_from_quantiles",
           "values"]
