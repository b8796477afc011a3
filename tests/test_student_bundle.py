"""``python -m autograder build --student-bundle DIR``: what a graded class receives.

The bundle holds the lectures, the student versions, quantref and the visible checks, and none of
the instructor's material: no sources, no worked solutions, no grader, no secret, no hidden case
(neither its values nor its code).  Installed into a fresh virtual environment, a release notebook's
visible tests run there: they pass with right answers and fail with a stub.
"""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest

from autograder.grading import synthetic
from autograder.problem_sets import problem_sets
from course_helpers import COURSE, ROOT

A = "ps1_linear_quantization"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle") / "course-for-students"
    proc = subprocess.run([sys.executable, "-m", "autograder", "build", "--student-bundle", str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "hand this folder" in proc.stdout
    return out


def test_the_bundle_holds_what_students_need(bundle):
    for rel in ["lectures/01_linear_quantization.ipynb", f"course/release/{A}/{A}.ipynb", "quantref/__init__.py",
                "autograder/ps1/__init__.py", "autograder/ps1/cases.py", "autograder/selfcheck.py", "pyproject.toml",
                "setup.py", "README.md"]:
        assert (bundle / rel).is_file(), rel


def test_the_bundle_holds_nothing_of_the_instructors(bundle):
    names = {str(p.relative_to(bundle)) for p in bundle.rglob("*")}
    for forbidden in ["course/source", "solutions", "autograder/grading", "autograder/build.py", "tests",
                      "autograder/secret.py", "course/.autograder-secret", ".git"]:
        assert not any(n == forbidden or n.startswith(forbidden + "/") for n in names), forbidden
    text = "".join(p.read_text(errors="replace") for p in bundle.rglob("*") if p.suffix in (".py", ".ipynb"))
    assert "### BEGIN SOLUTION" not in text and "### BEGIN HIDDEN TESTS" not in text
    # the hidden cases' code is gone too: labels that only hidden cases carry
    for label in ["tie: -rmin/scale = 0.5", "exact ties (x/scale = k + 0.5)", "codes below the zero point"]:
        assert label not in text, label
    assert "tie: -rmin/scale = 0.5" in (ROOT / "autograder" / "ps1" / "cases.py").read_text()   # the test can fail


def _run_cells(python: Path, nb: nbformat.NotebookNode, cwd: Path) -> subprocess.CompletedProcess:
    """The notebook's code cells, as one script, in the bundle's environment (no repository on the path)."""
    code = "\n\n".join(c.source for c in nb.cells if c.cell_type == "code")
    script = cwd / "notebook_as_script.py"
    script.write_text(code)
    env = {"PATH": f"{python.parent}:/usr/bin:/bin", "HOME": str(cwd), "MPLBACKEND": "Agg", "LANG": "C.UTF-8"}
    return subprocess.run([str(python), str(script)], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


@pytest.mark.slow
def test_a_release_notebook_runs_its_visible_tests_in_a_fresh_venv(bundle, tmp_path):
    venv = tmp_path / "venv"
    # no pip of its own: pip and setuptools come from this environment too (a current setuptools is needed)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # the course's dependencies come from this environment's packages (no download); quantref and
    # autograder come from the bundle alone
    (site / "course-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {**os.environ, "QUANTREF_NO_EXTENSION": "1", "PIP_NO_INDEX": "1"}
    env.pop("PYTHONPATH", None)
    install = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--quiet",
                              str(bundle)], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert install.returncode == 0, install.stderr[-3000:]
    where = subprocess.run([str(python), "-c", "import autograder, quantref; print(autograder.__file__, "
                            "quantref.__file__); import importlib.util as u; print(u.find_spec('autograder.grading'))"],
                           capture_output=True, text=True, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    assert str(venv) in where.stdout and str(ROOT) not in where.stdout and "None" in where.stdout, where

    answered = synthetic.answered(COURSE.parent / "course", A)
    ok = _run_cells(python, answered, tmp_path)
    assert ok.returncode == 0, ok.stderr[-3000:]
    assert ok.stdout.count("visible cases passed") == len(problem_sets()[A].exercises), ok.stdout

    release = nbformat.read(bundle / "course" / "release" / A / f"{A}.ipynb", as_version=4)
    first_test = next(i for i, c in enumerate(release.cells) if c.metadata.get("nbgrader", {}).get("grade"))
    release.cells = release.cells[:first_test + 1]
    stub = _run_cells(python, release, tmp_path)
    assert stub.returncode != 0 and "not implemented yet" in stub.stderr, stub.stderr[-2000:]

    hidden = _run_cells(python, nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from autograder.ps1 import check_quantize\ncheck_quantize(lambda x, scale, zero_point, bits: x, "
        "suite='hidden')")]), tmp_path)
    assert "HiddenCasesUnavailable" in hidden.stderr, hidden.stderr[-2000:]

