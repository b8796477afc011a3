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
import inspect
import os
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .harness import CheckFailed, StudentCall, call_student, quiet

SUITES = ("visible", "hidden")


class HiddenCasesUnavailable(RuntimeError):
    """The student bundle ships no hidden cases: they run when the notebook is graded."""


@dataclass
class Case:
    """One input for a student's function: keyword arguments and a short label."""

    label: str
    args: dict


def fill_shared_nonfinite(got, produced, fill=0.0):
    """``(got, produced)`` with ``fill`` wherever both hold the same inf or NaN (parts of tuples alike).

    A mistake can divide by zero, as the student does: no clamp on a zero channel gives a factor of
    inf, dividing by the norm of an all-zero output gives inf.  The exercise's comparison rejects
    any non-finite answer (the reference never gives one), so the two outputs would not match; the
    same inf or NaN at the same places is the same answer, and the finite rest is compared as usual.
    """
    if isinstance(got, (tuple, list)) and isinstance(produced, (tuple, list)) and len(got) == len(produced):
        pairs = [fill_shared_nonfinite(g, p, fill) for g, p in zip(got, produced)]
        rebuild = lambda seq, items: tuple(items) if isinstance(seq, tuple) else list(items)  # noqa: E731
        return rebuild(got, (g for g, _ in pairs)), rebuild(produced, (p for _, p in pairs))
    try:
        g = np.array(got, dtype=np.float64)
        p = np.array(produced, dtype=np.float64)
    except (TypeError, ValueError):
        return got, produced
    bad = ~np.isfinite(g)
    if (g.shape != p.shape or not bad.any() or not np.array_equal(bad, ~np.isfinite(p))
            or not np.array_equal(g[bad], p[bad], equal_nan=True)):
        return got, produced
    g[bad] = p[bad] = fill
    return (float(g), float(p)) if g.ndim == 0 else (g, p)


@dataclass
class Mistake:
    """A known wrong answer, recognised from the student's output.

    ``matches(got, args, expected)`` returns True when ``got`` is what this mistake produces on
    ``args``; :meth:`from_function` builds it from a wrong implementation and the exercise's
    comparison (the same inf or NaN at the same places counting as equal: see
    :func:`fill_shared_nonfinite`).
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
            return compare(*fill_shared_nonfinite(got, produced)) is None
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
    points: tuple = (1, 2)                      #: (visible, hidden) test cells' points
    raises: tuple = ()                          #: exception types that are an answer (kept as :class:`Raised`)
    compare_raised: bool = False                #: ``compare`` words a :class:`Raised` itself

    @property
    def signature(self) -> tuple:
        """The argument names the student's function takes (the reference's)."""
        return tuple(inspect.signature(self.reference).parameters)

    @property
    def cells(self) -> dict:
        """The nbgrader test cells of this exercise: ``{grade_id: suite}``."""
        return {f"{self.name}_visible": "visible", f"{self.name}_hidden": "hidden"}


class Raised:
    """An exception kept as a value: what a case expects when the input must be refused."""

    def __init__(self, message: str = "", type_name: str = "ValueError"):
        self.message, self.type_name = message, type_name

    def __repr__(self):
        return f"{self.type_name}({self.message!r})"


def _short(value, limit: int = 300) -> str:
    with np.printoptions(precision=6, threshold=20, edgeitems=3, linewidth=100):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(case: Case, suite: str, index: int, n: int) -> str:
    if suite == "hidden":
        return f"hidden case {index + 1} of {n} ({case.label})"
    args = ", ".join(f"{k}={_short(v, 160)}" for k, v in case.args.items())
    return f"case {index + 1} of {n} ({case.label}): {args}"


def _diagnose(exercise: Exercise, got, case: Case, expected) -> set[str]:
    found = set()
    for mistake in exercise.mistakes:
        try:
            if mistake.matches(got, case.args, expected):
                found.add(mistake.name)
        except Exception:  # noqa: BLE001 - a diagnosis must never crash the check
            continue
    return found


def local_call(func, time_limit: float):
    """How the notebook runs a case: the student's function in this process (:func:`call_student`)."""
    def call(args: dict) -> StudentCall:
        return call_student(func, time_limit=time_limit, **copy.deepcopy(args))
    return call


