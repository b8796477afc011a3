"""qparams / asymmetric_qparams / symmetric_qparams.

Hand cases give the arithmetic in comments.  A scale written as a literal quotient such as
``4 / 255`` is compared with ``==``: IEEE division is correctly rounded, so any formula whose
exact real value is 4/255 and that performs a single rounding on exact operands (here
``(3 - (-1)) / 255`` or ``2 / 127.5``) yields the very same double.
The random property test checks the formulas against exact rational arithmetic (fractions).
"""
from fractions import Fraction

import numpy as np
import pytest

from quantref.linear import (SCALE_EPS, asymmetric_qparams, dequantize, integer_grid, qparams,
                             quantize, symmetric_qparams)

EPS32 = 2.0 ** -23   # float32 machine epsilon, written independently of NumPy / quantref


def test_scale_eps_is_float32_epsilon():
    assert SCALE_EPS == EPS32 == 1.1920928955078125e-07


# ----------------------------------------------------------------------------- asymmetric
@pytest.mark.parametrize("fn", [qparams, asymmetric_qparams])
def test_asymmetric_hand_case_minus1_3(fn):
    # s = (3 - (-1)) / (255 - 0) = 4/255 ; -1/s = -63.75 -> round -64 ; z = 0 - (-64) = 64
    s, z = fn(-1.0, 3.0, 8)
    assert s == 4 / 255 == 0.01568627450980392
    assert z == 64
    assert type(s) is float and type(z) is int


def test_asymmetric_all_negative_range():
    # range widened to [-2, 0]: s = 2/255 ; -2/s = -255 -> z = 0 + 255 = 255 (top of the grid)
    s, z = qparams(-2.0, -0.5)
    assert s == 2 / 255
    assert z == 255


def test_asymmetric_all_positive_range():
    # range widened to [0, 5]: s = 5/255 ; 0/s = 0 -> z = 0
    s, z = qparams(0.5, 5.0)
    assert s == 5 / 255
    assert z == 0


def test_asymmetric_constant_ranges():
    # [0, 0]: (0 - 0)/255 = 0 -> floored to float32 eps; z = 0 - round(0/eps) = 0
    assert qparams(0.0, 0.0) == (EPS32, 0)
    # same on the signed grid: z = qmin - 0 = -128
    assert qparams(0.0, 0.0, signed=True) == (EPS32, -128)
    # constant 2: widened to [0, 2] -> s = 2/255, z = 0 ; constant -2: [-2, 0] -> z = 255
    assert qparams(2.0, 2.0) == (2 / 255, 0)
    assert qparams(-2.0, -2.0) == (2 / 255, 255)


def test_asymmetric_4_bits():
    # [0, 6] on [0, 15]: s = 6/15 = 0.4, z = 0
    assert qparams(0.0, 6.0, bits=4) == (0.4, 0)


def test_asymmetric_16_bits():
    # s = 4/65535 ; -1/s = -16383.75 -> round -16384 ; z = 16384
    s, z = qparams(-1.0, 3.0, bits=16)
    assert s == 4 / 65535
    assert z == 16384


def test_asymmetric_signed_grid():
    # grid [-128, 127], s = 4/255 ; z = -128 - round(-63.75) = -128 + 64 = -64
    assert qparams(-1.0, 3.0, signed=True) == (4 / 255, -64)
    assert asymmetric_qparams(-1.0, 3.0, signed=True) == (4 / 255, -64)


def test_asymmetric_narrow_range():
    # 4 bits narrow: grid [1, 15], 14 steps: s = 3/14 ; -1/s = -4.667 -> round -5 ; z = 1 + 5 = 6
    s, z = qparams(-1.0, 2.0, bits=4, narrow_range=True)
    assert s == 3 / 14
    assert z == 6


def test_asymmetric_zero_point_tie_rounds_half_to_even():
    # s = 2/255 ; -1/s is exactly -127.5 in float64 (checked below), round half even -> -128,
    # so z = 128 (half away from zero would also give 128, so pin a second tie below)
    assert -1.0 / (2 / 255) == -127.5
    assert qparams(-1.0, 1.0) == (2 / 255, 128)
    # [-126.5, 128.5]: s = 255/255 = 1.0 exactly ; -126.5/1 = -126.5 -> half even -126 -> z = 126
    # (half away from zero would give 127)
    assert qparams(-126.5, 128.5) == (1.0, 126)


# ----------------------------------------------------------------------------- symmetric
def test_symmetric_full_grid_divisor_127_5():
    # amax = max(2, 1) = 2 ; s = 2 / ((127 - (-128)) / 2) = 2/127.5 = 4/255 ; z = 0
    s, z = symmetric_qparams(-2.0, 1.0)
    assert s == 2 / 127.5 == 4 / 255
    assert z == 0 and type(z) is int and type(s) is float


def test_symmetric_narrow_divisor_127():
    # narrow grid [-127, 127]: s = 2 / (254 / 2) = 2/127
    assert symmetric_qparams(-2.0, 1.0, narrow_range=True) == (2 / 127, 0)
    assert symmetric_qparams(-2.0, 1.0, narrow_range=True)[0] == 0.015748031496062992


