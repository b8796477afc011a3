"""Checks peculiar to problem set 8 (what every problem set shares is tested in tests/test_checks.py).

* every named mistake of :mod:`autograder.ps8.mistakes` fails the hidden cases and is named;
* the mistakes' NumPy implementations, with nothing switched on, give exactly quantref's answers
  (each mistake is then one switch away from a correct answer);
* the FP8 cases are what the exercise promises: every one of the 256 codes for decoding, every
  finite value and every exact tie for encoding, for the public seed and secret-like seeds; and the
  expected codes agree with ml_dtypes (an independent implementation: clip to +-448, then cast);
* the GPTQ and AWQ cases keep their codes and their choice when the float arithmetic is reordered
  (the premise of comparing codes and alpha exactly);
* the two written questions are hand-graded markdown answer cells whose rubric the student
  version replaces by "YOUR ANSWER HERE", and the worked solution shows without markers.
"""
from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from autograder import CheckFailed, ps8
from autograder.checking import run_check
from autograder.ps8 import cases, mistakes
from course_helpers import solution_namespace

SEEDS = [0, 0x5EC2E7, 2 ** 63 + 12345]
ASSIGNMENT = "ps8_low_bit_weights"


@pytest.fixture(scope="module")
def solution():
    return solution_namespace(ASSIGNMENT)


@pytest.mark.parametrize("exercise", sorted(mistakes.WRONG))
def test_every_named_mistake_is_caught_and_named_by_the_hidden_cases(exercise):
    for label, wrong in mistakes.WRONG[exercise]():
        with pytest.raises(CheckFailed) as info:
            run_check(ps8.EXERCISES[exercise], wrong, "hidden")
        assert label in str(info.value), (exercise, label, str(info.value))


_CORRECT = {"groupwise_quantize": mistakes.groupwise, "pack_nibbles": mistakes.pack, "unpack_nibbles": mistakes.unpack,
            "gptq_quantize": mistakes.gptq, "awq_search": mistakes.awq, "encode_e4m3": mistakes.encode_e4m3,
            "decode_e4m3": mistakes.decode_e4m3, "encode_nf4": mistakes.encode_nf4}


@pytest.mark.parametrize("exercise", sorted(_CORRECT))
def test_the_mistakes_with_no_switch_on_are_correct(exercise):
    """A mistake differs from the exercise in one switch: with every switch off it passes every case."""
    for suite in ("visible", "hidden"):
        run_check(ps8.EXERCISES[exercise], _CORRECT[exercise], suite)


@pytest.mark.parametrize("seed", SEEDS)
def test_decode_cases_hold_every_code(seed):
    hidden = cases.decode_cases("hidden", seed)
    codes = np.concatenate([np.ravel(c.args["codes"]) for c in hidden])
    assert set(codes.tolist()) == set(range(256))
    assert any(np.array_equal(c.args["codes"], np.arange(256, dtype=np.uint8)) for c in hidden)


@pytest.mark.parametrize("seed", SEEDS)
def test_encode_cases_hold_every_value_every_tie_and_the_edges(seed):
    xs = [np.asarray(c.args["x"], dtype=np.float64).ravel() for c in cases.encode_cases("hidden", seed)]
    x = np.concatenate(xs)
    finite = np.unique(np.abs(cases.e4m3_values()))
    assert finite.size == 127 and finite[-1] == 448.0 and finite[1] == 2.0 ** -9
    assert set(finite) <= set(np.abs(x[np.isfinite(x)]))
    mids = (finite[:-1] + finite[1:]) / 2
    present = set(x[np.isfinite(x)])
    assert all(m in present and -m in present for m in mids), "every midpoint, both signs"
    assert 464.0 in present and np.isposinf(x).any() and np.isneginf(x).any() and np.isnan(x).any()
    zeros = x[x == 0]
    assert np.signbit(zeros).any() and (~np.signbit(zeros)).any(), "+0 and -0"
    # float64 values beside a tie, which a float32 intermediate would round onto it
    beside = x[np.isfinite(x) & (x.astype(np.float32).astype(np.float64) != x)]
    assert np.isin(np.abs(beside.astype(np.float32)).astype(np.float64), mids).sum() >= 100


def _ml_dtypes_saturating(x) -> np.ndarray:
    """The exercise's rule from an independent implementation: NaN -> 0x7F, else clip to +-448 and cast."""
    x = np.asarray(x, dtype=np.float64)
    codes = np.clip(x, -448.0, 448.0).astype(ml_dtypes.float8_e4m3fn).view(np.uint8)
    return np.where(np.isnan(x), np.uint8(0x7F), codes)


@pytest.mark.parametrize("seed", SEEDS)
def test_expected_e4m3_codes_agree_with_ml_dtypes(seed):
    exercise = ps8.EXERCISES["encode_e4m3"]
    for case in exercise.cases("visible", 0) + exercise.cases("hidden", seed):
        np.testing.assert_array_equal(exercise.reference(**case.args), _ml_dtypes_saturating(case.args["x"]),
                                      err_msg=case.label)
    decode = ps8.EXERCISES["decode_e4m3"]
    codes = np.arange(256, dtype=np.uint8)
    expected = codes.view(ml_dtypes.float8_e4m3fn).astype(np.float32)
    assert decode.compare(decode.reference(codes=codes), expected) is None


def test_the_tolerances_cover_a_reordered_gptq(solution):
    """An answer that computes U another way (inverse, then Cholesky) still gets every code of every case."""
    def other_order(w, hessian, group_size, bits=4):
        return mistakes.gptq(w, hessian, group_size, bits)       # U = cholesky(inv(H)).T, one column at a time
    for suite in ("visible", "hidden"):
        run_check(ps8.EXERCISES["gptq_quantize"], other_order, suite)
    for seed in SEEDS:
        for case in cases.gptq_cases("hidden", seed):
            assert cases.gptq_is_robust(case.args["w"], case.args["hessian"], case.args["group_size"],
                                        case.args["bits"]), case.label


@pytest.mark.parametrize("seed", SEEDS)
def test_awq_cases_have_a_clear_winner_or_an_exact_tie(seed):
    from quantref.lowbit import awq_quantize
    for case in cases.awq_cases("hidden", seed):
        a = case.args
        errors = awq_quantize(a["w"], a["x"], a["bits"], a["group_size"], grid=a["grid"]).errors
        if np.all(errors == errors[0]):
            assert "ties" in case.label
        else:
            best, second = np.sort(errors)[:2]
            assert second - best > 1e-7 * best, case.label


def test_hidden_cases_are_the_same_for_the_same_seed_and_differ_between_seeds():
    for name, exercise in ps8.EXERCISES.items():
        a, b = exercise.cases("hidden", 0x5EC2E7), exercise.cases("hidden", 0x5EC2E7)
        assert [c.label for c in a] == [c.label for c in b], name
        for ca, cb in zip(a, b):
            for key in ca.args:
                assert np.array_equal(np.asarray(ca.args[key]), np.asarray(cb.args[key]), equal_nan=True), name
    w0 = cases.gptq_cases("hidden", 1)[0].args["w"]
    w1 = cases.gptq_cases("hidden", 2)[0].args["w"]
    assert not np.array_equal(w0, w1)
