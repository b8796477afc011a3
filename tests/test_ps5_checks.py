"""The problem-set-5 checks pass a correct solution and fail every kept wrong implementation.

The correct solution is the one in the instructor's source notebook (extracted from its
solution cells), so the checks are tested against exactly what students are graded on.
Each wrong implementation in ``tests/fixtures/ps5_wrong`` must fail its check with a message
that names its mistake; a function that calls quantref must fail too.
"""
from __future__ import annotations


import numpy as np
import pytest

from autograder.checking import run_check
from autograder import CheckFailed, ps5
from autograder.ps5 import cases, mistakes
from course_helpers import FIXTURES, load_fixture, solution_namespace

WRONG = sorted((FIXTURES / "ps5_wrong").glob("*.py"))



@pytest.fixture(scope="module")
def solution():
    return solution_namespace("ps5_kmeans")


@pytest.mark.parametrize("name", sorted(ps5.EXERCISES))
@pytest.mark.parametrize("suite", ["visible", "hidden"])
def test_solution_passes(solution, name, suite, capsys):
    n = run_check(ps5.EXERCISES[name], solution[name], suite)
    assert n >= (2 if suite == "visible" else 9)
    assert f"all {n} {suite} cases passed" in capsys.readouterr().out
    ps5.PROBLEM_SET.check(name, solution[name], suite)          # the full check: lut_dequantize's raises too


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_solution_passes_hidden_suites_of_other_seeds(solution, seed):
    for name, check in {n: getattr(ps5, f"check_{n}") for n in ps5.EXERCISES}.items():
        check(solution[name], "hidden", seed)


def test_every_exercise_has_a_check_and_a_cell_convention():
    assert {n for n in ps5.EXERCISES if hasattr(ps5, f"check_{n}")} == set(ps5.EXERCISES)
    assert all(callee in ps5.EXERCISES for callees in ps5.USES.values() for callee in callees)


def test_at_least_five_kept_wrong_implementations_per_assignment():
    modules = [load_fixture(p) for p in WRONG]
    assert len(WRONG) >= 10
    assert {m.EXERCISE for m in modules} == set(ps5.EXERCISES), "every exercise needs a kept wrong implementation"
    assert sum(getattr(m, "NBGRADER", False) for m in modules) >= 5


@pytest.mark.parametrize("path", WRONG, ids=[p.stem for p in WRONG])
def test_wrong_implementation_fails_and_is_named(path):
    module = load_fixture(path)
    func = getattr(module, module.EXERCISE)
    with pytest.raises(CheckFailed) as info:
        ps5.PROBLEM_SET.check(module.EXERCISE, func, "hidden")
    assert module.DIAGNOSIS in str(info.value), str(info.value)


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


def test_a_function_that_calls_quantref_gets_no_credit():
    from quantref.codebook import lut_dequantize as reference

    def lut_dequantize(codes, codebook):
        return reference(codes, codebook)
    with pytest.raises(CheckFailed, match="calls the reference library"):
        ps5.check_lut_dequantize(lut_dequantize)

    def kmeans_1d(w, k, iters):
        import quantref.codebook as cb
        r = cb.kmeans_1d(w, k, max_iter=iters)
        return r.centroids, r.codes
    with pytest.raises(CheckFailed, match="calls the reference library"):
        ps5.check_kmeans_1d(kmeans_1d, suite="hidden")

    def storage_cost(n, k, b=32):
        from quantref.codebook import compression_ratio, storage_bits
        return storage_bits(n, k, b), compression_ratio(n, k, b)
    with pytest.raises(CheckFailed, match="calls the reference library"):
        ps5.check_storage_cost(storage_cost)


def test_hidden_feedback_does_not_reveal_inputs():
    module = load_fixture(FIXTURES / "ps5_wrong" / "assign_ties_highest.py")
    with pytest.raises(CheckFailed) as info:
        ps5.check_kmeans_assign(module.kmeans_assign, suite="hidden")
    message = str(info.value)
    assert "hidden case" in message and "w=" not in message and "centroids=" not in message

    module = load_fixture(FIXTURES / "ps5_wrong" / "lut_clip_mode.py")
    with pytest.raises(CheckFailed) as info:
        ps5.check_lut_dequantize(module.lut_dequantize, suite="hidden")
    message = str(info.value)
    assert "hidden case" in message and "codes=" not in message and "codebook=" not in message


def test_visible_feedback_shows_the_failing_input():
    module = load_fixture(FIXTURES / "ps5_wrong" / "pack_bit_order_reversed.py")
    with pytest.raises(CheckFailed) as info:
        ps5.check_pack_codes(module.pack_codes)
    assert "codes=array(" in str(info.value) and "bits=" in str(info.value)

    module = load_fixture(FIXTURES / "ps5_wrong" / "lut_clip_mode.py")
    with pytest.raises(CheckFailed) as info:
        ps5.check_lut_dequantize(module.lut_dequantize)
    assert "codes=array(" in str(info.value)


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


def test_not_implemented_is_reported_as_such():
    def storage_cost(n, k, b=32):
        raise NotImplementedError()
    with pytest.raises(CheckFailed, match="not implemented yet"):
        ps5.check_storage_cost(storage_cost)
    with pytest.raises(CheckFailed, match="not implemented yet"):
        ps5.require("storage_cost", storage_cost)

    def lut_dequantize(codes, codebook):
        raise NotImplementedError()
    with pytest.raises(CheckFailed, match="not implemented yet"):
        ps5.check_lut_dequantize(lut_dequantize)
    with pytest.raises(CheckFailed, match="not implemented yet"):
        ps5.require("lut_dequantize", lut_dequantize)


def test_errors_in_student_code_become_messages():
    def pack_codes(codes, bits):
        groups = codes.reshape(-1, 8 // bits)             # 3 codes do not fill whole bytes
        return groups[:, 0] | groups[:, 1] << 4
    with pytest.raises(CheckFailed, match="ValueError"):
        ps5.check_pack_codes(pack_codes)


def test_check_functions_return_none(solution):
    for name, check in {n: getattr(ps5, f"check_{n}") for n in ps5.EXERCISES}.items():
        assert check(solution[name]) is None
