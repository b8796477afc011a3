"""quantize / dequantize / fake_quantize.

Reference: a per-element Python loop, ``clip(round(v / s) + z, qmin, qmax)``, where ``v / s`` is
the same IEEE float64 division and Python's built-in ``round`` rounds half to even exactly.
Integer codes are compared bit for bit, with their dtype.  Dequantized values are compared
exactly where the reference does the same single float64 multiplication ``s * (q - z)``.
"""
import itertools

import numpy as np
import pytest

from quantref.linear import dequantize, fake_quantize, quantize


def ref_q(v, s, z, qmin, qmax):
    return min(max(round(float(v) / float(s)) + int(z), qmin), qmax)


def grid(bits, signed, narrow=False):
    lo = -(2 ** (bits - 1)) if signed else 0
    hi = 2 ** (bits - 1) - 1 if signed else 2 ** bits - 1
    return lo + (1 if narrow else 0), hi


# ----------------------------------------------------------------------------- hand cases
def test_quantize_hand_case_uint8():
    # s = 1/64, z = 64: -1*64 + 64 = 0 ; 0 -> 64 ; 0.5*64 + 64 = 96 ; 3*64 + 64 = 256 -> clip 255
    q = quantize([-1.0, 0.0, 0.5, 3.0], scale=1 / 64, zero_point=64)
    np.testing.assert_array_equal(q, np.array([0, 64, 96, 255], dtype=np.uint8))
    assert q.dtype == np.uint8


def test_quantize_hand_case_4_bits():
    # s = 0.5, z = 8, grid [0, 15]: x/s = -8, -2.6, 0.4, 6.8, 20
    # round: -8, -3, 0, 7, 20 ; + 8: 0, 5, 8, 15, 28 -> clip 15
    q = quantize([-4.0, -1.3, 0.2, 3.4, 10.0], 0.5, 8, bits=4)
    np.testing.assert_array_equal(q, np.array([0, 5, 8, 15, 15], dtype=np.uint8))


def test_quantize_hand_case_signed_12_bits():
    # s = 1/128, z = 0, grid [-2048, 2047]: -20*128 = -2560 -> -2048 ; 0.5*128 = 64 ;
    # 15.99*128 = 2046.72 -> 2047 ; -0.01*128 = -1.28 -> -1
    q = quantize([-20.0, 0.5, 15.99, -0.01], 1 / 128, 0, bits=12, signed=True)
    np.testing.assert_array_equal(q, np.array([-2048, 64, 2047, -1], dtype=np.int16))
    assert q.dtype == np.int16


def test_quantize_hand_case_uint16():
    # s = 1, z = 32768: -40000 -> clip 0 ; -1 -> 32767 ; 0.5 -> round 0 (even) -> 32768 ; 40000 -> 65535
    q = quantize([-40000.0, -1.0, 0.5, 40000.0], 1.0, 32768, bits=16)
    np.testing.assert_array_equal(q, np.array([0, 32767, 32768, 65535], dtype=np.uint16))
    assert q.dtype == np.uint16


@pytest.mark.parametrize("signed, narrow, expected", [
    (False, False, (0, 255)),
    (True, False, (-128, 127)),
    (True, True, (-127, 127)),
    (False, True, (1, 255)),
])
def test_clipping_at_both_ends(signed, narrow, expected):
    q = quantize([-1e6, -300.0, 300.0, 1e6], 1.0, 0 if signed else 1, signed=signed, narrow_range=narrow)
    lo, hi = expected
    np.testing.assert_array_equal(q, np.array([lo, lo, hi, hi], dtype=np.int8 if signed else np.uint8))


@pytest.mark.parametrize("bits", range(2, 17))
@pytest.mark.parametrize("signed", [False, True])
def test_output_dtype_and_extremes_by_bits(bits, signed):
    dt = {(True, True): np.int8, (True, False): np.uint8,
          (False, True): np.int16, (False, False): np.uint16}[(bits <= 8, signed)]
    qmin, qmax = grid(bits, signed)
    q = quantize([-1e9, 0.0, 1e9], 1.0, 0 if signed else 1, bits, signed=signed)
    assert q.dtype == np.dtype(dt)
    np.testing.assert_array_equal(q, np.array([qmin, 0 if signed else 1, qmax], dtype=dt))


