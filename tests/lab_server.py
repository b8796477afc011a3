"""Start JupyterLab the way `make lab` does, headless on loopback, for the lab and browser tests."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

from course_helpers import ROOT, venv_env

TOKEN = "course-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 10):
    req = urllib.request.Request(url, headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read().decode()


@contextlib.contextmanager
def running_lab(root=None):
    """Run `make lab` with arguments that keep it headless; yield its base URL; stop it.

    ``root`` serves another folder than the repository (the browser tests use a scratch copy).
    """
    port = free_port()
    args = (f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={port} "
            f"--IdentityProvider.token={TOKEN}")
    make_args = [f"LAB_ARGS={args}"] + ([f"LAB_ROOT={root}"] if root else [])
    # the server's log goes to a file: a pipe nobody reads would fill up and stall the server
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(["make", "--no-print-directory", "lab", *make_args], cwd=ROOT, env=venv_env(),
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # generous: a loaded two-core machine starts slowly
        while True:
            try:
                get(f"{base}/api/status")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise AssertionError("JupyterLab did not start:\n" + log.read().decode(errors="replace")[-3000:])
                time.sleep(0.5)
        yield base
    finally:
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=wait)
                break
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue
        log.close()
