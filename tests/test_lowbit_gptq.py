"""GPTQ (quantref.lowbit.gptq) against the slow OBQ loop (quantref.lowbit.obq), and against RTN.

Equality: the two compute the same updates in exact arithmetic (GPTQ through the Cholesky factor
of H^-1, OBQ through K Schur complements of H^-1), so in float64 they differ by rounding only.
Tested: identical integer codes and zero points, scales equal within rtol 1e-9 (the two paths
accumulate K ~ 10^2 rounding errors of size 1e-16 amplified by cond(H) <= ~1e4 after dampening),
and an identical dequantized weight up to the same tolerance.  A rounding flip (a value within
1e-9 of a half-integer on the grid) would show as a differing code; the seeded data has none.
"""
import numpy as np
import pytest

from quantref.linear import dequantize, minmax, qparams, quantize
from quantref.lowbit import gptq_from_hessian, gptq_quantize, layer_hessian, obq_quantize, quantize_groupwise
from quantref.lowbit.gptq import inverse_cholesky_upper
from quantref.lowbit.hessian import prepare_hessian

SCALE_RTOL = 1e-9


def correlated_inputs(n, K, rng, mixing=None):
    """Inputs with strongly correlated channels (a low-rank mixing plus noise) and three loud channels.

    Pass the same ``mixing`` (rank x K) to draw held-out samples of the same distribution.
    """
    if mixing is None:
        rank = K // 4
        mixing = rng.standard_normal((rank, K)) / np.sqrt(rank)
    x = rng.standard_normal((n, mixing.shape[0])) @ mixing + 0.1 * rng.standard_normal((n, K))
    x[:, :3] *= 5.0
    return x


def tie_free(w, G):
    """``w`` with the first column of every group shrunk.

    A symmetric grid puts the group's largest |w| at exactly +-(2^b - 1)/2 steps, a half-integer:
    when that weight is the group's first column (quantized with the very values its scale came
    from) and negative, float64 rounding decides between two codes, and GPTQ and OBQ, whose values
    differ by ~1e-16, may round it differently.  Shrinking first columns keeps them off the maximum.
    """
    w = w.copy()
    w[:, ::G] *= 0.1
    return w


def assert_same_quantization(a, b):
    assert np.array_equal(a.codes, b.codes)
    assert np.array_equal(a.zero_points, b.zero_points)
    np.testing.assert_allclose(a.scales, b.scales, rtol=SCALE_RTOL, atol=0)
    np.testing.assert_allclose(a.dequantize(), b.dequantize(), rtol=SCALE_RTOL, atol=1e-12)


@pytest.mark.parametrize("bits", [3, 4])
@pytest.mark.parametrize("G", [32, 64, 128, None])
@pytest.mark.parametrize("symmetric", [False, True])
def test_gptq_equals_the_obq_loop(bits, G, symmetric):
    rng = np.random.default_rng(bits * 7 + (G or 0) + symmetric)
    K = 256
    w = rng.standard_normal((12, K))
    if symmetric:
        w = tie_free(w, G or K)
    h = layer_hessian(correlated_inputs(512, K, rng))
    slow = obq_quantize(w, h, bits, G, symmetric=symmetric)
    fast = gptq_from_hessian(w, h, bits, G, symmetric=symmetric)
    assert_same_quantization(fast, slow)


@pytest.mark.parametrize("blocksize", [1, 7, 32, 100, 128, 1000])
def test_lazy_batches_do_not_change_the_result(blocksize):
    rng = np.random.default_rng(3)
    K = 192                                        # groups of 64 straddle blocks of 7, 100 and 128
    w = rng.standard_normal((10, K))
    h = layer_hessian(correlated_inputs(400, K, rng))
    assert_same_quantization(gptq_from_hessian(w, h, 4, 64, blocksize=blocksize), obq_quantize(w, h, 4, 64))


def stale_group_gptq(w, h, bits, G, B=128):
    """GPTQ as the reference code computes group parameters: from the weights as they were when the
    block started.  Kept to show that the equality test tells the two apart."""
    h, W = prepare_hessian(h, w)
    U = inverse_cholesky_upper(h)
    N, K = W.shape
    codes = np.zeros((N, K), dtype=np.uint8)
    for i1 in range(0, K, B):
        i2 = min(i1 + B, K)
        W1, E1, U1 = W[:, i1:i2].copy(), np.zeros((N, i2 - i1)), U[i1:i2, i1:i2]
        for i in range(i2 - i1):
            j = i1 + i
            if j % G == 0:
                s, z = qparams(*minmax(W[:, j:j + G], axis=0), bits, signed=False)   # stale W
            q = quantize(W1[:, i], s, z, bits, signed=False, axis=0)
            codes[:, j] = q
            err = (W1[:, i] - dequantize(q, s, z, axis=0)) / U1[i, i]
            W1[:, i:] -= np.outer(err, U1[i, i:])
            E1[:, i] = err
        W[:, i2:] -= E1 @ U[i1:i2, i2:]
    return codes


