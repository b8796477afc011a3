"""IntegerMLP: the digits MLP run end to end on integers keeps its accuracy, in a quarter of the bytes."""
import numpy as np
import pytest

from fixedpoint_emulation import quantize_multiplier_py, requantize_int64
from quantref.integer import IntegerMLP, compare_with_float
from quantref.zoo import MLP, load_digits_split, pretrained_mlp


@pytest.fixture(scope="module")
def data():
    return load_digits_split()


@pytest.fixture(scope="module")
def mlp():
    return pretrained_mlp()


def minmax_qparams(lo, hi, signed):
    """Asymmetric 8-bit qparams, written out: widen to 0, s = range / 255, z = qmin - round(lo / s)."""
    qmin, qmax = (-128, 127) if signed else (0, 255)
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    s = max((hi - lo) / 255.0, float(np.finfo(np.float32).eps))
    return s, int(np.clip(qmin - np.rint(lo / s), qmin, qmax))


def float_activations(mlp, x):
    """[x, relu(h1), ..., logits] in float32, by hand."""
    acts, a = [x], x
    for i, (w, b) in enumerate(mlp.layers):
        a = a @ w.T + b
        if i < len(mlp.layers) - 1:
            a = np.maximum(a, 0)
        acts.append(a)
    return acts


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_integer_accuracy_within_one_point_of_float(data, mlp, dtype):
    model = IntegerMLP.from_float(mlp, data.x_train, activation_dtype=dtype)
    float_acc = float(np.mean(np.argmax(float_activations(mlp, data.x_test)[-1], axis=1) == data.y_test))
    int_acc = model.accuracy(data.x_test, data.y_test)
    assert abs(int_acc - float_acc) <= 0.01, (float_acc, int_acc)
    assert int_acc >= 0.95


def test_calibrated_ranges_are_the_min_max_of_the_float_activations(data, mlp):
    model = IntegerMLP.from_float(mlp, data.x_train)
    acts = float_activations(mlp, data.x_train.astype(np.float32))
    expected = [minmax_qparams(a.min(), a.max(), signed=False) for a in acts]
    assert (model.input_scale, model.input_zero_point) == pytest.approx(expected[0], rel=1e-12)
    for layer, (s_in, z_in), (s_out, z_out) in zip(model.layers, expected[:-1], expected[1:]):
        assert layer.input_scale == pytest.approx(s_in, rel=1e-6) and layer.input_zero_point == z_in
        assert layer.output_scale == pytest.approx(s_out, rel=1e-6) and layer.output_zero_point == z_out
    assert [layer.relu for layer in model.layers] == [True, False]


def test_the_chain_matches_an_int64_emulation_of_every_layer(data, mlp):
    """The whole network, bit for bit, re-run in int64 from the layers' stored integers."""
    model = IntegerMLP.from_float(mlp, data.x_train)
    x = data.x_test[:60].astype(np.float64)
    codes = np.clip(np.rint(x / model.input_scale) + model.input_zero_point, 0, 255).astype(np.int64)
    for layer, (w, _) in zip(model.layers, mlp.layers):
        s_w = np.maximum(np.abs(w.astype(np.float64)).max(axis=1) / 127, np.finfo(np.float32).eps)
        pairs = [quantize_multiplier_py(float(layer.input_scale * s / layer.output_scale)) for s in s_w]
        acc = (codes - layer.input_zero_point) @ layer.weight_q.astype(np.int64).T + layer.bias_q
        codes = requantize_int64(acc, [p[0] for p in pairs], [p[1] for p in pairs], layer.output_zero_point,
                                 0, 255, relu=layer.relu)
    out = model.forward_int(x)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out.astype(np.int64), codes)
    np.testing.assert_array_equal(model.predict(x), np.argmax(codes, axis=1))


def test_sizes_in_bytes(data, mlp):
    model = IntegerMLP.from_float(mlp, data.x_train)
    # float32: (64*64 + 64 + 10*64 + 10) * 4 = 4810 * 4 = 19240
    assert mlp.nbytes == 19240
    # int8 weights 64*64 + 10*64 = 4736; per output channel int32 bias, M0, shift: (64 + 10) * 12 = 888;
    # output zero points 2 * 4 = 8; input scale and zero point 8 -> 5640
    assert model.nbytes == 5640
    report = compare_with_float(mlp, model, data.x_test, data.y_test)
    assert (report.float_bytes, report.integer_bytes) == (19240, 5640)
    assert "19240 bytes" in str(report) and "5640 bytes" in str(report)


def test_report_accuracies_and_agreement(data, mlp):
    model = IntegerMLP.from_float(mlp, data.x_train)
    report = compare_with_float(mlp, model, data.x_test, data.y_test)
    assert report.float_accuracy == float(np.mean(mlp.predict(data.x_test) == data.y_test))
    assert report.integer_accuracy == float(np.mean(model.predict(data.x_test) == data.y_test))
    assert report.agreement >= 0.98


def test_a_deeper_mlp_also_runs_on_integers():
    rng = np.random.default_rng(0)
    sizes = [5, 16, 8, 3]
    net = MLP([(rng.normal(0, 0.5, (o, i)), rng.normal(0, 0.1, o)) for i, o in zip(sizes[:-1], sizes[1:])])
    x = rng.normal(size=(200, 5)).astype(np.float32)
    model = IntegerMLP.from_float(net, x)
    assert [layer.relu for layer in model.layers] == [True, True, False]
    # Dequantized logits stay within a few output steps of float.  The tolerance is empirical: three
    # layers of weight and activation rounding measured 1.7 to 2.5 steps over seeds 0-4; a broken layer
    # (a lost zero-point term, a missing bias, a wrong shift) is off by tens of steps or more.
    step = model.layers[-1].output_scale
    assert np.max(np.abs(model.logits(x) - net.forward(x))) <= 4 * step
