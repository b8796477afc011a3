"""No grade is lost, and none is counted twice, when grading is killed mid-run and run again.

* the whole ``grade`` command (parent, fork server and jobs) is killed with SIGKILL after its
  first merge; running it again grades exactly the rest;
* one job process is killed with SIGKILL while it grades; the parent grades it again.
Each student then has exactly one merge in ``autograder_log`` and full marks.
"""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys

import pytest

from course_helpers import venv_env
from grading_support import A, FULL, LIMITS, cli, log, make_course, runs, scratch_dir, submit, wait_for

pytestmark = pytest.mark.slow


def _merged(db_path) -> int:
    try:
        with sqlite3.connect(db_path) as c:
            return c.execute("SELECT count(*) FROM autograder_log").fetchone()[0]
    except sqlite3.Error:
        return 0


def _start(course, *extra):
    return subprocess.Popen([sys.executable, "-m", "autograder", "grade", A, "--course", str(course), *LIMITS,
                             *extra], env=venv_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True, text=True)


def test_killing_the_whole_command_loses_nothing(tmp_path):
    course = make_course(tmp_path)
    students = [f"s{i}" for i in range(5)]
    for s in students:
        submit(course, s)
    db_path = course / "gradebook.db"
    proc = _start(course, "--workers", "1", "--scratch", str(scratch_dir()))
    wait_for(lambda: _merged(db_path) >= 1 or proc.poll() is not None, 240, "the first merged grade")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = _merged(db_path)
    assert 1 <= first < len(students), "killed mid-run: some graded, some not"
    out = cli("grade", A, "--course", str(course), "--scratch", str(scratch_dir()), *LIMITS)
    assert f"{len(students) - first} to grade, {first} unchanged" in out.stdout
    db = f"sqlite:///{db_path}"
    merges = [r["student"] for r in log(db)]
    assert sorted(merges) == students, "each student graded exactly once over the two runs"
    assert all(r["score"] == FULL for r in runs(db).values())


def test_a_killed_job_is_graded_again(tmp_path):
    course = make_course(tmp_path)
    for s in ("t1", "t2", "t3"):
        submit(course, s)
    scratch = scratch_dir()
    proc = _start(course, "--workers", "1", "--scratch", str(scratch))
    pidfile = wait_for(lambda: next(iter(scratch.glob("autograder-*/job-*/job.pid")), None), 240, "a running job")
    victim = pidfile.parent.name.split("-")[1]
    pid = int(wait_for(lambda: pidfile.read_text().strip(), 30, "the job's pid"))
    os.kill(pid, signal.SIGKILL)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    db = f"sqlite:///{course / 'gradebook.db'}"
    assert sorted(r["student"] for r in log(db)) == ["t1", "t2", "t3"]
    got = runs(db)
    assert all(r["score"] == FULL and r["status"] == "graded" for r in got.values()), got
    assert any("graded again" in n for n in got[victim]["details"]["notes"]), got[victim]["details"]
