"""Granularity: one quantizer per tensor, per channel or per group.

============  ============================  ==========================================
granularity   arguments                     shape of ``scale`` / ``zero_point``
============  ============================  ==========================================
per tensor    ``axis=None``                 scalar
per channel   ``axis=a``                    ``(x.shape[a],)``: one per index along ``a``
per group     ``axis=a, group_size=G``      ``x.shape`` with ``x.shape[a]`` replaced by
                                            ``x.shape[a] // G``: axis ``a`` is cut into
                                            consecutive groups of ``G`` elements
============  ============================  ==========================================

Note the two meanings of ``axis``: per channel it is the axis that is *kept* (the output
channels of a weight ``W[out, in]`` are ``axis=0``); per group it is the axis that is *cut*
(LLM weights are grouped along the input dimension, ``axis=1, group_size=128``).
"""
from __future__ import annotations

import numbers

import numpy as np

from .._checks import as_float_array, check_axis


def _check_group_size(group_size, length: int, axis: int) -> int:
    if isinstance(group_size, (bool, np.bool_)) or not isinstance(group_size, numbers.Integral) or group_size < 1:
        raise ValueError(f"group_size must be a positive integer, got {group_size!r}.")
    if length % group_size:
        raise ValueError(
            f"group_size={group_size} does not divide the length {length} of axis {axis}; "
            f"choose a divisor of {length} or pad the tensor."
        )
    return int(group_size)


def param_shape(x_shape: tuple, axis=None, group_size=None) -> tuple:
    """Shape that ``scale`` and ``zero_point`` must have for this granularity."""
    if axis is None:
        if group_size is not None:
            raise ValueError("group_size needs an axis: pass axis=-1 to group along the last axis.")
        return ()
    axis = check_axis(axis, len(x_shape))
    if group_size is None:
        return (x_shape[axis],)
    g = _check_group_size(group_size, x_shape[axis], axis)
    return tuple(n // g if d == axis else n for d, n in enumerate(x_shape))


def broadcast_param(param: np.ndarray, name: str, x_shape: tuple, axis=None, group_size=None,
                    allow_scalar: bool = False) -> np.ndarray:
    """Expand a per-tensor/channel/group parameter so that it broadcasts against ``x``.

    ``allow_scalar`` lets one value stand for every channel or group (a zero point of 0 for
    symmetric per-channel quantization, say).
    """
    expected = param_shape(x_shape, axis, group_size)
    if allow_scalar and param.ndim == 0:
        param = np.full(expected, param, dtype=param.dtype)
    if param.shape != expected:
        how = ("a scalar (per tensor, axis=None)" if axis is None else
               f"shape {expected} (one per channel along axis {axis})" if group_size is None else
               f"shape {expected} (one per group of {group_size} along axis {axis})")
        raise ValueError(f"{name} has shape {param.shape}, but for an input of shape {tuple(x_shape)} "
                         f"it must be {how}.")
    if axis is None:
        return param
    axis = check_axis(axis, len(x_shape))
    if group_size is None:
        shape = [1] * len(x_shape)
        shape[axis] = x_shape[axis]
        return param.reshape(shape)
    return np.repeat(param, group_size, axis=axis)


def minmax(x, axis=None, group_size=None) -> tuple:
    """Minimum and maximum of ``x`` at the given granularity.

    Returns arrays of :func:`param_shape` (floats for per tensor), ready for
    :func:`quantref.linear.qparams`.

    Examples
    --------
    >>> w = np.array([[1.0, -2.0], [0.5, 4.0]])
    >>> minmax(w, axis=0)
    (array([-2. ,  0.5]), array([1., 4.]))
    """
    x = as_float_array(x, "x")
    if x.size == 0:
        raise ValueError("x is empty; its range is undefined. Pass at least one value.")
    if axis is None:
        param_shape(x.shape, None, group_size)
        return float(x.min()), float(x.max())
    axis = check_axis(axis, x.ndim)
    if group_size is None:
        others = tuple(d for d in range(x.ndim) if d != axis)
        return x.min(axis=others), x.max(axis=others)
    shape = param_shape(x.shape, axis, group_size)
    g = x.reshape(x.shape[:axis] + (shape[axis], group_size) + x.shape[axis + 1:])
    return g.min(axis=axis + 1), g.max(axis=axis + 1)
