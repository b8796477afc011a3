"""Rounding modes: nearest (half to even), half_away (TFLite), floor, ceil, stochastic.

The deterministic modes are checked on exact ties by hand and on random values against
Python's ``decimal`` module (``Decimal(float)`` is exact, so its rounding is the true one).
"""
import math
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

import numpy as np
import pytest

from quantref.linear import ROUNDING_MODES, quantize, round_to_integer

TIES = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5]


def test_rounding_modes_listed():
    assert set(ROUNDING_MODES) == {"nearest", "half_away", "floor", "ceil", "stochastic"}


@pytest.mark.parametrize("mode, expected", [
    ("nearest",   [0, 2, 2, 0, -2, -2]),    # ties to the even neighbour
    ("half_away", [1, 2, 3, -1, -2, -3]),   # ties away from zero (std::round)
    ("floor",     [0, 1, 2, -1, -2, -3]),
    ("ceil",      [1, 2, 3, 0, -1, -2]),
])
def test_exact_ties(mode, expected):
    out = round_to_integer(np.array(TIES), mode)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, np.array(expected, dtype=np.float64))


def test_floor_ceil_on_negatives():
    x = np.array([-0.1, -0.9, -1.0, -1.1, -2.999, 0.1])
    np.testing.assert_array_equal(round_to_integer(x, "floor"), [-1, -1, -1, -2, -3, 0])
    np.testing.assert_array_equal(round_to_integer(x, "ceil"), [0, 0, -1, -1, -2, 1])


def test_half_away_just_below_half():
    # 0.49999999999999994 is the largest double below 0.5; naive floor(|x| + 0.5) gives 1
    # because 0.49999999999999994 + 0.5 rounds to 1.0 in float64.
    below = 0.49999999999999994
    assert below == math.nextafter(0.5, 0.0) and below + 0.5 == 1.0
    x = np.array([below, -below, math.nextafter(2.5, 0.0), math.nextafter(0.5, 1.0)])
    np.testing.assert_array_equal(round_to_integer(x, "half_away"), [0.0, 0.0, 2.0, 1.0])
    np.testing.assert_array_equal(round_to_integer(x, "nearest"), [0.0, 0.0, 2.0, 1.0])


def test_integers_and_large_values_unchanged():
    x = np.array([0.0, -0.0, 3.0, -7.0, 2.0 ** 52 + 1, -(2.0 ** 53), 1e300])
    for mode in ("nearest", "half_away", "floor", "ceil", "stochastic"):
        np.testing.assert_array_equal(round_to_integer(x, mode, np.random.default_rng(0)), x)


_DECIMAL_MODE = {"nearest": ROUND_HALF_EVEN, "half_away": ROUND_HALF_UP,
                 "floor": ROUND_FLOOR, "ceil": ROUND_CEILING}


@pytest.mark.parametrize("mode", sorted(_DECIMAL_MODE))
def test_deterministic_modes_match_decimal(mode):
    rng = np.random.default_rng(11)
    k = rng.integers(-1000, 1000, 300).astype(np.float64)
    ties = k + 0.5
    x = np.concatenate([
        rng.uniform(-1000, 1000, 300),
        ties,
        np.nextafter(ties, np.inf), np.nextafter(ties, -np.inf),   # one ulp either side of a tie
        k, rng.normal(0, 1e-3, 50),
    ])
    out = round_to_integer(x, mode)
    expected = [float(Decimal(float(v)).to_integral_value(rounding=_DECIMAL_MODE[mode])) for v in x]
    np.testing.assert_array_equal(out, np.array(expected))


