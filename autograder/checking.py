"""The check runner: compare a student's function with the reference on a suite of cases.

A check is declared by an :class:`Exercise`: the reference (a call into :mod:`quantref`), a
comparison that explains a difference in words, the cases, and a catalogue of known
:class:`Mistake` s.  :func:`run_check` runs every case and either prints a one-line success or
raises :class:`~autograder.harness.CheckFailed` with

* the case that failed (its inputs for visible cases; only its label for hidden ones, so that
  feedback never reveals the hidden inputs),
* what differed, and
* the name of the mistake, when the student's output matches a known wrong implementation.

A function that calls :mod:`quantref` gets no credit: the exercise is to implement it.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .harness import CheckFailed, call_student, quiet

SUITES = ("visible", "hidden")


@dataclass
class Case:
    """One input for a student's function: keyword arguments and a short label."""

    label: str
    args: dict


@dataclass
class Mistake:
    """A known wrong answer, recognised from the student's output.

    ``matches(got, args, expected)`` returns True when ``got`` is what this mistake produces on
    ``args``; :meth:`from_function` builds it from a wrong implementation and the exercise's
    comparison.
    """

    name: str
    matches: Callable[[Any, dict, Any], bool]

    @classmethod
    def from_function(cls, name: str, wrong: Callable, compare: Callable) -> "Mistake":
        def matches(got, args, expected):
            try:
                with quiet(), np.errstate(all="ignore"):
                    produced = wrong(**copy.deepcopy(args))
            except Exception:  # noqa: BLE001 - a mistake that cannot run on this case does not match
                return False
            return compare(got, produced) is None
        return cls(name, matches)


@dataclass
class Exercise:
    """Everything a check needs to grade one function."""

    name: str                                   #: the function the student writes
    reference: Callable                         #: same signature, calls quantref
    compare: Callable[[Any, Any], str | None]   #: None if equal, else what differs
    cases: Callable[[str, int], list]           #: (suite, seed) -> list of Case
    mistakes: list = field(default_factory=list)
    time_limit: float = 10.0                    #: seconds per case


def _short(value, limit: int = 300) -> str:
    with np.printoptions(precision=6, threshold=20, edgeitems=3, linewidth=100):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(case: Case, suite: str, index: int, n: int) -> str:
    if suite == "hidden":
        return f"hidden case {index + 1} of {n} ({case.label})"
    args = ", ".join(f"{k}={_short(v, 160)}" for k, v in case.args.items())
    return f"case {index + 1} of {n} ({case.label}): {args}"


def _diagnose(exercise: Exercise, got, case: Case, expected) -> list[str]:
    found = []
    for mistake in exercise.mistakes:
        try:
            if mistake.matches(got, case.args, expected):
                found.append(mistake.name)
        except Exception:  # noqa: BLE001 - a diagnosis must never crash the check
            continue
    return found


def run_check(exercise: Exercise, func, suite: str = "visible", seed: int = 0) -> int:
    """Grade ``func`` on the ``suite`` cases of ``exercise``; return the number of cases passed.

    Raises :class:`CheckFailed` (an ``AssertionError``) on the first kind of failure, with a
    message meant for the student.  Nothing is written to stderr.
    """
    __tracebackhide__ = True  # IPython and pytest hide this frame in tracebacks
    if suite not in SUITES:
        raise ValueError(f"suite must be one of {SUITES}, got {suite!r}")
    name = exercise.name
    if not callable(func):
        raise CheckFailed(f"{name} must be a function, but it is {type(func).__name__}. "
                          f"Run the cell that defines it, then this one.")
    with quiet():
        cases = exercise.cases(suite, seed)
    failures = []
    notes = set()
    for i, case in enumerate(cases):
        with quiet(), np.errstate(all="ignore"):
            expected = exercise.reference(**copy.deepcopy(case.args))
        run = call_student(func, time_limit=exercise.time_limit, **copy.deepcopy(case.args))
        where = _describe(case, suite, i, len(cases))
        if run.quantref_calls:
            raise CheckFailed(
                f"{name} calls the reference library ({', '.join(run.quantref_calls[:3])}). The exercise "
                f"is to implement it yourself with NumPy; quantref is what your answer is checked "
                f"against, so calling it earns no credit.")
        if run.timed_out:
            raise CheckFailed(f"{name} took longer than {exercise.time_limit:g} s on {where}; "
                              f"look for an endless loop, or vectorise with NumPy.")
        if isinstance(run.error, NotImplementedError):
            raise CheckFailed(f"{name} is not implemented yet: replace `raise NotImplementedError()` "
                              f"with your code.")
        if run.error is not None:
            raise CheckFailed(f"{name} raised {type(run.error).__name__}: {run.error} on {where}.") from None
        if run.stderr.strip() or run.warnings:
            notes.add("your function wrote warnings or to stderr (not an error, but worth a look): "
                      + _short((run.stderr.strip() + " " + " ".join(run.warnings)).strip(), 200))
        difference = exercise.compare(run.value, expected)
        if difference is not None:
            failures.append((where, difference, _diagnose(exercise, run.value, case, expected)))
    for note in sorted(notes):
        print(f"note: {note}")
    if failures:
        where, difference, mistakes = failures[0]
        message = [f"{name} is wrong on {len(failures)} of {len(cases)} {suite} cases.",
                   f"First failure, {where}:", f"  {difference}"]
        # a mistake that explains every failing case beats one that explains only some
        common = set.intersection(*(set(ms) for _, _, ms in failures))
        named = sorted(common or {m for _, _, ms in failures for m in ms})
        if named:
            message.append("Likely mistake: " + "; ".join(named))
        raise CheckFailed("\n".join(message))
    print(f"\u2714 {name}: all {len(cases)} {suite} cases passed.")
    return len(cases)


