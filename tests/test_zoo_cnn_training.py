"""train_cnn and the shipped ConvNet: both reach 97 % test accuracy on the digits."""
import time
from importlib import resources

import numpy as np
import pytest

from quantref.zoo import DIGITS_CNN_SETTINGS, ConvNet, load_digits_split, pretrained_cnn, train_cnn
from quantref.zoo.digits_cnn import pretrained_cnn_path


@pytest.fixture(scope="module")
def data():
    return load_digits_split()


def test_retraining_with_the_shipped_settings_reaches_97_percent_in_under_60_s(data):
    start = time.perf_counter()
    cnn = train_cnn(**DIGITS_CNN_SETTINGS, progress=False, data=data)
    seconds = time.perf_counter() - start
    assert cnn.accuracy(data.x_test, data.y_test) >= 0.97
    assert seconds < 60, f"training took {seconds:.1f} s"
    assert cnn.channels == DIGITS_CNN_SETTINGS["channels"]


def test_the_shipped_model_reaches_97_percent(data):
    cnn = pretrained_cnn()
    assert cnn.channels == (8, 16) and cnn.convs[0][0].dtype == np.float32
    assert cnn.accuracy(data.x_test, data.y_test) >= 0.97
    with resources.as_file(pretrained_cnn_path()) as path:
        assert path.stat().st_size < 32 * 1024


def test_the_same_seed_gives_the_same_model(data):
    a = train_cnn(channels=(2, 2), epochs=1, seed=4, progress=False, data=data)
    b = train_cnn(channels=(2, 2), epochs=1, seed=4, progress=False, data=data)
    c = train_cnn(channels=(2, 2), epochs=1, seed=5, progress=False, data=data)
    np.testing.assert_array_equal(a.convs[0][0], b.convs[0][0])
    np.testing.assert_array_equal(a.batch_norms[1].running_var, b.batch_norms[1].running_var)
    assert not np.array_equal(a.convs[0][0], c.convs[0][0])


def test_training_lowers_the_loss(data):
    one = train_cnn(channels=(4, 4), epochs=1, seed=0, progress=False, data=data)
    three = train_cnn(channels=(4, 4), epochs=3, seed=0, progress=False, data=data)
    assert three.loss(data.x_train, data.y_train, train=False) < one.loss(data.x_train, data.y_train, train=False)


@pytest.mark.parametrize("kw, error, match", [(dict(channels=(0,)), ValueError, "each channel count must be >= 1"),
                                              (dict(epochs=0), ValueError, "epochs must be >= 1"),
                                              (dict(lr=-1.0), ValueError, "lr must be a positive number")])
def test_bad_arguments(kw, error, match):
    with pytest.raises(error, match=rf"^{match}"):
        train_cnn(progress=False, **kw)


def test_command_line_train_cnn_writes_a_model(tmp_path, data):
    from quantref.zoo.__main__ import main
    out = tmp_path / "c.npz"
    assert main(["train-cnn", "--out", str(out), "--no-progress"]) == 0
    assert ConvNet.load(out).accuracy(data.x_test, data.y_test) >= 0.97
