"""Checks peculiar to problem set 1 (what every problem set shares is tested in tests/test_checks.py).

The correct solution is the one in the instructor's source notebook (extracted from its
solution cells), so the checks are tested against exactly what students are graded on.
Each wrong implementation in ``tests/fixtures/ps1_wrong`` must fail its check with a message
that names its mistake.
"""
from __future__ import annotations


import pytest

from autograder.checking import run_check
from autograder import CheckFailed, ps1
from course_helpers import FIXTURES, solution_namespace

WRONG = sorted((FIXTURES / "ps1_wrong").glob("*.py"))


@pytest.fixture(scope="module")
def solution():
    return solution_namespace("ps1_linear_quantization")


def test_student_exceptions_exits_and_loops_become_messages():
    import sys
    def raises(x, scale, zero_point, bits):
        return 1 / 0
    def exits(x, scale, zero_point, bits):
        sys.exit(3)
    def loops(x, scale, zero_point, bits):
        while True:
            pass
    with pytest.raises(CheckFailed, match="ZeroDivisionError"):
        ps1.check_quantize(raises)
    with pytest.raises(CheckFailed, match="SystemExit"):
        ps1.check_quantize(exits)
    exercise = ps1.EXERCISES["quantize"]
    short = type(exercise)(**{**exercise.__dict__, "time_limit": 0.2})
    with pytest.raises(CheckFailed, match="took longer than 0.2 s"):
        run_check(short, loops)


def test_stderr_and_warnings_of_the_student_are_kept_off_stderr(solution, capfd):
    import os
    import warnings

    def noisy(x, scale, zero_point, bits):
        print("debug", file=sys.stderr)
        os.write(2, b"c-level noise\n")
        warnings.warn("careful")
        return solution["quantize"](x, scale, zero_point, bits)
    import sys
    ps1.check_quantize(noisy)
    out, err = capfd.readouterr()
    assert err == ""
    assert "note: your function wrote warnings or to stderr" in out




# -- stochastic rounding: a statistical check must pass the right answer and fail a biased one ------

def _stochastic(bias=0.0, one_sided=False):
    """Stochastic rounding that rounds up with probability ``p + bias`` (``bias=0``: the right answer)."""
    import numpy as np

    def stochastic_quantize(x, scale, zero_point, bits, seed):
        rng = np.random.default_rng(seed)
        v = np.asarray(x, dtype=np.float64) / scale
        fl = np.floor(v)
        p = v - fl
        up = rng.random(v.shape) < np.where(p > 0, np.clip(p + bias, 0, 1), 0)
        return np.clip(fl + up + zero_point, 0, 2 ** bits - 1).astype(np.uint8)
    return stochastic_quantize


@pytest.mark.parametrize("seed", range(20))
def test_unbiased_stochastic_rounding_passes_for_every_seed(seed):
    """20 hidden suites (about 1000 values tested at 5 sigma): a false failure would show here."""
    from autograder.checking import evaluate, local_call
    verdict = evaluate(ps1.EXERCISES["stochastic_quantize"], "hidden", seed * 7919 + 1,
                       local_call(_stochastic(), 10))
    assert verdict.passed, verdict.message


@pytest.mark.parametrize("bias", [0.05, -0.05])
def test_a_small_bias_in_stochastic_rounding_fails(bias):
    """Rounding up with probability p + 0.05 is caught: 5 sigma over 3000 draws is at most 0.046."""
    from autograder.checking import evaluate, local_call
    for seed in (0, 1, 2):
        verdict = evaluate(ps1.EXERCISES["stochastic_quantize"], "hidden", seed, local_call(_stochastic(bias), 10))
        assert not verdict.passed and "biased" in verdict.message, verdict.message


def test_stochastic_rounding_verdict_is_reproducible():
    """The draws come from the student's seeded generator: the same answer, the same verdict and message."""
    from autograder.checking import evaluate, local_call
    ex = ps1.EXERCISES["stochastic_quantize"]
    runs = [evaluate(ex, "hidden", 5, local_call(_stochastic(0.5), 10)).message for _ in range(2)]
    assert runs[0] == runs[1] and "rounds up with probability 1/2" not in runs[0]
    coin = load_fixture_module("stochastic_coin_flip")
    assert "rounds up with probability 1/2" in evaluate(ex, "hidden", 5, local_call(coin.stochastic_quantize, 10)).message


def test_codes_other_than_floor_or_ceil_are_refused():
    import numpy as np
    from autograder.checking import evaluate, local_call

    def off_by_two(x, scale, zero_point, bits, seed):
        return np.clip(_stochastic()(x, scale, zero_point, bits, seed).astype(int) + 2, 0, 2 ** bits - 1).astype(np.uint8)
    verdict = evaluate(ps1.EXERCISES["stochastic_quantize"], "visible", 0, local_call(off_by_two, 10))
    assert not verdict.passed and "neither clip(floor(x/s) + z) nor clip(ceil(x/s) + z)" in verdict.message


def load_fixture_module(stem):
    from course_helpers import load_fixture
    return load_fixture(FIXTURES / "ps1_wrong" / f"{stem}.py")
