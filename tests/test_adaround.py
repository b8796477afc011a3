"""AdaRound for one linear layer (quantref.adaround): the relaxation, its gradient, and the gain.

The gain is shown on the first layer of the digits MLP (pixel inputs: non-negative and strongly
correlated) and on a synthetic layer with zero-mean correlated inputs, at 4 and 3 bits, on the
calibration inputs and on held-out inputs.  Measured (default settings, 2000 iterations):

==============================  ====  ==================  ==================
layer                           bits  round-to-nearest    AdaRound
==============================  ====  ==================  ==================
digits MLP layer 1 (64 x 64)    4     0.851 (test 0.856)  0.154 (test 0.154)
digits MLP layer 1              3     5.531 (test 5.540)  0.839 (test 0.861)
synthetic 32 x 64, seed 0       4     0.960 (new 0.944)   0.097 (new 0.097)
synthetic 32 x 64, seed 0       3     5.652 (new 5.487)   0.524 (new 0.514)
==============================  ====  ==================  ==================

(output error: mean over inputs of ``||W x - W_hat x||^2``).  The tests assert a factor 3 on the
calibration inputs and a factor 2 on held-out inputs, far from both the measured gains and from 1.
"""
import doctest

import numpy as np
import pytest

from quantref import adaround
from quantref.adaround import (AdaRoundLoss, adaround_layer, beta_at, initial_v, output_error, rectified_sigmoid,
                               rounding_regularizer)
from quantref.linear import integer_grid, minmax, qparams
from quantref.zoo import load_digits_split, pretrained_mlp


def test_docstring_examples():
    assert doctest.testmod(adaround).failed == 0


# ----------------------------------------------------------------------------- the relaxation
def test_rectified_sigmoid_and_its_inverse():
    r = np.linspace(0, 0.999, 1000)
    # h(V(r)) = r: logit then sigmoid, a few ulp
    np.testing.assert_allclose(rectified_sigmoid(initial_v(r)), r, rtol=0, atol=1e-13)
    # h = 1.2 sigmoid - 0.1 clipped: reaches exactly 0 and 1 for finite V (sigmoid = 1/12 and 11/12)
    v01 = np.log(11.0)                     # sigmoid(log 11) = 11/12 -> h = 1.2 * 11/12 - 0.1 = 1
    assert rectified_sigmoid(v01 + 1e-9) == 1.0 and rectified_sigmoid(-v01 - 1e-9) == 0.0
    # V = 0 is h = 1/2 up to the rounding of 1.2 * 0.5 - 0.1 in binary
    assert rectified_sigmoid(np.array(0.0)) == pytest.approx(0.5, abs=1e-15)
    assert rectified_sigmoid(np.array(-1000.0)) == 0.0 and rectified_sigmoid(np.array(1000.0)) == 1.0


def test_regularizer_and_beta_schedule_by_hand():
    # 1 - |2h - 1|^beta: h = 0, 1 -> 0 ; h = 1/2 -> 1 ; h = 0.75, beta 2 -> 1 - 0.25 = 0.75
    assert rounding_regularizer([0.0, 1.0], 20.0) == 0.0
    assert rounding_regularizer([0.5], 2.0) == 1.0
    assert rounding_regularizer([0.75], 2.0) == 0.75
    # 100 iterations, warm start 20: off for t < 20 ; t = 20 -> 20 ; t = 60 -> 2 + 18 * (1 - 40/80) = 11
    assert beta_at(19, 100) is None
    assert beta_at(20, 100) == 20.0
    assert beta_at(60, 100) == 11.0
    assert beta_at(99, 100) == pytest.approx(2 + 18 / 80)


def loss_setup(seed=0, bits=3):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(4, 6))
    x = rng.normal(size=(50, 6)) @ rng.normal(size=(6, 6))
    s, _ = qparams(*minmax(w, axis=0), bits, symmetric=True, narrow_range=True)
    qmin, qmax = integer_grid(bits, signed=True, narrow_range=True)
    return w, x, AdaRoundLoss(w, x.T @ x / len(x), s, qmin, qmax, lam=0.05, unit=2.5)


