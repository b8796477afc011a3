r"""Fake quantization for training: the forward pass and PyTorch's straight-through backward.

Forward (PyTorch ``fake_quantize_per_tensor_affine`` / ``_per_channel_affine``):

.. math::

    \tilde x = s\,\big(\mathrm{clip}(z + \mathrm{round}(x / s),\ q_{min},\ q_{max}) - z\big)

with ``round`` half to even, computed by :func:`quantref.linear.fake_quantize`.

Backward: rounding has derivative 0 almost everywhere, so training would stop; the
straight-through estimator (STE) passes the gradient through unchanged where the value was not
clipped and blocks it where it was:

.. math::

    \frac{\partial \mathcal L}{\partial x} = \frac{\partial \mathcal L}{\partial \tilde x}
    \cdot \big[\,q_{min} \le z + \mathrm{round}(x / s) \le q_{max}\,\big].

The mask tests the *rounded* value, as PyTorch's ``FakeQuantPerTensorAffine.cpp`` does: with
``s = 1, z = 0`` and grid ``[-2, 1]``, ``x = 1.4`` rounds to 1 (gradient passes) but ``x = 1.5``
rounds half-to-even to 2 (blocked), and ``x = -2.5`` rounds to -2 (passes).  (NVIDIA's
pytorch-quantization masks on ``|x| <= amax`` instead.)

``qmin, qmax`` must be the grid of some b-bit quantizer (2 to 16 bits, signed or unsigned,
full or narrow, see :func:`quantref.linear.integer_grid`) -- every PyTorch configuration is,
e.g. ``(0, 127)`` for ``reduce_range`` is the 7-bit unsigned grid.
"""
from __future__ import annotations

import numbers
from functools import lru_cache

import numpy as np

from .._checks import as_float_array
from ..linear import clipping_mask, fake_quantize, integer_grid


@lru_cache(maxsize=None)
def _grid_table() -> dict:
    table = {}
    for bits in range(2, 17):
        for signed in (False, True):
            for narrow in (False, True):
                table.setdefault(integer_grid(bits, signed=signed, narrow_range=narrow),
                                 dict(bits=bits, signed=signed, narrow_range=narrow))
    return table


def grid_arguments(qmin, qmax) -> dict:
    """The ``bits``, ``signed``, ``narrow_range`` of :mod:`quantref.linear` whose grid is ``[qmin, qmax]``.

    Examples
    --------
    >>> grid_arguments(0, 255)
    {'bits': 8, 'signed': False, 'narrow_range': False}
    >>> grid_arguments(-127, 127)
    {'bits': 8, 'signed': True, 'narrow_range': True}
    """
    for name, v in (("qmin", qmin), ("qmax", qmax)):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{name} must be an integer, got {v!r}; take it from quantref.linear.integer_grid(bits).")
    key = (int(qmin), int(qmax))
    table = _grid_table()
    if key not in table:
        raise ValueError(
            f"qmin, qmax = {key} is not the integer grid of a 2- to 16-bit quantizer; use "
            f"quantref.linear.integer_grid(bits, signed=..., narrow_range=...), e.g. (0, 255) or (-128, 127)."
        )
    return dict(table[key])


def fake_quantize_forward(x, scale, zero_point, qmin: int, qmax: int, *, axis=None) -> np.ndarray:
    """Quantize then dequantize onto the grid ``[qmin, qmax]`` (module docstring, forward).

    Parameters
    ----------
    x : array_like
        Real values, finite.
    scale, zero_point : scalar or ndarray
        Per tensor (scalars) or per channel along ``axis`` (arrays of shape ``(x.shape[axis],)``).
    qmin, qmax : int
        The integer grid, e.g. ``integer_grid(4)`` = ``(0, 15)``.
    axis : int or None
        Channel axis for per-channel parameters.

    Returns
    -------
    ndarray of float64, shape of ``x``.

    Examples
    --------
    >>> fake_quantize_forward([0.26, 1.0, -0.3], scale=0.1, zero_point=2, qmin=0, qmax=15)
    array([ 0.3,  1. , -0.2])
    """
    grid = grid_arguments(qmin, qmax)
    return fake_quantize(x, scale, zero_point, axis=axis, **grid)


def ste_mask(x, scale, zero_point, qmin: int, qmax: int, *, axis=None) -> np.ndarray:
    """``True`` where ``zero_point + round(x / scale)`` lies in ``[qmin, qmax]`` (the gradient passes).

    Examples
    --------
    >>> ste_mask([1.4, 1.5, -2.5, -2.6], scale=1.0, zero_point=0, qmin=-2, qmax=1)
    array([ True, False,  True, False])
    """
    grid = grid_arguments(qmin, qmax)
    return ~clipping_mask(x, scale, zero_point, axis=axis, **grid)


def fake_quantize_backward(grad, x, scale, zero_point, qmin: int, qmax: int, *, axis=None) -> np.ndarray:
    """Straight-through gradient: ``grad`` where the forward pass did not clip, 0 where it did.

    Parameters
    ----------
    grad : array_like
        Gradient of the loss with respect to the fake-quantized output, shape of ``x``.
    x, scale, zero_point, qmin, qmax, axis
        Exactly the arguments of the forward pass.

    Returns
    -------
    ndarray of float64: the gradient with respect to ``x``.

    Examples
    --------
    >>> fake_quantize_backward([1.0, 1.0, 1.0], [0.5, 2.0, -0.1], scale=0.1, zero_point=2, qmin=0, qmax=15)
    array([1., 0., 1.])
    """
    g = as_float_array(grad, "grad")
    x = as_float_array(x, "x")
    if g.shape != x.shape:
        raise ValueError(f"grad has shape {g.shape} but x has shape {x.shape}; pass the gradient of the "
                         f"fake-quantized output, which has the shape of x.")
    return g * ste_mask(x, scale, zero_point, qmin, qmax, axis=axis)