# -- comparisons shared by the exercises -------------------------------------------------------

def compare_integer_array(got, expected, dtype=None) -> str | None:
    """Exact comparison of integer codes (shape, dtype if given, every value)."""
    if not isinstance(got, np.ndarray):
        return f"expected a NumPy array, got {type(got).__name__}"
    if got.shape != expected.shape:
        return f"shape {got.shape}, expected {expected.shape}"
    if dtype is not None and got.dtype != np.dtype(dtype):
        return f"dtype {got.dtype}, expected {np.dtype(dtype)} (cast with .astype(np.{np.dtype(dtype).name}) after clipping)"
    if np.issubdtype(got.dtype, np.floating) and not np.all(np.isfinite(got)):
        return "the result contains NaN or inf"
    diff = np.asarray(got).astype(np.float64) != expected.astype(np.float64)
    if np.any(diff):
        idx = tuple(int(i) for i in np.argwhere(diff)[0])
        at = f" at index {idx}" if got.ndim else ""
        return (f"{int(diff.sum())} of {diff.size} values differ; first{at}: got {got[idx] if got.ndim else got}, "
                f"expected {expected[idx] if expected.ndim else expected}")
    return None


def compare_float_array(got, expected, rtol: float, atol: float = 0.0) -> str | None:
    """Float comparison with a stated tolerance."""
    try:
        arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return f"expected numbers, got {type(got).__name__}"
    expected = np.asarray(expected, dtype=np.float64)
    if arr.shape != expected.shape:
        return f"shape {arr.shape}, expected {expected.shape}"
    if not np.all(np.isfinite(arr)):
        return "the result contains NaN or inf"
    bad = ~np.isclose(arr, expected, rtol=rtol, atol=atol)
    if np.any(bad):
        if arr.ndim == 0:
            return f"got {float(arr)!r}, expected {float(expected)!r}"
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        return (f"{int(bad.sum())} of {bad.size} values differ; first at index {idx}: got {arr[idx]!r}, "
                f"expected {expected[idx]!r}")
    return None


def compare_tuple(got, expected, parts: list[tuple[str, Callable]]) -> str | None:
    """Compare a returned tuple part by part: ``parts`` is ``[(name, compare), ...]``."""
    if not isinstance(got, (tuple, list)) or len(got) != len(parts):
        return f"expected a tuple ({', '.join(n for n, _ in parts)}), got {_short(got, 120)}"
    for (label, cmp), g, e in zip(parts, got, expected):
        difference = cmp(g, e)
        if difference is not None:
            return f"{label}: {difference}"
    return None


def require_implemented(exercise: Exercise, func) -> None:
    """Fail if ``func`` is missing or still raises ``NotImplementedError`` (used before hidden tests).

    Any other outcome passes here; the hidden cases that follow do the grading.  This keeps an
    untouched student notebook failing every test cell, hidden ones included.
    """
    __tracebackhide__ = True
    if not callable(func):
        raise CheckFailed(f"{exercise.name} must be a function, but it is {type(func).__name__}.")
    first = exercise.cases("visible", 0)[0]
    run = call_student(func, time_limit=exercise.time_limit, **copy.deepcopy(first.args))
    if isinstance(run.error, NotImplementedError):
        raise CheckFailed(f"{exercise.name} is not implemented yet: replace `raise NotImplementedError()` "
                          f"with your code.")
