"""Every notebook a reader opens executes top to bottom, and every committed notebook is stripped.

Lectures and worked solutions run in their own folder with a fresh kernel; a cell error fails
the test with the cell's traceback. Each is executed once per test run by the session fixture
``executed_notebook`` (tests/conftest.py), which tests/test_lecture_numbers.py reads too.
"""
from __future__ import annotations

import json
import subprocess

import nbformat
import pytest

from course_helpers import ROOT

LECTURES = sorted((ROOT / "lectures").glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))


def _stderr_outputs(nb) -> list[str]:
    return [o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
            if o.output_type == "stream" and o.name == "stderr"]


@pytest.mark.slow
@pytest.mark.parametrize("path", LECTURES, ids=[p.name for p in LECTURES])
def test_lecture_executes(path, executed_notebook):
    nb = executed_notebook(path)
    images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert images >= 2, f"{path.name} should show its ideas as plots, found {images} images"


@pytest.mark.slow
@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.name for p in SOLUTIONS])
def test_worked_solution_executes_and_passes_its_checks(path, executed_notebook):
    nb = executed_notebook(path)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert text.count("\u2714") >= 10, "every visible and hidden check should print a tick"
    assert not _stderr_outputs(nb)


def test_lectures_are_numbered_in_teaching_order():
    import re
    names = [p.name for p in LECTURES]
    assert names and all(re.fullmatch(r"\d{2}_[a-z0-9_]+\.ipynb", n) for n in names), names
    numbers = [int(n[:2]) for n in names]
    assert len(set(numbers)) == len(numbers) and numbers[0] == 1, "one lecture per number, starting at 01"
    readme = (ROOT / "README.md").read_text()
    assert all(n in readme for n in names), "the README lists every lecture"


def _tracked_notebooks() -> list[str]:
    out = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True, text=True)
    tracked = out.stdout.split() if out.returncode == 0 else []
    return tracked or [str(p.relative_to(ROOT)) for p in ROOT.rglob("*.ipynb") if ".venv" not in p.parts]


@pytest.mark.parametrize("rel", _tracked_notebooks())
def test_committed_notebooks_are_stripped_and_valid(rel):
    nb = json.loads((ROOT / rel).read_text())
    nbformat.validate(nbformat.from_dict(nb))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, f"{rel} has outputs: strip them"
