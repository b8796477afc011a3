"""``from autograder import check``: a self-study student checks an answer with one call.

The reference answers (the instructor's solution cells) pass; every kept wrong implementation
gets exactly the diagnostic the assignment's visible test cell gives, without raising; nothing
of the hidden suites shows; unknown and ambiguous names are clear errors; ``check()`` with no
argument finds the exercise functions a notebook defined.
"""
from __future__ import annotations

import importlib
import re
import types

import pytest

import autograder
from autograder import CheckFailed, check, ps1, selfcheck
from autograder.selfcheck import CheckReport, SelfCheckError
from course_helpers import FIXTURES, ROOT, load_fixture, solution_namespace

WRONG = sorted(FIXTURES.glob("ps*_wrong/*.py"))
PS1_WRONG = [p for p in WRONG if p.parent.name == "ps1_wrong"]



@pytest.fixture(scope="module")
def solution():
    return solution_namespace("ps1_linear_quantization")


def test_check_is_exported_and_finds_every_problem_set():
    assert autograder.check is check
    on_disk = {p.parent.name for p in (ROOT / "autograder").glob("ps*/__init__.py") if re.fullmatch(r"ps\d+", p.parent.name)}
    loaded, broken = selfcheck.assignments()
    assert set(loaded) | set(broken) == on_disk
    assert {"ps1", "ps2", "ps3", "ps4"} <= set(loaded)
    assert set(loaded["ps1"].EXERCISES) == set(ps1.EXERCISES)


@pytest.mark.parametrize("name", sorted(ps1.EXERCISES))
def test_reference_solution_passes(solution, name, capsys):
    report = check(solution[name])
    out = capsys.readouterr().out
    assert isinstance(report, CheckReport) and report.passed is True and bool(report)
    assert [(r.exercise, r.assignment, r.passed) for r in report.results] == [(name, "ps1", True)]
    assert re.search(rf"\u2714 {name} \(ps1\): all \d+ visible cases passed", out), out
    assert "\u2718" not in out


def test_several_functions_one_line_each(solution, capsys):
    floor = load_fixture(FIXTURES / "ps1_wrong" / "quantize_floor.py")
    report = check(solution["asymmetric_qparams"], solution["dequantize"], floor.quantize)
    lines = capsys.readouterr().out.strip().splitlines()
    assert report.passed is False
    assert [r.passed for r in report.results] == [True, True, False]
    assert lines[0].startswith("\u2714 asymmetric_qparams") and lines[1].startswith("\u2714 dequantize")
    assert lines[2].startswith("\u2718 quantize") and floor.DIAGNOSIS in lines[2]
    assert len(lines) == 4 and "check(quantize)" in lines[3]


@pytest.mark.parametrize("path", WRONG, ids=[f"{p.parent.name}/{p.stem}" for p in WRONG])
def test_wrong_implementation_gets_the_autograders_visible_diagnostic(path, capsys):
    module = load_fixture(path)
    package = path.parent.name.split("_")[0]
    func = getattr(module, module.EXERCISE)
    checker = getattr(importlib.import_module(f"autograder.{package}"), f"check_{module.EXERCISE}")
    try:
        checker(func)
        expected = None
    except CheckFailed as failure:
        expected = str(failure)
    capsys.readouterr()

    report = check(func, assignment=package)       # a wrong answer must not raise
    out = capsys.readouterr().out
    (result,) = report.results
    assert result.exercise == module.EXERCISE and result.assignment == package
    if expected is None:  # this mistake only shows on hidden cases: the visible ones pass
        assert report.passed is True
    else:
        assert report.passed is False and result.passed is False
        assert result.message.startswith(expected)
        for line in expected.splitlines():
            assert line.strip() in out
        if module.DIAGNOSIS in expected:
            assert module.DIAGNOSIS in out


def test_ps1_wrong_implementations_name_their_mistake(capsys):
    named = []
    for path in PS1_WRONG:
        module = load_fixture(path)
        report = check(getattr(module, module.EXERCISE), assignment="ps1_linear_quantization")
        if report.passed is False and module.DIAGNOSIS in capsys.readouterr().out:
            named.append(path.stem)
    # most kept mistakes show on the visible cases too; the rest need the hidden ones
    assert len(named) >= 10, named
    assert "quantize_floor" in named and "quantize_calls_quantref" in named


def test_report_is_a_neat_summary(capsys):
    floor = load_fixture(FIXTURES / "ps1_wrong" / "quantize_floor.py")
    report = check(floor.quantize)
    out = capsys.readouterr().out
    assert out.startswith("\u2718 quantize (ps1): not yet.") and floor.DIAGNOSIS in out
    assert report.passed is False and not report
    assert "passed=False" in repr(report) and "quantize" in repr(report)
    markdown = report._repr_markdown_()
    assert "`quantize`" in markdown and "0 of 1 exercise pass" in markdown and "\u2718" in markdown
    assert "<code>quantize</code>" in report._repr_html_()


