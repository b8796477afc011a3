"""Honest submissions keep their scores under trusted grading.

Every problem set's worked solution, and every kept wrong implementation put into an otherwise
answered notebook, is scored by the trusted grader (:func:`autograder.grading.trusted.score`: the
submission in the bubblewrap sandbox, the comparison in this process, hidden cases from a
secret-like seed) exactly as the same functions score when the checks run in this process: full
marks for the solutions, and each wrong implementation loses exactly the cells it loses in the
notebook (its own exercise's, and those of the exercises whose answers call it).
"""
from __future__ import annotations

import re
import shutil

import nbformat
import pytest

from autograder.checking import PUBLIC_SEED, evaluate, local_call
from autograder.grading import bubblewrap, sandbox, synthetic, trusted
from autograder.problem_sets import problem_sets
from course_helpers import COURSE, FIXTURES

SETS = problem_sets()
SEED = 0x5EC2E7
CASES = [(a, None) for a in sorted(SETS)] + [
    (a, p) for a in sorted(SETS) for p in sorted((FIXTURES / f"{a.split('_')[0]}_wrong").glob("*.py"))]

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None,
                                reason="bubblewrap is not installed (apt-get install bubblewrap; .ci/run does)")


def _notebook(assignment, fixture):
    if fixture is None:
        return synthetic.answered(COURSE, assignment)
    exercise = re.search(r'^EXERCISE = "([^"]+)"', fixture.read_text(), re.M).group(1)
    return synthetic.answered(COURSE, assignment, {f"{exercise}_solution": fixture.read_text()})


def _in_process(assignment, nb) -> dict:
    """The same cells run here, and every test cell scored by the in-notebook checks."""
    namespace: dict = {}
    for source in trusted.code_cells(nb):
        try:
            exec(compile(source, "<cell>", "exec"), namespace)  # noqa: S102
        except Exception:  # noqa: BLE001 - as in a notebook: the other cells still run
            pass
    out = {}
    for gid, (exercise, suite) in SETS[assignment].cells.items():
        func = namespace.get(exercise.name)
        verdict = evaluate(exercise, suite, SEED if suite == "hidden" else PUBLIC_SEED,
                           local_call(func, exercise.time_limit)) if callable(func) else None
        out[gid] = float(exercise.points[0 if suite == "visible" else 1]) if verdict and verdict.passed else 0.0
    return out


@pytest.mark.parametrize("assignment,fixture", CASES,
                         ids=[f"{a.split('_')[0]}-{p.stem if p else 'solution'}" for a, p in CASES])
def test_trusted_scores_equal_the_notebook_checks(assignment, fixture, tmp_path):
    nb = nbformat.from_dict(_notebook(assignment, fixture))
    scores, notes = trusted.score(SETS[assignment], nb, tmp_path, sandbox.Limits(memory_mb=2048), None,
                                  bubblewrap.require(), SEED)
    got = {gid: s["score"] for gid, s in scores.items()}
    assert got == _in_process(assignment, nb), {g: s["message"][:200] for g, s in scores.items() if not s["score"]}
    if fixture is None:
        assert all(s["score"] > 0 for s in scores.values()) and notes == []
    else:
        diagnosis = re.search(r'^DIAGNOSIS = "([^"]+)"', fixture.read_text(), re.M).group(1)
        assert any(diagnosis in s["message"] for s in scores.values()), [s["message"] for s in scores.values()]
