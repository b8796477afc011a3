"""Fake quantization forward and the straight-through backward (quantref.qat.fake_quant).

The mask rule is PyTorch's: the gradient passes where ``zero_point + round(x / scale)`` lies in
``[qmin, qmax]``, with ``round`` half to even -- so the tie cases below are the interesting ones.
"""
import doctest

import numpy as np
import pytest

from quantref.linear import integer_grid
from quantref.qat import fake_quant
from quantref.qat.fake_quant import fake_quantize_backward, fake_quantize_forward, grid_arguments, ste_mask


def test_docstring_examples():
    assert doctest.testmod(fake_quant).failed == 0


# ----------------------------------------------------------------------------- hand cases
def test_ste_mask_hand_cases_signed_2bit():
    # s = 1, z = 0, grid [-2, 1] (2-bit signed)
    #   1.4 -> round 1  : inside          1.5 -> round half even 2 : outside
    #  -2.5 -> round -2 : inside (tie to even)   -2.6 -> -3 : outside
    #   0.49 -> 0 inside ; -2.4999 -> -2 inside ; 1.5000001 -> 2 outside ; 0.5 -> 0 inside
    x = [1.4, 1.5, -2.5, -2.6, 0.49, -2.4999, 1.5000001, 0.5]
    expected = [True, False, True, False, True, True, False, True]
    np.testing.assert_array_equal(ste_mask(x, 1.0, 0, -2, 1), expected)
    np.testing.assert_array_equal(fake_quantize_backward(np.full(8, 3.0), x, 1.0, 0, -2, 1),
                                  3.0 * np.array(expected, dtype=float))


def test_ste_mask_hand_cases_with_zero_point():
    # s = 0.5, z = 3, grid [0, 15] (4-bit unsigned); x / s + z:
    #  -1.5  -> -3 + 3 = 0             : inside
    #  -1.75 -> -3.5 -> even -4 -> -1  : outside
    #   6.0  -> 12 + 3 = 15            : inside
    #   6.25 -> 12.5 -> even 12 -> 15  : inside (the tie rounds down onto the grid)
    #   6.75 -> 13.5 -> even 14 -> 17  : outside
    #   6.26 -> 12.52 -> 13 -> 16      : outside
    x = [-1.5, -1.75, 6.0, 6.25, 6.75, 6.26]
    np.testing.assert_array_equal(ste_mask(x, 0.5, 3, 0, 15), [True, False, True, True, False, False])


def test_forward_hand_cases():
    # s = 0.5, z = 3, grid [0, 15]: q = clip(round(x / s) + 3, 0, 15), x^ = 0.5 (q - 3)
    #  -1.5 -> 0 -> -1.5 ; -1.75 -> -1 -> clip 0 -> -1.5 ; 6.25 -> 15 -> 6.0 ; 6.26 -> 16 -> 15 -> 6.0
    #   0.7 -> round(1.4) = 1 -> 4 -> 0.5 ; 0.75 -> round(1.5) = 2 (even) -> 5 -> 1.0 ; 1.25 -> 2.5 -> 2 -> 1.0
    x = [-1.5, -1.75, 6.25, 6.26, 0.7, 0.75, 1.25]
    np.testing.assert_array_equal(fake_quantize_forward(x, 0.5, 3, 0, 15), [-1.5, -1.5, 6.0, 6.0, 0.5, 1.0, 1.0])


def test_per_channel_forward_and_mask():
    # channel 0: s = 1, z = 0 ; channel 1: s = 0.25, z = 0 ; grid [-8, 7] (4-bit signed)
    x = np.array([[7.4, -8.6, 3.5], [1.9, -2.1, 0.125]])
    # row 0: 7, -9 -> clip -8, round(3.5) = 4 ; row 1: 7.6 -> 8 -> clip 7 -> 1.75, -8.4 -> -8 -> -2.0, 0.5 -> 0
    np.testing.assert_array_equal(fake_quantize_forward(x, np.array([1.0, 0.25]), np.array([0, 0]), -8, 7, axis=0),
                                  [[7.0, -8.0, 4.0], [1.75, -2.0, 0.0]])
    np.testing.assert_array_equal(ste_mask(x, np.array([1.0, 0.25]), np.array([0, 0]), -8, 7, axis=0),
                                  [[True, False, True], [False, True, True]])


def test_backward_is_identity_inside_and_zero_outside():
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, 10_000)
    g = rng.normal(size=x.shape)
    # s = 0.05, z = 100: the grid [0, 255] spans the reals [s (0 - 100), s (255 - 100)] = [-5, 7.75]
    s, z, qmin, qmax = 0.05, 100, 0, 255
    back = fake_quantize_backward(g, x, s, z, qmin, qmax)
    np.testing.assert_array_equal(back, g)        # all inside
    s = 0.01                                      # now covers [-1, 1.55]: outside values get 0
    back = fake_quantize_backward(g, x, s, z, qmin, qmax)
    r = np.rint(x / s) + z
    inside = (r >= qmin) & (r <= qmax)
    assert 0 < inside.mean() < 1
    np.testing.assert_array_equal(back, np.where(inside, g, 0.0))


