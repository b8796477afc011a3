"""Small trained models for the course: a NumPy MLP and a small ConvNet on scikit-learn's bundled digits,
and a byte-level transformer language model on the Python standard library's source.

>>> from quantref.zoo import load_digits_split, MLP, train_mlp, pretrained_mlp
>>> from quantref.zoo import ConvNet, train_cnn, pretrained_cnn
>>> from quantref.zoo import ByteTransformer, perplexity, pretrained_byte_lm

* :mod:`~quantref.zoo.digits` -- the data: ``load_digits_split``;
* :mod:`~quantref.zoo.mlp` -- the model: ``MLP`` (forward, predict, accuracy, gradients);
* :mod:`~quantref.zoo.training` -- ``train_mlp``: mini-batch Adam on softmax cross-entropy;
* :mod:`~quantref.zoo.pretrained` -- ``pretrained_mlp``: the weights shipped as ``digits_mlp.npz``,
  made by ``python -m quantref.zoo train``;
* :mod:`~quantref.zoo.cnn` -- ``ConvNet``: two 3x3 convolutions with batch norm and ReLU, a max
  pool, a linear classifier (forward, backward, batch-norm folding);
* :mod:`~quantref.zoo.cnn_training` -- ``train_cnn``: mini-batch Adam with batch statistics;
* :mod:`~quantref.zoo.digits_cnn` -- ``pretrained_cnn``: the model shipped as ``digits_cnn.npz``,
  made by ``python -m quantref.zoo train-cnn``;
* :mod:`~quantref.zoo.text` -- ``load_stdlib_corpus``: a fixed list of standard-library source
  files as bytes, split by file into training and held-out text, with its SHA-256;
* :mod:`~quantref.zoo.byte_lm` -- ``ByteTransformer``: a two-layer causal transformer over bytes
  whose linear layers are plain ``(out, in)`` matrices (list, replace, calibration inputs);
  ``perplexity`` and ``bits_per_byte``;
* :mod:`~quantref.zoo.byte_lm_training` -- ``train_byte_lm``: Adam on the next-byte cross-entropy;
* :mod:`~quantref.zoo.byte_lm_pretrained` -- ``pretrained_byte_lm``: the model shipped as
  ``byte_lm.npz``, made by ``python -m quantref.zoo train-byte-lm`` (retrained and cached when
  this Python's standard library differs).  Held-out perplexity in float32:
  4.879 (2.287 bits per byte).
"""
from .digits import DigitsSplit, load_digits_split
from .mlp import MLP
from .pretrained import DIGITS_MLP_SETTINGS, pretrained_mlp
from .training import train_mlp
from .cnn import BatchNorm, ConvNet
from .cnn_training import train_cnn
from .digits_cnn import DIGITS_CNN_SETTINGS, pretrained_cnn
from .text import ByteCorpus, load_stdlib_corpus
from .byte_lm import ByteLMConfig, ByteTransformer, bits_per_byte, perplexity
from .byte_lm_training import train_byte_lm
from .byte_lm_pretrained import BYTE_LM_SETTINGS, pretrained_byte_lm

__all__ = ["BYTE_LM_SETTINGS", "BatchNorm", "ByteCorpus", "ByteLMConfig", "ByteTransformer", "ConvNet",
           "DIGITS_CNN_SETTINGS", "DIGITS_MLP_SETTINGS", "DigitsSplit", "MLP",
           "bits_per_byte", "load_digits_split", "load_stdlib_corpus", "perplexity", "pretrained_byte_lm",
           "pretrained_cnn", "pretrained_mlp", "train_byte_lm", "train_cnn", "train_mlp"]
