"""Quantization-aware training and post-training quantization of the digits MLP (quantref.qat).

Gradients.  The fake-quantized loss is piecewise constant in every quantized quantity (rounding
has derivative 0 between steps and jumps at them), so its true derivative is useless and a finite
difference of it mostly gives 0.  What QAT computes is the exact gradient of a *surrogate*: each
fake quantizer replaced by its straight-through linearisation at the current point,
``x -> x + (fq(x0) - x0)`` where ``x0`` was not clipped (slope 1) and ``x -> fq(x0)`` where it was
(slope 0), with all scales frozen.  The surrogate agrees with the real loss at the current point
and is differentiable away from ReLU kinks; the tests below build it independently and compare
its central differences with the library's backward pass.  The one part of the real loss that is
differentiable as it stands -- the last layer's bias, added after every quantizer -- is checked
against finite differences of the real loss directly.
"""
import doctest

import numpy as np
import pytest

from quantref.calibration import MinMaxObserver, MovingAverageMinMaxObserver
from quantref.kernels import int_matmul
from quantref.linear import fake_quantize, integer_grid, minmax, qparams, quantize
from quantref.qat import (Adam, FakeQuantMLP, calibrate_ptq, format_table, ptq_accuracy, ptq_table, ptq_vs_qat_table,
                          qat_finetune)
from quantref.qat import adam, network, ptq, train
from quantref.zoo import load_digits_split, pretrained_mlp


@pytest.fixture(scope="module")
def data():
    return load_digits_split()


@pytest.fixture(scope="module")
def mlp():
    return pretrained_mlp()


@pytest.fixture(scope="module")
def float_acc(mlp, data):
    return mlp.accuracy(data.x_test, data.y_test)


@pytest.mark.parametrize("module", [adam, network, ptq, train])
def test_docstring_examples(module):
    assert doctest.testmod(module).failed == 0


# ============================================================================ gradients
def small_model(seed=0, w_bits=4, a_bits=4):
    """A 6 -> 5 -> 4 -> 3 network with frozen quantizer ranges chosen so that some values clip."""
    rng = np.random.default_rng(seed)
    sizes = (6, 5, 4, 3)
    layers = [(rng.normal(0, 0.8, (o, i)), rng.normal(0, 0.3, o)) for i, o in zip(sizes[:-1], sizes[1:])]
    x = rng.uniform(0, 1, (9, 6))
    y = rng.integers(0, 3, 9)
    # weight ranges at 70 % of max|W_c|: the largest weights of each channel clip
    ranges = [tuple(0.7 * r for r in minmax(w, axis=0)) for w, _ in layers]
    # activation observers fed with a scaled-down copy of the data: the largest inputs clip
    model = FakeQuantMLP(layers, w_bits, a_bits, weight_ranges=ranges,
                         act_observers=[MinMaxObserver() for _ in layers])
    for obs, a in zip(model.act_observers, network.float_layer_inputs(layers, 0.6 * x)):
        obs.update(a)
    return model, x, y


def cross_entropy(logits, y):
    m = logits.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(logits - m).sum(axis=1))
    return np.mean(lse - logits[np.arange(len(y)), y])


def surrogate_loss_factory(model, x, y):
    """The straight-through surrogate at the model's current weights, built with quantref.linear only."""
    L = len(model.layers)
    frozen = []
    a = x
    wq_grid = dict(signed=True, narrow_range=True)
    for i, (w, b) in enumerate(model.layers):
        sa, za = model.act_qparams(i)
        lo, hi = model.weight_ranges[i]
        sw, zw = qparams(lo, hi, model.w_bits, symmetric=True, narrow_range=True)
        qmin_a, qmax_a = integer_grid(model.a_bits)
        qmin_w, qmax_w = integer_grid(model.w_bits, **wq_grid)
        aq = fake_quantize(a, sa, za, model.a_bits)
        wq = fake_quantize(w, sw, zw, model.w_bits, axis=0, **wq_grid)
        ra = np.rint(a / sa) + za
        rw = np.rint(w / sw[:, None]) + zw[:, None]
        frozen.append(dict(a0=a, aq=aq, ma=(ra >= qmin_a) & (ra <= qmax_a),
                           w0=w, wq=wq, mw=(rw >= qmin_w) & (rw <= qmax_w)))
        z = aq @ wq.T + b
        a = np.maximum(z, 0) if i < L - 1 else z

    def loss(layers):
        a = x
        pre = []
        for i, (w, b) in enumerate(layers):
            f = frozen[i]
            aq = np.where(f["ma"], a + (f["aq"] - f["a0"]), f["aq"])
            wq = np.where(f["mw"], w + (f["wq"] - f["w0"]), f["wq"])
            z = aq @ wq.T + b
            pre.append(z)
            a = np.maximum(z, 0) if i < L - 1 else z
        return cross_entropy(a, y), pre

    return loss, frozen


