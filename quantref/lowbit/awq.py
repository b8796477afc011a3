r"""AWQ (Lin et al., MLSys 2024): activation-aware per-input-channel scaling before group-wise quantization.

A few input channels of a language model carry much larger activations than the rest; the
weights that multiply them matter most for the output.  AWQ protects them without mixed precision:
it scales weight column ``j`` up by :math:`s_j` before quantizing (its relative rounding error
shrinks), and divides the input by :math:`s_j` (folded into the previous layer), which leaves the
float product unchanged, :math:`(x / s)(W \operatorname{diag}(s))^T = x W^T`:

.. math::

    s_j(\alpha) = \frac{\bar a_j^{\,\alpha}}{\sqrt{\max_i \bar a_i^{\,\alpha} \cdot \min_i \bar a_i^{\,\alpha}}},
    \qquad \bar a_j = \operatorname{mean}_t |X_{tj}| ,

    \hat W(\alpha) = Q\big(W \operatorname{diag}(s)\big) \operatorname{diag}(s)^{-1},
    \qquad
    \alpha^* = \arg\min_{\alpha \in \mathcal{A}} \frac{1}{nN} \big\| X W^T - X \hat W(\alpha)^T \big\|_F^2 ,

with :math:`Q` the group-wise round-to-nearest quantizer of :mod:`quantref.lowbit.groupwise` and the
grid :math:`\mathcal{A} = \{0, 0.05, 0.10, \dots, 1\}` (21 values; the reference code's
``n_grid = 20`` stops at 0.95).  :math:`\bar a_j^{\alpha}` is clamped below at :math:`10^{-4}`
before normalising, and the normalisation by :math:`\sqrt{\max \cdot \min}` (as in the reference
code) only centres the scales around 1: a common factor does not change the rounding.  At
:math:`\alpha = 0` every :math:`s_j = 1` exactly, so AWQ includes plain RTN and never does worse
than it on the calibration data; ties go to the smaller :math:`\alpha`.

Not included: the reference code's search of clipping ranges (``auto_clip``) and the joint
scaling of several layers that share an input.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .groupwise import GroupQuantized, check_group_size, check_lowbit_bits, check_symmetric, check_weight, \
    quantize_groupwise
from .hessian import check_calibration_inputs

#: the exponents searched: 0, 0.05, ..., 1
ALPHA_GRID = tuple(i / 20 for i in range(21))
#: lower clamp of mean|x|^alpha (the reference code's)
SCALE_FLOOR = 1e-4


def activation_magnitude(x) -> np.ndarray:
    r""":math:`\bar a_j = \operatorname{mean}_t |X_{tj}|`, float64 ``(K,)``, from inputs ``x`` ``(n, K)``."""
    x = np.asarray(x, dtype=np.float64)
    return np.abs(x.reshape(-1, x.shape[-1])).mean(axis=0)


def awq_scales(act_mean, alpha: float) -> np.ndarray:
    r"""The per-input-channel scales :math:`s(\alpha)` of the module docstring, float64 ``(K,)``."""
    a = np.asarray(act_mean, dtype=np.float64)
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha!r}.")
    s = np.maximum(a ** float(alpha), SCALE_FLOOR)
    return s / np.sqrt(s.max() * s.min())


@dataclass(frozen=True)
class AWQResult:
    """The chosen exponent, its scales, the quantized scaled weight and the error of every exponent."""

    alpha: float                  #: the chosen exponent
    scales: np.ndarray            #: s, float64 (K,): the weight's columns were multiplied by s
    quantized: GroupQuantized     #: Q(W diag(s)): what is stored
    grid: tuple                   #: the exponents tried
    errors: np.ndarray            #: output MSE on the calibration inputs per exponent (via X^T X; rtol ~1e-12)

    def dequantize(self) -> np.ndarray:
        r"""The effective weight :math:`Q(W \operatorname{diag}(s)) \operatorname{diag}(s)^{-1}`, float64 (N, K)."""
        return self.quantized.dequantize() / self.scales

    def fold_input(self, x) -> np.ndarray:
        """``x / s``: the input the stored weight expects (in a model, folded into the previous layer)."""
        return np.asarray(x, dtype=np.float64) / self.scales


def output_mse(x, w, w_hat) -> float:
    r""":math:`\frac{1}{nN}\| X W^T - X \hat W^T \|_F^2` in float64."""
    d = np.asarray(x, dtype=np.float64) @ (np.asarray(w, dtype=np.float64) - w_hat).T
    return float(np.mean(d * d))


def awq_quantize(w, x, bits: int = 4, group_size: int = 128, *, symmetric: bool = False,
                 grid=ALPHA_GRID) -> AWQResult:
    """Search the AWQ exponent on ``grid`` and quantize ``w * s`` group-wise (see the module docstring).

    Parameters
    ----------
    w : array_like, shape (N, K)
        The weight, ``y = x @ w.T``.
    x : array_like, shape (n, K)
        The layer's inputs on calibration data.
    bits, group_size, symmetric
        As for :func:`quantref.lowbit.quantize_groupwise`.
    grid : sequence of float in [0, 1]
        Exponents tried, in order (ties go to the earlier one).

    Returns
    -------
    AWQResult

    Raises
    ------
    TypeError, ValueError
        Bad dtypes, NaN/inf, shape mismatch, ``bits`` or ``group_size`` invalid, an empty grid.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((512, 64)) * np.where(np.arange(64) < 2, 20.0, 1.0)  # 2 salient inputs
    >>> res = awq_quantize(rng.standard_normal((16, 64)), x, bits=3, group_size=32)
    >>> bool(res.alpha > 0 and res.errors.min() < res.errors[0])
    True
    """
    w = check_weight(w)
    x = check_calibration_inputs(x, w.shape[1])
    bits = check_lowbit_bits(bits)
    group_size = check_group_size(group_size, w.shape[1])
    symmetric = check_symmetric(symmetric)
    grid = tuple(float(a) for a in grid)
    if not grid:
        raise ValueError("grid is empty; pass exponents in [0, 1], e.g. quantref.lowbit.awq.ALPHA_GRID.")
    a = activation_magnitude(x)
    # ||X D^T||_F^2 = sum((D C) * D) with C = X^T X: one (K, K) product instead of n rows per exponent
    gram = x.T @ x
    errors, best = [], None
    for alpha in grid:
        s = awq_scales(a, alpha)
        gq = quantize_groupwise(w * s, bits, group_size, symmetric=symmetric)
        d = w - gq.dequantize() / s
        err = float(np.sum((d @ gram) * d)) / (x.shape[0] * w.shape[0])
        errors.append(err)
        if best is None or err < best[0]:
            best = (err, alpha, s, gq)
    _, alpha, s, gq = best
    return AWQResult(alpha, s, gq, grid, np.array(errors))
