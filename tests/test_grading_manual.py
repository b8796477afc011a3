"""Written answers are left for grading by hand, end to end through ``python -m autograder``.

A small class of problem set 2 (two written answers, ``written_1`` and ``written_2``) is graded
with the CLI: a student who answered everything (the written answers with the model answers) and
one who submitted the student version untouched.  Then:

* the autograder gives the written answers no score and nbgrader flags them for manual grading;
  an unanswered one (left as released) is scored 0 by nbgrader and not flagged;
* the autograded points are those of the test cells, summed from the source notebook's points;
* the report, the feedback page and the export show the written answers as *pending: graded by
  hand*, counting 0;
* once an instructor stores a score through nbgrader's Gradebook API (what the Formgrader does),
  the report, the feedback page and the export show it, and the export's total includes it;
* a regrade (``--force``) keeps the manual score.
"""
from __future__ import annotations

import csv
import json
import shutil

import pytest

from autograder.grading import synthetic
from course_helpers import COURSE
from grading_support import LIMITS, cli, scratch_dir

pytestmark = pytest.mark.slow

A = "ps2_integer_matmul"
WRITTEN = ["written_1", "written_2"]
PENDING = "pending: graded by hand"


def _points():
    """``({grade_id: points} of the test cells, {grade_id: points} of the written answers)`` read
    from the source notebook's nbgrader metadata (independently of the grading code)."""
    nb = json.loads((COURSE / "source" / A / f"{A}.ipynb").read_text())
    tests, written = {}, {}
    for c in nb["cells"]:
        m = c["metadata"].get("nbgrader", {})
        if m.get("grade"):
            (written if m.get("solution") else tests)[m["grade_id"]] = float(m["points"])
    return tests, written


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("manual") / "course"
    for part in ("source", "release"):
        shutil.copytree(COURSE / part / A, root / part / A)
    shutil.copy(COURSE / "nbgrader_config.py", root)
    synthetic.write_submission(root, A, "ada", synthetic.answered(root, A))
    synthetic.write_submission(root, A, "bo", (root / "release" / A / f"{A}.ipynb").read_bytes())
    cli("grade", A, "--course", str(root), "--workers", "2", "--scratch", str(scratch_dir()), *LIMITS)
    return root


def _db(course) -> str:
    return f"sqlite:///{course / 'gradebook.db'}"


def _grades(course, student) -> dict:
    from nbgrader.api import Gradebook
    with Gradebook(_db(course)) as gb:
        nb = gb.find_submission_notebook(A, A, student)
        return {g.name: (g.auto_score, g.manual_score, g.needs_manual_grade, g.score) for g in nb.grades}


def _export(course) -> dict:
    cli("export", A, "--course", str(course))
    return {r["student"]: r for r in csv.DictReader((course / "exports" / A / "grades.csv").open())}


def _feedback(course, student="ada") -> str:
    cli("feedback", A, "--course", str(course))
    return (course / "feedback" / student / A / f"{A}.html").read_text()


def _report(course) -> str:
    cli("report", A, "--course", str(course))
    return (course / "reports" / A / "report.html").read_text()


def _set_manual(course, student, gid, score):
    """What the Formgrader does when an instructor types a score and saves it."""
    from nbgrader.api import Gradebook
    with Gradebook(_db(course)) as gb:
        g = gb.find_grade(gid, A, A, student)
        g.manual_score = score
        g.needs_manual_grade = False
        gb.db.commit()


def test_the_source_has_written_answers():
    tests, written = _points()
    assert sorted(written) == WRITTEN and all(p > 0 for p in written.values())
    assert tests, "and autograded test cells"


def test_written_answers_are_left_for_manual_grading(course):
    tests, written = _points()
    ada = _grades(course, "ada")
    for gid in WRITTEN:
        auto, manual, needs, score = ada[gid]
        assert auto is None and manual is None and needs, (gid, ada[gid])
    # the autograded points are unaffected: every test cell of a correct answer gets its points
    assert {g: ada[g][3] for g in tests} == tests
    bo = _grades(course, "bo")
    for gid in WRITTEN:  # left as released: nbgrader scores 0 at once, nothing to grade by hand
        assert bo[gid][0] == 0 and not bo[gid][2], (gid, bo[gid])
    assert sum(bo[g][3] for g in tests) == 0


def test_pending_in_report_feedback_and_export(course):
    tests, written = _points()
    rows = _export(course)
    assert rows["ada"]["pending"].split() == WRITTEN
    assert rows["bo"]["pending"] == ""
    assert float(rows["ada"]["score"]) == sum(tests.values())
    assert float(rows["ada"]["max_score"]) == sum(tests.values()) + sum(written.values())
    assert all(float(rows["ada"][g]) == 0 for g in WRITTEN)
    moodle = list(csv.reader((course / "exports" / A / "moodle.csv").open()))
    ada_moodle = next(r for r in moodle if r[0] == "ada")
    assert PENDING in ada_moodle[2] and "written_1, written_2" in ada_moodle[2]

    page = _feedback(course)
    assert page.count(f"Score: {PENDING}") == 2, "a badge under each written answer"
    assert f"2 written answers, {sum(written.values()):g} points, {PENDING}" in page
    assert f"{sum(tests.values()):g} / {sum(tests.values()) + sum(written.values()):g}</b> points" in page
    assert f"Score: {PENDING}" not in _feedback(course, "bo"), "no answer, nothing pending"

    report = _report(course)
    assert "Written answers (graded by hand in the Formgrader)" in report
    assert report.count(PENDING) >= 3, "two cells of ada and the summary line"
    assert "2 written answers pending" in report and "(no answer)" in report


def test_manual_score_shows_everywhere_and_survives_a_regrade(course):
    tests, written = _points()
    _set_manual(course, "ada", "written_1", 1.5)
    rows = _export(course)
    assert rows["ada"]["pending"].split() == ["written_2"]
    assert float(rows["ada"]["written_1"]) == 1.5
    assert float(rows["ada"]["score"]) == sum(tests.values()) + 1.5
    page = _feedback(course)
    assert "Score: 1.5 / 2 (graded by hand)" in page and page.count(f"Score: {PENDING}") == 1
    report = _report(course)
    assert "1.5 / 2 (graded by hand)" in report and "1 written answers pending" in report

    cli("grade", A, "--course", str(course), "--force", "--student", "ada", "--scratch", str(scratch_dir()),
        *LIMITS)
    ada = _grades(course, "ada")
    assert ada["written_1"][1] == 1.5 and ada["written_1"][3] == 1.5, ada["written_1"]
    assert ada["written_2"][1] is None and ada["written_2"][2], ada["written_2"]
    assert {g: ada[g][3] for g in tests} == tests
    rows = _export(course)
    assert float(rows["ada"]["score"]) == sum(tests.values()) + 1.5
    assert rows["ada"]["pending"].split() == ["written_2"]
