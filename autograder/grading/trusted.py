"""Scores computed where the student's code cannot reach: the trusted half of grading.

For one submission, :func:`score` starts the submission's code in a sandbox
(:class:`~.answers.AnswerServer`), sends it each case's inputs, and judges what comes back with
:func:`autograder.checking.evaluate` in *this* process: the reference answers, the comparison,
the diagnosis of named mistakes and the points.  Whatever the notebook does to the checks,
NumPy, builtins or the profiler happens in another process and changes nothing here.  The
visible cases are the notebook's own; the hidden ones come from the course secret's seed.

The result replaces nbgrader's verdict for every autograded test cell: its score (the cell's
points when every case of its suite passes, else 0) and its message (what the feedback shows).
"""
from __future__ import annotations

import copy
from pathlib import Path

import nbformat

from ..checking import PUBLIC_SEED, ProblemSet, evaluate
from . import sandbox
from .answers import AnswerServer

NOTE = "(scored by the grader outside your notebook: the message above is the grader's, not your kernel's)"


def code_cells(notebook: nbformat.NotebookNode) -> list[str]:
    """The code the answer server runs: every code cell but the test cells, in order."""
    out = []
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or (meta.get("grade") and not meta.get("solution")):
            continue
        out.append(cell.source)
    return out


def score(problem_set: ProblemSet, notebook: nbformat.NotebookNode, scratch: Path, limits: sandbox.Limits,
          uid: int | None, bwrap: str | None, hidden_seed: int, cell_seconds: float = 60.0):
    """``({grade_id: {"passed", "score", "message", "mistake"}}, notes)`` for every autograded test cell of the problem set.

    ``notes`` say which code cells had to be left out (they ended the sandbox's process or overran
    the cell limit): the functions of the other cells are graded all the same."""
    out = {}
    with AnswerServer(code_cells(notebook), scratch, limits, uid, bwrap, cell_seconds) as server:
        for gid, (exercise, suite) in problem_set.cells.items():
            seed = hidden_seed if suite == "hidden" else PUBLIC_SEED

            def call(args, _name=exercise.name, _limit=exercise.time_limit):
                return server.call(_name, args, _limit)

            verdict = evaluate(exercise, suite, seed, call)
            points = exercise.points[0 if suite == "visible" else 1]
            message = verdict.message
            if verdict.notes:
                message += "\n" + "\n".join(f"note: {n}" for n in verdict.notes)
            out[gid] = {"passed": verdict.passed, "score": float(points) if verdict.passed else 0.0,
                        "message": message, "mistake": verdict.mistake}
        notes = [f"code cell {i + 1} was left out when your functions were graded: {why}"
                 for i, why in sorted(server.skipped.items())]
    return out, notes


def rewrite_test_outputs(notebook: nbformat.NotebookNode, scores: dict) -> nbformat.NotebookNode:
    """The graded notebook with each scored test cell's outputs replaced by the grader's message."""
    nb = copy.deepcopy(notebook)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code" and gid in scores:
            text = scores[gid]["message"] + "\n" + NOTE + "\n"
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    return nb
