"""The checks made before nbgrader runs (autograder.grading.preflight), on the broken fixtures:
what is rejected says why; what is repaired comes back with every graded cell once, in order."""
from __future__ import annotations


import nbformat
import pytest

from autograder.grading import preflight, synthetic
from course_helpers import COURSE

A = "ps1_linear_quantization"
RELEASE = nbformat.read(COURSE / "release" / A / f"{A}.ipynb", as_version=4)
IDS = [c.metadata["nbgrader"]["grade_id"] for c in RELEASE.cells if c.metadata.get("nbgrader")]
FIXTURES = synthetic.broken_fixtures()


def _check(name):
    return preflight.check(synthetic.make_broken(FIXTURES[name], COURSE, A), RELEASE, A, {"ps9_pruning": ["prune_solution"]})


@pytest.mark.parametrize("name", [n for n, m in FIXTURES.items() if m.EXPECT["status"] == "rejected"])
def test_rejected_with_reason(name):
    got = _check(name)
    assert got.notebook is None and FIXTURES[name].EXPECT["reason"] in got.rejected


def test_other_assignment_is_named():
    assert "looks like a notebook of ps9_pruning" in _check("other_assignment").rejected


@pytest.mark.parametrize("name", ["deleted_cells", "duplicated_cells", "reordered_cells", "retyped_cells",
                                  "edited_tests"])
def test_repaired_notebook_has_every_cell_once_in_order(name):
    got = _check(name)
    assert got.rejected is None and got.notes
    nb = nbformat.reads(got.notebook.decode(), as_version=4)
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if c.metadata.get("nbgrader")]
    assert ids == IDS
    types = {c.metadata["nbgrader"]["grade_id"]: c.cell_type for c in nb.cells if c.metadata.get("nbgrader")}
    assert types == {c.metadata["nbgrader"]["grade_id"]: c.cell_type for c in RELEASE.cells if c.metadata.get("nbgrader")}
    assert len({c["id"] for c in nb.cells}) == len(nb.cells)
    nbformat.validate(nb)


def test_untouched_answered_notebook_has_no_notes():
    data = nbformat.writes(synthetic.answered(COURSE, A)).encode()
    got = preflight.check(data, RELEASE, A, {})
    assert got.rejected is None and got.notes == []


def test_oversized_and_non_utf8_are_rejected():
    assert "over the limit" in preflight.check(b" " * 2_000_000, RELEASE, A, {}, max_mb=1).rejected
    assert "not UTF-8" in preflight.check(b"\xff\xfe{}", RELEASE, A, {}).rejected
    deep = ("[" * 100_000 + "]" * 100_000).encode()
    assert preflight.check(deep, RELEASE, A, {}).rejected.startswith("not a")
