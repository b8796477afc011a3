"""Run one autograding job in a process of its own, with limits, and clean up after it.

The pieces, from the outside in:

* the **job process** (:func:`run_sandboxed`) is forked from a *fork server* that imported
  nbgrader once (importing nbgrader takes seconds; forking takes milliseconds).  It runs
  ``nbgrader autograde ASSIGNMENT --student S`` in-process, in a scratch copy of the course, in a
  new session, with ``RLIMIT_AS`` (memory), ``RLIMIT_CPU``, ``RLIMIT_FSIZE`` and no core files,
  and dies with the fork server (``PR_SET_PDEATHSIG``) if the grading command is killed.  The
  parent waits at most the wall-clock limit, then kills it and everything it started.
* the **kernel** that runs the student's code is started by :mod:`autograder.grading.kernel`
  (a kernelspec in the scratch copy).  When grading runs as root it drops to a *slot uid*
  (61000 + slot, no login, no files outside its scratch ``HOME`` / ``TMPDIR``): it cannot write
  the scratch gradebook or the autograded notebook, cannot signal the grader, and reads nothing
  that is not world-readable.  ``RLIMIT_NPROC`` bounds fork bombs.  After the job, every process
  of the slot uid is killed, so nothing a submission left running survives it.
* a slot is taken with ``flock`` on ``/tmp/autograder-slots/<uid>.lock``, so that local workers,
  Dask workers and several grading commands on one machine never share a uid.

Not root (a developer's laptop), there is no uid to drop to: the kernel runs as the grading
user, with the same limits, and stray processes are found by a per-job token in their
environment.  Grade real classes as root (or in a container) to get the uid separation.
"""
from __future__ import annotations

import contextlib
import ctypes
import fcntl
import multiprocessing
import os
import resource
import secrets
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

SLOT_BASE = 61000
SLOTS = 256
PR_SET_PDEATHSIG = 1
TOKEN_VAR = "AUTOGRADER_JOB"


@dataclass
class Limits:
    """Per-submission limits (the command line's --timeout, --memory, --cpu, --cell-timeout)."""

    wall: float = 600.0          #: seconds for the whole submission, then the job is killed
    memory_mb: int = 2048        #: address space per process (RLIMIT_AS), MiB
    cpu: int = 600               #: CPU seconds per process (RLIMIT_CPU)
    cell_timeout: int | None = None   #: seconds per cell; None keeps nbgrader_config.py's
    file_mb: int = 512           #: largest file a process may write (RLIMIT_FSIZE), MiB
    processes: int = 128         #: processes of the slot uid (RLIMIT_NPROC), root only

    def check(self) -> "Limits":
        from .course import UsageError
        for name, flag, low in (("wall", "--timeout", 1), ("memory_mb", "--memory", 256), ("cpu", "--cpu", 1)):
            if getattr(self, name) < low:
                raise UsageError(f"{flag} {getattr(self, name)}: must be at least {low}")
        if self.cell_timeout is not None and self.cell_timeout < 1:
            raise UsageError(f"--cell-timeout {self.cell_timeout}: must be at least 1 second")
        return self


def _prctl_pdeathsig() -> None:
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def apply_limits(limits: dict) -> None:
    mem = int(limits["memory_mb"]) * 2 ** 20
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CPU, (int(limits["cpu"]), int(limits["cpu"]) + 5))
    fsize = int(limits["file_mb"]) * 2 ** 20
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


# -- slots: one uid per running job on this machine ---------------------------------------------

