"""Every problem set's checks, from its registry (``autograder.psN.PROBLEM_SET``): one parametrized module.

For each problem set and exercise:

* the worked solution (the instructor's source notebook) passes the visible and hidden cases, with the
  public seed and with secret-like seeds;
* every exercise has a kept wrong implementation (``tests/fixtures/<psN>_wrong``), and each fails its
  hidden cases with a message that names its mistake -- and the mistake named reproduces every failing
  case (a named mistake is never a guess);
* the registry and the notebook agree: test cells, their points, the function's signature;
* the notebook API (``check_<exercise>``, ``require``) comes from the registry and returns None;
* the written answers (graded by hand) are in the course's form: question, model answer and rubric
  in the source, the question alone in the release, the rubric visible in the worked solution;
* a stub, an exception, a call to quantref and a non-function are reported in words; hidden feedback
  never shows the hidden inputs, visible feedback does.

A new problem set is covered as soon as its registry exists.  Checks peculiar to one problem set live
in ``tests/test_psN_checks.py``.
"""
from __future__ import annotations

import inspect

import nbformat
import pytest

from autograder import CheckFailed
from autograder.checking import PUBLIC_SEED, evaluate, local_call, run_check
from autograder.problem_sets import problem_sets
from course_helpers import COURSE, FIXTURES, ROOT, load_fixture, solution_namespace, source_notebook

SETS = problem_sets()
EXERCISES = [(a, n) for a, ps in sorted(SETS.items()) for n in ps.exercises]
WRONG = [(a, p) for a in sorted(SETS) for p in sorted((FIXTURES / f"{a.split('_')[0]}_wrong").glob("*.py"))]
SEEDS = [PUBLIC_SEED, 0x5EC2E7, 2 ** 63 + 12345]   # the public seed, and seeds like the course secret's


@pytest.fixture(scope="module")
def solutions():
    cache: dict = {}

    def get(assignment):
        if assignment not in cache:
            cache[assignment] = solution_namespace(assignment)
        return cache[assignment]
    return get


def _first_line(cell) -> str:
    return cell.source.splitlines()[0] if cell.source else ""


def test_every_assignment_has_a_registry():
    from course_helpers import ASSIGNMENTS
    assert sorted(SETS) == ASSIGNMENTS


@pytest.mark.parametrize("assignment,name", EXERCISES)
@pytest.mark.parametrize("seed", SEEDS)
def test_solution_passes(solutions, assignment, name, seed):
    exercise = SETS[assignment].exercises[name]
    func = solutions(assignment)[name]
    for suite in ("visible", "hidden") if seed == PUBLIC_SEED else ("hidden",):
        verdict = evaluate(exercise, suite, seed, local_call(func, exercise.time_limit))
        assert verdict.passed, verdict.message
        assert verdict.cases >= (1 if suite == "visible" else 2)


@pytest.mark.parametrize("assignment", sorted(SETS))
def test_every_exercise_has_a_kept_wrong_implementation(assignment):
    modules = [load_fixture(p) for a, p in WRONG if a == assignment]
    assert {m.EXERCISE for m in modules} == set(SETS[assignment].exercises)


@pytest.mark.parametrize("assignment,path", WRONG, ids=[f"{a.split('_')[0]}-{p.stem}" for a, p in WRONG])
def test_wrong_implementation_fails_and_its_mistake_is_named(assignment, path):
    module = load_fixture(path)
    exercise = SETS[assignment].exercises[module.EXERCISE]
    verdict = evaluate(exercise, "hidden", PUBLIC_SEED, local_call(getattr(module, module.EXERCISE),
                                                                   exercise.time_limit))
    assert not verdict.passed
    assert module.DIAGNOSIS in verdict.message, verdict.message


@pytest.mark.parametrize("assignment", sorted(SETS))
def test_registry_and_notebook_agree(assignment):
    ps = SETS[assignment]
    nb = nbformat.read(source_notebook(assignment), as_version=4)
    cells = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
             if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution")}
    autograded = {g: c for g, c in cells.items() if c.cell_type == "code"}
    assert set(autograded) == set(ps.cells), "every autograded test cell is in the registry, and only those"
    for gid, (exercise, suite) in ps.cells.items():
        points = exercise.points[0 if suite == "visible" else 1]
        assert autograded[gid].metadata["nbgrader"]["points"] == points, gid
        assert f"check_{exercise.name}(" in autograded[gid].source, gid
    namespace = solution_namespace(assignment)
    for name, exercise in ps.exercises.items():
        assert tuple(inspect.signature(namespace[name]).parameters) == exercise.signature, name


