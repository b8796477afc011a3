"""Checks for problem set 2, integer matmul and requantization.

Each test cell of the assignment calls one of these with the student's function (they return
None: a value left at the end of a test cell would be read by nbgrader as partial credit)::

    from autograder.ps2 import check_int_matmul_zp
    check_int_matmul_zp(int_matmul_zp)                    # visible cases, inputs shown on failure
    check_int_matmul_zp(int_matmul_zp, suite="hidden")    # hidden cases, only their labels shown

The reference answers come from :mod:`quantref` (:mod:`quantref.kernels` and
:mod:`quantref.integer`); :mod:`.cases` holds the inputs and :mod:`.mistakes` the known wrong
answers that the feedback names.
"""
from __future__ import annotations

import numbers

import numpy as np

from quantref.integer import fold_bias, multiply_by_quantized_multiplier, quantize_multiplier, requantize
from quantref.kernels import int_matmul, int_matmul_terms

from ..checking import (ProblemSet, Exercise, compare_integer_array, compare_tuple)
from . import cases, mistakes


# -- comparisons ------------------------------------------------------------------------------------

def _integer_array(got, what: str) -> tuple[np.ndarray | None, str | None]:
    try:
        arr = np.asarray(got)
    except Exception:  # noqa: BLE001 - whatever the student returned
        return None, f"expected {what}, got {type(got).__name__}"
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        return None, (f"expected integers, got dtype {arr.dtype}: integer-only arithmetic stays in integer "
                      f"dtypes (int32/int64), where it is exact")
    return arr, None


def _compare_int_values(got, expected) -> str | None:
    """Exact integer values, any integer dtype; scalars and 0-d arrays alike."""
    arr, problem = _integer_array(got, "an integer array")
    if problem:
        return problem
    return compare_integer_array(arr, np.asarray(expected))


def _compare_int32(got, expected) -> str | None:
    """Exact values in an int32 array."""
    if not isinstance(got, np.ndarray):
        return f"expected a NumPy array, got {type(got).__name__}"
    difference = _compare_int_values(got, expected)
    if difference is None and got.dtype != np.int32:
        return (f"dtype {got.dtype}, expected int32: the result is exact in int32 and the next stage takes int32; "
                f"return result.astype(np.int32)")
    return difference


def _compare_codes(got, expected) -> str | None:
    """Exact output codes in the grid's dtype (uint8 for qmin >= 0, else int8)."""
    return compare_integer_array(got, expected, dtype=expected.dtype)


def _compare_int_scalar(got, expected) -> str | None:
    if isinstance(got, (bool, np.bool_)) or not isinstance(got, (numbers.Integral, np.integer)):
        if isinstance(got, np.ndarray) and got.ndim == 0 and np.issubdtype(got.dtype, np.integer):
            got = int(got)
        else:
            return f"expected an integer, got {got!r} ({type(got).__name__}); convert with int(...)"
    if int(got) != int(expected):
        return f"got {int(got)}, expected {int(expected)}"
    return None


def _compare_terms(got, expected):
    return compare_tuple(got, expected, [("a_row_sums", _compare_int_values), ("b_col_sums", _compare_int_values),
                                         ("k_za_zb", _compare_int_values)])


def _compare_multiplier(got, expected):
    return compare_tuple(got, expected, [("M0", _compare_int_scalar), ("shift", _compare_int_scalar)])


def _values_only(got, produced) -> str | None:
    """How a wrong implementation's output is matched: same integer values, any dtype."""
    return compare_integer_array(np.asarray(got), np.asarray(produced))


def _terms_values(got, produced):
    return compare_tuple(got, produced, [(n, _values_only) for n in ("a_row_sums", "b_col_sums", "k_za_zb")])


def _multiplier_values(got, produced):
    return compare_tuple(got, produced, [("M0", _compare_int_scalar), ("shift", _compare_int_scalar)])


# -- references (quantref) --------------------------------------------------------------------------

def _ref_zero_point_terms(a, b, za, zb):
    terms = int_matmul_terms(a, b, za, zb)
    return terms.a_row_sums, terms.b_col_sums, terms.k_za_zb


def _ref_int_matmul_zp(a, b, za, zb):
    return int_matmul(a, b, za, zb)


def _ref_fold_bias(bias_int32, w_q, x_zero_point):
    return fold_bias(bias_int32, w_q, x_zero_point)


def _ref_quantize_multiplier(M):
    return quantize_multiplier(M)


def _ref_mbqm(acc, M0, shift):
    return multiply_by_quantized_multiplier(acc, M0, shift)


def _ref_requantize(acc, M0, shift, out_zero_point, qmin, qmax):
    return requantize(acc, (M0, shift), out_zero_point, qmin, qmax)


EXERCISES = {
    "zero_point_terms": Exercise("zero_point_terms", _ref_zero_point_terms, _compare_terms,
                                 cases.zero_point_terms_cases, mistakes.zero_point_terms_mistakes(_terms_values), points=(1, 2)),
    "int_matmul_zp": Exercise("int_matmul_zp", _ref_int_matmul_zp, _compare_int32, cases.int_matmul_zp_cases,
                              mistakes.int_matmul_zp_mistakes(_values_only), points=(1, 2)),
    "fold_bias": Exercise("fold_bias", _ref_fold_bias, _compare_int32, cases.fold_bias_cases,
                          mistakes.fold_bias_mistakes(_values_only), points=(1, 2)),
    "quantize_multiplier": Exercise("quantize_multiplier", _ref_quantize_multiplier, _compare_multiplier,
                                    cases.quantize_multiplier_cases,
                                    mistakes.quantize_multiplier_mistakes(_multiplier_values), points=(1, 2)),
    "multiply_by_quantized_multiplier": Exercise("multiply_by_quantized_multiplier", _ref_mbqm, _compare_int32,
                                                 cases.mbqm_cases, mistakes.mbqm_mistakes(_values_only), points=(1, 3)),
    "requantize": Exercise("requantize", _ref_requantize, _compare_codes, cases.requantize_cases,
                           mistakes.requantize_mistakes(_values_only), points=(1, 2)),
}


#: Exercises whose worked solution calls another exercise's answer: a mistake in the callee
#: also costs the caller's points (the nbgrader tests allow for exactly these).
USES = {"int_matmul_zp": {"zero_point_terms"},
        "requantize": {"multiply_by_quantized_multiplier"}}

#: The registry: the notebook's ``check_<exercise>`` and ``require``, the trusted grader and the tests
#: all come from here.
PROBLEM_SET = ProblemSet("ps2_integer_matmul", EXERCISES, uses=USES)
globals().update(PROBLEM_SET.notebook_api())
