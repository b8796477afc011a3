"""Check an answer from a notebook with one call: ``check(my_function)``.

For self-study: a student who is not submitting to a grader checks each exercise as they go::

    from autograder import check
    check(quantize)                         # one exercise, found by the function's name
    check(quantize, dequantize)             # several
    check()                                 # every exercise function defined in this notebook
    check(quantize, assignment="ps1")       # when two problem sets have an exercise of that name

The exercise is looked up by the function's ``__name__`` among the ``EXERCISES`` of every
``autograder.psN`` package (found with :mod:`pkgutil`, so new problem sets need no change here).
The function runs through the same ``check_<name>`` the assignment's visible test cell calls, so
the verdict and the diagnostic (the failing case, what differed, the likely mistake) are the
ones the autograder gives. Only the visible cases run: nothing about the hidden ones is run or
shown. A wrong answer never raises: :func:`check` prints a short report and returns a
:class:`CheckReport`, whose ``passed`` is a boolean. Only a call that cannot be carried out
(an unknown exercise, an ambiguous name, something that is not a function) raises
:class:`SelfCheckError`.
"""
from __future__ import annotations

import contextlib
import difflib
import importlib
import inspect
import io
import pkgutil
import re
import sys
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from types import ModuleType

from .harness import CheckFailed

__all__ = ["check", "CheckReport", "ExerciseResult", "SelfCheckError", "assignments"]

_PACKAGE = re.compile(r"ps\d+")
_COURSE_SOURCE = Path(__file__).resolve().parent.parent / "course" / "source"


class SelfCheckError(LookupError):
    """A :func:`check` call that cannot be carried out: unknown or ambiguous exercise, bad argument."""


@dataclass
class ExerciseResult:
    """The outcome of one exercise's visible cases."""

    exercise: str       #: the exercise (the function's name)
    assignment: str     #: the problem set's package, e.g. ``"ps1"``
    passed: bool
    message: str        #: the check's own words: its success line, or the autograder's diagnostic

    @property
    def headline(self) -> str:
        """One line: the verdict, and the first line of the diagnostic (plus the likely mistake)."""
        if self.passed:
            verdict = next((x for x in self.message.splitlines() if x.startswith("\u2714")), "passed.")
            verdict = verdict.removeprefix(f"\u2714 {self.exercise}: ").removeprefix("\u2714 ")
            return f"\u2714 {self.exercise} ({self.assignment}): {verdict}"
        line = f"\u2718 {self.exercise} ({self.assignment}): {_first_line(self.message)}"
        mistake = [x for x in self.message.splitlines() if x.startswith("Likely mistake:")]
        return line + (f" {mistake[0]}" if mistake else "")

    def details(self) -> str:
        """The verdict followed by the whole message (the full diagnostic of a failure)."""
        if self.passed:
            notes = [x for x in self.message.splitlines() if x.strip() and not x.startswith("\u2714")]
            return "\n".join([self.headline] + ["    " + x for x in notes])
        body = "\n".join("    " + x for x in self.message.splitlines())
        return f"\u2718 {self.exercise} ({self.assignment}): not yet.\n{body}"


