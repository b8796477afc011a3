"""Checks for problem set 1, linear quantization.

Each test cell of the assignment calls one of these with the student's function (they return
None: a value left at the end of a test cell would be read by nbgrader as partial credit)::

    from autograder.ps1 import check_quantize
    check_quantize(quantize)                    # visible cases, inputs shown on failure
    check_quantize(quantize, suite="hidden")    # hidden cases, only their labels shown

The reference answers come from :mod:`quantref`; :mod:`.cases` holds the inputs and
:mod:`.mistakes` the known wrong answers that the feedback names.
"""
from __future__ import annotations

import numpy as np

from quantref.linear import (asymmetric_qparams, dequantize, integer_grid, minmax, quantization_error, quantize,
                             symmetric_qparams)

from ..checking import (ProblemSet, Exercise, compare_float_array, compare_integer_array, compare_tuple)
from . import cases, mistakes


def _compare_zero_point(got, expected) -> str | None:
    try:
        value = float(np.asarray(got))
    except (TypeError, ValueError):
        return f"expected an integer, got {type(got).__name__}"
    if not np.isfinite(value) or value != round(value):
        return f"got {value!r}, which is not an integer"
    if value != expected:
        return f"got {value:g}, expected {expected}"
    return None


def _compare_scale(got, expected) -> str | None:
    # 1e-9 relative: float64 formulas written in another order agree to ~1e-15; mistakes
    # change the scale by factors like 255/256 or more.
    return compare_float_array(got, expected, rtol=1e-9)


def _compare_qparams(got, expected):
    return compare_tuple(got, expected, [("scale", _compare_scale), ("zero_point", _compare_zero_point)])


def _compare_codes(got, expected):
    return compare_integer_array(got, expected, dtype=np.uint8)


def _compare_codes_any_dtype(got, expected):
    return compare_integer_array(got, np.asarray(expected))


def _compare_dequantized(got, expected):
    # 1e-6 relative: a float32 computation is within ~1e-7; 1e-12 absolute covers s*q - s*z at q = z.
    return compare_float_array(got, expected, rtol=1e-6, atol=1e-12)


def _compare_per_channel(got, expected):
    return compare_tuple(got, expected, [("q", _compare_codes), ("scales", _compare_scale),
                                         ("zero_points", lambda g, e: compare_integer_array(np.asarray(g), e))])


def _compare_error_parts(got, expected):
    # float64 sums in another order agree to ~1e-13 relative; 1e-300 absolute only guards 0 == 0
    part = lambda g, e: compare_float_array(g, e, rtol=1e-9, atol=1e-300)  # noqa: E731
    return compare_tuple(got, expected, [("clipping", part), ("rounding", part)])


def _ref_qparams(rmin, rmax, bits):
    return asymmetric_qparams(rmin, rmax, bits)


def _ref_quantize(x, scale, zero_point, bits):
    return quantize(x, scale, zero_point, bits)


def _ref_dequantize(q, scale, zero_point):
    return dequantize(q, scale, zero_point)


def _ref_per_channel(w, bits, axis):
    rmin, rmax = minmax(w, axis=axis)
    scales, zero_points = asymmetric_qparams(rmin, rmax, bits)
    return quantize(w, scales, zero_points, bits, axis=axis), scales, zero_points


def _ref_error(x, scale, zero_point, bits):
    err = quantization_error(x, scale, zero_point, bits)
    return err.clipping, err.rounding


# -- stochastic rounding: judged statistically ------------------------------------------------------

#: How many binomial standard deviations the mean rounding error of one value may stray from 0.
#: A correct implementation exceeds 5 sigma with probability below 6e-7 per value (normal tail; each
#: value is drawn thousands of times), and the draws come from the student's seeded generator, so a
#: correct answer passes, and a given answer gets the same verdict on every run.
STOCHASTIC_SIGMAS = 5.0


class StochasticCodes:
    """What stochastic rounding must produce, as the comparison needs it.

    ``v = x / s + z`` (the unrounded codes, float64; ``ratio = x / s``) and the grid ``[qmin, qmax]``.  A code is right
    when it is ``clip(floor(v))`` or ``clip(ceil(v))``; the codes of each distinct value are right
    together when their mean error ``mean(q) - v`` lies within ``STOCHASTIC_SIGMAS`` binomial standard
    deviations ``sqrt(p (1 - p) / n)`` of 0, with ``p = v - floor(v)`` and ``n`` the value's count.
    """

    def __init__(self, ratio, zero_point, qmin, qmax, codes):
        self.ratio, self.zero_point = ratio, zero_point
        self.v = ratio + zero_point
        self.qmin, self.qmax, self.codes = qmin, qmax, codes   # codes: quantref's draw with the same seed

    def __repr__(self):
        return repr(self.codes)

    def groups(self):
        """``(v, index)`` per distinct unrounded code strictly inside the grid (clipping would bias the mean)."""
        flat = self.v.ravel()
        values, inverse = np.unique(flat, return_inverse=True)
        for k, value in enumerate(values):
            if np.floor(value) >= self.qmin and np.ceil(value) <= self.qmax:
                yield value, np.flatnonzero(inverse == k)


def _ceil_fractions(got, expected: StochasticCodes):
    """``[(p, share of codes rounded up, n)]`` per distinct non-integer value (``p = v - floor(v)``)."""
    flat = np.asarray(got).astype(np.float64).ravel()
    out = []
    for value, idx in expected.groups():
        p = value - np.floor(value)
        if p > 0:
            out.append((p, float(np.mean(flat[idx] == np.floor(value) + 1)), idx.size))
    return out


