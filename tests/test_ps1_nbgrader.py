"""Grading works end to end: nbgrader's own commands on a temporary copy of the course.

* the source notebook validates (its solutions pass its tests);
* the generated student version fails every test cell (``validate --invert``);
* autograding the solution, submitted as a student would, gives full marks;
* autograding the untouched student version gives zero;
* each kept wrong implementation loses points on the exercise it breaks (and on the
  exercises that call it), and nowhere else;
* a submission that writes to stderr and warns still gets full marks (nbgrader zeroes a
  test cell whose output has stderr; the checks keep it off).
"""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import nbformat
import pytest

from course_helpers import COURSE, FIXTURES, filled_submission, nbgrader_cmd

pytestmark = pytest.mark.slow

A = "ps1_linear_quantization"
EXERCISES = ["asymmetric_qparams", "quantize", "dequantize", "quantize_per_channel", "clipping_rounding_error"]
# the worked solution reuses earlier answers: a mistake there also costs these exercises
USES = {"quantize_per_channel": {"asymmetric_qparams", "quantize"},
        "clipping_rounding_error": {"quantize", "dequantize"}}
WRONG = ["qparams_no_widening", "quantize_floor", "quantize_no_clipping", "dequantize_uint8_wraparound",
         "per_channel_wrong_axis", "error_parts_own_mean", "quantize_calls_quantref"]

NOISY = '''
import sys, warnings
def quantize(x, scale, zero_point, bits):
    print("debugging quantize", file=sys.stderr)
    warnings.warn("a harmless warning")
    q = np.round(np.asarray(x, dtype=np.float64) / scale) + zero_point
    return np.clip(q, 0, 2 ** bits - 1).astype(np.uint8)
print("top-level stderr output in a solution cell", file=sys.stderr)
'''


def _fixture(name: str):
    spec = importlib.util.spec_from_file_location(name, FIXTURES / "ps1_wrong" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, (FIXTURES / "ps1_wrong" / f"{name}.py").read_text()


def _affected(exercise: str) -> set:
    return {exercise} | {e for e, uses in USES.items() if exercise in uses}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Generate, validate and autograde a small class; return per-student, per-cell scores."""
    course = tmp_path_factory.mktemp("course")
    shutil.copytree(COURSE / "source", course / "source")
    shutil.copy(COURSE / "nbgrader_config.py", course)
    src = course / "source" / A / f"{A}.ipynb"
    rel = course / "release" / A / f"{A}.ipynb"

    out = nbgrader_cmd("validate", str(src), cwd=course).stdout
    assert "Success! Your notebook passes all the tests." in out, out
    nbgrader_cmd("generate_assignment", A, "--force", cwd=course)
    out = nbgrader_cmd("validate", "--invert", str(rel), cwd=course).stdout
    assert "Success! The notebook does not pass any tests." in out, out

    submissions = {"solution": filled_submission(rel, src), "untouched": nbformat.read(rel, as_version=4),
                   "noisy": filled_submission(rel, src, {"quantize_solution": NOISY})}
    for name in WRONG:
        module, code = _fixture(name)
        submissions[name] = filled_submission(rel, src, {f"{module.EXERCISE}_solution": code})
    for student, nb in submissions.items():
        target = course / "submitted" / student / A / f"{A}.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(nb, target)
    nbgrader_cmd("autograde", A, "--force", cwd=course)

    from nbgrader.api import Gradebook
    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in submissions:
            nb = gb.find_submission_notebook(A, A, student)
            scores[student] = {g.name: (g.score, g.max_score) for g in nb.grades}
    return scores


def _exercise_scores(cells: dict) -> dict:
    return {e: (sum(cells[f"{e}_{k}"][0] for k in ("visible", "hidden")),
                sum(cells[f"{e}_{k}"][1] for k in ("visible", "hidden"))) for e in EXERCISES}


def test_solution_gets_full_marks(graded):
    per_ex = _exercise_scores(graded["solution"])
    assert all(score == full for score, full in per_ex.values()), per_ex
    assert sum(s for s, _ in per_ex.values()) == 15


def test_untouched_release_gets_zero(graded):
    assert sum(score for score, _ in graded["untouched"].values()) == 0


def test_stderr_and_warnings_do_not_zero_a_test_cell(graded):
    per_ex = _exercise_scores(graded["noisy"])
    assert all(score == full for score, full in per_ex.values()), per_ex


def test_at_least_five_wrong_implementations_are_graded():
    assert len(WRONG) >= 5


@pytest.mark.parametrize("name", WRONG)
def test_wrong_implementation_loses_points_on_its_exercise_only(graded, name):
    module, _ = _fixture(name)
    per_ex = _exercise_scores(graded[name])
    hit = _affected(module.EXERCISE)
    assert per_ex[module.EXERCISE][0] < per_ex[module.EXERCISE][1], per_ex
    for exercise, (score, full) in per_ex.items():
        if exercise not in hit:
            assert score == full, f"{name} should not cost {exercise} points: {per_ex}"
