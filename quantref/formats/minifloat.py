"""Small floating-point formats ("minifloats"): their bit layout and exact rounding into them.

A signed minifloat with ``E`` exponent bits, ``M`` mantissa bits and bias ``B`` stores a code
``s | e | m`` (sign, biased exponent field, mantissa field) that means

* ``(-1)^s * 2^(e - B) * (1 + m / 2^M)``  for a normal code, ``e >= 1``;
* ``(-1)^s * 2^(1 - B) * (m / 2^M)``      for a subnormal code, ``e = 0`` (zero when ``m = 0``);

except for the codes that a format reserves for infinity and NaN, which is what tells the
formats apart (``special``):

========  =======================================================  ==============================
special   reserved codes                                           formats
========  =======================================================  ==============================
``ieee``  exponent all ones: ``m = 0`` is +-inf, ``m != 0`` is NaN   FP8 E5M2 (IEEE 754-like)
``fn``    only exponent and mantissa all ones (``S.1111.111``)     FP8 E4M3 ("fn": finite, NaN)
``none``  nothing: every code is a finite number                   FP4 E2M1 (the MX element)
========  =======================================================  ==============================

:func:`encode` rounds float16/32/64 values to the nearest code, ties to the code whose last
mantissa bit is 0 (round to nearest even), with integer operations on the float64 bit pattern
only -- no floating-point arithmetic decides a rounding.  :func:`decode` builds each float32
bit pattern from the code's fields.  The FP8 modules (:mod:`~quantref.formats.fp8`) and the MX
element formats (:mod:`~quantref.formats.mx`) are this one algorithm with their parameters.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import as_codes, as_float64, check_bool

SPECIALS = ("ieee", "fn", "none")


@dataclass(frozen=True)
class MiniFloat:
    """A signed floating-point format of ``1 + exponent_bits + mantissa_bits`` bits.

    Parameters
    ----------
    name : str
        Short name, e.g. ``"e4m3"``.
    exponent_bits, mantissa_bits : int
        Field widths ``E`` and ``M``.
    bias : int
        Exponent bias ``B``: a normal code with exponent field ``e`` scales by ``2^(e - B)``.
    special : {"ieee", "fn", "none"}
        Which codes are reserved for infinity and NaN (see the module docstring).
    """

    name: str
    exponent_bits: int
    mantissa_bits: int
    bias: int
    special: str

    def __post_init__(self):
        if self.special not in SPECIALS:
            raise ValueError(f"special must be one of {SPECIALS}, got {self.special!r}.")

    @property
    def bits(self) -> int:
        """Total width of a code: sign + exponent + mantissa."""
        return 1 + self.exponent_bits + self.mantissa_bits

    @property
    def max_code(self) -> int:
        """The largest finite magnitude code (sign bit clear)."""
        E, M = self.exponent_bits, self.mantissa_bits
        all_ones = (1 << (E + M)) - 1
        if self.special == "ieee":      # exponent field all ones is reserved
            return ((1 << E) - 2) << M | ((1 << M) - 1)
        if self.special == "fn":        # only the all-ones pattern is reserved (NaN)
            return all_ones - 1
        return all_ones

    @property
    def emin(self) -> int:
        """Exponent of the smallest normal number, ``1 - B``."""
        return 1 - self.bias

    @property
    def max(self) -> float:
        """Largest finite value, ``2^(e_max - B) * (1 + m_max / 2^M)`` of :attr:`max_code`."""
        e, m = self.max_code >> self.mantissa_bits, self.max_code & ((1 << self.mantissa_bits) - 1)
        return float(2.0 ** (e - self.bias) * (1 + m / 2 ** self.mantissa_bits))

    @property
    def min_normal(self) -> float:
        """Smallest positive normal value, ``2^(1 - B)``."""
        return float(2.0 ** self.emin)

    @property
    def min_subnormal(self) -> float:
        """Smallest positive value, ``2^(1 - B - M)``."""
        return float(2.0 ** (self.emin - self.mantissa_bits))

    @property
    def nan_code(self) -> int | None:
        """The NaN code with sign bit clear that :func:`encode` writes (None: the format has no NaN).

        ``ieee``: exponent all ones, mantissa ``10..0`` (the quiet NaN); ``fn``: all ones.
        """
        E, M = self.exponent_bits, self.mantissa_bits
        if self.special == "ieee":
            return ((1 << E) - 1) << M | (1 << (M - 1))
        if self.special == "fn":
            return (1 << (E + M)) - 1
        return None

    @property
    def inf_code(self) -> int | None:
        """The +inf code (None unless ``special == "ieee"``)."""
        if self.special == "ieee":
            return ((1 << self.exponent_bits) - 1) << self.mantissa_bits
        return None

    def __repr__(self):
        return (f"MiniFloat({self.name!r}: E{self.exponent_bits}M{self.mantissa_bits}, bias {self.bias}, "
                f"special={self.special!r}, max {self.max:g})")


E4M3 = MiniFloat("e4m3", 4, 3, 7, "fn")
"""FP8 E4M3, the OCP "fn" variant (``float8_e4m3fn``): no infinities, NaN ``S.1111.111``, max 448."""
E5M2 = MiniFloat("e5m2", 5, 2, 15, "ieee")
"""FP8 E5M2, IEEE 754-like (``float8_e5m2``): +-inf ``S.11111.00``, NaN ``S.11111.{01,10,11}``, max 57344."""
E2M1 = MiniFloat("e2m1", 2, 1, 1, "none")
"""FP4 E2M1, the MXFP4 element (``float4_e2m1fn``): no inf, no NaN; values +-{0, 0.5, 1, 1.5, 2, 3, 4, 6}."""

FORMATS = {f.name: f for f in (E4M3, E5M2, E2M1)}


def as_format(fmt) -> MiniFloat:
    """Return the :class:`MiniFloat` named by ``fmt`` (a name such as ``"e4m3"``, or a MiniFloat)."""
    if isinstance(fmt, MiniFloat):
        return fmt
    if isinstance(fmt, str) and fmt.lower() in FORMATS:
        return FORMATS[fmt.lower()]
    raise ValueError(f"fmt={fmt!r} is not a minifloat format; use one of {', '.join(map(repr, FORMATS))} "
                     f"or a MiniFloat.")


def round_shift_right_even(sig: np.ndarray, drop: np.ndarray) -> np.ndarray:
    """``sig / 2^drop`` rounded to the nearest integer, ties to even, on unsigned integers.

    With ``q = sig >> drop`` and the dropped bits ``r = sig mod 2^drop``, the result is ``q + 1``
    when ``r > 2^(drop-1)``, or when ``r = 2^(drop-1)`` (a tie) and ``q`` is odd; else ``q``.
    ``drop`` must be in [1, 63].

    >>> round_shift_right_even(np.array([5, 6, 7, 9, 10, 11], np.uint64), np.uint64(1))
    array([2, 3, 4, 4, 5, 6], dtype=uint64)
    """
    one = np.uint64(1)
    q = sig >> drop
    r = sig & ((one << drop) - one)
    half = one << (drop - one)
    up = (r > half) | ((r == half) & ((q & one) == one))
    return q + up.astype(np.uint64)


def encode(x, fmt, *, saturate: bool = False) -> np.ndarray:
    """Round float values to the nearest code of a minifloat format (round to nearest, ties to even).

    Parameters
    ----------
    x : array_like of float16, float32 or float64
        Values to encode (integers are refused: convert them to float first).
    fmt : str or MiniFloat
        ``"e4m3"``, ``"e5m2"``, ``"e2m1"`` or a :class:`MiniFloat`.
    saturate : bool, default False
        What happens to a value whose magnitude rounds above the format's max:

        ========================  ===========================  ==========================
        input                     ``saturate=False`` (a cast)  ``saturate=True``
        ========================  ===========================  ==========================
        finite, rounds past max   E4M3: NaN; E5M2: +-inf;      +-max
                                  E2M1: +-max (no inf/NaN)
        +-inf                     E4M3: NaN; E5M2: +-inf;      +-max
                                  E2M1: +-max
        NaN                       NaN code (sign kept)         NaN code (sign kept)
        ========================  ===========================  ==========================

        ``saturate=False`` is ml_dtypes' ``x.astype(float8_e4m3fn)`` (and PyTorch's cast);
        ``saturate=True`` equals ``clip(x, -max, max)`` followed by that cast.  "Rounds past max"
        is decided after rounding: E4M3 max is 448 and 464 (halfway to 480) rounds to even, 448.

    Returns
    -------
    numpy.ndarray of uint8, the shape of ``x``
        The codes ``sign << (E+M) | magnitude``.  NaN becomes the format's NaN code
        (:attr:`MiniFloat.nan_code`, E5M2 0x7E, E4M3 0x7F, with the input's sign bit); a format
        without NaN (E2M1) raises ``ValueError`` on NaN input.

    Notes
    -----
    A finite float64 ``x = (-1)^s * sig * 2^(e - 52)``, ``sig`` its 53-bit significand, is kept
    to ``M + 1`` significant bits (``M`` in the subnormal range, fewer below it) by
    ``q = round_even(sig / 2^d)`` with ``d = 52 - M + max(emin - e, 0)``.  The magnitude code is
    ``(max(e + B - 1, 0) << M) + q``: a carry out of the mantissa (``q = 2^(M+1)``, or ``2^M`` from
    a subnormal) moves into the exponent field by itself.  The code overflows when it exceeds
    :attr:`MiniFloat.max_code`.  float64 is wide enough that float16/32 input is encoded exactly
    as it is, with a single rounding.

    Examples
    --------
    >>> encode(np.array([1.0, 1.0625, 1.1875, -448.0, 464.0, 500.0], np.float32), "e4m3")
    array([ 56,  56,  58, 254, 126, 127], dtype=uint8)
    >>> encode(np.array([500.0, np.inf]), "e4m3", saturate=True)
    array([126, 126], dtype=uint8)
    """
    fmt = as_format(fmt)
    saturate = check_bool(saturate, "saturate")
    x = as_float64(x, "x")
    E, M, B = fmt.exponent_bits, fmt.mantissa_bits, fmt.bias
    bits = x.view(np.uint64)
    sign = (bits >> np.uint64(63)).astype(np.int64)
    exp_field = ((bits >> np.uint64(52)) & np.uint64(0x7FF)).astype(np.int64)
    fraction = bits & np.uint64((1 << 52) - 1)
    is_nan = (exp_field == 0x7FF) & (fraction != 0)
    is_inf = (exp_field == 0x7FF) & (fraction == 0)
    if fmt.nan_code is None and np.any(is_nan):
        raise ValueError(
            f"x contains {int(is_nan.sum())} NaN value(s), but {fmt.name.upper()} has no NaN code; "
            f"remove or replace them (e.g. np.nan_to_num(x)), or use a block format whose scale can be NaN."
        )

    # x = sig * 2^(e - 52) with sig < 2^53 (float64 subnormals: exponent -1022, no hidden bit)
    normal64 = exp_field > 0
    sig = np.where(normal64, fraction | np.uint64(1 << 52), fraction)
    e = np.where(normal64, exp_field - 1023, -1022)
    drop = 52 - M + np.maximum(fmt.emin - e, 0)
    drop = np.minimum(drop, 60).astype(np.uint64)      # any drop >= 54 already rounds to 0
    q = round_shift_right_even(sig, drop).astype(np.int64)
    magnitude = (np.maximum(e + B - 1, 0) << M) + q

    overflow = (magnitude > fmt.max_code) | is_inf
    if saturate or fmt.special == "none":
        on_overflow = fmt.max_code
    elif fmt.special == "ieee":
        on_overflow = fmt.inf_code
    else:
        on_overflow = fmt.nan_code
    magnitude = np.where(overflow, on_overflow, magnitude)
    if fmt.nan_code is not None:
        magnitude = np.where(is_nan, fmt.nan_code, magnitude)
    return ((sign << (E + M)) | magnitude).astype(np.uint8)


def decode(codes, fmt) -> np.ndarray:
    """The float32 value of each code: ``(-1)^s 2^(e-B) (1 + m/2^M)``, or ``(-1)^s 2^(1-B) m/2^M`` if ``e = 0``.

    Parameters
    ----------
    codes : array_like of uint8
        One code per byte, in ``[0, 2^bits)`` (``[0, 16)`` for E2M1).
    fmt : str or MiniFloat

    Returns
    -------
    numpy.ndarray of float32
        Exact: every value of these formats is a float32.  Infinity codes decode to +-inf, NaN codes
        to the quiet NaN ``0x7FC00000`` with the code's sign bit (as ml_dtypes does).

    Notes
    -----
    The float32 bit pattern is assembled from the fields: sign ``s << 31``; for a normal code the
    exponent ``e - B + 127`` and fraction ``m << (23 - M)``; for a subnormal one, with ``p`` the
    index of the leading 1 of ``m``, the exponent ``1 - B - M + p + 127`` and fraction
    ``(m - 2^p) << (23 - p)``.

    >>> decode(np.array([0x38, 0x01, 0x7E, 0xFE, 0x7F], np.uint8), "e4m3").tolist()
    [1.0, 0.001953125, 448.0, -448.0, nan]
    """
    fmt = as_format(fmt)
    c = as_codes(codes, fmt.bits, "codes").astype(np.int64)
    E, M, B = fmt.exponent_bits, fmt.mantissa_bits, fmt.bias
    sign = (c >> (E + M)) & 1
    e = (c >> M) & ((1 << E) - 1)
    m = c & ((1 << M) - 1)

    lead = np.zeros_like(m)                      # p = floor(log2(m)) for m >= 1
    for k in range(1, M):
        lead += (m >> k) > 0
    sub_exp = fmt.emin - M + lead + 127
    sub_frac = (m - (1 << lead)) << (23 - lead)
    exp32 = np.where(e > 0, e - B + 127, np.where(m > 0, sub_exp, 0))
    frac32 = np.where(e > 0, m << (23 - M), np.where(m > 0, sub_frac, 0))
    bits = (sign << 31) | (exp32 << 23) | frac32

    magnitude = c & ((1 << (E + M)) - 1)
    if fmt.special == "ieee":
        top = e == (1 << E) - 1
        bits = np.where(top & (m == 0), (sign << 31) | 0x7F800000, bits)
        bits = np.where(top & (m != 0), (sign << 31) | 0x7FC00000, bits)
    elif fmt.special == "fn":
        bits = np.where(magnitude == fmt.nan_code, (sign << 31) | 0x7FC00000, bits)
    return bits.astype(np.uint32).view(np.float32)


def finite_values(fmt) -> np.ndarray:
    """Every finite value of ``fmt``, sorted, zero once (float64; ``2 * max_code + 1`` values).

    >>> finite_values("e2m1")
    array([-6. , -4. , -3. , -2. , -1.5, -1. , -0.5,  0. ,  0.5,  1. ,  1.5,
            2. ,  3. ,  4. ,  6. ])
    """
    fmt = as_format(fmt)
    positive = decode(np.arange(1, fmt.max_code + 1, dtype=np.uint8), fmt).astype(np.float64)
    return np.concatenate([-positive[::-1], [0.0], positive])
