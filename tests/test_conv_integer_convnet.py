"""IntegerConvNet == FakeQuantConvNet code for code (trained and random networks); accuracy; bad input."""
import numpy as np
import pytest

from quantref.conv.fake_quant_convnet import FakeQuantConvNet
from quantref.conv.integer_conv import QuantizedConv2d
from quantref.conv.integer_convnet import IntegerConvNet
from quantref.zoo import load_digits_split, pretrained_cnn

from test_zoo_cnn import random_cnn


@pytest.fixture(scope="module")
def data():
    return load_digits_split()


@pytest.fixture(scope="module")
def trained(data):
    cnn = pretrained_cnn()
    return cnn, IntegerConvNet.from_float(cnn, data.x_train)


def assert_codes_equal(integer_codes, fake_codes):
    assert len(integer_codes) == len(fake_codes)
    for i, (a, b) in enumerate(zip(integer_codes, fake_codes)):
        assert a.dtype == np.uint8, i
        np.testing.assert_array_equal(a.astype(np.int64), b, err_msg=f"tensor {i}")


def test_trained_network_matches_the_fake_quantized_pass_bit_for_bit(trained, data):
    cnn, net = trained
    fake = FakeQuantConvNet(cnn.fold_batch_norm(), net.activation_qparams)
    assert_codes_equal(net.layer_codes(data.x_test), fake.layer_codes(data.x_test))
    np.testing.assert_array_equal(net.logits(data.x_test), fake.logits(data.x_test))


@pytest.mark.parametrize("seed", range(5))
def test_random_networks_match_the_fake_quantized_pass_bit_for_bit(seed):
    """Random weights and batch norms, inputs N(0, 1): the input zero point is near 128, so the
    zero-point padding and the bias folding both matter."""
    cnn = random_cnn(seed, input_shape=(2, 6, 6), channels=(3, 4), n_classes=5)
    rng = np.random.default_rng(100 + seed)
    net = IntegerConvNet.from_float(cnn, rng.normal(size=(64, 72)))
    assert 100 < net.activation_qparams[0][1] < 156
    x = rng.normal(size=(32, 72)) * 1.2            # some inputs beyond the calibrated range: clipped alike
    assert_codes_equal(net.layer_codes(x), FakeQuantConvNet(cnn.fold_batch_norm(), net.activation_qparams).layer_codes(x))


def test_textbook_rounding_is_not_the_integer_kernel(trained, data):
    """round(y / s_out) instead of the fixed-point multiplier moves some codes by one: a reference
    that rounds differently would fail the exact comparison above."""
    cnn, net = trained
    textbook = FakeQuantConvNet(cnn.fold_batch_norm(), net.activation_qparams, requantization="round")
    conv1_int, conv1_textbook = net.layer_codes(data.x_test)[1], textbook.layer_codes(data.x_test)[1]
    diff = np.abs(conv1_int.astype(np.int64) - conv1_textbook)
    assert diff.max() == 1 and np.count_nonzero(diff) > 0


def test_an_integer_path_that_pads_with_zero_is_caught(monkeypatch):
    from quantref.conv.im2col import im2col
    cnn = random_cnn(1, input_shape=(2, 6, 6), channels=(3, 4), n_classes=5)
    rng = np.random.default_rng(7)
    net = IntegerConvNet.from_float(cnn, rng.normal(size=(64, 72)))
    x = rng.normal(size=(16, 72))
    fake = FakeQuantConvNet(cnn.fold_batch_norm(), net.activation_qparams).layer_codes(x)
    monkeypatch.setattr(QuantizedConv2d, "columns",
                        lambda self, x_q: im2col(x_q, self.kernel_size, self.padding, pad_value=0))
    assert not np.array_equal(net.layer_codes(x)[1].astype(np.int64), fake[1])


def test_int8_accuracy_is_within_one_point_of_float(trained, data):
    cnn, net = trained
    float_acc, int_acc = cnn.accuracy(data.x_test, data.y_test), net.accuracy(data.x_test, data.y_test)
    assert float_acc >= 0.97 and int_acc >= float_acc - 0.01
    # int8 weights, then 12 bytes per channel (int32 bias, m0, shift), a zero point per layer, the input qparams
    assert net.nbytes == (8 * 9 + 8 * 12) + (16 * 72 + 16 * 12) + (10 * 256 + 10 * 12) + 3 * 4 + 8
    assert net.nbytes < cnn.nbytes / 3


def test_bad_input(trained, data):
    cnn, net = trained
    with pytest.raises(TypeError, match=r"^cnn must be a quantref.zoo.ConvNet"):
        IntegerConvNet.from_float(object(), data.x_train)
    with pytest.raises(ValueError, match=r"^calibration_inputs is empty"):
        IntegerConvNet.from_float(cnn, data.x_train[:0])
    with pytest.raises(ValueError, match=r"^x has shape \(3, 63\); the network takes \(n, 64\)"):
        net.predict(np.ones((3, 63)))
    with pytest.raises(ValueError, match=r"contains 1 NaN or inf"):
        net.predict(np.where(np.eye(1, 64, 5) > 0, np.nan, 0.0))
    with pytest.raises(TypeError, match=r"^folded_cnn must be a quantref.zoo.ConvNet without batch norms"):
        FakeQuantConvNet(cnn, net.activation_qparams)
    with pytest.raises(ValueError, match=r"^activation_qparams has 3 entries; it needs 4"):
        FakeQuantConvNet(cnn.fold_batch_norm(), net.activation_qparams[:3])
    with pytest.raises(ValueError, match=r"^requantization must be one of"):
        FakeQuantConvNet(cnn.fold_batch_norm(), net.activation_qparams, requantization="floor")
    with pytest.raises(TypeError, match=r"^classifier must be a QuantizedLinear"):
        IntegerConvNet(net.convs, net.convs[0], net.input_shape)
    with pytest.raises(ValueError, match=r"^layer 0's output qparams"):
        IntegerConvNet(net.convs[1:] + net.convs[:1], net.classifier, net.input_shape)
