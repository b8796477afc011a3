"""``python -m autograder export``: the grades of one assignment as two CSV files.

* ``grades.csv``: one row per student in the gradebook: status, total, maximum, one column per
  exercise (test cells ``name_visible`` + ``name_hidden`` summed), and the reasons recorded when
  a submission could not be graded normally.  Students without a submission get 0 and status
  ``missing``.  Written answers (graded by hand in the Formgrader, :mod:`.manual`) are columns
  like the exercises: the instructor's score once graded, 0 until then; the column ``pending``
  names the written answers still waiting to be graded, so that no one exports a total as final
  while it is not.
* ``moodle.csv``: for Moodle's *Grades > Import > CSV file*: columns ``Username``, the assignment
  (the total score), and ``Feedback``.  On import, map ``Username`` to the user field holding
  your JupyterHub / nbgrader student ids (username, email or ID number), the assignment column
  to the grade item, and ``Feedback`` to its feedback (which says when written answers are still
  pending).
"""
from __future__ import annotations

import csv
from pathlib import Path

from . import gradebook, manual
from .course import exercise_of


def table(db_url: str, assignment: str) -> tuple[list[str], list[dict]]:
    """``(exercises, rows)``: one row per student of the gradebook."""
    from nbgrader.api import Student
    gb = gradebook.open_gradebook(db_url)
    try:
        runs = {r["student"]: r for r in gradebook.run_rows(gb, assignment)}
        hand = manual.hand_grades(gb, assignment)
        a = gb.find_assignment(assignment)
        cell_max = {c.name: c.max_score for nb in a.notebooks for c in nb.grade_cells}
        exercises = list(dict.fromkeys(exercise_of(c) for c in cell_max))
        students = sorted({s.id for s in gb.db.query(Student).all()} | set(runs))
        rows = []
        for sid in students:
            row = {"student": sid, "assignment": assignment}
            per = {e: 0.0 for e in exercises}
            try:
                sub = gb.find_submission(assignment, sid)
            except Exception:  # noqa: BLE001 - nbgrader raises MissingEntry
                sub = None
            if sub is not None:
                for snb in sub.notebooks:
                    for g in snb.grades:
                        per[exercise_of(g.name)] += float(g.score or 0.0)
            run = runs.get(sid)
            row["status"] = run["status"] if run else ("graded" if sub is not None else "missing")
            row["score"] = round(sum(per.values()), 6)
            row["max_score"] = sum(cell_max.values())
            row.update({e: round(v, 6) for e, v in per.items()})
            row["reasons"] = "; ".join(run["details"]["reasons"]) if run else ""
            row["pending"] = " ".join(sorted(g for g, h in hand.get(sid, {}).items()
                                             if manual.state_of(h) == "pending"))
            rows.append(row)
        gb.db.commit()
        return exercises, rows
    finally:
        gb.close()


def export(course: Path, assignment: str, db_url: str, out: Path | None = None) -> list[Path]:
    out = out or course / "exports" / assignment
    out.mkdir(parents=True, exist_ok=True)
    exercises, rows = table(db_url, assignment)
    grades = out / "grades.csv"
    with grades.open("w", newline="") as f:
        w = csv.DictWriter(f, ["student", "assignment", "status", "score", "max_score", *exercises, "pending", "reasons"])
        w.writeheader()
        w.writerows(rows)
    moodle = out / "moodle.csv"
    with moodle.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Username", assignment, "Feedback"])
        for r in rows:
            note = r["reasons"] or ("no submission" if r["status"] == "missing" else
                                    f"{r['score']:g} / {r['max_score']:g}; see your feedback page")
            if r["pending"]:
                note += f"; written answers {manual.PENDING}: {r['pending'].replace(' ', ', ')}"
            w.writerow([r["student"], f"{r['score']:g}", note])
    return [grades, moodle]
