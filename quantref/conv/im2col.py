r"""im2col: a stride-1 convolution as one matrix product, and its adjoint ``col2im``.

For an input :math:`x` of shape ``(n, c, h, w)`` (NCHW, PyTorch's layout), a ``k x k`` kernel and
``p`` pixels of padding, the output has :math:`h_o = h + 2p - k + 1` rows and
:math:`w_o = w + 2p - k + 1` columns.  im2col copies every ``c x k x k`` receptive field into one
row of a matrix:

.. math::

    \mathrm{cols}[(b, i, j),\ (c', u, v)] = x_{pad}[b, c', i + u, j + v],

rows in ``(b, i, j)`` order (``n h_o w_o`` of them), columns in ``(c', u, v)`` order
(``c k k`` of them), the order of ``weight.reshape(c_out, -1)`` for a PyTorch weight of shape
``(c_out, c, k, k)``.  The convolution (cross-correlation, as in every deep-learning library) is
then a matrix product:

.. math::

    y[b, o, i, j] = \sum_{c', u, v} W[o, c', u, v]\, x_{pad}[b, c', i + u, j + v] + b_o
    = \big(\mathrm{cols}\ W_{mat}^T\big)[(b, i, j), o] + b_o,
    \qquad W_{mat} = W.\mathrm{reshape}(c_{out}, c k k).

``x_pad`` is ``x`` surrounded by ``p`` pixels of ``pad_value``: real 0 for a float input, the
zero point :math:`z_x` for integer codes (the code of real 0, so that padding stays exact).
``col2im`` is the adjoint of ``im2col`` (it adds each row's entries back onto the pixels they
came from), which is what backpropagation through ``im2col`` needs.
"""
from __future__ import annotations

import numbers

import numpy as np


def _check_kernel_and_padding(kernel_size, padding) -> tuple[int, int]:
    for name, value, lo in (("kernel_size", kernel_size, 1), ("padding", padding, 0)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be an integer, got {value!r}; e.g. kernel_size=3, padding=1.")
        if value < lo:
            raise ValueError(f"{name} must be >= {lo}, got {value}.")
    return int(kernel_size), int(padding)


def output_size(h: int, w: int, kernel_size: int, padding: int) -> tuple[int, int]:
    """``(h + 2p - k + 1, w + 2p - k + 1)``: the output size of a stride-1 convolution."""
    return h + 2 * padding - kernel_size + 1, w + 2 * padding - kernel_size + 1


def im2col(x, kernel_size: int, padding: int = 0, pad_value=0) -> np.ndarray:
    r"""Every ``c x k x k`` receptive field of ``x`` as one row (module docstring).

    Parameters
    ----------
    x : ndarray, shape (n, c, h, w)
        Float values or integer codes; the result keeps ``x``'s dtype.
    kernel_size : int
        ``k`` (square kernels, stride 1).
    padding : int
        ``p`` pixels of ``pad_value`` on every side.
    pad_value : scalar
        Real 0 for float inputs; the zero point for integer codes (must fit ``x``'s dtype).

    Returns
    -------
    ndarray, shape (n * h_o * w_o, c * k * k)

    Examples
    --------
    >>> x = np.arange(9).reshape(1, 1, 3, 3)
    >>> im2col(x, kernel_size=2)          # the four 2x2 windows of [[0,1,2],[3,4,5],[6,7,8]]
    array([[0, 1, 3, 4],
           [1, 2, 4, 5],
           [3, 4, 6, 7],
           [4, 5, 7, 8]])
    """
    if not isinstance(x, np.ndarray) or x.ndim != 4:
        shape = getattr(x, "shape", None)
        raise ValueError(f"x must be a 4-D array (n, c, h, w), got shape {shape}; add the batch and channel "
                         f"axes, e.g. x.reshape(n, 1, 8, 8).")
    k, p = _check_kernel_and_padding(kernel_size, padding)
    n, c, h, w = x.shape
    ho, wo = output_size(h, w, k, p)
    if ho < 1 or wo < 1:
        raise ValueError(f"kernel_size={k} is larger than the padded input ({h + 2 * p} x {w + 2 * p}); "
                         f"use a smaller kernel or more padding.")
    if np.issubdtype(x.dtype, np.integer):
        info = np.iinfo(x.dtype)
        if not (float(pad_value).is_integer() and info.min <= pad_value <= info.max):
            raise ValueError(f"pad_value={pad_value!r} does not fit x's dtype {x.dtype} [{info.min}, {info.max}]; "
                             f"pad integer codes with their zero point.")
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=pad_value) if p else x
    windows = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))   # (n, c, ho, wo, k, k)
    return np.ascontiguousarray(windows.transpose(0, 2, 3, 1, 4, 5)).reshape(n * ho * wo, c * k * k)


