"""quantize_multiplier, SaturatingRoundingDoublingHighMul, RoundingDivideByPOT and their composition.

Expected values come from hand arithmetic (in the comments) or from the pure-Python integer
references in ``fixedpoint_emulation.py``, written from gemmlowp's rules; every integer result
is compared exactly, with its dtype.
"""
from fractions import Fraction

import numpy as np
import pytest

from fixedpoint_emulation import INT32_MAX, INT32_MIN, mbqm_py, quantize_multiplier_py, rdbpot_py, srdhm_py
from quantref.integer import (multiply_by_quantized_multiplier, quantize_multiplier, rounding_divide_by_pot,
                              saturating_rounding_doubling_high_mul)

SRDHM, RDBPOT, MBQM = saturating_rounding_doubling_high_mul, rounding_divide_by_pot, multiply_by_quantized_multiplier
EDGES = [INT32_MIN, INT32_MIN + 1, -(2 ** 30), -3, -2, -1, 0, 1, 2, 3, 2 ** 30, INT32_MAX - 1, INT32_MAX]


def random_int32(rng, size):
    """Uniform int32 values, with a fifth drawn near the ends and near 0 (where the rules differ)."""
    x = rng.integers(INT32_MIN, INT32_MAX, size=size, endpoint=True, dtype=np.int64)
    pick = rng.random(size) < 0.2
    x[pick] = rng.choice(EDGES, size=int(pick.sum()))
    return x.astype(np.int32)


# ----------------------------------------------------------------------------- SRDHM
@pytest.mark.parametrize("a, b, expected", [
    (3, 2 ** 30, 2),              # 3 * 2^30 / 2^31 = 1.5: tie, toward +inf -> 2
    (-3, 2 ** 30, -1),            # -1.5: tie, toward +inf -> -1
    (1, 2 ** 30, 1),              # 0.5 -> 1
    (-1, 2 ** 30, 0),             # -0.5 -> 0
    (5, 2 ** 29, 1),              # 5 * 2^29 / 2^31 = 1.25 -> 1
    (-5, 2 ** 29, -1),            # -1.25 -> -1
    (7, 2 ** 29, 2),              # 1.75 -> 2
    (-7, 2 ** 29, -2),            # -1.75 -> -2
    (INT32_MIN, INT32_MIN, INT32_MAX),           # 2^62 / 2^31 = 2^31 does not fit: saturates
    (INT32_MIN, INT32_MAX, INT32_MIN + 1),       # -2^31 (2^31 - 1) / 2^31 = -2^31 + 1 exactly
    (INT32_MAX, INT32_MAX, INT32_MAX - 1),       # (2^31-1)^2 / 2^31 = 2^31 - 2 + 2^-31 -> 2^31 - 2
    (INT32_MIN, 2 ** 30, -(2 ** 30)),            # -2^31 * 2^30 / 2^31 = -2^30 exactly
    (0, INT32_MIN, 0),
])
def test_srdhm_hand_cases(a, b, expected):
    out = SRDHM(np.int32(a), np.int32(b))
    assert out.dtype == np.int32 and int(out) == expected
    assert int(SRDHM(b, a)) == expected                 # symmetric in its arguments


def test_srdhm_matches_the_python_integer_rule_on_edges_and_random_values():
    rng = np.random.default_rng(0)
    a = np.concatenate([np.repeat(EDGES, len(EDGES)), random_int32(rng, 20_000)]).astype(np.int32)
    b = np.concatenate([np.tile(EDGES, len(EDGES)), random_int32(rng, 20_000)]).astype(np.int32)
    expected = np.array([srdhm_py(int(x), int(y)) for x, y in zip(a, b)], dtype=np.int64)
    out = SRDHM(a, b)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out.astype(np.int64), expected)


def test_srdhm_broadcasts_a_per_channel_multiplier():
    acc = np.array([[10, -10], [3, -3]], dtype=np.int32)
    m0 = np.array([2 ** 30, 2 ** 29], dtype=np.int32)
    # column 0 (x / 2): 10 -> 5, 3 -> 1.5 -> 2 ; column 1 (x / 4): -10 -> -2.5 -> -2 (tie toward +inf), -3 -> -0.75 -> -1
    np.testing.assert_array_equal(SRDHM(acc, m0), np.array([[5, -2], [2, -1]], dtype=np.int32))
    np.testing.assert_array_equal(SRDHM(acc[:, 1], m0[1]), np.array([-2, -1], dtype=np.int32))


