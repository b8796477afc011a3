"""Shared by tests/test_grading_*.py: a small course in a temporary folder, the CLI, the gradebook,
and a real PostgreSQL server started for the tests (Debian's ``postgresql`` package)."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from autograder.grading import synthetic
from autograder.problem_sets import problem_sets
from course_helpers import COURSE, venv_env

A = "ps1_linear_quantization"
#: the autograded score of a fully correct submission: every test cell's points, from the registry
FULL = sum(sum(e.points) for e in problem_sets()[A].exercises.values())
#: limits for tests: short cell limit for the endless loop, enough memory for the 100 MB print
LIMITS = ["--cell-timeout", "10", "--timeout", "150", "--memory", "1536", "--quiet"]


def make_course(root: Path) -> Path:
    course = root / "course"
    for part in ("source", "release"):
        shutil.copytree(COURSE / part / A, course / part / A)
    shutil.copy(COURSE / "nbgrader_config.py", course)
    return course


def submit(course: Path, student: str, kind: str = "correct") -> None:
    """``correct``, ``wrong:<ps1_wrong fixture>`` or ``broken:<submissions fixture>``."""
    if kind == "correct":
        data = synthetic.answered(course, A)
    elif kind.startswith("wrong:"):
        exercise, code, _ = synthetic.wrong_answers(A)[kind[6:]]
        data = synthetic.answered(course, A, {f"{exercise}_solution": code})
    else:
        data = synthetic.make_broken(synthetic.broken_fixtures()[kind[7:]], course, A)
    synthetic.write_submission(course, A, student, data)


def scratch_dir() -> Path:
    """A scratch root that a sandbox uid can traverse (pytest's tmp_path is private to root)."""
    d = Path(tempfile.mkdtemp(prefix="grading-test-"))
    os.chmod(d, 0o711)
    return d


def cli(*args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "autograder", *args], env=venv_env(), capture_output=True,
                          text=True, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"autograder {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def cell_scores(db_url: str, students=None) -> dict:
    """{student: {grade_id: score}} as nbgrader's own API reads the gradebook."""
    from nbgrader.api import Gradebook
    with Gradebook(db_url) as gb:
        out = {}
        for sub in gb.assignment_submissions(A):
            if students is None or sub.student.id in students:
                out[sub.student.id] = {g.name: g.score for nb in sub.notebooks for g in nb.grades}
        return out


def runs(db_url: str) -> dict:
    from autograder.grading import gradebook
    gb = gradebook.open_gradebook(db_url)
    try:
        return {r["student"]: r for r in gradebook.run_rows(gb, A)}
    finally:
        gb.close()


def log(db_url: str) -> list[dict]:
    from autograder.grading import gradebook
    gb = gradebook.open_gradebook(db_url)
    try:
        return gradebook.log_rows(gb, A)
    finally:
        gb.close()


def exercise_scores(run: dict) -> dict:
    from autograder.grading.course import exercise_of
    out: dict = {}
    for gid, c in run["details"]["cells"].items():
        s, m = out.get(exercise_of(gid), (0.0, 0.0))
        out[exercise_of(gid)] = (s + c["score"], m + c["max_score"])
    return out


def all_text(run: dict) -> str:
    d = run["details"]
    return "\n".join(d["reasons"] + d["notes"] + [c["message"] for c in d["cells"].values()])


# -- PostgreSQL -------------------------------------------------------------------------------

def _pg_bin() -> Path | None:
    for base in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (base / "initdb").exists() and (base / "pg_ctl").exists():
            return base
    found = shutil.which("pg_ctl")
    return Path(found).resolve().parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server on 127.0.0.1 in a temporary data folder; yields a function making a new database."""
    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries not found (Debian: apt-get install postgresql)")
    pytest.importorskip("psycopg", reason="psycopg missing (pip install \"psycopg[binary]\")")
    root = Path(tempfile.mkdtemp(prefix="pg-test-"))
    data = root / "data"
    run_as: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root: use the package's postgres user
        os.chmod(root, 0o755)
        shutil.chown(root, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    port = _free_port()

    def pg(*cmd):
        return subprocess.run([*run_as, *cmd], capture_output=True, text=True, check=True)

    pg(str(bin_dir / "initdb"), "-D", str(data), "-U", "grader", "--auth=trust", "-E", "UTF8")
    pg(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-t", "60", "start",
       "-o", f"-h 127.0.0.1 -p {port} -k {root} -c max_connections=100 -c fsync=off")
    counter = iter(range(1000))

    def new_database() -> str:
        name = f"gradebook{next(counter)}"
        pg(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "grader", name)
        return f"postgresql+psycopg://grader@127.0.0.1:{port}/{name}"
    try:
        yield new_database
    finally:
        subprocess.run([*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def wait_for(predicate, timeout: float, what: str, step: float = 0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def details_json(run: dict) -> str:
    return json.dumps(run["details"])
