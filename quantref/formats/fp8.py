"""FP8: the two 8-bit floating-point formats of the OCP 8-bit float (OFP8) specification.

=========  ==========  ====  =====  ==========  =============  ==========================================
format     layout      bias  max    min normal  min subnormal  specials
=========  ==========  ====  =====  ==========  =============  ==========================================
E4M3 (fn)  S EEEE MMM  7     448    2^-6        2^-9           NaN S.1111.111 only, no infinities
E5M2       S EEEEE MM  15    57344  2^-14       2^-16          +-inf S.11111.00, NaN S.11111.{01,10,11}
=========  ==========  ====  =====  ==========  =============  ==========================================

E4M3 gives up infinities and all but one NaN pattern per sign to gain a binade (its exponent field
1111 holds the values 256 ... 448); E5M2 keeps IEEE 754's special values.  Both round to nearest,
ties to even.  Out-of-range values follow ``saturate`` (see :func:`~quantref.formats.minifloat.encode`):
``saturate=False`` is the cast of ml_dtypes and PyTorch (E4M3 overflow -> NaN, E5M2 overflow -> inf),
``saturate=True`` clamps to +-max (inf too), as FP8 training recipes do; NaN stays NaN either way.

>>> encode_e4m3(np.array([0.1, -3.0, 1000.0], np.float32), saturate=True)
array([ 29, 196, 126], dtype=uint8)
>>> decode_e4m3(np.array([29, 196, 126], np.uint8)).tolist()
[0.1015625, -3.0, 448.0]
"""
from __future__ import annotations

import numpy as np

from .minifloat import E4M3, E5M2, decode, encode


def encode_e4m3(x, *, saturate: bool = False) -> np.ndarray:
    """FP8 E4M3 (fn) codes of ``x``, round to nearest even; overflow -> NaN, or +-448 if ``saturate``.

    ``x``: float16/32/64 array.  Returns uint8 codes of the same shape.  NaN -> 0x7F/0xFF (sign
    kept); +-inf -> NaN, or +-448 with ``saturate=True``.
    """
    return encode(x, E4M3, saturate=saturate)


def decode_e4m3(codes) -> np.ndarray:
    """float32 value of FP8 E4M3 (fn) ``codes`` (uint8): ``(-1)^s 2^(e-7) (1 + m/8)``, subnormal ``(-1)^s 2^-6 m/8``."""
    return decode(codes, E4M3)


def encode_e5m2(x, *, saturate: bool = False) -> np.ndarray:
    """FP8 E5M2 codes of ``x``, round to nearest even; overflow -> +-inf, or +-57344 if ``saturate``.

    ``x``: float16/32/64 array.  Returns uint8 codes of the same shape.  NaN -> 0x7E/0xFE (the quiet
    NaN, sign kept); +-inf -> +-inf (0x7C/0xFC), or +-57344 with ``saturate=True``.
    """
    return encode(x, E5M2, saturate=saturate)


def decode_e5m2(codes) -> np.ndarray:
    """float32 value of FP8 E5M2 ``codes`` (uint8): ``(-1)^s 2^(e-15) (1 + m/4)``, subnormal ``(-1)^s 2^-14 m/4``."""
    return decode(codes, E5M2)
