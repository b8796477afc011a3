"""fold_batch_norm: the formula by hand, and folded == unfolded (float64) on random and trained networks."""
import numpy as np
import pytest

from quantref.conv import conv2d, fold_batch_norm
from quantref.zoo import BatchNorm, ConvNet, load_digits_split, pretrained_cnn


def batch_norm_by_hand(y, gamma, beta, mean, var, eps):
    """Inference batch norm over axis 1 (channels) of NCHW ``y``."""
    shape = (1, -1, 1, 1)
    return gamma.reshape(shape) * (y - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) + beta.reshape(shape)


def test_fold_by_hand():
    # gamma / sqrt(var + eps) = 3 / sqrt(4) = 1.5 and 1 / sqrt(0.25) = 2 (eps chosen to cancel)
    eps = 1e-5
    w = np.array([[[[2.0]]], [[[-1.0]]]])
    wf, bf = fold_batch_norm(w, [1.0, 0.5], gamma=[3.0, 1.0], beta=[0.25, -1.0], running_mean=[2.0, 1.5],
                             running_var=[4.0 - eps, 0.25 - eps], eps=eps)
    np.testing.assert_allclose(wf.ravel(), [3.0, -2.0], rtol=1e-15)
    # (1 - 2) * 1.5 + 0.25 = -1.25 ; (0.5 - 1.5) * 2 - 1 = -3
    np.testing.assert_allclose(bf, [-1.25, -3.0], rtol=1e-15)


@pytest.mark.parametrize("seed", range(4))
def test_folded_layer_equals_conv_then_batch_norm(seed):
    """Float64: the two sides round differently, by a few ulps of terms of size ~10 -> atol 1e-12."""
    rng = np.random.default_rng(seed)
    c_in, c_out = 3, 5
    x = rng.normal(size=(4, c_in, 6, 6))
    w, b = rng.normal(size=(c_out, c_in, 3, 3)), rng.normal(size=c_out)
    gamma, beta = rng.normal(size=c_out), rng.normal(size=c_out)
    mean, var = rng.normal(size=c_out), rng.uniform(0.1, 3.0, size=c_out)
    wf, bf = fold_batch_norm(w, b, gamma, beta, mean, var, eps=1e-3)
    np.testing.assert_allclose(conv2d(x, wf, bf, padding=1),
                               batch_norm_by_hand(conv2d(x, w, b, padding=1), gamma, beta, mean, var, 1e-3),
                               rtol=0, atol=1e-12)


def test_without_bias_is_a_zero_bias():
    rng = np.random.default_rng(7)
    w, g, be, m, v = rng.normal(size=(2, 1, 3, 3)), rng.normal(size=2), rng.normal(size=2), rng.normal(size=2), \
        rng.uniform(1, 2, size=2)
    a, b = fold_batch_norm(w, None, g, be, m, v), fold_batch_norm(w, np.zeros(2), g, be, m, v)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_folded_trained_network_equals_the_unfolded_one():
    """The shipped ConvNet in float64, unfolded (batch norms with running statistics) against folded:
    logits of size ~20 agree to 1e-11 (rounding only; seen: ~1e-14), and every prediction is the same."""
    data = load_digits_split()
    cnn = pretrained_cnn().astype(np.float64)
    folded = cnn.fold_batch_norm()
    assert all(bn is None for bn in folded.batch_norms) and all(bn is not None for bn in cnn.batch_norms)
    a, b = cnn.forward(data.x_test), folded.forward(data.x_test)
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-11)
    np.testing.assert_array_equal(np.argmax(a, 1), np.argmax(b, 1))


def test_a_wrong_fold_is_caught():
    """Folding with the standard deviation where the variance belongs moves the outputs far beyond 1e-11."""
    cnn = pretrained_cnn().astype(np.float64)
    wrong = [BatchNorm(bn.gamma, bn.beta, bn.running_mean, np.sqrt(bn.running_var), bn.eps) for bn in cnn.batch_norms]
    bad = ConvNet(cnn.convs, wrong, cnn.classifier, dtype=np.float64).fold_batch_norm()
    x = load_digits_split().x_test[:20]
    assert np.abs(bad.forward(x) - cnn.forward(x)).max() > 1e-3


def test_bad_arguments():
    w = np.ones((2, 1, 3, 3))
    ok = dict(gamma=np.ones(2), beta=np.zeros(2), running_mean=np.zeros(2), running_var=np.ones(2))
    with pytest.raises(ValueError, match=r"^gamma has shape \(3,\), but weight has 2 output channels"):
        fold_batch_norm(w, None, **{**ok, "gamma": np.ones(3)})
    with pytest.raises(ValueError, match=r"^running_var must be >= 0"):
        fold_batch_norm(w, None, **{**ok, "running_var": -np.ones(2)})
    with pytest.raises(ValueError, match=r"^eps must be a positive number"):
        fold_batch_norm(w, None, **ok, eps=0.0)
    with pytest.raises(ValueError, match=r"contains 1 NaN or inf"):
        fold_batch_norm(w, None, **{**ok, "beta": np.array([0.0, np.nan])})
    with pytest.raises(ValueError, match=r"^weight must have the output channel first"):
        fold_batch_norm(np.ones(2), None, **ok)