def test_hidden_suite_never_runs_nor_shows(solution, capsys, monkeypatch):
    outputs = []
    for path in PS1_WRONG:
        module = load_fixture(path)
        check(getattr(module, module.EXERCISE))
        outputs.append(capsys.readouterr().out)
    for name in ps1.EXERCISES:
        check(solution[name])
        outputs.append(capsys.readouterr().out)
    text = "\n".join(outputs)
    assert "hidden" not in text.lower()
    hidden_only = set()
    for exercise in ps1.EXERCISES.values():
        visible = {c.label for c in exercise.cases("visible", 0)}
        hidden_only |= {c.label for c in exercise.cases("hidden", 0)} - visible
    assert len(hidden_only) >= 10
    assert [label for label in sorted(hidden_only) if label in text] == []

    suites = []
    original = selfcheck.assignments

    def spy():
        loaded, broken = original()
        ps1_spy = types.SimpleNamespace(EXERCISES=loaded["ps1"].EXERCISES)
        ps1_spy.check_quantize = lambda func, suite="visible", seed=0: suites.append(suite)
        return {**loaded, "ps1": ps1_spy}, broken
    monkeypatch.setattr(selfcheck, "assignments", spy)
    check(solution["quantize"])
    assert suites == ["visible"]


def test_student_errors_are_reported_not_raised(capsys):
    def dequantize(q, scale, zero_point):
        raise ValueError("oops")

    def quantize(x, scale, zero_point, bits):
        raise NotImplementedError()
    report = check(dequantize, quantize)
    out = capsys.readouterr().out
    assert report.passed is False
    assert "dequantize raised ValueError: oops" in out
    assert "quantize is not implemented yet" in out


def test_unknown_names_and_arguments_are_clear_errors(solution):
    def quantise(x, scale, zero_point, bits):
        return x
    with pytest.raises(SelfCheckError, match=r"no exercise is called 'quantise'.*Did you mean 'quantize'"):
        check(quantise)
    with pytest.raises(SelfCheckError, match="no exercise is called '<lambda>'"):
        check(lambda x: x)
    with pytest.raises(SelfCheckError, match=r"takes the exercise functions themselves.*not int"):
        check(3)
    with pytest.raises(SelfCheckError, match=r"unknown assignment 'ps99'.*ps1_linear_quantization"):
        check(solution["quantize"], assignment="ps99")
    with pytest.raises(SelfCheckError, match=r"unknown assignment 'ps1_linear'"):
        check(solution["quantize"], assignment="ps1_linear")
    with pytest.raises(SelfCheckError, match=r"no exercise is called 'quantize' in 'ps2'"):
        check(solution["quantize"], assignment="ps2")
    assert isinstance(SelfCheckError("x"), LookupError)


def test_a_name_two_problem_sets_share_needs_the_assignment(monkeypatch, capsys):
    calls = []

    def fake(package):
        module = types.SimpleNamespace(EXERCISES={"shared": object()})
        module.check_shared = lambda func, suite="visible", seed=0: calls.append((package, suite))
        return module
    monkeypatch.setattr(selfcheck, "assignments", lambda: ({"ps1": fake("ps1"), "ps2": fake("ps2")}, {}))

    def shared():
        return 0
    with pytest.raises(SelfCheckError, match=r"'shared' is an exercise of ps1 and ps2.*assignment="):
        check(shared)
    assert calls == []
    report = check(shared, assignment="ps2")
    assert report.passed is True and report.results[0].assignment == "ps2"
    assert calls == [("ps2", "visible")]


def test_check_without_arguments_finds_the_callers_exercise_functions(solution, capsys):
    """A notebook's globals: two answers defined there, one imported from quantref, one helper."""
    notebook = {"__name__": "__main__"}
    exec(
        "import numpy as np\n"
        "from autograder import check\n"
        "from quantref.linear import asymmetric_qparams\n"     # imported, not the student's: skipped
        "def helper(x):\n    return x\n"
        "def dequantize(q, scale, zero_point):\n"
        "    return scale * (np.asarray(q, dtype=np.int64) - zero_point)\n"
        "def quantize(x, scale, zero_point, bits):\n"
        "    q = np.floor(np.asarray(x) / scale) + zero_point\n"
        "    return np.clip(q, 0, 2 ** bits - 1).astype(np.uint8)\n"
        "report = check()\n", notebook)
    report = notebook["report"]
    out = capsys.readouterr().out
    assert sorted((r.exercise, r.passed) for r in report.results) == [("dequantize", True), ("quantize", False)]
    assert "floor instead of round" in out and "asymmetric_qparams" not in out


def test_check_without_arguments_and_nothing_defined(capsys):
    notebook = {"__name__": "__main__"}
    exec("from autograder import check\nreport = check()\n", notebook)
    assert notebook["report"].passed is False and notebook["report"].results == []
    assert "No exercise function found" in capsys.readouterr().out
