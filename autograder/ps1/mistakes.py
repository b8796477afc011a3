"""Known mistakes of problem set 1, each a small wrong implementation or a test on the output.

The checks compare a failing answer with each of these; a match names the mistake in the
feedback.  Each wrong implementation differs from the reference in exactly one way.
"""
from __future__ import annotations

import numpy as np

from quantref.linear import asymmetric_qparams, clipping_mask, dequantize, integer_grid, minmax, quantize
from quantref.linear.rounding import round_half_away

from ..checking import Mistake


def _grid(bits):
    return integer_grid(bits)


# -- exercise 1: scale and zero point ----------------------------------------------------------

def _qparams_variant(rmin, rmax, bits, *, widen=True, levels=None, zp_round=np.rint, clip=True, sign=1):
    qmin, qmax = _grid(bits)
    lo, hi = (min(rmin, 0.0), max(rmax, 0.0)) if widen else (rmin, rmax)
    scale = (hi - lo) / (levels if levels is not None else qmax - qmin)
    scale = max(scale, np.finfo(np.float32).eps)
    zp = zp_round(-sign * lo / scale) if sign > 0 else zp_round(lo / scale)
    if clip:
        zp = np.clip(zp, qmin, qmax)
    return scale, zp


def _zero_point_not_integral(got, args, expected):
    try:
        zp = float(got[1])
    except Exception:  # noqa: BLE001
        return False
    return np.isfinite(zp) and zp != round(zp)


def _zero_point_outside_grid(got, args, expected):
    try:
        zp = float(got[1])
    except Exception:  # noqa: BLE001
        return False
    qmin, qmax = _grid(args["bits"])
    return not qmin <= zp <= qmax


def _scale_zero(got, args, expected):
    try:
        return not float(got[0]) > 0
    except Exception:  # noqa: BLE001
        return False


def qparams_mistakes(compare):
    f = Mistake.from_function
    return [
        f("the range was not widened to include 0 (use rmin' = min(rmin, 0), rmax' = max(rmax, 0))",
          lambda rmin, rmax, bits: _qparams_variant(rmin, rmax, bits, widen=False), compare),
        f("the range was not widened to include 0, and the zero point was not clipped to the grid",
          lambda rmin, rmax, bits: _qparams_variant(rmin, rmax, bits, widen=False, clip=False), compare),
        Mistake("the zero point is not rounded to an integer (it must be a code on the grid)", _zero_point_not_integral),
        Mistake("the zero point lies outside the grid [0, 2^bits - 1]: clip it", _zero_point_outside_grid),
        f("the zero point uses floor instead of round",
          lambda rmin, rmax, bits: _qparams_variant(rmin, rmax, bits, zp_round=lambda v: -np.floor(-v)), compare),
        f("the zero point uses floor instead of round",
          lambda rmin, rmax, bits: _qparams_variant(rmin, rmax, bits, zp_round=np.floor), compare),
        f("ties in the zero point are rounded away from zero; round half to even (np.round)",
          lambda rmin, rmax, bits: _qparams_variant(rmin, rmax, bits, zp_round=round_half_away), compare),
        f("the scale divides by 2^bits; a b-bit grid has 2^bits - 1 steps",
          lambda rmin, rmax, bits: _qparams_variant(rmin, rmax, bits, levels=2 ** bits), compare),
        f("the zero point has the wrong sign: z = -round(rmin'/s), so that real 0 maps to z",
          lambda rmin, rmax, bits: _qparams_variant(rmin, rmax, bits, sign=-1), compare),
        Mistake("a constant range gives scale 0 (or NaN): use at least SCALE_EPS", _scale_zero),
    ]


# -- exercise 2: quantize -----------------------------------------------------------------------

def _quantize_with(round_fn, clip=True, sign=1, op="div"):
    def wrong(x, scale, zero_point, bits):
        qmin, qmax = _grid(bits)
        v = x / scale if op == "div" else x * scale
        q = round_fn(v) + sign * zero_point
        return np.clip(q, qmin, qmax) if clip else q
    return wrong


def _no_clipping(got, args, expected):
    """Right wherever the reference does not clip, wrong (unclipped or wrapped) where it does."""
    got = np.asarray(got)
    if got.shape != expected.shape:
        return False
    clipped = clipping_mask(args["x"], args["scale"], args["zero_point"], args["bits"])
    same = got.astype(np.float64) == expected.astype(np.float64)
    return bool(clipped.any() and np.all(same[~clipped]) and not np.all(same[clipped]))


