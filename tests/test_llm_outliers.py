"""LLM outlier features (quantref.llm): per-tensor and vector-wise int8, LLM.int8(), SmoothQuant.

Measured on the default synthetic layer (256 tokens, 4096 -> 512, 6 outlier channels of
magnitude 20 to 80 in 75 % of the tokens, seed 0), relative Frobenius error of ``X W^T``:

========================================  ==========
method                                    rel. error
========================================  ==========
per-tensor int8                           0.117
vector-wise int8 (per token x channel)    0.090
LLM.int8() (threshold 6.0)                0.0049
SmoothQuant alpha = 0.5, per tensor       0.025
SmoothQuant alpha = 0.5, per token        0.023
per-tensor int8 with no outliers          0.018
========================================  ==========
"""
import doctest

import numpy as np
import pytest

from quantref.llm import (absmax, alpha_sweep, llm_int8, llm_int8_decompose, methods, outlier_activations,
                          outlier_columns, per_tensor_int8, relative_error, smooth, smoothing_factors, smoothquant,
                          synthetic, synthetic_layer, vectorwise_int8)


@pytest.fixture(scope="module")
def layer():
    return synthetic_layer(seed=0)


@pytest.mark.parametrize("module", [absmax, methods, synthetic])
def test_docstring_examples(module):
    assert doctest.testmod(module).failed == 0


# ----------------------------------------------------------------------------- the data
def test_generator_is_seeded_and_has_outlier_channels(layer):
    again = synthetic_layer(seed=0)
    np.testing.assert_array_equal(layer.x, again.x)
    np.testing.assert_array_equal(layer.w, again.w)
    assert not np.array_equal(layer.x, synthetic_layer(seed=1).x)
    x, cols = layer.x, layer.outlier_channels
    assert x.shape == (256, 4096) and layer.w.shape == (512, 4096) and cols.size == 6
    big = np.abs(x[:, cols]) >= 20 * 0.6          # magnitude >= 20, times (1 - 6 sigma of the 10 % jitter)
    assert 0.65 < big.mean() < 0.85                # in about 75 % of the tokens
    ordinary = np.delete(x, cols, axis=1)
    assert np.abs(ordinary).max() < 6.0            # only the outlier channels cross LLM.int8()'s threshold
    np.testing.assert_array_equal(outlier_columns(x), cols)


# ----------------------------------------------------------------------------- absmax int8
def test_per_tensor_hand_case():
    # X: amax 2.54 -> s_x = 0.02 ; W: amax 1.27 -> s_w = 0.01
    # codes X: 0.5 / 0.02 = 25, 2.54 -> 127, -0.01 / 0.02 = -0.5 -> round half even -> 0 (-0), 1.0 -> 50
    # codes W: 1.27 -> 127, -0.635 / 0.01 = -63.5 -> -64 (even)
    x = np.array([[0.5, 2.54], [-0.01, 1.0]])
    w = np.array([[1.27, -0.635]])
    # integer products: [25 * 127 + 127 * -64, 0 * 127 + 50 * -64] = [3175 - 8128, -3200] = [-4953, -3200]
    # times s_x s_w = 0.0002: [-0.9906, -0.64]
    y, err = per_tensor_int8(x, w)
    np.testing.assert_allclose(y, [[-0.9906], [-0.64]], rtol=1e-12)
    ref = x @ w.T                                   # [0.635 - 1.6129, -0.0127 - 0.635] = [-0.9779, -0.6477]
    assert err == pytest.approx(np.hypot(-0.9906 + 0.9779, -0.64 + 0.6477) / np.hypot(0.9779, 0.6477), rel=1e-9)


def test_relative_error_definition():
    assert relative_error([[3.0, 4.0]], np.array([[0.0, 0.0]])) == float("inf")
    assert relative_error([[1.0, 1.0]], np.array([[1.0, 2.0]])) == pytest.approx(1 / np.sqrt(5), rel=1e-15)