@pytest.mark.parametrize("beta", [None, 20.0, 7.0, 2.0])
def test_loss_gradient_against_finite_differences(beta):
    # The relaxed loss is smooth where 0 < h < 1 and the clip is inactive: V in (-2, 2) keeps
    # h in (0.03, 0.97); the largest weights (|W/s| = qmax) could clip, so they are left out below.
    w, x, loss = loss_setup()
    rng = np.random.default_rng(1)
    v = rng.uniform(-2, 2, w.shape)
    rec, reg, grad = loss(v, beta)
    # the loss value, independently: R of the soft weight over R's unit, plus lam * regularizer
    soft = loss.s * np.clip(loss.floor + rectified_sigmoid(v), loss.qmin, loss.qmax)
    assert rec == pytest.approx(output_error(w, soft, x) / 2.5, rel=1e-12)
    assert reg == (0.0 if beta is None else pytest.approx(0.05 * rounding_regularizer(rectified_sigmoid(v), beta)))
    h = 1e-6
    inside = np.abs(loss.floor + 1) <= loss.qmax
    for idx in zip(*np.nonzero(inside)):
        vp, vm = v.copy(), v.copy()
        vp[idx] += h
        vm[idx] -= h
        fd = (sum(loss(vp, beta)[:2]) - sum(loss(vm, beta)[:2])) / (2 * h)
        # central differences: O(h^2) truncation, ~1e-16 / h rounding
        assert grad[idx] == pytest.approx(fd, rel=1e-6, abs=1e-8)


def test_output_error_against_loop():
    rng = np.random.default_rng(2)
    w, w_hat, x = rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), rng.normal(size=(5, 4))
    ref = sum(sum((sum((w[i, k] - w_hat[i, k]) * x[n, k] for k in range(4))) ** 2 for i in range(3))
              for n in range(5)) / 5
    assert output_error(w, w_hat, x) == pytest.approx(ref, rel=1e-12)


# ----------------------------------------------------------------------------- the gain
@pytest.fixture(scope="module")
def digits_layer():
    data = load_digits_split()
    w = pretrained_mlp().layers[0][0]
    return w, data.x_train, data.x_test


def check_result(res, w, bits):
    qmin, qmax = integer_grid(bits, signed=True, narrow_range=True)
    r = w / res.scale[:, None]
    codes = res.codes.astype(np.int64)
    # every weight is rounded down or up, never further (and stays on the grid)
    down, up = np.clip(np.floor(r), qmin, qmax), np.clip(np.floor(r) + 1, qmin, qmax)
    assert np.all((codes == down) | (codes == up))
    assert codes.min() >= qmin and codes.max() <= qmax and res.codes.dtype == np.int8
    np.testing.assert_array_equal(res.weight, res.scale[:, None] * codes)
    np.testing.assert_array_equal(res.nearest_codes, np.clip(np.rint(r), qmin, qmax))
    # some weights are rounded away from the nearest grid point: that is where the gain comes from
    assert 0.02 < np.mean(codes != res.nearest_codes) < 0.5


@pytest.mark.parametrize("bits", [4, 3])
def test_adaround_beats_nearest_on_a_digits_layer(digits_layer, bits):
    w, x_train, x_test = digits_layer
    res = adaround_layer(w, x_train, bits, progress=False)
    check_result(res, w, bits)
    assert res.nearest_error == output_error(w, res.nearest_weight, x_train)
    assert res.error == output_error(w, res.weight, x_train)
    assert res.error < res.nearest_error / 3
    # it generalises to inputs it never saw
    assert output_error(w, res.weight, x_test) < output_error(w, res.nearest_weight, x_test) / 2


