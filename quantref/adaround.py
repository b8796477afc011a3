r"""AdaRound (Nagel et al. 2020): learn whether each weight rounds up or down, for one linear layer.

Round-to-nearest minimises each weight's own error, but a layer's output error
:math:`\|W x - \hat W x\|^2` depends on how the errors of the weights *combine* on correlated
inputs.  AdaRound keeps the grid (here symmetric per output channel, scale
``s_c = max|W_c| / (2^(b-1) - 1)`` from :func:`quantref.linear.qparams`, narrow signed grid) and
chooses, weight by weight, between :math:`\lfloor W/s \rfloor` and
:math:`\lfloor W/s \rfloor + 1` by optimising a continuous relaxation:

.. math::

    \tilde W = s \odot \mathrm{clip}\big(\lfloor W / s \rfloor + h(V),\ q_{min},\ q_{max}\big), \qquad
    h(V) = \mathrm{clip}\big(\sigma(V)(\zeta - \gamma) + \gamma,\ 0,\ 1\big),

with the rectified sigmoid's :math:`\zeta = 1.1, \gamma = -0.1` (so ``h`` reaches 0 and 1 exactly),
``V`` initialised so that :math:`h(V) = W/s - \lfloor W/s \rfloor` (the soft weight starts at
the float weight), and the loss

.. math::

    \mathcal L(V) = \frac{R(\tilde W)}{R(W_{nearest})}
    \; + \; \lambda \sum_{ij} \big(1 - |2 h(V_{ij}) - 1|^{\beta}\big), \qquad
    R(\hat W) = \frac{1}{N}\sum_{n=1}^N \big\|W x_n - \hat W x_n\big\|^2,

the second term pushing every ``h`` to 0 or 1.  The output error ``R`` is measured in units of
the round-to-nearest error (our choice: the paper uses the plain mean squared error and relies on
normalised activations; without the unit, the balance set by :math:`\lambda = 0.01` would change
with the scale of the layer's inputs, and on inputs of variance ~10 the regularizer is too weak to
make ``h`` binary).  It is off during a warm start (the first 20 % of
the iterations); then :math:`\beta` falls linearly from 20 to 2 (a large :math:`\beta` only
touches ``h`` near 0 and 1; a small one pulls everything).  Adam minimises :math:`\mathcal L`, and
the final rounding is up where :math:`V \ge 0` (:math:`h \ge 1/2`).

The output error needs only the Gram matrix :math:`G = X^T X / N` of the calibration inputs,
:math:`R = \mathrm{tr}\big((W - \tilde W) G (W - \tilde W)^T\big)` with gradient
:math:`\partial R / \partial \tilde W = -2 (W - \tilde W) G`, so every iteration uses all the
calibration data exactly (no mini-batch sampling: the result is deterministic).
"""
from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np
from tqdm.auto import tqdm

from ._checks import as_float_array, check_bits
from .linear import dequantize, integer_grid, minmax, qparams, quantize, round_to_integer, storage_dtype
from .qat.adam import Adam

ZETA, GAMMA = 1.1, -0.1


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * v))          # = 1 / (1 + e^-v), without overflow


def rectified_sigmoid(v) -> np.ndarray:
    r"""``h(V) = clip(sigmoid(V) * (zeta - gamma) + gamma, 0, 1)`` with zeta = 1.1, gamma = -0.1.

    Examples
    --------
    >>> rectified_sigmoid(np.array([0.0, 50.0, -50.0]))      # 0.5 * 1.2 - 0.1 = 0.5 ; saturates at 1 and 0
    array([0.5, 1. , 0. ])
    """
    return np.clip(_sigmoid(np.asarray(v, dtype=np.float64)) * (ZETA - GAMMA) + GAMMA, 0.0, 1.0)


def initial_v(rest) -> np.ndarray:
    r"""``V`` with ``h(V) = rest`` for ``rest`` in [0, 1).

    :math:`V = \log(p / (1 - p))` with :math:`p = (r - \gamma)/(\zeta - \gamma)`.

    Examples
    --------
    >>> round(float(rectified_sigmoid(initial_v(0.3))), 12)
    0.3
    """
    p = (np.asarray(rest, dtype=np.float64) - GAMMA) / (ZETA - GAMMA)   # in [1/12, 11/12): finite logit
    return np.log(p / (1.0 - p))


