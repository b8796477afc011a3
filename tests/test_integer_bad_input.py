"""Integer-only inference refuses bad input with a TypeError or ValueError that names the argument.

Mismatched layer shapes, integer weights that are not int8, a multiplier outside (0, 1), and
accumulators that would overflow int32, at every public entry point of quantref.integer.
"""
import numpy as np
import pytest

from quantref.integer import (IntegerMLP, QuantizedLinear, fold_bias, multiply_by_quantized_multiplier,
                              quantize_bias, quantize_multiplier, quantize_weights_per_channel, requantize,
                              rounding_divide_by_pot, saturating_rounding_doubling_high_mul)
from quantref.zoo import MLP

W_Q = np.array([[1, -2, 3], [4, 5, -6]], dtype=np.int8)
X_Q = np.array([[1, 2, 3]], dtype=np.uint8)


def layer(**kw):
    args = dict(weight_q=W_Q, weight_scale=[0.01, 0.02], bias_q=[5, -5], input_scale=0.1, input_zero_point=3,
                output_scale=1.0, output_zero_point=7)
    args.update(kw)
    return QuantizedLinear(**args)


# ----------------------------------------------------------------------------- multipliers
@pytest.mark.parametrize("m", [0.0, 1.0, 1.5, -0.25, float("nan"), float("inf"), 1 - 2.0 ** -40,
                               np.array([0.5, 1.2])])
def test_multiplier_outside_zero_one(m):
    with pytest.raises(ValueError, match=r"multiplier.*(must lie in \(0, 1\)|rounds to 1\.0)"):
        quantize_multiplier(m)


@pytest.mark.parametrize("m", ["0.5", None, True, [object()]])
def test_multiplier_not_a_number(m):
    with pytest.raises(TypeError, match=r"^multiplier must be a real number"):
        quantize_multiplier(m)


def test_requantize_refuses_a_multiplier_outside_zero_one():
    with pytest.raises(ValueError, match=r"multiplier must lie in \(0, 1\)"):
        requantize(np.array([1], dtype=np.int32), 2.0, 0, 0, 255)


# ----------------------------------------------------------------------------- fixed-point arithmetic
@pytest.mark.parametrize("fn", [lambda v: saturating_rounding_doubling_high_mul(v, 1),
                                lambda v: rounding_divide_by_pot(v, 1),
                                lambda v: multiply_by_quantized_multiplier(v, 2 ** 30, 0),
                                lambda v: requantize(v, 0.5, 0, 0, 255)])
def test_float_accumulators_are_refused(fn):
    with pytest.raises(TypeError, match=r"must hold integers \(int32\)"):
        fn(np.array([1.0, 2.0]))


@pytest.mark.parametrize("fn, name", [(lambda v: saturating_rounding_doubling_high_mul(v, 1), "a"),
                                      (lambda v: saturating_rounding_doubling_high_mul(1, v), "b"),
                                      (lambda v: rounding_divide_by_pot(v, 1), "x"),
                                      (lambda v: multiply_by_quantized_multiplier(v, 2 ** 30, 0), "acc"),
                                      (lambda v: requantize(v, 0.5, 0, 0, 255), "acc")])
def test_accumulators_that_overflow_int32_are_refused(fn, name):
    with pytest.raises(ValueError, match=rf"^{name} holds values from .* outside the int32 range"):
        fn(np.array([0, 2 ** 31], dtype=np.int64))
    with pytest.raises(ValueError, match=rf"^{name} holds values"):
        fn(np.array([-(2 ** 31) - 1], dtype=np.int64))


@pytest.mark.parametrize("exponent", [-1, 32, np.array([0, 40])])
def test_exponent_out_of_range(exponent):
    with pytest.raises(ValueError, match=r"^exponent must lie in \[0, 31\]"):
        rounding_divide_by_pot(np.array([4], dtype=np.int32), exponent)


@pytest.mark.parametrize("exponent", [1.0, "2", True])
def test_exponent_not_an_integer(exponent):
    with pytest.raises(TypeError, match=r"^exponent must be an integer"):
        rounding_divide_by_pot(np.array([4], dtype=np.int32), exponent)


