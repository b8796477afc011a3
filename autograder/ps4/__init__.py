"""Checks for problem set 4, activation outliers in large language models: LLM.int8() and SmoothQuant.

Each test cell of the assignment calls one of these with the student's function (they return
None: a value left at the end of a test cell would be read by nbgrader as partial credit)::

    from autograder.ps4 import check_llm_int8
    check_llm_int8(llm_int8)                    # visible cases, inputs shown on failure
    check_llm_int8(llm_int8, suite="hidden")    # hidden cases, only their labels shown

The reference answers come from :mod:`quantref.llm` (``outlier_columns``, ``absmax_int8``,
``llm_int8_decompose``, ``smoothing_factors``, ``smooth``, ``relative_error``); :mod:`.cases`
holds the inputs and :mod:`.mistakes` the known wrong answers that the feedback names.
Integers are compared exactly (the int8 part of LLM.int8() against quantref's int32 product,
as int64 values), floats with the tolerances stated at each comparison.
"""
from __future__ import annotations

import numpy as np

from quantref.llm import absmax_int8, llm_int8_decompose, outlier_columns, relative_error, smooth, smoothing_factors

from ..checking import (ProblemSet, Exercise, compare_float_array, compare_integer_array, compare_tuple)
from . import cases, mistakes


# -- comparisons ------------------------------------------------------------------------------------

def _compare_indices(got, expected) -> str | None:
    if isinstance(got, tuple) and len(got) == 1:
        return "got a tuple of one array (what np.where returns): return the array of indices itself"
    try:
        arr = np.asarray(got)
    except Exception:  # noqa: BLE001 - whatever the student returned
        return f"expected an array of column indices, got {type(got).__name__}"
    if arr.dtype == np.bool_:
        return "got a boolean mask; return the indices of the outlier columns (np.flatnonzero(mask))"
    if arr.size == 0 and expected.size == 0 and arr.ndim == 1:
        return None                                  # an empty list or float array: no outliers either way
    if not np.issubdtype(arr.dtype, np.integer):
        return f"expected integer column indices, got dtype {arr.dtype}"
    return compare_integer_array(arr, np.asarray(expected))


def _compare_scales(got, expected) -> str | None:
    # s = max|v| / 127 is one float64 division: 1e-9 relative leaves room only for another order
    return compare_float_array(got, expected, rtol=1e-9, atol=0.0)


def _compare_rows(got, expected) -> str | None:
    return compare_tuple(got, expected, [("codes", lambda g, e: compare_integer_array(g, e, dtype=np.int8)),
                                         ("scales", _compare_scales)])


def _compare_int_product(got, expected) -> str | None:
    """Exact integer values (any integer dtype), against quantref's int32 product taken as int64."""
    try:
        arr = np.asarray(got)
    except Exception:  # noqa: BLE001
        return f"expected an integer array, got {type(got).__name__}"
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        return (f"expected integers, got dtype {arr.dtype}: the int8 part is an exact integer product "
                f"(widen the codes to int32 and multiply)")
    return compare_integer_array(arr, np.asarray(expected).astype(np.int64))


def _compare_output(got, expected) -> str | None:
    # the float part and the rescaling in another order agree to ~1e-15 of the largest output;
    # 1e-9 of it absolute, 1e-9 relative
    scale = float(np.abs(expected).max()) if np.size(expected) else 1.0
    return compare_float_array(got, expected, rtol=1e-9, atol=1e-9 * max(scale, 1e-300))


def _compare_llm(got, expected) -> str | None:
    return compare_tuple(got, expected, [("the int8 part", _compare_int_product), ("the output", _compare_output)])


def _compare_factors(got, expected) -> str | None:
    # powers and a division: exp/log or another order agree to ~1e-15 relative
    return compare_float_array(got, expected, rtol=1e-9, atol=0.0)


def _compare_smoothed(got, expected) -> str | None:
    part = lambda g, e: compare_float_array(g, e, rtol=1e-9, atol=0.0)  # noqa: E731
    return compare_tuple(got, expected, [("X / s", part), ("W * s", part)])


def _compare_error(got, expected) -> str | None:
    # a ratio of two norms: 1e-9 relative; 1e-15 absolute only guards an exact output (0 == 0)
    if isinstance(got, (tuple, list)):
        return f"expected one number, got a {type(got).__name__}"
    return compare_float_array(got, expected, rtol=1e-9, atol=1e-15)


# -- references (quantref.llm) ----------------------------------------------------------------------

def _ref_outliers(x, threshold):
    return outlier_columns(x, threshold)


def _ref_rows(v):
    op = absmax_int8(v, "per_row")
    return op.codes, op.scale


def _ref_llm_int8(x, w, threshold):
    d = llm_int8_decompose(x, w, threshold)
    return d.int_product, d.output


def _ref_factors(x, w, alpha):
    return smoothing_factors(x, w, alpha)


def _ref_smooth(x, w, alpha):
    xs, ws, _ = smooth(x, w, alpha)
    return xs, ws


def _ref_error(y, x, w):
    x, w = np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64)
    return relative_error(y, x @ w.T)


EXERCISES = {
    "outlier_columns": Exercise("outlier_columns", _ref_outliers, _compare_indices, cases.outlier_cases,
                                mistakes.build(mistakes.outlier_wrong(), _compare_indices) + mistakes.outlier_extra(), points=(1, 1)),
    "quantize_rows": Exercise("quantize_rows", _ref_rows, _compare_rows, cases.quantize_rows_cases,
                              mistakes.build(mistakes.quantize_rows_wrong(), _compare_rows)
                              + mistakes.quantize_rows_extra(), points=(1, 2)),
    "llm_int8": Exercise("llm_int8", _ref_llm_int8, _compare_llm, cases.llm_int8_cases,
                         mistakes.build(mistakes.llm_int8_wrong(), _compare_llm), points=(1, 3)),
    "smoothing_factors": Exercise("smoothing_factors", _ref_factors, _compare_factors, cases.smoothing_cases,
                                  mistakes.build(mistakes.smoothing_wrong(), _compare_factors), points=(1, 2)),
    "smooth": Exercise("smooth", _ref_smooth, _compare_smoothed, cases.smooth_cases,
                       mistakes.build(mistakes.smooth_wrong(), _compare_smoothed) + mistakes.smooth_extra(), points=(1, 1)),
    "relative_error": Exercise("relative_error", _ref_error, _compare_error, cases.relative_error_cases,
                               mistakes.build(mistakes.relative_error_wrong(), _compare_error), points=(1, 1)),
}


#: Exercises whose worked solution calls another exercise's answer: a mistake in the callee
#: also costs the caller's points (the nbgrader tests allow for exactly these).
USES = {"llm_int8": {"outlier_columns", "quantize_rows"},
        "smooth": {"smoothing_factors"}}

#: The registry: the notebook's ``check_<exercise>`` and ``require``, the trusted grader and the tests
#: all come from here.
PROBLEM_SET = ProblemSet("ps4_llm_outliers", EXERCISES, uses=USES)
globals().update(PROBLEM_SET.notebook_api())
