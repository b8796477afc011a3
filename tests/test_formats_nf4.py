"""NF4 (QLoRA's NormalFloat-4) code book and its block-wise absmax quantizer.

The published table is checked three ways: against its decimal digits as printed in the QLoRA
paper's appendix and in bitsandbytes (typed into this file), against quantref's float64 derivation
from normal quantiles (within 2^-23, the table being float32), and bit for bit against a
re-enactment, here in the test, of the original float32 recipe.  Encoding is checked against a
brute-force nearest-level search; kept wrong encoders (ties to the upper level, one absmax for the
whole tensor) must fail the tests aimed at them.
"""
from statistics import NormalDist

import numpy as np
import pytest

from quantref.formats import NF4_LEVELS, NF4Quantized, decode_nf4, encode_nf4, nf4_levels_from_quantiles, values

PUBLISHED = [
    "-1.0", "-0.6961928009986877", "-0.5250730514526367", "-0.39491748809814453",
    "-0.28444138169288635", "-0.18477343022823334", "-0.09105003625154495", "0.0",
    "0.07958029955625534", "0.16093020141124725", "0.24611230194568634", "0.33791524171829224",
    "0.44070982933044434", "0.5626170039176941", "0.7229568362236023", "1.0",
]


def float32_recipe(offset=0.9677083):
    """The original construction step by step in float32: linspace (evaluated from both ends, as the
    tensor library it was written with does), quantiles in float64, stored as float32, sorted,
    divided by the largest in float32."""
    f = np.float32

    def linspace32(start, stop, n):
        start, stop = f(start), f(stop)
        step = f((stop - start) / f(n - 1))
        return np.array([f(start + step * f(i)) if i < n // 2 else f(stop - step * f(n - 1 - i))
                         for i in range(n)], dtype=np.float32)

    q = NormalDist().inv_cdf
    positive = [q(float(p)) for p in linspace32(offset, 0.5, 9)[:-1]]
    negative = [-q(float(p)) for p in linspace32(offset, 0.5, 8)[:-1]]
    v = np.sort(np.array(positive + [0.0] + negative, dtype=np.float32))
    return v / v.max()


# --------------------------------------------------------------------------- the code book
def test_table_is_the_published_one():
    assert NF4_LEVELS.dtype == np.float32 and NF4_LEVELS.shape == (16,)
    np.testing.assert_array_equal(NF4_LEVELS, np.array([float(s) for s in PUBLISHED], dtype=np.float32))
    # every published decimal is a float32 value, printed exactly enough to recover it
    assert all(float(np.float32(float(s))) == float(s) for s in PUBLISHED)
    assert np.all(np.diff(NF4_LEVELS) > 0) and NF4_LEVELS[7] == 0 and NF4_LEVELS[0] == -1 and NF4_LEVELS[15] == 1


def test_values_grid_is_the_table():
    np.testing.assert_array_equal(values("nf4"), NF4_LEVELS.astype(np.float64))


def test_derivation_matches_the_table_to_float32_precision():
    derived = nf4_levels_from_quantiles()
    assert derived.dtype == np.float64 and derived.shape == (16,)
    # tolerance 2^-23: one float32 ulp at 1.0; the table was computed with float32 steps
    assert np.max(np.abs(derived - NF4_LEVELS)) <= 2.0 ** -23
    assert derived[7] == 0.0 and derived[0] == -1.0 and derived[15] == 1.0


def test_derivation_is_asymmetric_and_quantile_based():
    """Positive levels are Q(p) / Q(delta) at 8 equally spaced p in [1/2, delta); negative ones at 7."""
    delta = 0.9677083
    q = NormalDist()
    derived = nf4_levels_from_quantiles(delta)
    p_pos = [q.cdf(v * q.inv_cdf(delta)) for v in derived[8:]]
    p_neg = [q.cdf(-v * q.inv_cdf(delta)) for v in derived[:7]]
    np.testing.assert_allclose(p_pos, np.linspace(delta, 0.5, 9)[:-1][::-1], atol=1e-12)
    np.testing.assert_allclose(p_neg, np.linspace(delta, 0.5, 8)[:-1], atol=1e-12)


def test_float32_recipe_reproduces_the_table_bit_for_bit():
    np.testing.assert_array_equal(float32_recipe().view(np.uint32), NF4_LEVELS.view(np.uint32))