def quantize_mistakes(compare_values):
    f = Mistake.from_function
    return [
        f("floor instead of round (np.floor rounds 2.9 down to 2)", _quantize_with(np.floor), compare_values),
        f("truncation toward zero instead of round (int() / astype(int) truncates)", _quantize_with(np.trunc), compare_values),
        f("ties are rounded away from zero (half away, as round-half-up code does); NumPy rounds half to even",
          _quantize_with(round_half_away), compare_values),
        f("ties are rounded up (floor(v + 0.5)); NumPy rounds half to even", _quantize_with(lambda v: np.floor(v + 0.5)), compare_values),
        Mistake("no clipping to the grid [0, 2^bits - 1] (values outside it overflow or wrap around)", _no_clipping),
        f("the zero point is subtracted; it must be added: q = round(x/s) + z", _quantize_with(np.rint, sign=-1), compare_values),
        f("x is multiplied by the scale; quantizing divides by it: q = round(x/s) + z",
          _quantize_with(np.rint, op="mul"), compare_values),
    ]


# -- exercise 3: dequantize ---------------------------------------------------------------------

def dequantize_mistakes(compare):
    f = Mistake.from_function
    return [
        f("q - z is computed in uint8, which wraps around below the zero point; convert q to a wider type first "
          "(q.astype(np.int64) or np.float64)",
          lambda q, scale, zero_point: (q - np.asarray(zero_point).astype(q.dtype)) * scale, compare),
        f("the zero point is ignored: r = s (q - z)", lambda q, scale, zero_point: q.astype(np.float64) * scale, compare),
        f("the zero point is added; it must be subtracted: r = s (q - z)",
          lambda q, scale, zero_point: (q.astype(np.float64) + zero_point) * scale, compare),
        f("dividing by the scale; dequantizing multiplies: r = s (q - z)",
          lambda q, scale, zero_point: (q.astype(np.float64) - zero_point) / scale, compare),
    ]


# -- exercise 4: per-channel quantization ------------------------------------------------------

def _per_channel(w, bits, axis):
    rmin, rmax = minmax(w, axis=axis)
    scales, zps = asymmetric_qparams(rmin, rmax, bits)
    return quantize(w, scales, zps, bits, axis=axis), scales, zps


def _reduced_along_axis(w, bits, axis):
    """Ranges reduced over ``axis`` itself: one range per position in the other axes.

    ``w.min(axis=axis)`` instead of the min over every other axis.  The scales and zero points
    then have the shape of ``w`` without ``axis`` (for a 2-D matrix: one per row when the
    channels are columns, and the right shape when it is square), and ``w`` is quantized with
    them broadcast back along ``axis``.
    """
    w = np.asarray(w, dtype=np.float64)
    qmin, qmax = _grid(bits)
    scales, zps = asymmetric_qparams(w.min(axis=axis), w.max(axis=axis), bits)
    s, z = np.expand_dims(scales, axis), np.expand_dims(zps, axis)
    q = np.clip(np.rint(w / s) + z, qmin, qmax)
    return q.astype(np.uint8 if bits <= 8 else np.uint16), scales, zps


def _per_tensor(w, bits, axis):
    w = np.asarray(w)
    s, z = asymmetric_qparams(w.min(), w.max(), bits)
    n = w.shape[axis]
    return quantize(w, s, z, bits), np.full(n, s), np.full(n, z)


def per_channel_mistakes(compare):
    f = Mistake.from_function
    return [
        f("the ranges were taken along the wrong axis (reduced over `axis` itself): a channel is one index "
          "along `axis`, and its range is the min/max over all the other axes", _reduced_along_axis, compare),
        f("one range for the whole tensor (per-tensor), not one per channel", _per_tensor, compare),
    ]


# -- exercise 5: clipping versus rounding error --------------------------------------------------

