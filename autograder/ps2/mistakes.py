"""Known mistakes of problem set 2, each a small wrong implementation or a test on the output.

The checks compare a failing answer with each of these; a match names the mistake in the
feedback.  Each wrong implementation differs from the reference in exactly one way, and writes
its wrap-arounds explicitly (``.astype`` to the narrow type) so that it does not depend on
NumPy's promotion rules.
"""
from __future__ import annotations

import math

import numpy as np

from quantref.integer import multiply_by_quantized_multiplier
from quantref.kernels import int_matmul_terms

from ..checking import Mistake

INT32_MIN, INT32_MAX = -(2 ** 31), 2 ** 31 - 1


def _i64(x):
    return np.asarray(x).astype(np.int64)


# -- exercise 1: zero-point terms -----------------------------------------------------------------

def _terms(a, b, za, zb):
    t = int_matmul_terms(a, b, za, zb)
    return t.a_row_sums, t.b_col_sums, t.k_za_zb


def zero_point_terms_mistakes(compare):
    f = Mistake.from_function

    def no_k(a, b, za, zb):
        rows, cols, _ = _terms(a, b, za, zb)
        return rows, cols, _i64(za) * _i64(zb)

    def k_from(axis_len):
        def wrong(a, b, za, zb):
            rows, cols, _ = _terms(a, b, za, zb)
            return rows, cols, axis_len(a, b) * _i64(za) * _i64(zb)
        return wrong

    def swapped_axes(a, b, za, zb):
        _, _, kzz = _terms(a, b, za, zb)
        return _i64(a).sum(axis=0), _i64(b).sum(axis=1), kzz

    def shifted_sums(a, b, za, zb):
        _, _, kzz = _terms(a, b, za, zb)
        return (_i64(a) - za).sum(axis=1), (_i64(b) - zb).sum(axis=0), kzz

    def narrow_sums(a, b, za, zb):
        _, _, kzz = _terms(a, b, za, zb)
        return a.sum(axis=1, dtype=a.dtype), b.sum(axis=0, dtype=b.dtype), kzz

    return [
        f("the last term is K * za * zb: you forgot the factor K (the shared dimension a.shape[1])", no_k, compare),
        f("K is the shared dimension a.shape[1] == b.shape[0], not the number of rows of a",
          k_from(lambda a, b: a.shape[0]), compare),
        f("K is the shared dimension a.shape[1] == b.shape[0], not the number of columns of b",
          k_from(lambda a, b: b.shape[1]), compare),
        f("the sums run along the wrong axes: row sums of a are over k (axis=1), column sums of b over k (axis=0)",
          swapped_axes, compare),
        f("the sums are of the codes themselves, not of (codes - zero point)", shifted_sums, compare),
        f("the sums were accumulated in the codes' 8-bit dtype and wrapped around; sum in int64", narrow_sums, compare),
    ]


# -- exercise 2: the zero-point-corrected matmul ----------------------------------------------------

def _expanded(a, b, za, zb, *, core=None, sign_a=-1, sign_b=-1, sign_k=1, use_k=True):
    a64, b64 = _i64(a), _i64(b)
    za, zb = _i64(za), _i64(zb)
    k = a64.shape[1]
    core = a64 @ b64 if core is None else core
    out = core + sign_a * za * b64.sum(axis=0)[None, :] + sign_b * a64.sum(axis=1)[:, None] * zb
    if use_k:
        out = out + sign_k * k * za * zb
    return out


def _narrow_core(a, b):
    """a @ b in the dtype NumPy gives 8-bit operands (int16 for mixed signs, else the 8-bit type), wrapping."""
    dtype = np.int16 if a.dtype != b.dtype else a.dtype
    return (_i64(a) @ _i64(b)).astype(dtype).astype(np.int64)


def _minus_zero_point(codes, zero_point):
    """``codes - zero_point`` in the type NumPy gives it, wrapping, as int64 values.

    With a Python-int zero point the difference stays in the codes' 8-bit dtype and wraps around
    (3 - 128 = 131 in uint8); with an array of zero points (per-column zb, int64) it is computed
    in the wider of the two dtypes and does not wrap.
    """
    if isinstance(zero_point, np.ndarray) or isinstance(zero_point, np.generic):
        dtype = np.promote_types(codes.dtype, np.asarray(zero_point).dtype)
    else:
        dtype = codes.dtype
    return (_i64(codes) - _i64(zero_point)).astype(dtype).astype(np.int64)