# ----------------------------------------------------------------------------- RDBPOT
@pytest.mark.parametrize("x, e, expected", [
    (5, 1, 3), (-5, 1, -3),       # +-2.5: ties away from zero
    (6, 2, 2), (-6, 2, -2),       # +-1.5: ties away from zero
    (5, 2, 1), (-5, 2, -1),       # +-1.25
    (7, 2, 2), (-7, 2, -2),       # +-1.75
    (-1, 1, -1), (1, 1, 1),       # +-0.5 -> +-1
    (-1, 2, 0),                   # -0.25 -> 0
    (12345, 0, 12345), (-7, 0, -7), (INT32_MIN, 0, INT32_MIN),   # exponent 0: identity
    (INT32_MIN, 31, -1),          # -1 exactly
    (INT32_MAX, 31, 1),           # 1 - 2^-31 -> 1
    (2 ** 30, 31, 1), (-(2 ** 30), 31, -1),      # +-0.5: away from zero
    (2 ** 30 - 1, 31, 0), (-(2 ** 30) + 1, 31, 0),
])
def test_rdbpot_hand_cases(x, e, expected):
    out = RDBPOT(np.int32(x), e)
    assert out.dtype == np.int32 and int(out) == expected


def test_rdbpot_matches_the_python_integer_rule_for_every_exponent():
    rng = np.random.default_rng(1)
    x = np.concatenate([np.array(EDGES), random_int32(rng, 3_000)]).astype(np.int32)
    for e in range(32):
        expected = np.array([rdbpot_py(int(v), e) for v in x], dtype=np.int64)
        np.testing.assert_array_equal(RDBPOT(x, e).astype(np.int64), expected, err_msg=f"exponent {e}")


def test_rdbpot_exact_ties_both_signs_every_exponent():
    for e in range(1, 32):
        ties = np.array([2 ** (e - 1), -(2 ** (e - 1)), 3 * 2 ** (e - 1) if e < 30 else 2 ** (e - 1)], dtype=np.int64)
        # (k + 1/2) away from zero: 1/2 -> 1, -1/2 -> -1, 3/2 -> 2
        expected = [1, -1, 2 if e < 30 else 1]
        np.testing.assert_array_equal(RDBPOT(ties.astype(np.int32), e), np.array(expected, dtype=np.int32))


def test_rdbpot_per_channel_exponents():
    x = np.array([[6, 6, 6], [-6, -6, -6]], dtype=np.int32)
    # 6 / 1, 6 / 4 = 1.5 -> 2, 6 / 8 = 0.75 -> 1 ; negatives mirror
    np.testing.assert_array_equal(RDBPOT(x, np.array([0, 2, 3])), np.array([[6, 2, 1], [-6, -2, -1]], dtype=np.int32))


# ----------------------------------------------------------------------------- quantize_multiplier
@pytest.mark.parametrize("m, expected", [
    (0.5, (2 ** 30, 0)),                          # 0.5 * 2^0: round(0.5 * 2^31) = 2^30
    (0.75, (3 * 2 ** 29, 0)),                     # 0.75 * 2^31 = 1610612736
    (0.25, (2 ** 30, 1)),                         # 0.5 * 2^-1
    (0.1, (1717986918, 3)),                       # 0.8 * 2^-3; 0.8 * 2^31 = 1717986918.4 -> down
    (2.0 ** -10, (2 ** 30, 9)),                   # 0.5 * 2^-9
    (2.0 ** -32, (2 ** 30, 31)),                  # 0.5 * 2^-31: the largest shift
    (2.0 ** -33, (0, 0)),                         # would need shift 32: 0 (|acc * M| < 1/2 for all int32)
    ((2 ** 30 + 0.5) / 2 ** 31, (2 ** 30 + 1, 0)),   # f * 2^31 = 2^30 + 1/2: a tie, rounded up (std::round)
    ((2 ** 31 - 0.25) / 2 ** 32, (2 ** 30, 0)),      # f * 2^31 = 2^31 - 1/4 rounds to 2^31: carry, n = 1 -> 0
    ((2 ** 31 - 0.25) / 2 ** 36, (2 ** 30, 4)),      # the same carry at n = 5 -> 4
    (1 - 2.0 ** -31, (INT32_MAX, 0)),                # f * 2^31 = 2^31 - 1 exactly: no carry
])
def test_quantize_multiplier_hand_cases(m, expected):
    got = quantize_multiplier(m)
    assert got == expected and all(type(v) is int for v in got)


