"""Group-wise int4/int3 quantization and nibble packing (quantref.lowbit.groupwise, quantref.lowbit.packing).

Expected values are computed here by plain per-group loops in int64 / float64 from the published
rules (PyTorch's observer qparams, GPTQ's symmetric grid), not by calling quantref.linear.
"""
import numpy as np
import pytest

from quantref.lowbit import pack_nibbles, quantize_groupwise, rtn_groupwise, unpack_nibbles
from quantref.lowbit.groupwise import group_qparams


def loop_reference(w, bits, G, symmetric):
    """Per-group loops: codes (int64), scales, zero points, dequantized weight."""
    N, K = w.shape
    qmax = 2 ** bits - 1
    codes = np.zeros((N, K), dtype=np.int64)
    scales = np.zeros((N, K // G))
    zeros = np.zeros((N, K // G), dtype=np.int64)
    for n in range(N):
        for g in range(K // G):
            grp = w[n, g * G:(g + 1) * G]
            lo, hi = min(grp.min(), 0.0), max(grp.max(), 0.0)
            if symmetric:
                s = max(max(-lo, hi) / (qmax / 2), np.finfo(np.float32).eps)
                z = 2 ** (bits - 1)
            else:
                s = max((hi - lo) / qmax, np.finfo(np.float32).eps)
                z = int(np.clip(-np.rint(lo / s), 0, qmax))
            scales[n, g], zeros[n, g] = s, z
            for j in range(G):
                codes[n, g * G + j] = int(np.clip(np.rint(grp[j] / s) + z, 0, qmax))
    deq = np.repeat(scales, G, axis=1) * (codes - np.repeat(zeros, G, axis=1))
    return codes, scales, zeros, deq


@pytest.mark.parametrize("bits", [3, 4])
@pytest.mark.parametrize("G", [32, 64, 128])
@pytest.mark.parametrize("symmetric", [False, True])
def test_codes_and_params_match_the_per_group_loops(bits, G, symmetric):
    rng = np.random.default_rng(bits * 1000 + G + symmetric)
    w = rng.standard_normal((6, 256)) * rng.uniform(0.1, 3.0, (6, 1))
    w[0, :G] = np.abs(w[0, :G])                 # a group with no negative value (range widened to 0)
    w[1, G:2 * G] = 0.0                         # a constant group (scale floor)
    codes, scales, zeros, deq = loop_reference(w, bits, G, symmetric)
    gq = quantize_groupwise(w, bits, G, symmetric=symmetric)
    assert gq.codes.dtype == np.uint8 and gq.codes.shape == w.shape
    assert np.array_equal(gq.codes.astype(np.int64), codes)
    assert np.array_equal(gq.zero_points, zeros)
    np.testing.assert_allclose(gq.scales, scales, rtol=1e-15, atol=0)   # same formula, float64
    np.testing.assert_allclose(gq.dequantize(), deq, rtol=1e-15, atol=0)
    assert int(gq.codes.max()) <= 2 ** bits - 1
    if symmetric:
        assert np.all(gq.zero_points == 2 ** (bits - 1))


def test_groups_run_along_the_input_dimension():
    # one huge weight in row 0, inputs 0..31: only that group's scale grows
    w = np.random.default_rng(0).standard_normal((3, 128)) * 0.1
    w[0, 5] = 100.0
    s, _ = group_qparams(w, bits=4, group_size=32)
    assert s.shape == (3, 4)
    assert s[0, 0] > 100 * s[0, 1:].max() / 10 and np.all(s[1:, 0] < 1)
    # RTN error is bounded by half a step per group, so the other groups stay accurate
    err = np.abs(rtn_groupwise(w, 4, 32) - w)
    assert np.all(err <= np.repeat(s, 32, axis=1) / 2 + 1e-12)
    assert err[0, 32:].max() < 0.05


def test_smaller_groups_and_more_bits_reduce_the_error():
    w = np.random.default_rng(1).standard_normal((64, 512))
    e = {(b, G): np.mean((rtn_groupwise(w, b, G) - w) ** 2) for b in (3, 4) for G in (32, 64, 128)}
    assert e[4, 32] < e[4, 64] < e[4, 128]
    assert e[3, 32] < e[3, 64] < e[3, 128]
    assert all(e[4, G] < e[3, G] / 3 for G in (32, 64, 128))


def test_nibble_order_low_nibble_is_the_even_index():
    codes = np.array([[1, 2, 15, 0, 7, 8]], dtype=np.uint8)
    packed = pack_nibbles(codes)
    assert packed.tolist() == [[1 + 16 * 2, 15 + 16 * 0, 7 + 16 * 8]]
    assert np.array_equal(unpack_nibbles(packed), codes)


def test_pack_unpack_round_trip_is_exact():
    rng = np.random.default_rng(2)
    codes = rng.integers(0, 16, (5, 3, 64), dtype=np.uint8)
    packed = pack_nibbles(codes)
    assert packed.shape == (5, 3, 32) and packed.dtype == np.uint8
    expect = codes[..., 0::2].astype(np.int64) + 16 * codes[..., 1::2].astype(np.int64)
    assert np.array_equal(packed.astype(np.int64), expect)
    assert np.array_equal(unpack_nibbles(packed), codes)
    # int3 codes live in nibbles too
    c3 = rng.integers(0, 8, (4, 32), dtype=np.uint8)
    assert np.array_equal(unpack_nibbles(pack_nibbles(c3)), c3)


@pytest.mark.parametrize("call, exc, words", [
    (lambda w: quantize_groupwise(w, bits=1, group_size=32), ValueError, ["bits=1", "out of range"]),
    (lambda w: quantize_groupwise(w, bits=9, group_size=32), ValueError, ["bits=9"]),
    (lambda w: quantize_groupwise(w, bits=4.0, group_size=32), TypeError, ["bits"]),
    (lambda w: quantize_groupwise(w, bits=4, group_size=48), ValueError, ["group_size=48", "K=64"]),
    (lambda w: quantize_groupwise(w, bits=4, group_size=0), ValueError, ["group_size"]),
    (lambda w: quantize_groupwise(w[0], bits=4, group_size=32), ValueError, ["2-D"]),
    (lambda w: quantize_groupwise(np.where(w > 1, np.nan, w), 4, 32), ValueError, ["NaN"]),
    (lambda w: quantize_groupwise(np.where(w > 1, np.inf, w), 4, 32), ValueError, ["inf"]),
    (lambda w: quantize_groupwise(w.astype(str), 4, 32), TypeError, ["dtype"]),
    (lambda w: quantize_groupwise(w, 4, 32, symmetric="yes"), TypeError, ["symmetric"]),
])
def test_bad_input_is_rejected_with_a_clear_message(call, exc, words):
    w = np.random.default_rng(3).standard_normal((4, 64))
    with pytest.raises(exc) as info:
        call(w)
    for word in words:
        assert word in str(info.value)


def test_packing_rejects_bad_codes():
    with pytest.raises(ValueError, match="does not fit in 4 bits"):
        pack_nibbles(np.array([[16, 0]], dtype=np.uint8))
    with pytest.raises(ValueError, match="even last axis"):
        pack_nibbles(np.zeros((2, 3), dtype=np.uint8))
    with pytest.raises(TypeError, match="uint8"):
        pack_nibbles(np.zeros((2, 4), dtype=np.int64))
