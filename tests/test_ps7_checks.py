"""Checks peculiar to problem set 7 (what every problem set shares is tested in tests/test_checks.py).

AdaRound on a layer is graded by the output error its rounding reaches, not bit for bit: these
tests show that a correct implementation written another way passes, that the exact parts of that
check (integers, on the grid, floor or floor + 1) and the tolerant part (below round-to-nearest,
within the stated factor of quantref) each fail a rounding they should, and that the hidden cases
are what the check's tolerance assumes for any seed.  Every named mistake of the other exercises
is caught by the hidden cases and named.
"""
from __future__ import annotations

import numpy as np
import pytest

from autograder import CheckFailed, ps7
from autograder.checking import evaluate, local_call
from autograder.ps7 import cases, mistakes
from course_helpers import solution_namespace
from quantref import adaround as ar

SEEDS = [0, 0x5EC2E7, 2 ** 63 + 12345]


@pytest.fixture(scope="module")
def solution():
    return solution_namespace("ps7_adaptive_rounding")


@pytest.mark.parametrize("exercise", sorted(mistakes.WRONG))
def test_every_named_mistake_is_caught_by_the_hidden_cases(exercise):
    for label, wrong in mistakes.WRONG[exercise]():
        with pytest.raises(CheckFailed) as info:
            ps7.PROBLEM_SET.check(exercise, wrong, "hidden")
        assert label in str(info.value), (exercise, label, str(info.value))


def _adaround_through_x(w, scale, x, bits, iters, lr):
    """A correct AdaRound written differently: products with X instead of the Gram matrix, tanh sigmoid,
    epsilon inside the square root.  Not bit-identical to quantref's after hundreds of steps."""
    qmax = 2 ** (bits - 1) - 1
    s = scale[:, None]
    n = len(x)
    floor = np.floor(w / s)

    def sigmoid(v):
        return 0.5 * (1 + np.tanh(0.5 * v))

    def error_grad(d):                      # gradient of sum ||x d^T||^2 / n with respect to the soft weight
        return -2 * ((x @ d.T).T @ x) / n

    near = w - s * np.clip(np.round(w / s), -qmax, qmax)
    r0 = np.sum((x @ near.T) ** 2) / n
    rest = w / s - floor
    p = (rest + 0.1) / 1.2
    v = np.log(p) - np.log1p(-p)
    m = np.zeros_like(v)
    u = np.zeros_like(v)
    start = round(0.2 * iters)
    for t in range(1, iters + 1):
        sg = sigmoid(v)
        raw = 1.2 * sg - 0.1
        h = np.clip(raw, 0, 1)
        dh = np.where((raw > 0) & (raw < 1), 1.2 * sg * (1 - sg), 0.0)
        q = floor + h
        g = error_grad(w - s * np.clip(q, -qmax, qmax)) / r0 * s * ((q >= -qmax) & (q <= qmax)) * dh
        if t - 1 >= start:
            beta = 20 - 18 * (t - 1 - start) / max(iters - start, 1)
            e = 2 * h - 1
            g += 0.01 * -2 * beta * np.abs(e) ** (beta - 1) * np.sign(e) * dh
        m = 0.9 * m + 0.1 * g
        u = 0.999 * u + 0.001 * g * g
        v -= lr * (m / (1 - 0.9 ** t)) / np.sqrt(u / (1 - 0.999 ** t) + 1e-16)
    return np.clip(floor + (v >= 0), -qmax, qmax).astype(np.int32)


@pytest.mark.parametrize("seed", SEEDS)
def test_adaround_written_another_way_passes(seed):
    exercise = ps7.EXERCISES["adaround_layer"]
    for suite in ("visible", "hidden"):
        verdict = evaluate(exercise, suite, seed, local_call(_adaround_through_x, exercise.time_limit))
        assert verdict.passed, verdict.message


def _case(suite="visible", i=0):
    case = cases.adaround_cases(suite, 0)[i]
    return case, ps7._ref_adaround(**case.args)


def test_adaround_exact_parts_of_the_check():
    case, expected = _case()
    a = case.args
    floor = np.floor(a["w"] / a["scale"][:, None]).astype(np.int64)
    compare = ps7.EXERCISES["adaround_layer"].compare
    assert compare(expected["codes"], expected) is None
    assert "integer codes" in compare(expected["codes"].astype(np.float64), expected)
    assert "integer codes" in compare(expected["codes"] > 0, expected)
    assert "NumPy array" in compare(expected["codes"].tolist(), expected)
    assert "shape" in compare(expected["codes"][:, :-1], expected)
    outside = expected["codes"].copy()
    outside[0, 0] = expected["qmax"] + 1
    assert "outside the grid" in compare(outside, expected)
    two_up = expected["codes"].copy()
    i, j = np.argwhere((floor + 2 <= expected["qmax"]) & (floor + 2 >= expected["qmin"]))[0]
    two_up[i, j] = floor[i, j] + 2
    assert "neither floor(W/s) nor floor(W/s) + 1" in compare(two_up, expected)


