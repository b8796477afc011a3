"""The course as a person sees it: JupyterLab in a real (headless) Chromium, driven by Playwright.

JupyterLab is started as `make lab` starts it, on loopback, serving a scratch copy of the course
(so that autosave never writes outputs into the committed notebooks).  The tests

* open lecture 1, run all cells, and check that no cell errored and that plots are rendered;
* open the student version of problem set 1, answered, and press nbgrader's Validate button;
  and the untouched version, whose validation must report failing tests;
* open nbgrader's Formgrader as an instructor and find the assignments.

Screenshots of each step go to ``BROWSER_SCREENSHOTS`` (default: ``tests/artifacts/browser``);
the suite prints the folder at the end.  Skipped, with the reason, where Chromium or Playwright
is missing (`.ci/run` installs both).
"""
from __future__ import annotations

import json
import shutil
import time

import nbformat
import pytest

from browser_support import CHROMIUM, FLAGS, SHOTS, require_browser
from course_helpers import COURSE, ROOT, filled_submission
from lab_server import TOKEN, running_lab

pytestmark = pytest.mark.slow

A = "ps1_linear_quantization"

sync_api = require_browser()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A scratch copy of what a student opens: the lectures and an answered and an untouched ps1."""
    root = tmp_path_factory.mktemp("lab-root")
    shutil.copytree(ROOT / "lectures", root / "lectures")
    # the instructor's side: the course (without grading state) and the root config pointing at it
    shutil.copytree(COURSE, root / "course", ignore=shutil.ignore_patterns("gradebook.db", "submitted", "autograded",
                                                                           "feedback", ".nbgrader.log"))
    shutil.copy(ROOT / "nbgrader_config.py", root)
    release = COURSE / "release" / A / f"{A}.ipynb"
    student = root / "student"
    student.mkdir()
    shutil.copy(release, student / f"{A}.ipynb")
    nbformat.write(filled_submission(release, COURSE / "source" / A / f"{A}.ipynb"), student / f"{A}_answered.ipynb")
    return root


@pytest.fixture(scope="module")
def lab(workspace, tmp_path_factory, monkeypatch_module):
    # JupyterLab 4 renders only the cells in view by default; render all of them so that every
    # prompt and output can be inspected, and keep the news pop-up from covering the page.
    settings = tmp_path_factory.mktemp("lab-settings")
    for name, value in {"@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
                        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false"}}.items():
        path = settings / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    monkeypatch_module.setenv("JUPYTERLAB_SETTINGS_DIR", str(settings))
    with running_lab(root=workspace) as base:
        yield base


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.fixture(scope="module")
def browser():
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    context.close()


def _open(page, lab: str, path: str):
    # ?reset: start from an empty workspace, not with the tabs of the previous test restored
    page.goto(f"{lab}/lab/tree/{path}?reset&token={TOKEN}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=180_000)
    # the kernel is ready when the status bar says Idle
    page.wait_for_function("() => document.body.innerText.includes('Idle')", timeout=180_000)


_STARTED = """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                    .some(p => /[0-9*]/.test(p.innerText))"""


def _run_all(page):
    """Run > Run All Cells, from the menu as a person would (again if the first click got lost)."""
    for attempt in range(3):
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator("li[data-command='runmenu:run-all']").click()
        try:
            page.wait_for_function(_STARTED, timeout=30_000)
            return
        except sync_api.TimeoutError:
            page.keyboard.press("Escape")
    page.screenshot(path=str(SHOTS / "run_did_not_start.png"))
    raise AssertionError("Run All did not start any cell")


def _wait_until_done(page, timeout: float = 300):
    """Wait until no code cell is queued or running (prompt '[*]')."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = page.evaluate("""() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                                  .some(p => p.innerText.includes('*'))""")
        if not busy:
            return
        time.sleep(1.0)
    raise AssertionError("cells were still running after the time limit")


def _executed_prompts(page) -> list[str]:
    return page.evaluate("() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(p => p.innerText)")


def test_lecture_1_runs_in_the_browser_with_plots(lab, page):
    _open(page, lab, "lectures/01_linear_quantization.ipynb")
    page.screenshot(path=str(SHOTS / "01_lecture_opened.png"))
    _run_all(page)
    _wait_until_done(page)
    # scroll through so every output is laid out, then look
    page.keyboard.press("Control+End")
    prompts = _executed_prompts(page)
    assert prompts and all(any(ch.isdigit() for ch in p) for p in prompts), prompts
    errors = page.locator("[data-mime-type='application/vnd.jupyter.stderr'], .jp-OutputArea-output[data-mime-type*='error']")
    assert errors.count() == 0, errors.first.inner_text()[:2000]
    images = page.locator(".jp-RenderedImage img")
    assert images.count() >= 3
    loaded = page.evaluate("() => [...document.querySelectorAll('.jp-RenderedImage img')].every(i => i.complete && i.naturalWidth > 100)")
    assert loaded, "every plot should be a rendered image"
    images.first.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "02_lecture_plot.png"))


def _validate(page) -> str:
    page.locator("button:has-text('Validate'), .jp-ToolbarButtonComponent:has-text('Validate')").first.click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=180_000)
    page.wait_for_function("() => !document.querySelector('.jp-Dialog').innerText.includes('Validating')",
                           timeout=180_000)
    return dialog.inner_text()


def test_answered_assignment_validates(lab, page):
    _open(page, lab, f"student/{A}_answered.ipynb")
    _run_all(page)
    _wait_until_done(page)
    page.screenshot(path=str(SHOTS / "03_assignment_answered_run.png"))
    text = _validate(page)
    page.screenshot(path=str(SHOTS / "04_assignment_validate_success.png"))
    assert "Success! Your notebook passes all the tests." in text, text


def test_untouched_assignment_fails_validation(lab, page):
    _open(page, lab, f"student/{A}.ipynb")
    text = _validate(page)
    page.screenshot(path=str(SHOTS / "05_assignment_validate_failure.png"))
    assert "Success" not in text and ("failed" in text.lower() or "error" in text.lower()), text
    assert "not implemented yet" in text or "NotImplementedError" in text, text


def test_instructor_sees_the_assignments_in_formgrader(lab, page):
    page.goto(f"{lab}/formgrader?token={TOKEN}")
    try:
        page.wait_for_selector(f"text={A}", timeout=90_000)
    finally:
        page.screenshot(path=str(SHOTS / "06_formgrader.png"))
    page.screenshot(path=str(SHOTS / "06_formgrader.png"))
    assert page.locator(f"text={A}").count() >= 1
