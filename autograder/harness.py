"""Run a student's function on one case, safely, and watch what it does.

A student's function may raise, print to stderr, emit warnings, loop forever, call
``sys.exit``, or quietly call the reference library instead of implementing the exercise.
:func:`call_student` turns each of these into a readable outcome instead of a crashed cell:

* exceptions (``SystemExit`` included) are caught and reported;
* stderr (Python-level and the process's file descriptor 2) and warnings are captured, because
  nbgrader gives a test cell zero points whenever the cell wrote anything to stderr;
* a per-call time limit (SIGALRM, main thread on POSIX) stops runaway loops;
* every function called during the student's call is watched (``sys.setprofile``): a call into
  :mod:`quantref` is recorded, however it was imported or renamed.
"""
from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
import tempfile
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import quantref

_QUANTREF_DIR = str(Path(quantref.__file__).resolve().parent)


class CheckFailed(AssertionError):
    """A check found a wrong answer; the message says which case and, if known, which mistake."""


class _TimeLimit(BaseException):
    """Raised inside the student's call when its time runs out (not an Exception subclass)."""


@dataclass
class StudentCall:
    """What happened when the student's function ran on one case."""

    value: Any = None
    error: BaseException | None = None
    stderr: str = ""
    warnings: list = field(default_factory=list)
    quantref_calls: list = field(default_factory=list)
    timed_out: bool = False
    remote_error: tuple | None = None   #: (type name, message) of an exception raised in the sandbox
    missing: str | None = None          #: why the sandbox had no such function to call

    @property
    def ok(self) -> bool:
        return self.error is None and self.remote_error is None and not self.timed_out and not self.missing

    @property
    def error_type(self) -> str | None:
        if self.error is not None:
            return type(self.error).__name__
        return self.remote_error[0] if self.remote_error else None

    @property
    def error_mro(self) -> list:
        """The names of the exception's classes, most derived first."""
        if self.error is not None:
            return [c.__name__ for c in type(self.error).__mro__]
        if self.remote_error:
            return list(self.remote_error[2]) if len(self.remote_error) > 2 else [self.remote_error[0]]
        return []

    @property
    def error_message(self) -> str:
        if self.error is not None:
            return str(self.error)
        return self.remote_error[1] if self.remote_error else ""


def _quantref_name(frame, event, arg) -> str | None:
    if event == "call":
        filename = frame.f_code.co_filename
        if filename.startswith(_QUANTREF_DIR):
            module = frame.f_globals.get("__name__", "quantref")
            return f"{module}.{frame.f_code.co_name}"
    elif event == "c_call":
        module = getattr(arg, "__module__", None) or ""
        if module.startswith("quantref"):
            return f"{module}.{getattr(arg, '__name__', '?')}"
    return None


@contextlib.contextmanager
def _watch_quantref(record: list):
    def profiler(frame, event, arg):
        name = _quantref_name(frame, event, arg)
        if name is not None and name not in record:
            record.append(name)

    previous = sys.getprofile()
    sys.setprofile(profiler)
    try:
        yield
    finally:
        sys.setprofile(previous)


@contextlib.contextmanager
def _capture_fd2(sink: list):
    """Redirect file descriptor 2 to a temporary file (C-level writes, ``os.write(2, ...)``)."""
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 at all: nothing to capture
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            sink.append(tmp.read().decode("utf-8", "replace"))


@contextlib.contextmanager
def _time_limit(seconds: float | None):
    usable = (seconds is not None and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise _TimeLimit()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def call_student(func: Callable, *args, time_limit: float | None = 10.0, **kwargs) -> StudentCall:
    """Call ``func(*args, **kwargs)`` and record everything it did; never raises (but Ctrl-C)."""
    out = StudentCall()
    fd_text: list = []
    py_err = io.StringIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with _capture_fd2(fd_text), contextlib.redirect_stderr(py_err), _time_limit(time_limit), \
                    _watch_quantref(out.quantref_calls):
                out.value = func(*args, **kwargs)
        except _TimeLimit:
            out.timed_out = True
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - student code may raise anything, SystemExit too
            out.error = exc
    out.stderr = py_err.getvalue() + "".join(fd_text)
    out.warnings = [f"{w.category.__name__}: {w.message}" for w in caught]
    return out


@contextlib.contextmanager
def quiet():
    """Keep the check's own warnings off stderr, so that nbgrader does not zero the test cell."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
