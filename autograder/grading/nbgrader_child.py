"""What runs inside a job process: ``nbgrader autograde ASSIGNMENT --student S`` in a scratch course.

This module is imported once by the fork server (so each job starts with nbgrader loaded), and
its :func:`main` is the job process's whole life (see :mod:`autograder.grading.sandbox`).  It
adds one preprocessor to nbgrader's autograde pipeline, :class:`LimitOutputSize`: nbgrader's
own ``LimitOutput`` counts lines, so a single 100 MB line would otherwise land in the graded
notebook, the feedback and the gradebook's comments.
"""
from __future__ import annotations

import os

from nbgrader.apps.autogradeapp import AutogradeApp
from nbgrader.converters import Autograde
from nbgrader.preprocessors import LimitOutput, NbGraderPreprocessor
from traitlets import Integer

from . import sandbox


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n... [output cut by the grader: {len(text):,} characters in all]\n"


class LimitOutputSize(NbGraderPreprocessor):
    """Cut every output of a code cell to at most ``max_chars`` characters (images too large are dropped)."""

    max_chars = Integer(20_000, help="largest output kept per cell output, in characters").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "stream":
                out["text"] = _cut(out.get("text", ""), self.max_chars)
            elif kind == "error":
                out["evalue"] = _cut(out.get("evalue", ""), self.max_chars)
                tb, kept, size = out.get("traceback", []), [], 0
                for line in tb:
                    size += len(line)
                    if size > self.max_chars:
                        kept.append("... [traceback cut by the grader]")
                        break
                    kept.append(line)
                out["traceback"] = kept
            elif kind in ("execute_result", "display_data"):
                data = out.get("data", {})
                for mime in list(data):
                    value = data[mime]
                    if isinstance(value, list):
                        value = "".join(value)
                    if isinstance(value, str) and len(value) > self.max_chars:
                        if mime.startswith("text/"):
                            data[mime] = _cut(value, self.max_chars)
                        elif len(value) > 50 * self.max_chars:
                            del data[mime]
                if not data:
                    data["text/plain"] = "[output removed by the grader: too large]"
        return cell, resources


def _autograde(spec: dict) -> int:
    os.chdir(spec["course"])
    os.environ.update(spec["env"])
    app = AutogradeApp()
    app.initialize([spec["assignment"], "--student", spec["student"], "--force",
                    f"--CourseDirectory.root={spec['course']}",
                    f"--CourseDirectory.db_url=sqlite:///{spec['course']}/gradebook.db"])
    pre = list(Autograde.class_traits()["autograde_preprocessors"].default())
    at = pre.index(LimitOutput) + 1 if LimitOutput in pre else len(pre) - 2
    pre.insert(at, LimitOutputSize)
    app.config.Autograde.autograde_preprocessors = pre
    # a cell that floods its output past the timeout is cut there, not a failed notebook
    app.config.Execute.raise_on_iopub_timeout = False
    if spec["env"].get("AUTOGRADER_BWRAP"):
        # the kernel has no network in its sandbox: it talks to nbgrader over Unix sockets
        app.config.KernelManager.transport = "ipc"
        app.config.KernelManager.ip = os.path.join(spec["env"]["AUTOGRADER_IPC_DIR"], "kernel")
    cell_timeout = spec["limits"].get("cell_timeout")
    if cell_timeout:
        app.config.Execute.timeout = int(cell_timeout)
        app.config.ExecutePreprocessor.timeout = int(cell_timeout)
    app.start()
    return 0


def main(spec: dict) -> None:
    sandbox.child_run(spec, dispatch)


def _generate(spec: dict) -> int:
    from nbgrader.apps.generateassignmentapp import GenerateAssignmentApp
    os.chdir(spec["course"])
    os.environ.update(spec["env"])
    app = GenerateAssignmentApp()
    app.initialize([spec["assignment"], "--force", f"--CourseDirectory.root={spec['course']}",
                    f"--CourseDirectory.db_url=sqlite:///{spec['course']}/gradebook.db"])
    app.start()
    return 0


def dispatch(spec: dict) -> int:
    return _generate(spec) if spec.get("kind") == "generate" else _autograde(spec)
