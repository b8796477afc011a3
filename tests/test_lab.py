"""`make lab` serves JupyterLab at the repository root with the course and nbgrader in it.

The server is started headless on loopback with the README's command (plus arguments that
keep it from opening a browser), queried over its REST API, and stopped.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from course_helpers import ROOT, venv_env

pytestmark = pytest.mark.slow
TOKEN = "course-test-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str):
    req = urllib.request.Request(url, headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, r.read().decode()


@pytest.fixture(scope="module")
def lab():
    port = _free_port()
    args = f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={port} --IdentityProvider.token={TOKEN}"
    proc = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"], cwd=ROOT, env=venv_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                _get(f"{base}/api/status")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("JupyterLab did not start:\n" + proc.stdout.read().decode()[-3000:])
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


def test_lab_opens_at_the_repository_root_with_the_course(lab):
    status, body = _get(f"{lab}/api/contents/")
    names = {item["name"] for item in json.loads(body)["content"]}
    assert {"lectures", "course", "solutions", "README.md"} <= names
    status, _ = _get(f"{lab}/api/contents/lectures/01_linear_quantization.ipynb?content=0")
    assert status == 200
    status, _ = _get(f"{lab}/api/contents/course/release/ps1_linear_quantization/ps1_linear_quantization.ipynb?content=0")
    assert status == 200


def test_lab_has_nbgrader_and_a_python_kernel(lab):
    status, page = _get(f"{lab}/lab")
    assert status == 200 and "nbgrader" in page, "nbgrader's JupyterLab extensions should be installed"
    status, body = _get(f"{lab}/api/kernelspecs")
    assert "python3" in json.loads(body)["kernelspecs"]
    status, page = _get(f"{lab}/formgrader")
    assert status == 200 and "formgrader" in page.lower()
