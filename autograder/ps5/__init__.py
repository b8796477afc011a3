"""Checks for problem set 5, k-means (codebook) quantization: weight sharing as in Deep Compression.

Each test cell of the assignment calls one of these with the student's function (they return
None: a value left at the end of a test cell would be read by nbgrader as partial credit)::

    from autograder.ps5 import check_kmeans_1d
    check_kmeans_1d(kmeans_1d)                    # visible cases, inputs shown on failure
    check_kmeans_1d(kmeans_1d, suite="hidden")    # hidden cases, only their labels shown

The reference answers come from :mod:`quantref.codebook` (``assign_sorted_centroids``,
``kmeans_1d``, ``lut_dequantize``, ``pack_codes``, ``unpack_codes``, ``storage_bits``,
``compression_ratio``); :mod:`.cases` holds the inputs and :mod:`.mistakes` the known wrong
answers that the feedback names.  Codes, looked-up values and packed bytes are compared exactly;
floats with the tolerances stated at each comparison.  ``lut_dequantize`` is also given codes
that have no codebook entry, on which quantref raises, and must raise too.
"""
from __future__ import annotations


import numpy as np

from quantref.codebook import (PackedCodes, assign_sorted_centroids, compression_ratio, kmeans_1d, lut_dequantize,
                               pack_codes, storage_bits, unpack_codes)

from ..checking import (ProblemSet, Mistake, Exercise, compare_float_array, compare_integer_array,
                        compare_tuple)
from . import cases, mistakes


# -- comparisons ------------------------------------------------------------------------------------

def _compare_codes(got, expected) -> str | None:
    """Exact integer indices, any integer dtype, the shape of the weights."""
    if isinstance(got, tuple):
        return f"expected an array of codes, got a tuple of {len(got)}"
    try:
        arr = np.asarray(got)
    except Exception:  # noqa: BLE001 - whatever the student returned
        return f"expected an array of codes, got {type(got).__name__}"
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        return f"expected integer codes (centroid indices), got dtype {arr.dtype}"
    return compare_integer_array(arr, np.asarray(expected))


def _compare_centroids(got, expected) -> str | None:
    # Means of the same clusters summed in another order agree to ~n * 1e-16 of the largest weight
    # (n <= 1000 here, ~1e-13); 1e-9 relative and 1e-9 of the largest centroid absolute leave room for
    # that and for a few iterations of it, while every named mistake moves a centroid by far more.
    expected = np.asarray(expected, dtype=np.float64)
    scale = float(np.abs(expected).max()) if expected.size else 1.0
    return compare_float_array(got, expected, rtol=1e-9, atol=1e-9 * max(scale, 1e-300))


def _compare_kmeans(got, expected) -> str | None:
    return compare_tuple(got, expected, [("centroids", _compare_centroids), ("codes", _compare_codes)])


def _compare_lookup(got, expected) -> str | None:
    """Exact: a lookup copies codebook values, it computes nothing."""
    if not isinstance(got, np.ndarray):
        return f"expected a NumPy array, got {type(got).__name__}"
    if got.shape != expected.shape:
        return f"shape {got.shape}, expected {expected.shape} (the shape of codes)"
    if got.dtype != np.float32:
        return f"dtype {got.dtype}, expected float32 (the codebook's own values, not converted)"
    return compare_float_array(got, expected, rtol=0.0, atol=0.0)


def _compare_bytes(got, expected) -> str | None:
    return compare_integer_array(got, expected, dtype=np.uint8)


def _compare_storage(got, expected) -> str | None:
    # n log2 k + k b: exact for k a power of two; for other k, log2 from math, NumPy or log(k)/log(2)
    # differs by an ulp or two, so 1e-12 relative (the smallest named mistake, the codebook of a
    # billion-weight layer, changes the result by more than 1e-6).
    part = lambda g, e: compare_float_array(g, e, rtol=1e-12, atol=0.0)  # noqa: E731
    return compare_tuple(got, expected, [("bits", part), ("ratio", part)])


# -- references (quantref.codebook) ----------------------------------------------------------------

def _ref_assign(w, centroids):
    return assign_sorted_centroids(w, centroids)


def _ref_kmeans(w, k, iters):
    r = kmeans_1d(w, k, init="linear", max_iter=iters)
    return r.centroids, r.codes


def _lut_all_cases(suite: str, seed: int) -> list:
    """The lookups, then the codes with no codebook entry, which must raise IndexError or ValueError."""
    return cases.lut_cases(suite, seed) + cases.lut_bad_cases(suite, seed)


def _ref_lut(codes, codebook):
    return lut_dequantize(codes, codebook)


def _ref_pack(codes, bits):
    return pack_codes(codes, bits).data


def _ref_unpack(packed, bits, n):
    return unpack_codes(PackedCodes(packed, bits, (n,)))


def _ref_storage(n, k, b=32):
    return storage_bits(n, k, b), compression_ratio(n, k, b)


EXERCISES = {
    "kmeans_assign": Exercise("kmeans_assign", _ref_assign, _compare_codes, cases.assign_cases,
                              mistakes.build(mistakes.assign_wrong(), _compare_codes) + mistakes.assign_extra(), points=(1, 2)),
    "kmeans_1d": Exercise("kmeans_1d", _ref_kmeans, _compare_kmeans, cases.kmeans_cases,
                          mistakes.build(mistakes.kmeans_wrong(), _compare_kmeans) + mistakes.kmeans_extra(), points=(1, 3)),
    "lut_dequantize": Exercise("lut_dequantize", _ref_lut, _compare_lookup, _lut_all_cases,
                               mistakes.build(mistakes.lut_wrong(), _compare_lookup) + mistakes.lut_extra()
                               + [Mistake.from_function(name, silent, _compare_lookup)
                                  for name, silent in mistakes.LUT_SILENT],
                               points=(1, 1), raises=("IndexError", "ValueError")),
    "pack_codes": Exercise("pack_codes", _ref_pack, _compare_bytes, cases.pack_cases,
                           mistakes.build(mistakes.pack_wrong(), _compare_bytes), points=(1, 2)),
    "unpack_codes": Exercise("unpack_codes", _ref_unpack, _compare_bytes, cases.unpack_cases,
                             mistakes.build(mistakes.unpack_wrong(), _compare_bytes) + mistakes.unpack_extra(), points=(1, 2)),
    "storage_cost": Exercise("storage_cost", _ref_storage, _compare_storage, cases.storage_cases,
                             mistakes.build(mistakes.storage_wrong(), _compare_storage), points=(1, 1)),
}


#: Exercises whose worked solution calls another exercise's answer: a mistake in the callee
#: also costs the caller's points (the nbgrader tests allow for exactly these).
USES = {"kmeans_1d": {"kmeans_assign"}}

#: The registry: the notebook's ``check_<exercise>`` and ``require``, the trusted grader and the tests
#: all come from here.
PROBLEM_SET = ProblemSet("ps5_kmeans", EXERCISES, uses=USES)
globals().update(PROBLEM_SET.notebook_api())
