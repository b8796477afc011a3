r"""An MLP with fake quantization in its forward pass, and the straight-through backward pass.

Layer :math:`l` (weights :math:`W_l` of shape ``(out, in)``, bias :math:`b_l`) computes

.. math::

    z_l = \mathrm{fq}_a(a_{l-1})\,\mathrm{fq}_w(W_l)^T + b_l, \qquad
    a_l = \max(z_l, 0)\ \ (l < L), \qquad \text{logits} = z_L,

where

* :math:`\mathrm{fq}_w` quantizes the weights **symmetrically per output channel** on the narrow
  signed grid ``[-(2^(b-1) - 1), 2^(b-1) - 1]`` (TFLite's int8 weights;
  ``s_c = max|W_c| / (2^(b-1) - 1)``, zero point 0; at 2 bits the weights are ternary);
* :math:`\mathrm{fq}_a` quantizes each layer's input **asymmetrically per tensor** on the unsigned
  grid ``[0, 2^b - 1]``, with a range from an observer (moving average of min/max in training,
  any calibrator after training, see :mod:`quantref.calibration`);
* biases and logits stay in floating point (in an integer deployment the bias is int32 with
  scale ``s_a s_w``, fine enough to be exact here, and the classifier only needs the argmax).

The loss is the mean softmax cross-entropy, as in :mod:`quantref.zoo.mlp`.  Backward is exact
backpropagation in which each :math:`\mathrm{fq}` is replaced by the straight-through estimator of
:func:`~quantref.qat.fake_quant.fake_quantize_backward`; the scales are treated as constants
(as PyTorch does with observer outputs).  With :math:`\delta_L = (\mathrm{softmax}(z_L) - \mathrm{onehot}(y))/n`:

.. math::

    \frac{\partial \mathcal L}{\partial W_l} = (\delta_l^T\, \mathrm{fq}_a(a_{l-1})) \odot m_{W_l}, \qquad
    \frac{\partial \mathcal L}{\partial b_l} = \textstyle\sum_i \delta_{l,i}, \qquad
    \delta_{l-1} = \big((\delta_l\, \mathrm{fq}_w(W_l)) \odot m_{a_{l-1}}\big) \odot [z_{l-1} > 0],

with :math:`m` the STE masks (1 where the rounded value lies inside the grid).
"""
from __future__ import annotations

import numpy as np

from .._checks import as_float_array, check_bits
from ..calibration import MovingAverageMinMaxObserver, Observer
from ..linear import integer_grid, minmax, qparams
from .fake_quant import fake_quantize_backward, fake_quantize_forward


def layers_of(mlp) -> list:
    """The ``(W, b)`` pairs of an MLP object (anything with ``.layers``) or of a list of pairs, as float64 copies."""
    layers = getattr(mlp, "layers", mlp)
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__len__") or len(layers) == 0:
        raise TypeError(f"mlp must be an MLP (with .layers) or a non-empty list of (W, b) pairs, got "
                        f"{type(mlp).__name__}.")
    out = []
    for i, pair in enumerate(layers):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"layer {i} must be a pair (W, b), got {type(pair).__name__}.")
        w = as_float_array(pair[0], f"layer {i} W").copy()
        b = as_float_array(pair[1], f"layer {i} b").copy()
        if w.ndim != 2 or b.shape != (w.shape[0],):
            raise ValueError(f"layer {i}: W must be (out, in) and b (out,), got {w.shape} and {b.shape}.")
        if out and out[-1][0].shape[0] != w.shape[1]:
            raise ValueError(f"layer {i} takes {w.shape[1]} inputs but layer {i - 1} gives {out[-1][0].shape[0]}.")
        out.append((w, b))
    return out


def float_layer_inputs(layers, x) -> list:
    """Each layer's input in the float network: ``[X, relu(z_1), ..., relu(z_{L-1})]``."""
    a = np.asarray(x, dtype=np.float64)
    inputs = []
    for i, (w, b) in enumerate(layers):
        inputs.append(a)
        z = a @ w.T + b
        a = np.maximum(z, 0.0) if i < len(layers) - 1 else z
    return inputs