def test_quantized_multiplier_out_of_range():
    with pytest.raises(ValueError, match=r"^M0 holds values"):
        multiply_by_quantized_multiplier(np.array([1], dtype=np.int32), 2 ** 31, 0)
    with pytest.raises(ValueError, match=r"^M0 holds values"):
        multiply_by_quantized_multiplier(np.array([1], dtype=np.int32), -5, 0)
    with pytest.raises(ValueError, match=r"^shift must lie in \[0, 31\]"):
        multiply_by_quantized_multiplier(np.array([1], dtype=np.int32), 2 ** 30, 32)


def test_requantize_grid_and_zero_point():
    acc = np.array([1], dtype=np.int32)
    with pytest.raises(ValueError, match=r"^qmin=255 must be smaller than qmax=0"):
        requantize(acc, 0.5, 0, 255, 0)
    with pytest.raises(ValueError, match=r"^out_zero_point=300 must lie inside the output grid \[0, 255\]"):
        requantize(acc, 0.5, 300, 0, 255)
    with pytest.raises(TypeError, match=r"^out_zero_point must be an integer"):
        requantize(acc, 0.5, 1.5, 0, 255)
    with pytest.raises(TypeError, match=r"^relu must be True or False"):
        requantize(acc, 0.5, 0, 0, 255, relu="yes")
    with pytest.raises(TypeError, match=r"integer Q31 M0"):
        requantize(acc, (0.3, 0.4), 0, 0, 255)
    with pytest.raises(ValueError, match=r"must be \(M0, shift\)"):
        requantize(acc, (2 ** 30, 1, 2), 0, 0, 255)


# ----------------------------------------------------------------------------- weights and bias
@pytest.mark.parametrize("bad, kind", [(W_Q.astype(np.int16), "dtype int16"), (W_Q.astype(np.int32), "dtype int32"),
                                       (W_Q.astype(np.float32), "dtype float32"), (W_Q.tolist(), "list")])
def test_weights_not_int8_where_ints_are_passed(bad, kind):
    with pytest.raises(TypeError, match=rf"^weight_q must be an int8 array of weight codes, got {kind}"):
        layer(weight_q=bad)
    with pytest.raises(TypeError, match=r"^weight_q must be an int8 array"):
        fold_bias([0, 0], bad, 0)


def test_integer_weights_passed_as_float_weights():
    with pytest.raises(TypeError, match=r"^weight holds integers \(dtype int8\); it must hold the float weights"):
        QuantizedLinear.from_float(W_Q, None, 0.1, 0, 1.0, 0)
    with pytest.raises(TypeError, match=r"^weight holds integers"):
        quantize_weights_per_channel(np.array([[1, 2]]))


def test_weight_code_minus_128_is_refused():
    with pytest.raises(ValueError, match=r"^weight_q holds -128; .* narrow grid \[-127, 127\]"):
        layer(weight_q=np.array([[-128, 0, 0], [0, 0, 0]], dtype=np.int8))


def test_mismatched_layer_shapes():
    with pytest.raises(ValueError, match=r"^weight_scale has shape \(3,\); it must have shape \(2,\)"):
        layer(weight_scale=[0.1, 0.1, 0.1])
    with pytest.raises(ValueError, match=r"^bias_q has shape \(3,\); it must have shape \(2,\)"):
        layer(bias_q=[1, 2, 3])
    with pytest.raises(ValueError, match=r"^weight_q must be 2-D"):
        layer(weight_q=W_Q[0])
    with pytest.raises(ValueError, match=r"^bias has shape \(3,\), but weight has 2 output channels"):
        QuantizedLinear.from_float(np.ones((2, 3)), np.zeros(3), 0.1, 0, 1.0, 0)
    with pytest.raises(ValueError, match=r"^weight must be 2-D"):
        QuantizedLinear.from_float(np.ones(3), None, 0.1, 0, 1.0, 0)
    with pytest.raises(ValueError, match=r"^bias_q has shape \(3,\), but weight_q has 2 output channels"):
        fold_bias([1, 2, 3], W_Q, 0)
    with pytest.raises(ValueError, match=r"^bias has shape \(3,\) but weight_scale has shape \(2,\)"):
        quantize_bias([1.0, 2.0, 3.0], 0.1, [0.1, 0.2])


