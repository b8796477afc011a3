"""Centroid fine-tuning on the digits MLP and the accuracy-vs-bits table (quantref.codebook.finetune).

The centroid gradient is checked against a brute-force sum over the weights written here; the
training claims (loss goes down, 8 bits keep the accuracy) are checked on the course's MLP.
"""
import numpy as np
import pytest

from quantref.codebook import accuracy_vs_bits, centroid_gradients, finetune_centroids, quantize_mlp
from quantref.zoo import load_digits_split, pretrained_mlp


@pytest.fixture(scope="module")
def setting():
    return pretrained_mlp(), load_digits_split()


def test_centroid_gradient_is_the_sum_of_its_weights_gradients(setting):
    mlp, data = setting
    q = quantize_mlp(mlp, 2)
    grads = q.to_mlp().gradients(data.x_train[:64], data.y_train[:64])
    got = centroid_gradients(q, grads)
    for layer, (qw, (dw, _)) in enumerate(zip(q.weights, grads)):
        for j in range(qw.k):
            total = sum(float(dw[r, c]) for r, c in zip(*np.nonzero(qw.codes == j)))
            assert got[layer][j] == pytest.approx(total, rel=1e-9, abs=1e-12)


def test_finetuning_lowers_the_training_loss_and_keeps_the_codes(setting):
    mlp, data = setting
    q = quantize_mlp(mlp, 2)
    tuned, history = finetune_centroids(q, data.x_train, data.y_train, epochs=3, lr=0.01, seed=0)
    assert len(history) == 4
    assert history[-1] < 0.9 * history[0], history
    for a, b in zip(q.weights, tuned.weights):
        np.testing.assert_array_equal(a.codes, b.codes)          # only the shared values move
        assert not np.array_equal(a.codebook, b.codebook)
    assert q.to_mlp().loss(data.x_train, data.y_train) == pytest.approx(history[0])   # input unchanged


def test_accuracy_vs_bits(setting):
    mlp, data = setting
    rows = accuracy_vs_bits(mlp, data, bits=(2, 8), epochs=2, progress=False)
    assert [r["bits"] for r in rows] == [2, 8] and [r["k"] for r in rows] == [4, 256]
    float_acc = mlp.accuracy(data.x_test, data.y_test)
    eight = rows[1]
    assert abs(eight["kmeans"] - float_acc) <= 0.01 and abs(eight["finetuned"] - float_acc) <= 0.01
    two = rows[0]
    assert two["kmeans"] < float_acc                       # 4 values per layer cost accuracy ...
    assert two["finetuned"] >= two["kmeans"]               # ... which fine-tuning wins back (part of)
    n = [w.size for w, _ in mlp.layers]
    expected = sum(n) * 32 / sum(m * 2 + 4 * 32 for m in n)
    assert two["ratio"] == pytest.approx(expected)


def test_bad_settings(setting):
    mlp, data = setting
    q = quantize_mlp(mlp, 2)
    with pytest.raises(ValueError, match="epochs"):
        finetune_centroids(q, data.x_train, data.y_train, epochs=0)
    with pytest.raises(ValueError, match="lr"):
        finetune_centroids(q, data.x_train, data.y_train, lr=-1.0)
