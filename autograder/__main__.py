"""The instructor's command line: ``python -m autograder <command>`` (``--help`` on each).

Commands, in the order of a grading cycle (docs/instructors.md walks through them):

build [ASSIGNMENT ...] [--check]
    Validate the source notebooks, generate the student versions (``course/release``) and
    worked solutions (``solutions/``), and prove each release fails its own tests.
collect ASSIGNMENT (--exchange DIR | --lms FOLDER_OR_ZIP)
    Copy submissions into ``course/submitted/<student>/<assignment>/``.
grade ASSIGNMENT [--student S ...] [--workers N] [--db URL] [--dask ADDRESS]
    Autograde in parallel, sandboxed, into the gradebook; unchanged submissions are skipped.
feedback ASSIGNMENT
    One HTML page per student: scores, each test's message, no hidden test code.
export ASSIGNMENT
    grades.csv, and moodle.csv for Moodle's "Import grades from CSV".
report ASSIGNMENT
    An HTML grade report with plots.
bench-grading
    Time grading a synthetic class of 100: plain nbgrader, 1 worker, 2 workers.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import build


def _positive_int(flag: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} expects a whole number, got {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{flag} must be at least 1, got {value}")
        return value
    return parse


def _add_common(p, db: bool = True) -> None:
    from .grading.course import DEFAULT_COURSE
    p.add_argument("--course", type=Path, default=DEFAULT_COURSE,
                   help="the nbgrader course folder (default: the repository's course/)")
    if db:
        p.add_argument("--db", metavar="URL", default=None,
                       help="gradebook: sqlite:///PATH (default: COURSE/gradebook.db) or "
                            "postgresql://USER@HOST:PORT/DB")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m autograder", description=__doc__.split("\n\n")[0],
                                 epilog="Run `python -m autograder COMMAND --help` for a command's options.")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("build", help="validate sources, generate releases and solutions, check releases fail")
    p.add_argument("assignments", nargs="*", help="assignment names (default: all)")
    p.add_argument("--check", action="store_true", help="only check that the committed copies are up to date")
    p.add_argument("--no-validate", action="store_true", help="skip `nbgrader validate` of sources and releases")
    p.add_argument("--student-bundle", metavar="DIR", type=Path,
                   help="instead, write what a graded class receives into DIR (no sources, solutions, grader, "
                        "hidden cases or secret)")

    p = sub.add_parser("collect", help="copy submissions into course/submitted/<student>/<assignment>/",
                       description="Collect submissions of ASSIGNMENT. From an nbgrader exchange (what "
                       "`nbgrader collect` does), or from an LMS download: a folder or .zip of notebooks named "
                       "<student>_<assignment>.ipynb (other names are listed and skipped; --pattern changes "
                       "the rule).")
    p.add_argument("assignment")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--exchange", metavar="DIR", help="nbgrader exchange root (e.g. /srv/nbgrader/exchange)")
    src.add_argument("--lms", metavar="PATH", help="folder or .zip of notebooks named <student>_<assignment>.ipynb")
    p.add_argument("--pattern", metavar="REGEX",
                   help="regular expression on file names with a (?P<student>...) group, for other LMS naming")
    _add_common(p, db=False)

    p = sub.add_parser("grade", help="autograde submissions in parallel, sandboxed, into the gradebook")
    p.add_argument("assignment")
    p.add_argument("--student", nargs="+", metavar="S", help="only these students (default: all with a submission)")
    p.add_argument("--workers", type=_positive_int("--workers"), default=None,
                   help="parallel submissions (default: number of cores)")
    p.add_argument("--timeout", type=_positive_int("--timeout"), default=600,
                   help="wall-clock seconds per submission (default 600)")
    p.add_argument("--memory", type=_positive_int("--memory"), default=2048,
                   help="memory per process in MiB, RLIMIT_AS (default 2048)")
    p.add_argument("--cpu", type=_positive_int("--cpu"), default=600,
                   help="CPU seconds per process, RLIMIT_CPU (default 600)")
    p.add_argument("--cell-timeout", type=_positive_int("--cell-timeout"), default=None,
                   help="seconds per notebook cell (default: nbgrader_config.py's)")
    p.add_argument("--retries", type=int, default=1, help="regrade a job whose process was killed (default 1)")
    p.add_argument("--force", action="store_true", help="regrade unchanged submissions too")
    p.add_argument("--dask", metavar="ADDRESS", help="run the jobs on a Dask cluster (tcp://HOST:PORT)")
    p.add_argument("--scratch", metavar="DIR", help="where scratch copies of the course go (default: system temp)")
    p.add_argument("--isolation", choices=["auto", "uid", "none"], default="auto",
                   help="as root, run student code under a per-slot uid (auto: when possible)")
    p.add_argument("--no-sandbox", action="store_true",
                   help="grade without bubblewrap (not for a graded class: submissions run with the grader's "
                        "rights; every report says so)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_common(p)

    p = sub.add_parser("feedback", help="per-student feedback HTML (no hidden test code)")
    p.add_argument("assignment")
    p.add_argument("--student", nargs="+", metavar="S", help="only these students")
    _add_common(p)

    p = sub.add_parser("export", help="grades as CSV and as a Moodle grade-import CSV")
    p.add_argument("assignment")
    p.add_argument("--out", type=Path, default=None, help="folder (default: COURSE/exports/ASSIGNMENT)")
    _add_common(p)

    p = sub.add_parser("report", help="HTML grade report with plots")
    p.add_argument("assignment")
    p.add_argument("--out", type=Path, default=None, help="folder (default: COURSE/reports/ASSIGNMENT)")
    _add_common(p)

    p = sub.add_parser("bench-grading", help="time grading a synthetic class (not a test; ~15 minutes)")
    p.add_argument("--students", type=_positive_int("--students"), default=100)
    p.add_argument("--cell-timeout", type=_positive_int("--cell-timeout"), default=10)
    p.add_argument("--keep", type=Path, default=None, help="keep the synthetic course in this folder")
    return ap


def _build(args, ap) -> int:
    names = args.assignments or build.assignments()
    unknown = sorted(set(names) - set(build.assignments()))
    if unknown:
        ap.error(f"no such assignment in course/source: {', '.join(unknown)} "
                 f"(choose from {', '.join(build.assignments())})")
    if not args.check:
        from . import secret
        if not secret.secret_path(build.COURSE).exists():
            print(f"wrote a new course secret (the hidden cases' seed) to {secret.ensure_secret(build.COURSE)}; "
                  f"it is ignored by git: keep it, and out of students' reach")
    if args.check:
        stale = build.check_up_to_date(names)
        for path in stale:
            print(f"out of date: {path}")
        print("generated files are up to date" if not stale else
              "run `python -m autograder build` and commit the result")
        return 1 if stale else 0
    failed = 0
    for name in names:
        if not args.no_validate:
            problems = build.validate_source(name)
            if problems:
                failed += 1
                print(f"{name}: the source notebook fails its own tests:\n{problems}")
                continue
        build.generate(name)
        print(f"generated course/release/{name} and solutions/{name}.ipynb")
        if not args.no_validate:
            problems = build.validate_release(name)
            if problems:
                failed += 1
                print(f"{name}: the student version passes some of its tests (it must fail all):\n{problems}")
            else:
                print(f"{name}: the source passes its tests; the student version fails every test cell")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    if args.command == "build" and args.student_bundle:
        from .bundle import write_student_bundle
        try:
            files = write_student_bundle(args.student_bundle)
        except FileExistsError as exc:
            ap.exit(2, f"python -m autograder build: error: --student-bundle: {exc}\n")
        print(f"wrote the student bundle ({len(files)} files) to {args.student_bundle}: hand this folder, not the "
              f"repository, to a graded class")
        return 0
    if args.command == "build":
        return _build(args, ap)
    from .grading.course import UsageError
    try:
        return _run(args)
    except UsageError as exc:
        ap.exit(2, f"python -m autograder {args.command}: error: {exc}\n")


def _run(args) -> int:
    from .grading.course import check_assignment, check_course, check_db_url, default_db_url
    if args.command == "bench-grading":
        from .grading import bench
        bench.main(students=args.students, cell_timeout=args.cell_timeout, keep=args.keep)
        return 0
    course = check_course(args.course)
    check_assignment(course, args.assignment)
    if args.command == "collect":
        from .grading import collect
        if args.exchange:
            done = collect.from_exchange(course, args.assignment, Path(args.exchange))
        else:
            done = collect.from_lms(course, args.assignment, Path(args.lms), args.pattern)
        print(done.text())
        return 0
    db = check_db_url(args.db or default_db_url(course))
    if args.command == "grade":
        from .grading.grade import grade
        from .grading.sandbox import Limits
        limits = Limits(wall=args.timeout, memory_mb=args.memory, cpu=args.cpu, cell_timeout=args.cell_timeout)
        summary = grade(course, args.assignment, args.student, args.workers, limits, args.force, args.retries,
                        db, args.dask, args.scratch, args.isolation, progress=not args.quiet,
                        sandbox=not args.no_sandbox)
        return 1 if summary.lost else 0
    if args.command == "feedback":
        from .grading import feedback
        for path in feedback.write_feedback(course, args.assignment, db, args.student):
            print(f"wrote {path}")
        return 0
    if args.command == "export":
        from .grading import export
        for path in export.export(course, args.assignment, db, args.out):
            print(f"wrote {path}")
        return 0
    if args.command == "report":
        from .grading import report
        print(f"wrote {report.report(course, args.assignment, db, args.out)}")
        return 0
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
