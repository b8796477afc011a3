"""E8M0: the shared scale of the OCP Microscaling (MX) block formats.

An unsigned 8-bit exponent with bias 127 and no mantissa: code ``c`` means ``2^(c - 127)`` for
``c`` in 0 ... 254 (2^-127 ... 2^127) and ``c = 255`` (0xFF) is NaN.  There is no zero, no sign
and no infinity.  Because the bias is float32's, a code ``c >= 1`` is exactly the exponent field of
the float32 ``2^(c-127)``; code 0, ``2^-127``, is the float32 subnormal ``0x00400000``.

The MX encoder computes a scale exponent ``k`` directly (``floor(log2(amax)) - emax``), so this
module converts exponents, not arbitrary floats: :func:`encode_e8m0_exponent` and
:func:`decode_e8m0`.

>>> encode_e8m0_exponent(np.array([-127, -1, 0, 3, 127]))
array([  0, 126, 127, 130, 254], dtype=uint8)
>>> decode_e8m0(np.array([0, 126, 127, 130, 254, 255], np.uint8))
array([5.8774718e-39, 5.0000000e-01, 1.0000000e+00, 8.0000000e+00,
       1.7014118e+38,           nan], dtype=float32)
"""
from __future__ import annotations

import numpy as np

from ._checks import as_codes

BIAS = 127
NAN_CODE = 0xFF
MIN_EXPONENT = -127
MAX_EXPONENT = 127


def encode_e8m0_exponent(k) -> np.ndarray:
    """E8M0 code ``k + 127`` of the power of two ``2^k``, for integer ``k`` in [-127, 127]."""
    k = np.asarray(k)
    if k.dtype == np.bool_ or not np.issubdtype(k.dtype, np.integer):
        raise TypeError(f"k must be an integer array of exponents, got dtype {k.dtype}; an E8M0 code "
                        f"stores 2^k, pass k as np.int64 (e.g. from np.frexp).")
    if k.size and (k.min() < MIN_EXPONENT or k.max() > MAX_EXPONENT):
        raise ValueError(f"k must lie in [{MIN_EXPONENT}, {MAX_EXPONENT}] (E8M0 spans 2^-127 ... 2^127), "
                         f"got values from {k.min()} to {k.max()}; clip k, or use code {NAN_CODE} (NaN).")
    return (k.astype(np.int64) + BIAS).astype(np.uint8)


def decode_e8m0(codes) -> np.ndarray:
    """float32 ``2^(c - 127)`` of each E8M0 code ``c`` (uint8); 0xFF -> NaN.  Exact."""
    c = as_codes(codes, 8, "codes").astype(np.uint32)
    bits = np.where(c == 0, np.uint32(0x00400000), c << np.uint32(23))
    bits = np.where(c == NAN_CODE, np.uint32(0x7FC00000), bits)
    return bits.astype(np.uint32).view(np.float32)


def e8m0_values() -> np.ndarray:
    """The 255 finite E8M0 values ``2^-127 ... 2^127``, sorted (float64)."""
    return np.ldexp(1.0, np.arange(MIN_EXPONENT, MAX_EXPONENT + 1))