def _error_parts(x, scale, zero_point, bits, *, mask="rounded", mean="all", swap=False):
    qmin, qmax = _grid(bits)
    err = (x - dequantize(quantize(x, scale, zero_point, bits), scale, zero_point)) ** 2
    if mask == "rounded":
        clipped = clipping_mask(x, scale, zero_point, bits)
    else:  # the real range [s(qmin - z), s(qmax - z)] without the half step of rounding
        clipped = (x < scale * (qmin - zero_point)) | (x > scale * (qmax - zero_point))
    if mean == "all":
        parts = err[clipped].sum() / x.size, err[~clipped].sum() / x.size
    elif mean == "sum":
        parts = err[clipped].sum(), err[~clipped].sum()
    else:
        parts = (err[clipped].mean() if clipped.any() else 0.0), (err[~clipped].mean() if (~clipped).any() else 0.0)
    return parts[::-1] if swap else parts


def error_mistakes(compare):
    f = Mistake.from_function
    return [
        f("an element counts as clipped when round(x/s) + z leaves the grid; x just outside the real range "
          "(within half a step) still rounds onto the grid",
          lambda x, scale, zero_point, bits: _error_parts(x, scale, zero_point, bits, mask="real"), compare),
        f("each part is averaged over its own elements; both must be divided by the total count n, so that "
          "clipping + rounding = MSE",
          lambda x, scale, zero_point, bits: _error_parts(x, scale, zero_point, bits, mean="own"), compare),
        f("sums of squared errors instead of means (divide by n)",
          lambda x, scale, zero_point, bits: _error_parts(x, scale, zero_point, bits, mean="sum"), compare),
        f("the two parts are swapped: return (clipping, rounding)",
          lambda x, scale, zero_point, bits: _error_parts(x, scale, zero_point, bits, swap=True), compare),
    ]


# -- exercise 6: stochastic rounding -------------------------------------------------------------

def _codes(got):
    try:
        return np.asarray(got).astype(np.float64)
    except (TypeError, ValueError):
        return None


def _deterministic(round_fn):
    """The answer is exactly ``clip(round_fn(x / s) + z)``: a deterministic rounding where a random one belongs."""
    def matches(got, args, expected):
        q = _codes(got)
        want = np.clip(round_fn(expected.ratio) + expected.zero_point, expected.qmin, expected.qmax)
        return q is not None and q.shape == want.shape and bool(np.array_equal(q, want))
    return matches


def _ceil_share_like(target):
    """Every non-integer value is rounded up a share ``target(p)`` of the time (within 5 sigma)."""
    from . import STOCHASTIC_SIGMAS, _ceil_fractions

    def matches(got, args, expected):
        q = _codes(got)
        if q is None or q.shape != expected.v.shape:
            return False
        shares = _ceil_fractions(got, expected)
        return bool(shares) and all(abs(up - target(p)) <= STOCHASTIC_SIGMAS * np.sqrt(max(target(p) * (1 - target(p)), p * (1 - p)) / n)
                                    for p, up, n in shares)
    return matches


def _one_draw_for_all(got, args, expected):
    """One random number ``u`` for the whole array: every value with fraction ``p > u`` is rounded up, the rest down.

    So every copy of a value is rounded the same way, and the values rounded up are exactly those
    with the largest fractions.  (Round to nearest rounds the ties 8.5 and 9.5 in different
    directions, which no single ``u`` does; the cases hold such ties.)
    """
    q = _codes(got)
    if q is None or q.shape != expected.v.shape:
        return False
    flat = q.ravel()
    up, down = [], []
    for value, idx in expected.groups():
        fl = np.floor(value)
        if value == fl:
            continue
        if np.all(flat[idx] == fl + 1):
            up.append(value - fl)
        elif np.all(flat[idx] == fl):
            down.append(value - fl)
        else:
            return False
    return bool(up or down) and (not up or not down or min(up) > max(down))


def stochastic_mistakes():
    return [
        Mistake("round to nearest: stochastic rounding rounds up with probability x/s - floor(x/s), not whenever "
                "that fraction is at least 1/2", _deterministic(np.rint)),
        Mistake("always floor: add 1 when a uniform draw u < x/s - floor(x/s)", _deterministic(np.floor)),
        Mistake("rounds up with probability 1/2 whatever the fraction (a coin flip is biased unless the fraction "
                "is 1/2): round up when u < x/s - floor(x/s)", _ceil_share_like(lambda p: 0.5)),
        Mistake("the comparison is the wrong way round (u > p rounds up with probability 1 - p): round up when "
                "u < x/s - floor(x/s)", _ceil_share_like(lambda p: 1 - p)),
        Mistake("one random number for the whole array: draw one per element, rng.random(x.shape)", _one_draw_for_all),
    ]


