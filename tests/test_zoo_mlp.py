"""MLP: forward pass by hand, the loss, and gradients against central finite differences."""
import numpy as np
import pytest

from quantref.zoo import MLP


def random_mlp(seed, sizes=(5, 7, 6, 4), dtype=np.float64):
    rng = np.random.default_rng(seed)
    return MLP([(rng.normal(0, 0.8, (o, i)), rng.normal(0, 0.3, o)) for i, o in zip(sizes[:-1], sizes[1:])],
               dtype=dtype)


def test_forward_by_hand():
    # hidden: W1 x + b1 = [[1, 0], [0, 1]] [3, -1] + [0, 0.5] = [3, -0.5] -> relu [3, 0]
    # output: [1, -1] . [3, 0] + 0.5 = 3.5 ; [2, 2] . [3, 0] - 1 = 5
    mlp = MLP([(np.eye(2), np.array([0.0, 0.5])), (np.array([[1.0, -1.0], [2.0, 2.0]]), np.array([0.5, -1.0]))])
    np.testing.assert_array_equal(mlp.forward(np.array([[3.0, -1.0]])), np.array([[3.5, 5.0]], dtype=np.float32))
    np.testing.assert_array_equal(mlp.predict(np.array([[3.0, -1.0], [-1.0, -1.0]])), [1, 0])
    # second row: hidden relu([-1, -0.5]) = [0, 0] -> logits [0.5, -1] -> class 0
    assert mlp.accuracy(np.array([[3.0, -1.0], [-1.0, -1.0]]), np.array([1, 1])) == 0.5
    assert mlp.hidden == (2,) and mlp.in_features == 2 and mlp.n_classes == 2


def test_loss_of_equal_logits_is_log_of_the_class_count():
    mlp = MLP([(np.zeros((10, 3)), np.zeros(10))], dtype=np.float64)
    # every logit 0: softmax 1/10 for each class, cross-entropy log(10)
    assert mlp.loss(np.ones((4, 3)), np.array([0, 3, 9, 2])) == pytest.approx(np.log(10), rel=1e-15)


def test_loss_by_hand():
    mlp = MLP([(np.array([[1.0], [0.0]]), np.zeros(2))], dtype=np.float64)
    # x = 2: logits [2, 0]; label 1: -log(e^0 / (e^2 + e^0)) = log(1 + e^2)
    assert mlp.loss(np.array([[2.0]]), np.array([1])) == pytest.approx(np.log1p(np.e ** 2), rel=1e-14)


@pytest.mark.parametrize("seed", range(3))
def test_gradients_match_central_finite_differences(seed):
    """Central differences with h = 1e-6 in float64: truncation O(h^2) ~ 1e-12, round-off
    ~ eps * loss / h ~ 1e-10.  Tolerance: 1e-6 relative to the largest gradient entry, plus 1e-8.
    A sample whose ReLU input lies within h of 0 could break this; the seeds used have none
    (checked below)."""
    mlp = random_mlp(seed)
    rng = np.random.default_rng(seed + 10)
    x, y = rng.normal(size=(8, 5)), rng.integers(0, 4, size=8)
    pre = x @ mlp.layers[0][0].T + mlp.layers[0][1]
    assert np.min(np.abs(pre)) > 1e-4
    grads = mlp.gradients(x, y)
    h = 1e-6
    for (w, b), (dw, db) in zip(mlp.layers, grads):
        assert dw.shape == w.shape and db.shape == b.shape
        for param, grad in ((w, dw), (b, db)):
            numeric = np.zeros_like(param)
            for idx in np.ndindex(param.shape):
                old = param[idx]
                param[idx] = old + h
                up = mlp.loss(x, y)
                param[idx] = old - h
                down = mlp.loss(x, y)
                param[idx] = old
                numeric[idx] = (up - down) / (2 * h)
            np.testing.assert_allclose(grad, numeric, rtol=0, atol=1e-6 * np.abs(numeric).max() + 1e-8)


def test_loss_and_gradients_returns_the_loss_too():
    mlp = random_mlp(5)
    x, y = np.random.default_rng(5).normal(size=(6, 5)), np.array([0, 1, 2, 3, 0, 1])
    loss, grads = mlp.loss_and_gradients(x, y)
    assert loss == mlp.loss(x, y) and len(grads) == 3


def test_save_and_load_round_trip(tmp_path):
    mlp = random_mlp(1, dtype=np.float32)
    mlp.save(tmp_path / "m.npz")
    back = MLP.load(tmp_path / "m.npz")
    for (w, b), (w2, b2) in zip(mlp.layers, back.layers):
        np.testing.assert_array_equal(w, w2)
        np.testing.assert_array_equal(b, b2)
    assert back.nbytes == mlp.nbytes == 4 * (5 * 7 + 7 + 7 * 6 + 6 + 6 * 4 + 4)


def test_mismatched_layer_shapes():
    with pytest.raises(ValueError, match=r"^mismatched layer shapes: layers\[0\] has 4 outputs but layers\[1\] W takes 3"):
        MLP([(np.ones((4, 2)), np.zeros(4)), (np.ones((1, 3)), np.zeros(1))])
    with pytest.raises(ValueError, match=r"^layers\[0\] b has shape \(3,\), but W has 4 outputs"):
        MLP([(np.ones((4, 2)), np.zeros(3))])
    with pytest.raises(TypeError, match=r"^layers must be a non-empty list"):
        MLP([])


def test_bad_inputs_and_labels():
    mlp = random_mlp(0)
    with pytest.raises(ValueError, match=r"^X has shape \(2, 3\); the MLP takes \(n_samples, 5\)"):
        mlp.forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"^y holds labels from 0 to 4; they must lie in \[0, 3\]"):
        mlp.gradients(np.ones((2, 5)), np.array([0, 4]))
    with pytest.raises(TypeError, match=r"^y must hold integer class labels"):
        mlp.loss(np.ones((2, 5)), np.array([0.0, 1.0]))