# ----------------------------------------------------------------------------- LLM.int8()
def test_decomposition_integer_part_is_exact():
    # a smaller layer: NumPy's int64 matmul (the reference) does not use BLAS and is slow
    layer = synthetic_layer(tokens=64, out_features=96, seed=3)
    d = llm_int8_decompose(layer.x, layer.w)
    np.testing.assert_array_equal(d.outlier_columns, layer.outlier_channels)
    regular = np.setdiff1d(np.arange(layer.x.shape[1]), d.outlier_columns)
    xr, wr = layer.x[:, regular], layer.w[:, regular]
    # codes, independently: per-row absmax scales amax / 127, round half to even, clip to [-127, 127]
    sx = np.abs(xr).max(axis=1) / 127
    sw = np.abs(wr).max(axis=1) / 127
    np.testing.assert_allclose(d.x_scale, sx, rtol=1e-15)
    np.testing.assert_allclose(d.w_scale, sw, rtol=1e-15)
    np.testing.assert_array_equal(d.x_codes, np.clip(np.rint(xr / sx[:, None]), -127, 127))
    np.testing.assert_array_equal(d.w_codes, np.clip(np.rint(wr / sw[:, None]), -127, 127))
    assert d.x_codes.dtype == np.int8 and d.w_codes.dtype == np.int8
    # the integer product, bit for bit against int64
    ref = d.x_codes.astype(np.int64) @ d.w_codes.astype(np.int64).T
    assert d.int_product.dtype == np.int32
    np.testing.assert_array_equal(d.int_product, ref)
    # the float part is exactly the outlier columns' product, and the parts add up
    np.testing.assert_array_equal(d.outlier_product, layer.x[:, d.outlier_columns] @ layer.w[:, d.outlier_columns].T)
    np.testing.assert_allclose(d.output, d.outlier_product + sx[:, None] * sw[None, :] * ref, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("v,is_outlier", [(6.0, True), (-6.0, True), (5.999999, False), (-5.999999, False),
                                          (6.000001, True), (np.nextafter(6.0, 0), False)])
def test_threshold_is_greater_or_equal(v, is_outlier):
    x = np.array([[1.0, v, 0.5], [-2.0, 0.0, 5.0]])
    expected = [1] if is_outlier else []
    np.testing.assert_array_equal(outlier_columns(x), expected)
    w = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(llm_int8_decompose(x, w).outlier_columns, expected)


def test_threshold_argument():
    x = np.array([[1.0, 3.0, 0.5]])
    np.testing.assert_array_equal(outlier_columns(x, threshold=3.0), [1])
    np.testing.assert_array_equal(outlier_columns(x, threshold=0.5), [0, 1, 2])


def test_all_columns_outliers_is_the_float_product():
    rng = np.random.default_rng(0)
    x, w = rng.uniform(7, 9, (4, 3)), rng.normal(size=(2, 3))
    y, err = llm_int8(x, w)
    np.testing.assert_array_equal(y, x @ w.T)
    assert err == 0.0


def test_no_outliers_is_plain_vectorwise_int8():
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=(8, 16)), rng.normal(size=(5, 16))
    np.testing.assert_array_equal(llm_int8(x, w).output, vectorwise_int8(x, w).output)


# ----------------------------------------------------------------------------- SmoothQuant
def test_smoothing_leaves_the_float_product_unchanged(layer):
    xs, ws, s = smooth(layer.x, layer.w)
    y, y_s = layer.x @ layer.w.T, xs @ ws.T
    # Each term x_k w_k becomes (x_k / s_k)(w_k s_k): three float64 roundings, <= 3u relative; each
    # dot product of K terms adds at most K u * sum_k |x_k w_k| (u = 2^-53).  Bound on the difference
    # of the two computed products: (2K + 3) u sum_k |x_k w_k|, elementwise.
    u = 2.0 ** -53
    K = layer.x.shape[1]
    bound = (2 * K + 3) * u * (np.abs(layer.x) @ np.abs(layer.w).T)
    assert np.all(np.abs(y_s - y) <= bound)
    assert np.abs(y_s - y).max() > 0                 # the bound is not vacuous: they do differ in rounding


def test_smoothing_balances_the_two_maxima(layer):
    # alpha = 0.5: max|X_j| / s_j = sqrt(max|X_j| max|W_j|) = max|W_j| s_j, for every channel j
    xs, ws, s = smooth(layer.x, layer.w, 0.5)
    np.testing.assert_allclose(np.abs(xs).max(axis=0), np.abs(ws).max(axis=0), rtol=1e-12)
    # the outliers are tamed: X's range shrinks from ~80 to a few units
    assert np.abs(xs).max() < np.abs(layer.x).max() / 5
    # alpha = 1: s_j = max|X_j|, all the difficulty moves into W and every column of X has max 1
    xs1, ws1, _ = smooth(layer.x, layer.w, 1.0)
    np.testing.assert_allclose(np.abs(xs1).max(axis=0), 1.0, rtol=1e-15)
    np.testing.assert_allclose(np.abs(ws1).max(axis=0), np.abs(layer.w).max(axis=0) * np.abs(layer.x).max(axis=0),
                               rtol=1e-15)


