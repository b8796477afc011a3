"""The real gradebook: nbgrader's database (SQLite file or PostgreSQL), plus two tables of ours.

nbgrader's own tables hold the scores (``submitted_assignment``, ``submitted_notebook``,
``grade``, ``comment``), so the Formgrader, ``nbgrader export`` and ``generate_feedback`` all
see them.  Two more tables, ignored by nbgrader, hold what the pipeline knows besides:

* ``autograder_run``: one row per (assignment, student): the content hash of the graded
  submission and of the assignment's source, the status (graded / failed / rejected / error),
  the reasons, each test cell's message, the seconds it took, who graded it and when;
* ``autograder_log``: one row appended per merge, so "graded exactly once" can be checked.

:func:`merge` writes one submission's scores, its run row and its log row in **one
transaction**; a grader killed at any moment leaves either the old state or the new one.  Two
graders merging the same student concurrently (PostgreSQL) collide on a unique key; the loser
rolls back and retries, and the last to commit wins, whole.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import random
import time

from sqlalchemy import Column, DateTime, Float, Integer, MetaData, String, Table, Text, create_engine, delete, \
    insert, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

meta = MetaData()
RUNS = Table(
    "autograder_run", meta,
    Column("assignment", String(128), primary_key=True),
    Column("student", String(128), primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("source_hash", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("score", Float, nullable=False),
    Column("max_score", Float, nullable=False),
    Column("seconds", Float, nullable=False),
    Column("details", Text, nullable=False),   # JSON: reasons, notes, cells {id: score, max, message}
    Column("graded_at", DateTime, nullable=False),
    Column("grader", String(200), nullable=False),
    Column("run_id", String(32), nullable=False),
)
LOG = Table(
    "autograder_log", meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("assignment", String(128), nullable=False),
    Column("student", String(128), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("score", Float, nullable=False),
    Column("graded_at", DateTime, nullable=False),
    Column("grader", String(200), nullable=False),
    Column("run_id", String(32), nullable=False),
)

_LOCK_KEY = 7_242_001  # PostgreSQL advisory lock held while the schema and assignment are set up


@contextlib.contextmanager
def setup_lock(db_url: str):
    """Serialise schema creation between graders sharing one PostgreSQL database."""
    if not db_url.startswith("postgresql"):
        yield
        return
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            conn.execute(text(f"SELECT pg_advisory_lock({_LOCK_KEY})"))
            try:
                yield
            finally:
                conn.execute(text(f"SELECT pg_advisory_unlock({_LOCK_KEY})"))
    finally:
        engine.dispose()


def open_gradebook(db_url: str, course_id: str = "quantization"):
    """nbgrader's :class:`~nbgrader.api.Gradebook` on ``db_url``, with our tables created."""
    from nbgrader.api import Gradebook
    with setup_lock(db_url):
        gb = Gradebook(db_url, course_id)
        meta.create_all(gb.engine)
    return gb


def ensure_assignment(db_url: str, template_db, assignment: str, course_id: str = "quantization") -> None:
    """Copy the assignment's notebooks and cells from the template's gradebook into the real one
    (what ``generate_assignment`` would store there); idempotent."""
    from nbgrader.api import Gradebook
    with setup_lock(db_url), Gradebook(f"sqlite:///{template_db}") as src, Gradebook(db_url, course_id) as dst:
        a = src.find_assignment(assignment)
        dst.update_or_create_assignment(assignment)
        for nb in a.notebooks:
            dst.update_or_create_notebook(nb.name, assignment)
            for c in nb.grade_cells:
                dst.update_or_create_grade_cell(c.name, nb.name, assignment, max_score=c.max_score,
                                                cell_type=c.cell_type)
            for c in nb.solution_cells:
                dst.update_or_create_solution_cell(c.name, nb.name, assignment)
            for c in nb.task_cells:
                dst.update_or_create_task_cell(c.name, nb.name, assignment, max_score=c.max_score,
                                               cell_type=c.cell_type)
            for c in nb.source_cells:
                dst.update_or_create_source_cell(c.name, nb.name, assignment, cell_type=c.cell_type,
                                                 locked=c.locked, source=c.source, checksum=c.checksum)


def run_row(gb, assignment: str, student: str):
    return gb.db.execute(select(RUNS).where(RUNS.c.assignment == assignment,
                                            RUNS.c.student == student)).mappings().first()


def run_rows(gb, assignment: str) -> list[dict]:
    rows = gb.db.execute(select(RUNS).where(RUNS.c.assignment == assignment)
                         .order_by(RUNS.c.student)).mappings().all()
    out = []
    for r in rows:
        d = dict(r)
        d["details"] = json.loads(d["details"])
        out.append(d)
    gb.db.commit()
    return out