@pytest.mark.parametrize("bits", [4, 3])
def test_adaround_beats_nearest_on_correlated_synthetic_inputs(bits):
    rng = np.random.default_rng(0)
    mix = rng.normal(size=(64, 64)) * (0.8 ** np.arange(64))[:, None]     # strongly correlated, zero mean
    x, x_new = rng.normal(size=(2048, 64)) @ mix, rng.normal(size=(2048, 64)) @ mix
    w = rng.normal(0, 1 / 8, (32, 64))
    res = adaround_layer(w, x, bits, progress=False)
    check_result(res, w, bits)
    assert res.error < res.nearest_error / 3
    assert output_error(w, res.weight, x_new) < output_error(w, res.nearest_weight, x_new) / 2
    # the regularizer made the relaxation binary: the last recorded value is (nearly) zero
    assert res.history[-1][2] < 1e-3 * res.history[len(res.history) // 4 + 1][2] + 1e-9


def test_result_does_not_depend_on_input_scale():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(256, 12)) @ rng.normal(size=(12, 12))
    w = rng.normal(size=(6, 12))
    a = adaround_layer(w, x, 3, iters=300, progress=False)
    b = adaround_layer(w, 10 * x, 3, iters=300, progress=False)
    np.testing.assert_array_equal(a.codes, b.codes)


# ----------------------------------------------------------------------------- bad input
def test_bad_arguments():
    w, x = np.ones((3, 4)), np.ones((10, 4))
    with pytest.raises(ValueError, match=r"w must be a 2-D weight matrix \(out, in\)"):
        adaround_layer(np.ones(4), x, progress=False)
    with pytest.raises(ValueError, match=r"x must hold calibration inputs of shape \(N, 4\)"):
        adaround_layer(w, np.ones((10, 3)), progress=False)
    with pytest.raises(ValueError, match=r"iters must be a positive integer"):
        adaround_layer(w, x, iters=0, progress=False)
    with pytest.raises(ValueError, match=r"lr must be a positive number"):
        adaround_layer(w, x, lr=0.0, progress=False)
    with pytest.raises(ValueError, match=r"lam must be a number >= 0"):
        adaround_layer(w, x, lam=-1.0, progress=False)
    with pytest.raises(ValueError, match=r"warm_start must be a fraction in \[0, 1\)"):
        adaround_layer(w, x, warm_start=1.0, progress=False)
    with pytest.raises(ValueError, match=r"^bits=1 is out of range"):
        adaround_layer(w, x, bits=1, progress=False)
    with pytest.raises(ValueError, match=r"x contains 1 NaN or inf"):
        adaround_layer(w, np.vstack([x[:-1], [[np.nan, 0.0, 0.0, 0.0]]]), progress=False)


# ----------------------------------------------------------------------------- the public pieces (problem set 7)
def test_rectified_sigmoid_grad_against_finite_differences_and_zero_where_clipped():
    # central differences of h, step 1e-6: truncation ~1e-12 * h''' and cancellation ~1e-16 / 1e-6 = 1e-10
    v = np.concatenate([np.linspace(-2.39, 2.39, 301), [-8.0, -3.0, 3.0, 8.0]])
    fd = (rectified_sigmoid(v + 1e-6) - rectified_sigmoid(v - 1e-6)) / 2e-6
    np.testing.assert_allclose(adaround.rectified_sigmoid_grad(v), fd, rtol=0, atol=1e-8)
    assert np.all(adaround.rectified_sigmoid_grad(np.array([-3.0, -2.4, 2.4, 3.0, 1e3, -1e3])) == 0.0)  # |V| > log 11
    assert adaround.rectified_sigmoid_grad(np.array([0.0]))[0] == pytest.approx(0.3, abs=1e-15)      # 1.2 / 4