def int_matmul_zp_mistakes(compare):
    f = Mistake.from_function

    def wrapped_subtraction(a, b, za, zb):
        return _minus_zero_point(a, za) @ _minus_zero_point(b, zb)

    return [
        f("the K * za * zb term is missing (it adds back what both zero-point terms subtract twice)",
          lambda a, b, za, zb: _expanded(a, b, za, zb, use_k=False), compare),
        f("wrong sign of the za * colsum(b) term: it is subtracted",
          lambda a, b, za, zb: _expanded(a, b, za, zb, sign_a=1), compare),
        f("wrong sign of the zb * rowsum(a) term: it is subtracted",
          lambda a, b, za, zb: _expanded(a, b, za, zb, sign_b=1), compare),
        f("wrong sign of the K * za * zb term: it is added",
          lambda a, b, za, zb: _expanded(a, b, za, zb, sign_k=-1), compare),
        f("the core product a @ b was computed in the codes' 8/16-bit dtype and wrapped around; cast to int32 "
          "or int64 before multiplying", lambda a, b, za, zb: _expanded(a, b, za, zb, core=_narrow_core(a, b)), compare),
        f("the zero points were subtracted in the codes' 8-bit dtype, which wraps around (3 - 128 = 131 in uint8); "
          "widen first", wrapped_subtraction, compare),
        f("the zero points were ignored: the result is sum_k (a - za)(b - zb), not a @ b",
          lambda a, b, za, zb: _i64(a) @ _i64(b), compare),
    ]


# -- exercise 3: fold the bias ----------------------------------------------------------------------

def fold_bias_mistakes(compare):
    f = Mistake.from_function

    def folded(bias_int32, w_q, x_zero_point, *, sign=-1, axis=1, wrap=None, keep_bias=True):
        prod = _i64(w_q) * _i64(x_zero_point)
        if wrap == "product":
            prod = prod.astype(np.int8).astype(np.int64)
        sums = prod.sum(axis=axis)
        if wrap == "sum":
            sums = _i64(w_q).sum(axis=axis).astype(np.int8).astype(np.int64) * _i64(x_zero_point)
        out = sign * sums
        return _i64(bias_int32) + out if keep_bias else out

    def wrong_axis_shape(got, args, expected):
        w = np.asarray(args["w_q"])
        return w.shape[0] != w.shape[1] and np.shape(got) == (w.shape[1],)

    return [
        f("wrong sign: the folded bias is bias - x_zero_point * sum_k w_q[c, k]",
          lambda **kw: folded(**kw, sign=1), compare),
        f("the weight sums run over the wrong axis: one sum per output channel, over the inputs (axis=1)",
          lambda **kw: folded(**kw, axis=0), compare),
        Mistake("the weight sums run over the wrong axis: one sum per output channel, over the inputs (axis=1)",
                wrong_axis_shape),
        f("x_zero_point * w_q was computed in int8 and wrapped around; widen w_q to int32/int64 first",
          lambda **kw: folded(**kw, wrap="product"), compare),
        f("the weight sums were accumulated in int8 and wrapped around; sum in int64 (w_q.sum(axis=1, dtype=np.int64))",
          lambda **kw: folded(**kw, wrap="sum"), compare),
        f("the bias itself is missing: return bias - x_zero_point * (weight sums)",
          lambda **kw: folded(**kw, keep_bias=False), compare),
    ]


# -- exercise 4: the Q31 multiplier -------------------------------------------------------------------

def _multiplier(M, *, rounding="half_up", carry=True, normalise=0):
    """The Q31 multiplier, M = M0 * 2^-31 * 2^-shift, with one step changed.

    ``normalise`` = d puts M * 2^shift in [2^(d-1), 2^d) instead of [0.5, 1): the shift is
    -e + d (M = f * 2^e, f in [0.5, 1)) and M0 = round(M * 2^(31 + shift)) = round(f * 2^(31 + d)),
    so the pair still represents M but M0 is 2^d times too large (d = 1 is shift = ceil(-log2 M):
    M0 in [2^31, 2^32], 2^31 for a power of two).  ``carry`` halves an M0 that rounds up to
    2^(31 + d).
    """
    f, e = math.frexp(M)                      # M = f * 2^e, f in [0.5, 1)
    shift = -e + normalise
    scaled = f * 2.0 ** (31 + normalise)      # = M * 2^(31 + shift), exact (a power-of-two scaling)
    m0 = {"half_up": math.floor(scaled + 0.5), "trunc": math.floor(scaled), "even": round(scaled)}[rounding]
    if carry and m0 == 2 ** (31 + normalise):
        m0, shift = m0 // 2, shift - 1
    return m0, shift


