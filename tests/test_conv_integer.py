"""QuantizedConv2d: accumulators and codes against int64 references written from the definition; bad input."""
import numpy as np
import pytest

from quantref.conv.integer_conv import QuantizedConv2d

from fixedpoint_emulation import requantize_int64
from test_conv_im2col import conv_loops


def random_layer(seed, c_in=3, c_out=4, z_x=37, relu=True, padding=1):
    rng = np.random.default_rng(seed)
    w, b = rng.normal(0, 0.5, (c_out, c_in, 3, 3)), rng.normal(0, 0.5, c_out)
    layer = QuantizedConv2d.from_float(w, b, input_scale=0.02, input_zero_point=z_x, output_scale=0.05,
                                       output_zero_point=90, padding=padding, relu=relu)
    x_q = rng.integers(0, 256, size=(2, c_in, 5, 6)).astype(np.uint8)
    return layer, w, b, x_q


def test_weights_and_bias_quantized_per_output_channel():
    layer, w, b, _ = random_layer(0)
    scale = np.abs(w).reshape(4, -1).max(axis=1) / 127          # symmetric, narrow grid, per output channel
    np.testing.assert_allclose(layer.weight_scale, scale, rtol=1e-15)
    np.testing.assert_array_equal(layer.weight_q, np.rint(w / scale[:, None, None, None]).astype(np.int8))
    np.testing.assert_array_equal(layer.bias_q, np.rint(b / (0.02 * scale)).astype(np.int32))
    assert layer.weight_q.dtype == np.int8 and np.abs(layer.weight_q).max() == 127


@pytest.mark.parametrize("seed, z_x, padding", [(0, 37, 1), (1, 0, 1), (2, 255, 0), (3, 128, 2)])
def test_accumulators_match_an_int64_loop_reference(seed, z_x, padding):
    """acc[n, o, i, j] = sum (x_q - z_x) w_q over the window + b_q, padding contributing (z_x - z_x) = 0:
    loops on integers (exact in float64 below 2^53), compared bit for bit."""
    layer, _, _, x_q = random_layer(seed, z_x=z_x, padding=padding)
    shifted = x_q.astype(np.int64) - z_x
    expected = conv_loops(shifted, layer.weight_q.astype(np.int64), layer.bias_q.astype(np.int64), padding)
    acc = layer.accumulators(x_q)
    assert acc.dtype == np.int32
    np.testing.assert_array_equal(acc, expected.astype(np.int64))


@pytest.mark.parametrize("relu", [True, False])
def test_codes_match_the_int64_requantization(relu):
    layer, _, _, x_q = random_layer(4, relu=relu)
    acc = layer.accumulators(x_q).astype(np.int64).transpose(0, 2, 3, 1)      # channels last
    m0, shift = layer.matmul.m0, layer.matmul.shift
    expected = requantize_int64(acc, m0, shift, 90, 0, 255, relu=relu).transpose(0, 3, 1, 2)
    codes = layer.forward_int(x_q)
    assert codes.dtype == np.uint8 and codes.shape == (2, 4, 5, 6)
    np.testing.assert_array_equal(codes, expected)
    assert (codes.min() >= 90) == relu


def test_padding_with_zero_instead_of_the_zero_point_is_wrong():
    """The reason for pad_value=z_x: padding codes with 0 adds -z_x * w at every border position."""
    from quantref.conv.im2col import im2col
    layer, _, _, x_q = random_layer(5, z_x=37)
    good = layer.matmul.accumulators(im2col(x_q, 3, 1, pad_value=37))
    bad = layer.matmul.accumulators(im2col(x_q, 3, 1, pad_value=0))
    assert np.any(good != bad)
    np.testing.assert_array_equal(layer.accumulators(x_q).transpose(0, 2, 3, 1).reshape(-1, 4), good)


def test_bad_input():
    layer, w, b, x_q = random_layer(6)
    with pytest.raises(TypeError, match=r"^x_q must be an array of uint8 codes, got dtype float64"):
        layer.forward_int(x_q.astype(np.float64))
    with pytest.raises(ValueError, match=r"^x_q has shape \(2, 2, 5, 6\); the layer takes images \(n, 3, h, w\)"):
        layer.forward_int(x_q[:, :2])
    with pytest.raises(TypeError, match=r"^weight_q must be an int8 array of shape \(c_out, c_in, k, k\)"):
        QuantizedConv2d(layer.weight_q.astype(np.int16), layer.weight_scale, layer.bias_q, 0.02, 37, 0.05, 90)
    with pytest.raises(ValueError, match=r"^output_scale=0.0001 is too small"):
        QuantizedConv2d.from_float(w, b, 0.02, 37, 1e-4, 90)
    with pytest.raises(ValueError, match=r"^the int32 accumulator of this layer could overflow"):
        QuantizedConv2d.from_float(np.ones((1, 20000, 3, 3)), None, 0.02, 128, 1e3, 0)   # 180000 * 128 * 127 > 2^31
    with pytest.raises(ValueError, match=r"^weight must have shape \(c_out, c_in, k, k\)"):
        QuantizedConv2d.from_float(np.ones((2, 9)), None, 0.02, 0, 0.05, 0)
    with pytest.raises(ValueError, match=r"^padding must be an integer >= 0"):
        QuantizedConv2d.from_float(w, b, 0.02, 37, 0.05, 90, padding=-1)