def test_quantize_keeps_shape_and_accepts_lists_and_ints():
    q = quantize([[1, 2], [3, 4]], 0.5, 0)          # integer input: 2/... -> 2, 4, 6, 8
    assert q.shape == (2, 2) and q.dtype == np.uint8
    np.testing.assert_array_equal(q, np.array([[2, 4], [6, 8]], dtype=np.uint8))
    assert quantize(np.float32(1.0), 0.5, 3).shape == ()
    assert quantize(np.float32(1.0), 0.5, 3) == 5


def test_dequantize_hand_cases():
    # s (q - z) with s = 1/64, z = 64: -64/64 = -1 ; 0 ; 32/64 = 0.5 ; 191/64 = 2.984375
    out = dequantize(np.array([0, 64, 96, 255], dtype=np.uint8), 1 / 64, 64)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [-1.0, 0.0, 0.5, 2.984375])
    # uint8 codes minus a zero point never wrap: 0.5 * (0 - 200) = -100 ; 0.5 * 55 = 27.5
    np.testing.assert_array_equal(dequantize(np.array([0, 255], dtype=np.uint8), 0.5, 200), [-100.0, 27.5])
    # int16 extremes: 2 * (-32768 - 0), 2 * 32767
    np.testing.assert_array_equal(dequantize(np.array([-32768, 32767], dtype=np.int16), 2.0, 0),
                                  [-65536.0, 65534.0])
    # uint16: 0.25 * (65535 - 32768) = 8191.75
    np.testing.assert_array_equal(dequantize(np.array([65535], dtype=np.uint16), 0.25, 32768), [8191.75])


# ----------------------------------------------------------------------------- per channel / group
PER_CHANNEL_CASES = [(8, False), (5, True), (12, True), (16, False)]


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("bits, signed", PER_CHANNEL_CASES)
def test_per_channel_3d_against_loop(axis, bits, signed):
    rng = np.random.default_rng(100 + axis + bits)
    shape = (4, 5, 6)
    x = rng.normal(0, 3, shape)
    C = shape[axis]
    qmin, qmax = grid(bits, signed)
    # the grid spans about 6..18 in real units, so that the N(0, 3) data is sometimes clipped
    scale = rng.uniform(0.5, 1.5, C) * 12 / (qmax - qmin)
    quarter = (qmax - qmin) // 4
    zp = rng.integers(qmin + quarter, qmax - quarter + 1, C)
    q = quantize(x, scale, zp, bits, signed=signed, axis=axis)
    expected = np.empty(shape, dtype=np.int64)
    for idx in np.ndindex(shape):
        c = idx[axis]                          # idx[-1] is the last axis, as wanted
        expected[idx] = ref_q(x[idx], scale[c], zp[c], qmin, qmax)
    assert q.dtype == np.dtype({(True, True): np.int8, (True, False): np.uint8,
                                (False, True): np.int16, (False, False): np.uint16}[(bits <= 8, signed)])
    np.testing.assert_array_equal(q.astype(np.int64), expected)
    # some elements are clipped and some not, so both branches are exercised
    assert np.any(expected == qmin) or np.any(expected == qmax)
    # dequantize per channel against the same loop
    back = dequantize(q, scale, zp, axis=axis)
    exp_back = np.empty(shape)
    for idx in np.ndindex(shape):
        c = idx[axis]
        exp_back[idx] = scale[c] * (int(q[idx]) - int(zp[c]))
    np.testing.assert_array_equal(back, exp_back)


def test_per_channel_negative_axis_equals_positive():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 4, 5))
    s = rng.uniform(0.01, 0.05, 5)
    z = rng.integers(0, 256, 5)
    np.testing.assert_array_equal(quantize(x, s, z, axis=-1), quantize(x, s, z, axis=2))