@contextlib.contextmanager
def slot():
    """Hold a slot uid (root) for the duration of one job; yields the uid, or None when not root."""
    if os.geteuid() != 0:
        yield None
        return
    lock_dir = Path(tempfile.gettempdir()) / "autograder-slots"
    lock_dir.mkdir(mode=0o700, exist_ok=True)
    for uid in range(SLOT_BASE, SLOT_BASE + SLOTS):
        fd = os.open(lock_dir / f"{uid}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        try:
            kill_uid(uid)  # a previous holder killed mid-job may have left processes behind
            yield uid
        finally:
            kill_uid(uid)
            os.close(fd)
        return
    raise RuntimeError(f"all {SLOTS} sandbox slots are busy")


def _pids():
    for name in os.listdir("/proc"):
        if name.isdigit():
            yield int(name)


def _real_uid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def limit_own_processes(extra: int) -> None:
    """``RLIMIT_NPROC`` at this uid's current number of processes plus ``extra`` (no slot uid to bound:
    a fork bomb stops there, and the grader, which keeps no such limit, can still start processes)."""
    mine = sum(1 for p in _pids() if _real_uid(p) == os.getuid())
    resource.setrlimit(resource.RLIMIT_NPROC, (mine + extra, mine + extra))


def kill_uid(uid: int, rounds: int = 20) -> None:
    """SIGKILL every process whose real uid is ``uid`` (the slot's), until none is left."""
    for _ in range(rounds):
        victims = [p for p in _pids() if _real_uid(p) == uid]
        if not victims:
            return
        for pid in victims:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def kill_token(token: str, rounds: int = 20) -> None:
    """SIGKILL this user's processes that carry the job's token in their environment."""
    needle = f"{TOKEN_VAR}={token}".encode()
    for _ in range(rounds):
        victims = []
        for pid in _pids():
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    if needle in f.read():
                        victims.append(pid)
            except OSError:
                continue
        if not victims:
            return
        for pid in victims:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for p in _pids():
        try:
            with open(f"/proc/{p}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(p)
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def uid_can_reach(paths, traverse=()) -> list[str]:
    """The paths that a uid with no rights of its own could not reach: a folder on the way without o+x,
    or the path itself without o+r (o+rx for a folder)."""
    bad = []
    for path in [*paths, *traverse]:
        p = Path(path).resolve()
        for parent in [*reversed(p.parents), p]:
            try:
                mode = parent.stat().st_mode
            except OSError:
                bad.append(str(parent))
                break
            need = (0o001 if parent != p or path in traverse else 0o005) if parent.is_dir() else 0o004
            if mode & need != need:
                bad.append(str(parent))
                break
    return bad


# -- the job process ----------------------------------------------------------------------------

_context = None


def _fork_context():
    """The fork server, started once per process with nbgrader already imported."""
    global _context
    if _context is None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["autograder.grading.nbgrader_child"])
        _context = ctx
    return _context


@contextlib.contextmanager
def _children_allowed():
    """Dask runs its workers as daemonic processes, which multiprocessing forbids to start
    children; our job processes die with their parent anyway (PR_SET_PDEATHSIG)."""
    proc = multiprocessing.current_process()
    daemon = proc._config.get("daemon")  # noqa: SLF001 - no public switch exists
    proc._config["daemon"] = False  # noqa: SLF001
    try:
        yield
    finally:
        if daemon is not None:
            proc._config["daemon"] = daemon  # noqa: SLF001


@dataclass
class Outcome:
    """How the job process ended."""

    exitcode: int | None        #: 0 ok, >0 nbgrader failed, <0 killed by signal -exitcode
    timed_out: bool
    seconds: float


def run_sandboxed(spec: dict, limits: Limits, uid: int | None) -> Outcome:
    """Run :func:`autograder.grading.nbgrader_child.main` on ``spec`` in a limited process."""
    ctx = _fork_context()
    token = secrets.token_hex(8)
    spec = dict(spec, limits=asdict(limits), uid=uid, token=token)
    from .nbgrader_child import main
    proc = ctx.Process(target=main, args=(spec,), name=f"autograde-{spec['student']}")
    start = time.monotonic()
    with _children_allowed():
        proc.start()
    proc.join(limits.wall)
    timed_out = proc.is_alive()
    if timed_out:
        for pid in [proc.pid, *descendants(proc.pid)]:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        proc.join(10)
    if uid is not None:
        kill_uid(uid)
    else:
        kill_token(token)
    return Outcome(proc.exitcode, timed_out, time.monotonic() - start)


def describe_exit(outcome: Outcome, limits: Limits) -> str:
    """A sentence for the instructor about a job that did not end normally."""
    if outcome.timed_out:
        return (f"grading took longer than the wall-clock limit of {limits.wall:g} s and was stopped "
                f"(an endless loop that ignores interrupts, or a very slow submission)")
    code = outcome.exitcode
    if code is not None and code < 0:
        sig = -code
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        if sig == signal.SIGXCPU:
            return f"the grading process used more than the CPU limit of {limits.cpu} s and was stopped"
        if sig == signal.SIGXFSZ:
            return f"the grading process tried to write a file larger than {limits.file_mb} MiB"
        return f"the grading process was killed by {name}"
    return f"nbgrader failed (exit status {code})"


def child_prologue(spec: dict) -> None:
    """First thing in the job process: session, limits, death with the parent, quiet stdio."""
    os.setsid()
    apply_limits(spec["limits"])
    _prctl_pdeathsig()
    os.environ[TOKEN_VAR] = spec["token"]
    log = os.open(spec["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    Path(spec["pidfile"]).write_text(str(os.getpid()))


def child_exit(code: int) -> None:
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def child_run(spec: dict, body) -> None:
    """Run ``body(spec)`` as the job process's whole life; never returns."""
    try:
        child_prologue(spec)
        code = body(spec)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - report anything, then exit
        traceback.print_exc()
        code = 1
    child_exit(int(code or 0))
