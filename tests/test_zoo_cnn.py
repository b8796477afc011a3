"""ConvNet: inference against a loop reference, gradients against central finite differences, save/load."""
import numpy as np
import pytest

from quantref.zoo import BatchNorm, ConvNet

from test_conv_im2col import conv_loops


def random_cnn(seed, input_shape=(2, 4, 4), channels=(3, 2), n_classes=3, batch_norm=True):
    rng = np.random.default_rng(seed)
    convs, bns, c_in = [], [], input_shape[0]
    for c in channels:
        convs.append((rng.normal(0, 0.6, (c, c_in, 3, 3)), np.zeros(c) if batch_norm else rng.normal(0, 0.3, c)))
        bns.append(BatchNorm(rng.uniform(0.5, 1.5, c), rng.normal(0, 0.3, c), rng.normal(0, 0.2, c),
                             rng.uniform(0.5, 2, c)) if batch_norm else None)
        c_in = c
    features = c_in * input_shape[1] * input_shape[2] // 4
    return ConvNet(convs, bns, (rng.normal(0, 0.5, (n_classes, features)), rng.normal(0, 0.1, n_classes)),
                   input_shape=input_shape, dtype=np.float64)


def test_inference_matches_loops_and_batch_norm_by_hand():
    cnn = random_cnn(0)
    x = np.random.default_rng(1).normal(size=(3, 2, 4, 4))
    a = x
    for (w, b), bn in zip(cnn.convs, cnn.batch_norms):
        z = conv_loops(a, w, b, 1)
        shape = (1, -1, 1, 1)
        z = bn.gamma.reshape(shape) * (z - bn.running_mean.reshape(shape)) / np.sqrt(bn.running_var.reshape(shape)
                                                                                    + 1e-5) + bn.beta.reshape(shape)
        a = np.maximum(z, 0)
    pooled = a.reshape(3, 2, 2, 2, 2, 2).max(axis=(3, 5))   # 2x2 windows of the 4x4 maps
    logits = pooled.reshape(3, -1) @ cnn.classifier[0].T + cnn.classifier[1]
    np.testing.assert_allclose(cnn.forward(x), logits, rtol=0, atol=1e-12)
    # flat rows are accepted and mean the same images
    np.testing.assert_array_equal(cnn.forward(x.reshape(3, -1)), cnn.forward(x))


@pytest.mark.parametrize("seed, batch_norm", [(1, True), (2, True), (2, False)])
def test_gradients_match_central_finite_differences(seed, batch_norm):
    """Training mode (batch statistics), float64, h = 1e-6: truncation O(h^2) ~ 1e-12, round-off
    ~ eps * loss / h ~ 1e-10.  Tolerance 1e-6 of the largest gradient entry plus 1e-8.  A ReLU input
    or a pooling tie within h of switching would break this; checked absent below."""
    cnn = random_cnn(seed, batch_norm=batch_norm)
    rng = np.random.default_rng(seed + 10)
    x, y = rng.normal(size=(5, 2, 4, 4)), rng.integers(0, 3, size=5)
    _, cache = cnn._forward(x, train=True)
    assert min(np.min(np.abs(layer["u"])) for layer in cache["layers"]) > 1e-4
    loss, grads = cnn.loss_and_gradients(x, y)
    params = cnn.parameters()
    assert len(grads) == len(params) == (8 if batch_norm else 6)
    h = 1e-6
    for param, grad in zip(params, grads):
        assert grad.shape == param.shape
        numeric = np.zeros_like(param)
        for idx in np.ndindex(param.shape):
            old = param[idx]
            param[idx] = old + h
            up = cnn.loss(x, y)
            param[idx] = old - h
            down = cnn.loss(x, y)
            param[idx] = old
            numeric[idx] = (up - down) / (2 * h)
        np.testing.assert_allclose(grad, numeric, rtol=0, atol=1e-6 * np.abs(numeric).max() + 1e-8)


def test_running_statistics_move_by_the_momentum():
    cnn = random_cnn(3)
    x, y = np.random.default_rng(3).normal(size=(4, 2, 4, 4)), np.array([0, 1, 2, 0])
    before = cnn.batch_norms[0].running_mean.copy(), cnn.batch_norms[0].running_var.copy()
    _, cache = cnn._forward(x, train=True)
    layer = cache["layers"][0]
    cnn.loss_and_gradients(x, y, update_running_stats=True)
    n = 4 * 4 * 4   # values per channel: batch 4 x 4 x 4 pixels
    np.testing.assert_allclose(cnn.batch_norms[0].running_mean, 0.9 * before[0] + 0.1 * layer["mean"], rtol=1e-14)
    np.testing.assert_allclose(cnn.batch_norms[0].running_var, 0.9 * before[1] + 0.1 * layer["var"] * n / (n - 1),
                               rtol=1e-14)
    cnn.loss_and_gradients(x, y)     # not asked: unchanged
    np.testing.assert_allclose(cnn.batch_norms[0].running_mean, 0.9 * before[0] + 0.1 * layer["mean"], rtol=1e-14)


def test_save_and_load_round_trip(tmp_path):
    cnn = random_cnn(4).astype(np.float32)
    cnn.save(tmp_path / "c.npz")
    back = ConvNet.load(tmp_path / "c.npz")
    x = np.random.default_rng(4).normal(size=(2, 32))
    np.testing.assert_array_equal(back.forward(x), cnn.forward(x))
    # conv weights 3*2*9 + 2*3*9, conv biases 3 + 2, batch norms 4 * (3 + 2), classifier 3*8 + 3 -> 166 float32
    assert back.nbytes == cnn.nbytes == 4 * (54 + 54 + 5 + 20 + 24 + 3)
    assert repr(back) == "ConvNet(2x4x4 -> conv 3 + BN -> conv 2 + BN -> maxpool 2 -> 3, dtype=float32)"


def test_bad_inputs():
    cnn = random_cnn(0)
    with pytest.raises(ValueError, match=r"^x has shape \(2, 5\); the network takes \(n, 32\)"):
        cnn.forward(np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"^y holds labels from 0 to 3; they must lie in \[0, 2\]"):
        cnn.loss_and_gradients(np.ones((2, 32)), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"^convs\[1\] has W"):
        ConvNet([(np.ones((3, 2, 3, 3)), np.zeros(3)), (np.ones((2, 2, 3, 3)), np.zeros(2))], [None, None],
                (np.ones((3, 8)), np.zeros(3)), input_shape=(2, 4, 4))
    with pytest.raises(ValueError, match=r"^classifier has W"):
        ConvNet([(np.ones((3, 2, 3, 3)), np.zeros(3))], [None], (np.ones((3, 8)), np.zeros(3)), input_shape=(2, 4, 4))
