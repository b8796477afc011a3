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

from quantref.linear import asymmetric_qparams, dequantize, minmax, quantization_error, quantize

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


EXERCISES = {
    "asymmetric_qparams": Exercise("asymmetric_qparams", _ref_qparams, _compare_qparams, cases.qparams_cases,
                                   mistakes.qparams_mistakes(_compare_qparams), points=(1, 2)),
    "quantize": Exercise("quantize", _ref_quantize, _compare_codes, cases.quantize_cases,
                         mistakes.quantize_mistakes(_compare_codes_any_dtype), points=(1, 2)),
    "dequantize": Exercise("dequantize", _ref_dequantize, _compare_dequantized, cases.dequantize_cases,
                           mistakes.dequantize_mistakes(_compare_dequantized), points=(1, 2)),
    "quantize_per_channel": Exercise("quantize_per_channel", _ref_per_channel, _compare_per_channel,
                                     cases.per_channel_cases, mistakes.per_channel_mistakes(_compare_per_channel), points=(1, 2)),
    "clipping_rounding_error": Exercise("clipping_rounding_error", _ref_error, _compare_error_parts,
                                        cases.error_cases, mistakes.error_mistakes(_compare_error_parts), points=(1, 2)),
}


#: Exercises whose worked solution calls another exercise's answer: a mistake in the callee
#: also costs the caller's points (the nbgrader tests allow for exactly these).
USES = {"quantize_per_channel": {"asymmetric_qparams", "quantize"},
        "clipping_rounding_error": {"quantize", "dequantize"}}

#: The registry: the notebook's ``check_<exercise>`` and ``require``, the trusted grader and the tests
#: all come from here.
PROBLEM_SET = ProblemSet("ps1_linear_quantization", EXERCISES, uses=USES)
globals().update(PROBLEM_SET.notebook_api())
