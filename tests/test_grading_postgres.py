"""Two graders grade into one PostgreSQL gradebook at the same time (a real server, started by
the tests on 127.0.0.1).  They overlap on one student; every student ends with one complete
submission, and nbgrader's own API reads the scores."""
from __future__ import annotations

import subprocess
import sys

import pytest

from course_helpers import venv_env
from grading_support import A, FULL, LIMITS, cell_scores, log, make_course, postgres_server, runs, scratch_dir, submit

pytestmark = pytest.mark.slow
__all__ = ["postgres_server"]

KINDS = {"p1": "correct", "p2": "wrong:dequantize_no_zero_point", "p3": "correct", "p4": "wrong:quantize_floor",
         "p5": "broken:empty"}


def test_two_graders_at_once(postgres_server, tmp_path):
    db = postgres_server()
    course = make_course(tmp_path)
    for s, kind in KINDS.items():
        submit(course, s, kind)
    procs = [subprocess.Popen([sys.executable, "-m", "autograder", "grade", A, "--course", str(course), "--db", db,
                               "--workers", "1", "--scratch", str(scratch_dir()), "--student", *group, *LIMITS],
                              env=venv_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for group in (["p1", "p2", "p3"], ["p3", "p4", "p5"])]
    outs = [p.communicate(timeout=400)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    scores = {s: sum(c.values()) for s, c in cell_scores(db).items()}
    assert scores == {"p1": FULL, "p2": scores["p2"], "p3": FULL, "p4": scores["p4"], "p5": 0}
    assert scores["p2"] < FULL and scores["p4"] < FULL
    assert {s: r["score"] for s, r in runs(db).items()} == scores
    merges = [r["student"] for r in log(db)]
    assert sorted(set(merges)) == sorted(KINDS) and merges.count("p3") in (1, 2)
    assert len(merges) - merges.count("p3") == 4
