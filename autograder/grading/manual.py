"""Written answers: the cells an instructor grades by hand in the Formgrader, as the reports see them.

A problem set's written answers are nbgrader *manually graded answer cells* (markdown cells with
``grade`` and ``solution`` set).  ``nbgrader autograde`` gives them no score: it stores the grade
with ``auto_score`` None and ``needs_manual_grade`` True, unless the answer was left as released
(its checksum unchanged), which nbgrader scores 0 at once.  When the instructor types a score in
the Formgrader, nbgrader stores it in ``manual_score`` (and clears ``needs_manual_grade``);
nbgrader's ``Grade.score`` is then ``manual_score`` (plus any extra credit), else ``auto_score``.

The pipeline's own run rows (:mod:`.gradebook`) hold the autograded scores only, so the report,
the feedback pages and the export read the hand grades from nbgrader's ``grade`` table with
:func:`hand_grades` and combine them with :func:`cells_with_hand_grades`.  Each cell then carries
a ``state``:

* ``"auto"``: a test cell, scored by the autograder;
* ``"pending"``: a written answer waiting for the instructor (it counts 0 until graded, and
  pages show it as :data:`PENDING`);
* ``"manual"``: a written answer graded by hand (``score`` is the instructor's);
* ``"unanswered"``: a written answer left as released (nbgrader scored it 0).

A regrade (:func:`.gradebook.merge`) keeps the manual scores, so a graded answer stays graded.
"""
from __future__ import annotations

import copy

PENDING = "pending: graded by hand"


def hand_grades(gb, assignment: str) -> dict[str, dict[str, dict]]:
    """``{student: {grade_id: {"manual_score", "score", "needs_manual", "max_score"}}}`` for every
    written (markdown) answer cell of ``assignment`` in the open nbgrader gradebook ``gb``."""
    from nbgrader.api import Assignment, Grade, GradeCell, Notebook, SubmittedAssignment, SubmittedNotebook
    rows = (gb.db.query(SubmittedAssignment.student_id, GradeCell.name, GradeCell.max_score, Grade.manual_score,
                        Grade.score, Grade.needs_manual_grade)
            .join(SubmittedNotebook, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
            .join(Grade, Grade.notebook_id == SubmittedNotebook.id)
            .join(GradeCell, GradeCell.id == Grade.cell_id)
            .join(Notebook, Notebook.id == GradeCell.notebook_id)
            .join(Assignment, Assignment.id == Notebook.assignment_id)
            .filter(Assignment.name == assignment, GradeCell.cell_type == "markdown")
            .all())
    gb.db.commit()
    out: dict[str, dict[str, dict]] = {}
    for student, gid, max_score, manual, score, needs in rows:
        out.setdefault(student, {})[gid] = {
            "manual_score": None if manual is None else float(manual), "score": float(score or 0.0),
            "needs_manual": bool(needs), "max_score": float(max_score)}
    return out


def state_of(hand: dict | None) -> str:
    """The state of one cell given its hand-grade record (None for a test cell)."""
    if hand is None:
        return "auto"
    if hand["manual_score"] is not None:
        return "manual"
    return "pending" if hand["needs_manual"] else "unanswered"


def cells_with_hand_grades(cells: dict, hand: dict | None) -> dict:
    """A copy of a run row's ``cells`` (``{grade_id: {"score", "max_score", "message"}}``) where each
    cell has its ``state`` and each written answer the score the gradebook holds for it now."""
    out = copy.deepcopy(cells)
    hand = hand or {}
    for gid, cell in out.items():
        state = state_of(hand.get(gid))
        cell["state"] = state
        if state == "manual":
            cell["score"] = hand[gid]["score"]
        elif state in ("pending", "unanswered"):
            cell["score"] = 0.0
    return out


def pending(cells: dict) -> list[str]:
    """The grade ids of the written answers still waiting to be graded by hand."""
    return [gid for gid, c in cells.items() if c.get("state") == "pending"]


def describe(cell: dict) -> str:
    """A cell's score in words: ``"1.5 / 2"``, ``"1.5 / 2 (graded by hand)"`` or :data:`PENDING`."""
    if cell.get("state") == "pending":
        return f"{PENDING} (0 / {cell['max_score']:g} until then)"
    text = f"{cell['score']:g} / {cell['max_score']:g}"
    if cell.get("state") == "manual":
        text += " (graded by hand)"
    elif cell.get("state") == "unanswered":
        text += " (no answer)"
    return text