def test_symmetric_divisors_differ():
    # the two conventions must not be mixed: 127.5 (PyTorch) vs 127 (TFLite)
    full, _ = symmetric_qparams(-1.0, 1.0)
    narrow, _ = symmetric_qparams(-1.0, 1.0, narrow_range=True)
    assert full == 1 / 127.5 and narrow == 1 / 127
    assert narrow / full == pytest.approx(127.5 / 127, rel=1e-15)


def test_symmetric_unsigned_zero_point_is_half_grid():
    # unsigned 8-bit symmetric: grid [0, 255], divisor 127.5, z = 2^7 = 128
    assert symmetric_qparams(-2.0, 1.0, signed=False) == (4 / 255, 128)
    # unsigned narrow [1, 255]: divisor 254/2 = 127, z still 128
    assert symmetric_qparams(-2.0, 1.0, signed=False, narrow_range=True) == (2 / 127, 128)
    # 4 bits unsigned: [0, 15], divisor 7.5, z = 2^3 = 8 ; amax = 3 -> s = 3/7.5 = 0.4
    assert symmetric_qparams(-3.0, 0.5, bits=4, signed=False) == (0.4, 8)
    # 16 bits unsigned: z = 2^15
    assert symmetric_qparams(-1.0, 1.0, bits=16, signed=False)[1] == 32768


@pytest.mark.parametrize("bits", range(2, 17))
def test_symmetric_unsigned_zero_point_all_bits(bits):
    _, z = symmetric_qparams(-1.0, 1.0, bits=bits, signed=False)
    assert z == 2 ** (bits - 1)
    _, z = symmetric_qparams(-1.0, 1.0, bits=bits, signed=True)
    assert z == 0


def test_symmetric_one_sided_and_constant_ranges():
    # all positive [1, 3]: amax = 3 -> 3/127.5 ; all negative [-4, -1]: amax = 4 -> 4/127.5
    assert symmetric_qparams(1.0, 3.0) == (3 / 127.5, 0)
    assert symmetric_qparams(-4.0, -1.0) == (4 / 127.5, 0)
    # [0, 0]: amax = 0 -> floored to float32 eps
    assert symmetric_qparams(0.0, 0.0) == (EPS32, 0)
    # 4 bits signed [-8, 7]: divisor 7.5 ; amax 3 -> 0.4
    assert symmetric_qparams(-3.0, 0.5, bits=4) == (0.4, 0)


# ----------------------------------------------------------------------------- signed=None
def test_signed_none_picks_the_usual_grid():
    # asymmetric -> unsigned (uint8 activations)
    assert qparams(-1.0, 3.0) == (4 / 255, 64)
    assert qparams(-1.0, 3.0, signed=None) == qparams(-1.0, 3.0, signed=False)
    # symmetric -> signed (int8 weights), z = 0, s = 3/127.5
    assert qparams(-1.0, 3.0, symmetric=True) == (3 / 127.5, 0)
    assert qparams(-1.0, 3.0, symmetric=True, signed=None) == qparams(-1.0, 3.0, symmetric=True, signed=True)
    # explicit choices override the default
    assert qparams(-1.0, 3.0, symmetric=True, signed=False) == (3 / 127.5, 128)
    assert qparams(-1.0, 3.0, signed=True) == (4 / 255, -64)
    assert qparams(-1.0, 3.0, symmetric=True, narrow_range=True) == (3 / 127, 0)


# ----------------------------------------------------------------------------- arrays
def test_per_channel_arrays():
    rmin = np.array([-1.0, 0.5, -2.0, 0.0])
    rmax = np.array([3.0, 5.0, -0.5, 0.0])
    s, z = qparams(rmin, rmax)
    assert isinstance(s, np.ndarray) and isinstance(z, np.ndarray)
    assert s.dtype == np.float64 and z.dtype == np.int64
    assert s.shape == z.shape == (4,)
    # same hand cases as the scalar tests above, one per channel
    np.testing.assert_array_equal(s, [4 / 255, 5 / 255, 2 / 255, EPS32])
    np.testing.assert_array_equal(z, np.array([64, 0, 255, 0], dtype=np.int64))


def test_per_channel_symmetric_arrays():
    s, z = qparams(np.array([-2.0, 1.0, 0.0]), np.array([1.0, 3.0, 0.0]), symmetric=True)
    assert s.dtype == np.float64 and z.dtype == np.int64 and z.shape == (3,)
    np.testing.assert_array_equal(s, [2 / 127.5, 3 / 127.5, EPS32])
    np.testing.assert_array_equal(z, np.zeros(3, dtype=np.int64))
    s, z = qparams(np.array([-2.0, 1.0]), np.array([1.0, 3.0]), symmetric=True, signed=False)
    np.testing.assert_array_equal(z, np.array([128, 128], dtype=np.int64))
    assert z.dtype == np.int64