@dataclass
class Verdict:
    """The outcome of one suite of one exercise: what a test cell's score and message come from."""

    exercise: str
    suite: str
    passed: bool
    message: str                  #: the success line, or the diagnostic for the student
    cases: int = 0
    failed: int = 0
    mistake: str | None = None    #: the named mistake, only when it reproduces every failing case
    notes: list = field(default_factory=list)


def _refusal(exercise: Exercise, run: StudentCall, where: str) -> str | None:
    """A message for a call that gave no answer to compare (an error, a timeout, a stub, the reference)."""
    name = exercise.name
    if run.quantref_calls or (run.error_type in ("ModuleNotFoundError", "ImportError")
                              and "quantref" in run.error_message):
        calls = run.quantref_calls[0] if run.quantref_calls else "quantref"   # the outermost: the one it made
        return (f"{name} calls the reference library ({calls}). The exercise is to implement it yourself with "
                f"NumPy; quantref is what your answer is checked against, so calling it earns no credit.")
    if run.missing:
        return f"{name} is not defined: {run.missing}. Run the cell that defines it."
    if run.timed_out:
        return (f"{name} took longer than {exercise.time_limit:g} s on {where}; look for an endless loop, or "
                f"vectorise with NumPy.")
    if run.error_type == "NotImplementedError":
        return f"{name} is not implemented yet: replace `raise NotImplementedError()` with your code."
    if run.error_type is not None:
        return f"{name} raised {run.error_type}: {run.error_message} on {where}."
    return None


def _expected(exercise: Exercise, case: Case):
    with quiet(), np.errstate(all="ignore"):
        try:
            return exercise.reference(**copy.deepcopy(case.args))
        except Exception as exc:
            if type(exc).__name__ in exercise.raises:
                return Raised(str(exc), type(exc).__name__)
            raise


def _compare(exercise: Exercise, got, expected) -> str | None:
    if not exercise.compare_raised and (isinstance(got, Raised) or isinstance(expected, Raised)):
        if isinstance(got, Raised) and isinstance(expected, Raised):
            return None
        if isinstance(expected, Raised):
            return (f"returned {_short(got, 120)}; this input must raise an error ({' or '.join(exercise.raises)}), "
                    f"as quantref does: {expected!r}")
        return f"raised {got!r} although this input is valid"
    return exercise.compare(got, expected)


def evaluate(exercise: Exercise, suite: str, seed: int, call) -> Verdict:
    """Run every ``suite`` case through ``call(args) -> StudentCall`` and judge the answers.

    The expected values, the comparison and the diagnosis are computed here, by the caller's
    process: in the notebook for the visible checks, in the trusted grader for the grade.
    A mistake is named only when its wrong implementation reproduces the student's output on every
    failing case; otherwise the message says that no known mistake matches.
    """
    if suite not in SUITES:
        raise ValueError(f"suite must be one of {SUITES}, got {suite!r}")
    with quiet():
        cases = exercise.cases(suite, seed)
    failures, notes = [], set()
    for i, case in enumerate(cases):
        where = _describe(case, suite, i, len(cases))
        run = call(case.args)
        if exercise.raises and set(run.error_mro) & set(exercise.raises):
            run = StudentCall(value=Raised(run.error_message, run.error_type), stderr=run.stderr,
                              warnings=run.warnings)
        expected = _expected(exercise, case)
        refusal = _refusal(exercise, run, where)
        if refusal is not None and isinstance(expected, Raised) and run.error_type is not None:
            refusal = refusal.rstrip(".") + f"; this input must raise {' or '.join(exercise.raises)}."
        if refusal is not None:
            return Verdict(exercise.name, suite, False, refusal, len(cases), len(cases) - i)
        if run.stderr.strip() or run.warnings:
            notes.add("your function wrote warnings or to stderr (not an error, but worth a look): "
                      + _short((run.stderr.strip() + " " + " ".join(run.warnings)).strip(), 200))
        difference = _compare(exercise, run.value, expected)
        if difference is not None:
            failures.append((where, difference, case, run.value, expected))
    if not failures:
        return Verdict(exercise.name, suite, True, f"\u2714 {exercise.name}: all {len(cases)} {suite} cases passed.",
                       len(cases), 0, notes=sorted(notes))
    where, difference = failures[0][:2]
    named = set.intersection(*(_diagnose(exercise, got, case, expected) for _, _, case, got, expected in failures))
    message = [f"{exercise.name} is wrong on {len(failures)} of {len(cases)} {suite} cases.",
               f"First failure, {where}:", f"  {difference}"]
    mistake = " or ".join(sorted(named)) if named else None
    if mistake:
        message.append("Likely mistake: " + mistake)
    elif exercise.mistakes:
        message.append("No known mistake matches every failing case.")
    return Verdict(exercise.name, suite, False, "\n".join(message), len(cases), len(failures), mistake, sorted(notes))