# ----------------------------------------------------------------------------- grids
@pytest.mark.parametrize("bits", [2, 4, 7, 8, 16])
def test_grid_arguments_round_trip(bits):
    for signed in (False, True):
        for narrow in (False, True):
            qmin, qmax = integer_grid(bits, signed=signed, narrow_range=narrow)
            assert grid_arguments(qmin, qmax) == dict(bits=bits, signed=signed, narrow_range=narrow)


def test_reduce_range_grid_is_7_bit_unsigned():
    assert grid_arguments(0, 127) == dict(bits=7, signed=False, narrow_range=False)


# ----------------------------------------------------------------------------- PyTorch
class TestTorch:
    """Against torch.fake_quantize_per_tensor_affine / _per_channel_affine and their autograd.

    PyTorch multiplies float32 ``x`` by a float32 reciprocal of the scale; we divide in float64.
    Codes can differ only within float32 rounding of a .5 tie (see tests/test_torch_agreement.py);
    away from ties forward values agree to float32 rounding of the product (2^-23 relative) and the
    gradient masks agree exactly.
    """

    @pytest.fixture(autouse=True)
    def _torch(self):
        # inside a fixture, so that without torch only these tests skip, not the module
        self.torch = pytest.importorskip("torch")

    def away_from_ties(self, x, s):
        r = x.astype(np.float64) / s
        return np.abs(r - np.floor(r) - 0.5) > 1e-4

    @pytest.mark.parametrize("qmin,qmax,z", [(0, 255, 77), (-128, 127, 0), (0, 15, 3), (-8, 7, -2)])
    def test_per_tensor(self, qmin, qmax, z):
        rng = np.random.default_rng(qmax)
        s = 0.037
        x = rng.uniform(s * (qmin - z) * 1.3, s * (qmax - z) * 1.3, 20_000).astype(np.float32)
        tx = self.torch.from_numpy(x).requires_grad_(True)
        ty = self.torch.fake_quantize_per_tensor_affine(tx, s, z, qmin, qmax)
        g = rng.normal(size=x.shape).astype(np.float32)
        ty.backward(self.torch.from_numpy(g))
        ok = self.away_from_ties(x, s)
        assert ok.mean() > 0.99
        np.testing.assert_allclose(fake_quantize_forward(x, s, z, qmin, qmax)[ok], ty.detach().numpy()[ok],
                                   rtol=2.0 ** -22, atol=1e-7)
        ours = fake_quantize_backward(g, x, s, z, qmin, qmax)
        np.testing.assert_array_equal(ours[ok], tx.grad.numpy()[ok])
        assert (ours == 0).any() and (ours != 0).any()

    def test_per_channel(self):
        rng = np.random.default_rng(5)
        x = rng.normal(0, 2, (6, 50)).astype(np.float32)
        s = rng.uniform(0.02, 0.2, 6)
        z = np.zeros(6, dtype=np.int64)
        tx = self.torch.from_numpy(x).requires_grad_(True)
        ty = self.torch.fake_quantize_per_channel_affine(tx, self.torch.from_numpy(s).float(),
                                                         self.torch.from_numpy(z).int(), 0, -8, 7)
        ty.backward(self.torch.ones_like(ty))
        s32 = s.astype(np.float32).astype(np.float64)        # torch holds the scales in float32
        ok = self.away_from_ties(x, s32[:, None])
        np.testing.assert_allclose(fake_quantize_forward(x, s32, z, -8, 7, axis=0)[ok], ty.detach().numpy()[ok],
                                   rtol=2.0 ** -22, atol=1e-7)
        np.testing.assert_array_equal(ste_mask(x, s32, z, -8, 7, axis=0)[ok], tx.grad.numpy()[ok] == 1)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("qmin,qmax", [(3, 200), (0, 254), (-5, 5), (1, 0), (0, 2 ** 17)])
def test_not_a_grid(qmin, qmax):
    with pytest.raises(ValueError, match=r"qmin, qmax = .* is not the integer grid of a 2- to 16-bit quantizer"):
        fake_quantize_forward([0.0], 1.0, 0, qmin, qmax)
    with pytest.raises(ValueError, match=r"is not the integer grid"):
        fake_quantize_backward([1.0], [0.0], 1.0, 0, qmin, qmax)


@pytest.mark.parametrize("qmin,qmax", [(0.0, 255), (0, "255"), (True, 1)])
def test_grid_wrong_type(qmin, qmax):
    with pytest.raises(TypeError, match=r"must be an integer"):
        ste_mask([0.0], 1.0, 0, qmin, qmax)


def test_backward_shape_mismatch():
    with pytest.raises(ValueError, match=r"grad has shape \(2,\) but x has shape \(3,\)"):
        fake_quantize_backward([1.0, 1.0], [0.0, 0.1, 0.2], 0.1, 0, 0, 255)


def test_bad_values_are_refused():
    with pytest.raises(ValueError, match=r"x contains 1 NaN or inf"):
        fake_quantize_forward([0.0, np.nan], 0.1, 0, 0, 255)
    with pytest.raises(ValueError, match=r"grad contains 1 NaN or inf"):
        fake_quantize_backward([np.inf], [0.0], 0.1, 0, 0, 255)
    with pytest.raises(ValueError, match=r"zero_point must lie inside the integer grid \[0, 15\]"):
        fake_quantize_forward([0.0], 0.1, 16, 0, 15)
    with pytest.raises(ValueError, match=r"scale must be > 0"):
        ste_mask([0.0], 0.0, 0, 0, 15)
