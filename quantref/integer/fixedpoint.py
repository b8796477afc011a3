r"""Fixed-point multiplication by a real multiplier, with gemmlowp's exact rounding rules.

Integer-only inference rescales an int32 accumulator by a real multiplier
:math:`M = s_x s_w / s_{out}` without any floating point (Jacob et al. 2018, section 2.2).
:math:`M \in (0, 1)` is written once, offline, as

.. math::

    M = M_0 \cdot 2^{-n}, \qquad M_0 \in [0.5, 1),

with :math:`M_0` stored as an int32 Q31 number (the integer :math:`\mathrm{round}(M_0 \cdot 2^{31})`)
and :math:`n \ge 0` a right shift.  At run time the product is two integer steps:

1. :func:`saturating_rounding_doubling_high_mul` multiplies by the Q31 number and rounds to nearest;
2. :func:`rounding_divide_by_pot` divides by :math:`2^n` and rounds to nearest, ties away from 0.

These are gemmlowp's ``SaturatingRoundingDoublingHighMul`` and ``RoundingDivideByPOT``
(``fixedpoint/fixedpoint.h``) and TFLite's ``MultiplyByQuantizedMultiplier`` for a right shift.
Everything is computed in int64 (a product of two int32 values fits exactly) and returned in int32.
"""
from __future__ import annotations

import numpy as np

from ._checks import INT32_MAX, INT32_MIN, as_integer_array

#: Q31 multipliers have 31 fractional bits: the integer ``M0`` stands for ``M0 / 2^31``.
Q31_ONE = 1 << 31
#: gemmlowp's RoundingDivideByPOT takes exponents in [0, 31].
MAX_SHIFT = 31


def _check_multiplier(multiplier) -> np.ndarray:
    m = np.asarray(multiplier)
    if m.dtype == np.bool_ or m.dtype == object or not (
            np.issubdtype(m.dtype, np.floating) or np.issubdtype(m.dtype, np.integer)):
        raise TypeError(f"multiplier must be a real number (or an array of them) in (0, 1), got {multiplier!r}; "
                        f"compute it as input_scale * weight_scale / output_scale.")
    m = m.astype(np.float64)
    bad = ~np.isfinite(m) | (m <= 0) | (m >= 1)
    if np.any(bad):
        value = float(m.ravel()[int(np.argmax(bad.ravel()))])
        raise ValueError(
            f"multiplier must lie in (0, 1), got {value!r}. A requantization multiplier s_x * s_w / s_out is "
            f"below 1 whenever one output step s_out is larger than one accumulator step s_x * s_w, as in "
            f"every calibrated layer; one >= 1 means the output scale is too small: calibrate the output "
            f"range on the layer's real outputs.")
    return m


