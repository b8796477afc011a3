"""Every problem set's registry (:class:`~autograder.checking.ProblemSet`), found by package name.

A package ``autograder/psN`` that defines ``PROBLEM_SET`` is a problem set; nothing else needs
to list it.
"""
from __future__ import annotations

import functools
import importlib
import pkgutil
import re
from pathlib import Path

_PACKAGE = re.compile(r"ps\d+$")


@functools.lru_cache(maxsize=None)
def problem_sets() -> dict:
    """``{assignment name: ProblemSet}`` for every ``autograder.psN`` package."""
    found = {}
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if info.ispkg and _PACKAGE.match(info.name):
            module = importlib.import_module(f"autograder.{info.name}")
            ps = getattr(module, "PROBLEM_SET", None)
            if ps is not None:
                found[ps.assignment] = ps
    return found


def problem_set(assignment: str):
    """The registry of ``assignment``, or None when it has no autograded checks."""
    return problem_sets().get(assignment)
