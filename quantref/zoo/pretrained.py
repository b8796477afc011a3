"""The digits MLP shipped with the package (``digits_mlp.npz``, about 19 kB), and how it was made.

``python -m quantref.zoo train`` retrains it with :data:`DIGITS_MLP_SETTINGS` and overwrites the
file; the test suite retrains with the same settings and checks both models' test accuracy.
"""
from __future__ import annotations

from importlib import resources

import numpy as np

from .mlp import MLP

#: The file inside this package that holds the weights (``W0, b0, W1, b1`` in float32).
PRETRAINED_FILE = "digits_mlp.npz"

#: Arguments of :func:`~quantref.zoo.training.train_mlp` that produced the shipped weights
#: (on :func:`~quantref.zoo.digits.load_digits_split` with its defaults: seed 0, 25 % test).
DIGITS_MLP_SETTINGS = dict(hidden=(64,), epochs=40, lr=3e-3, batch_size=32, seed=0)


def pretrained_path():
    """Path of the shipped weights file (a ``Traversable`` inside the installed package)."""
    return resources.files(__package__) / PRETRAINED_FILE


def pretrained_mlp(dtype=np.float32) -> MLP:
    """The shipped digits MLP, 64 -> 64 -> 10 with ReLU, trained with :data:`DIGITS_MLP_SETTINGS`.

    Examples
    --------
    >>> from quantref.zoo import load_digits_split
    >>> mlp = pretrained_mlp()
    >>> mlp
    MLP(64 -> 64 -> 10, dtype=float32)
    >>> data = load_digits_split()
    >>> mlp.accuracy(data.x_test, data.y_test) >= 0.96
    True
    """
    with resources.as_file(pretrained_path()) as path:
        if not path.exists():
            raise FileNotFoundError(f"the shipped weights {PRETRAINED_FILE} are missing from the quantref.zoo "
                                    f"package; recreate them with `python -m quantref.zoo train`.")
        return MLP.load(path, dtype=dtype)
