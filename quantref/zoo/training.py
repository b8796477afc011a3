r"""Train an :class:`~quantref.zoo.mlp.MLP` on the digits with mini-batch Adam, in NumPy.

Initialisation: :math:`W \sim \mathcal{N}(0, 2 / \text{fan\_in})` (He et al. 2015), :math:`b = 0`.
Each epoch visits the training set in a fresh seeded order, in mini-batches; every parameter
:math:`\theta` with gradient :math:`g` takes an Adam step (Kingma and Ba 2015):

.. math::

    m \leftarrow \beta_1 m + (1 - \beta_1) g, \quad v \leftarrow \beta_2 v + (1 - \beta_2) g^2, \quad
    \theta \leftarrow \theta - \eta\, \frac{m / (1 - \beta_1^t)}{\sqrt{v / (1 - \beta_2^t)} + \epsilon}

with :math:`\beta_1 = 0.9, \beta_2 = 0.999, \epsilon = 10^{-8}`.
"""
from __future__ import annotations

import numbers

import numpy as np

from .digits import DigitsSplit, load_digits_split
from .mlp import MLP

BETA1, BETA2, ADAM_EPS = 0.9, 0.999, 1e-8


def _positive_int(value, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer, got {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}.")
    return int(value)


def init_mlp(sizes, rng: np.random.Generator) -> MLP:
    """An MLP with layer widths ``sizes`` (input, hidden..., classes), He-initialised, zero biases."""
    layers = [(rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_out, n_in)), np.zeros(n_out))
              for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    return MLP(layers, dtype=np.float32)


def train_mlp(hidden=(64,), epochs: int = 40, lr: float = 3e-3, batch_size: int = 32, seed: int = 0,
              progress: bool = True, data: DigitsSplit | None = None) -> MLP:
    """Train a ReLU MLP on the digits training split with mini-batch Adam and softmax cross-entropy.

    Parameters
    ----------
    hidden : tuple of int
        Hidden layer widths; ``()`` gives a linear classifier.
    epochs : int
        Passes over the training set.
    lr : float
        Adam's step size.
    batch_size : int
        Samples per step.
    seed : int
        Seeds the initial weights and the order of the mini-batches.
    progress : bool
        Show a tqdm progress bar over the epochs (loss and training accuracy as its postfix).
    data : DigitsSplit, optional
        The data to train on (only ``x_train``, ``y_train`` are used); default
        :func:`~quantref.zoo.digits.load_digits_split` with seed 0.

    Returns
    -------
    MLP
        float32 weights.  With the defaults the test accuracy is about 98 % (the test suite checks
        at least 96 %), after one to two seconds on one core.
    """
    if isinstance(hidden, numbers.Integral):
        hidden = (hidden,)
    hidden = tuple(_positive_int(h, "each hidden width") for h in hidden)
    epochs = _positive_int(epochs, "epochs")
    batch_size = _positive_int(batch_size, "batch_size")
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an integer, got {seed!r}.")
    if not isinstance(lr, numbers.Real) or not np.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a positive number, got {lr!r}; e.g. lr=3e-3.")
    data = load_digits_split() if data is None else data
    x, y = data.x_train, data.y_train

    rng = np.random.default_rng(seed)
    mlp = init_mlp((x.shape[1], *hidden, int(y.max()) + 1), rng)
    params = [p for layer in mlp.layers for p in layer]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    step = 0

    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=epochs, desc="training MLP", unit="epoch")
    for _ in range(epochs):
        order = rng.permutation(len(x))
        losses = []
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            loss, grads = mlp.loss_and_gradients(x[batch], y[batch])
            losses.append(loss)
            step += 1
            for p, g, m_p, v_p in zip(params, [g for pair in grads for g in pair], m, v):
                m_p *= BETA1
                m_p += (1 - BETA1) * g
                v_p *= BETA2
                v_p += (1 - BETA2) * g * g
                m_hat = m_p / (1 - BETA1 ** step)
                v_hat = v_p / (1 - BETA2 ** step)
                p -= (lr * m_hat / (np.sqrt(v_hat) + ADAM_EPS)).astype(p.dtype)
        if bar is not None:
            bar.set_postfix(loss=f"{np.mean(losses):.4f}", train_acc=f"{mlp.accuracy(x, y):.3f}")
            bar.update(1)
    if bar is not None:
        bar.close()
    return mlp