def rounding_regularizer(h, beta: float) -> float:
    r""":math:`\sum (1 - |2h - 1|^\beta)`: 0 when every ``h`` is 0 or 1, largest at ``h = 1/2``."""
    return float(np.sum(1.0 - np.abs(2.0 * np.asarray(h) - 1.0) ** beta))


def rectified_sigmoid_grad(v) -> np.ndarray:
    r"""The derivative of :func:`rectified_sigmoid`, :math:`dh/dV`, elementwise.

    .. math::

        \frac{dh}{dV} = (\zeta - \gamma)\,\sigma(V)\,\big(1 - \sigma(V)\big)
        \quad\text{where } 0 < \sigma(V)(\zeta - \gamma) + \gamma < 1, \qquad 0 \text{ where } h \text{ is clipped}.

    Examples
    --------
    >>> rectified_sigmoid_grad(np.array([0.0, 50.0, -50.0]))   # 1.2 * 1/4 ; clipped at 1 and at 0
    array([0.3, 0. , 0. ])
    """
    sg = _sigmoid(np.asarray(v, dtype=np.float64))
    h_raw = sg * (ZETA - GAMMA) + GAMMA
    return (ZETA - GAMMA) * sg * (1.0 - sg) * ((h_raw > 0.0) & (h_raw < 1.0))


def rounding_regularizer_grad(v, beta: float) -> np.ndarray:
    r"""The gradient of :math:`\sum (1 - |2h(V) - 1|^\beta)` with respect to ``V``, elementwise.

    .. math::

        \frac{\partial}{\partial V}\big(1 - |2h - 1|^\beta\big)
        = -2\beta\,|2h - 1|^{\beta - 1}\operatorname{sign}(2h - 1)\;\frac{dh}{dV},

    with :math:`dh/dV` from :func:`rectified_sigmoid_grad` (0 where ``h`` is clipped to 0 or 1).

    Examples
    --------
    >>> v = np.log(17 / 7)                      # h(v) = 3/4, h(-v) = 1/4: -2 * 2 * (+-1/2) * 1.2 * (17/24) * (7/24)
    >>> np.round(rounding_regularizer_grad(np.array([v, -v]), 2.0), 6)     # pushes h up above 1/2, down below
    array([-0.495833,  0.495833])
    """
    v = np.asarray(v, dtype=np.float64)
    u = 2.0 * rectified_sigmoid(v) - 1.0
    return -2.0 * beta * np.abs(u) ** (beta - 1.0) * np.sign(u) * rectified_sigmoid_grad(v)


def floor_codes(w, scale) -> np.ndarray:
    r""":math:`\lfloor W / s \rfloor` with one scale per output channel (row of ``w``), as float64."""
    s = np.asarray(scale, dtype=np.float64)[:, None]
    return round_to_integer(np.asarray(w, dtype=np.float64) / s, "floor")


def soft_weight(w, scale, v, qmin: int, qmax: int) -> np.ndarray:
    r"""The soft-quantized weight :math:`\tilde W = s \odot \mathrm{clip}(\lfloor W/s \rfloor + h(V), q_{min}, q_{max})`.

    ``scale`` holds one step per output channel (row of ``w``).

    Examples
    --------
    >>> soft_weight(np.array([[0.3, -0.3]]), np.array([0.2]), np.array([[0.0, 50.0]]), -7, 7)   # h = 1/2 ; h = 1
    array([[ 0.3, -0.2]])
    """
    s = np.asarray(scale, dtype=np.float64)[:, None]
    return s * np.clip(floor_codes(w, scale) + rectified_sigmoid(v), qmin, qmax)


def hard_rounding(w, scale, v, qmin: int, qmax: int) -> np.ndarray:
    r"""The final integer codes :math:`\mathrm{clip}(\lfloor W/s \rfloor + [V \ge 0],\ q_{min},\ q_{max})`, int64.

    Up where :math:`V \ge 0` (:math:`h \ge 1/2`), down elsewhere.

    Examples
    --------
    >>> hard_rounding(np.array([[0.3, -0.3, 1.5]]), np.array([0.2]), np.array([[0.0, -0.1, 3.0]]), -7, 7)
    array([[ 2, -2,  7]])
    """
    codes = floor_codes(w, scale) + (np.asarray(v) >= 0)
    return np.clip(codes, qmin, qmax).astype(np.int64)


