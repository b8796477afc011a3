"""Checks peculiar to problem set 6 (what every problem set shares is tested in tests/test_checks.py).

The correct solution is the one in the instructor's source notebook (extracted from its
solution cells), so the checks are tested against exactly what students are graded on.
Each wrong implementation in ``tests/fixtures/ps6_wrong`` must fail its check with a message
that names its mistake; a function that calls quantref must fail too.
"""
from __future__ import annotations


import numpy as np
import pytest

from autograder.checking import run_check
from autograder import CheckFailed, ps6
from autograder.ps6 import cases, mistakes
from course_helpers import FIXTURES, load_fixture, solution_namespace

WRONG = sorted((FIXTURES / "ps6_wrong").glob("*.py"))


@pytest.fixture(scope="module")
def solution():
    return solution_namespace("ps6_product_quantization")


@pytest.mark.parametrize("exercise", sorted(mistakes.WRONG))
def test_every_named_mistake_is_caught_by_the_hidden_cases(exercise):
    """Each wrong implementation fails; it is named, or (a transposed index) its error is reported."""
    for label, wrong in mistakes.WRONG[exercise]():
        with pytest.raises(CheckFailed) as info:
            run_check(ps6.EXERCISES[exercise], wrong, "hidden")
        message = str(info.value)
        if label in mistakes.SHAPE_ERRORS:
            assert label in message or " raised " in message or "shape" in message, (exercise, label, message)
        else:
            assert label in message, (exercise, label, message)


def test_transposed_layouts_are_named_on_square_inputs():
    """Where the shapes agree (M = K, nq = N), a transposed table or result is named instead of erroring."""
    rng = np.random.default_rng(0)
    T = rng.integers(0, 256, size=(4, 4, 4)).astype(np.uint8)
    codes = rng.integers(0, 4, size=(4, 4)).astype(np.uint8)
    args = dict(tables=T, codes=codes)
    exercise = ps6.EXERCISES["aggregate"]
    expected = exercise.reference(**args)
    for label in (mistakes.AGG_TRANSPOSED, "the table was indexed as T[j, k, m]"):
        wrong = next(w for name, w in mistakes.aggregate_wrong() if name.startswith(label))
        produced = wrong(**args)
        assert exercise.compare(produced, expected) is not None
        assert any(m.name.startswith(label) for m in exercise.mistakes if m.matches(produced, args, expected))
    P = rng.normal(size=(4, 4, 2))
    args = dict(Q=rng.normal(size=(3, 8)), prototypes=P, metric="ip")
    tables = ps6.EXERCISES["build_tables"]
    produced = dict(mistakes.tables_wrong())[mistakes.TABLES_TRANSPOSED](**args)
    assert mistakes.TABLES_TRANSPOSED in [m.name for m in tables.mistakes
                                           if m.matches(produced, args, tables.reference(**args))]


def test_integer_sums_are_exact_and_beyond_uint8(solution):
    """uint8 tables give exact integer sums, far above 255, compared exactly as int64."""
    from quantref.pq import scan
    rng = np.random.default_rng(3)
    T = rng.integers(200, 256, size=(2, 64, 16)).astype(np.uint8)
    codes = rng.integers(0, 16, size=(50, 64)).astype(np.uint8)
    got = solution["aggregate"](T, codes)
    reference = scan(codes, T).astype(np.int64)
    assert np.issubdtype(np.asarray(got).dtype, np.integer)
    assert np.array_equal(np.asarray(got, dtype=np.int64), reference)
    assert reference.min() > 255 * 40                                       # far beyond what uint8 holds


def test_training_data_avoid_near_ties_and_empty_clusters():
    """The hidden training inputs are ones where float32 and float64 k-means take the same path."""
    for seed in range(4):
        for case in cases.train_cases("hidden", seed):
            X, M, K = case.args["X"], case.args["M"], case.args["K"]
            assert np.array_equal(X.astype(np.float32).astype(np.float64), X), case.label   # exact in float32
            if X.shape[1] % M == 0:
                d = X.shape[1] // M
                assert all(cases._trajectory_is_safe(X[:, m * d:(m + 1) * d], K, case.args["niter"],
                                                     case.args["seed"] + m) for m in range(M)), case.label


def test_value_error_is_required_when_m_does_not_divide_d(solution):
    message = None
    try:
        ps6.check_train_prototypes(load_fixture(FIXTURES / "ps6_wrong" / "train_no_value_error.py").train_prototypes)
    except CheckFailed as exc:
        message = str(exc)
    assert message and "must raise ValueError" in message and mistakes.TRAIN_NO_ERROR in message

    def train_prototypes(X, M, K, niter=10, seed=0):
        if M > 1:
            raise ValueError("only one subspace, please")
        return solution["train_prototypes"](X, M, K, niter, seed)
    with pytest.raises(CheckFailed, match="raised ValueError .* although D is divisible by M"):
        ps6.check_train_prototypes(train_prototypes)


def test_wrong_types_are_explained(solution):
    def encode(X, prototypes):
        return solution["encode"](X, prototypes).astype(np.int64)
    with pytest.raises(CheckFailed, match=r"dtype int64, expected uint8"):
        ps6.check_encode(encode)

    def aggregate(tables, codes):
        return solution["aggregate"](tables, codes).astype(np.float64)
    with pytest.raises(CheckFailed, match=r"expected integers for uint8 tables"):
        ps6.check_aggregate(aggregate)

    def quantize_tables(tables):
        q, offsets, scale = solution["quantize_tables"](tables)
        return q, offsets, scale[:, None, None]
    with pytest.raises(CheckFailed, match=r"scale: shape"):
        ps6.check_quantize_tables(quantize_tables)


def test_errors_in_student_code_become_messages():
    def build_tables(Q, prototypes, metric="ip"):
        return Q @ prototypes                      # shapes that do not fit
    with pytest.raises(CheckFailed, match="ValueError"):
        ps6.check_build_tables(build_tables)