def test_quantize_ties_zero_point_added_after_rounding():
    # scale 1, zero point 11 (odd): x/s is an exact tie; round first, then add z.
    # nearest: round(0.5) = 0 -> 11 (adding z first would give round(11.5) = 12)
    x = np.array(TIES)
    cases = {
        "nearest":   [11, 13, 13, 11, 9, 9],     # 0, 2, 2, -0, -2, -2  (+11)
        "half_away": [12, 13, 14, 10, 9, 8],     # 1, 2, 3, -1, -2, -3  (+11)
        "floor":     [11, 12, 13, 10, 9, 8],     # 0, 1, 2, -1, -2, -3  (+11)
        "ceil":      [12, 13, 14, 11, 10, 9],    # 1, 2, 3, 0, -1, -2   (+11)
    }
    for mode, expected in cases.items():
        q = quantize(x, 1.0, 11, rounding=mode)
        np.testing.assert_array_equal(q, np.array(expected, dtype=np.uint8))
        assert q.dtype == np.uint8


def test_quantize_tie_with_power_of_two_scale():
    # s = 0.25 (exact): 0.125/0.25 = 0.5 -> 0 ; 0.375/0.25 = 1.5 -> 2 ; -0.625/0.25 = -2.5 -> -2
    q = quantize([0.125, 0.375, -0.625], 0.25, 0, signed=True)
    np.testing.assert_array_equal(q, np.array([0, 2, -2], dtype=np.int8))
    q = quantize([0.125, 0.375, -0.625], 0.25, 0, signed=True, rounding="half_away")
    np.testing.assert_array_equal(q, np.array([1, 2, -3], dtype=np.int8))


# ----------------------------------------------------------------------------- stochastic
def test_stochastic_reproducible_with_seeded_generator():
    x = np.random.default_rng(3).uniform(-50, 50, 1000)
    a = round_to_integer(x, "stochastic", np.random.default_rng(1234))
    b = round_to_integer(x, "stochastic", np.random.default_rng(1234))
    np.testing.assert_array_equal(a, b)
    # an int seed behaves as default_rng(seed)
    np.testing.assert_array_equal(round_to_integer(x, "stochastic", 1234), a)
    # a different seed gives a different draw (1000 non-integer values: equality has prob ~0)
    assert not np.array_equal(round_to_integer(x, "stochastic", np.random.default_rng(99)), a)
    # through quantize as well
    qa = quantize(x, 0.5, 128, rounding="stochastic", rng=np.random.default_rng(5))
    qb = quantize(x, 0.5, 128, rounding="stochastic", rng=np.random.default_rng(5))
    np.testing.assert_array_equal(qa, qb)
    assert qa.dtype == np.uint8


def test_stochastic_only_floor_or_floor_plus_one():
    rng = np.random.default_rng(8)
    x = rng.uniform(-100, 100, 20000)
    out = round_to_integer(x, "stochastic", rng)
    fl = np.floor(x)
    assert np.all((out == fl) | (out == fl + 1))
    # both neighbours actually occur
    assert np.any(out == fl) and np.any(out == fl + 1)


@pytest.mark.parametrize("frac", [0.1, 0.3, 0.5, 0.9])
def test_stochastic_unbiased(frac):
    """E[round(x)] = x.  With n draws of a Bernoulli(p) the sample mean of the error has
    standard deviation sqrt(p(1-p)/n); we allow 6 sigma (false alarm probability ~2e-9,
    and the seed is fixed anyway)."""
    n = 200_000
    rng = np.random.default_rng(int(frac * 1000))
    base = rng.integers(-20, 20, n).astype(np.float64)
    x = np.concatenate([base + frac, -(base + frac)])   # positive and negative fractions
    err = round_to_integer(x, "stochastic", rng) - x
    # P(round up) = x - floor(x): frac for +(k + frac), 1 - frac for -(k + frac)
    for half, p in ((err[:n], frac), (err[n:], 1 - frac)):
        sigma = math.sqrt(p * (1 - p) / n)
        assert abs(half.mean()) < 6 * sigma, (half.mean(), sigma)
    # the round-up frequency itself is p = frac for the positive half
    up = np.mean(round_to_integer(base + frac, "stochastic", rng) > base)
    assert abs(up - frac) < 6 * math.sqrt(frac * (1 - frac) / n)
