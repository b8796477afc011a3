r"""Batch-normalization folding: merge an inference-mode BatchNorm into the convolution before it.

At inference a batch normalization after a convolution is a fixed affine map per output channel
:math:`c`, with the running mean :math:`\mu_c` and variance :math:`\sigma_c^2` of training:

.. math::

    \mathrm{BN}(y)_c = \gamma_c \frac{y_c - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}} + \beta_c,
    \qquad y_c = W_c * x + b_c .

Both maps are affine, so their composition is one convolution with

.. math::

    W'_c = W_c \cdot \frac{\gamma_c}{\sqrt{\sigma_c^2 + \epsilon}}, \qquad
    b'_c = (b_c - \mu_c) \frac{\gamma_c}{\sqrt{\sigma_c^2 + \epsilon}} + \beta_c,

and :math:`\mathrm{BN}(W * x + b) = W' * x + b'` for every input.  Quantization then sees one
weight tensor per layer (and per-channel scales absorb the different :math:`\gamma_c` of each
channel); integer inference never runs a batch norm.  (Jacob et al. 2018, section 3.2; PyTorch's
``torch.nn.utils.fusion.fuse_conv_bn_weights``.)

In float64 the folded and unfolded layers agree to rounding error: both compute the same
affine map with a few more or fewer roundings, a relative difference of a few units of
:math:`2^{-53}` times the size of the terms.
"""
from __future__ import annotations

import numbers

import numpy as np

from .._checks import as_float_array


def fold_batch_norm(weight, bias, gamma, beta, running_mean, running_var, eps: float = 1e-5):
    r"""Fold ``BN(conv(x))`` into one convolution: ``(W', b')`` (module docstring).

    Parameters
    ----------
    weight : array_like of float, shape (c_out, ...)
        The convolution's weights, output channel first (``(c_out, c_in, k, k)``, or
        ``(out, in)`` for a linear layer).
    bias : array_like of float, shape (c_out,), or None
        The convolution's bias (``None``: zeros, as for a convolution without bias before a BN).
    gamma, beta : array_like of float, shape (c_out,)
        The BatchNorm's scale and shift.
    running_mean, running_var : array_like of float, shape (c_out,)
        Its running statistics (``running_var >= 0``).
    eps : float
        The BatchNorm's epsilon (PyTorch's default 1e-5), ``> 0``.

    Returns
    -------
    weight_folded : ndarray of float64, shape of ``weight``
        :math:`W'_c = W_c \gamma_c / \sqrt{\sigma^2_c + \epsilon}`.
    bias_folded : ndarray of float64, shape (c_out,)
        :math:`b'_c = (b_c - \mu_c)\gamma_c / \sqrt{\sigma^2_c + \epsilon} + \beta_c`.

    Examples
    --------
    >>> w, b = fold_batch_norm(np.ones((1, 1, 1, 1)), [1.0], gamma=[2.0], beta=[0.5], running_mean=[3.0],
    ...                        running_var=[4.0 - 1e-5])         # sqrt(var + eps) = 2: factor 2 / 2 = 1
    >>> float(w.ravel()[0]), float(b[0])                          # (1 - 3) * 1 + 0.5
    (1.0, -1.5)
    """
    w = as_float_array(weight, "weight")
    if w.ndim < 2:
        raise ValueError(f"weight must have the output channel first and at least 2 dimensions, got shape {w.shape}.")
    c_out = w.shape[0]
    b = np.zeros(c_out) if bias is None else as_float_array(bias, "bias")
    params = {"bias": b}
    for name, value in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean),
                        ("running_var", running_var)):
        params[name] = as_float_array(value, name)
    for name, value in params.items():
        if value.shape != (c_out,):
            raise ValueError(f"{name} has shape {value.shape}, but weight has {c_out} output channels; "
                             f"pass one value per output channel, shape ({c_out},).")
    if np.any(params["running_var"] < 0):
        raise ValueError("running_var must be >= 0 (a variance); check that it is not a standard deviation "
                         "or a log-variance.")
    if isinstance(eps, (bool, np.bool_)) or not isinstance(eps, numbers.Real) or not np.isfinite(eps) or eps <= 0:
        raise ValueError(f"eps must be a positive number, got {eps!r}; PyTorch's default is eps=1e-5.")
    factor = params["gamma"] / np.sqrt(params["running_var"] + float(eps))
    weight_folded = w * factor.reshape((c_out,) + (1,) * (w.ndim - 1))
    bias_folded = (b - params["running_mean"]) * factor + params["beta"]
    return weight_folded, bias_folded
