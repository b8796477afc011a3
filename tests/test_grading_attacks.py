"""Hostile submissions (tests/fixtures/attacks) graded end to end by ``python -m autograder grade``, with
the real sandbox, as root and, in the same run, as an ordinary user (made with ``useradd`` when the
tests run as root).

Each attack gets zero for what it forged and full marks for what it answered honestly, with a
reason the instructor can read; nothing it tried reaches outside its scratch folder: no file
``pwned-*`` anywhere, no connection to a port on loopback, no process left running, no solution,
secret or other submission in its feedback.
"""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from autograder.grading import synthetic
from autograder.problem_sets import problem_set
from autograder.secret import FILENAME as SECRET_FILE
from course_helpers import FIXTURES, ROOT, venv_env
from grading_support import A, LIMITS, exercise_scores, make_course, runs, submit

pytestmark = pytest.mark.slow

ATTACKS = FIXTURES / "attacks"
NAMES = sorted(p.stem for p in ATTACKS.glob("*.py") if not p.name.startswith("_"))
TEST_USER = "autograder-test"
MODES = ["root", "user"]
BWRAP = shutil.which("bwrap")
EXERCISES = set(problem_set(A).exercises)


def attack_fixtures() -> dict:
    sys.path.insert(0, str(FIXTURES / "submissions"))   # their _helpers
    return synthetic.broken_fixtures(ATTACKS)


