"""train_mlp and the shipped weights: both reach 96 % test accuracy on the digits."""
import time
from importlib import resources

import numpy as np
import pytest

from quantref.zoo import DIGITS_MLP_SETTINGS, load_digits_split, pretrained_mlp, train_mlp
from quantref.zoo.pretrained import pretrained_path


@pytest.fixture(scope="module")
def data():
    return load_digits_split()


def test_retraining_with_the_shipped_settings_reaches_96_percent_in_under_20_s(data):
    start = time.perf_counter()
    mlp = train_mlp(**DIGITS_MLP_SETTINGS, progress=False, data=data)
    seconds = time.perf_counter() - start
    assert mlp.accuracy(data.x_test, data.y_test) >= 0.96
    assert seconds < 20, f"training took {seconds:.1f} s"
    assert mlp.hidden == DIGITS_MLP_SETTINGS["hidden"]


def test_the_shipped_weights_reach_96_percent(data):
    mlp = pretrained_mlp()
    assert mlp.hidden == (64,) and mlp.layers[0][0].dtype == np.float32
    assert mlp.accuracy(data.x_test, data.y_test) >= 0.96
    with resources.as_file(pretrained_path()) as path:
        assert path.stat().st_size < 32 * 1024          # tiny: 4810 float32 parameters, about 19 kB


def test_the_same_seed_gives_the_same_model(data):
    a = train_mlp(hidden=(8,), epochs=2, seed=4, progress=False, data=data)
    b = train_mlp(hidden=(8,), epochs=2, seed=4, progress=False, data=data)
    c = train_mlp(hidden=(8,), epochs=2, seed=5, progress=False, data=data)
    np.testing.assert_array_equal(a.layers[0][0], b.layers[0][0])
    assert not np.array_equal(a.layers[0][0], c.layers[0][0])


def test_training_lowers_the_loss(data):
    one = train_mlp(hidden=(16,), epochs=1, seed=0, progress=False, data=data)
    five = train_mlp(hidden=(16,), epochs=5, seed=0, progress=False, data=data)
    assert five.loss(data.x_train, data.y_train) < one.loss(data.x_train, data.y_train)


def test_progress_bar_shows_when_asked(data, capsys):
    train_mlp(hidden=(8,), epochs=2, progress=True, data=data)
    assert "training MLP" in capsys.readouterr().err
    train_mlp(hidden=(8,), epochs=2, progress=False, data=data)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("kw, error, match", [(dict(hidden=(0,)), ValueError, "each hidden width must be >= 1"),
                                              (dict(epochs=0), ValueError, "epochs must be >= 1"),
                                              (dict(lr=-1.0), ValueError, "lr must be a positive number"),
                                              (dict(batch_size=2.5), TypeError, "batch_size must be a positive integer")])
def test_bad_arguments(kw, error, match):
    with pytest.raises(error, match=rf"^{match}"):
        train_mlp(progress=False, **kw)


def test_command_line_train_writes_a_model(tmp_path):
    from quantref.zoo.__main__ import main
    out = tmp_path / "m.npz"
    assert main(["train", "--out", str(out), "--no-progress"]) == 0
    from quantref.zoo import MLP
    assert MLP.load(out).accuracy(load_digits_split().x_test, load_digits_split().y_test) >= 0.96
