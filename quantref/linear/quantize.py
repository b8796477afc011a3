"""Quantize and dequantize: the linear (affine) mapping between reals and integers.

.. math::

    q = \\operatorname{clip}(\\operatorname{round}(r / s) + z,\\ q_{min},\\ q_{max}), \\qquad
    \\hat r = s\\,(q - z)

The zero point is added after rounding, so real 0 maps exactly to ``z`` (PyTorch, TFLite and
gemmlowp all do this).
"""
from __future__ import annotations

import numpy as np

from .._checks import as_float_array, check_scale, check_zero_point
from .granularity import broadcast_param
from .grid import integer_grid, storage_dtype
from .rounding import check_rounding, round_to_integer


def quantize(x, scale, zero_point, bits: int = 8, *, signed: bool = False, narrow_range: bool = False,
             rounding: str = "nearest", axis=None, group_size=None, rng=None) -> np.ndarray:
    r"""Map real values to the b-bit integer grid: :math:`q = \mathrm{clip}(\mathrm{round}(x/s) + z, q_{min}, q_{max})`.

    Parameters
    ----------
    x : array_like
        Real values, finite.
    scale, zero_point : scalar or ndarray
        Quantizer parameters, scalars per tensor or arrays per channel/group (see
        :mod:`quantref.linear.granularity`); ``zero_point`` must lie in the grid, and a
        scalar zero point serves every channel or group.
    bits : int
        Bit width, 2 to 16.  The default grid is unsigned, ``[0, 2^b - 1]``.
    signed, narrow_range : bool
        Select the grid, see :func:`integer_grid`.
    rounding : {"nearest", "half_away", "floor", "ceil", "stochastic"}
        See :mod:`quantref.linear.rounding`; ``nearest`` rounds ties to even as PyTorch does.
    axis, group_size : int or None
        Granularity of ``scale`` and ``zero_point``.
    rng : numpy.random.Generator or int, optional
        Randomness for ``rounding="stochastic"``.

    Returns
    -------
    ndarray
        Integers in the smallest dtype that holds the grid (``uint8``/``int8`` up to 8 bits,
        ``uint16``/``int16`` up to 16 bits), same shape as ``x``.

    Warnings
    --------
    The grid is chosen here, by ``bits``, ``signed`` and ``narrow_range``, not by the qparams:
    parameters from ``qparams(..., symmetric=True)`` (signed by default, zero point 0) must be
    used with ``signed=True``, or every negative value is clipped to 0.

    Notes
    -----
    ``x / s`` is computed in float64.  PyTorch multiplies float32 ``x`` by a float32 reciprocal
    ``1/s``; the two can differ only where ``x/s`` is within float32 rounding of a tie
    (``k + 0.5``), e.g. ``s = 0.00214854861, x = 0.273939937`` gives 128 in PyTorch and 127 here.

    Examples
    --------
    >>> quantize([-1.0, 0.0, 0.5, 3.0], scale=1 / 64, zero_point=64)
    array([  0,  64,  96, 255], dtype=uint8)
    """
    rounding = check_rounding(rounding)
    qmin, qmax = integer_grid(bits, signed=signed, narrow_range=narrow_range)
    x = as_float_array(x, "x")
    s = broadcast_param(check_scale(scale), "scale", x.shape, axis, group_size)
    z = broadcast_param(check_zero_point(zero_point, qmin, qmax), "zero_point", x.shape, axis, group_size,
                         allow_scalar=True)
    q = round_to_integer(x / s, rounding, rng) + z
    return np.clip(q, qmin, qmax).astype(storage_dtype(bits, signed))


def dequantize(q, scale, zero_point, axis=None, group_size=None) -> np.ndarray:
    r"""Map integers back to reals: :math:`\hat r = s\,(q - z)`, in float64.

    ``q - z`` is formed in int64 (so uint8 codes never wrap) before multiplying by the scale.

    Examples
    --------
    >>> dequantize(np.array([0, 64, 96, 255], dtype=np.uint8), 1 / 64, 64)
    array([-1.      ,  0.      ,  0.5     ,  2.984375])
    """
    q = np.asarray(q)
    if not np.issubdtype(q.dtype, np.integer):
        raise TypeError(
            f"q must be an integer array (the output of quantize), got dtype {q.dtype}; "
            f"if you hold integer values in floats, convert with q.astype(np.int64)."
        )
    s = broadcast_param(check_scale(scale), "scale", q.shape, axis, group_size)
    z = broadcast_param(check_zero_point(zero_point, -(1 << 16), 1 << 16), "zero_point", q.shape, axis, group_size,
                         allow_scalar=True)
    return s * (q.astype(np.int64) - z)


def fake_quantize(x, scale, zero_point, bits: int = 8, **kwargs) -> np.ndarray:
    """Quantize then dequantize (the "fake quantization" of quantization-aware training).

    Takes the arguments of :func:`quantize`; returns float64 values on the quantizer's grid.
    """
    axis, group_size = kwargs.get("axis"), kwargs.get("group_size")
    return dequantize(quantize(x, scale, zero_point, bits, **kwargs), scale, zero_point, axis, group_size)