@pytest.mark.parametrize("seed", range(3))
def test_ste_gradient_matches_finite_differences_of_the_surrogate(seed):
    model, x, y = small_model(seed)
    loss_lib, grads = model.loss_and_gradients(x, y)
    surrogate, frozen = surrogate_loss_factory(model, x, y)
    loss0, pre = surrogate([(w.copy(), b.copy()) for w, b in model.layers])
    # the surrogate agrees with the real fake-quantized loss at the current point
    assert loss0 == pytest.approx(loss_lib, rel=1e-12)
    # the test exercises clipping: some weights and some activations are masked out
    assert any((~f["mw"]).any() for f in frozen) and any((~f["ma"]).any() for f in frozen)
    # away from ReLU kinks: a step h = 1e-6 moves a pre-activation by at most ~1e-5 here
    h = 1e-6
    assert min(np.abs(z).min() for z in pre[:-1]) > 1e-4
    for li, (w, b) in enumerate(model.layers):
        for which, (p, g) in enumerate(zip((w, b), grads[li])):
            fd = np.zeros_like(p)
            for idx in np.ndindex(p.shape):
                params = [(ww.copy(), bb.copy()) for ww, bb in model.layers]
                params[li][which][idx] += h
                up = surrogate(params)[0]
                params[li][which][idx] -= 2 * h
                down = surrogate(params)[0]
                fd[idx] = (up - down) / (2 * h)
            # central differences: truncation O(h^2) ~ 1e-12, rounding ~ 1e-16 / h = 1e-10
            np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)
        # masked weights get exactly zero gradient
        assert np.all(grads[li][0][~frozen[li]["mw"]] == 0)


def test_real_loss_last_bias_is_differentiable(mlp, data):
    model = calibrate_ptq(mlp, 4, 4, calib=64, data=data)
    x, y = data.x_test[:50], data.y_test[:50]
    _, grads = model.loss_and_gradients(x, y)
    b = model.layers[-1][1]
    h = 1e-6
    for j in range(b.size):
        b[j] += h
        up = network.softmax_cross_entropy(model.forward(x), y)[0]
        b[j] -= 2 * h
        down = network.softmax_cross_entropy(model.forward(x), y)[0]
        b[j] += h
        assert grads[-1][1][j] == pytest.approx((up - down) / (2 * h), abs=1e-8)


def test_real_loss_is_flat_in_a_quantized_weight(mlp, data):
    # In the interior of a rounding step the real loss does not move at all: the STE gradient is not
    # its derivative (which is 0), which is why the check above uses the surrogate.
    model = calibrate_ptq(mlp, 4, 4, calib=64, data=data)
    x, y = data.x_test[:50], data.y_test[:50]
    _, grads = model.loss_and_gradients(x, y)
    w = model.layers[0][0]
    i, j = np.unravel_index(np.argmax(np.abs(grads[0][0])), w.shape)
    assert grads[0][0][i, j] != 0
    base = network.softmax_cross_entropy(model.forward(x), y)[0]
    w[i, j] += 1e-9
    assert network.softmax_cross_entropy(model.forward(x), y)[0] == base