def log_rows(gb, assignment: str) -> list[dict]:
    rows = [dict(r) for r in gb.db.execute(select(LOG).where(LOG.c.assignment == assignment)
                                           .order_by(LOG.c.id)).mappings().all()]
    gb.db.commit()
    return rows


def _merge_once(gb, result: dict, run_id: str, grader: str) -> None:
    from nbgrader.api import Assignment, Comment, Grade, Student, SubmittedAssignment, SubmittedNotebook
    from nbgrader.utils import parse_utc
    s = gb.db
    a_name, sid = result["assignment"], result["student"]
    assignment = s.execute(select(Assignment).where(Assignment.name == a_name)).scalar_one()
    student = s.get(Student, sid)
    if student is None:
        student = Student(id=sid)
        s.add(student)
    old = s.execute(select(SubmittedAssignment).where(SubmittedAssignment.assignment_id == assignment.id,
                                                      SubmittedAssignment.student_id == sid)).scalar_one_or_none()
    manual: dict = {}
    if old is not None:
        for snb in old.notebooks:
            for g in snb.grades:
                if g.manual_score is not None or g.extra_credit:
                    manual[(snb.name, g.name, "grade")] = (g.manual_score, g.extra_credit)
                s.delete(g)
            for c in snb.comments:
                if c.manual_comment:
                    manual[(snb.name, c.name, "comment")] = c.manual_comment
                s.delete(c)
            s.delete(snb)
        s.delete(old)
        s.flush()
    with s.no_autoflush:  # build the whole submission, then write it at commit
        kw = {"timestamp": parse_utc(result["timestamp"])} if result.get("timestamp") else {}
        sub = SubmittedAssignment(assignment=assignment, student=student, **kw)
        s.add(sub)
        cells, comments = result["cells"], result["comments"]
        for notebook in assignment.notebooks:
            snb = SubmittedNotebook(notebook=notebook, assignment=sub,
                                    late_submission_penalty=result["late_penalty"].get(notebook.name))
            s.add(snb)
            for gc in notebook.grade_cells:
                cell = cells.get(gc.name, {})
                needs_manual = bool(cell.get("needs_manual", False))
                # as nbgrader stores an answer it cannot score (a written answer): no auto_score, flagged
                # for the Formgrader; a manual score given before is kept below, as nbgrader keeps it
                g = Grade(cell_id=gc.id, notebook=snb, needs_manual_grade=needs_manual,
                          auto_score=None if needs_manual else float(cell.get("score", 0.0)))
                s.add(g)
                if (notebook.name, gc.name, "grade") in manual:
                    g.manual_score, g.extra_credit = manual[(notebook.name, gc.name, "grade")]
            for cell in [*notebook.solution_cells, *notebook.task_cells]:
                c = Comment(cell_id=cell.id, notebook=snb, auto_comment=comments.get(cell.name))
                c.manual_comment = manual.get((notebook.name, cell.name, "comment"))
                s.add(c)
            for tc in notebook.task_cells:
                s.add(Grade(cell_id=tc.id, notebook=snb, needs_manual_grade=True))
    score = sum(float(c.get("score", 0.0)) for c in cells.values())
    max_score = sum(float(c["max_score"]) for c in cells.values())
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    details = {k: result.get(k) for k in ("reasons", "notes", "cells", "attempts", "host", "isolation")}
    details["graded_notebook"] = bool(result.get("autograded"))
    row = dict(assignment=a_name, student=sid, content_hash=result["content_hash"],
               source_hash=result["source_hash"], status=result["status"], score=score, max_score=max_score,
               seconds=float(result["seconds"]), details=json.dumps(details), graded_at=now, grader=grader,
               run_id=run_id)
    s.execute(delete(RUNS).where(RUNS.c.assignment == a_name, RUNS.c.student == sid))
    s.execute(insert(RUNS).values(**row))
    s.execute(insert(LOG).values(assignment=a_name, student=sid, content_hash=result["content_hash"],
                                 status=result["status"], score=score, graded_at=now, grader=grader,
                                 run_id=run_id))
    s.commit()


def merge(gb, result: dict, run_id: str, grader: str, attempts: int = 8) -> None:
    """Write one graded submission into the gradebook, in one transaction (retried on conflicts)."""
    for attempt in range(attempts):
        try:
            _merge_once(gb, result, run_id, grader)
            return
        except (IntegrityError, OperationalError):
            gb.db.rollback()
            if attempt == attempts - 1:
                raise
            time.sleep(0.1 * (attempt + 1) + random.random() * 0.2)
        except BaseException:
            gb.db.rollback()
            raise