def quantize_multiplier(multiplier):
    r"""Write a real multiplier :math:`M \in (0, 1)` as a Q31 integer and a right shift.

    .. math::

        M = f \cdot 2^{-n},\ f \in [0.5, 1) \quad(\texttt{frexp}), \qquad
        M_0 = \mathrm{round}(f \cdot 2^{31}), \qquad
        \text{if } M_0 = 2^{31}:\ M_0 \leftarrow 2^{30},\ n \leftarrow n - 1,

    so that :math:`M \approx M_0 \cdot 2^{-31} \cdot 2^{-n}` with :math:`2^{30} \le M_0 < 2^{31}`.
    ``round`` goes half away from zero (TFLite's ``std::round``); the carry keeps :math:`M_0` an
    int32 when :math:`f` rounds up to 1.  The relative error of the Q31 number is at most
    :math:`2^{-31}`.

    Parameters
    ----------
    multiplier : float or array_like of float
        :math:`M`, strictly between 0 and 1.  An array gives one multiplier per output channel.

    Returns
    -------
    M0 : int, or ndarray of int32
        The Q31 mantissa, in :math:`[2^{30}, 2^{31} - 1]`.
    shift : int, or ndarray of int32
        The right shift :math:`n`, in ``[0, 31]``.

    Raises
    ------
    TypeError
        If ``multiplier`` is not numeric.
    ValueError
        If a multiplier is not in (0, 1), or lies so close to 1 (above :math:`1 - 2^{-32}`) that
        :math:`M_0` would round to 1.0, which needs a left shift.  Multipliers :math:`\ge 1` are
        refused on purpose: requantization multipliers here are below 1, and one at or above 1
        points at a miscalibrated output scale.

    Notes
    -----
    A multiplier below :math:`2^{-32}` would need a shift above 31.  As TFLite does, it becomes
    ``(M0, shift) = (0, 0)``: every int32 accumulator times such an :math:`M` is below 1/2 in
    magnitude, so the exactly rounded product is 0 anyway.

    Examples
    --------
    >>> quantize_multiplier(0.75)         # 0.75 = 0.75 * 2^0, round(0.75 * 2^31) = 1610612736
    (1610612736, 0)
    >>> quantize_multiplier(0.1)          # 0.1 = 0.8 * 2^-3, round(0.8 * 2^31) = 1717986918
    (1717986918, 3)
    """
    m = _check_multiplier(multiplier)
    fraction, exponent = np.frexp(m)                       # m = fraction * 2^exponent, fraction in [0.5, 1)
    # fraction * 2^31 is exact; + 0.5 and floor stay exact below 2^31 (53-bit mantissa), i.e. half up
    m0 = np.floor(fraction * float(Q31_ONE) + 0.5).astype(np.int64)
    shift = -exponent.astype(np.int64)
    carry = m0 == Q31_ONE
    m0 = np.where(carry, Q31_ONE >> 1, m0)
    shift = shift - carry
    if np.any(shift < 0):
        value = float(m.ravel()[int(np.argmax((shift < 0).ravel()))])
        raise ValueError(f"multiplier={value!r} rounds to 1.0 in Q31 (it is within 2^-32 of 1); requantization "
                         f"multipliers must be below 1: widen the output scale slightly.")
    tiny = shift > MAX_SHIFT
    m0 = np.where(tiny, 0, m0)
    shift = np.where(tiny, 0, shift)
    if m.ndim == 0:
        return int(m0), int(shift)
    return m0.astype(np.int32), shift.astype(np.int32)


def saturating_rounding_doubling_high_mul(a, b) -> np.ndarray:
    r"""gemmlowp's ``SaturatingRoundingDoublingHighMul``: the high 32 bits of ``2 a b``, rounded.

    .. math::

        \mathrm{SRDHM}(a, b) = \mathrm{trunc}\!\left(\frac{a b + \nu}{2^{31}}\right), \qquad
        \nu = \begin{cases} 2^{30} & a b \ge 0 \\ 1 - 2^{30} & a b < 0 \end{cases}

    with ``trunc`` rounding toward zero.  This rounds :math:`a b / 2^{31}` to the nearest
    integer, ties toward :math:`+\infty`.  The single product that does not fit is
    :math:`a = b = -2^{31}` (:math:`a b / 2^{31} = 2^{31}`), which saturates to :math:`2^{31} - 1`.
    With ``b`` a Q31 number :math:`M_0`, this is :math:`a \cdot M_0 / 2^{31}` rounded.

    Parameters
    ----------
    a, b : int or array_like of int
        Values in the int32 range; they broadcast against each other.

    Returns
    -------
    ndarray of int32

    Examples
    --------
    >>> saturating_rounding_doubling_high_mul(3, 1 << 30)       # 3 * 2^30 / 2^31 = 1.5 -> 2
    array(2, dtype=int32)
    >>> saturating_rounding_doubling_high_mul(-3, 1 << 30)      # -1.5 -> -1 (ties toward +inf)
    array(-1, dtype=int32)
    >>> saturating_rounding_doubling_high_mul(-2**31, -2**31)   # saturates
    array(2147483647, dtype=int32)
    """
    a64 = as_integer_array(a, "a")
    b64 = as_integer_array(b, "b")
    ab = a64 * b64                                    # |ab| <= 2^62: exact in int64
    nudge = np.where(ab >= 0, np.int64(1 << 30), np.int64(1 - (1 << 30)))
    x = ab + nudge
    high = np.where(x >= 0, x >> 31, -((-x) >> 31))   # division by 2^31, truncating toward zero
    overflow = (a64 == INT32_MIN) & (b64 == INT32_MIN)
    return np.where(overflow, INT32_MAX, high).astype(np.int32)


