"""Checks peculiar to problem set 4 (what every problem set shares is tested in tests/test_checks.py).

The correct solution is the one in the instructor's source notebook (extracted from its
solution cells), so the checks are tested against exactly what students are graded on.
Each wrong implementation in ``tests/fixtures/ps4_wrong`` must fail its check with a message
that names its mistake; a function that calls quantref must fail too.
"""
from __future__ import annotations


import numpy as np
import pytest

from autograder.checking import run_check
from autograder import CheckFailed, ps4
from autograder.ps4 import mistakes
from course_helpers import FIXTURES, solution_namespace

WRONG = sorted((FIXTURES / "ps4_wrong").glob("*.py"))


@pytest.fixture(scope="module")
def solution():
    return solution_namespace("ps4_llm_outliers")


@pytest.mark.parametrize("exercise", sorted(mistakes.WRONG))
def test_every_named_mistake_is_caught_by_the_hidden_cases(exercise):
    """Each wrong implementation fails; it is named, or (an axis mixed up) its shape error is reported."""
    for label, wrong in mistakes.WRONG[exercise]():
        with pytest.raises(CheckFailed) as info:
            run_check(ps4.EXERCISES[exercise], wrong, "hidden")
        message = str(info.value)
        if any(name in label for name in mistakes.SHAPE_ERRORS):
            assert label in message or "raised ValueError" in message, (exercise, label, message)
        else:
            assert label in message, (exercise, label, message)


def test_axis_mistakes_are_named_on_square_inputs():
    """Where the shapes agree, a reduction over the wrong axis is named instead of erroring."""
    x = np.random.default_rng(0).normal(0, 1, size=(4, 4)) * [1, 10, 0.1, 3]
    w = np.random.default_rng(1).normal(0, 1, size=(4, 4)) * [[1], [10], [0.1], [3]]
    for exercise, label in (("smoothing_factors", mistakes.FACTOR_VARIANTS[2][0]),
                            ("smoothing_factors", mistakes.FACTOR_VARIANTS[3][0])):
        wrong = dict(mistakes.WRONG[exercise]())[label]
        produced = wrong(x=x, w=w, alpha=0.5)
        matched = [m.name for m in ps4.EXERCISES[exercise].mistakes
                   if m.matches(produced, dict(x=x, w=w, alpha=0.5), None)]
        assert label in matched


def test_llm_int8_integer_part_is_exact(solution):
    """The int8 part is compared exactly, as int64, against quantref's int32 product."""
    from quantref.llm import llm_int8_decompose, synthetic_layer
    layer = synthetic_layer(tokens=8, in_features=2048, out_features=4, n_outliers=3, seed=5)
    acc, _ = solution["llm_int8"](layer.x, layer.w)
    reference = llm_int8_decompose(layer.x, layer.w).int_product
    assert np.array_equal(np.asarray(acc, dtype=np.int64), reference.astype(np.int64))
    assert np.abs(reference.astype(np.int64)).max() > 2 ** 15      # beyond what int16 holds


def test_wrong_types_are_explained(solution):
    def quantize_rows(v):
        codes, scales = solution["quantize_rows"](v)
        return codes.astype(np.int64), scales
    with pytest.raises(CheckFailed, match=r"codes: dtype int64, expected int8"):
        ps4.check_quantize_rows(quantize_rows)

    def llm_int8(x, w, threshold=6.0):
        acc, y = solution["llm_int8"](x, w, threshold)
        return acc.astype(np.float64), y
    with pytest.raises(CheckFailed, match=r"the int8 part: expected integers"):
        ps4.check_llm_int8(llm_int8)

    def outlier_columns(x, threshold=6.0):
        return np.where(np.any(np.abs(x) >= threshold, axis=0))
    with pytest.raises(CheckFailed, match=r"what np.where returns"):
        ps4.check_outlier_columns(outlier_columns)


def test_errors_in_student_code_become_messages():
    def smoothing_factors(x, w, alpha=0.5):
        return np.abs(x).max(axis=0) ** alpha / np.abs(w).max(axis=1) ** (1 - alpha)
    with pytest.raises(CheckFailed, match="ValueError"):
        ps4.check_smoothing_factors(smoothing_factors)
