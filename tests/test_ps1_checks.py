"""The problem-set-1 checks pass a correct solution and fail every kept wrong implementation.

The correct solution is the one in the instructor's source notebook (extracted from its
solution cells), so the checks are tested against exactly what students are graded on.
Each wrong implementation in ``tests/fixtures/ps1_wrong`` must fail its check with a message
that names its mistake.
"""
from __future__ import annotations


import pytest

from autograder.checking import run_check
from autograder import CheckFailed, ps1
from course_helpers import FIXTURES, load_fixture, solution_namespace

WRONG = sorted((FIXTURES / "ps1_wrong").glob("*.py"))



@pytest.fixture(scope="module")
def solution():
    return solution_namespace("ps1_linear_quantization")


@pytest.mark.parametrize("name", sorted(ps1.EXERCISES))
@pytest.mark.parametrize("suite", ["visible", "hidden"])
def test_solution_passes(solution, name, suite, capsys):
    n = run_check(ps1.EXERCISES[name], solution[name], suite)
    assert n >= (2 if suite == "visible" else 9)
    assert f"all {n} {suite} cases passed" in capsys.readouterr().out


def test_at_least_five_kept_wrong_implementations_per_assignment():
    exercises = {load_fixture(p).EXERCISE for p in WRONG}
    assert len(WRONG) >= 5
    assert exercises == set(ps1.EXERCISES), "every exercise needs a kept wrong implementation"


@pytest.mark.parametrize("path", WRONG, ids=[p.stem for p in WRONG])
def test_wrong_implementation_fails_and_is_named(path):
    module = load_fixture(path)
    func = getattr(module, module.EXERCISE)
    with pytest.raises(CheckFailed) as info:
        run_check(ps1.EXERCISES[module.EXERCISE], func, "hidden")
    assert module.DIAGNOSIS in str(info.value), str(info.value)


def test_hidden_feedback_does_not_reveal_inputs():
    module = load_fixture(FIXTURES / "ps1_wrong" / "quantize_floor.py")
    with pytest.raises(CheckFailed) as info:
        ps1.check_quantize(module.quantize, suite="hidden")
    message = str(info.value)
    assert "hidden case" in message and "x=" not in message and "scale=" not in message


def test_visible_feedback_shows_the_failing_input():
    module = load_fixture(FIXTURES / "ps1_wrong" / "quantize_floor.py")
    with pytest.raises(CheckFailed) as info:
        ps1.check_quantize(module.quantize)
    assert "x=array(" in str(info.value) and "scale=" in str(info.value)


def test_not_implemented_is_reported_as_such():
    def quantize(x, scale, zero_point, bits):
        raise NotImplementedError()
    with pytest.raises(CheckFailed, match="not implemented yet"):
        ps1.check_quantize(quantize)


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


def test_non_function_is_reported():
    with pytest.raises(CheckFailed, match="must be a function"):
        ps1.check_quantize(None)