@pytest.mark.parametrize("assignment", sorted(SETS))
def test_notebook_api_comes_from_the_registry(solutions, assignment, capsys):
    import importlib
    module = importlib.import_module(f"autograder.{assignment.split('_')[0]}")
    for name in SETS[assignment].exercises:
        check = getattr(module, f"check_{name}")
        assert check(solutions(assignment)[name]) is None     # a value would read as partial credit
        assert module.require(name, solutions(assignment)[name]) is None
    assert "cases passed" in capsys.readouterr().out


@pytest.mark.parametrize("assignment,name", EXERCISES)
def test_stubs_errors_and_non_functions_are_reported(assignment, name):
    exercise = SETS[assignment].exercises[name]

    def stub(*args, **kwargs):
        raise NotImplementedError()

    def crashes(*args, **kwargs):
        return {}["missing key"]
    with pytest.raises(CheckFailed, match="not implemented yet"):
        run_check(exercise, stub)
    with pytest.raises(CheckFailed, match="raised KeyError"):
        run_check(exercise, crashes)
    with pytest.raises(CheckFailed, match="must be a function"):
        run_check(exercise, None)


@pytest.mark.parametrize("assignment,name", EXERCISES)
def test_a_call_to_quantref_gets_no_credit(solutions, assignment, name):
    exercise = SETS[assignment].exercises[name]
    answer = solutions(assignment)[name]

    def calls_quantref(*args, **kwargs):
        import quantref
        quantref.qparams(-1.0, 1.0, bits=8)
        return answer(*args, **kwargs)
    with pytest.raises(CheckFailed, match="calls the reference library"):
        run_check(exercise, calls_quantref)


@pytest.mark.parametrize("assignment,path", WRONG[::3], ids=[f"{a.split('_')[0]}-{p.stem}" for a, p in WRONG[::3]])
def test_hidden_feedback_hides_the_inputs_and_visible_feedback_shows_them(assignment, path):
    module = load_fixture(path)
    exercise = SETS[assignment].exercises[module.EXERCISE]
    func = getattr(module, module.EXERCISE)
    hidden = evaluate(exercise, "hidden", PUBLIC_SEED, local_call(func, exercise.time_limit))
    assert "hidden case" in hidden.message or "calls the reference library" in hidden.message, hidden.message
    for arg in exercise.signature:
        assert f"{arg}=" not in hidden.message, hidden.message
    visible = evaluate(exercise, "visible", PUBLIC_SEED, local_call(func, exercise.time_limit))
    if not visible.passed and "First failure" in visible.message:
        assert any(f"{arg}=" in visible.message for arg in exercise.signature), visible.message


#: written answers per problem set, where not 2
WRITTEN_ANSWERS = {"ps9_capstone": 3}


@pytest.mark.parametrize("assignment", sorted(SETS))
def test_written_answers_are_in_the_course_form(assignment):
    """The course's form of written answers, graded by hand: in the source, each ``written_<n>``
    is an unlocked, graded markdown solution cell worth 2 points, with a model answer and a rubric
    inside its solution region, that the autograder leaves alone; the release keeps the question
    and "YOUR ANSWER HERE"; the worked solution shows each rubric once, outside any solution
    region; the task cell above them is locked."""
    problem_set = SETS[assignment]
    written = tuple(f"written_{n}" for n in range(1, WRITTEN_ANSWERS.get(assignment, 2) + 1))
    source = nbformat.read(COURSE / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    release = nbformat.read(COURSE / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    worked = nbformat.read(ROOT / "solutions" / f"{assignment}.ipynb", as_version=4)
    by_id = lambda nb: {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}  # noqa: E731
    src, rel = by_id(source), by_id(release)
    for gid in written:
        cell, meta = src[gid], src[gid].metadata["nbgrader"]
        assert cell.cell_type == "markdown"
        assert meta["grade"] and meta["solution"] and not meta["locked"] and meta["points"] == 2
        assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
        assert "Model answer" in cell.source and "Rubric" in cell.source
        assert gid not in problem_set.cells, "the autograder leaves the written answers alone"
        question = cell.source[:cell.source.index("### BEGIN SOLUTION")].strip()
        assert question.startswith(f"**Question {gid[-1]} (2 points).**")
        assert rel[gid].source == question + "\n\nYOUR ANSWER HERE", rel[gid].source
    assert src["written_task"].metadata["nbgrader"]["locked"]
    rubrics = [c.source for c in worked.cells if "Rubric" in c.source]
    assert len(rubrics) == len(written) and not any("BEGIN SOLUTION" in r for r in rubrics)
