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

import copy

import numpy as np

from quantref.codebook import (PackedCodes, assign_sorted_centroids, compression_ratio, kmeans_1d, lut_dequantize,
                               pack_codes, storage_bits, unpack_codes)

from ..checking import (SUITES, Exercise, compare_float_array, compare_integer_array, compare_tuple,
                        require_implemented, run_check)
from ..harness import CheckFailed, call_student, quiet
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
                              mistakes.build(mistakes.assign_wrong(), _compare_codes) + mistakes.assign_extra()),
    "kmeans_1d": Exercise("kmeans_1d", _ref_kmeans, _compare_kmeans, cases.kmeans_cases,
                          mistakes.build(mistakes.kmeans_wrong(), _compare_kmeans) + mistakes.kmeans_extra()),
    "lut_dequantize": Exercise("lut_dequantize", _ref_lut, _compare_lookup, cases.lut_cases,
                               mistakes.build(mistakes.lut_wrong(), _compare_lookup) + mistakes.lut_extra()),
    "pack_codes": Exercise("pack_codes", _ref_pack, _compare_bytes, cases.pack_cases,
                           mistakes.build(mistakes.pack_wrong(), _compare_bytes)),
    "unpack_codes": Exercise("unpack_codes", _ref_unpack, _compare_bytes, cases.unpack_cases,
                             mistakes.build(mistakes.unpack_wrong(), _compare_bytes) + mistakes.unpack_extra()),
    "storage_cost": Exercise("storage_cost", _ref_storage, _compare_storage, cases.storage_cases,
                             mistakes.build(mistakes.storage_wrong(), _compare_storage)),
}


def _check_out_of_range(func, suite: str, seed: int) -> int:
    """``lut_dequantize`` must raise (IndexError or ValueError) on a code with no codebook entry."""
    __tracebackhide__ = True
    exercise = EXERCISES["lut_dequantize"]
    bad = cases.lut_bad_cases(suite, seed)
    for i, case in enumerate(bad):
        with quiet():
            try:
                lut_dequantize(**copy.deepcopy(case.args))
            except ValueError:
                pass
            else:  # pragma: no cover - a broken case, not a student's mistake
                raise RuntimeError(f"quantref accepted the out-of-range case {case.label!r}")
        run = call_student(func, time_limit=exercise.time_limit, **copy.deepcopy(case.args))
        if suite == "hidden":
            where = f"hidden case {i + 1} of {len(bad)} with a code out of range ({case.label})"
        else:
            where = (f"case {i + 1} of {len(bad)} with a code out of range ({case.label}): "
                     f"codes={case.args['codes']!r}, codebook={case.args['codebook']!r}")
        if run.quantref_calls:
            raise CheckFailed(
                f"lut_dequantize calls the reference library ({', '.join(run.quantref_calls[:3])}). The exercise "
                f"is to implement it yourself with NumPy; quantref is what your answer is checked "
                f"against, so calling it earns no credit.")
        if run.timed_out:
            raise CheckFailed(f"lut_dequantize took longer than {exercise.time_limit:g} s on {where}.")
        if isinstance(run.error, NotImplementedError):
            raise CheckFailed("lut_dequantize is not implemented yet: replace `raise NotImplementedError()` "
                              "with your code.")
        if isinstance(run.error, (IndexError, ValueError)):
            continue
        if run.error is not None:
            raise CheckFailed(f"lut_dequantize raised {type(run.error).__name__}: {run.error} on {where}; a code "
                              f"with no codebook entry should raise IndexError or ValueError.") from None
        message = [f"lut_dequantize returned a value on {where}.",
                   "  A code with no codebook entry must raise an error (IndexError or ValueError), "
                   "not give a made-up weight."]
        named = []
        for name, silent in mistakes.LUT_SILENT:
            try:
                with quiet(), np.errstate(all="ignore"):
                    produced = silent(**copy.deepcopy(case.args))
            except Exception:  # noqa: BLE001 - a mistake that cannot run on this case does not match
                continue
            if _compare_lookup(run.value, produced) is None:
                named.append(name)
        if named:
            message.append("Likely mistake: " + "; ".join(named))
        raise CheckFailed("\n".join(message))
    print(f"\u2714 lut_dequantize: {'all ' * (len(bad) > 1)}{len(bad)} {suite} case{'s' * (len(bad) > 1)} with a code "
          f"out of range raised an error.")
    return len(bad)


def check_kmeans_assign(func, suite: str = "visible", seed: int = 0) -> None:
    """Check ``kmeans_assign(w, centroids) -> index of the nearest centroid of every weight``."""
    __tracebackhide__ = True
    run_check(EXERCISES["kmeans_assign"], func, suite, seed)


def check_kmeans_1d(func, suite: str = "visible", seed: int = 0) -> None:
    """Check ``kmeans_1d(w, k, iters) -> (centroids, codes)`` (linear initialisation, ``iters`` updates)."""
    __tracebackhide__ = True
    run_check(EXERCISES["kmeans_1d"], func, suite, seed)


def check_lut_dequantize(func, suite: str = "visible", seed: int = 0) -> None:
    """Check ``lut_dequantize(codes, codebook) -> codebook[codes]``, and that a code out of range raises."""
    __tracebackhide__ = True
    if suite not in SUITES:
        raise ValueError(f"suite must be one of {SUITES}, got {suite!r}")
    run_check(EXERCISES["lut_dequantize"], func, suite, seed)
    _check_out_of_range(func, suite, seed)


def check_pack_codes(func, suite: str = "visible", seed: int = 0) -> None:
    """Check ``pack_codes(codes, bits) -> uint8 bytes, 8 // bits codes each, first code in the lowest bits``."""
    __tracebackhide__ = True
    run_check(EXERCISES["pack_codes"], func, suite, seed)


def check_unpack_codes(func, suite: str = "visible", seed: int = 0) -> None:
    """Check ``unpack_codes(packed, bits, n) -> the n uint8 codes``."""
    __tracebackhide__ = True
    run_check(EXERCISES["unpack_codes"], func, suite, seed)


def check_storage_cost(func, suite: str = "visible", seed: int = 0) -> None:
    """Check ``storage_cost(n, k, b=32) -> (n log2 k + k b, n b / (n log2 k + k b))``."""
    __tracebackhide__ = True
    run_check(EXERCISES["storage_cost"], func, suite, seed)


#: The check of each exercise (``lut_dequantize``'s does more than :func:`run_check`).
CHECKS = {"kmeans_assign": check_kmeans_assign, "kmeans_1d": check_kmeans_1d,
          "lut_dequantize": check_lut_dequantize, "pack_codes": check_pack_codes,
          "unpack_codes": check_unpack_codes, "storage_cost": check_storage_cost}


def require(name: str, func) -> None:
    """Fail while exercise ``name`` is still a stub; starts each hidden-test cell."""
    __tracebackhide__ = True
    require_implemented(EXERCISES[name], func)


#: Exercises whose worked solution calls another exercise's answer: a mistake in the callee
#: also costs the caller's points (the nbgrader tests allow for exactly these).
USES = {"kmeans_1d": {"kmeans_assign"}}
