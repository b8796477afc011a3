r"""Max pooling over non-overlapping ``s x s`` windows, for floats and integer codes alike.

.. math::

    y[b, c, i, j] = \max_{0 \le u, v < s} x[b, c, s i + u, s j + v].

On integer codes the same function is *integer max pooling*: a quantizer
:math:`q = \mathrm{clamp}(\mathrm{round}(x / s) + z)` is non-decreasing, so the maximum of the
codes is the code of the maximum, and the scale and zero point pass through unchanged (no
requantization).  The backward pass sends each window's gradient to its (first) maximum.
"""
from __future__ import annotations

import numbers

import numpy as np


def _windows(x, size) -> np.ndarray:
    if isinstance(size, (bool, np.bool_)) or not isinstance(size, numbers.Integral) or size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}; e.g. size=2.")
    if not isinstance(x, np.ndarray) or x.ndim != 4:
        raise ValueError(f"x must be a 4-D array (n, c, h, w), got shape {getattr(x, 'shape', None)}.")
    n, c, h, w = x.shape
    if h % size or w % size:
        raise ValueError(f"x is {h} x {w}, not divisible by size={size}; pool windows must tile the image.")
    return x.reshape(n, c, h // size, size, w // size, size).transpose(0, 1, 2, 4, 3, 5).reshape(
        n, c, h // size, w // size, size * size)


def max_pool2d(x, size: int = 2) -> np.ndarray:
    """The maximum of each ``size x size`` window (module docstring); keeps ``x``'s dtype.

    Examples
    --------
    >>> codes = np.array([[1, 9, 0, 0], [3, 4, 0, 7], [5, 5, 2, 2], [5, 6, 2, 1]], dtype=np.uint8)
    >>> max_pool2d(codes.reshape(1, 1, 4, 4))[0, 0]
    array([[9, 7],
           [6, 2]], dtype=uint8)
    """
    return _windows(x, size).max(axis=-1)


def max_pool2d_backward(grad, x, size: int = 2) -> np.ndarray:
    """Gradient of :func:`max_pool2d`: each window's gradient goes to its first maximal entry."""
    win = _windows(x, size)
    n, c, hp, wp, _ = win.shape
    if grad.shape != (n, c, hp, wp):
        raise ValueError(f"grad has shape {grad.shape}; it must be the pooled shape {(n, c, hp, wp)}.")
    onehot = np.zeros(win.shape, dtype=grad.dtype)
    np.put_along_axis(onehot, win.argmax(axis=-1)[..., None], grad[..., None], axis=-1)
    return onehot.reshape(n, c, hp, wp, size, size).transpose(0, 1, 2, 4, 3, 5).reshape(x.shape)
