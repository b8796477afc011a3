"""Helpers shared by the course tests: paths, and the source notebooks' solutions as code."""
from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
COURSE = ROOT / "course"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
ASSIGNMENTS = sorted(p.name for p in (COURSE / "source").iterdir() if p.is_dir())


def source_notebook(assignment: str) -> Path:
    return COURSE / "source" / assignment / f"{assignment}.ipynb"


def solution_namespace(assignment: str) -> dict:
    """Execute the source notebook's code cells that are not tests; return its namespace."""
    nb = nbformat.read(source_notebook(assignment), as_version=4)
    namespace: dict = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("grade") and not meta.get("solution"):
            continue
        code = _MARKER_LINES.sub("", cell.source)
        exec(compile(code, f"<{assignment}:{meta.get('grade_id', 'cell')}>", "exec"), namespace)
    return namespace


def load_fixture(path: Path):
    """Import a kept wrong implementation (``tests/fixtures/<psN>_wrong/<name>.py``) as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"wrong_{path.parent.name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def venv_env() -> dict:
    """The environment with this interpreter's bin first on PATH (nbgrader runs `alembic` from PATH)."""
    import sys
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


_MARKER_LINES = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.M)


def filled_submission(release_nb: Path, source_nb: Path, replace: dict | None = None) -> nbformat.NotebookNode:
    """A student's submission: the release notebook with solution cells answered.

    Answers come from the source notebook's solutions; ``replace`` maps a solution cell's
    grade_id to other code (a kept wrong implementation).
    """
    release = nbformat.read(release_nb, as_version=4)
    source = nbformat.read(source_nb, as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: _MARKER_LINES.sub("", c.source)
               for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")}
    answers.update(replace or {})
    for cell in release.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = answers[meta["grade_id"]]
    return release


def nbgrader_cmd(*args: str, cwd: Path, check: bool = True):
    """Run nbgrader from this interpreter's environment in ``cwd``."""
    import subprocess
    import sys
    cmd = [str(Path(sys.executable).parent / "nbgrader"), *args]
    proc = subprocess.run(cmd, cwd=cwd, env=venv_env(), capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"nbgrader {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc
