"""``python -m autograder``: every command has --help, and bad input is refused with a message that
names the argument and the fix (exit status 2), before anything is graded."""
from __future__ import annotations

import pytest

from autograder.__main__ import main
from grading_support import A, make_course

COMMANDS = ["build", "collect", "grade", "feedback", "export", "report", "bench-grading"]


def _run(capsys, *argv) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    captured = capsys.readouterr()
    return exc.value.code, captured.out + captured.err


def test_help_lists_every_command(capsys):
    code, text = _run(capsys, "--help")
    assert code == 0
    for command in COMMANDS:
        assert command in text


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(capsys, command):
    code, text = _run(capsys, command, "--help")
    assert code == 0 and "usage: python -m autograder " + command in text


@pytest.mark.parametrize("argv, expected", [
    (["grade", "ps0_nothing"], "assignment 'ps0_nothing' is not in"),
    (["grade", A, "--workers", "0"], "--workers must be at least 1"),
    (["grade", A, "--workers", "two"], "--workers expects a whole number"),
    (["grade", A, "--db", "mysql://x/y"], "--db 'mysql://x/y': expected sqlite:///"),
    (["grade", A, "--student", "zed"], "--student zed: no submission"),
    (["grade", A, "--student", "../etc"], "--student '../etc': a student id is"),
    (["grade", A, "--student", "a b"], "--student 'a b': a student id is"),
    (["collect", A, "--lms", "/nonexistent/folder"], "--lms /nonexistent/folder: no such file or folder"),
    (["collect", A, "--lms", ".", "--pattern", "(unclosed"], "not a regular expression"),
    (["collect", A, "--lms", ".", "--pattern", r"(\w+)\.ipynb"], "needs a named group (?P<student>...)"),
    (["feedback", A, "--course", "/nonexistent"], "--course /nonexistent: not an nbgrader course folder"),
])
def test_bad_input_names_the_argument(capsys, tmp_path, argv, expected):
    course = make_course(tmp_path)
    (course / "submitted" / "x").mkdir(parents=True)
    if "--course" not in argv:
        argv = [*argv, "--course", str(course)]
    code, text = _run(capsys, *argv)
    assert code == 2, text
    assert expected in text, text
