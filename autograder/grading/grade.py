"""``python -m autograder grade``: autograde a class, in parallel, into the real gradebook.

For each student with a submission in ``submitted/<student>/<assignment>/`` (or the ones named
with ``--student``), the parent process

1. skips the submission when the gradebook already holds a result for the same submission
   content and the same assignment source (SHA-256 hashes; ``--force`` regrades);
2. hands a job (:mod:`.jobs`) to one of N local workers, or to a Dask cluster (``--dask``);
3. as each result comes back, writes the graded notebook to ``autograded/<student>/<assignment>/``
   (a complete folder renamed into place) and then merges the scores into the gradebook in one
   transaction (:func:`.gradebook.merge`).

Why private gradebooks and a merge in the parent, rather than workers writing to the database:
a worker can be killed at any instant (by the wall-clock limit, by the operating system, by a
Dask worker restart, by Ctrl-C).  A job writes only to its own scratch copy of the course, so a
killed job leaves nothing half-written; the real gradebook changes only in the parent's single
transaction per submission, after the graded notebook is in place.  Re-running the command
grades exactly the submissions whose transaction never committed.  The parent is the only
writer, so SQLite is safe for one grader; PostgreSQL lets several graders (several commands,
on several machines) share one gradebook, and Dask workers need no database access at all.
"""
from __future__ import annotations

import concurrent.futures as cf
import json
import os
import shutil
import socket
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .. import secret
from . import bubblewrap, gradebook, jobs
from .course import (UsageError, assignments, check_assignment, check_course, check_student, files_hash,
                     redact, source_hash)
from .sandbox import Limits


@dataclass
class Summary:
    graded: list = field(default_factory=list)      #: results merged in this run
    skipped: list = field(default_factory=list)     #: students whose submission was unchanged
    lost: list = field(default_factory=list)        #: students whose job did not come back (Dask)
    seconds: float = 0.0


def students_of(course: Path, assignment: str, wanted: list[str] | None) -> list[str]:
    root = course / "submitted"
    have = sorted(p.parent.name for p in root.glob(f"*/{assignment}") if p.is_dir()) if root.is_dir() else []
    if not wanted:
        return have
    for s in wanted:
        check_student(s)
    missing = sorted(set(wanted) - set(have))
    if missing:
        raise UsageError(f"--student {' '.join(missing)}: no submission in {root}/<student>/{assignment}/ "
                         f"(run `python -m autograder collect` first, or check the spelling)")
    return sorted(set(wanted))


def _write_autograded(course: Path, result: dict) -> None:
    target = course / "autograded" / result["student"] / result["assignment"]
    if not result["autograded"]:
        if target.exists():
            shutil.rmtree(target)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{result['assignment']}-", dir=target.parent))
    for rel, data in result["autograded"].items():
        p = tmp / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    for _ in range(20):  # another grader (same course folder) may be placing this student's folder too
        old = target.with_name(f".{target.name}-old-{uuid.uuid4().hex[:8]}")
        try:
            target.rename(old)
        except FileNotFoundError:
            old = None
        try:
            tmp.rename(target)
        except OSError:
            continue
        finally:
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        return
    raise RuntimeError(f"could not place {target}")


def _is_done(course: Path, row, content: str, source: str) -> bool:
    if row is None or row["content_hash"] != content or row["source_hash"] != source:
        return False
    if row["status"] == "error":
        return False
    if row["status"] == "graded":
        # a graded notebook that was made must still be in place (a notebook whose kernel died has none)
        made = json.loads(row["details"]).get("graded_notebook", True)
        return not made or (course / "autograded" / row["student"] / row["assignment"]).is_dir()
    return True


def _timestamp(folder: Path) -> str | None:
    ts = folder / "timestamp.txt"
    return ts.read_text().strip() if ts.is_file() else None