def beta_at(step: int, iters: int, warm_start: float = 0.2, beta=(20.0, 2.0)):
    """The annealed exponent at ``step`` (0-based), or ``None`` during the warm start (regularizer off).

    Examples
    --------
    >>> [beta_at(t, 10) for t in (0, 1, 2, 6, 9)]     # warm start 2 steps, then 20 -> 2 over 8 steps
    [None, None, 20.0, 11.0, 4.25]
    """
    start = int(round(warm_start * iters))
    if step < start:
        return None
    b0, b1 = beta
    rel = (step - start) / max(iters - start, 1)
    return b1 + (b0 - b1) * (1.0 - rel)


def output_error(w, w_hat, x) -> float:
    r"""Output error of a linear layer: :math:`\frac1N \sum_n \|(W - \hat W) x_n\|^2` over the rows ``x_n`` of ``x``."""
    d = np.asarray(w, dtype=np.float64) - np.asarray(w_hat, dtype=np.float64)
    return float(np.mean(np.sum((np.asarray(x, dtype=np.float64) @ d.T) ** 2, axis=1)))


class AdaRoundLoss:
    """The relaxed loss of the module docstring and its gradient with respect to ``V``.

    Parameters
    ----------
    w : ndarray (out, in)
        Float weights.
    gram : ndarray (in, in)
        :math:`X^T X / N` of the calibration inputs.
    scale : ndarray (out,)
        Per-channel scales.
    qmin, qmax : int
        The integer grid.
    lam : float
        Weight :math:`\\lambda` of the rounding regularizer.
    unit : float
        The output error the reconstruction term is divided by (round-to-nearest's).
    """

    def __init__(self, w, gram, scale, qmin, qmax, lam, unit=1.0):
        self.w, self.gram, self.lam = w, gram, lam
        self.unit = unit if unit > 0 else 1.0
        self.s = scale[:, None]
        self.floor = round_to_integer(w / self.s, "floor")
        self.qmin, self.qmax = qmin, qmax

    def soft_weight(self, v) -> np.ndarray:
        return self.s * np.clip(self.floor + rectified_sigmoid(v), self.qmin, self.qmax)

    def __call__(self, v, beta):
        """``(R / unit, regularizer, dL/dV)``; ``beta=None`` leaves the regularizer out."""
        sg = _sigmoid(v)
        h_raw = sg * (ZETA - GAMMA) + GAMMA
        h = np.clip(h_raw, 0.0, 1.0)
        q = self.floor + h
        d = self.w - self.s * np.clip(q, self.qmin, self.qmax)
        dg = d @ self.gram
        rec = float(np.sum(dg * d)) / self.unit
        grad_h = (-2.0 / self.unit) * dg * self.s * ((q >= self.qmin) & (q <= self.qmax))
        reg = 0.0
        if beta is not None:
            u = 2.0 * h - 1.0
            reg = self.lam * rounding_regularizer(h, beta)
            grad_h = grad_h - self.lam * 2.0 * beta * np.abs(u) ** (beta - 1.0) * np.sign(u)
        dh_dv = (ZETA - GAMMA) * sg * (1.0 - sg) * ((h_raw > 0.0) & (h_raw < 1.0))
        return rec, reg, grad_h * dh_dv


class AdaRoundResult(NamedTuple):
    """Codes, parameters and errors of :func:`adaround_layer` (errors on the calibration inputs)."""

    codes: np.ndarray            #: AdaRound integer codes, int8 (up to 8 bits), shape of W
    scale: np.ndarray            #: per-output-channel scales, float64 (out,)
    zero_point: np.ndarray       #: zeros, int64 (out,)
    weight: np.ndarray           #: dequantized AdaRound weights, float64
    nearest_codes: np.ndarray    #: round-to-nearest codes on the same grid
    nearest_weight: np.ndarray   #: dequantized round-to-nearest weights
    error: float                 #: output error of the AdaRound weights
    nearest_error: float         #: output error of round-to-nearest
    history: list                #: (step, R / R_nearest, regularizer, beta) every 100 steps


def _positive(value, name, example, integer=False):
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, kind) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive {'integer' if integer else 'number'}, got {value!r}; "
                         f"e.g. {name}={example}.")
    return int(value) if integer else float(value)


