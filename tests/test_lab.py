"""`make lab` serves JupyterLab at the repository root with the course and nbgrader in it.

The server is started headless on loopback with the README's command (plus arguments that
keep it from opening a browser), queried over its REST API, and stopped.
"""
from __future__ import annotations

import json

import pytest

from lab_server import get, running_lab

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lab():
    with running_lab() as base:
        yield base


def test_lab_opens_at_the_repository_root_with_the_course(lab):
    status, body = get(f"{lab}/api/contents/")
    names = {item["name"] for item in json.loads(body)["content"]}
    assert {"lectures", "course", "solutions", "README.md"} <= names
    status, _ = get(f"{lab}/api/contents/lectures/01_linear_quantization.ipynb?content=0")
    assert status == 200
    status, _ = get(f"{lab}/api/contents/course/release/ps1_linear_quantization/ps1_linear_quantization.ipynb?content=0")
    assert status == 200


def test_lab_has_nbgrader_and_a_python_kernel(lab):
    status, page = get(f"{lab}/lab")
    assert status == 200 and "nbgrader" in page, "nbgrader's JupyterLab extensions should be installed"
    status, body = get(f"{lab}/api/kernelspecs")
    assert "python3" in json.loads(body)["kernelspecs"]
    status, page = get(f"{lab}/formgrader")
    assert status == 200 and "formgrader" in page.lower()