def test_regularizer_gradient_against_finite_differences():
    rng = np.random.default_rng(3)
    v = rng.normal(0, 1.5, size=40)
    v = v[np.abs(np.abs(v) - np.log(11)) > 1e-3]           # off the kinks of the clip
    for beta in (2.0, 7.5, 20.0):
        grad = adaround.rounding_regularizer_grad(v, beta)
        for i in range(v.size):
            e = np.zeros_like(v)
            e[i] = 1e-6
            fd = (rounding_regularizer(rectified_sigmoid(v + e), beta)
                  - rounding_regularizer(rectified_sigmoid(v - e), beta)) / 2e-6
            assert grad[i] == pytest.approx(fd, abs=1e-6 * max(1.0, beta)), (beta, i)


def test_public_pieces_are_the_loss_of_adaround():
    """The regularizer's gradient and the soft weight are exactly what AdaRoundLoss uses."""
    rng = np.random.default_rng(4)
    w, scale = rng.normal(size=(5, 7)), rng.uniform(0.1, 0.3, size=5)
    v = rng.normal(0, 2, size=w.shape)
    gram = np.eye(7)
    with_reg = AdaRoundLoss(w, gram, scale, -3, 3, lam=1.0)
    without = AdaRoundLoss(w, gram, scale, -3, 3, lam=0.0)
    np.testing.assert_allclose(with_reg(v, 5.0)[2] - without(v, 5.0)[2], adaround.rounding_regularizer_grad(v, 5.0),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(adaround.soft_weight(w, scale, v, -3, 3), with_reg.soft_weight(v))


def test_soft_weight_and_hard_rounding_by_hand():
    # W/s = 1.75, -1.75 (scale 0.2) and 3.8, -3.8 (scale 0.25) on the 3-bit grid [-3, 3]; floor 1, -2, 3, -4
    w = np.array([[0.35, -0.35], [0.95, -0.95]])
    s = np.array([0.2, 0.25])
    v = np.array([[0.0, -50.0], [50.0, 0.0]])              # h = 1/2, 0 ; 1, 1/2
    np.testing.assert_allclose(adaround.soft_weight(w, s, v, -3, 3),
                               [[0.2 * 1.5, 0.2 * -2.0], [0.25 * 3.0, 0.25 * -3.0]], rtol=1e-15)  # 4 and -3.5 clipped
    codes = adaround.hard_rounding(w, s, v, -3, 3)        # up where V >= 0 (V = 0 included), then clipped
    assert codes.dtype == np.int64
    np.testing.assert_array_equal(codes, [[2, -2], [3, -3]])
    # floor, not truncation, for negative weights; every code is floor or floor + 1
    assert adaround.floor_codes(np.array([[-0.35]]), np.array([0.2]))[0, 0] == -2.0


def test_adaround_with_a_given_scale():
    rng = np.random.default_rng(5)
    w = rng.normal(size=(6, 12))
    x = rng.normal(size=(200, 12)) @ rng.normal(size=(12, 12))
    default = adaround_layer(w, x, 3, iters=300, progress=False)
    same = adaround_layer(w, x, 3, iters=300, progress=False, scale=default.scale)
    np.testing.assert_array_equal(same.codes, default.codes)
    clipped = adaround_layer(w, x, 3, iters=300, progress=False, scale=0.7 * default.scale)
    q = w / (0.7 * default.scale)[:, None]
    assert np.any(np.abs(q) > 3)                                        # some weights lie beyond the grid...
    assert clipped.codes.min() >= -3 and clipped.codes.max() <= 3       # ...and are clipped to it
    floor = np.floor(q)
    assert np.all((clipped.codes == np.clip(floor, -3, 3)) | (clipped.codes == np.clip(floor + 1, -3, 3)))
    assert clipped.error < clipped.nearest_error
    with pytest.raises(ValueError, match=r"scale must hold one positive step per output channel, shape \(6,\)"):
        adaround_layer(w, x, 3, progress=False, scale=np.ones(5))
    with pytest.raises(ValueError, match=r"scale must hold one positive step per output channel"):
        adaround_layer(w, x, 3, progress=False, scale=-np.ones(6))