def adaround_layer(w, x, bits: int = 4, *, iters: int = 2000, lr: float = 1e-2, lam: float = 0.01,
                   warm_start: float = 0.2, beta=(20.0, 2.0), narrow_range: bool = True,
                   progress: bool = True, scale=None) -> AdaRoundResult:
    """Round the weights of one linear layer with AdaRound (module docstring).

    Parameters
    ----------
    w : array_like (out, in)
        Float weights of the layer ``y = x W^T``.
    x : array_like (N, in)
        Calibration inputs of the layer (e.g. the previous layer's activations on a few hundred samples).
    bits : int
        Weight bit width; the grid is signed, narrow by default (``[-(2^(b-1) - 1), 2^(b-1) - 1]``).
    iters, lr : int, float
        Adam iterations and step size.
    lam : float
        Weight of the rounding regularizer (0.01 as in the paper).
    warm_start : float in [0, 1)
        Fraction of the iterations without the regularizer.
    beta : (float, float)
        Start and end of the annealed exponent.
    narrow_range : bool
        Narrow signed grid (TFLite weights) or full.
    progress : bool
        Show a tqdm bar over the iterations.
    scale : array_like (out,), optional
        Per-output-channel steps to round on instead of ``max|W_c| / (2^(b-1) - 1)`` (e.g. a clipped
        scale from an MSE search); weights beyond the grid are then clipped to it.

    Returns
    -------
    AdaRoundResult

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(512, 16)) @ rng.normal(size=(16, 16))        # correlated inputs
    >>> res = adaround_layer(rng.normal(size=(8, 16)), x, bits=3, iters=500, progress=False)
    >>> bool(res.error < 0.7 * res.nearest_error)                         # 51.1 vs 93.2
    True
    """
    bits = check_bits(bits)
    w = as_float_array(w, "w")
    x = as_float_array(x, "x")
    if w.ndim != 2:
        raise ValueError(f"w must be a 2-D weight matrix (out, in), got shape {w.shape}.")
    if x.ndim != 2 or x.shape[1] != w.shape[1] or len(x) == 0:
        raise ValueError(f"x must hold calibration inputs of shape (N, {w.shape[1]}) with N >= 1, got {x.shape}; "
                         f"the layer computes x @ w.T.")
    iters = _positive(iters, "iters", 2000, integer=True)
    lr = _positive(lr, "lr", 1e-2)
    if isinstance(lam, bool) or not isinstance(lam, numbers.Real) or not np.isfinite(lam) or lam < 0:
        raise ValueError(f"lam must be a number >= 0, got {lam!r}; e.g. lam=0.01.")
    if isinstance(warm_start, bool) or not isinstance(warm_start, numbers.Real) or not 0 <= warm_start < 1:
        raise ValueError(f"warm_start must be a fraction in [0, 1), got {warm_start!r}; e.g. warm_start=0.2.")

    grid = dict(signed=True, narrow_range=narrow_range)
    qmin, qmax = integer_grid(bits, **grid)
    if scale is None:
        s, z = qparams(*minmax(w, axis=0), bits, symmetric=True, narrow_range=narrow_range)
    else:
        s = as_float_array(scale, "scale")
        if s.shape != (w.shape[0],) or not np.all(s > 0):
            raise ValueError(f"scale must hold one positive step per output channel, shape ({w.shape[0]},), "
                             f"got shape {s.shape}; e.g. scale=np.abs(w).max(axis=1) / (2**(bits - 1) - 1).")
        z = np.zeros(w.shape[0], dtype=np.int64)
    nearest = quantize(w, s, z, bits, axis=0, **grid)
    nearest_weight = dequantize(nearest, s, z, axis=0)
    nearest_error = output_error(w, nearest_weight, x)
    loss = AdaRoundLoss(w, x.T @ x / len(x), s, qmin, qmax, float(lam), unit=nearest_error)
    v = initial_v(w / s[:, None] - loss.floor)
    opt = Adam([v], lr=lr)
    history = []
    bar = tqdm(range(iters), desc=f"AdaRound {bits} bits", disable=not progress)
    for t in bar:
        b = beta_at(t, iters, warm_start, beta)
        rec, reg, grad = loss(v, b)
        opt.step([grad])
        if t % 100 == 0 or t == iters - 1:
            history.append((t, rec, reg, b))
            bar.set_postfix(rec=f"{rec:.4g}", reg=f"{reg:.4g}")

    codes = np.clip(loss.floor + (v >= 0), qmin, qmax).astype(storage_dtype(bits, True))
    weight = dequantize(codes, s, z, axis=0)
    return AdaRoundResult(codes, s, z, weight, nearest, nearest_weight, output_error(w, weight, x),
                          nearest_error, history)