# -- exercise 7: per-group quantization -----------------------------------------------------------

def _per_group_with(w, bits, axis, group_size, layout="consecutive"):
    """Asymmetric per-group quantization with the groups formed in another way."""
    w = np.asarray(w, dtype=np.float64)
    axis = axis % w.ndim
    if layout == "last_axis":
        axis = w.ndim - 1
    moved = np.moveaxis(w, axis, -1)
    n = moved.shape[-1]
    if n % group_size:
        raise ValueError("does not divide")
    n_groups = n // group_size
    if layout == "strided":      # element j in group j % n_groups
        grouped = moved.reshape(moved.shape[:-1] + (group_size, n_groups)).swapaxes(-1, -2)
    else:
        grouped = moved.reshape(moved.shape[:-1] + (n_groups, group_size))
    if layout == "per_channel":
        lo = np.repeat(moved.min(axis=-1, keepdims=True), n_groups, axis=-1)[..., None]
        hi = np.repeat(moved.max(axis=-1, keepdims=True), n_groups, axis=-1)[..., None]
    else:
        lo, hi = grouped.min(axis=-1, keepdims=True), grouped.max(axis=-1, keepdims=True)
    s, z = asymmetric_qparams(lo, hi, bits)
    q = np.clip(np.rint(grouped / s) + z, 0, 2 ** bits - 1)
    if layout == "strided":
        q = q.swapaxes(-1, -2)
    q = np.moveaxis(q.reshape(moved.shape), -1, axis).astype(np.uint8)
    return q, np.moveaxis(s[..., 0], -1, axis), np.moveaxis(z[..., 0], -1, axis)


def per_group_mistakes(compare):
    f = Mistake.from_function
    return [
        f("strided groups (element j in group j mod n_groups): a group is G consecutive elements along the axis",
          lambda w, bits, axis, group_size: _per_group_with(w, bits, axis, group_size, "strided"), compare),
        f("one range per channel repeated for each group: each group of G elements needs its own min and max",
          lambda w, bits, axis, group_size: _per_group_with(w, bits, axis, group_size, "per_channel"), compare),
        f("the groups were cut along the last axis whatever `axis` says",
          lambda w, bits, axis, group_size: _per_group_with(w, bits, axis, group_size, "last_axis"), compare),
    ]


# -- exercise 8: symmetric quantization, full and narrow grids --------------------------------------

def _symmetric_with(x, bits, narrow_range, *, divisor=None, amax="abs", round_fn=np.rint):
    x = np.asarray(x, dtype=np.float64)
    qmin, qmax = integer_grid(bits, signed=True, narrow_range=narrow_range)
    a = max(-x.min(), x.max(), 0.0) if amax == "abs" else max(x.max(), 0.0)
    d = divisor(bits, narrow_range) if divisor else (qmax - qmin) / 2
    scale = max(a / d, float(np.finfo(np.float32).eps))
    return np.clip(round_fn(x / scale), qmin, qmax).astype(np.int8), scale


def symmetric_mistakes(compare):
    f = Mistake.from_function
    return [
        f("the narrow divisor 2^(b-1) - 1 (127) on the full grid [-128, 127]: the full grid divides by "
          "(2^b - 1)/2 = 127.5",
          lambda x, bits, narrow_range: _symmetric_with(x, bits, narrow_range, divisor=lambda b, n: 2 ** (b - 1) - 1), compare),
        f("the full divisor (2^b - 1)/2 (127.5) on the narrow grid [-127, 127]: the narrow grid divides by 127",
          lambda x, bits, narrow_range: _symmetric_with(x, bits, narrow_range, divisor=lambda b, n: (2 ** b - 1) / 2), compare),
        f("divided by 2^(b-1) (128): the full grid divides by 127.5, the narrow one by 127",
          lambda x, bits, narrow_range: _symmetric_with(x, bits, narrow_range, divisor=lambda b, n: 2 ** (b - 1)), compare),
        f("the range is max(x), not max|x|: a large negative value must set the scale too",
          lambda x, bits, narrow_range: _symmetric_with(x, bits, narrow_range, amax="max"), compare),
        f("ties are rounded away from zero; round half to even (np.round)",
          lambda x, bits, narrow_range: _symmetric_with(x, bits, narrow_range, round_fn=round_half_away), compare),
    ]