class Listener:
    """A TCP server on 127.0.0.1 that records every connection (there must be none)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            conn.settimeout(1)
            try:
                self.received.append(conn.recv(1000) or b"(connected)")
            except OSError:
                self.received.append(b"(connected)")
            conn.close()

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def _pwned(places: list[Path]) -> list[str]:
    found = []
    for place in places:
        if place.is_dir():
            pattern = "**/pwned-*" if place not in (Path("/"), Path("/etc"), Path("/usr/local")) else "pwned-*"
            found += [str(p) for p in place.glob(pattern)]
    return sorted(set(found))


def _sandbox_processes() -> list[str]:
    """Processes that a submission could have left behind (a kernel or answer server of a job)."""
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "answer_server.py" in cmd or "autograder.grading.kernel" in cmd:
            left.append(f"{pid}: {cmd[:120]}")
    return left


def _ensure_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", TEST_USER],
                       check=True)
        return pwd.getpwnam(TEST_USER)


def _hidden_ancestor(path: Path) -> Path | None:
    """The first folder on the way to ``path`` that others cannot traverse (e.g. /root), if any."""
    for parent in reversed(path.parents):
        if parent != Path("/") and not parent.stat().st_mode & stat.S_IXOTH:
            return parent
    return None


def as_user(argv: list[str], user: pwd.struct_passwd, home: Path) -> list[str]:
    """``argv`` run as ``user``; where this machine's Python lies below a folder closed to others
    (a per-user install under /root), a private mount namespace shows that one install to the user,
    as the user's own Python would be on an instructor's laptop."""
    base = Path(sys.base_prefix).resolve()
    hidden = _hidden_ancestor(base)
    env = ["env", "-i", f"HOME={home}", f"PATH={Path(sys.executable).parent}:/usr/bin:/bin", "LANG=C.UTF-8",
           f"PYTHONPATH={ROOT / 'tests'}"]
    run = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", "--", *env, *argv]
    if hidden is None:
        return run
    keep = hidden / base.relative_to(hidden).parts[0]
    script = ('set -e; mount --make-rprivate /; d=$(mktemp -d); mount --bind "$1" "$d"; '
              'mount -t tmpfs -o mode=0755 tmpfs "$2"; mkdir -p "$1"; mount --bind "$d" "$1"; shift 2; exec "$@"')
    return ["unshare", "--mount", "--", "sh", "-c", script, "sh", str(keep), str(hidden), *run]


@pytest.fixture(scope="module", params=MODES)
def graded(request):
    mode = request.param
    if BWRAP is None:
        pytest.fail("bubblewrap (bwrap) is not installed: `apt-get install bubblewrap` (.ci/run does)")
    root_now = os.geteuid() == 0
    if mode == "root" and not root_now:
        pytest.skip("the root half runs when the tests run as root (as in CI)")
    listener = Listener()
    os.environ["ATTACK_PORT"] = str(listener.port)
    top = Path(tempfile.mkdtemp(prefix=f"attacks-{mode}-"))   # not pytest's tmp: an ordinary user must reach it
    os.chmod(top, 0o755)
    request.addfinalizer(lambda: shutil.rmtree(top, ignore_errors=True))
    course = make_course(top)
    submit(course, "honest")
    fixtures = attack_fixtures()
    for name, module in fixtures.items():
        synthetic.write_submission(course, A, name.replace("_", "-"), synthetic.make_broken(module, course, A))
    home = top / "home"
    home.mkdir()
    scratch = top / "scratch"
    scratch.mkdir()
    argv = [sys.executable, "-m", "autograder", "grade", A, "--course", str(course), "--workers", "2",
            "--scratch", str(scratch), *LIMITS]
    before = set(_sandbox_processes())
    if mode == "user" and root_now:
        user = _ensure_user()
        for p in [top, *top.rglob("*")]:
            os.lchown(p, user.pw_uid, user.pw_gid)
        proc = subprocess.run(as_user(argv, user, home), capture_output=True, text=True, cwd=top)
    else:
        proc = subprocess.run(argv, capture_output=True, text=True, env={**venv_env(), "HOME": str(home)}, cwd=top)
    listener.close()
    assert proc.returncode == 0, f"grading failed ({mode}):\n{proc.stdout}\n{proc.stderr[-3000:]}"
    time.sleep(1)
    left = [p for p in _sandbox_processes() if p not in before]
    db = f"sqlite:///{course / 'gradebook.db'}"
    feedback = subprocess.run([sys.executable, "-m", "autograder", "feedback", A, "--course", str(course)],
                              capture_output=True, text=True, env=venv_env())
    return {"mode": mode, "course": course, "db": db, "out": proc.stdout, "fixtures": fixtures, "home": home,
            "listener": listener, "left": left, "feedback": feedback}


def test_the_honest_student_keeps_every_point(graded):
    run = runs(graded["db"])["honest"]
    autograded = {e: sm for e, sm in exercise_scores(run).items() if e in EXERCISES}   # written answers wait
    assert set(autograded) == set(EXERCISES) and all(s == m for s, m in autograded.values()), autograded
    assert "bwrap" in run["details"]["isolation"], run["details"]["isolation"]


@pytest.mark.parametrize("name", NAMES)
def test_attack_scores_only_what_it_answered_honestly(graded, name):
    run = runs(graded["db"])[name.replace("_", "-")]
    expect = graded["fixtures"][name].EXPECT
    per = exercise_scores(run)
    assert run["status"] == expect["status"], (run["status"], run["details"]["reasons"])
    for ex in expect["full"]:
        assert per[ex][0] == per[ex][1], f"{name} ({graded['mode']}): {ex} should keep its points: {per}"
    for ex in expect["lost"]:
        assert per[ex][0] == 0, f"{name} ({graded['mode']}): {ex} forged, should score 0: {per}"
    text = "\n".join([*run["details"]["reasons"], *run["details"]["notes"],
                      *(c["message"] for c in run["details"]["cells"].values())])
    assert expect["reason"] in text, text[:3000]


def test_nothing_was_written_outside_the_scratch_folders(graded):
    places = [graded["course"], graded["home"], Path(os.path.expanduser("~")), Path("/tmp"), Path("/"),
              Path("/etc"), Path("/usr/local"), ROOT]
    assert _pwned(places) == []
    course = graded["course"]
    assert (course / "gradebook.db").is_file() and (course / SECRET_FILE).is_file()
    assert (course / "source" / A / f"{A}.ipynb").is_file()


def test_no_connection_reached_loopback(graded):
    assert graded["listener"].received == []


def test_no_process_is_left_running(graded):
    # the fork bomb's detached survivor would still be running (it sleeps 20 s, then writes pwned-survivor)
    assert graded["left"] == []


def test_feedback_shows_no_solution_or_secret(graded):
    assert graded["feedback"].returncode == 0, graded["feedback"].stderr
    secret = (graded["course"] / SECRET_FILE).read_text().strip()
    pages = list((graded["course"] / "feedback").rglob("*.html"))
    assert len(pages) >= len(NAMES)
    for page in pages:
        text = page.read_text()
        assert secret not in text, f"{page} shows the course secret"
        # what read_solutions prints for every file it finds: none of the instructor's is in reach
        for found in ("FOUND /", ):
            for line in text.splitlines():
                if found in line:
                    assert "/source/" not in line and "/solutions/" not in line and SECRET_FILE not in line, line
