r"""Train a :class:`~quantref.zoo.cnn.ConvNet` on the digits with mini-batch Adam, in NumPy.

Initialisation: convolution and classifier weights :math:`\sim \mathcal{N}(0, 2/\text{fan\_in})`
(He et al. 2015; a 3x3 convolution's fan-in is :math:`9 c_{in}`), batch norms
:math:`\gamma = 1, \beta = 0`, classifier bias 0.  Each epoch visits the training set in a fresh
seeded order, in mini-batches; every step normalizes with the batch's statistics, updates the
running statistics, and takes one Adam step (:class:`quantref.qat.adam.Adam`) on
:meth:`~quantref.zoo.cnn.ConvNet.parameters`: the loop of :func:`quantref.zoo.training.run_epochs`.
"""
from __future__ import annotations

import numbers

import numpy as np

from .._checks import check_positive_int
from .cnn import KERNEL_SIZE, BatchNorm, ConvNet
from .digits import DigitsSplit, load_digits_split
from .training import check_training_args, run_epochs


def init_cnn(channels, rng: np.random.Generator, input_shape=(1, 8, 8), n_classes: int = 10,
             pool: int = 2) -> ConvNet:
    """A ConvNet with convolutions of ``channels`` outputs, He-initialised, fresh batch norms."""
    convs, bns = [], []
    c_in = input_shape[0]
    for c_out in channels:
        fan_in = c_in * KERNEL_SIZE * KERNEL_SIZE
        convs.append((rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(c_out, c_in, KERNEL_SIZE, KERNEL_SIZE)),
                      np.zeros(c_out)))
        bns.append(BatchNorm.identity(c_out))
        c_in = c_out
    features = c_in * (input_shape[1] // pool) * (input_shape[2] // pool)
    classifier = (rng.normal(0.0, np.sqrt(2.0 / features), size=(n_classes, features)), np.zeros(n_classes))
    return ConvNet(convs, bns, classifier, input_shape=input_shape, pool=pool, dtype=np.float32)


def train_cnn(channels=(8, 16), epochs: int = 15, lr: float = 3e-3, batch_size: int = 32, seed: int = 0,
              progress: bool = True, data: DigitsSplit | None = None) -> ConvNet:
    """Train the digits ConvNet (two 3x3 convolutions with batch norm and ReLU, max pool 2, linear).

    Parameters
    ----------
    channels : tuple of int
        Output channels of the convolutions.
    epochs, lr, batch_size, seed : int, float, int, int
        Passes over the training set, Adam's step size, samples per step, and the seed of the
        initial weights and of the mini-batch order.
    progress : bool
        A tqdm progress bar over the epochs (loss and training accuracy as its postfix).
    data : DigitsSplit, optional
        Default :func:`~quantref.zoo.digits.load_digits_split` with seed 0.

    Returns
    -------
    ConvNet
        float32, batch norms with running statistics (inference mode).
    """
    from ..qat.adam import Adam

    if isinstance(channels, numbers.Integral):
        channels = (channels,)
    channels = tuple(check_positive_int(c, "each channel count") for c in channels)
    epochs, lr, batch_size, seed = check_training_args(epochs, lr, batch_size, seed)
    data = load_digits_split() if data is None else data
    x, y = data.x_train, data.y_train

    rng = np.random.default_rng(seed)
    cnn = init_cnn(channels, rng, n_classes=int(y.max()) + 1)
    optimizer = Adam(cnn.parameters(), lr=lr)

    def step(xb, yb):
        loss, grads = cnn.loss_and_gradients(xb, yb, update_running_stats=True)
        optimizer.step(grads)
        return loss

    # min_batch 2: a batch norm needs two samples for a variance
    run_epochs(cnn, x, y, step, epochs=epochs, batch_size=batch_size, rng=rng, progress=progress,
               desc="training CNN", min_batch=2)
    return cnn
