"""The committed student versions and worked solutions are what `python -m autograder build` makes."""
import subprocess
import sys

import pytest

from course_helpers import ROOT, venv_env


@pytest.mark.slow
def test_release_and_solutions_are_up_to_date():
    proc = subprocess.run([sys.executable, "-m", "autograder", "build", "--check"], cwd=ROOT,
                          capture_output=True, text=True, env=venv_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "generated files are up to date" in proc.stdout


def test_build_rejects_an_unknown_assignment():
    proc = subprocess.run([sys.executable, "-m", "autograder", "build", "ps9_nothing"], cwd=ROOT,
                          capture_output=True, text=True, env=venv_env())
    assert proc.returncode != 0 and "no such assignment" in proc.stderr


def test_solutions_hide_no_markup():
    for path in (ROOT / "solutions").glob("*.ipynb"):
        text = path.read_text()
        assert "### BEGIN" not in text and '"nbgrader"' not in text, path
