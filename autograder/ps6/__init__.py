"""Checks for problem set 6, product quantization: prototypes, encoding, lookup tables, the scan.

Each test cell of the assignment calls one of these with the student's function (they return
None: a value left at the end of a test cell would be read by nbgrader as partial credit)::

    from autograder.ps6 import check_encode
    check_encode(encode)                    # visible cases, inputs shown on failure
    check_encode(encode, suite="hidden")    # hidden cases, only their labels shown

The reference answers come from :mod:`quantref.pq` (``ProductQuantizer.train``,
``compute_codes`` and ``tables``, ``scan``, ``quantize_tables``); :mod:`.cases` holds the inputs
and :mod:`.mistakes` the known wrong answers that the feedback names.  Codes, uint8 tables and
the sums of uint8 tables are compared exactly; floats with the tolerances stated at each
comparison.

``train_prototypes`` must raise ``ValueError`` when D is not divisible by M: :func:`grade` runs
the student's function through an adapter that turns that exception into a value, so that a
case can expect it.
"""
from __future__ import annotations

import math

import numpy as np

from quantref.pq import MaddnessEncoder, ProductQuantizer, pack_codes_4bit, quantize_tables, scan

from ..checking import (ProblemSet, Raised, Exercise, compare_float_array, compare_integer_array,
                        compare_tuple)
from . import cases, mistakes


# -- comparisons ------------------------------------------------------------------------------------

def _describe(value) -> str:
    shape = np.shape(value) if isinstance(value, np.ndarray) else None
    return f"an array of shape {shape}" if shape is not None else f"a {type(value).__name__}"


def _compare_prototypes(got, expected) -> str | None:
    if isinstance(expected, Raised):
        if isinstance(got, Raised):
            return None
        return (f"D is not divisible by M, so the function must raise ValueError; it returned {_describe(got)} "
                f"instead")
    if isinstance(got, Raised):
        return f"raised ValueError ({got.message}) although D is divisible by M"
    # quantref returns float32 means (float64 sums): a float64 mean differs by float32 rounding,
    # 6e-8 relative; 1e-6 relative, and 1e-6 absolute for coordinates near 0 (data of order 1 to 10)
    return compare_float_array(got, expected, rtol=1e-6, atol=1e-6)


def _compare_codes(got, expected) -> str | None:
    return compare_integer_array(got, expected, dtype=np.uint8)


def _compare_tables(got, expected) -> str | None:
    # quantref works in float64 and rounds to float32 (6e-8 relative); squared distances by the
    # expansion ||q||^2 - 2 q.c + ||c||^2 lose ~1e-16 of ||q||^2 + ||c||^2 to cancellation, so a
    # zero distance may come out as 1e-7: 1e-6 relative, and 1e-6 of the largest entry absolute
    scale = float(np.abs(expected).max()) if np.size(expected) else 1.0
    return compare_float_array(got, expected, rtol=1e-6, atol=1e-6 * max(scale, 1e-30))


def _compare_sums(got, expected) -> str | None:
    if expected.dtype == np.uint16:
        # uint8 tables: exact integer sums (quantref's uint16, taken as int64)
        try:
            arr = np.asarray(got)
        except Exception:  # noqa: BLE001 - whatever the student returned
            return f"expected an integer array, got {type(got).__name__}"
        if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
            return (f"expected integers for uint8 tables, got dtype {arr.dtype}: the sums of uint8 entries are exact "
                    f"integers (accumulate in int32 or int64)")
        return compare_integer_array(arr, expected.astype(np.int64))
    # float32 tables: quantref adds in float32, m = 0, 1, ...; against a float64 sum that is at most
    # (M - 1) 2^-24 sum_m |T| (M <= 256 here): 1e-5 relative, 1e-5 of the largest sum absolute
    scale = float(np.abs(expected).max()) if np.size(expected) else 1.0
    return compare_float_array(got, expected, rtol=1e-5, atol=1e-5 * max(scale, 1e-30))


def _compare_exact_float(got, expected) -> str | None:
    # offsets are minima of float32 entries and the scale a power of two: both exact; 1e-7
    # relative only lets a float64 offset of float64 tables through (quantref stores float32)
    return compare_float_array(got, expected, rtol=1e-7, atol=0.0)


