"""QuantizedLinear: exact against an independent int64 emulation, and within one output step of float.

The emulation below quantizes the weights, bias and multipliers itself (NumPy formulas of the
TFLite scheme and the Python-integer multiplier of ``fixedpoint_emulation.py``), computes
``(x - z_x) @ W_q.T + b_q`` in int64 and requantizes with its own rounding code; nothing in it
calls quantref.
"""
import numpy as np
import pytest

import quantref.integer.linear_layer as linear_layer
from fixedpoint_emulation import quantize_multiplier_py, requantize_int64
from quantref.integer import QuantizedLinear, fold_bias, quantize_bias, quantize_weights_per_channel
from quantref.kernels import compiled_available

F32_EPS = float(np.finfo(np.float32).eps)


def emulate(w, b, s_x, z_x, s_out, z_out, relu, signed):
    """Independent int64 emulation: returns (codes function, W_q, s_w, b_q, folded bias, m0, shift)."""
    w = np.asarray(w, dtype=np.float64)
    s_w = np.maximum(np.abs(w).max(axis=1) / 127.0, F32_EPS)
    w_q = np.clip(np.rint(w / s_w[:, None]), -127, 127).astype(np.int64)
    b_q = np.rint(np.asarray(b, dtype=np.float64) / (s_x * s_w)).astype(np.int64)
    folded = b_q - z_x * w_q.sum(axis=1)
    pairs = [quantize_multiplier_py(float(s_x * s / s_out)) for s in s_w]
    m0 = np.array([p[0] for p in pairs], dtype=np.int64)
    shift = np.array([p[1] for p in pairs], dtype=np.int64)
    qmin, qmax = (-128, 127) if signed else (0, 255)

    def codes(x_q):
        acc = (x_q.astype(np.int64) - z_x) @ w_q.T + b_q
        return requantize_int64(acc, m0, shift, z_out, qmin, qmax, relu)
    return codes, w_q, s_w, b_q, folded, m0, shift


def random_layer(seed, signed=False, relu=False, n_in=None, n_out=None):
    rng = np.random.default_rng(seed)
    n_in = n_in or int(rng.integers(1, 80))
    n_out = n_out or int(rng.integers(1, 20))
    w = rng.normal(0, 1, size=(n_out, n_in)) * 10.0 ** rng.uniform(-2, 0, size=(n_out, 1))   # varied channel ranges
    b = rng.normal(0, 0.5, size=n_out)
    qmin, qmax = (-128, 127) if signed else (0, 255)
    s_x, z_x = float(rng.uniform(0.005, 0.05)), int(rng.integers(qmin, qmax + 1))
    x_q = rng.integers(qmin, qmax + 1, size=(int(rng.integers(1, 40)), n_in)).astype(np.int8 if signed else np.uint8)
    y = ((x_q.astype(np.float64) - z_x) * s_x) @ w.T + b        # the float layer on these inputs
    lo, hi = min(y.min(), 0.0), max(y.max(), 0.0)
    s_out = max((hi - lo) / 255.0, 1e-6)
    z_out = int(np.clip(qmin - np.rint(lo / s_out), qmin, qmax))
    return dict(w=w, b=b, s_x=s_x, z_x=z_x, s_out=s_out, z_out=z_out, relu=relu, signed=signed), x_q


def build(p):
    return QuantizedLinear.from_float(p["w"], p["b"], p["s_x"], p["z_x"], p["s_out"], p["z_out"], relu=p["relu"],
                                      activation_dtype=np.int8 if p["signed"] else np.uint8)