def _m0_outside_q31_range(got, args, expected):
    try:
        m0 = int(got[0])
    except Exception:  # noqa: BLE001
        return False
    return m0 < 2 ** 30 or m0 > 2 ** 31


def _negative_shift(got, args, expected):
    try:
        return int(got[1]) == -int(expected[1]) != 0
    except Exception:  # noqa: BLE001
        return False


def quantize_multiplier_mistakes(compare):
    f = Mistake.from_function
    return [
        f("M0 was truncated (int() or floor); round it to nearest: floor(M0 * 2^31 + 0.5)",
          lambda M: _multiplier(M, rounding="trunc"), compare),
        f("no carry when M0 rounds up to 2^31: then M0 = 2^30 and the shift is one less",
          lambda M: _multiplier(M, carry=False), compare),
        f("ties were rounded to even (Python's round or np.round); round half up, as TFLite's std::round",
          lambda M: _multiplier(M, rounding="even"), compare),
        f("the shift is off by one: normalise so that M0 / 2^31 lies in [0.5, 1), i.e. M0 in [2^30, 2^31)",
          lambda M: _multiplier(M, normalise=1, carry=False), compare),
        f("the shift is off by one: normalise so that M0 / 2^31 lies in [0.5, 1), i.e. M0 in [2^30, 2^31)",
          lambda M: _multiplier(M, normalise=-1, carry=False), compare),
        Mistake("the shift is off by one: normalise so that M0 / 2^31 lies in [0.5, 1), i.e. M0 in [2^30, 2^31)",
                _m0_outside_q31_range),
        Mistake("the shift has the wrong sign: it is the right shift n >= 0 in M = M0 * 2^-31 * 2^-n",
                _negative_shift),
    ]


# -- exercise 5: multiply by the quantized multiplier -----------------------------------------------

def _srdhm(acc, m0, *, mode="gemmlowp", product=None):
    a, m = _i64(acc), _i64(m0)
    ab = a * m if product is None else product
    if mode == "gemmlowp":
        return np.floor_divide(ab + 2 ** 30, 2 ** 31)          # = gemmlowp's nudge and truncation
    if mode == "floor":
        return ab >> 31
    if mode == "trunc_positive_nudge":
        x = ab + 2 ** 30
        return np.where(x >= 0, x >> 31, -((-x) >> 31))
    if mode == "half_away":
        return np.sign(ab) * ((np.abs(ab) + 2 ** 30) >> 31)
    raise ValueError(mode)


def _rdbpot(x, shift, *, mode="away"):
    x, s = _i64(x), _i64(shift)
    half = np.where(s > 0, np.left_shift(1, np.maximum(s - 1, 0)), 0)
    if mode == "away":
        return np.sign(x) * ((np.abs(x) + half) >> s)
    if mode == "floor":
        return x >> s
    if mode == "half_up":
        return (x + half) >> s
    if mode == "trunc":
        return np.sign(x) * (np.abs(x) >> s)
    raise ValueError(mode)


def _mbqm(acc, M0, shift, *, high="gemmlowp", low="away", shift_offset=0, wrap_product=False):
    product = None
    if wrap_product:
        product = (_i64(acc) * _i64(M0)).astype(np.int32).astype(np.int64)
    x = _srdhm(acc, M0, mode=high, product=product)
    s = np.clip(_i64(shift) + shift_offset, 0, 62)
    return _rdbpot(x, s, mode=low)


def _mbqm_float(acc, M0, shift):
    return np.round(np.asarray(acc, dtype=np.float64) * (np.asarray(M0, dtype=np.float64) / 2.0 ** 31)
                    / 2.0 ** np.asarray(shift, dtype=np.float64))