@pytest.mark.parametrize("wrong_offset", [1 - 1 / 32, 1 - 1 / 30, 0.99])
def test_a_wrong_offset_misses_the_table(wrong_offset):
    assert np.max(np.abs(nf4_levels_from_quantiles(wrong_offset) - NF4_LEVELS)) > 1e-3


def test_a_symmetric_derivation_misses_the_table():
    q = NormalDist().inv_cdf
    half = np.array([q(p) for p in np.linspace(0.9677083, 0.5, 9)[:-1]])
    symmetric = np.sort(np.concatenate([-half, half]))
    assert np.max(np.abs(symmetric / symmetric.max() - NF4_LEVELS)) > 1e-2


# --------------------------------------------------------------------------- encode
def brute_force_codes(x, block_size):
    """Independent reference: argmin over the 16 levels of |x/absmax - level|; np.argmin keeps the
    first (lower) level on an exact tie."""
    blocks = np.asarray(x, np.float64).reshape(-1, block_size)
    absmax = np.max(np.abs(blocks), axis=1).astype(np.float32).astype(np.float64)
    normalized = blocks / np.where(absmax > 0, absmax, 1.0)[:, None]
    distance = np.abs(normalized[..., None] - NF4_LEVELS.astype(np.float64))
    return np.argmin(distance, axis=-1).astype(np.uint8).reshape(np.shape(x)), absmax.astype(np.float32)


def wrong_encode_ties_up(x, block_size=64):
    """Nearest level with ties to the upper level (``x >= midpoint``)."""
    blocks = np.asarray(x, np.float64).reshape(-1, block_size)
    absmax = np.max(np.abs(blocks), axis=1).astype(np.float32)
    mid = (NF4_LEVELS[:-1].astype(np.float64) + NF4_LEVELS[1:]) / 2
    codes = np.searchsorted(mid, blocks / absmax[:, None], side="right")
    return NF4Quantized(codes.astype(np.uint8).reshape(np.shape(x)), absmax, block_size)


