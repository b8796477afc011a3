"""``collect``: an LMS download (folder or zip of <student>_<assignment>.ipynb) and an nbgrader
exchange land in ``submitted/<student>/<assignment>/``."""
from __future__ import annotations

import os
import zipfile

import pytest

from autograder.grading import collect
from grading_support import A, cli, make_course


def _files(folder):
    (folder / "sub").mkdir(parents=True)
    (folder / f"alice_{A}.ipynb").write_text('{"alice": 1}')
    (folder / "sub" / f"bob_smith_{A}.ipynb").write_text('{"bob": 1}')
    (folder / f"carol_ps2_other.ipynb").write_text("{}")
    (folder / f"dave {A}.ipynb").write_text("{}")
    (folder / f"e$ve_{A}.ipynb").write_text("{}")
    (folder / ".hidden.ipynb").write_text("{}")


def _check(course, done):
    sub = course / "submitted"
    assert (sub / "alice" / A / f"{A}.ipynb").read_text() == '{"alice": 1}'
    assert (sub / "bob_smith" / A / f"{A}.ipynb").read_text() == '{"bob": 1}'
    assert (sub / "alice" / A / "timestamp.txt").read_text().endswith("UTC")
    assert sorted(p.name for p in sub.iterdir()) == ["alice", "bob_smith"]
    skipped = dict(done.skipped)
    assert "not named <student>_" in skipped["carol_ps2_other.ipynb"]
    assert "not named" in skipped[f"dave {A}.ipynb"]
    assert "characters other than" in skipped[f"e$ve_{A}.ipynb"]


def test_lms_folder(tmp_path):
    course = make_course(tmp_path)
    _files(tmp_path / "download")
    done = collect.from_lms(course, A, tmp_path / "download")
    _check(course, done)
    again = collect.from_lms(course, A, tmp_path / "download")
    assert again.copied == [] and sorted(again.unchanged) == ["alice", "bob_smith"]


def test_lms_zip_and_custom_pattern(tmp_path):
    course = make_course(tmp_path)
    _files(tmp_path / "download")
    with zipfile.ZipFile(tmp_path / "d.zip", "w") as z:
        for p in (tmp_path / "download").rglob("*"):
            if p.is_file():
                z.write(p, p.relative_to(tmp_path / "download"))
        z.writestr("__MACOSX/._alice_x.ipynb", "junk")
    _check(course, collect.from_lms(course, A, tmp_path / "d.zip"))
    other = make_course(tmp_path / "o")
    (tmp_path / "canvas").mkdir()
    (tmp_path / "canvas" / "frank_1234_5678_ps1.ipynb").write_text("{}")
    done = collect.from_lms(other, A, tmp_path / "canvas", r"^(?P<student>[a-z]+)_\d+_\d+_ps1\.ipynb$")
    assert done.copied == [("frank", "frank_1234_5678_ps1.ipynb")]


@pytest.mark.slow
def test_exchange(tmp_path):
    course = make_course(tmp_path)
    exchange = tmp_path / "exchange"
    for student, stamp in (("alice", "2030-01-01 10:00:00.000000 UTC"), ("alice", "2030-01-02 10:00:00.000000 UTC"),
                           ("bob", "2030-01-01 11:00:00.000000 UTC")):
        d = exchange / "quantization" / "inbound" / f"{student}+{A}+{stamp}+abc{len(stamp)}{student}"
        d.mkdir(parents=True)
        (d / f"{A}.ipynb").write_text(f'{{"by": "{student}", "at": "{stamp}"}}')
        (d / "timestamp.txt").write_text(stamp)
    os.chmod(exchange, 0o777)
    out = cli("collect", A, "--exchange", str(exchange), "--course", str(course))
    assert "collected 2 submissions" in out.stdout
    assert "2030-01-02" in (course / "submitted" / "alice" / A / f"{A}.ipynb").read_text(), "the latest wins"
    assert (course / "submitted" / "bob" / A / f"{A}.ipynb").exists()