def float_logits(layers, x) -> np.ndarray:
    """Logits of the float network (no quantization)."""
    w, b = layers[-1]
    return float_layer_inputs(layers, x)[-1] @ w.T + b


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    r"""Mean softmax cross-entropy and its gradient :math:`(\mathrm{softmax}(z) - \mathrm{onehot}(y)) / n`."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_z = np.log(np.exp(shifted).sum(axis=1))
    n = len(y)
    loss = float(np.mean(log_z - shifted[np.arange(n), y]))
    delta = np.exp(shifted - log_z[:, None])
    delta[np.arange(n), y] -= 1
    return loss, delta / n


class FakeQuantMLP:
    """A ReLU MLP whose weights and layer inputs are fake-quantized (module docstring).

    Parameters
    ----------
    mlp : MLP or list of (W, b)
        The float model (copied, in float64; the original is not modified).
    w_bits, a_bits : int
        Bit widths of the weights and of the activations (layer inputs).
    act_observers : list of Observer, optional
        One observer per layer input; default a fresh
        :class:`~quantref.calibration.MovingAverageMinMaxObserver` each (PyTorch's QAT default).
    weight_ranges : list of (rmin, rmax), optional
        Fixed per-channel weight ranges (post-training calibration, or QAT started from it);
        default ``minmax`` of the current weights at every forward pass.

    Attributes
    ----------
    layers : list of (W, b) float64 arrays
        The latent float weights that training updates.
    history : list of float
        Mean training loss per epoch (filled by :func:`~quantref.qat.train.qat_finetune`).
    """

    def __init__(self, mlp, w_bits: int, a_bits: int, *, act_observers=None, weight_ranges=None):
        self.layers = layers_of(mlp)
        self.w_bits = check_bits(w_bits)
        self.a_bits = check_bits(a_bits)
        n = len(self.layers)
        if act_observers is None:
            act_observers = [MovingAverageMinMaxObserver() for _ in range(n)]
        act_observers = list(act_observers)
        if len(act_observers) != n or not all(isinstance(o, Observer) for o in act_observers):
            raise TypeError(f"act_observers must be a list of {n} quantref.calibration observers, one per layer input.")
        self.act_observers = act_observers
        if weight_ranges is not None and len(weight_ranges) != n:
            raise ValueError(f"weight_ranges must hold one (rmin, rmax) per layer ({n}), got {len(weight_ranges)}.")
        self.weight_ranges = weight_ranges
        self._act_qparams = [None] * n
        self.history = []

    # ------------------------------------------------------------------ quantizers
    @property
    def weight_grid(self) -> tuple[int, int]:
        """``(qmin, qmax)`` of the weights: narrow signed."""
        return integer_grid(self.w_bits, signed=True, narrow_range=True)

    @property
    def act_grid(self) -> tuple[int, int]:
        """``(qmin, qmax)`` of the activations: unsigned."""
        return integer_grid(self.a_bits)

    def weight_qparams(self, i: int):
        """Per-output-channel symmetric ``(scale, zero_point)`` of layer ``i``'s weights."""
        lo, hi = self.weight_ranges[i] if self.weight_ranges is not None else minmax(self.layers[i][0], axis=0)
        return qparams(lo, hi, self.w_bits, symmetric=True, narrow_range=True)

    def act_qparams(self, i: int):
        """Per-tensor asymmetric ``(scale, zero_point)`` of layer ``i``'s input, from its observer.

        Cached until the observer sees another batch (the MSE and entropy searches are not free).
        """
        obs = self.act_observers[i]
        cached = self._act_qparams[i]
        if cached is None or cached[0] != obs.n_batches:
            self._act_qparams[i] = (obs.n_batches, obs.qparams(self.a_bits))
        return self._act_qparams[i][1]

    def quantized_weight(self, i: int) -> np.ndarray:
        s, z = self.weight_qparams(i)
        return fake_quantize_forward(self.layers[i][0], s, z, *self.weight_grid, axis=0)

    # ------------------------------------------------------------------ passes
    def _forward(self, x, observe: bool):
        a = as_float_array(x, "X")
        if a.ndim != 2 or a.shape[1] != self.layers[0][0].shape[1]:
            raise ValueError(f"X has shape {a.shape}; the network takes (n_samples, {self.layers[0][0].shape[1]}).")
        cache = []
        for i, (w, b) in enumerate(self.layers):
            if observe:
                self.act_observers[i].update(a)
            sa, za = self.act_qparams(i)
            sw, zw = self.weight_qparams(i)
            aq = fake_quantize_forward(a, sa, za, *self.act_grid)
            wq = fake_quantize_forward(w, sw, zw, *self.weight_grid, axis=0)
            z = aq @ wq.T + b
            cache.append((a, aq, (sa, za), wq, (sw, zw), z))
            a = np.maximum(z, 0.0) if i < len(self.layers) - 1 else z
        return a, cache

    def forward(self, x, *, observe: bool = False) -> np.ndarray:
        """Logits of the fake-quantized network; ``observe=True`` first feeds each layer input to its observer."""
        return self._forward(x, observe)[0]

    def predict(self, x) -> np.ndarray:
        return np.argmax(self.forward(x), axis=1)

    def accuracy(self, x, y) -> float:
        """Fraction of samples classified correctly (observers frozen)."""
        return float(np.mean(self.predict(x) == np.asarray(y)))

    def loss_and_gradients(self, x, y, *, observe: bool = False) -> tuple[float, list]:
        """Loss and straight-through gradients ``[(dW, db), ...]`` of the latent float weights."""
        logits, cache = self._forward(x, observe)
        y = np.asarray(y)
        if y.shape != (logits.shape[0],) or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"y must hold one integer label per row of X, shape ({logits.shape[0]},), got "
                             f"{y.dtype} {y.shape}.")
        loss, delta = softmax_cross_entropy(logits, y)
        grads = [None] * len(self.layers)
        for i in range(len(self.layers) - 1, -1, -1):
            a, aq, (sa, za), wq, (sw, zw), _ = cache[i]
            w = self.layers[i][0]
            dw = fake_quantize_backward(delta.T @ aq, w, sw, zw, *self.weight_grid, axis=0)
            grads[i] = (dw, delta.sum(axis=0))
            if i:
                da = fake_quantize_backward(delta @ wq, a, sa, za, *self.act_grid)
                delta = da * (cache[i - 1][5] > 0)
        return loss, grads

    def __repr__(self) -> str:
        sizes = [self.layers[0][0].shape[1]] + [w.shape[0] for w, _ in self.layers]
        return f"FakeQuantMLP({' -> '.join(map(str, sizes))}, W{self.w_bits}A{self.a_bits})"
