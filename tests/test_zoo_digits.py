"""load_digits_split: scikit-learn's bundled digits, scaled to [0, 1], split stratified and seeded."""
import numpy as np
import pytest

from quantref.zoo import load_digits_split


def test_shapes_dtypes_and_range():
    data = load_digits_split()
    # 1797 images; test_size 0.25 -> ceil(0.25 * 1797) = 450 test, 1347 train
    assert data.x_train.shape == (1347, 64) and data.x_test.shape == (450, 64)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    both = np.concatenate([data.x_train, data.x_test])
    assert both.min() == 0.0 and both.max() == 1.0
    # pixels are integers 0..16 divided by 16
    np.testing.assert_array_equal(both * 16, np.round(both * 16))
    assert set(np.unique(data.y_train)) == set(range(10))


def test_split_is_stratified():
    data = load_digits_split(seed=3, test_size=0.3)
    all_labels = np.concatenate([data.y_train, data.y_test])
    expected = np.bincount(all_labels) * 0.3
    assert np.all(np.abs(np.bincount(data.y_test) - expected) <= 1)


def test_seeded_split():
    a, b, c = load_digits_split(seed=0), load_digits_split(seed=0), load_digits_split(seed=1)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.y_test, c.y_test)


def test_train_and_test_partition_the_images():
    data = load_digits_split()
    rows = {tuple(r) for r in np.concatenate([data.x_train, data.x_test])}
    from sklearn.datasets import load_digits
    assert rows == {tuple(r) for r in (load_digits().data / 16).astype(np.float32)}


@pytest.mark.parametrize("kw, error", [(dict(test_size=0.0), ValueError), (dict(test_size=1.0), ValueError),
                                       (dict(test_size="a"), ValueError), (dict(seed=1.5), TypeError),
                                       (dict(seed=-1), ValueError)])
def test_bad_arguments(kw, error):
    name = next(iter(kw))
    with pytest.raises(error, match=rf"^{name} must"):
        load_digits_split(**kw)