#: (name, wrong multiply) pairs, shared with exercise 6 (whose solution calls exercise 5's)
MBQM_VARIANTS = [
    ("the high multiply truncates (>> 31 floors); it must round: add the nudge 2^30 before dividing by 2^31",
     lambda acc, M0, shift: _mbqm(acc, M0, shift, high="floor")),
    ("the high multiply adds +2^30 and then truncates toward zero, which is wrong for negative products: "
     "use the nudge 1 - 2^30 when a*b < 0 (or an arithmetic shift, (a*b + 2^30) >> 31)",
     lambda acc, M0, shift: _mbqm(acc, M0, shift, high="trunc_positive_nudge")),
    ("ties in the high multiply were rounded away from zero; gemmlowp's nudge rounds them toward +infinity",
     lambda acc, M0, shift: _mbqm(acc, M0, shift, high="half_away")),
    ("the rounding shift floors (x >> shift); RoundingDivideByPOT rounds to nearest, ties away from zero",
     lambda acc, M0, shift: _mbqm(acc, M0, shift, low="floor")),
    ("the rounding shift truncates toward zero; RoundingDivideByPOT rounds to nearest, ties away from zero",
     lambda acc, M0, shift: _mbqm(acc, M0, shift, low="trunc")),
    ("the rounding shift rounds ties up ((x + 2^(n-1)) >> n); RoundingDivideByPOT rounds ties away from zero, "
     "so negative ties go down", lambda acc, M0, shift: _mbqm(acc, M0, shift, low="half_up")),
    ("the shift is off by one (one too many)", lambda acc, M0, shift: _mbqm(acc, M0, shift, shift_offset=1)),
    ("the shift is off by one (one too few)", lambda acc, M0, shift: _mbqm(acc, M0, shift, shift_offset=-1)),
    ("acc * M0 was computed in int32 and wrapped around; widen to int64 first (acc.astype(np.int64))",
     lambda acc, M0, shift: _mbqm(acc, M0, shift, wrap_product=True)),
    ("the product was computed in floating point and rounded once; a product of two int32 values needs 62 bits "
     "(float64 has 53), and gemmlowp rounds twice, in integers", _mbqm_float),
]


def mbqm_mistakes(compare):
    return [Mistake.from_function(name, wrong, compare) for name, wrong in MBQM_VARIANTS]


# -- exercise 6: requantize ------------------------------------------------------------------------

def _dtype(qmin, qmax):
    return np.uint8 if qmin >= 0 else np.int8


def requantize_mistakes(compare):
    f = Mistake.from_function

    def requant(acc, M0, shift, out_zero_point, qmin, qmax, *, mbqm=None, order="after", clamp=True, sign=1):
        mul = mbqm or (lambda a, m, s: multiply_by_quantized_multiplier(a, m, s).astype(np.int64))
        if order == "before":
            y = mul(np.clip(_i64(acc) + out_zero_point, INT32_MIN, INT32_MAX), M0, shift)
        elif order == "clamp_first":
            y = np.clip(_i64(mul(acc, M0, shift)), qmin, qmax) + out_zero_point
        else:
            y = _i64(mul(acc, M0, shift)) + sign * out_zero_point
        if clamp:
            y = np.clip(y, qmin, qmax)
        return _i64(y).astype(_dtype(qmin, qmax)).astype(np.int64)

    mistakes = [
        f("no clamping to [qmin, qmax]: out-of-range codes wrap around when cast to 8 bits (saturate with np.clip)",
          lambda **kw: requant(**kw, clamp=False), compare),
        f("the zero point was added before the multiply; it is in output units: MBQM(acc) + out_zero_point",
          lambda **kw: requant(**kw, order="before"), compare),
        f("the zero point was subtracted; it is added: MBQM(acc) + out_zero_point",
          lambda **kw: requant(**kw, sign=-1), compare),
        f("clamped before adding the zero point; add it first, then clamp the code to [qmin, qmax]",
          lambda **kw: requant(**kw, order="clamp_first"), compare),
    ]
    for name, wrong in MBQM_VARIANTS:
        mistakes.append(f(f"in the fixed-point multiply (exercise 5): {name}",
                          lambda wrong=wrong, **kw: requant(**kw, mbqm=wrong), compare))
    return mistakes
