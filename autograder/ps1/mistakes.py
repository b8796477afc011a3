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
