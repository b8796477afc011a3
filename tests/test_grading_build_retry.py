"""``build``'s validation runs ``nbgrader validate`` again only when the kernel never started.

A kernel's client picks free ports and the kernel binds them afterwards; a process started in
between (tests run in parallel) can take one first, and the kernel dies before running a cell.
Such a run validated nothing.  A fake ``nbgrader`` shows that it is retried, that a notebook's own
failure is not, and that a port lost every time is still reported.
"""
from __future__ import annotations

import subprocess

from autograder import build
from grading_support import A


def _fake_validate(monkeypatch, outputs):
    """build.nbgrader answering ``validate`` with ``outputs`` in turn (stdout, stderr); the calls."""
    calls = []

    def fake(*args, course, check=True):
        calls.append(args)
        stdout, stderr = outputs[min(len(calls), len(outputs)) - 1]
        return subprocess.CompletedProcess(args, 0, stdout, stderr)

    monkeypatch.setattr(build, "nbgrader", fake)
    return calls


PASSED = "Success! Your notebook passes all the tests.\n"
TAKEN = f"Traceback ...\n{build.PORT_TAKEN} (addr='tcp://127.0.0.1:42373')\n"
FAILED = "VALIDATION FAILED ON 1 CELL(S)!\n"


def test_a_kernel_that_lost_its_port_is_validated_again(tmp_path, monkeypatch):
    folder = tmp_path / "source" / A
    folder.mkdir(parents=True)
    (folder / f"{A}.ipynb").write_text("{}")
    calls = _fake_validate(monkeypatch, [("", TAKEN), (PASSED, "")])
    assert build.validate_source(A, tmp_path) == "" and len(calls) == 2
    # a failure of the notebook itself is reported at once, not retried
    calls = _fake_validate(monkeypatch, [(FAILED, ""), (PASSED, "")])
    assert "VALIDATION FAILED" in build.validate_source(A, tmp_path) and len(calls) == 1
    # a port lost every time is reported after VALIDATE_ATTEMPTS runs, never read as a pass
    calls = _fake_validate(monkeypatch, [("", TAKEN)])
    assert build.PORT_TAKEN in build.validate_source(A, tmp_path) and len(calls) == build.VALIDATE_ATTEMPTS
