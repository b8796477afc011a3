r"""Fine-tuning the shared values of a weight-shared MLP, and accuracy against bits.

After weight sharing, each weight is :math:`w_i = c_{\text{code}_i}`, so the loss depends on a
centroid through all the weights that share it (Han et al. 2016, section 3.3, eq. 3):

.. math::

    \frac{\partial \mathcal{L}}{\partial c_j}
      = \sum_{i} \frac{\partial \mathcal{L}}{\partial w_i}\, [\text{code}_i = j] ,

the sum of the gradients of the weights in cluster :math:`j` ("grouped by colour and summed").
Fine-tuning keeps the codes fixed and runs mini-batch SGD on the centroids,
:math:`c_j \leftarrow c_j - \eta\, \partial\mathcal{L}/\partial c_j`; the biases stay in float32
and are not trained.  Every layer has its own codebook.
"""
from __future__ import annotations

import numbers

import numpy as np
from tqdm.auto import tqdm

from .quantize import KMeansQuantized, check_codebook_bits, kmeans_quantize

DEFAULT_BITS = (1, 2, 3, 4, 5, 6, 8)


class QuantizedMLP:
    """An MLP whose weight matrices are :class:`~quantref.codebook.quantize.KMeansQuantized`.

    Parameters
    ----------
    weights : list of KMeansQuantized
        One per layer, codes of shape (out, in).
    biases : list of ndarray
        float32, one per layer.
    """

    def __init__(self, weights: list, biases: list):
        if len(weights) != len(biases) or not weights:
            raise ValueError("weights and biases must be non-empty lists of the same length, one entry per layer.")
        self.weights = list(weights)
        self.biases = [np.asarray(b, dtype=np.float32) for b in biases]

    @property
    def bits(self) -> int:
        return self.weights[0].bits

    def to_mlp(self):
        """A :class:`~quantref.zoo.MLP` with the dequantized weights (float32)."""
        from quantref.zoo import MLP

        return MLP([(q.dequantize(), b) for q, b in zip(self.weights, self.biases)])

    def compression_ratio(self, b: int = 32) -> float:
        r"""Of all weight matrices together: :math:`\sum n b / \sum (n \log_2 k + k b)` (biases excluded)."""
        return sum(q.n for q in self.weights) * b / sum(q.storage_bits(b) for q in self.weights)


def quantize_mlp(mlp, bits, *, init: str = "linear", seed: int = 0) -> QuantizedMLP:
    """Weight-share every layer of ``mlp`` (its own codebook of ``2**bits`` values per layer)."""
    bits = check_codebook_bits(bits)
    return QuantizedMLP([kmeans_quantize(w, bits, init=init, seed=seed) for w, _ in mlp.layers],
                        [b for _, b in mlp.layers])


def centroid_gradients(qmlp: QuantizedMLP, grads: list) -> list:
    """``sum`` of each cluster's weight gradients, per layer: float64 arrays of shape (k,)."""
    return [np.bincount(q.codes.ravel(), weights=np.asarray(dw, dtype=np.float64).ravel(), minlength=q.k)
            for q, (dw, _) in zip(qmlp.weights, grads)]


def finetune_centroids(qmlp: QuantizedMLP, x, y, *, epochs: int = 10, lr: float = 0.01, batch_size: int = 64,
                       seed: int = 0, progress: bool = False) -> tuple[QuantizedMLP, list]:
    """Mini-batch SGD on the centroids (see the module docstring); the codes stay fixed.

    Parameters
    ----------
    qmlp : QuantizedMLP
    x, y : training inputs (n, in) and integer labels (n,)
    epochs, lr, batch_size, seed
        SGD settings; batches are drawn by a seeded permutation each epoch.
    progress : bool
        tqdm bar over the epochs.

    Returns
    -------
    (QuantizedMLP, list of float)
        The fine-tuned model (a new object; ``qmlp`` is unchanged) and the training loss on all of
        ``x`` before fine-tuning and after each epoch.
    """
    for v, name in ((epochs, "epochs"), (batch_size, "batch_size")):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral) or int(v) < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}.")
    if not isinstance(lr, numbers.Real) or not lr > 0:
        raise ValueError(f"lr must be a positive number, got {lr!r}.")
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    codebooks = [q.codebook.astype(np.float64) for q in qmlp.weights]

    def model(cbs):
        return QuantizedMLP([KMeansQuantized(cb.astype(np.float32), q.codes, q.bits)
                             for cb, q in zip(cbs, qmlp.weights)], qmlp.biases)

    rng = np.random.default_rng(seed)
    history = [model(codebooks).to_mlp().loss(x, y)]
    for _ in tqdm(range(int(epochs)), desc=f"fine-tuning {qmlp.bits}-bit centroids", disable=not progress):
        order = rng.permutation(len(x))
        for s in range(0, len(x), int(batch_size)):
            idx = order[s:s + int(batch_size)]
            current = model(codebooks)
            grads = current.to_mlp().gradients(x[idx], y[idx])
            for cb, g in zip(codebooks, centroid_gradients(current, grads)):
                cb -= lr * g
        history.append(model(codebooks).to_mlp().loss(x, y))
    return model(codebooks), history


def accuracy_vs_bits(mlp=None, data=None, bits=DEFAULT_BITS, *, init: str = "linear", epochs: int = 10,
                     lr: float = 0.01, batch_size: int = 64, seed: int = 0, progress: bool = True) -> list[dict]:
    """Test accuracy of the weight-shared MLP per bit width, before and after fine-tuning the centroids.

    Parameters
    ----------
    mlp : MLP, optional
        Default: the course's pretrained digits MLP (:func:`quantref.zoo.pretrained_mlp`).
    data : DigitsSplit, optional
        Default: :func:`quantref.zoo.load_digits_split`.
    bits : sequence of int
        Bit widths (k = 2**bits values per layer).
    init, epochs, lr, batch_size, seed
        k-means initialisation and the SGD settings of :func:`finetune_centroids`.

    Returns
    -------
    list of dict
        One row per bit width: ``{"bits", "k", "float", "kmeans", "finetuned", "ratio"}``:
        accuracies as fractions, ``ratio`` the weights' compression ratio (codebooks included).
        Print with :func:`quantref.qat.ptq.format_table`.
    """
    from quantref.zoo import load_digits_split, pretrained_mlp

    mlp = pretrained_mlp() if mlp is None else mlp
    data = load_digits_split() if data is None else data
    float_acc = float(mlp.accuracy(data.x_test, data.y_test))
    rows = []
    for b in tqdm(list(bits), desc="accuracy vs bits", disable=not progress):
        q = quantize_mlp(mlp, b, init=init, seed=seed)
        tuned, _ = finetune_centroids(q, data.x_train, data.y_train, epochs=epochs, lr=lr, batch_size=batch_size,
                                      seed=seed)
        rows.append({"bits": int(b), "k": 1 << int(b), "float": float_acc,
                     "kmeans": float(q.to_mlp().accuracy(data.x_test, data.y_test)),
                     "finetuned": float(tuned.to_mlp().accuracy(data.x_test, data.y_test)),
                     "ratio": float(q.compression_ratio())})
    return rows