def test_quantize_multiplier_matches_exact_rationals_on_random_values():
    rng = np.random.default_rng(2)
    ms = np.concatenate([rng.uniform(0, 1, 2000), 10.0 ** rng.uniform(-9, 0, 2000)])
    ms = ms[(ms > 0) & (ms < 1 - 2.0 ** -32)]
    for m in ms:
        m0, shift = quantize_multiplier(float(m))
        assert (m0, shift) == quantize_multiplier_py(float(m))
        assert 2 ** 30 <= m0 < 2 ** 31 and 0 <= shift <= 31
        # the Q31 number is within half a unit of M * 2^(31 + n): relative error <= 2^-31
        assert abs(Fraction(m0, 2 ** (31 + shift)) - Fraction(float(m))) <= Fraction(1, 2 ** (32 + shift))


def test_quantize_multiplier_per_channel_array():
    m = np.array([0.5, 0.1, 0.25])
    m0, shift = quantize_multiplier(m)
    assert m0.dtype == np.int32 and shift.dtype == np.int32
    np.testing.assert_array_equal(m0, [2 ** 30, 1717986918, 2 ** 30])
    np.testing.assert_array_equal(shift, [0, 3, 1])


# ----------------------------------------------------------------------------- MBQM
@pytest.mark.parametrize("acc, m, expected", [
    (10, 0.25, 3),        # 2.5 -> 3 (away from zero)
    (-10, 0.25, -3),      # -2.5 -> -3
    (6, 0.25, 2),         # 1.5 -> 2
    (-6, 0.25, -2),       # -1.5 -> -2
    (1000, 0.1, 100),     # 0.1 ~ 1717986918 / 2^34: 1000 * that = 99.99999998 -> 100
    (-999, 0.1, -100),    # -99.9 -> -100
    (INT32_MAX, 0.5, 2 ** 30),   # (2^31 - 1) / 2 = 2^30 - 0.5 -> high mul rounds up to 2^30
    (INT32_MIN, 0.5, -(2 ** 30)),
])
def test_mbqm_hand_cases(acc, m, expected):
    m0, shift = quantize_multiplier(m)
    out = MBQM(np.int32(acc), m0, shift)
    assert out.dtype == np.int32 and int(out) == expected


def test_mbqm_matches_the_python_integer_rules_on_random_values():
    rng = np.random.default_rng(3)
    acc = random_int32(rng, 5_000)
    m0 = rng.integers(2 ** 30, 2 ** 31, size=5_000)
    shift = rng.integers(0, 32, size=5_000)
    expected = np.array([mbqm_py(int(a), int(m), int(s)) for a, m, s in zip(acc, m0, shift)], dtype=np.int64)
    np.testing.assert_array_equal(MBQM(acc, m0, shift).astype(np.int64), expected)


def test_mbqm_is_within_rounding_of_the_real_product():
    # |MBQM(acc) - acc * M| <= 1/2 (last rounding) + 2^-n / 2 (high-mul rounding) + |acc| * 2^-(32+n) (Q31 rounding)
    rng = np.random.default_rng(4)
    acc = rng.integers(-(2 ** 24), 2 ** 24, size=2000).astype(np.int32)
    for m in 10.0 ** rng.uniform(-6, 0, 50):
        m = min(float(m), 0.999)
        m0, shift = quantize_multiplier(m)
        err = np.abs(MBQM(acc, m0, shift) - acc.astype(np.float64) * m)
        bound = 0.5 + 0.5 * 2.0 ** -shift + np.abs(acc) * 2.0 ** -(32 + shift) + 1e-9
        assert np.all(err <= bound)