@dataclass
class CheckReport:
    """What :func:`check` found: one :class:`ExerciseResult` per function checked.

    ``passed`` is True when at least one exercise was checked and every one passed.
    """

    results: list = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.passed for r in self.results)

    def __bool__(self) -> bool:
        return self.passed

    def __len__(self) -> int:
        return len(self.results)

    def _summary(self) -> str:
        if not self.results:
            return "no exercise checked"
        n_ok = sum(r.passed for r in self.results)
        return f"{n_ok} of {len(self.results)} exercise{'s' if len(self.results) > 1 else ''} pass"

    def __repr__(self) -> str:
        marks = ", ".join(f"{r.exercise} {'✔' if r.passed else '✘'}" for r in self.results)
        return f"<CheckReport passed={self.passed}: {self._summary()}{' (' + marks + ')' if marks else ''}>"

    def _repr_markdown_(self) -> str:
        if not self.results:
            return "**Self-check:** no exercise checked."
        rows = ["| exercise | problem set | visible cases |", "| --- | --- | --- |"]
        for r in self.results:
            verdict = "\u2714 pass" if r.passed else "\u2718 " + _first_line(r.message).replace("|", "\\|")
            rows.append(f"| `{r.exercise}` | {r.assignment} | {verdict} |")
        return f"**Self-check: {self._summary()}.**\n\n" + "\n".join(rows)

    def _repr_html_(self) -> str:
        if not self.results:
            return "<p><b>Self-check:</b> no exercise checked.</p>"
        rows = "".join(
            f"<tr><td><code>{escape(r.exercise)}</code></td><td>{escape(r.assignment)}</td>"
            f"<td>{'&#10004; pass' if r.passed else '&#10008; ' + escape(_first_line(r.message))}</td></tr>"
            for r in self.results)
        return (f"<p><b>Self-check: {escape(self._summary())}.</b></p><table><thead><tr><th>exercise</th>"
                f"<th>problem set</th><th>visible cases</th></tr></thead><tbody>{rows}</tbody></table>")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def assignments() -> tuple[dict, dict]:
    """The problem-set packages of :mod:`autograder`, found by name (``ps1``, ``ps2``, ...).

    Returns ``(loaded, broken)``: ``{"ps1": module, ...}`` for every package with ``EXERCISES``,
    and ``{"psN": "the import error"}`` for any that cannot be imported (one being written), so
    that one broken problem set does not stop the others from being checked.
    """
    import autograder
    loaded, broken = {}, {}
    names = sorted((m.name for m in pkgutil.iter_modules(autograder.__path__) if _PACKAGE.fullmatch(m.name)),
                   key=lambda n: int(n[2:]))
    for name in names:
        try:
            module = importlib.import_module(f"autograder.{name}")
        except Exception as exc:  # noqa: BLE001 - a problem set being written must not break the others
            broken[name] = f"{type(exc).__name__}: {exc}"
            continue
        if isinstance(getattr(module, "EXERCISES", None), dict):
            loaded[name] = module
    return loaded, broken


def _package_of(assignment: str, loaded: dict, broken: dict) -> str:
    """``"ps1"`` for ``"ps1"`` or ``"ps1_linear_quantization"``; :class:`SelfCheckError` otherwise."""
    text = str(assignment).strip()
    package = text.split("_", 1)[0].lower()
    known = sorted(loaded, key=lambda n: int(n[2:]))
    full_names = sorted(p.name for p in _COURSE_SOURCE.iterdir() if p.is_dir()) if _COURSE_SOURCE.is_dir() else []
    if package in broken:
        raise SelfCheckError(f"the checks of {package} cannot be loaded right now ({broken[package]}).")
    if package not in loaded or ("_" in text and full_names and text not in full_names):
        choices = ", ".join(repr(n) for n in (full_names or known))
        raise SelfCheckError(f"unknown assignment {assignment!r}: use one of {choices} (or its short name, e.g. 'ps1').")
    return package


def _resolve(names: list, assignment: str | None) -> dict:
    """Map each exercise name to the package whose ``EXERCISES`` has it."""
    loaded, broken = assignments()
    if assignment is not None:
        package = _package_of(assignment, loaded, broken)
        scope = {package: loaded[package]}
    else:
        scope = loaded
    where = {name: [p for p, m in scope.items() if name in m.EXERCISES] for name in names}
    resolved = {}
    for name, packages in where.items():
        if not packages:
            everything = sorted({e for m in scope.values() for e in m.EXERCISES})
            close = difflib.get_close_matches(name, everything, n=3)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            in_which = f"in {assignment!r}" if assignment is not None else "in any problem set"
            unloaded = (f" (the checks of {', '.join(sorted(broken))} could not be loaded)"
                        if broken and assignment is None else "")
            raise SelfCheckError(
                f"no exercise is called {name!r} {in_which}{unloaded}.{hint} check() finds the exercise by "
                f"the function's name: define it with the name the problem set gives it.")
        if len(packages) > 1:
            raise SelfCheckError(
                f"{name!r} is an exercise of {' and '.join(packages)}: say which one, e.g. "
                f"check({name}, assignment={packages[0]!r}).")
        resolved[name] = packages[0]
    return resolved