# ============================================================================ forward pass
def test_fake_quant_forward_equals_integer_inference(mlp, data):
    # The first layer of the fake-quantized network is exactly integer arithmetic rescaled:
    # z = s_a s_w[c] * sum_k (q_a - z_a) q_w + b, with the int32 sum from int_matmul.
    model = calibrate_ptq(mlp, 8, 8, calib=128, data=data)
    x = data.x_test[:40].astype(np.float64)
    sa, za = model.act_qparams(0)
    sw, zw = model.weight_qparams(0)
    qa = quantize(x, sa, za, 8)                                        # uint8
    qw = quantize(model.layers[0][0], sw, zw, 8, signed=True, narrow_range=True, axis=0)   # int8
    acc = int_matmul(qa, np.ascontiguousarray(qw.T), za, 0)
    z_int = sa * sw[None, :] * acc + model.layers[0][1]
    _, cache = model._forward(x, observe=False)
    # the fake-quant path rounds each product and sum in float64: ~64 terms of size <= 1e1, so
    # agreement to 1e-12 relative to the largest |z|
    np.testing.assert_allclose(cache[0][5], z_int, rtol=0, atol=1e-12 * np.abs(z_int).max())


def test_qat_uses_moving_average_observers(mlp, data):
    model = qat_finetune(mlp, 4, 4, epochs=1, progress=False, data=data)
    assert all(isinstance(o, MovingAverageMinMaxObserver) and o.averaging_constant == 0.01
               for o in model.act_observers)
    assert model.act_observers[0].n_batches == int(np.ceil(len(data.x_train) / 64))
    assert len(model.history) == 1
    # the input layer sees pixels in [0, 1]: its range stays inside [0, 1]
    lo, hi = model.act_observers[0].range()
    assert 0.0 <= lo <= hi <= 1.0


def test_qat_does_not_modify_the_float_model(mlp, data):
    before = [w.copy() for w, _ in mlp.layers]
    qat_finetune(mlp, 3, 3, epochs=1, progress=False, data=data)
    for w0, (w, _) in zip(before, mlp.layers):
        np.testing.assert_array_equal(w0, w)


# ============================================================================ accuracy
def test_qat_beats_ptq_at_3_and_2_bits(mlp, data, float_acc):
    # seeded quick runs (about 3 s each), against PTQ with min/max and with MSE calibration (weights
    # and activations).  Measured: W3A3 PTQ 95.3 / 96.7 %, QAT 97.6 % (97.6 for seeds 0, 1, 2);
    # W2A2 PTQ 46.7 / 87.6 %, QAT 94.0 % (94.0 to 95.1).  Margins: 0.5 and 4 points.
    for bits, margin in ((3, 0.005), (2, 0.04)):
        ptq_best = max(ptq_accuracy(mlp, bits, bits, cal, weight_observer=cal, data=data) for cal in ("minmax", "mse"))
        qat = qat_finetune(mlp, bits, bits, epochs=30, seed=0, progress=False, data=data)
        qat_acc = qat.accuracy(data.x_test, data.y_test)
        assert qat_acc >= ptq_best + margin, (bits, ptq_best, qat_acc)
        assert qat.history[-1] < qat.history[0]


def test_qat_weight_ranges_frozen_or_tracked(mlp, data):
    frozen = qat_finetune(mlp, 3, 3, epochs=1, progress=False, data=data)
    expected = ptq.calibrate_weight_ranges(network.layers_of(mlp), 3, "mse")
    for (lo, hi), (elo, ehi) in zip(frozen.weight_ranges, expected):
        np.testing.assert_array_equal(lo, elo)
        np.testing.assert_array_equal(hi, ehi)
    tracked = qat_finetune(mlp, 3, 3, epochs=1, progress=False, data=data, weight_observer="minmax")
    assert tracked.weight_ranges is None
    s, _ = tracked.weight_qparams(0)
    np.testing.assert_array_equal(s, np.abs(tracked.layers[0][0]).max(axis=1) / 3)   # narrow 3-bit grid: 3 steps


def test_qat_4_bits_within_one_point_of_float(mlp, data, float_acc):
    # measured 97.6 % against 98.2 % (97.6, 97.6, 98.2 for seeds 0, 1, 2)
    qat = qat_finetune(mlp, 4, 4, epochs=30, seed=0, progress=False, data=data)
    assert qat.accuracy(data.x_test, data.y_test) >= float_acc - 0.01


@pytest.mark.parametrize("observer", ["minmax", "moving_average", "percentile", "mse", "entropy"])
def test_ptq_w8a8_keeps_float_accuracy(mlp, data, float_acc, observer):
    assert ptq_accuracy(mlp, 8, 8, observer, data=data) >= float_acc - 0.005


