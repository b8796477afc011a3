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


