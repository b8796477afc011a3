"""Small trained models for the course: a NumPy MLP on scikit-learn's bundled digits.

>>> from quantref.zoo import load_digits_split, MLP, train_mlp, pretrained_mlp

* :mod:`~quantref.zoo.digits` -- the data: ``load_digits_split``;
* :mod:`~quantref.zoo.mlp` -- the model: ``MLP`` (forward, predict, accuracy, gradients);
* :mod:`~quantref.zoo.training` -- ``train_mlp``: mini-batch Adam on softmax cross-entropy;
* :mod:`~quantref.zoo.pretrained` -- ``pretrained_mlp``: the weights shipped as ``digits_mlp.npz``,
  made by ``python -m quantref.zoo train``.
"""
from .digits import DigitsSplit, load_digits_split
from .mlp import MLP
from .pretrained import DIGITS_MLP_SETTINGS, pretrained_mlp
from .training import train_mlp

__all__ = ["DIGITS_MLP_SETTINGS", "DigitsSplit", "MLP", "load_digits_split", "pretrained_mlp", "train_mlp"]