def test_ptq_w2_weights_collapse_with_max_ranges(mlp, data):
    # ternary weights with scale max|W_c| lose about half the accuracy; MSE-calibrated weights recover most
    minmax_acc = ptq_accuracy(mlp, 2, 8, "minmax", data=data)
    mse_acc = ptq_accuracy(mlp, 2, 8, "mse", weight_observer="mse", data=data)
    assert minmax_acc < 0.7 < 0.8 < mse_acc


def test_tables(mlp, data, float_acc):
    rows = ptq_table(mlp, configs=((8, 8), (4, 4)), observers=("minmax", "entropy"), data=data, progress=False)
    assert [r["config"] for r in rows] == ["W8A8", "W4A4"]
    assert rows[0]["float"] == float_acc
    assert rows[0]["minmax"] == ptq_accuracy(mlp, 8, 8, "minmax", data=data)
    text = format_table(rows, ["config", "float", "minmax", "entropy"])
    assert text.splitlines()[0] == "| config | float | minmax | entropy |"
    assert f"| W8A8 | {100 * float_acc:.1f} |" in text
    rows = ptq_vs_qat_table(mlp, bits=(4,), epochs=1, data=data, progress=False)
    assert set(rows[0]) == {"bits", "float", "ptq_minmax", "ptq_mse", "qat", "ptq_seconds", "qat_seconds"}
    assert rows[0]["ptq_minmax"] == ptq_accuracy(mlp, 4, 4, data=data) and rows[0]["qat_seconds"] > 0
    assert rows[0]["ptq_mse"] == ptq_accuracy(mlp, 4, 4, "mse", weight_observer="mse", data=data)
    assert "0.50" in format_table([{"qat_seconds": 0.5}])         # seconds are not percentages


def test_stand_in_list_of_layers_works():
    # any (W, b) list stands in for the zoo MLP
    rng = np.random.default_rng(0)
    layers = [(rng.normal(size=(5, 4)), np.zeros(5)), (rng.normal(size=(3, 5)), np.zeros(3))]
    model = calibrate_ptq(layers, 8, 8, calib=rng.uniform(0, 1, (20, 4)))
    assert model.forward(rng.uniform(0, 1, (2, 4))).shape == (2, 3)


# ============================================================================ Adam
def test_adam_against_scalar_recursion():
    rng = np.random.default_rng(1)
    p = rng.normal(size=3)
    ref = p.copy()
    opt = Adam([p], lr=0.05)
    m = v = np.zeros(3)
    for t in range(1, 8):
        g = rng.normal(size=3)
        opt.step([g])
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        ref = ref - 0.05 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
        # same formula, different association of the operations: a few ulp
        np.testing.assert_allclose(p, ref, rtol=1e-14, atol=1e-15)


# ============================================================================ bad input
def test_bad_arguments(mlp, data):
    with pytest.raises(ValueError, match=r"observer='kl' is not a calibrator"):
        ptq_accuracy(mlp, 8, 8, "kl", data=data)
    with pytest.raises(TypeError, match=r"observer must be a name"):
        ptq_accuracy(mlp, 8, 8, 3, data=data)
    with pytest.raises(ValueError, match=r"calib=5000 calibration images requested"):
        ptq_accuracy(mlp, 8, 8, calib=5000, data=data)
    with pytest.raises(ValueError, match=r"^bits=1 is out of range"):
        ptq_accuracy(mlp, 1, 8, data=data)
    with pytest.raises(ValueError, match=r"^bits=17 is out of range"):
        qat_finetune(mlp, 4, 17, epochs=1, progress=False, data=data)
    with pytest.raises(ValueError, match=r"epochs must be >= 1"):
        qat_finetune(mlp, 4, 4, epochs=0, progress=False, data=data)
    with pytest.raises(TypeError, match=r"mlp must be an MLP \(with .layers\) or a non-empty list"):
        FakeQuantMLP(object(), 8, 8)
    with pytest.raises(ValueError, match=r"X has shape \(2, 3\); the network takes \(n_samples, 64\)"):
        FakeQuantMLP(mlp, 8, 8).forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"lr must be a positive number"):
        Adam([np.zeros(2)], lr=-1.0)
    with pytest.raises(ValueError, match=r"MinMaxObserver has seen no data"):
        FakeQuantMLP(mlp, 8, 8, act_observers=[MinMaxObserver(), MinMaxObserver()]).forward(data.x_test[:2])
