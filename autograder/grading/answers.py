"""The trusted grader's side of the answer server: run a submission in the sandbox, call its functions.

:class:`AnswerServer` starts :mod:`autograder.answer_server` inside bubblewrap (see
:mod:`.bubblewrap`), with the submission's code cells, and then asks it for one function call at
a time.  What comes back is data only (:mod:`autograder.wire`), turned into a
:class:`~autograder.harness.StudentCall` so that :func:`autograder.checking.evaluate` can judge it
exactly as it judges a call made in the notebook.  The reference library is not in the sandbox.

A call that does not answer within its time limit is a timeout; the sandbox is then killed (every
process in it) and started afresh for the next call.  A sandbox that dies, or whose answers do not
decode, is an error for that call, never for the grader.
"""
from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import autograder

from .. import wire
from ..harness import StudentCall
from . import bubblewrap, sandbox

PACKAGE = Path(autograder.__file__).resolve().parent
STARTUP_SECONDS = 120.0   #: for the sandbox to start Python before the first cell


def _quantref_dir() -> Path:
    import quantref
    return Path(quantref.__file__).resolve().parent


class AnswerServer:
    """A sandboxed process holding the student's functions; :meth:`call` runs one on one case."""

    def __init__(self, cells: list[str], scratch: Path, limits: sandbox.Limits, uid: int | None,
                 bwrap: str | None, cell_seconds: float = 60.0):
        self.scratch = Path(scratch)
        self.limits, self.uid, self.bwrap = limits, uid, bwrap
        self.cell_seconds = cell_seconds
        self.deadline = time.monotonic() + limits.wall   #: the whole submission's wall-clock budget
        self.cells = list(cells)
        self.skipped: dict[int, str] = {}       #: cells left out, and why (for the instructor's notes)
        self.proc: subprocess.Popen | None = None
        self.startup_error: str | None = None
        self.restarts = 0
        for d in ("home", "work"):
            (self.scratch / d).mkdir(parents=True, exist_ok=True)
            if uid is not None:
                os.chown(self.scratch / d, uid, uid)
        self.cells_file = self.scratch / "cells.json"
        self._write_cells()

    def _write_cells(self) -> None:
        cells = [f"# cell {i + 1} left out by the grader: {self.skipped[i]}" if i in self.skipped else c
                 for i, c in enumerate(self.cells)]
        self.cells_file.write_text(json.dumps(cells))
        os.chmod(self.cells_file, 0o644)

    # -- process ------------------------------------------------------------------------------

    def _command(self) -> list[str]:
        env = {"HOME": str(self.scratch / "home"), "TMPDIR": "/tmp", "MPLBACKEND": "Agg", "LANG": "C.UTF-8",
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin", "AUTOGRADER_TRUSTED_GRADING": "1"}
        who = [str(self.uid), str(self.limits.processes)] if self.uid is not None else ["-", "0"]
        if self.bwrap is None:  # --no-sandbox: the instructor asked for it, and the report says so
            return [sys.executable, str(PACKAGE / "answer_server.py"), str(self.cells_file), *who]
        hidden = [d for d in (_quantref_dir(), PACKAGE) if bubblewrap.in_python_dirs(d)]
        return bubblewrap.command(
            self.bwrap, [sys.executable, "/grader/answer_server.py", str(self.cells_file), *who],
            writable=[self.scratch / "home", self.scratch / "work"], readable=[],
            files={"/grader/answer_server.py": PACKAGE / "answer_server.py", "/grader/wire.py": PACKAGE / "wire.py",
                   str(self.cells_file): self.cells_file},
            hidden=hidden, chdir=self.scratch / "work", env=env)

    def _limits(self) -> None:
        sandbox.apply_limits({"memory_mb": self.limits.memory_mb, "cpu": self.limits.cpu,
                              "file_mb": self.limits.file_mb})
        if self.uid is None:  # no slot uid: bound the processes all the same (counted per uid)
            sandbox.limit_own_processes(self.limits.processes)
        sandbox._prctl_pdeathsig()  # noqa: SLF001

    def start(self) -> None:
        """Run the notebook's cells; a cell that ends the process or overruns is left out, and it starts again."""
        for _ in range(len(self.cells) + 1):
            cell = self._start_once()
            if cell is None:
                return
            if self.startup_error is not None:
                return
        self.startup_error = "the notebook's code could not be run"

    def _start_once(self) -> int | None:
        """None when the server is ready (or cannot start); else the cell that must be left out."""
        with open(self.scratch / "sandbox.log", "ab") as log:
            self.proc = subprocess.Popen(self._command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                         preexec_fn=self._limits, start_new_session=True, cwd=self.scratch / "work")
        cell = None
        try:
            while True:
                # starting Python and NumPy in the sandbox may take a while on a loaded machine: the
                # cell limit starts with the first cell
                limit = self.cell_seconds if cell is not None else max(self.cell_seconds, STARTUP_SECONDS)
                message = self._read(time.monotonic() + limit)
                if "cell" in message:
                    cell = int(message["cell"])
                    continue
                break
        except (TimeoutError, EOFError, ValueError, OSError, struct.error) as exc:  # noqa: PERF203
            self.kill()
            if cell is None or cell in self.skipped or not 0 <= cell < len(self.cells):
                self.startup_error = "the process running the notebook's code ended before its functions could be called"
                return None
            self.skipped[cell] = (f"it did not finish within {self.cell_seconds:g} s" if isinstance(exc, TimeoutError)
                                  else "it ended the process running it (os._exit, a signal, a crash, or a limit)")
            self._write_cells()
            return cell
        if message != {"ready": True}:
            self.startup_error = "the grader could not start the notebook's code: " + str(message.get("error"))[:500]
            self.kill()
        return None

    def kill(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(OSError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self.proc.kill()
        with contextlib.suppress(Exception):
            self.proc.wait(10)
        for f in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(Exception):
                f.close()
        if self.uid is not None:
            sandbox.kill_uid(self.uid)
        self.proc = None

    close = kill

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.kill()

    # -- protocol -----------------------------------------------------------------------------

    def _read_exact(self, n: int, deadline: float) -> bytes:
        fd = self.proc.stdout.fileno()
        chunks, got = [], 0
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while got < n:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise TimeoutError
                chunk = os.read(fd, min(n - got, 1 << 20))
                if not chunk:
                    raise EOFError
                chunks.append(chunk)
                got += len(chunk)
        return b"".join(chunks)

    def _read(self, deadline: float) -> dict:
        (size,) = struct.unpack(">Q", self._read_exact(8, deadline))
        if size > wire.MAX_MESSAGE:
            raise ValueError("answer too large")
        return wire.loads(self._read_exact(size, deadline))

    def call(self, function: str, args: dict, time_limit: float) -> StudentCall:
        """Call ``function(**args)`` in the sandbox; what happened, as a :class:`StudentCall`."""
        if time.monotonic() > self.deadline:   # the submission's time is up: no more calls
            return StudentCall(timed_out=True)
        if self.proc is None and self.startup_error is None:
            self.restarts += 1
            self.start()
        if self.startup_error is not None:
            return StudentCall(remote_error=("NotebookDidNotRun", self.startup_error))
        rid = os.urandom(8).hex()
        try:
            wire.write_message(self.proc.stdin.fileno(), {"id": rid, "function": function, "args": wire.encode(args)})
            reply = self._read(min(time.monotonic() + time_limit, self.deadline))
        except TimeoutError:
            self.kill()
            return StudentCall(timed_out=True)
        except (EOFError, OSError, BrokenPipeError):
            self.kill()
            return StudentCall(remote_error=("ProcessEnded", "the process running your code ended during this call "
                                                             "(os._exit, a crash, or a limit: memory, CPU time)"))
        except (ValueError, UnicodeDecodeError, struct.error) as exc:
            self.kill()
            return StudentCall(remote_error=("MalformedAnswer", f"the answer could not be read: {exc}"))
        return _student_call(reply, rid)


def _student_call(reply: dict, rid: str) -> StudentCall:
    if reply.get("id") != rid:
        return StudentCall(remote_error=("MalformedAnswer", "an answer to another question came back"))
    if "missing" in reply:
        return StudentCall(missing=str(reply["missing"])[:300])
    if "error" in reply:
        err = reply["error"] if isinstance(reply["error"], dict) else {}
        mro = err.get("mro") if isinstance(err.get("mro"), list) else []
        return StudentCall(remote_error=(str(err.get("type", "Exception"))[:100], str(err.get("message", ""))[:2000],
                                         [str(m)[:100] for m in mro[:20]]))
    try:
        return StudentCall(value=wire.decode(reply.get("value")))
    except (wire.EncodeError, ValueError, TypeError) as exc:
        return StudentCall(remote_error=("MalformedAnswer", f"the answer could not be read: {exc}"))
