"""AWQ (quantref.lowbit.awq): per-input-channel scales searched on a grid of exponents.

The grid is {0, 0.05, ..., 1} (21 values).  alpha = 0 gives s = 1 exactly, so its result equals
plain group-wise RTN bit for bit; every other comparison is in float64 on the same data.
"""
import numpy as np
import pytest

from quantref.lowbit import ALPHA_GRID, awq_quantize, awq_scales, quantize_groupwise


def salient_inputs(n, K, rng, salient=(3, 17, 40), gain=30.0):
    x = rng.standard_normal((n, K))
    x[:, list(salient)] *= gain
    return x


def test_the_grid():
    assert len(ALPHA_GRID) == 21 and ALPHA_GRID[0] == 0.0 and ALPHA_GRID[-1] == 1.0
    np.testing.assert_allclose(np.diff(ALPHA_GRID), 0.05, atol=1e-15)


def test_scales_follow_the_formula():
    a = np.array([0.5, 2.0, 8.0, 0.0])
    for alpha in (0.0, 0.5, 1.0):
        raw = np.maximum(a ** alpha, 1e-4)
        expect = raw / np.sqrt(raw.max() * raw.min())
        np.testing.assert_allclose(awq_scales(a, alpha), expect, rtol=1e-15)
    assert np.array_equal(awq_scales(a, 0.0), np.ones(4))


@pytest.mark.parametrize("bits, G, symmetric", [(4, 32, False), (3, 64, True), (4, 128, True)])
def test_alpha_zero_is_plain_rtn_exactly(bits, G, symmetric):
    rng = np.random.default_rng(bits + G)
    w, x = rng.standard_normal((16, 256)), salient_inputs(300, 256, rng)
    res = awq_quantize(w, x, bits, G, symmetric=symmetric, grid=[0.0])
    rtn = quantize_groupwise(w, bits, G, symmetric=symmetric)
    assert res.alpha == 0.0 and np.array_equal(res.scales, np.ones(256))
    assert np.array_equal(res.quantized.codes, rtn.codes)
    assert np.array_equal(res.quantized.scales, rtn.scales)
    assert np.array_equal(res.dequantize(), rtn.dequantize())


@pytest.mark.parametrize("bits, G", [(4, 128), (3, 128), (3, 32), (4, 64)])
def test_the_chosen_alpha_is_no_worse_than_rtn_and_is_the_grid_minimum(bits, G):
    rng = np.random.default_rng(10 * bits + G)
    w, x = rng.standard_normal((32, 256)), salient_inputs(500, 256, rng)
    res = awq_quantize(w, x, bits, G)
    rtn = quantize_groupwise(w, bits, G).dequantize()
    e_rtn = np.mean((x @ w.T - x @ rtn.T) ** 2)
    e_awq = np.mean((x @ w.T - x @ res.dequantize().T) ** 2)
    assert e_awq <= e_rtn
    np.testing.assert_allclose(res.errors[0], e_rtn, rtol=1e-9)     # the grid starts at alpha = 0 (Gram form)
    assert res.alpha == ALPHA_GRID[int(np.argmin(res.errors))]
    np.testing.assert_allclose(e_awq, res.errors.min(), rtol=1e-9)


def test_salient_channels_are_protected():
    rng = np.random.default_rng(3)
    K, salient = 256, [3, 17, 40, 200]
    w, x = rng.standard_normal((64, K)), salient_inputs(800, K, rng, salient)
    res = awq_quantize(w, x, 3, 128)
    rtn = quantize_groupwise(w, 3, 128).dequantize()
    assert res.alpha >= 0.2
    assert res.errors.min() < 0.5 * res.errors[0]                 # a large gain over RTN
    # the salient channels get the largest scales, and their weights are quantized more finely
    assert set(np.argsort(res.scales)[-len(salient):]) == set(salient)
    err_awq = np.abs(res.dequantize() - w)[:, salient].mean()
    err_rtn = np.abs(rtn - w)[:, salient].mean()
    assert err_awq < 0.5 * err_rtn


def test_without_salient_channels_awq_gains_little():
    rng = np.random.default_rng(4)
    w, x = rng.standard_normal((32, 256)), rng.standard_normal((500, 256))
    res = awq_quantize(w, x, 4, 128)
    assert res.errors.min() > 0.9 * res.errors[0]


def test_folding_the_scales_into_the_input_gives_the_same_product():
    rng = np.random.default_rng(5)
    w, x = rng.standard_normal((8, 128)), salient_inputs(50, 128, rng, (1, 2))
    res = awq_quantize(w, x, 4, 64)
    y_folded = res.fold_input(x) @ res.quantized.dequantize().T            # (x / s) Q(W s)^T
    np.testing.assert_allclose(y_folded, x @ res.dequantize().T, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("call, exc, words", [
    (lambda w, x: awq_quantize(w, x[:, :10], 4, 32), ValueError, ["K=64"]),
    (lambda w, x: awq_quantize(w, x, 0, 32), ValueError, ["bits=0"]),
    (lambda w, x: awq_quantize(w, x, 4, 48), ValueError, ["group_size=48"]),
    (lambda w, x: awq_quantize(w, np.where(x > 2, np.nan, x), 4, 32), ValueError, ["NaN"]),
    (lambda w, x: awq_quantize(w.astype(complex), x, 4, 32), TypeError, ["dtype complex"]),
    (lambda w, x: awq_quantize(w, x, 4, 32, grid=[]), ValueError, ["grid is empty"]),
    (lambda w, x: awq_quantize(w, x, 4, 32, grid=[0.0, 1.5]), ValueError, ["alpha must lie in [0, 1]"]),
])
def test_bad_input_is_rejected_with_a_clear_message(call, exc, words):
    rng = np.random.default_rng(6)
    w, x = rng.standard_normal((4, 64)), rng.standard_normal((100, 64))
    with pytest.raises(exc) as info:
        call(w, x)
    for word in words:
        assert word in str(info.value)