def wrong_encode_one_absmax(x, block_size=64):
    """One absmax for the whole tensor, repeated for every block (per-tensor, not block-wise)."""
    x = np.asarray(x, np.float64)
    amax = np.float32(np.max(np.abs(x)))
    mid = (NF4_LEVELS[:-1].astype(np.float64) + NF4_LEVELS[1:]) / 2
    codes = np.searchsorted(mid, x / amax, side="left").astype(np.uint8)
    return NF4Quantized(codes, np.full(x.size // block_size, amax, np.float32), block_size)


def weights(seed=0, n=64 * 500):
    rng = np.random.default_rng(seed)
    # blocks of very different magnitudes, like the rows of a weight matrix with outliers
    return (rng.standard_normal(n) * np.repeat(np.exp2(rng.uniform(-8, 8, n // 64)), 64)).astype(np.float32)


@pytest.mark.parametrize("block_size", [64, 32, 128])
def test_encode_is_the_nearest_level(block_size):
    x = weights(1)
    q = encode_nf4(x, block_size)
    want_codes, want_absmax = brute_force_codes(x, block_size)
    assert q.codes.dtype == np.uint8 and q.codes.shape == x.shape and q.block_size == block_size
    np.testing.assert_array_equal(q.absmax, want_absmax)
    np.testing.assert_array_equal(q.codes, want_codes)


def test_absmax_is_per_block_and_exact():
    x = weights(2).reshape(50, 640)
    q = encode_nf4(x)
    np.testing.assert_array_equal(q.absmax, np.abs(x.reshape(-1, 64)).max(axis=1))
    assert q.codes.shape == (50, 640)
    # the element that set the absmax decodes to +-absmax exactly (code 0 or 15)
    i = np.abs(x.reshape(-1, 64)).argmax(axis=1)
    assert set(q.codes.reshape(-1, 64)[np.arange(i.size), i].tolist()) <= {0, 15}


def tie_block():
    """Blocks with absmax exactly 1 holding every midpoint between levels (exact in float64)."""
    mid = (NF4_LEVELS[:-1].astype(np.float64) + NF4_LEVELS[1:]) / 2
    ties = np.concatenate([[1.0], mid])                  # 16 values: one block of 16
    lower = np.concatenate([[15], np.arange(15)]).astype(np.uint8)
    return ties, lower


def tie_mismatches(encoder):
    ties, lower = tie_block()
    return int(np.count_nonzero(encoder(ties, block_size=16).codes != lower))


def test_ties_go_to_the_lower_level():
    ties, _ = tie_block()
    assert tie_mismatches(encode_nf4) == 0
    # just above a tie goes up, just below stays down
    above = np.concatenate([[1.0], np.nextafter(ties[1:], np.inf)])
    below = np.concatenate([[1.0], np.nextafter(ties[1:], -np.inf)])
    np.testing.assert_array_equal(encode_nf4(above, 16).codes[1:], np.arange(1, 16))
    np.testing.assert_array_equal(encode_nf4(below, 16).codes[1:], np.arange(15))


def test_wrong_tie_rule_fails_the_tie_test():
    assert tie_mismatches(wrong_encode_ties_up) == 15


def test_per_tensor_absmax_fails_the_block_test():
    x = weights(3)
    want_codes, want_absmax = brute_force_codes(x, 64)
    q = wrong_encode_one_absmax(x)
    assert not np.array_equal(q.absmax, want_absmax) and not np.array_equal(q.codes, want_codes)


def test_zero_block_and_signs():
    x = np.concatenate([np.zeros(64), -np.ones(64), np.full(64, 0.25)]).astype(np.float32)
    q = encode_nf4(x)
    assert q.absmax.tolist() == [0.0, 1.0, 0.25]
    assert set(q.codes[:64].tolist()) == {7} and set(q.codes[64:128].tolist()) == {0}
    assert set(q.codes[128:].tolist()) == {15}
    np.testing.assert_array_equal(decode_nf4(q), x)


# --------------------------------------------------------------------------- decode
def test_decode_is_level_times_absmax_in_float32():
    x = weights(4)
    q = encode_nf4(x)
    # float32 multiplication rounds the exact product once: the independent reference
    want = (NF4_LEVELS[q.codes.reshape(-1, 64)] * q.absmax[:, None]).reshape(x.shape)
    got = decode_nf4(q)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


def test_round_trip_error_is_at_most_half_the_largest_gap():
    x = weights(5)
    q = encode_nf4(x)
    err = np.abs(decode_nf4(q).astype(np.float64) - x).reshape(-1, 64)
    half_gap = np.max(np.diff(NF4_LEVELS.astype(np.float64))) / 2          # 0.1519, between 0.72 and 1
    # float32 rounding of the decoded value adds at most half a float32 ulp of absmax
    assert np.all(err <= q.absmax[:, None] * (half_gap + 2.0 ** -24))


# --------------------------------------------------------------------------- bad input
def test_block_size_must_divide():
    with pytest.raises(ValueError, match=r"^block_size=64 does not divide x.size=100.*pad the data"):
        encode_nf4(np.zeros(100, np.float32))


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-64, ValueError), (64.0, TypeError), ("64", TypeError),
                                        (True, TypeError)])
def test_block_size_must_be_a_positive_integer(bad, error):
    with pytest.raises(error, match=r"^block_size must be a positive integer"):
        encode_nf4(np.zeros(128, np.float32), bad)


@pytest.mark.parametrize("bad", [np.arange(64), np.zeros(64, bool), ["0.5"] * 64, [1] * 64])
def test_non_float_input_is_refused(bad):
    with pytest.raises(TypeError, match=r"^x must be a float16, float32 or float64 array"):
        encode_nf4(bad)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_are_refused(bad):
    x = np.zeros(64, np.float32)
    x[3] = bad
    with pytest.raises(ValueError, match=r"^x contains 1 NaN or inf value\(s\); NF4 has no code for them"):
        encode_nf4(x)


def test_decode_checks_its_argument():
    with pytest.raises(TypeError, match=r"^q must be an NF4Quantized"):
        decode_nf4(np.zeros(64, np.uint8))
    with pytest.raises(ValueError, match=r"^codes must hold 4-bit codes in \[0, 15\], got a maximum of 16"):
        NF4Quantized(np.full(64, 16, np.uint8), np.ones(1, np.float32), 64)
    with pytest.raises(TypeError, match=r"^codes must be a uint8 array"):
        NF4Quantized(np.zeros(64, np.int64), np.ones(1, np.float32), 64)
    with pytest.raises(ValueError, match=r"^absmax must be float32 of shape \(1,\)"):
        NF4Quantized(np.zeros(64, np.uint8), np.ones(1, np.float64), 64)
    with pytest.raises(ValueError, match=r"^absmax must be float32 of shape \(2,\)"):
        NF4Quantized(np.zeros(128, np.uint8), np.ones(1, np.float32), 64)
