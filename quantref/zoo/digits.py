"""The digits data set: 8x8 images of handwritten digits, bundled with scikit-learn (no download).

1,797 images, 10 classes, 64 features with values 0 to 16 (UCI "Optical Recognition of
Handwritten Digits", test part).  :func:`load_digits_split` scales the features to [0, 1] and
makes a stratified, seeded train/test split.
"""
from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

#: Pixel values in the bundled data run from 0 to 16.
PIXEL_MAX = 16.0


class DigitsSplit(NamedTuple):
    """A train/test split, in scikit-learn's ``train_test_split`` order."""

    x_train: np.ndarray  #: float32, shape (n_train, 64), values in [0, 1]
    x_test: np.ndarray   #: float32, shape (n_test, 64), values in [0, 1]
    y_train: np.ndarray  #: int64 labels 0..9, shape (n_train,)
    y_test: np.ndarray   #: int64 labels 0..9, shape (n_test,)


def load_digits_split(seed: int = 0, test_size: float = 0.25) -> DigitsSplit:
    """Load scikit-learn's bundled digits, features scaled to [0, 1], split stratified by class.

    Parameters
    ----------
    seed : int
        Seed of the split (``random_state`` of ``train_test_split``).
    test_size : float
        Fraction of the images held out for testing, in (0, 1).

    Returns
    -------
    DigitsSplit
        ``(x_train, x_test, y_train, y_test)``; features are ``pixels / 16`` in float32.

    Examples
    --------
    >>> data = load_digits_split()
    >>> data.x_train.shape, data.x_test.shape, data.x_train.dtype
    ((1347, 64), (450, 64), dtype('float32'))
    """
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an integer, got {seed!r} of type {type(seed).__name__}; e.g. seed=0.")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}; e.g. seed=0.")
    if isinstance(test_size, (bool, np.bool_)) or not isinstance(test_size, numbers.Real) \
            or not 0.0 < float(test_size) < 1.0:
        raise ValueError(f"test_size must be a fraction in (0, 1), got {test_size!r}; e.g. test_size=0.25.")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = (bunch.data / PIXEL_MAX).astype(np.float32)
    y = bunch.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=float(test_size), random_state=int(seed),
                                                        stratify=y)
    return DigitsSplit(x_train, x_test, y_train, y_test)
