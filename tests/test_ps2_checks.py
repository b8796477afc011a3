"""Checks peculiar to problem set 2 (what every problem set shares is tested in tests/test_checks.py).

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
from course_helpers import FIXTURES, solution_namespace

WRONG = sorted((FIXTURES / "ps2_wrong").glob("*.py"))


@pytest.fixture(scope="module")
def solution():
    return solution_namespace("ps2_integer_matmul")


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


def test_errors_in_student_code_become_messages():
    def requantize(acc, M0, shift, out_zero_point, qmin, qmax):
        return acc[10 ** 6]
    with pytest.raises(CheckFailed, match="IndexError"):
        ps2.check_requantize(requantize)
