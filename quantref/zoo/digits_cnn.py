"""The digits ConvNet shipped with the package (``digits_cnn.npz``, about 17 kB), and how it was made.

``python -m quantref.zoo train-cnn`` retrains it with :data:`DIGITS_CNN_SETTINGS` (two seconds on
one core) and overwrites the file; the test suite retrains with the same settings and checks
both models' test accuracy.
"""
from __future__ import annotations

from importlib import resources

import numpy as np

from .cnn import ConvNet

#: The file inside this package that holds the model (see :meth:`ConvNet.save`).
PRETRAINED_CNN_FILE = "digits_cnn.npz"

#: Arguments of :func:`~quantref.zoo.cnn_training.train_cnn` that produced the shipped model
#: (on :func:`~quantref.zoo.digits.load_digits_split` with its defaults: seed 0, 25 % test).
DIGITS_CNN_SETTINGS = dict(channels=(8, 16), epochs=15, lr=3e-3, batch_size=32, seed=0)


def pretrained_cnn_path():
    """Path of the shipped model file (a ``Traversable`` inside the installed package)."""
    return resources.files(__package__) / PRETRAINED_CNN_FILE


def pretrained_cnn(dtype=np.float32) -> ConvNet:
    """The shipped digits ConvNet, ``1x8x8 -> conv 8 + BN -> conv 16 + BN -> maxpool 2 -> 10``.

    Examples
    --------
    >>> from quantref.zoo import load_digits_split
    >>> cnn = pretrained_cnn()
    >>> data = load_digits_split()
    >>> cnn.accuracy(data.x_test, data.y_test) >= 0.97
    True
    """
    with resources.as_file(pretrained_cnn_path()) as path:
        if not path.exists():
            raise FileNotFoundError(f"the shipped model {PRETRAINED_CNN_FILE} is missing from the quantref.zoo "
                                    f"package; recreate it with `python -m quantref.zoo train-cnn`.")
        return ConvNet.load(path, dtype=dtype)
