"""Checks peculiar to problem set 5 (what every problem set shares is tested in tests/test_checks.py).

The correct solution is the one in the instructor's source notebook (extracted from its
solution cells), so the checks are tested against exactly what students are graded on.
Each wrong implementation in ``tests/fixtures/ps5_wrong`` must fail its check with a message
that names its mistake; a function that calls quantref must fail too.
"""
from __future__ import annotations


import numpy as np
import pytest

from autograder import CheckFailed, ps5
from autograder.ps5 import cases, mistakes
from course_helpers import FIXTURES, solution_namespace

WRONG = sorted((FIXTURES / "ps5_wrong").glob("*.py"))


@pytest.fixture(scope="module")
def solution():
    return solution_namespace("ps5_kmeans")


@pytest.mark.parametrize("exercise", sorted(mistakes.WRONG))
def test_every_named_mistake_is_caught_by_the_hidden_cases(exercise):
    for label, wrong in mistakes.WRONG[exercise]():
        with pytest.raises(CheckFailed) as info:
            ps5.PROBLEM_SET.check(exercise, wrong, "hidden")
        assert label in str(info.value), (exercise, label, str(info.value))


@pytest.mark.parametrize("label, silent", mistakes.LUT_SILENT, ids=["clip", "wrap", "pad"])
def test_a_lookup_that_does_not_raise_on_a_bad_code_fails_and_is_named(label, silent):
    def lut_dequantize(codes, codebook):
        if np.all(codes < codebook.size):
            return codebook[codes]
        return silent(codes, codebook)
    for suite in ("visible", "hidden"):
        with pytest.raises(CheckFailed) as info:
            ps5.check_lut_dequantize(lut_dequantize, suite)
        assert "must raise an error" in str(info.value) and label in str(info.value)


def test_a_lookup_that_raises_the_wrong_error_fails():
    def lut_dequantize(codes, codebook):
        if np.any(codes >= codebook.size):
            raise RuntimeError("bad code")
        return codebook[codes]
    with pytest.raises(CheckFailed, match=r"raised RuntimeError: bad code .*must raise IndexError or ValueError"):
        ps5.check_lut_dequantize(lut_dequantize)


def test_an_explicit_value_error_is_accepted(solution):
    def lut_dequantize(codes, codebook):
        if codes.size and codes.max() >= codebook.size:
            raise ValueError(f"code {codes.max()} has no entry in a codebook of {codebook.size}")
        return codebook[codes]
    for suite in ("visible", "hidden"):
        ps5.check_lut_dequantize(lut_dequantize, suite)


def test_kmeans_cases_never_empty_a_cluster():
    """quantref re-seeds an empty cluster, a rule outside the exercise: no case may need it."""
    for seed in range(4):
        for suite in ("visible", "hidden"):
            for case in cases.kmeans_cases(suite, seed):
                assert cases._clean(case.args["w"], case.args["k"], case.args["iters"]), case.label


def test_kmeans_tolerance_accepts_another_summation_order(solution):
    """Means by np.bincount, or of float32 sums widened back, stay within the stated tolerance."""
    def kmeans_1d(w, k, iters):
        w = np.asarray(w, dtype=np.float64)
        flat = w.ravel()
        c = np.linspace(flat.min(), flat.max(), k)
        for _ in range(iters):
            codes = np.argmin(np.abs(flat[:, None] - c), axis=1)
            order = np.argsort(-flat)                     # add up in another order
            sums = np.bincount(codes[order], weights=flat[order], minlength=k)
            counts = np.bincount(codes, minlength=k)
            c = np.where(counts > 0, sums / np.maximum(counts, 1), c)
        return c, np.argmin(np.abs(w[..., None] - c), axis=-1)
    for seed in range(3):
        ps5.check_kmeans_1d(kmeans_1d, "hidden", seed)


def test_kmeans_early_stop_is_accepted():
    """Stopping when no code changes gives the same answer as running every iteration."""
    def kmeans_1d(w, k, iters):
        w = np.asarray(w, dtype=np.float64)
        flat = w.ravel()
        c = np.linspace(flat.min(), flat.max(), k)
        codes = np.argmin(np.abs(flat[:, None] - c), axis=1)
        for _ in range(iters):
            c = np.array([flat[codes == j].mean() if np.any(codes == j) else c[j] for j in range(k)])
            new = np.argmin(np.abs(flat[:, None] - c), axis=1)
            if np.array_equal(new, codes):
                break
            codes = new
        return c, np.argmin(np.abs(w[..., None] - c), axis=-1)
    ps5.check_kmeans_1d(kmeans_1d, "hidden")


def test_the_centroid_tolerance_rejects_float32_centroids(solution):
    def kmeans_1d(w, k, iters):
        c, codes = solution["kmeans_1d"](w, k, iters)
        return c.astype(np.float32), codes
    with pytest.raises(CheckFailed, match="centroids: "):
        ps5.check_kmeans_1d(kmeans_1d, "hidden")


def test_packing_round_trips_through_the_solution(solution):
    rng = np.random.default_rng(0)
    for bits in (1, 2, 4):
        codes = rng.integers(0, 1 << bits, size=37).astype(np.uint8)
        packed = solution["pack_codes"](codes, bits)
        assert packed.size == -(-37 * bits // 8)
        assert np.array_equal(solution["unpack_codes"](packed, bits, 37), codes)


def test_wrong_types_are_explained(solution):
    def unpack_codes(packed, bits, n):
        return solution["unpack_codes"](packed, bits, n).astype(np.int64)
    with pytest.raises(CheckFailed, match=r"dtype int64, expected uint8"):
        ps5.check_unpack_codes(unpack_codes)

    def kmeans_assign(w, centroids):
        return solution["kmeans_assign"](w, centroids).astype(np.float64)
    with pytest.raises(CheckFailed, match=r"expected integer codes"):
        ps5.check_kmeans_assign(kmeans_assign)

    def kmeans_1d(w, k, iters):
        return solution["kmeans_1d"](w, k, iters)[0]
    with pytest.raises(CheckFailed, match=r"expected a tuple \(centroids, codes\)"):
        ps5.check_kmeans_1d(kmeans_1d)


def test_errors_in_student_code_become_messages():
    def pack_codes(codes, bits):
        groups = codes.reshape(-1, 8 // bits)             # 3 codes do not fill whole bytes
        return groups[:, 0] | groups[:, 1] << 4
    with pytest.raises(CheckFailed, match="ValueError"):
        ps5.check_pack_codes(pack_codes)


