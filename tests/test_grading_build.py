"""``build`` proves an assignment is sound: the source passes its tests, the release fails all."""
from __future__ import annotations

import shutil

import pytest

from autograder import build
from grading_support import A, make_course

pytestmark = pytest.mark.slow


def test_source_passes_and_release_fails(tmp_path):
    course = make_course(tmp_path)
    assert build.validate_source(A, course) == ""
    assert build.validate_release(A, course) == ""


def test_a_release_that_passes_a_test_is_caught(tmp_path):
    course = make_course(tmp_path)
    shutil.copy(course / "source" / A / f"{A}.ipynb", course / "release" / A / f"{A}.ipynb")
    assert f"{A}.ipynb" in build.validate_release(A, course)
    text = (course / "source" / A / f"{A}.ipynb").read_text().replace("return scale, zero_point", "return 0, 0")
    (course / "source" / A / f"{A}.ipynb").write_text(text)
    assert build.validate_source(A, course) != ""
