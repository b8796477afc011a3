"""An instructor grades a written answer by hand in nbgrader's Formgrader, in a real (headless)
Chromium driven by Playwright.

A scratch course holds problem set 2 and one student's answered submission, graded with
``python -m autograder grade`` (which leaves the written answers for manual grading).  JupyterLab
is started as `make lab` starts it (:mod:`lab_server`); the test opens the Formgrader's page of
that submission (after logging in on its front page), types a score into the first written answer's score box, lets the page save it,
and checks that nbgrader's gradebook now holds that manual score (and no longer flags the cell),
while the other written answer is still waiting.  Screenshots go to ``BROWSER_SCREENSHOTS``
(default ``tests/artifacts/browser``), as for tests/test_browser.py.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from autograder.grading import synthetic
from browser_support import CHROMIUM, FLAGS, SHOTS, require_browser
from course_helpers import COURSE, ROOT
from grading_support import LIMITS, cli, scratch_dir
from lab_server import TOKEN, running_lab

pytestmark = pytest.mark.slow

A = "ps2_integer_matmul"
STUDENT = "ada"
SCORE = 1.5

sync_api = require_browser()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """The instructor's folder: the root nbgrader config and a course with one graded submission."""
    root = tmp_path_factory.mktemp("formgrader-root")
    course = root / "course"
    for part in ("source", "release"):
        shutil.copytree(COURSE / part / A, course / part / A)
    shutil.copy(COURSE / "nbgrader_config.py", course)
    shutil.copy(ROOT / "nbgrader_config.py", root)
    synthetic.write_submission(course, A, STUDENT, synthetic.answered(course, A))
    cli("grade", A, "--course", str(course), "--scratch", str(scratch_dir()), *LIMITS)
    return root


def _grade(course: Path, gid: str):
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        g = gb.find_grade(gid, A, A, STUDENT)
        return g.manual_score, g.needs_manual_grade, g.auto_score


def _notebook_id(course: Path) -> str:
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return gb.find_submission_notebook(A, A, STUDENT).id


def test_instructor_grades_a_written_answer_in_formgrader(workspace):
    course = workspace / "course"
    assert _grade(course, "written_1") == (None, True, None), "the autograder left it for manual grading"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with running_lab(root=workspace) as lab, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.set_default_timeout(60_000)
            # log in through the Formgrader's front page first: the submission page's own requests
            # to the grades API carry the login cookie, not the token of the page's address
            page.goto(f"{lab}/formgrader?token={TOKEN}")
            page.wait_for_selector(f"text={A}", timeout=120_000)
            page.goto(f"{lab}/formgrader/submissions/{_notebook_id(course)}/")
            box = page.locator("input.score#written_1")
            try:
                box.wait_for(timeout=120_000)
            finally:
                page.screenshot(path=str(SHOTS / "07_formgrader_written_answer.png"))
            box.scroll_into_view_if_needed()
            box.fill(str(SCORE))
            box.press("Tab")  # the page saves a score when its box changes
            deadline = time.monotonic() + 60
            while _grade(course, "written_1")[0] is None and time.monotonic() < deadline:
                time.sleep(0.5)
            page.screenshot(path=str(SHOTS / "08_formgrader_written_answer_graded.png"))
        finally:
            browser.close()
    assert _grade(course, "written_1") == (SCORE, False, None)
    assert _grade(course, "written_2") == (None, True, None), "the other answer is still waiting"
