"""Independent references for the integer-inference tests, written from the spec, not from quantref.

Two kinds:

* pure-Python integers (arbitrary precision, no NumPy): ``*_py`` -- the rules of gemmlowp's
  fixedpoint.h and TFLite's QuantizeMultiplier, stated as plainly as possible (exact rationals
  for the multiplier, divmod for the divisions);
* an int64 NumPy emulation of requantization, ``requantize_int64``, used for whole layers; it
  rounds with ``floor((ab + 2^30) / 2^31)`` (round half up, the closed form of gemmlowp's nudge
  and truncation) and ``sign(x) * floor((|x| + 2^(e-1)) / 2^e)`` (half away from zero), a
  different formulation from quantref's mask-and-threshold code.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

INT32_MIN, INT32_MAX = -(2 ** 31), 2 ** 31 - 1


# ----------------------------------------------------------------------------- pure Python
def srdhm_py(a: int, b: int) -> int:
    """SaturatingRoundingDoublingHighMul: (a*b + nudge) / 2^31 truncated; MIN*MIN saturates."""
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = 2 ** 30 if ab >= 0 else 1 - 2 ** 30
    x = ab + nudge
    q = abs(x) // 2 ** 31           # truncating division: divide magnitudes, then restore the sign
    return q if x >= 0 else -q


def rdbpot_py(x: int, e: int) -> int:
    """RoundingDivideByPOT: x / 2^e rounded to nearest, ties away from zero."""
    q, r = divmod(abs(x), 2 ** e)
    if 2 * r >= 2 ** e:             # at or past the half: away from zero
        q += 1
    return q if x >= 0 else -q


def mbqm_py(acc: int, m0: int, shift: int) -> int:
    return rdbpot_py(srdhm_py(acc, m0), shift)


def quantize_multiplier_py(m: float) -> tuple[int, int]:
    """M = M0 * 2^-31 * 2^-n with round(f * 2^31) half up and the carry; tiny M gives (0, 0)."""
    exact = Fraction(m)
    n = 0
    while exact * 2 ** n < Fraction(1, 2):    # find n with M * 2^n in [1/2, 1)
        n += 1
    scaled = exact * 2 ** (n + 31)
    m0 = int(scaled + Fraction(1, 2))         # floor(x + 1/2): half up (int() truncates, x > 0)
    if m0 == 2 ** 31:
        m0, n = 2 ** 30, n - 1
    if n > 31:
        return 0, 0
    return m0, n


# ----------------------------------------------------------------------------- int64 NumPy
def mbqm_int64(acc, m0, shift) -> np.ndarray:
    """Vectorised MBQM on int64 arrays (``m0``, ``shift`` broadcast against ``acc``)."""
    acc = np.asarray(acc, dtype=np.int64)
    m0 = np.asarray(m0, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    prod = acc * m0
    # round half up of prod / 2^31; the only overflow (MIN * MIN) cannot occur since m0 >= 0
    high = np.floor_divide(prod + 2 ** 30, 2 ** 31)
    half = np.where(shift > 0, np.left_shift(1, np.maximum(shift - 1, 0)), 0)
    magnitude = np.floor_divide(np.abs(high) + half, np.left_shift(1, shift))
    return np.sign(high) * magnitude


def requantize_int64(acc, m0, shift, z_out: int, qmin: int, qmax: int, relu: bool = False) -> np.ndarray:
    lower = max(qmin, z_out) if relu else qmin
    return np.clip(mbqm_int64(acc, m0, shift) + z_out, lower, qmax)