def test_the_equality_test_can_fail():
    """Two plausible variants differ from OBQ: stale group parameters, and no error feedback (RTN)."""
    rng = np.random.default_rng(4)
    K = 256
    w = rng.standard_normal((12, K))
    h = layer_hessian(correlated_inputs(512, K, rng))
    slow = obq_quantize(w, h, 4, 32)
    assert not np.array_equal(stale_group_gptq(w, h, 4, 32), slow.codes)
    assert not np.array_equal(quantize_groupwise(w, 4, 32).codes, slow.codes)


def test_the_cholesky_form():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((300, 40))
    h = layer_hessian(x)
    np.testing.assert_allclose(h, 2 * sum(np.outer(r, r) for r in x), rtol=1e-12)
    hd, _ = prepare_hessian(h, np.zeros((1, 40)), 0.01)
    np.testing.assert_allclose(np.diag(hd - h), np.full(40, 0.01 * np.mean(np.diag(h))), rtol=1e-12)
    U = inverse_cholesky_upper(hd)
    assert np.allclose(U, np.triu(U)) and np.all(np.diag(U) > 0)
    np.testing.assert_allclose(U.T @ U, np.linalg.inv(hd), rtol=1e-9, atol=1e-15)
    # row j of U is row j of the Schur-complemented inverse, divided by the square root of its pivot
    hinv = np.linalg.inv(hd)
    for j in range(5):
        np.testing.assert_allclose(U[j, j:], hinv[j, j:] / np.sqrt(hinv[j, j]), rtol=1e-9, atol=1e-15)
        hinv = hinv - np.outer(hinv[:, j], hinv[j, :]) / hinv[j, j]


@pytest.mark.parametrize("bits, G", [(4, 128), (4, 32), (3, 64), (3, 128)])
def test_gptq_output_error_is_below_rtn_on_correlated_inputs(bits, G):
    rng = np.random.default_rng(6 + bits + G)
    K, N = 256, 64
    w = rng.standard_normal((N, K)) / np.sqrt(K)
    mixing = rng.standard_normal((K // 4, K)) / np.sqrt(K // 4)
    x_cal = correlated_inputs(1024, K, rng, mixing)
    x_test = correlated_inputs(1024, K, np.random.default_rng(99), mixing)   # held out, same distribution
    w_gptq = gptq_quantize(w, x_cal, bits, G).dequantize()
    w_rtn = quantize_groupwise(w, bits, G).dequantize()
    for x in (x_cal, x_test):
        e_gptq = np.linalg.norm(x @ w.T - x @ w_gptq.T)
        e_rtn = np.linalg.norm(x @ w.T - x @ w_rtn.T)
        assert e_gptq < 0.6 * e_rtn


def test_dead_inputs_get_zero_weight_and_do_not_break_the_factorisation():
    rng = np.random.default_rng(7)
    x = correlated_inputs(300, 64, rng)
    x[:, [5, 40]] = 0.0
    w = rng.standard_normal((6, 64))
    gq = gptq_quantize(w, x, 4, 32)
    assert np.all(gq.dequantize()[:, [5, 40]] == 0.0)
    assert_same_quantization(gq, obq_quantize(w, layer_hessian(x), 4, 32))


@pytest.mark.parametrize("call, exc, words", [
    (lambda w, x: gptq_quantize(w, x[:, :10], 4, 32), ValueError, ["K=64"]),
    (lambda w, x: gptq_quantize(w, x, 5.5, 32), TypeError, ["bits"]),
    (lambda w, x: gptq_quantize(w, x, 1, 32), ValueError, ["bits=1"]),
    (lambda w, x: gptq_quantize(w, x, 4, 24), ValueError, ["group_size=24"]),
    (lambda w, x: gptq_quantize(w, np.where(x > 2, np.nan, x), 4, 32), ValueError, ["NaN"]),
    (lambda w, x: gptq_quantize(np.where(w > 2, np.inf, w), x, 4, 32), ValueError, ["inf"]),
    (lambda w, x: gptq_quantize(w, x, 4, 32, percdamp=-1), ValueError, ["percdamp"]),
    (lambda w, x: gptq_quantize(w, x, 4, 32, blocksize=0), ValueError, ["blocksize"]),
    (lambda w, x: gptq_quantize(w, x, 4, 32, percdamp=0.0) if False else
     gptq_from_hessian(w, -np.eye(64), 4, 32, percdamp=0.0), ValueError, ["positive definite"]),
    (lambda w, x: gptq_from_hessian(w, np.eye(63), 4, 32), ValueError, ["(64, 64)"]),
    (lambda w, x: gptq_from_hessian(w, np.triu(np.ones((64, 64))), 4, 32), ValueError, ["symmetric"]),
])
def test_bad_input_is_rejected_with_a_clear_message(call, exc, words):
    rng = np.random.default_rng(8)
    w, x = rng.standard_normal((4, 64)), rng.standard_normal((100, 64))
    with pytest.raises(exc) as info:
        call(w, x)
    for word in words:
        assert word in str(info.value)