def test_adaround_tolerant_parts_of_the_check():
    case, expected = _case()
    a = case.args
    compare = ps7.EXERCISES["adaround_layer"].compare
    qmax = expected["qmax"]
    nearest = np.clip(np.round(a["w"] / a["scale"][:, None]), -qmax, qmax).astype(np.int64)
    assert "not below round-to-nearest" in compare(nearest, expected)
    # a rounding between quantref's and nearest's: passes below the factor, fails above it
    flips = np.argwhere(nearest != expected["codes"])
    assert len(flips) >= 4
    gram = a["x"].T @ a["x"] / len(a["x"])

    def error(c):
        d = a["w"] - a["scale"][:, None] * c
        return float(np.sum((d @ gram) * d))
    verdicts = []
    for k in range(len(flips) + 1):                  # undo the flips one by one
        c = expected["codes"].copy()
        for i, j in flips[:k]:
            c[i, j] = nearest[i, j]
        e = error(c)
        message = compare(c, expected)
        if e <= ps7.ADAROUND_FACTOR * expected["error"]:
            assert message is None, (k, e, message)
        else:
            assert message is not None and ("times that of quantref" in message or "not below" in message), message
        verdicts.append(message is None)
    assert verdicts[0] and not verdicts[-1]


@pytest.mark.parametrize("seed", SEEDS + [1, 2, 3])
def test_adaround_cases_are_what_the_tolerance_assumes(seed):
    """Every layer: quantref beats nearest by 20 %, on a grid of 2 to 4 bits, some with weights beyond it."""
    clipped = 0
    for suite in ("visible", "hidden"):
        for case in cases.adaround_cases(suite, seed):
            a = case.args
            res = ar.adaround_layer(a["w"], a["x"], a["bits"], iters=a["iters"], lr=a["lr"], scale=a["scale"],
                                    progress=False)
            assert res.error <= 0.8 * res.nearest_error, case.label
            q = a["w"] / a["scale"][:, None]
            assert np.all(np.abs(q - np.round(q)) >= 1e-3 - 1e-12), case.label    # floor is the same however one divides
            clipped += bool(np.any(np.abs(q) > 2 ** (a["bits"] - 1) - 1))
    assert clipped >= 2


@pytest.mark.parametrize("seed", SEEDS)
def test_other_cases_keep_off_the_edges(seed):
    """V is never within 1e-6 of +-log 11 (where h is clipped), and W/s never within 1e-4 of an integer
    unless the scale is a power of two (then W/s is exact however it is computed)."""
    edge = np.log(11.0)
    for make in (cases.sigmoid_cases, cases.regularizer_cases, cases.rounding_cases):
        for suite in ("visible", "hidden"):
            for case in make(suite, seed):
                v = np.asarray(case.args["v"], dtype=np.float64)
                assert np.all(np.abs(np.abs(v) - edge) >= 1e-6), case.label
    for make in (cases.initial_v_cases, cases.rounding_cases):
        for suite in ("visible", "hidden"):
            for case in make(suite, seed):
                s = np.asarray(case.args["scale"], dtype=np.float64)
                q = case.args["w"] / s[:, None]
                exact = np.log2(s) == np.round(np.log2(s))
                near = np.abs(q - np.round(q)) < 1e-4
                assert not np.any(near & ~exact[:, None]), case.label


def test_hard_rounding_cases_hold_v_exactly_zero():
    """V = 0 rounds up: the hidden cases have such entries, so 'V > 0' fails."""
    assert any(np.any(np.asarray(c.args["v"]) == 0) for c in cases.rounding_cases("hidden", 0))
    with pytest.raises(CheckFailed, match="V = 0 was rounded down"):
        ps7.check_hard_rounding(lambda w, scale, v, qmin, qmax: np.clip(
            np.floor(w / scale[:, None]) + (v > 0), qmin, qmax).astype(np.int64), "hidden")


def test_schedule_comparison_accepts_other_containers_and_requires_none(solution):
    compare = ps7.EXERCISES["beta_schedule"].compare
    expected = ps7._ref_schedule(12)
    assert compare(tuple(expected), expected) is None
    assert compare(np.array(expected, dtype=object), expected) is None
    zero = [0.0 if b is None else b for b in expected]
    assert "expected None" in compare(zero, expected)
    assert "entries" in compare(expected[:-1], expected)
    assert compare([None if b is None else b * (1 + 1e-9) for b in expected], expected) is not None
    ps7.check_beta_schedule(lambda iters: tuple(solution["beta_schedule"](iters)), "hidden")


def test_stated_tolerances_accept_another_formula(solution):
    """tanh sigmoids and log1p logits agree with the references within the stated tolerances."""
    def rectified_sigmoid(v):
        return np.minimum(np.maximum(0.6 * (1 + np.tanh(v / 2)) - 0.1, 0), 1)

    def initial_v(w, scale):
        rest = np.mod(w / scale[:, None], 1.0)
        p = (rest + 0.1) / 1.2
        return np.log(p) - np.log1p(-p)
    for suite in ("visible", "hidden"):
        ps7.check_rectified_sigmoid(rectified_sigmoid, suite)
        ps7.check_initial_v(initial_v, suite)
