"""Small trained models for the course: a NumPy MLP and a small ConvNet on scikit-learn's bundled digits.

>>> from quantref.zoo import load_digits_split, MLP, train_mlp, pretrained_mlp
>>> from quantref.zoo import ConvNet, train_cnn, pretrained_cnn

* :mod:`~quantref.zoo.digits` -- the data: ``load_digits_split``;
* :mod:`~quantref.zoo.mlp` -- the model: ``MLP`` (forward, predict, accuracy, gradients);
* :mod:`~quantref.zoo.training` -- ``train_mlp``: mini-batch Adam on softmax cross-entropy;
* :mod:`~quantref.zoo.pretrained` -- ``pretrained_mlp``: the weights shipped as ``digits_mlp.npz``,
  made by ``python -m quantref.zoo train``;
* :mod:`~quantref.zoo.cnn` -- ``ConvNet``: two 3x3 convolutions with batch norm and ReLU, a max
  pool, a linear classifier (forward, backward, batch-norm folding);
* :mod:`~quantref.zoo.cnn_training` -- ``train_cnn``: mini-batch Adam with batch statistics;
* :mod:`~quantref.zoo.digits_cnn` -- ``pretrained_cnn``: the model shipped as ``digits_cnn.npz``,
  made by ``python -m quantref.zoo train-cnn``.
"""
from .digits import DigitsSplit, load_digits_split
from .mlp import MLP
from .pretrained import DIGITS_MLP_SETTINGS, pretrained_mlp
from .training import train_mlp
from .cnn import BatchNorm, ConvNet
from .cnn_training import train_cnn
from .digits_cnn import DIGITS_CNN_SETTINGS, pretrained_cnn

__all__ = ["BatchNorm", "ConvNet", "DIGITS_CNN_SETTINGS", "DIGITS_MLP_SETTINGS", "DigitsSplit", "MLP",
           "load_digits_split", "pretrained_cnn", "pretrained_mlp", "train_cnn", "train_mlp"]
