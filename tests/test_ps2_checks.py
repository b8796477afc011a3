"""The problem-set-2 checks pass a correct solution and fail every kept wrong implementation.

The correct solution is the one in the instructor's source notebook (extracted from its
solution cells), so the checks are tested against exactly what students are graded on.
Each wrong implementation in ``tests/fixtures/ps2_wrong`` must fail its check with a message
that names its mistake; a function that calls quantref must fail too.
"""
from __future__ import annotations


import numpy as np
import pytest

from autograder.checking import run_check
from autograder import CheckFailed, ps2
from course_helpers import FIXTURES, load_fixture, solution_namespace

WRONG = sorted((FIXTURES / "ps2_wrong").glob("*.py"))



@pytest.fixture(scope="module")
def solution():
    return solution_namespace("ps2_integer_matmul")


@pytest.mark.parametrize("name", sorted(ps2.EXERCISES))
@pytest.mark.parametrize("suite", ["visible", "hidden"])
def test_solution_passes(solution, name, suite, capsys):
    n = run_check(ps2.EXERCISES[name], solution[name], suite)
    assert n >= (2 if suite == "visible" else 9)
    assert f"all {n} {suite} cases passed" in capsys.readouterr().out


@pytest.mark.parametrize("seed", [1, 2])
def test_solution_passes_hidden_suites_of_other_seeds(solution, seed):
    for name, exercise in ps2.EXERCISES.items():
        run_check(exercise, solution[name], "hidden", seed)


def test_at_least_five_kept_wrong_implementations_per_assignment():
    modules = [load_fixture(p) for p in WRONG]
    assert len(WRONG) >= 5
    assert {m.EXERCISE for m in modules} == set(ps2.EXERCISES), "every exercise needs a kept wrong implementation"
    assert sum(getattr(m, "NBGRADER", False) for m in modules) >= 5


@pytest.mark.parametrize("path", WRONG, ids=[p.stem for p in WRONG])
def test_wrong_implementation_fails_and_is_named(path):
    module = load_fixture(path)
    func = getattr(module, module.EXERCISE)
    with pytest.raises(CheckFailed) as info:
        run_check(ps2.EXERCISES[module.EXERCISE], func, "hidden")
    assert module.DIAGNOSIS in str(info.value), str(info.value)


def test_every_named_mistake_is_reachable_by_a_hidden_case():
    """The wrong multiplies shared with requantize each change some hidden answer of both exercises."""
    from autograder.ps2.mistakes import MBQM_VARIANTS
    for name in ("multiply_by_quantized_multiplier", "requantize"):
        exercise = ps2.EXERCISES[name]
        for label, wrong in MBQM_VARIANTS:
            def student(**kw):
                if name == "requantize":
                    y = np.asarray(wrong(kw["acc"], kw["M0"], kw["shift"])).astype(np.int64) + kw["out_zero_point"]
                    return np.clip(y, kw["qmin"], kw["qmax"]).astype(np.uint8 if kw["qmin"] >= 0 else np.int8)
                return np.asarray(wrong(**kw)).astype(np.int32)
            with pytest.raises(CheckFailed) as info:
                run_check(exercise, student, "hidden")
            assert label in str(info.value), (name, label, str(info.value))


def test_a_function_that_calls_quantref_gets_no_credit():
    from quantref.kernels import int_matmul

    def int_matmul_zp(a, b, za, zb):
        return int_matmul(a, b, za, zb)
    with pytest.raises(CheckFailed, match="calls the reference library"):
        ps2.check_int_matmul_zp(int_matmul_zp)

    def requantize(acc, M0, shift, out_zero_point, qmin, qmax):
        import quantref.integer as qi
        return qi.requantize(acc, (M0, shift), out_zero_point, qmin, qmax)
    with pytest.raises(CheckFailed, match="calls the reference library"):
        ps2.check_requantize(requantize, suite="hidden")


def test_hidden_feedback_does_not_reveal_inputs():
    module = load_fixture(FIXTURES / "ps2_wrong" / "matmul_forgot_k_za_zb.py")
    with pytest.raises(CheckFailed) as info:
        ps2.check_int_matmul_zp(module.int_matmul_zp, suite="hidden")
    message = str(info.value)
    assert "hidden case" in message and "a=" not in message and "za=" not in message


def test_visible_feedback_shows_the_failing_input():
    module = load_fixture(FIXTURES / "ps2_wrong" / "mbqm_truncating_high_mul.py")
    with pytest.raises(CheckFailed) as info:
        ps2.check_multiply_by_quantized_multiplier(module.multiply_by_quantized_multiplier)
    assert "acc=array(" in str(info.value) and "M0=" in str(info.value)


def test_wrong_dtype_is_explained(solution):
    def int_matmul_zp(a, b, za, zb):
        return solution["int_matmul_zp"](a, b, za, zb).astype(np.int64)
    with pytest.raises(CheckFailed, match=r"dtype int64, expected int32"):
        ps2.check_int_matmul_zp(int_matmul_zp)

    def quantize_multiplier(M):
        m0, shift = solution["quantize_multiplier"](M)
        return float(m0), shift
    with pytest.raises(CheckFailed, match=r"M0: expected an integer"):
        ps2.check_quantize_multiplier(quantize_multiplier)


def test_not_implemented_is_reported_as_such():
    def fold_bias(bias_int32, w_q, x_zero_point):
        raise NotImplementedError()
    with pytest.raises(CheckFailed, match="not implemented yet"):
        ps2.check_fold_bias(fold_bias)
    with pytest.raises(CheckFailed, match="not implemented yet"):
        ps2.require("fold_bias", fold_bias)


def test_errors_in_student_code_become_messages():
    def requantize(acc, M0, shift, out_zero_point, qmin, qmax):
        return acc[10 ** 6]
    with pytest.raises(CheckFailed, match="IndexError"):
        ps2.check_requantize(requantize)
