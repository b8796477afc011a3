"""``python -m autograder build --student-bundle DIR``: what a graded class receives, and nothing more.

The full repository is for instructors and self-study readers: it holds the instructor versions
(``course/source``), the worked solutions (``solutions/``) and the grading pipeline.  A graded
class gets this bundle instead:

* ``lectures/`` and the student versions of the problem sets (``course/release/``);
* ``quantref`` (the library the lectures run; grading hides it from answers anyway);
* the visible checks: ``autograder`` with its registries, comparisons and mistake catalogues, whose
  case generators keep their visible cases and lose the code of their hidden ones (each hidden
  branch becomes ``raise HiddenCasesUnavailable``), so the bundle shows neither the hidden cases'
  kinds nor their values;
* the install files (``pyproject.toml``, ``setup.py``, ``environment.yml``, ``Makefile``) and a README.

Not in it: ``course/source``, ``solutions/``, ``autograder/grading`` (the grader), the course secret,
the tests and their kept wrong implementations.
"""
from __future__ import annotations

import ast
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: autograder modules a student needs for the visible checks and ``check()``
AUTOGRADER_FILES = ("__init__.py", "checking.py", "harness.py", "selfcheck.py", "problem_sets.py")
TOP_FILES = ("pyproject.toml", "setup.py", "environment.yml", "Makefile", "LICENSE")
SKIP = shutil.ignore_patterns("__pycache__", "*.so", "*.c", "*.pyc", ".ipynb_checkpoints", "*.egg-info")

README = """# Neural-network quantization: the course, student edition

Lectures (`lectures/`) and problem sets (`course/release/`).  Set up once and open the course:

```bash
make lab      # creates .venv, installs the course, opens JupyterLab
```

Answer each problem set in its notebook under `course/release/`, run each exercise's visible tests,
and hand the notebook in as your instructor says.  The hidden tests run when your notebook is graded.
Check an answer at any time from the notebook:

```python
from autograder import check
check(quantize)
```
"""


class _DropHidden(ast.NodeTransformer):
    """Keep each case generator's visible branch; replace what follows it by a raise."""

    def visit_FunctionDef(self, node: ast.FunctionDef):
        if "hidden" in node.name:   # a helper that builds hidden cases only
            node.body = [ast.parse("raise HiddenCasesUnavailable('the hidden cases run when your notebook is "
                                   "graded')").body[0]]
            return node
        for i, stmt in enumerate(node.body):
            if (isinstance(stmt, ast.If) and isinstance(stmt.test, ast.Compare)
                    and isinstance(stmt.test.left, ast.Name) and stmt.test.left.id == "suite"
                    and any(isinstance(c, ast.Constant) and c.value == "visible" for c in stmt.test.comparators)):
                raise_stmt = ast.parse(
                    "raise HiddenCasesUnavailable('the hidden cases run when your notebook is graded')").body[0]
                node.body = node.body[:i + 1] + [raise_stmt]
                return node
        return node


def strip_hidden_cases(source: str) -> str:
    """``cases.py`` with the hidden branch of every generator taken out."""
    tree = _DropHidden().visit(ast.parse(source))
    last_import = max(i for i, s in enumerate(tree.body) if isinstance(s, (ast.Import, ast.ImportFrom)))
    tree.body.insert(last_import + 1, ast.parse("from ..checking import HiddenCasesUnavailable").body[0])
    return ("# Student bundle: the hidden cases are not shipped; they run when your notebook is graded.\n"
            + ast.unparse(ast.fix_missing_locations(tree)) + "\n")


def write_student_bundle(out: Path) -> list[Path]:
    """Write the bundle into ``out`` (which must not exist or be empty); return the files written."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty: choose a new folder for the student bundle")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "lectures", out / "lectures", ignore=SKIP)
    shutil.copytree(ROOT / "course" / "release", out / "course" / "release", ignore=SKIP)
    shutil.copytree(ROOT / "quantref", out / "quantref", ignore=SKIP)
    pkg = out / "autograder"
    pkg.mkdir()
    for name in AUTOGRADER_FILES:
        shutil.copy(ROOT / "autograder" / name, pkg / name)
    from .problem_sets import problem_sets
    for ps in problem_sets().values():
        short = ps.assignment.split("_")[0]
        (pkg / short).mkdir()
        for path in sorted((ROOT / "autograder" / short).glob("*.py")):   # the checks and the modules they import
            if path.name != "cases.py":
                shutil.copy(path, pkg / short / path.name)
        cases = (ROOT / "autograder" / short / "cases.py").read_text()
        (pkg / short / "cases.py").write_text(strip_hidden_cases(cases))
    for name in TOP_FILES:
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, out / name)
    (out / "README.md").write_text(README)
    return sorted(p for p in out.rglob("*") if p.is_file())
