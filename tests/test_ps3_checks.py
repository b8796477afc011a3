"""Checks peculiar to problem set 3 (what every problem set shares is tested in tests/test_checks.py).

The correct solution is the one in the instructor's source notebook (extracted from its
solution cells), so the checks are tested against exactly what students are graded on.
Each wrong implementation in ``tests/fixtures/ps3_wrong`` must fail its check with a message
that names its mistake; a function that calls quantref must fail too.  The QAT run is checked
by accuracy: a correct loop must pass with every shuffle, one that does not learn must fail.
"""
from __future__ import annotations


import numpy as np
import pytest

from autograder.checking import run_check
from autograder import CheckFailed, ps3
from autograder.ps3 import mistakes
from course_helpers import FIXTURES, load_fixture, solution_namespace

WRONG = sorted((FIXTURES / "ps3_wrong").glob("*.py"))


@pytest.fixture(scope="module")
def solution():
    # the notebook's ungraded PTQ-versus-QAT cell runs one short configuration under nbgrader
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NBGRADER_EXECUTION", "validate")
        return solution_namespace("ps3_ptq_qat")


@pytest.mark.parametrize("exercise", sorted(mistakes.WRONG))
def test_every_named_mistake_is_caught_and_named_by_the_hidden_cases(exercise):
    for label, wrong in mistakes.WRONG[exercise]():
        with pytest.raises(CheckFailed) as info:
            run_check(ps3.EXERCISES[exercise], wrong, "hidden")
        assert label in str(info.value), (exercise, label, str(info.value))


def test_the_two_ste_rules_are_told_apart(solution):
    """PyTorch's rounded-value mask is asked for; NVIDIA's real-range mask is named as a mistake."""
    args = dict(grad=np.ones(4), x=np.array([-2.5, -2.4, 1.4, 1.5]), scale=1.0, zero_point=0, qmin=-2, qmax=1)
    assert solution["ste_backward"](**args).tolist() == [1.0, 1.0, 1.0, 0.0]
    module = load_fixture(FIXTURES / "ps3_wrong" / "ste_real_range_mask.py")
    assert module.ste_backward(**args).tolist() == [0.0, 0.0, 0.0, 0.0]


def test_qat_run_passes_with_every_shuffle_and_fails_without_learning(solution):
    """The accuracy tolerance: a correct loop passes with several seeds, a zero or uphill gradient fails."""
    exercise = ps3.EXERCISES["qat_train"]
    qat_step = solution["qat_step"]

    def with_step(step):
        namespace = dict(solution, qat_step=step)
        return type(solution["qat_train"])(solution["qat_train"].__code__, namespace)

    def zero_step(*args):
        loss, grads, ranges = qat_step(*args)
        return loss, [(0 * dw, 0 * db) for dw, db in grads], ranges

    def float32_step(layers, act_ranges, x, y, w_bits, a_bits, c):
        narrow = [(w.astype(np.float32), b.astype(np.float32)) for w, b in layers]
        loss, grads, ranges = qat_step(narrow, act_ranges, x.astype(np.float32), y, w_bits, a_bits, c)
        return loss, [(dw.astype(np.float64), db.astype(np.float64)) for dw, db in grads], ranges

    for seed in (3, 4, 5):
        run_check(exercise, solution["qat_train"], "hidden", seed)
    run_check(exercise, with_step(float32_step), "hidden", 6)     # a float32 step stays within tolerance
    with pytest.raises(CheckFailed, match="the weights never changed"):
        run_check(exercise, with_step(zero_step), "hidden")


def test_malformed_results_are_explained(solution):
    def qat_step(**kwargs):
        loss, grads, ranges = solution["qat_step"](**kwargs)
        return loss, grads[:1], ranges
    with pytest.raises(CheckFailed, match=r"grads: expected a list of 2 pairs"):
        ps3.check_qat_step(qat_step)

    def qat_train(layers, x, y, w_bits, a_bits, epochs, batch_size, lr, c, seed):
        return layers, [(None, None)] * len(layers)
    with pytest.raises(CheckFailed, match=r"still \(None, None\)"):
        ps3.check_qat_train(qat_train)


def test_errors_in_student_code_become_messages():
    def update_minmax(state, batch):
        return state[0], state[1]          # fails on the first batch, where state is None
    with pytest.raises(CheckFailed, match="TypeError"):
        ps3.check_update_minmax(update_minmax)