def test_per_group_2d_arrays_keep_shape():
    rmin = np.array([[-1.0, 0.5], [-2.0, 0.0]])
    rmax = np.array([[3.0, 5.0], [-0.5, 0.0]])
    s, z = qparams(rmin, rmax)
    assert s.shape == z.shape == (2, 2)
    np.testing.assert_array_equal(s, [[4 / 255, 5 / 255], [2 / 255, EPS32]])
    np.testing.assert_array_equal(z, np.array([[64, 0], [255, 0]], dtype=np.int64))


def test_float32_and_int_inputs():
    s, z = qparams(np.float32(-1.0), np.float32(3.0))
    assert (s, z) == (4 / 255, 64) and type(s) is float and type(z) is int
    s, z = qparams(np.array([-1, 0], dtype=np.int32), np.array([3, 6], dtype=np.int32))
    assert s.dtype == np.float64 and z.dtype == np.int64
    np.testing.assert_array_equal(s, [4 / 255, 6 / 255])


# ----------------------------------------------------------------------------- property
def _random_ranges(rng, n):
    mag_a = 10.0 ** rng.uniform(-9, 4, n)
    mag_b = 10.0 ** rng.uniform(-9, 4, n)
    a = rng.choice([-1.0, 1.0], n) * mag_a
    b = rng.choice([-1.0, 1.0], n) * mag_b
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    # sprinkle degenerate ranges: constant, touching zero
    lo[:5], hi[:5] = 0.0, 0.0
    lo[5:10] = hi[5:10]
    lo[10:15], hi[10:15] = 0.0, np.abs(hi[10:15])
    lo[15:20], hi[15:20] = -np.abs(lo[15:20]), 0.0
    return lo, hi


def _round_half_even(fr: Fraction) -> int:
    return round(fr)   # Fraction.__round__ without ndigits rounds half to even, exactly


@pytest.mark.parametrize("bits", range(2, 17))
def test_qparams_property_zero_exact_and_in_grid(bits):
    """Random ranges, every grid: scale > 0 and as specified, integer zero point inside the
    grid, real 0 quantizes to the zero point and dequantizes to exactly 0.0."""
    rng = np.random.default_rng(1000 + bits)
    lo, hi = _random_ranges(rng, 60)
    for symmetric in (False, True):
        for signed in (False, True):
            for narrow in (False, True):
                qmin = (-(2 ** (bits - 1)) if signed else 0) + (1 if narrow else 0)
                qmax = 2 ** (bits - 1) - 1 if signed else 2 ** bits - 1
                s, z = qparams(lo, hi, bits, symmetric=symmetric, signed=signed, narrow_range=narrow)
                assert s.dtype == np.float64 and z.dtype == np.int64
                assert np.all(np.isfinite(s)) and np.all(s >= EPS32)
                assert np.all((qmin <= z) & (z <= qmax))
                for i in range(lo.size):
                    mn, mx = Fraction(min(lo[i], 0.0)), Fraction(max(hi[i], 0.0))
                    if symmetric:
                        exact = max(-mn, mx) / (Fraction(qmax - qmin) / 2)
                    else:
                        exact = (mx - mn) / (qmax - qmin)
                    exact = max(exact, Fraction(EPS32))
                    # float64 result of <= 2 roundings (difference, quotient), each <= 2^-53 relative
                    assert abs(Fraction(s[i]) - exact) <= exact * Fraction(3, 2 ** 53), (bits, i)
                    if symmetric:
                        assert z[i] == (0 if signed else 2 ** (bits - 1))
                    else:
                        q = mn / Fraction(s[i])   # exact quotient with the returned scale
                        if abs(q - (q.__floor__() + Fraction(1, 2))) > Fraction(1, 10 ** 6):
                            # away from a tie the float64 quotient rounds the same way
                            assert z[i] == min(max(qmin - _round_half_even(q), qmin), qmax), (bits, i)
                # real 0 is exactly representable: q(0) == z, and it dequantizes to 0.0
                q0 = quantize(np.zeros(lo.size), s, z, bits, signed=signed, narrow_range=narrow, axis=0)
                np.testing.assert_array_equal(q0.astype(np.int64), z)
                back = dequantize(q0, s, z, axis=0)
                assert np.all(back == 0.0)
                # the widened range's end points lie within half a step of the grid's real range
                if not symmetric:
                    for end in (np.minimum(lo, 0.0), np.maximum(hi, 0.0)):
                        err = np.abs(dequantize(quantize(end, s, z, bits, signed=signed,
                                                         narrow_range=narrow, axis=0), s, z, axis=0) - end)
                        # s/2 plus float64 slack (a few ulps of |end|)
                        assert np.all(err <= s / 2 + 8 * np.spacing(np.abs(end) + s * (qmax - qmin)))


def test_qparams_scalar_property_matches_array():
    rng = np.random.default_rng(7)
    lo, hi = _random_ranges(rng, 40)
    s_arr, z_arr = qparams(lo, hi, 6)
    for i in range(lo.size):
        s, z = qparams(float(lo[i]), float(hi[i]), 6)
        assert type(s) is float and type(z) is int
        assert s == s_arr[i] and z == z_arr[i]
    # the grid used above agrees with integer_grid
    assert integer_grid(6) == (0, 63)
