r"""A multilayer perceptron in NumPy: forward pass, softmax cross-entropy, and its gradients.

Layer :math:`l` holds :math:`W_l` (``out x in``) and :math:`b_l` (``out``); hidden layers use ReLU:

.. math::

    a_0 = X, \qquad z_l = a_{l-1} W_l^T + b_l, \qquad a_l = \max(z_l, 0)\ (l < L), \qquad
    \text{logits} = z_L

and the loss is the mean softmax cross-entropy
:math:`\mathcal{L} = \frac{1}{n} \sum_i \big(\log \sum_j e^{z_{L,ij}} - z_{L,i y_i}\big)`.
Backpropagation (:meth:`MLP.gradients`):

.. math::

    \delta_L = (\mathrm{softmax}(z_L) - \mathrm{onehot}(y)) / n, \qquad
    \frac{\partial \mathcal{L}}{\partial W_l} = \delta_l^T a_{l-1}, \qquad
    \frac{\partial \mathcal{L}}{\partial b_l} = \textstyle\sum_i \delta_{l,i}, \qquad
    \delta_{l-1} = (\delta_l W_l) \odot [z_{l-1} > 0].
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .._checks import as_float_array


def _check_layers(layers, dtype) -> list:
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__len__") or len(layers) == 0:
        raise TypeError(f"layers must be a non-empty list of (W, b) pairs, got {type(layers).__name__}; "
                        f"e.g. [(W1, b1), (W2, b2)] with W of shape (out, in).")
    checked = []
    for i, pair in enumerate(layers):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"layers[{i}] must be a pair (W, b), got {type(pair).__name__}.")
        w = as_float_array(pair[0], f"layers[{i}] W").astype(dtype)
        b = as_float_array(pair[1], f"layers[{i}] b").astype(dtype)
        if w.ndim != 2:
            raise ValueError(f"layers[{i}] W must be 2-D (out, in), got shape {w.shape}.")
        if b.shape != (w.shape[0],):
            raise ValueError(f"layers[{i}] b has shape {b.shape}, but W has {w.shape[0]} outputs; "
                             f"b must have shape ({w.shape[0]},).")
        if checked and checked[-1][0].shape[0] != w.shape[1]:
            raise ValueError(f"mismatched layer shapes: layers[{i - 1}] has {checked[-1][0].shape[0]} outputs but "
                             f"layers[{i}] W takes {w.shape[1]} inputs (W is (out, in)); make them equal.")
        checked.append((w, b))
    return checked


class MLP:
    """A ReLU multilayer perceptron for classification.

    Parameters
    ----------
    layers : list of (W, b)
        ``W`` of shape (out, in), ``b`` of shape (out,); each layer's ``in`` is the previous ``out``.
    dtype : NumPy float dtype
        Storage and compute dtype (float32 by default; float64 for gradient checks).

    Examples
    --------
    >>> mlp = MLP([(np.eye(2), np.zeros(2)), (np.array([[1.0, -1.0]]), np.array([0.5]))])
    >>> mlp.forward(np.array([[3.0, -1.0]]))      # relu([3, -1]) = [3, 0]; 3 - 0 + 0.5
    array([[3.5]], dtype=float32)
    """

    def __init__(self, layers, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        if not np.issubdtype(self.dtype, np.floating):
            raise TypeError(f"dtype must be a float dtype such as np.float32, got {dtype!r}.")
        self.layers = _check_layers(layers, self.dtype)

    @property
    def in_features(self) -> int:
        return self.layers[0][0].shape[1]

    @property
    def n_classes(self) -> int:
        return self.layers[-1][0].shape[0]

    @property
    def hidden(self) -> tuple:
        """Widths of the hidden layers."""
        return tuple(w.shape[0] for w, _ in self.layers[:-1])

    @property
    def nbytes(self) -> int:
        """Bytes of the weights and biases in ``dtype`` (4 per parameter in float32)."""
        return int(sum(w.nbytes + b.nbytes for w, b in self.layers))

    def _check_x(self, x) -> np.ndarray:
        arr = as_float_array(x, "X")
        if arr.ndim != 2 or arr.shape[1] != self.in_features:
            raise ValueError(f"X has shape {arr.shape}; the MLP takes (n_samples, {self.in_features}).")
        return arr.astype(self.dtype)

    def _check_y(self, y, n: int) -> np.ndarray:
        labels = np.asarray(y)
        if labels.dtype == np.bool_ or not np.issubdtype(labels.dtype, np.integer):
            raise TypeError(f"y must hold integer class labels, got dtype {labels.dtype}.")
        if labels.shape != (n,):
            raise ValueError(f"y has shape {labels.shape}; it must have shape ({n},), one label per row of X.")
        if n and (labels.min() < 0 or labels.max() >= self.n_classes):
            raise ValueError(f"y holds labels from {labels.min()} to {labels.max()}; they must lie in "
                             f"[0, {self.n_classes - 1}].")
        return labels

    def _forward_cache(self, x: np.ndarray) -> tuple[list, list]:
        """Return ([a_0, ..., a_{L-1}], [z_1, ..., z_L]): each layer's input and pre-activation."""
        inputs, pre = [], []
        a = x
        for i, (w, b) in enumerate(self.layers):
            inputs.append(a)
            z = a @ w.T + b
            pre.append(z)
            a = np.maximum(z, 0) if i < len(self.layers) - 1 else z
        return inputs, pre

    def activations(self, x) -> list:
        """``[X, a_1, ..., a_{L-1}, logits]``: the input, each hidden layer's ReLU output, and the logits."""
        inputs, pre = self._forward_cache(self._check_x(x))
        return inputs + [pre[-1]]

    def forward(self, x) -> np.ndarray:
        """Logits, shape (n_samples, n_classes)."""
        return self._forward_cache(self._check_x(x))[1][-1]

    def predict(self, x) -> np.ndarray:
        """Predicted classes: argmax of the logits."""
        return np.argmax(self.forward(x), axis=1)

    def accuracy(self, x, y) -> float:
        """Fraction of samples classified correctly."""
        pred = self.predict(x)
        return float(np.mean(pred == self._check_y(y, len(pred))))

    @staticmethod
    def _softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_z = np.log(np.exp(shifted).sum(axis=1))
        n = len(y)
        loss = float(np.mean(log_z - shifted[np.arange(n), y]))
        delta = np.exp(shifted - log_z[:, None])
        delta[np.arange(n), y] -= 1
        return loss, delta / n

    def loss(self, x, y) -> float:
        """Mean softmax cross-entropy of the logits against labels ``y``."""
        logits = self.forward(x)
        return self._softmax_cross_entropy(logits, self._check_y(y, len(logits)))[0]

    def loss_and_gradients(self, x, y) -> tuple[float, list]:
        """The loss and ``[(dW, db), ...]`` per layer (see the module docstring)."""
        x = self._check_x(x)
        y = self._check_y(y, len(x))
        inputs, pre = self._forward_cache(x)
        loss, delta = self._softmax_cross_entropy(pre[-1], y)
        grads = [None] * len(self.layers)
        for i in range(len(self.layers) - 1, -1, -1):
            w, _ = self.layers[i]
            grads[i] = (delta.T @ inputs[i], delta.sum(axis=0))
            if i:
                delta = (delta @ w) * (pre[i - 1] > 0)
        return loss, grads

    def gradients(self, x, y) -> list:
        """Gradients of :meth:`loss`: a list of ``(dW, db)``, one pair per layer, shaped like ``(W, b)``."""
        return self.loss_and_gradients(x, y)[1]

    def save(self, path) -> None:
        """Write the weights to an ``.npz`` file (``W0, b0, W1, b1, ...``)."""
        arrays = {}
        for i, (w, b) in enumerate(self.layers):
            arrays[f"W{i}"], arrays[f"b{i}"] = w, b
        np.savez(Path(path), **arrays)

    @classmethod
    def load(cls, path, dtype=np.float32) -> "MLP":
        """Read an MLP written by :meth:`save`."""
        with np.load(Path(path)) as data:
            n = sum(1 for k in data.files if k.startswith("W"))
            return cls([(data[f"W{i}"], data[f"b{i}"]) for i in range(n)], dtype=dtype)

    def __repr__(self) -> str:
        sizes = [self.in_features, *self.hidden, self.n_classes]
        return f"MLP({' -> '.join(map(str, sizes))}, dtype={self.dtype.name})"