# ----------------------------------------------------------------------------- hand cases
def test_hand_case():
    # W = [[1, -1]] -> s_w = 1/127, W_q = [127, -127]; s_x = 1/255, z_x = 0
    # b = 0.5 -> b_q = round(0.5 / (1/255 * 1/127)) = round(16192.5) = 16192 (half to even)
    # x = [255, 0]: acc = 255 * 127 + 16192 = 48577; M = (1/255)(1/127)/(1/255) = 1/127
    # 48577 / 127 = 382.5 -> 383 ; + z_out 128 = 511 -> clamped to 255
    # x = [0, 100]: acc = -12700 + 16192 = 3492. M = 1/127 = (64/127) * 2^-6: M0 = round(64/127 * 2^31)
    # = 1082196484, shift 6. High mul: 3492 * M0 / 2^31 = 1759.75 -> 1760; 1760 / 2^6 = 27.5 -> 28 (tie,
    # away from zero); + 128 = 156. (The exact 3492 / 127 = 27.496 would give 155: double rounding,
    # within the 1/2 + 2^-7 step that gemmlowp's two roundings allow.)
    layer = QuantizedLinear.from_float(np.array([[1.0, -1.0]]), np.array([0.5]), 1 / 255, 0, 1 / 255, 128)
    np.testing.assert_array_equal(layer.weight_q, np.array([[127, -127]], dtype=np.int8))
    np.testing.assert_array_equal(layer.bias_q, np.array([16192], dtype=np.int32))
    x = np.array([[255, 0], [0, 100]], dtype=np.uint8)
    np.testing.assert_array_equal(layer.accumulators(x), np.array([[48577], [3492]], dtype=np.int32))
    np.testing.assert_array_equal(layer.forward_int(x), np.array([[255], [156]], dtype=np.uint8))


def test_hand_case_zero_point_is_folded_into_the_bias():
    # W_q = [[1, -2, 3], [-127, 0, 5]] (row sums 2, -122), b_q = [100, -7], z_x = 128
    # folded = [100 - 128 * 2, -7 + 128 * 122] = [-156, 15609]
    w_q = np.array([[1, -2, 3], [-127, 0, 5]], dtype=np.int8)
    np.testing.assert_array_equal(fold_bias(np.array([100, -7], dtype=np.int32), w_q, 128),
                                  np.array([-156, 15609], dtype=np.int32))
    layer = QuantizedLinear(w_q, [0.01, 0.02], [100, -7], 0.1, 128, 1.0, 0)
    np.testing.assert_array_equal(layer.weight_sums, [2, -122])
    np.testing.assert_array_equal(layer.bias_folded, np.array([-156, 15609], dtype=np.int32))
    # x = [129, 128, 127] -> x - z = [1, 0, -1]: acc = [1 - 3 + 100, -127 - 5 - 7] = [98, -139]
    np.testing.assert_array_equal(layer.accumulators(np.array([129, 128, 127], dtype=np.uint8)),
                                  np.array([98, -139], dtype=np.int32))


def test_hand_case_weight_and_bias_quantization():
    # row 0: amax 1.27 -> s = 0.01: [50, -127]; row 1: amax 2.54 -> s = 0.02: 2.54 / 0.02 = 127, 0.03 / 0.02 = 1.5 -> 2
    w_q, s_w = quantize_weights_per_channel([[0.5, -1.27], [2.54, 0.03]])
    np.testing.assert_array_equal(w_q, np.array([[50, -127], [127, 2]], dtype=np.int8))
    np.testing.assert_allclose(s_w, [0.01, 0.02], rtol=1e-15)
    # 0.5 / (0.1 * 0.5) = 10 ; -0.25 / (0.1 * 0.01) = -250
    np.testing.assert_array_equal(quantize_bias([0.5, -0.25], 0.1, np.array([0.5, 0.01])),
                                  np.array([10, -250], dtype=np.int32))


# ----------------------------------------------------------------------------- exact, against the emulation
@pytest.mark.parametrize("seed", range(12))
def test_integer_output_matches_the_int64_emulation_bit_for_bit(seed):
    params, x_q = random_layer(seed, signed=bool(seed % 2), relu=seed % 3 == 0)
    layer = build(params)
    codes, w_q, s_w, b_q, folded, m0, shift = emulate(**params)
    np.testing.assert_array_equal(layer.weight_q, w_q.astype(np.int8))
    np.testing.assert_allclose(layer.weight_scale, s_w, rtol=1e-15)
    np.testing.assert_array_equal(layer.bias_q, b_q.astype(np.int32))
    np.testing.assert_array_equal(layer.bias_folded, folded.astype(np.int32))
    np.testing.assert_array_equal(layer.m0, m0.astype(np.int32))
    np.testing.assert_array_equal(layer.shift, shift.astype(np.int32))
    out = layer.forward_int(x_q)
    assert out.dtype == x_q.dtype and out.shape == (len(x_q), layer.out_features)
    np.testing.assert_array_equal(out.astype(np.int64), codes(x_q))
    # one sample as a 1-D vector gives the same row
    np.testing.assert_array_equal(layer.forward_int(x_q[0]), out[0])