def run_check(exercise: Exercise, func, suite: str = "visible", seed: int = 0) -> int:
    """Grade ``func`` on the ``suite`` cases of ``exercise``; return the number of cases passed.

    Raises :class:`CheckFailed` (an ``AssertionError``) when any case fails, with a message meant
    for the student.  Nothing is written to stderr.
    """
    __tracebackhide__ = True  # IPython and pytest hide this frame in tracebacks
    if not callable(func):
        raise CheckFailed(f"{exercise.name} must be a function, but it is {type(func).__name__}. "
                          f"Run the cell that defines it, then this one.")
    verdict = evaluate(exercise, suite, seed, local_call(func, exercise.time_limit))
    for note in verdict.notes:
        print(f"note: {note}")
    if not verdict.passed:
        raise CheckFailed(verdict.message)
    print(verdict.message)
    return verdict.cases


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


# -- the registry: one ProblemSet per problem set --------------------------------------------------

#: Set in the grading sandbox: the hidden cases are the trusted grader's business, not the notebook's.
GRADING_ENV = "AUTOGRADER_TRUSTED_GRADING"
#: The hidden cases' seed outside grading (self-study, worked solutions, tests).  Grading draws them
#: from the course secret instead (:mod:`autograder.secret`).
PUBLIC_SEED = 0


@dataclass
class ProblemSet:
    """Everything about one problem set's checks, declared once.

    From it come the notebook's ``check_<exercise>`` and ``require`` (:meth:`notebook_api`), the
    trusted grader's scoring (:mod:`autograder.grading.trusted`) and the test suite's parametrized
    checks (``tests/test_checks.py``).  Adding a problem set means writing one of these.
    """

    assignment: str                                     #: nbgrader's assignment name
    exercises: dict                                     #: name -> :class:`Exercise`, in notebook order
    uses: dict = field(default_factory=dict)            #: exercise -> exercises its solution calls

    def __post_init__(self):
        if isinstance(self.exercises, (list, tuple)):
            self.exercises = {e.name: e for e in self.exercises}

    @property
    def cells(self) -> dict:
        """``{grade_id: (exercise, suite)}`` for every autograded test cell."""
        return {gid: (e, suite) for e in self.exercises.values() for gid, suite in e.cells.items()}

    def check(self, name: str, func, suite: str = "visible", seed: int | None = None) -> None:
        __tracebackhide__ = True
        if suite == "hidden" and seed is None and os.environ.get(GRADING_ENV):
            print(f"The hidden cases of {name} are run by the grader, outside this notebook: your score for "
                  f"this cell comes from there.")
            return
        run_check(self.exercises[name], func, suite, PUBLIC_SEED if seed is None else seed)

    def require(self, name: str, func) -> None:
        """Fail while exercise ``name`` is still a stub; starts each hidden-test cell."""
        __tracebackhide__ = True
        require_implemented(self.exercises[name], func)

    def notebook_api(self) -> dict:
        """``check_<name>`` for every exercise, and ``require``: what the test cells import."""
        api = {"require": self.require}
        for name, exercise in self.exercises.items():
            def check(func, suite: str = "visible", seed: int | None = None, _name=name) -> None:
                __tracebackhide__ = True
                self.check(_name, func, suite, seed)
            check.__name__ = check.__qualname__ = f"check_{name}"
            check.__doc__ = (f"Check ``{name}({', '.join(exercise.signature)})`` on the visible cases "
                             f"(``suite='hidden'``: the hidden ones).")
            api[check.__name__] = check
        return api