def grade(course: Path, assignment: str, students: list[str] | None = None, workers: int | None = None,
          limits: Limits | None = None, force: bool = False, retries: int = 1, db_url: str | None = None,
          dask: str | None = None, scratch: str | None = None, isolation: str = "auto", progress: bool = True,
          echo=print, sandbox: bool = True) -> Summary:
    from .course import check_db_url, default_db_url
    start = time.monotonic()
    course = check_course(course)
    check_assignment(course, assignment)
    limits = (limits or Limits()).check()
    workers = workers or os.cpu_count() or 1
    if workers < 1:
        raise UsageError(f"--workers {workers}: must be at least 1")
    db_url = check_db_url(db_url or default_db_url(course))
    if scratch is not None:
        Path(scratch).mkdir(parents=True, exist_ok=True)
    if sandbox and not dask:  # Dask workers check their own bubblewrap
        try:
            bubblewrap.require()
        except bubblewrap.SandboxUnavailable as exc:
            raise UsageError(str(exc)) from None
    if not sandbox:
        echo("WARNING: --no-sandbox: submissions run with the grader's rights (each report says so)")
    if not secret.secret_path(course).exists() and not os.environ.get(secret.ENV):
        echo(f"no course secret yet: wrote a new one to {secret.ensure_secret(course)} (keep it out of git)")
    hidden_seed = secret.hidden_seed(secret.load_secret(course), assignment)
    names = students_of(course, assignment, students)
    summary = Summary()
    if not names:
        echo(f"no submissions of {assignment} in {course / 'submitted'}")
        return summary
    run_id = uuid.uuid4().hex[:12]
    grader = f"{socket.gethostname()}:{os.getpid()}"
    workdir = Path(tempfile.mkdtemp(prefix="autograder-", dir=scratch))
    os.chmod(workdir, 0o711)
    client = None
    try:
        template = jobs.make_template(course, assignment, workdir, limits)
        gb = gradebook.open_gradebook(db_url)
        gradebook.ensure_assignment(db_url, template["db"], assignment)
        src = source_hash(course, assignment)
        others = {a: jobs.graded_ids(p) for a in assignments(course) if a != assignment
                  for p in (course / "source" / a).glob("*.ipynb")}
        todo = []
        for s in names:
            folder = course / "submitted" / s / assignment
            content = files_hash(folder)
            if not force and _is_done(course, gradebook.run_row(gb, assignment, s), content, src):
                summary.skipped.append(s)
                continue
            todo.append({"assignment": assignment, "student": s, "notebooks": template["notebooks"],
                         "cells": template["cells"], "files": jobs.read_files(folder),
                         "timestamp": _timestamp(folder), "template": template["tar"],
                         "release": template["release"], "others": others, "content_hash": content,
                         "source_hash": src, "limits": limits, "retries": retries, "isolation": isolation,
                         "sandbox": sandbox, "hidden_seed": hidden_seed,
                         "scratch": None if dask else str(workdir)})
        gb.db.commit()
        where = f"Dask cluster {dask}" if dask else f"{min(workers, max(len(todo), 1))} local workers"
        echo(f"{assignment}: {len(todo)} to grade, {len(summary.skipped)} unchanged (skipped) -> "
             f"{where}, gradebook {redact(db_url)}")
        if not todo:
            return summary
        from tqdm import tqdm
        bar = tqdm(total=len(todo), unit="submission", desc=f"grading {assignment}", disable=not progress,
                   file=sys.stderr, dynamic_ncols=True)
        if dask:
            from distributed import Client, as_completed
            client = Client(dask, timeout="30s")
            futures = [client.submit(jobs.run_job, job, key=f"autograde-{assignment}-{job['student']}-{run_id}",
                                     pure=False) for job in todo]
            stream = as_completed(futures)
        else:
            pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grader")
            futures = [pool.submit(jobs.run_job, job) for job in todo]
            stream = cf.as_completed(futures)
        for fut in stream:
            try:
                result = fut.result()
            except Exception as exc:  # noqa: BLE001 - a Dask worker lost repeatedly: grade it next run
                summary.lost.append(f"{exc!r}"[:200])
                bar.update(1)
                continue
            _write_autograded(course, result)
            gradebook.merge(gb, result, run_id, grader)
            summary.graded.append(result)
            bar.set_postfix_str(f"{result['student']}: {result['status']}", refresh=False)
            bar.update(1)
        bar.close()
        if not dask:
            pool.shutdown()
        gb.close()
    finally:
        if client is not None:
            client.close()
        if not os.environ.get("AUTOGRADER_KEEP_SCRATCH"):
            shutil.rmtree(workdir, ignore_errors=True)
    summary.seconds = time.monotonic() - start
    _print_summary(summary, echo)
    return summary


def _print_summary(summary: Summary, echo) -> None:
    by = {}
    for r in summary.graded:
        by.setdefault(r["status"], []).append(r)
    parts = [f"{len(v)} {k}" for k, v in sorted(by.items())] + [f"{len(summary.skipped)} skipped"]
    echo(f"done in {summary.seconds:.0f} s: " + ", ".join(parts))
    for r in summary.graded:
        score = sum(c["score"] for c in r["cells"].values())
        total = sum(c["max_score"] for c in r["cells"].values())
        line = f"  {r['student']}: {r['status']} {score:g}/{total:g} ({r['seconds']:.1f} s)"
        if r["reasons"] or r["notes"]:
            line += " - " + "; ".join(r["reasons"] + r["notes"])[:300]
        echo(line)
    for lost in summary.lost:
        echo(f"  not graded (run the command again): {lost}")