def _compare_quantized(got, expected) -> str | None:
    return compare_tuple(got, expected, [("tables", lambda g, e: compare_integer_array(g, e, dtype=np.uint8)),
                                         ("offsets", _compare_exact_float), ("scale", _compare_exact_float)])


# -- references (quantref.pq) -----------------------------------------------------------------------------

def _quantizer(D: int, M: int, K: int) -> ProductQuantizer:
    nbits = int(math.log2(K))
    assert 2 ** nbits == K, "the cases use K = 2, 4, ..., 256 (quantref's nbits = 1 to 8)"
    return ProductQuantizer(D, M, nbits)


def _ref_train(X, M, K, niter=10, seed=0):
    try:
        pq = _quantizer(np.shape(X)[1], M, K)
    except ValueError as exc:                 # D not divisible by M
        return Raised(str(exc))
    pq.train(X, niter=niter, seed=seed, init="random", max_points_per_centroid=None, progress=False)
    return pq.centroids


def _ref_encode(X, prototypes):
    M, K, d = np.shape(prototypes)
    pq = _quantizer(M * d, M, K)
    pq.centroids = prototypes
    return pq.compute_codes(X)


def _ref_tables(Q, prototypes, metric="ip"):
    M, K, d = np.shape(prototypes)
    pq = _quantizer(M * d, M, K)
    pq.centroids = prototypes
    return pq.tables(Q, metric)


def _ref_aggregate(tables, codes):
    return np.asarray(scan(codes, tables, backend="numpy"))


def _ref_quantize(tables):
    qt = quantize_tables(tables)
    return qt.tables, qt.offsets, qt.scale


def _ref_maddness_encode(A, split_dims, thresholds):
    return MaddnessEncoder.from_trees(split_dims, thresholds, d=np.shape(A)[1]).encode(A)


def _ref_pack(codes):
    return pack_codes_4bit(codes).data


EXERCISES = {
    "train_prototypes": Exercise("train_prototypes", _ref_train, _compare_prototypes, cases.train_cases,
                                 mistakes.build(mistakes.train_wrong(), _compare_prototypes) + mistakes.train_extra(),
                                 time_limit=20.0, points=(1, 3), raises=("ValueError",), compare_raised=True),
    "encode": Exercise("encode", _ref_encode, _compare_codes, cases.encode_cases,
                       mistakes.build(mistakes.encode_wrong(), _compare_codes) + mistakes.encode_extra(), points=(1, 2)),
    "build_tables": Exercise("build_tables", _ref_tables, _compare_tables, cases.tables_cases,
                             mistakes.build(mistakes.tables_wrong(), _compare_tables) + mistakes.tables_extra(), points=(1, 2)),
    "aggregate": Exercise("aggregate", _ref_aggregate, _compare_sums, cases.aggregate_cases,
                          mistakes.build(mistakes.aggregate_wrong(), _compare_sums) + mistakes.aggregate_extra(), points=(1, 3)),
    "quantize_tables": Exercise("quantize_tables", _ref_quantize, _compare_quantized, cases.quantize_cases,
                                mistakes.build(mistakes.quantize_wrong(), _compare_quantized)
                                + mistakes.quantize_extra(), points=(1, 3)),
    "maddness_encode": Exercise("maddness_encode", _ref_maddness_encode, _compare_codes, cases.maddness_cases,
                                mistakes.build(mistakes.maddness_wrong(), _compare_codes), points=(1, 3)),
    "pack_codes_4bit": Exercise("pack_codes_4bit", _ref_pack, _compare_codes, cases.pack_cases,
                                mistakes.build(mistakes.pack_wrong(), _compare_codes), points=(1, 3)),
}


#: Exercises whose worked solution calls another exercise's answer: none, each stands alone (the
#: closing, ungraded cell of the notebook puts them together).
USES: dict = {}

#: The registry: the notebook's ``check_<exercise>`` and ``require``, the trusted grader and the tests
#: all come from here.
PROBLEM_SET = ProblemSet("ps6_product_quantization", EXERCISES, uses=USES)
globals().update(PROBLEM_SET.notebook_api())
