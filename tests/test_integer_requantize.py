"""requantize: clamp(MBQM(acc) + z_out, qmin, qmax), fused ReLU, per-channel multipliers.

Hand cases carry their arithmetic; random cases compare bit for bit (values and dtype) with the
int64 NumPy emulation and the Python-integer multiplier of ``fixedpoint_emulation.py``.
"""
import numpy as np
import pytest

from fixedpoint_emulation import INT32_MAX, INT32_MIN, quantize_multiplier_py, requantize_int64
from quantref.integer import requantize


def test_hand_case_uint8_grid():
    acc = np.array([[-300, -1, 0, 99, 101, 1000, 150, -150]], dtype=np.int32)
    # M = 0.01: -3, -0.01 -> 0, 0, 0.99 -> 1, 1.01 -> 1, 10, 1.5 -> 2 (away from 0), -1.5 -> -2 ; then + z = 2
    # and clamp to [0, 7]: -1 -> 0, 2, 2, 3, 3, 12 -> 7, 4, 0
    out = requantize(acc, 0.01, out_zero_point=2, qmin=0, qmax=7)
    np.testing.assert_array_equal(out, np.array([[0, 2, 2, 3, 3, 7, 4, 0]], dtype=np.uint8))
    assert out.dtype == np.uint8


def test_fused_relu_clamps_at_the_zero_point():
    acc = np.array([-300, -1, 0, 99, 150, -150], dtype=np.int32)
    # as above, but the lower clamp is z = 2 (real 0): -1 -> 2, 2, 2, 3, 4, 0 -> 2
    out = requantize(acc, 0.01, 2, 0, 7, relu=True)
    np.testing.assert_array_equal(out, np.array([2, 2, 2, 3, 4, 2], dtype=np.uint8))


def test_int8_grid_and_its_dtype():
    acc = np.array([-100000, -2560, 0, 2560, 100000], dtype=np.int32)
    # M = 1/256 (0.5 * 2^-7): -390.6, -10, 0, 10, 390.6 ; + z = -5 ; clamp [-128, 127]
    out = requantize(acc, 1 / 256, -5, -128, 127)
    np.testing.assert_array_equal(out, np.array([-128, -15, -5, 5, 127], dtype=np.int8))
    assert out.dtype == np.int8


def test_grid_wider_than_8_bits_returns_int32():
    out = requantize(np.array([1_000_000], dtype=np.int32), 0.5, 0, -(2 ** 15), 2 ** 15 - 1)
    # 500000 clamps to 32767
    assert out.dtype == np.int32 and int(out[0]) == 32767


def test_a_fixed_point_pair_gives_the_same_codes_as_the_real_multiplier():
    rng = np.random.default_rng(0)
    acc = rng.integers(-(2 ** 20), 2 ** 20, size=(20, 6)).astype(np.int32)
    m = rng.uniform(1e-5, 1e-3, size=6)
    m0 = np.array([quantize_multiplier_py(float(v))[0] for v in m])
    shift = np.array([quantize_multiplier_py(float(v))[1] for v in m])
    np.testing.assert_array_equal(requantize(acc, m, 128, 0, 255), requantize(acc, (m0, shift), 128, 0, 255))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("grid", [(0, 255), (-128, 127)], ids=["uint8", "int8"])
@pytest.mark.parametrize("relu", [False, True])
def test_matches_the_int64_emulation_bit_for_bit(seed, grid, relu):
    rng = np.random.default_rng([seed, grid[0] + 1000, relu])
    qmin, qmax = grid
    channels = int(rng.integers(1, 9))
    acc = rng.integers(INT32_MIN, INT32_MAX, size=(50, channels), endpoint=True, dtype=np.int64)
    acc[:25] //= 2 ** int(rng.integers(0, 24))          # many accumulators of realistic size
    acc[0, 0], acc[1, 0] = INT32_MIN, INT32_MAX
    m = 10.0 ** rng.uniform(-9, -0.01, size=channels)
    z = int(rng.integers(qmin, qmax + 1))
    pairs = [quantize_multiplier_py(float(v)) for v in m]
    m0, shift = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    expected = requantize_int64(acc, m0, shift, z, qmin, qmax, relu)
    out = requantize(acc.astype(np.int32), m, z, qmin, qmax, relu=relu)
    assert out.dtype == (np.uint8 if qmin == 0 else np.int8)
    np.testing.assert_array_equal(out.astype(np.int64), expected)


def test_the_zero_point_add_does_not_wrap_in_int32():
    # MBQM(2^31 - 1, M = 1 - 2^-31) = 2^31 - 2 (within 1/2 + 2^-1 of the product); + 255 passes 2^31 - 1
    # in int32, which would wrap negative and clamp to 0; the true value clamps to 255.
    out = requantize(np.array([INT32_MAX], dtype=np.int32), (INT32_MAX, 0), 255, 0, 255)
    np.testing.assert_array_equal(out, np.array([255], dtype=np.uint8))