def test_accumulators_match_the_zero_point_expansion():
    params, x_q = random_layer(100)
    layer = build(params)
    _, w_q, _, b_q, _, _, _ = emulate(**params)
    expected = (x_q.astype(np.int64) - params["z_x"]) @ w_q.T + b_q
    acc = layer.accumulators(x_q)
    assert acc.dtype == np.int32
    np.testing.assert_array_equal(acc.astype(np.int64), expected)


def test_the_core_runs_on_int_matmul_with_zero_points_zero(monkeypatch):
    calls = []
    real = linear_layer.int_matmul

    def spy(a, b, a_zero_point=0, b_zero_point=0, **kw):
        calls.append((a.shape, b.shape, a_zero_point, b_zero_point))
        return real(a, b, a_zero_point, b_zero_point, **kw)
    monkeypatch.setattr(linear_layer, "int_matmul", spy)
    params, x_q = random_layer(7, n_in=9, n_out=4)
    build(params).forward_int(x_q)
    assert calls == [((len(x_q), 9), (9, 4), 0, 0)]


@pytest.mark.skipif(not compiled_available(), reason="the Cython extension is not built here")
def test_both_kernel_backends_give_the_same_codes(monkeypatch):
    params, x_q = random_layer(8, n_in=70, n_out=12)
    layer = build(params)
    monkeypatch.setenv("QUANTREF_BACKEND", "numpy")
    with_numpy = layer.forward_int(x_q)
    monkeypatch.setenv("QUANTREF_BACKEND", "cython")
    np.testing.assert_array_equal(layer.forward_int(x_q), with_numpy)


# ----------------------------------------------------------------------------- float agreement
@pytest.mark.parametrize("seed", range(12))
def test_dequantized_output_is_within_one_output_step_of_float(seed):
    """forward_float vs the float64 layer on the same dequantized inputs, weights and bias.

    The integer path differs from ``y = M * acc`` (in output steps) only by rounding:
    at most 1/2 step in RoundingDivideByPOT, 2^-(n+1) step in the high multiply (n >= 1 whenever
    both roundings occur; with n = 0 there is only the one), and |acc * M| * 2^-31 step from
    the Q31 rounding of M.  With |acc * M| << 2^29 here that is below 3/4 step, and clamping
    (applied to both sides) can only shrink it.  So: one output step, with a sharper 0.75 check.
    """
    params, x_q = random_layer(seed + 50, signed=bool(seed % 2), relu=seed % 3 == 0)
    layer = build(params)
    _, w_q, s_w, b_q, _, _, _ = emulate(**params)
    s_x, z_x, s_out, z_out = params["s_x"], params["z_x"], params["s_out"], params["z_out"]
    x_real = s_x * (x_q.astype(np.float64) - z_x)
    y = x_real @ (w_q * s_w[:, None]).T + s_x * s_w * b_q       # float64 on the quantized values
    qmin, qmax = (-128, 127) if params["signed"] else (0, 255)
    y = np.clip(y, s_out * (qmin - z_out), s_out * (qmax - z_out))
    if params["relu"]:
        y = np.maximum(y, 0.0)
    err = np.abs(layer.forward_float(x_q) - y) / s_out
    assert err.max() <= 1.0
    assert err.max() <= 0.75 + 1e-6, err.max()


def test_nbytes_counts_int8_weights_int32_bias_and_multipliers():
    params, _ = random_layer(3, n_in=10, n_out=6)
    # 6 * 10 int8 weights + 6 int32 folded biases + 6 int32 M0 + 6 int32 shifts = 60 + 24 + 24 + 24
    assert build(params).nbytes == 132