def _compare_stochastic(got, expected: StochasticCodes):
    if not isinstance(got, np.ndarray):
        return f"expected a NumPy array, got {type(got).__name__}"
    if got.shape != expected.v.shape:
        return f"shape {got.shape}, expected {expected.v.shape}"
    if got.dtype != np.uint8:
        return f"dtype {got.dtype}, expected uint8 (cast with .astype(np.uint8) after clipping)"
    q = got.astype(np.float64)
    lo = np.clip(np.floor(expected.v), expected.qmin, expected.qmax)
    hi = np.clip(np.ceil(expected.v), expected.qmin, expected.qmax)
    bad = (q != lo) & (q != hi)
    if bad.any():
        i = tuple(int(j) for j in np.argwhere(bad)[0])
        return (f"{int(bad.sum())} of {bad.size} codes are neither clip(floor(x/s) + z) nor clip(ceil(x/s) + z); "
                f"first at index {i}: got {got[i]}, expected {lo[i]:g} or {hi[i]:g}")
    for p, up, n in _ceil_fractions(got, expected):
        sigma = np.sqrt(p * (1 - p) / n)
        if abs(up - p) > STOCHASTIC_SIGMAS * sigma:
            return (f"biased: a value with x/s - floor(x/s) = {p:.4f}, drawn {n} times, was rounded up {up:.4f} of "
                    f"the time, so its mean rounding error is {up - p:+.4f}; unbiased rounding keeps it within "
                    f"{STOCHASTIC_SIGMAS:g} sigma = {STOCHASTIC_SIGMAS * sigma:.4f} of 0 (sigma = sqrt(p(1-p)/n))")
    return None


def _ref_stochastic(x, scale, zero_point, bits, seed):
    qmin, qmax = integer_grid(bits)
    ratio = np.asarray(x, dtype=np.float64) / scale
    return StochasticCodes(ratio, zero_point, qmin, qmax, quantize(x, scale, zero_point, bits, rounding="stochastic", rng=seed))


# -- per group and symmetric ----------------------------------------------------------------------------

def _compare_per_group(got, expected):
    return compare_tuple(got, expected, [("q", _compare_codes), ("scales", _compare_scale),
                                         ("zero_points", lambda g, e: compare_integer_array(np.asarray(g), e))])


def _ref_per_group(w, bits, axis, group_size):
    rmin, rmax = minmax(w, axis=axis, group_size=group_size)
    scales, zero_points = asymmetric_qparams(rmin, rmax, bits)
    return quantize(w, scales, zero_points, bits, axis=axis, group_size=group_size), scales, zero_points


def _compare_symmetric(got, expected):
    return compare_tuple(got, expected, [("q", lambda g, e: compare_integer_array(g, e, dtype=np.int8)),
                                         ("scale", _compare_scale)])


def _ref_symmetric(x, bits, narrow_range):
    x = np.asarray(x, dtype=np.float64)
    scale, _ = symmetric_qparams(x.min(), x.max(), bits, narrow_range=narrow_range)
    return quantize(x, scale, 0, bits, signed=True, narrow_range=narrow_range), scale


EXERCISES = {
    "asymmetric_qparams": Exercise("asymmetric_qparams", _ref_qparams, _compare_qparams, cases.qparams_cases,
                                   mistakes.qparams_mistakes(_compare_qparams), points=(1, 2)),
    "quantize": Exercise("quantize", _ref_quantize, _compare_codes, cases.quantize_cases,
                         mistakes.quantize_mistakes(_compare_codes_any_dtype), points=(1, 2)),
    "dequantize": Exercise("dequantize", _ref_dequantize, _compare_dequantized, cases.dequantize_cases,
                           mistakes.dequantize_mistakes(_compare_dequantized), points=(1, 1)),
    "quantize_per_channel": Exercise("quantize_per_channel", _ref_per_channel, _compare_per_channel,
                                     cases.per_channel_cases, mistakes.per_channel_mistakes(_compare_per_channel), points=(1, 2)),
    "clipping_rounding_error": Exercise("clipping_rounding_error", _ref_error, _compare_error_parts,
                                        cases.error_cases, mistakes.error_mistakes(_compare_error_parts), points=(1, 2)),
    "stochastic_quantize": Exercise("stochastic_quantize", _ref_stochastic, _compare_stochastic, cases.stochastic_cases,
                                    mistakes.stochastic_mistakes(), points=(2, 3)),
    "quantize_per_group": Exercise("quantize_per_group", _ref_per_group, _compare_per_group, cases.per_group_cases,
                                   mistakes.per_group_mistakes(_compare_per_group), points=(1, 3)),
    "symmetric_quantize": Exercise("symmetric_quantize", _ref_symmetric, _compare_symmetric, cases.symmetric_cases,
                                   mistakes.symmetric_mistakes(_compare_symmetric), points=(1, 2)),
}


#: Exercises whose worked solution calls another exercise's answer: a mistake in the callee
#: also costs the caller's points (the nbgrader tests allow for exactly these).
USES = {"quantize_per_channel": {"asymmetric_qparams", "quantize"},
        "clipping_rounding_error": {"quantize", "dequantize"}}

#: The registry: the notebook's ``check_<exercise>`` and ``require``, the trusted grader and the tests
#: all come from here.
PROBLEM_SET = ProblemSet("ps1_linear_quantization", EXERCISES, uses=USES)
globals().update(PROBLEM_SET.notebook_api())
