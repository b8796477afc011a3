r"""Adam (Kingma and Ba 2015), in place on a list of NumPy arrays.

For every parameter :math:`\theta` with gradient :math:`g`, at step :math:`t = 1, 2, \dots`:

.. math::

    m \leftarrow \beta_1 m + (1 - \beta_1) g, \qquad v \leftarrow \beta_2 v + (1 - \beta_2) g^2,

    \theta \leftarrow \theta - \eta\,\frac{m / (1 - \beta_1^t)}{\sqrt{v / (1 - \beta_2^t)} + \epsilon},

with :math:`\beta_1 = 0.9`, :math:`\beta_2 = 0.999`, :math:`\epsilon = 10^{-8}` by default.
Used by quantization-aware training (:mod:`quantref.qat.train`) and AdaRound
(:mod:`quantref.adaround`).
"""
from __future__ import annotations

import numbers

import numpy as np


class Adam:
    """Adam on a fixed list of float arrays, updated in place by :meth:`step`.

    Examples
    --------
    >>> theta = np.array([1.0])
    >>> opt = Adam([theta], lr=0.1)
    >>> opt.step([np.array([3.0])])    # first step moves by lr * sign(g) (m/v bias-corrected: 3 / 3)
    >>> theta
    array([0.9])
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8):
        if not isinstance(lr, numbers.Real) or isinstance(lr, bool) or not np.isfinite(lr) or lr <= 0:
            raise ValueError(f"lr must be a positive number, got {lr!r}; e.g. lr=1e-3.")
        b1, b2 = betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"betas must lie in [0, 1), got {betas!r}; e.g. betas=(0.9, 0.999).")
        self.params = list(params)
        for i, p in enumerate(self.params):
            if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
                raise TypeError(f"params[{i}] must be a float NumPy array (updated in place), got "
                                f"{type(p).__name__}.")
        self.lr, self.b1, self.b2, self.eps = float(lr), float(b1), float(b2), float(eps)
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def step(self, grads) -> None:
        """One update of every parameter with its gradient (same order and shapes as ``params``)."""
        grads = list(grads)
        if len(grads) != len(self.params):
            raise ValueError(f"got {len(grads)} gradients for {len(self.params)} parameters; pass one per parameter.")
        self.t += 1
        c1, c2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            if g.shape != p.shape:
                raise ValueError(f"a gradient has shape {g.shape} but its parameter has shape {p.shape}.")
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            v += (1 - self.b2) * g * g
            p -= self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)
