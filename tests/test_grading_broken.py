"""A class with good students and every broken submission (tests/fixtures/submissions), graded by
``python -m autograder grade`` with two workers; then feedback, export and report on it.

* every broken submission is graded as its fixture's EXPECT says, with a readable reason;
* the batch finishes and every student has a result;
* the good students' scores are exactly those they get when graded alone;
* a second run skips every unchanged submission; --force regrades;
* feedback pages show the diagnosis and never the hidden tests' code;
* grades.csv / moodle.csv and the HTML report agree with the gradebook.
"""
from __future__ import annotations

import csv
import re

import pytest

from autograder.grading import synthetic
from grading_support import (A, FULL, LIMITS, all_text, cell_scores, cli, exercise_scores, make_course, runs,
                             scratch_dir, submit)

pytestmark = pytest.mark.slow

GOOD = {"alice": "correct", "bob": "correct", "carol": "wrong:quantize_floor"}
BROKEN = sorted(synthetic.broken_fixtures())


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("class"))
    for student, kind in GOOD.items():
        submit(course, student, kind)
    for name in BROKEN:
        submit(course, student=name.replace("_", "-"), kind=f"broken:{name}")
    db = f"sqlite:///{course / 'gradebook.db'}"
    out = cli("grade", A, "--course", str(course), "--workers", "2", "--scratch", str(scratch_dir()), *LIMITS)
    return course, db, out.stdout


def test_every_submission_has_a_result(graded):
    course, db, _ = graded
    got = runs(db)
    assert sorted(got) == sorted([*GOOD, *(n.replace("_", "-") for n in BROKEN)])
    assert sorted(cell_scores(db)) == sorted(got), "nbgrader's own tables hold every student too"


@pytest.mark.parametrize("name", BROKEN)
def test_broken_submission_is_graded_as_expected(graded, name):
    _, db, _ = graded
    run = runs(db)[name.replace("_", "-")]
    module = synthetic.broken_fixtures()[name]
    expect = module.EXPECT
    per = exercise_scores(run)
    assert run["status"] == expect["status"], (run["status"], run["details"]["reasons"])
    for ex in expect["full"]:
        assert per[ex][0] == per[ex][1], f"{name}: {ex} should keep its points: {per}"
    for ex in expect["lost"]:
        assert per[ex][0] < per[ex][1], f"{name}: {ex} should lose points: {per}"
    assert expect["reason"] in all_text(run), all_text(run)
    if run["status"] != "graded":
        assert run["details"]["reasons"], "a zero needs a reason the instructor can read"
    if "max_score" in expect:
        assert run["max_score"] == expect["max_score"]


def test_gigantic_output_is_cut_in_the_graded_notebook(graded):
    course, _, _ = graded
    nb = course / "autograded" / "huge-output" / A / f"{A}.ipynb"
    assert nb.stat().st_size < synthetic.broken_fixtures()["huge_output"].EXPECT["max_autograded_bytes"]
    assert "output cut by the grader" in nb.read_text()


def test_good_students_score_as_when_graded_alone(graded, tmp_path):
    _, db, _ = graded
    alone = make_course(tmp_path)
    for student, kind in GOOD.items():
        submit(alone, student, kind)
    cli("grade", A, "--course", str(alone), "--workers", "2", "--scratch", str(scratch_dir()), *LIMITS)
    in_class = cell_scores(db, GOOD)
    by_themselves = cell_scores(f"sqlite:///{alone / 'gradebook.db'}")
    assert in_class == by_themselves
    assert sum(in_class["alice"].values()) == FULL and sum(in_class["carol"].values()) < FULL


def test_rerun_skips_unchanged_and_force_regrades(graded):
    course, db, _ = graded
    before = runs(db)
    out = cli("grade", A, "--course", str(course), "--scratch", str(scratch_dir()), *LIMITS)
    assert f"0 to grade, {len(before)} unchanged" in out.stdout
    assert {s: r["run_id"] for s, r in runs(db).items()} == {s: r["run_id"] for s, r in before.items()}
    (course / "submitted" / "empty" / A / f"{A}.ipynb").write_bytes(
        (course / "submitted" / "alice" / A / f"{A}.ipynb").read_bytes())   # a resubmission
    out = cli("grade", A, "--course", str(course), "--scratch", str(scratch_dir()), *LIMITS)
    assert "1 to grade" in out.stdout
    assert runs(db)["empty"]["score"] == FULL
    cli("grade", A, "--course", str(course), "--student", "invalid-json", "--force", "--scratch",
        str(scratch_dir()), *LIMITS)
    after = runs(db)
    assert after["invalid-json"]["run_id"] != before["invalid-json"]["run_id"]
    assert after["bob"]["run_id"] == before["bob"]["run_id"]


def test_feedback_shows_diagnosis_not_hidden_tests(graded):
    course, db, _ = graded
    cli("feedback", A, "--course", str(course))
    carol = (course / "feedback" / "carol" / A / f"{A}.html").read_text()
    assert "Likely mistake" in carol or "wrong on" in carol
    source = (course / "source" / A / f"{A}.ipynb").read_text()
    hidden_calls = set(re.findall(r'check_\w+\(\w+, suite=\\"hidden\\"\)', source))
    assert hidden_calls, "the source has hidden tests"
    for page in (course / "feedback").rglob("*.html"):
        text = page.read_text()
        assert "BEGIN HIDDEN TESTS" not in text and 'suite="hidden"' not in text
        assert "suite=&quot;hidden&quot;" not in text
    assert "hidden tests: they ran" in carol
    rejected = (course / "feedback" / "not-a-notebook" / A / f"{A}.html").read_text()
    assert "not a Jupyter notebook" in rejected


def test_export_csv_and_moodle(graded):
    course, db, _ = graded
    cli("export", A, "--course", str(course))
    rows = {r["student"]: r for r in csv.DictReader((course / "exports" / A / "grades.csv").open())}
    got = runs(db)
    assert set(rows) == set(got)
    for student, run in got.items():
        assert float(rows[student]["score"]) == run["score"]
        assert rows[student]["status"] == run["status"]
    assert float(rows["memory-bomb"]["dequantize"]) < 3 and float(rows["memory-bomb"]["quantize"]) == 3
    moodle = list(csv.reader((course / "exports" / A / "moodle.csv").open()))
    assert moodle[0] == ["Username", A, "Feedback"]
    assert ["not-a-notebook", "0"] == moodle[[r[0] for r in moodle].index("not-a-notebook")][:2]


def test_report_has_plots_mistakes_and_reasons(graded):
    course, _, _ = graded
    cli("report", A, "--course", str(course))
    out = course / "reports" / A
    html = (out / "report.html").read_text()
    for png in ("scores.png", "mistakes.png", "grading_time.png"):
        assert (out / png).stat().st_size > 5000
    assert html.count("data:image/png;base64,") == 3
    assert "floor" in html, "carol's diagnosed mistake (rounding with floor) is counted"
    assert "not a Jupyter notebook" in html and "kernel died" in html