def col2im(cols, x_shape, kernel_size: int, padding: int = 0) -> np.ndarray:
    r"""The adjoint of :func:`im2col`: add every row's entries back onto the input pixels they came from.

    .. math::

        dx[b, c', s, t] = \sum_{(i, j, u, v):\ i + u - p = s,\ j + v - p = t}
        \mathrm{cols}[(b, i, j), (c', u, v)]

    (padding positions are dropped).  For any ``x`` and ``g`` of matching shapes,
    ``(im2col(x) * g).sum() == (x * col2im(g)).sum()``: this is the backward pass of ``im2col``.

    Parameters
    ----------
    cols : ndarray of float, shape (n * h_o * w_o, c * k * k)
    x_shape : tuple (n, c, h, w)
        Shape of the input that :func:`im2col` read.
    kernel_size, padding : int
        As for :func:`im2col`.

    Returns
    -------
    ndarray, shape ``x_shape``, dtype of ``cols``
    """
    k, p = _check_kernel_and_padding(kernel_size, padding)
    n, c, h, w = x_shape
    ho, wo = output_size(h, w, k, p)
    if cols.shape != (n * ho * wo, c * k * k):
        raise ValueError(f"cols has shape {cols.shape}; for x_shape={tuple(x_shape)}, kernel_size={k}, "
                         f"padding={p} it must be ({n * ho * wo}, {c * k * k}).")
    blocks = cols.reshape(n, ho, wo, c, k, k)
    dxp = np.zeros((n, c, h + 2 * p, w + 2 * p), dtype=cols.dtype)
    for u in range(k):
        for v in range(k):
            dxp[:, :, u:u + ho, v:v + wo] += blocks[:, :, :, :, u, v].transpose(0, 3, 1, 2)
    return dxp[:, :, p:p + h, p:p + w]


def conv2d(x, weight, bias=None, padding: int = 0) -> np.ndarray:
    r"""Float stride-1 convolution through im2col: ``cols @ W.reshape(c_out, -1).T + b``, back to NCHW.

    Parameters
    ----------
    x : ndarray of float, shape (n, c, h, w)
    weight : ndarray of float, shape (c_out, c, k, k)
    bias : ndarray of float, shape (c_out,), optional
    padding : int
        Pixels of real 0 on every side.

    Returns
    -------
    ndarray, shape (n, c_out, h_o, w_o), in the dtype NumPy gives ``x @ weight``.

    Examples
    --------
    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> conv2d(x, np.ones((1, 1, 2, 2)))    # sums of the four 2x2 windows: 0+1+3+4, 1+2+4+5, ...
    array([[[[ 8., 12.],
             [20., 24.]]]])
    """
    weight = np.asarray(weight)
    if weight.ndim != 4 or weight.shape[2] != weight.shape[3]:
        raise ValueError(f"weight must have shape (c_out, c_in, k, k), got {weight.shape}.")
    if x.ndim != 4 or x.shape[1] != weight.shape[1]:
        raise ValueError(f"x has shape {getattr(x, 'shape', None)} but weight takes {weight.shape[1]} input "
                         f"channels; x must be (n, {weight.shape[1]}, h, w).")
    c_out, k = weight.shape[0], weight.shape[2]
    n, _, h, w = x.shape
    ho, wo = output_size(h, w, k, padding)
    y = im2col(x, k, padding) @ weight.reshape(c_out, -1).T
    if bias is not None:
        y = y + bias
    return y.reshape(n, ho, wo, c_out).transpose(0, 3, 1, 2)
