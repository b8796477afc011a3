"""Generate the student versions and the worked solutions from ``course/source``.

``course/source/<assignment>/*.ipynb`` is the single source.  From it,

* ``nbgrader generate_assignment`` writes the student version to ``course/release/<assignment>/``
  (solutions replaced by stubs, hidden tests removed, outputs cleared, cells checksummed);
* :func:`write_solution` writes ``solutions/<assignment>.ipynb`` for self-study readers: the
  source with its nbgrader markup removed.

Both are committed so that a clone opens straight into them; ``--check`` regenerates into a
temporary folder and fails when the committed copies are out of date.

Before and after generating, ``build`` proves the assignment is sound: the source notebook
passes its own tests (``nbgrader validate``, :func:`validate_source`), and the student version
fails every one of its test cells (``nbgrader validate --invert``, :func:`validate_release`), so
that an untouched notebook can never earn points.
"""
from __future__ import annotations

import filecmp
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
COURSE = ROOT / "course"
SOLUTIONS = ROOT / "solutions"

_MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) (SOLUTION|HIDDEN TESTS)[ \t]*\n?", re.M)

SOLUTION_HEADER = """\
*Worked solution, generated from `course/{source}` by `python -m autograder build`: edit the source, not this file.*

Every answer is filled in, and the hidden tests that grade the assignment run in place, so you
can compare your own attempt case by case."""


def assignments(course: Path = COURSE) -> list[str]:
    """Names of the assignments in ``course/source``."""
    return sorted(p.name for p in (course / "source").iterdir() if p.is_dir() and not p.name.startswith("."))


def tool_env() -> dict:
    """The environment with this interpreter's ``bin`` first on PATH (nbgrader calls ``alembic``)."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def nbgrader(*args: str, course: Path = COURSE, check: bool = True) -> subprocess.CompletedProcess:
    """Run an nbgrader command in the course folder; raise with its output when it fails."""
    cmd = [str(Path(sys.executable).parent / "nbgrader"), *args]
    proc = subprocess.run(cmd, cwd=course, env=tool_env(), capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"`nbgrader {' '.join(args)}` failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def solution_notebook(source: Path, relative: str) -> nbformat.NotebookNode:
    """The worked solution: the source notebook without nbgrader markup or outputs."""
    nb = nbformat.read(source, as_version=4)
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
        cell.source = _MARKERS.sub("", cell.source)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    header = nbformat.v4.new_markdown_cell(SOLUTION_HEADER.format(source=relative))
    header.id = "worked-solution-header"
    nb.cells.insert(0, header)
    return nb


def write_solution(assignment: str, course: Path = COURSE, out_dir: Path = SOLUTIONS) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sorted((course / "source" / assignment).glob("*.ipynb")):
        target = out_dir / (source.name if source.stem == assignment else f"{assignment}_{source.name}")
        nbformat.write(solution_notebook(source, f"source/{assignment}/{source.name}"), target)
        written.append(target)
    return written


def generate(assignment: str, course: Path = COURSE, solutions: Path = SOLUTIONS) -> None:
    """Write ``course/release/<assignment>`` and ``solutions/<assignment>.ipynb`` from the source."""
    nbgrader("generate_assignment", assignment, "--force", course=course)
    write_solution(assignment, course, solutions)


def _notebooks(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.ipynb"))


#: what a kernel that could not bind its ports prints: the client picks free ports, then the
#: kernel binds them, and another process started in between may take one first
PORT_TAKEN = "zmq.error.ZMQError: Address already in use"
#: attempts of one ``nbgrader validate`` whose kernel lost that race (never for any other failure)
VALIDATE_ATTEMPTS = 3


def _validate(folder: Path, flags: tuple[str, ...], success: str, course: Path) -> str:
    """``nbgrader validate *flags`` each notebook in ``folder``; what did not print ``success``.

    A run whose kernel could not start because another process took one of its ports is run
    again: it validated nothing, so it says nothing about the notebook.
    """
    problems = []
    for nb in _notebooks(folder):
        for _ in range(VALIDATE_ATTEMPTS):
            out = nbgrader("validate", *flags, str(nb), course=course, check=False)
            if success in out.stdout or PORT_TAKEN not in out.stdout + out.stderr:
                break
        if success not in out.stdout:
            problems.append(f"{nb.name}:\n{out.stdout}{out.stderr}"[-4000:])
    return "\n".join(problems)


def validate_source(assignment: str, course: Path = COURSE) -> str:
    """``nbgrader validate`` each source notebook; return what failed ('' when every test passes)."""
    return _validate(course / "source" / assignment, (), "Success! Your notebook passes all the tests.", course)


def validate_release(assignment: str, course: Path = COURSE) -> str:
    """``nbgrader validate --invert`` each student version; return what passed ('' when all fail)."""
    return _validate(course / "release" / assignment, ("--invert",),
                     "Success! The notebook does not pass any tests.", course)


def _same_tree(a: Path, b: Path) -> list[str]:
    diffs = []
    cmp = filecmp.dircmp(a, b)
    diffs += [str(a / n) for n in cmp.left_only + cmp.right_only + cmp.diff_files]
    for sub in cmp.common_dirs:
        diffs += _same_tree(a / sub, b / sub)
    return diffs


def check_up_to_date(names: list[str]) -> list[str]:
    """Regenerate into a temporary copy; return the committed files that differ (empty: up to date)."""
    stale = []
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp) / "course"
        shutil.copytree(COURSE / "source", course / "source")
        shutil.copy(COURSE / "nbgrader_config.py", course)
        solutions = Path(tmp) / "solutions"
        for name in names:
            generate(name, course, solutions)
            release = COURSE / "release" / name
            if not release.exists():
                stale.append(str(release))
            else:
                stale += _same_tree(release, course / "release" / name)
            for fresh in sorted(solutions.glob(f"{name}*.ipynb")):
                committed = SOLUTIONS / fresh.name
                if not committed.exists() or committed.read_bytes() != fresh.read_bytes():
                    stale.append(str(committed))
    return stale