def _check_exponent(exponent, name: str = "exponent") -> np.ndarray:
    e = np.asarray(exponent)
    if e.dtype == np.bool_ or not np.issubdtype(e.dtype, np.integer):
        raise TypeError(f"{name} must be an integer (or integer array) in [0, {MAX_SHIFT}], got {exponent!r}; "
                            f"it is a right shift, e.g. the shift from quantize_multiplier.")
    e = e.astype(np.int64)
    if e.size and (e.min() < 0 or e.max() > MAX_SHIFT):
        raise ValueError(f"{name} must lie in [0, {MAX_SHIFT}] (a right shift of an int32), got values from "
                         f"{int(e.min())} to {int(e.max())}; gemmlowp's RoundingDivideByPOT allows no other.")
    return e


def rounding_divide_by_pot(x, exponent) -> np.ndarray:
    r"""gemmlowp's ``RoundingDivideByPOT``: :math:`x / 2^e` rounded to nearest, ties away from zero.

    .. math::

        \mathrm{RDBPOT}(x, e) = \lfloor x / 2^e \rfloor + [\, r > t \,], \qquad
        r = x \bmod 2^e, \quad t = \lfloor (2^e - 1) / 2 \rfloor + [\, x < 0 \,]

    (``r`` is the low ``e`` bits of ``x``; the threshold is one higher for negative ``x`` so that
    ties go away from zero on both sides).

    Parameters
    ----------
    x : int or array_like of int
        Values in the int32 range.
    exponent : int or array_like of int
        In ``[0, 31]``; broadcasts against ``x`` (one shift per output channel, for example).

    Returns
    -------
    ndarray of int32

    Examples
    --------
    >>> rounding_divide_by_pot([5, -5, 6, -6, 7], 1)   # 2.5 -> 3, -2.5 -> -3, 3, -3, 3.5 -> 4
    array([ 3, -3,  3, -3,  4], dtype=int32)
    """
    x64 = as_integer_array(x, "x")
    e = _check_exponent(exponent)
    mask = (np.int64(1) << e) - 1
    remainder = x64 & mask
    threshold = (mask >> 1) + (x64 < 0)
    return ((x64 >> e) + (remainder > threshold)).astype(np.int32)


def check_quantized_multiplier(m0, shift) -> tuple[np.ndarray, np.ndarray]:
    """Validate a fixed-point multiplier ``(M0, shift)``; return both as int64 arrays."""
    m0 = as_integer_array(m0, "M0", 0, INT32_MAX, what="Q31 multiplier, [0, 2^31 - 1]")
    shift = _check_exponent(shift, "shift")
    return m0, shift


def multiply_by_quantized_multiplier(acc, m0, shift) -> np.ndarray:
    r"""Multiply int32 values by :math:`M = M_0 \cdot 2^{-31} \cdot 2^{-n}` using integers only.

    .. math::

        \mathrm{MBQM}(acc, M_0, n) = \mathrm{RDBPOT}\big(\mathrm{SRDHM}(acc, M_0),\ n\big)

    which approximates :math:`\mathrm{round}(acc \cdot M)`: the first step rounds to a multiple
    of :math:`2^{-n}`, the second to an integer (ties away from zero), so the result is within
    :math:`1/2 + 2^{-n-1}` of :math:`acc \cdot M_0 2^{-31-n}`.

    Parameters
    ----------
    acc : array_like of int
        Accumulators, in the int32 range.
    m0 : int or array_like of int
        Q31 mantissas from :func:`quantize_multiplier`, in ``[0, 2^31 - 1]``.
    shift : int or array_like of int
        Right shifts, in ``[0, 31]``.  ``m0`` and ``shift`` broadcast against ``acc`` (per
        output channel: shape ``(N,)`` against accumulators of shape ``(M, N)``).

    Returns
    -------
    ndarray of int32

    Examples
    --------
    >>> m0, shift = quantize_multiplier(0.25)                    # (2^30, 1)
    >>> multiply_by_quantized_multiplier([10, -10, 6, -6], m0, shift)   # 2.5, -2.5, 1.5, -1.5
    array([ 3, -3,  2, -2], dtype=int32)
    """
    acc64 = as_integer_array(acc, "acc")
    m0, shift = check_quantized_multiplier(m0, shift)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(acc64, m0), shift)
