"""The instructor's command line: ``python -m autograder <command>``.

Commands
--------
build [ASSIGNMENT ...] [--check]
    Generate the student versions (``course/release``) and worked solutions (``solutions/``)
    from ``course/source``; with ``--check``, only report whether the committed copies are
    up to date (exit status 1 if not).
"""
from __future__ import annotations

import argparse
import sys

from . import build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build", help="generate student versions and worked solutions from course/source")
    p_build.add_argument("assignments", nargs="*", help="assignment names (default: all)")
    p_build.add_argument("--check", action="store_true", help="only check that the committed copies are up to date")
    args = parser.parse_args(argv)

    if args.command == "build":
        names = args.assignments or build.assignments()
        unknown = sorted(set(names) - set(build.assignments()))
        if unknown:
            parser.error(f"no such assignment in course/source: {', '.join(unknown)}")
        if args.check:
            stale = build.check_up_to_date(names)
            for path in stale:
                print(f"out of date: {path}")
            print("generated files are up to date" if not stale else
                  "run `python -m autograder build` and commit the result")
            return 1 if stale else 0
        for name in names:
            build.generate(name)
            print(f"generated course/release/{name} and solutions/{name}.ipynb")
    return 0


if __name__ == "__main__":
    sys.exit(main())