def test_smoothing_factor_formula_and_clamp():
    x = np.array([[9.0, 0.0], [-1.0, 0.0]])
    w = np.array([[4.0, 0.0], [1.0, 0.0]])
    # column 0: 9^0.5 / 4^0.5 = 1.5 ; column 1: both maxima clamped to 1e-5 -> 1e-5^0.5 / 1e-5^0.5 = 1
    np.testing.assert_allclose(smoothing_factors(x, w), [1.5, 1.0], rtol=1e-15)
    # alpha = 0.25 on column 0: 9^0.25 / 4^0.75 = sqrt(3) / (2 sqrt(2))
    assert smoothing_factors(x, w, 0.25)[0] == pytest.approx(np.sqrt(3) / (2 * np.sqrt(2)), rel=1e-14)


# ----------------------------------------------------------------------------- the errors
def test_outlier_methods_beat_per_tensor(layer):
    per_tensor = per_tensor_int8(layer.x, layer.w).rel_error
    vectorwise = vectorwise_int8(layer.x, layer.w).rel_error
    int8 = llm_int8(layer.x, layer.w).rel_error
    sq = smoothquant(layer.x, layer.w).rel_error
    sq_token = smoothquant(layer.x, layer.w, act_granularity="per_token").rel_error
    # per-tensor int8 fails badly: over 10 % error (measured 0.117), six times the error of the same
    # data without outlier channels; vector-wise scales do not help, every token has outliers
    no_outliers = synthetic_layer(n_outliers=0, seed=0)
    assert per_tensor > 0.1 > 0.05 > vectorwise * 0.5
    assert per_tensor > 5 * per_tensor_int8(no_outliers.x, no_outliers.w).rel_error
    # LLM.int8(): measured 24x better ; SmoothQuant: measured 4.6x (per tensor), 5x (per token)
    assert int8 < per_tensor / 10
    assert sq < per_tensor / 3 and sq_token < per_tensor / 3
    assert int8 < sq


def test_alpha_sweep_has_an_interior_optimum(layer):
    rows = alpha_sweep(layer.x, layer.w, progress=False)
    alphas = [r["alpha"] for r in rows]
    errors = np.array([r["rel_error"] for r in rows])
    assert alphas == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    best = alphas[int(np.argmin(errors))]
    assert 0.3 <= best <= 0.7                          # measured: 0.5
    assert errors[0] > 3 * errors.min() and errors[-1] > 3 * errors.min()
    assert rows[5]["rel_error"] == smoothquant(layer.x, layer.w, 0.5).rel_error


# ----------------------------------------------------------------------------- bad input
def test_bad_arguments():
    x, w = np.ones((4, 8)), np.ones((3, 8))
    with pytest.raises(ValueError, match=r"x has 8 columns but w has 3: w must be \(out, K\).*transposed"):
        per_tensor_int8(x, w.T)
    with pytest.raises(ValueError, match=r"x and w must be 2-D"):
        llm_int8(np.ones(8), w)
    with pytest.raises(ValueError, match=r"x contains 1 NaN or inf"):
        smoothquant(np.vstack([x[:3], [[np.inf] + [0.0] * 7]]), w)
    with pytest.raises(ValueError, match=r"alpha must be a number in \[0, 1\]"):
        smoothquant(x, w, alpha=1.5)
    with pytest.raises(ValueError, match=r"threshold must be a positive number"):
        llm_int8(x, w, threshold=0.0)
    with pytest.raises(ValueError, match=r"act_granularity='per_channel'"):
        smoothquant(x, w, act_granularity="per_channel")
    with pytest.raises(ValueError, match=r"granularity='rows' is not one of"):
        absmax.absmax_int8(x, "rows")
    with pytest.raises(ValueError, match=r"n_outliers=9 exceeds channels=8"):
        outlier_activations(tokens=4, channels=8, n_outliers=9)
    with pytest.raises(ValueError, match=r"outlier_tokens must be a fraction in \(0, 1\]"):
        outlier_activations(outlier_tokens=0.0)
