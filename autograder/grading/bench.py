"""``python -m autograder bench-grading``: how fast a class is graded, against plain nbgrader.

A synthetic class of problem set 1 (default 100 submissions): half answered correctly, three in
ten with one of the kept wrong answers (``tests/fixtures/ps1_wrong``), two in ten broken
(``tests/fixtures/submissions``: endless loop, os._exit, a killed kernel, invalid JSON, deleted
and reordered cells, a 100 MB print, ...).  Graded three times, each from a fresh copy of the
course, with the same per-cell time limit:

1. plain ``nbgrader autograde ASSIGNMENT`` (one process, one submission after another);
2. ``python -m autograder grade`` with 1 worker;
3. ``python -m autograder grade`` with 2 workers.

It prints the seconds and submissions per minute of each, the speed-up of each over plain
nbgrader and of 2 workers over 1, and checks that every run gave each student the same total.
Two broken fixtures are left out because plain nbgrader cannot survive them: ``memory_bomb``
(no memory limit: it would take the machine's memory) and ``kill_grader`` (it kills nbgrader's
own process and with it the rest of the batch).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import synthetic
from .course import DEFAULT_COURSE, tool_env

ASSIGNMENT = "ps1_linear_quantization"
UNSURVIVABLE_FOR_PLAIN_NBGRADER = {"memory_bomb", "kill_grader"}


def make_class(course: Path, n: int) -> dict:
    """Write ``n`` submissions into ``course/submitted``; return {student: kind}."""
    wrong = [(k, v) for k, v in synthetic.wrong_answers(ASSIGNMENT).items()]
    broken = [(k, m) for k, m in synthetic.broken_fixtures().items() if k not in UNSURVIVABLE_FOR_PLAIN_NBGRADER]
    kinds = {}
    for i in range(n):
        student = f"student{i:03d}"
        slot = i % 10
        if slot < 5:
            data, kind = synthetic.answered(course, ASSIGNMENT), "correct"
        elif slot < 8:
            name, (exercise, code, _) = wrong[(i // 10 * 3 + slot - 5) % len(wrong)]
            data, kind = synthetic.answered(course, ASSIGNMENT, {f"{exercise}_solution": code}), f"wrong:{name}"
        else:
            name, module = broken[(i // 10 * 2 + slot - 8) % len(broken)]
            data, kind = synthetic.make_broken(module, course, ASSIGNMENT), f"broken:{name}"
        synthetic.write_submission(course, ASSIGNMENT, student, data)
        kinds[student] = kind
    return kinds


def _fresh_course(base: Path, name: str, template: Path) -> Path:
    course = base / name
    shutil.copytree(template, course)
    return course


def _totals(db: Path) -> dict:
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{db}") as gb:
        return {s.student.id: float(s.score) for s in gb.assignment_submissions(ASSIGNMENT)}


def main(students: int = 100, cell_timeout: int = 10, keep: Path | None = None) -> None:
    base = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    os.chmod(base, 0o711)
    try:
        template = base / "template"
        template.mkdir()
        shutil.copytree(DEFAULT_COURSE / "source" / ASSIGNMENT, template / "source" / ASSIGNMENT)
        shutil.copytree(DEFAULT_COURSE / "release" / ASSIGNMENT, template / "release" / ASSIGNMENT)
        shutil.copy(DEFAULT_COURSE / "nbgrader_config.py", template)
        kinds = make_class(template, students)
        counts = {k: sum(1 for v in kinds.values() if v.split(":")[0] == k) for k in ("correct", "wrong", "broken")}
        print(f"synthetic class: {students} submissions of {ASSIGNMENT}: " +
              ", ".join(f"{n} {k}" for k, n in counts.items()) + f"; cell time limit {cell_timeout} s; "
              f"{os.cpu_count()} cores")
        nbgrader = str(Path(sys.executable).parent / "nbgrader")
        timings = {}

        plain = _fresh_course(base, "plain", template)
        subprocess.run([nbgrader, "generate_assignment", ASSIGNMENT, "--force"], cwd=plain, env=tool_env(),
                       check=True, capture_output=True)
        t = time.monotonic()
        proc = subprocess.run([nbgrader, "autograde", ASSIGNMENT, f"--Execute.timeout={cell_timeout}"],
                              cwd=plain, env=tool_env(), capture_output=True, text=True)
        timings["plain nbgrader autograde"] = time.monotonic() - t
        print(f"plain nbgrader autograde: {timings['plain nbgrader autograde']:.0f} s "
              f"(exit status {proc.returncode}: nbgrader reports the broken submissions as errors)")
        results = {"plain nbgrader autograde": _totals(plain / "gradebook.db")}
        aborted = len(results["plain nbgrader autograde"]) < students
        if aborted:
            # a broken notebook stops nbgrader's whole batch: time it again on the gradable ones only
            gradable = base / "plain-gradable"
            shutil.copytree(plain, gradable, ignore=shutil.ignore_patterns("autograded", "gradebook.db"))
            for s, kind in kinds.items():
                if kind.startswith("broken"):
                    shutil.rmtree(gradable / "submitted" / s)
            subprocess.run([nbgrader, "generate_assignment", ASSIGNMENT, "--force"], cwd=gradable,
                           env=tool_env(), check=True, capture_output=True)
            n_ok = sum(1 for k in kinds.values() if not k.startswith("broken"))
            t = time.monotonic()
            subprocess.run([nbgrader, "autograde", ASSIGNMENT, f"--Execute.timeout={cell_timeout}"],
                           cwd=gradable, env=tool_env(), capture_output=True, text=True)
            secs = time.monotonic() - t
            label = f"plain nbgrader, {n_ok} gradable only"
            timings[label] = secs * students / n_ok   # per-submission rate scaled to the whole class
            results["plain nbgrader autograde"].update(_totals(gradable / "gradebook.db"))
            print(f"plain nbgrader stopped after {len(_totals(plain / 'gradebook.db'))} of {students} "
                  f"(a broken notebook aborts its batch); on the {n_ok} gradable ones alone: {secs:.0f} s")

        for workers in (1, 2):
            label = f"autograder grade, {workers} worker{'s' if workers > 1 else ''}"
            course = _fresh_course(base, f"workers{workers}", template)
            t = time.monotonic()
            subprocess.run([sys.executable, "-m", "autograder", "grade", ASSIGNMENT, "--course", str(course),
                            "--workers", str(workers), "--cell-timeout", str(cell_timeout), "--quiet"],
                           env=tool_env(), check=True, capture_output=True)
            timings[label] = time.monotonic() - t
            results[label] = _totals(course / "gradebook.db")
            print(f"{label}: {timings[label]:.0f} s")

        print()
        print(f"{'run':34} {'seconds':>8} {'subm./min':>10} {'vs plain':>9}   (plain on the gradable part, "
              f"scaled to {students})")
        base_t = timings.get(f"plain nbgrader, {sum(1 for k in kinds.values() if not k.startswith('broken'))} "
                             f"gradable only", timings["plain nbgrader autograde"])
        for label, secs in timings.items():
            print(f"{label:34} {secs:8.0f} {students / secs * 60:10.1f} {base_t / secs:8.2f}x")
        one, two = timings["autograder grade, 1 worker"], timings["autograder grade, 2 workers"]
        print(f"2 workers over 1 worker: {one / two:.2f}x (target >= 1.7x); "
              f"100 submissions in {two / students * 100 / 60:.1f} min with 2 workers (target < 10 min)")
        ours = results["autograder grade, 2 workers"]
        same = [s for s in ours if results["autograder grade, 1 worker"].get(s) == ours[s]]
        print(f"same total with 1 and 2 workers: {len(same)} of {len(ours)} students")
        plain_t = results["plain nbgrader autograde"]
        comparable = [s for s, k in kinds.items() if not k.startswith("broken")]
        agree = [s for s in comparable if plain_t.get(s) == ours.get(s)]
        print(f"same total as plain nbgrader on the correct and wrong submissions: {len(agree)} of {len(comparable)}")
        missing = [s for s in kinds if s not in _totals(plain / "gradebook.db")]
        print(f"plain nbgrader on the whole class left {len(missing)} of {students} without a grade "
              f"({', '.join(sorted({kinds[s] for s in missing})) or 'none'}); ours graded all {len(ours)}")
        if keep:
            shutil.copytree(base, keep, dirs_exist_ok=True)
            print(f"kept the courses in {keep}")
    finally:
        shutil.rmtree(base, ignore_errors=True)