def _run_one(module: ModuleType, package: str, name: str, func) -> ExerciseResult:
    """Run the visible cases through ``check_<name>``, as the visible test cell does."""
    checker = getattr(module, f"check_{name}", None)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            if checker is not None:
                checker(func)
            else:  # a problem set without a check_<name> wrapper: the runner it would call
                from .checking import run_check
                run_check(module.EXERCISES[name], func, "visible")
    except CheckFailed as failure:
        notes = out.getvalue().strip()
        return ExerciseResult(name, package, False, str(failure) + (f"\n{notes}" if notes else ""))
    except Exception as exc:  # noqa: BLE001 - report, never raise, whatever the student's function did
        return ExerciseResult(name, package, False,
                              f"the check could not run {name}: {type(exc).__name__}: {exc}")
    return ExerciseResult(name, package, True, out.getvalue().strip() or f"{name}: visible cases passed.")


def _exercise_functions(namespace: dict) -> list:
    """The functions defined in ``namespace`` (not imported into it) whose name is an exercise's."""
    loaded, _ = assignments()
    exercises = {e for m in loaded.values() for e in m.EXERCISES}
    module = namespace.get("__name__")
    return [value for key, value in namespace.items()
            if key in exercises and inspect.isfunction(value) and value.__name__ == key
            and value.__module__ == module]


def check(*functions, assignment: str | None = None) -> CheckReport:
    """Check exercise functions on their assignment's visible cases and print a short report.

    Parameters
    ----------
    *functions : callable
        The functions to check, each named as its exercise (``quantize``, ``asymmetric_qparams``,
        ...). With none, every function defined in the caller's namespace (a notebook's globals)
        whose name is an exercise's is checked.
    assignment : str, optional
        The problem set to look in, as ``"ps1"`` or ``"ps1_linear_quantization"``; needed only when
        two problem sets have an exercise of the same name.

    Returns
    -------
    CheckReport
        One result per function; ``report.passed`` is True when every one passed. In a notebook it
        displays as a summary table.

    Raises
    ------
    SelfCheckError
        For a call that cannot be carried out: an argument that is not a function, a name that is
        no exercise's, a name two problem sets share (without ``assignment``), an unknown
        assignment. A wrong answer never raises.

    Examples
    --------
    >>> import numpy as np
    >>> def dequantize(q, scale, zero_point):
    ...     return scale * (np.asarray(q, dtype=np.int64) - zero_point)
    >>> report = check(dequantize)
    ✔ dequantize (ps1): all 2 visible cases passed.
    >>> report.passed
    True
    """
    if functions:
        for func in functions:
            if not callable(func) or not isinstance(getattr(func, "__name__", None), str):
                raise SelfCheckError(
                    f"check() takes the exercise functions themselves, e.g. check(quantize), not "
                    f"{type(func).__name__} {func!r:.60}.")
        funcs = list(functions)
    else:
        caller = sys._getframe(1).f_globals
        funcs = _exercise_functions(caller)
        if not funcs:
            print("No exercise function found: define one (e.g. `def quantize(...)`), run its cell, "
                  "then call check() again, or pass it: check(quantize).")
            return CheckReport()
    names = list(dict.fromkeys(f.__name__ for f in funcs))
    resolved = _resolve(names, assignment)
    loaded, _ = assignments()
    report = CheckReport([_run_one(loaded[resolved[f.__name__]], resolved[f.__name__], f.__name__, f)
                          for f in funcs])
    if len(report.results) == 1:
        print(report.results[0].details())
    else:
        for result in report.results:
            print(result.headline)
        failing = [r.exercise for r in report.results if not r.passed]
        if failing:
            print(f"For the full diagnostic: check({failing[0]}).")
    return report