@pytest.mark.parametrize("shape, axis, G", [
    ((3, 12), 1, 4),
    ((6, 5), 0, 3),
    ((2, 8, 3), 1, 2),
    ((2, 3, 8), -1, 8),    # one group spanning the whole axis
    ((4, 6), 1, 1),        # one element per group
])
def test_per_group_against_loop(shape, axis, G):
    rng = np.random.default_rng(sum(shape) + G)
    x = rng.normal(0, 2, shape)
    ax = axis % len(shape)
    pshape = tuple(n // G if d == ax else n for d, n in enumerate(shape))
    scale = rng.uniform(0.005, 0.05, pshape)
    zp = rng.integers(0, 256, pshape)
    q = quantize(x, scale, zp, axis=axis, group_size=G)
    assert q.dtype == np.uint8 and q.shape == shape
    expected = np.empty(shape, dtype=np.int64)
    exp_back = np.empty(shape)
    for idx in np.ndindex(shape):
        p = tuple(i // G if d == ax else i for d, i in enumerate(idx))   # which group
        expected[idx] = ref_q(x[idx], scale[p], zp[p], 0, 255)
        exp_back[idx] = scale[p] * (expected[idx] - int(zp[p]))
    np.testing.assert_array_equal(q.astype(np.int64), expected)
    np.testing.assert_array_equal(dequantize(q, scale, zp, axis=axis, group_size=G), exp_back)


# ----------------------------------------------------------------------------- round trip
@pytest.mark.parametrize("bits, signed, narrow", [(8, False, False), (8, True, True), (3, True, False),
                                                  (16, False, False), (11, True, False)])
def test_round_trip_error_at_most_half_step(bits, signed, narrow):
    rng = np.random.default_rng(bits * 10 + signed)
    qmin, qmax = grid(bits, signed, narrow)
    s = 0.0371
    z = (qmin + qmax) // 2 + 1
    # real range represented without clipping: [s (qmin - z), s (qmax - z)]
    x = rng.uniform(s * (qmin - z), s * (qmax - z), 5000)
    err = np.abs(fake_quantize(x, s, z, bits, signed=signed, narrow_range=narrow) - x)
    # |x - s round(x/s)| <= s/2 exactly in reals; float64 division/multiplication add a few
    # ulps of |x|, hence the 1e-12 relative slack.
    assert np.all(err <= s / 2 * (1 + 1e-12) + 4 * np.spacing(np.abs(x)))
    assert err.max() > 0.45 * s     # the bound is nearly attained, so it is not vacuous


def test_round_trip_per_channel():
    rng = np.random.default_rng(21)
    s = rng.uniform(0.01, 1.0, 7)
    z = rng.integers(-128, 128, 7)
    lo, hi = s * (-128 - z), s * (127 - z)
    x = rng.uniform(lo, hi, (300, 7))            # column c inside channel c's range
    err = np.abs(fake_quantize(x, s, z, signed=True, axis=1) - x)
    assert np.all(err <= s / 2 * (1 + 1e-12) + 4 * np.spacing(np.abs(x)))


# ----------------------------------------------------------------------------- fake quantize
def test_fake_quantize_equals_dequantize_of_quantize():
    rng = np.random.default_rng(2)
    x = rng.normal(0, 1, (6, 8))
    s, z = 0.02, 131
    fq = fake_quantize(x, s, z)
    np.testing.assert_array_equal(fq, dequantize(quantize(x, s, z), s, z))
    # and against the independent formula s * (clip(round(x/s) + z) - z)
    exp = np.array([[s * (ref_q(v, s, z, 0, 255) - z) for v in row] for row in x])
    np.testing.assert_array_equal(fq, exp)
    assert fq.dtype == np.float64


def test_fake_quantize_passes_granularity_and_rounding():
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (4, 6))
    s = rng.uniform(0.01, 0.03, (4, 3))
    z = rng.integers(-20, 20, (4, 3))
    fq = fake_quantize(x, s, z, 6, signed=True, axis=1, group_size=2, rounding="floor")
    np.testing.assert_array_equal(
        fq, dequantize(quantize(x, s, z, 6, signed=True, axis=1, group_size=2, rounding="floor"),
                       s, z, axis=1, group_size=2))
    exp = np.empty_like(x)
    for i, j in itertools.product(range(4), range(6)):
        sc, zz = s[i, j // 2], int(z[i, j // 2])
        code = min(max(int(np.floor(x[i, j] / sc)) + zz, -32), 31)    # 6-bit signed grid
        exp[i, j] = sc * (code - zz)
    np.testing.assert_array_equal(fq, exp)


def test_scalar_zero_point_serves_every_channel():
    # symmetric per-channel: one zero point (0) for all channels; codes by hand:
    # row 0 scale 0.5: [1.0, -1.0] -> [2, -2]; row 1 scale 0.25: [0.5, 0.25] -> [2, 1]
    w = np.array([[1.0, -1.0], [0.5, 0.25]])
    scales = np.array([0.5, 0.25])
    q = quantize(w, scales, 0, 8, signed=True, axis=0)
    np.testing.assert_array_equal(q, np.array([[2, -2], [2, 1]], dtype=np.int8))
    np.testing.assert_array_equal(dequantize(q, scales, 0, axis=0), w)
