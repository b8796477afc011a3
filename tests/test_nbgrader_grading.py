"""Grading works end to end, for every assignment: nbgrader's own commands on a copy of the course.

For each assignment in ``course/source`` (with checks in ``autograder.<psN>`` and kept wrong
implementations in ``tests/fixtures/<psN>_wrong``):

* the source notebook validates (its solutions pass its tests);
* the generated student version fails every test cell (``validate --invert``);
* autograding the solution, submitted as a student would, gives full marks;
* autograding the untouched student version gives zero;
* each kept wrong implementation marked ``NBGRADER = True`` loses points on the exercise it
  breaks, and nowhere else but the exercises whose solution calls it (``USES``);
* a submission that writes to stderr and warns still gets full marks (nbgrader zeroes a test
  cell whose output has stderr; the checks keep it off);
* the written answers (manually graded markdown cells ``written_N``) are not autograded: answered,
  nbgrader leaves them without a score and flags them for grading by hand; left as released,
  nbgrader scores them 0 and flags nothing.

"Full marks" and "zero" count the autograded test cells only (the exercises of the registry): a
written answer has no score until an instructor grades it in the Formgrader, so the solution's
total cannot include it.

Conventions: an exercise ``name`` has a solution cell ``name_solution`` and test cells
``name_visible`` and ``name_hidden``.
"""
from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import nbformat
import pytest

from course_helpers import ASSIGNMENTS, COURSE, FIXTURES, filled_submission, load_fixture, nbgrader_cmd

pytestmark = pytest.mark.slow


def _checks(assignment: str):
    return importlib.import_module(f"autograder.{assignment.split('_')[0]}")


def _wrong(assignment: str) -> list[Path]:
    folder = FIXTURES / f"{assignment.split('_')[0]}_wrong"
    return [p for p in sorted(folder.glob("*.py")) if "\nNBGRADER = True" in p.read_text()]



def _noisy_answer(source_nb: Path, exercise: str) -> str:
    """The solution of ``exercise`` wrapped so that it writes to stderr and warns on every call."""
    import re
    src = nbformat.read(source_nb, as_version=4)
    cell = next(c for c in src.cells if c.metadata.get("nbgrader", {}).get("grade_id") == f"{exercise}_solution")
    code = re.sub(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", "", cell.source, flags=re.M)
    return code + f'''
import sys as _sys, warnings as _warnings, functools as _functools
_quiet_{exercise} = {exercise}
@_functools.wraps(_quiet_{exercise})
def {exercise}(*args, **kwargs):
    print("debugging {exercise}", file=_sys.stderr)
    _warnings.warn("a harmless warning")
    return _quiet_{exercise}(*args, **kwargs)
print("top-level stderr output in a solution cell", file=_sys.stderr)
'''


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def graded(request, tmp_path_factory):
    """Generate, validate and autograde a small class; return (checks module, per-student cell scores)."""
    a = request.param
    checks = _checks(a)
    course = tmp_path_factory.mktemp(a)
    shutil.copytree(COURSE / "source" / a, course / "source" / a)
    shutil.copy(COURSE / "nbgrader_config.py", course)
    src = course / "source" / a / f"{a}.ipynb"
    rel = course / "release" / a / f"{a}.ipynb"

    out = nbgrader_cmd("validate", str(src), cwd=course).stdout
    assert "Success! Your notebook passes all the tests." in out, out
    nbgrader_cmd("generate_assignment", a, "--force", cwd=course)
    out = nbgrader_cmd("validate", "--invert", str(rel), cwd=course).stdout
    assert "Success! The notebook does not pass any tests." in out, out

    first = next(iter(checks.EXERCISES))
    submissions = {"solution": filled_submission(rel, src), "untouched": nbformat.read(rel, as_version=4),
                   "noisy": filled_submission(rel, src, {f"{first}_solution": _noisy_answer(src, first)})}
    wrong = {}
    for path in _wrong(a):
        module = load_fixture(path)
        wrong[path.stem] = module.EXERCISE
        submissions[path.stem] = filled_submission(rel, src, {f"{module.EXERCISE}_solution": path.read_text()})
    for student, nb in submissions.items():
        target = course / "submitted" / student / a / f"{a}.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(nb, target)
    nbgrader_cmd("autograde", a, "--force", cwd=course)

    from nbgrader.api import Gradebook
    scores, written = {}, {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in submissions:
            nb = gb.find_submission_notebook(a, a, student)
            cells = {g.name: (g.score, g.max_score) for g in nb.grades}
            # the written answers stay out of the exercise scores below (only autograded test
            # cells count: a manually graded answer has no score until graded by hand)
            written[student] = {g.name: (g.auto_score, g.needs_manual_grade) for g in nb.grades
                                if g.cell.cell_type == "markdown"}
            scores[student] = {e: (sum(cells[f"{e}_{k}"][0] for k in ("visible", "hidden")),
                                   sum(cells[f"{e}_{k}"][1] for k in ("visible", "hidden")))
                               for e in checks.EXERCISES}
    return checks, scores, wrong, written


def test_solution_gets_full_marks(graded):
    _, scores, _, _ = graded
    assert all(score == full > 0 for score, full in scores["solution"].values()), scores["solution"]


def test_untouched_release_gets_zero(graded):
    _, scores, _, _ = graded
    assert sum(score for score, _ in scores["untouched"].values()) == 0


def test_stderr_and_warnings_do_not_zero_a_test_cell(graded):
    _, scores, _, _ = graded
    assert all(score == full for score, full in scores["noisy"].values()), scores["noisy"]


def test_wrong_implementations_lose_points_on_their_exercise_only(graded):
    checks, scores, wrong, _ = graded
    assert len(wrong) >= 5, "keep at least five wrong implementations graded end to end"
    for student, exercise in wrong.items():
        per_ex = scores[student]
        hit = {exercise} | {e for e, uses in getattr(checks, "USES", {}).items() if exercise in uses}
        assert per_ex[exercise][0] < per_ex[exercise][1], (student, per_ex)
        for other, (score, full) in per_ex.items():
            if other not in hit:
                assert score == full, f"{student} should not cost {other} points: {per_ex}"


def test_written_answers_are_left_for_grading_by_hand(graded):
    _, _, _, written = graded
    assert len(written["solution"]) >= 2, "every problem set has at least two written answers"
    for gid, (auto, needs) in written["solution"].items():
        assert auto is None and needs, f"an answered {gid} must wait for the Formgrader, not be autograded"
    for gid, (auto, needs) in written["untouched"].items():
        assert auto == 0 and not needs, f"{gid} left as released: nbgrader scores 0, nothing to grade"
