"""Synthetic submissions for tests and the benchmark: answered notebooks, kept wrong answers, broken ones.

* :func:`answered` -- the student version with every exercise answered by the source's solution;
* :func:`wrong_answers` -- the kept wrong implementations (``tests/fixtures/<psN>_wrong``);
* :func:`broken_fixtures` -- the broken submissions (``tests/fixtures/submissions``), each with
  ``make(notebook)`` and ``EXPECT``.
"""
from __future__ import annotations

import copy
import importlib.util
import re
import sys
from pathlib import Path

import nbformat

from .course import ROOT

FIXTURES = ROOT / "tests" / "fixtures"
_MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.M)


def answered(course: Path, assignment: str, replace: dict | None = None) -> nbformat.NotebookNode:
    """The release notebook with every solution cell answered (``replace``: grade_id -> other code)."""
    release = nbformat.read(course / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    source = nbformat.read(course / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: _MARKERS.sub("", c.source)
               for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")}
    answers.update(replace or {})
    for cell in release.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = answers[meta["grade_id"]]
    return release


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wrong_answers(assignment: str) -> dict:
    """``{name: (exercise, code, diagnosis)}`` from ``tests/fixtures/<psN>_wrong``."""
    folder = FIXTURES / f"{assignment.split('_')[0]}_wrong"
    out = {}
    for path in sorted(folder.glob("*.py")):
        text = path.read_text()
        m = re.search(r'^EXERCISE = "([^"]+)"', text, re.M)
        d = re.search(r'^DIAGNOSIS = "([^"]+)"', text, re.M)
        if m:
            out[path.stem] = (m.group(1), text, d.group(1) if d else "")
    return out


def broken_fixtures(folder: Path = FIXTURES / "submissions") -> dict:
    """``{name: module}`` of the broken-submission fixtures (each has ``make`` and ``EXPECT``)."""
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    return {p.stem: _load(p, f"broken_{p.stem}") for p in sorted(folder.glob("*.py")) if not p.name.startswith("_")}


def make_broken(module, course: Path, assignment: str) -> bytes:
    made = module.make(copy.deepcopy(answered(course, assignment)))
    return made if isinstance(made, bytes) else nbformat.writes(made).encode()


def write_submission(course: Path, assignment: str, student: str, data) -> Path:
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{assignment}.ipynb"
    path.write_bytes(data if isinstance(data, bytes) else nbformat.writes(data).encode())
    return path
