r"""Train an :class:`~quantref.zoo.mlp.MLP` on the digits with mini-batch Adam, in NumPy.

Initialisation: :math:`W \sim \mathcal{N}(0, 2 / \text{fan\_in})` (He et al. 2015), :math:`b = 0`.
Each epoch visits the training set in a fresh seeded order, in mini-batches; every parameter takes
an Adam step (:class:`quantref.qat.adam.Adam`, Kingma and Ba 2015).  :func:`run_epochs` is that
loop, shared with the ConvNet's training (:mod:`quantref.zoo.cnn_training`).
"""
from __future__ import annotations

import numbers

import numpy as np

from .._checks import check_positive_int
from .digits import DigitsSplit, load_digits_split
from .mlp import MLP


def check_training_args(epochs, lr, batch_size, seed) -> tuple[int, float, int, int]:
    """``(epochs, lr, batch_size, seed)`` checked: positive integers, a positive finite step size."""
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an integer, got {seed!r}.")
    if not isinstance(lr, numbers.Real) or not np.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a positive number, got {lr!r}; e.g. lr=3e-3.")
    return epochs, lr, batch_size, seed


def run_epochs(model, x, y, step, *, epochs: int, batch_size: int, rng: np.random.Generator,
               progress: bool, desc: str, min_batch: int = 1) -> None:
    """``epochs`` passes over ``(x, y)``, each in a fresh order drawn from ``rng``, in mini-batches.

    ``step(x_batch, y_batch)`` trains on one mini-batch and returns its loss; a last batch of
    fewer than ``min_batch`` samples is skipped.  ``progress``: a tqdm bar over the epochs, with
    the epoch's mean loss and ``model.accuracy(x, y)`` as its postfix.
    """
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=epochs, desc=desc, unit="epoch")
    for _ in range(epochs):
        order = rng.permutation(len(x))
        losses = []
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            if len(batch) < min_batch:
                continue
            losses.append(step(x[batch], y[batch]))
        if bar is not None:
            bar.set_postfix(loss=f"{np.mean(losses):.4f}", train_acc=f"{model.accuracy(x, y):.3f}")
            bar.update(1)
    if bar is not None:
        bar.close()


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
    from ..qat.adam import Adam

    if isinstance(hidden, numbers.Integral):
        hidden = (hidden,)
    hidden = tuple(check_positive_int(h, "each hidden width") for h in hidden)
    epochs, lr, batch_size, seed = check_training_args(epochs, lr, batch_size, seed)
    data = load_digits_split() if data is None else data
    x, y = data.x_train, data.y_train

    rng = np.random.default_rng(seed)
    mlp = init_mlp((x.shape[1], *hidden, int(y.max()) + 1), rng)
    optimizer = Adam([p for layer in mlp.layers for p in layer], lr=lr)

    def step(xb, yb):
        loss, grads = mlp.loss_and_gradients(xb, yb)
        optimizer.step([g for pair in grads for g in pair])
        return loss

    run_epochs(mlp, x, y, step, epochs=epochs, batch_size=batch_size, rng=rng, progress=progress,
               desc="training MLP")
    return mlp