def test_mismatched_input_width_and_dtype():
    qlin = layer()
    with pytest.raises(ValueError, match=r"^x_q has shape \(1, 4\); .* in_features is 3"):
        qlin.forward_int(np.zeros((1, 4), dtype=np.uint8))
    with pytest.raises(TypeError, match=r"^x_q must be an array of uint8 codes, got dtype int8"):
        qlin.forward_int(X_Q.astype(np.int8))
    with pytest.raises(TypeError, match=r"^x_q must be an array of uint8 codes, got dtype float64"):
        qlin.forward_int(X_Q.astype(np.float64))


def test_output_scale_too_small_gives_a_multiplier_of_one_or_more():
    # M = s_x * s_w / s_out = 0.1 * 0.02 / 0.001 = 2 for channel 1
    with pytest.raises(ValueError, match=r"^output_scale=0.001 is too small: channel 0 has multiplier"):
        layer(output_scale=0.001)


def test_zero_points_outside_the_activation_grid():
    with pytest.raises(ValueError, match=r"^input_zero_point=256 is out of range"):
        layer(input_zero_point=256)
    with pytest.raises(ValueError, match=r"^output_zero_point=-129 is out of range"):
        layer(output_zero_point=-129, activation_dtype=np.int8)
    with pytest.raises(TypeError, match=r"^activation_dtype must be np.uint8 or np.int8"):
        layer(activation_dtype=np.int16)


def test_bias_that_does_not_fit_int32():
    with pytest.raises(ValueError, match=r"^bias\[0\]=1000.0 is .* outside int32: the int32 bias would saturate"):
        quantize_bias([1000.0, 0.0], 1e-4, np.array([1e-4, 1e-4]))


def test_accumulator_that_could_overflow_int32_is_refused_at_construction():
    # 3 inputs * 255 * 127 = 97155, plus |bias| 2^31 - 50000 > 2^31 - 1
    with pytest.raises(ValueError, match=r"^the int32 accumulator of this layer could overflow"):
        layer(bias_q=[2 ** 31 - 50_000, 0], input_zero_point=0)
    with pytest.raises(ValueError, match=r"^the int32 accumulator of this layer could overflow: in_features=70000"):
        QuantizedLinear(np.ones((1, 70_000), dtype=np.int8), [0.01], [0], 0.1, 0, 1.0, 0)


def test_folded_bias_that_overflows_int32():
    w = np.full((1, 3), 127, dtype=np.int8)
    with pytest.raises(ValueError, match=r"folded bias .* outside the int32 range"):
        fold_bias([2 ** 31 - 100], w, -128)


# ----------------------------------------------------------------------------- the integer MLP
def test_integer_mlp_bad_input():
    mlp = MLP([(np.ones((4, 3)), np.zeros(4)), (np.ones((2, 4)), np.zeros(2))])
    with pytest.raises(TypeError, match=r"^mlp must be a quantref.zoo.MLP"):
        IntegerMLP.from_float([(np.ones((4, 3)), np.zeros(4))], np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"^calibration_inputs has shape \(5, 4\); it must be \(n, 3\)"):
        IntegerMLP.from_float(mlp, np.ones((5, 4)))
    with pytest.raises(ValueError, match=r"^calibration_inputs has shape \(0, 3\)"):
        IntegerMLP.from_float(mlp, np.ones((0, 3)))
    model = IntegerMLP.from_float(mlp, np.random.default_rng(0).normal(size=(10, 3)))
    with pytest.raises(ValueError, match=r"^x has shape \(2, 5\); the model takes \(n_samples, 3\)"):
        model.predict(np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"^mismatched layer shapes: layers\[0\] has 4 outputs but layers\[1\] takes 3"):
        IntegerMLP([model.layers[0], model.layers[0]], model.input_scale, model.input_zero_point)
