r"""Where quantization error comes from: clipping versus rounding.

With the grid's real range :math:`[s(q_{min} - z),\ s(q_{max} - z)]`, each element is either

* **clipped**: :math:`\mathrm{round}(x/s) + z` falls outside :math:`[q_{min}, q_{max}]`, so its
  error :math:`x - \hat x` is set by how far ``x`` lies beyond the range (unbounded); or
* **rounded**: it stays inside, and its error is at most half a step, :math:`|x - \hat x| \le s/2`.

The mean squared error splits exactly into the two parts,

.. math::

    \mathrm{MSE} = \frac{1}{n}\sum_{i \in C}(x_i - \hat x_i)^2 + \frac{1}{n}\sum_{i \notin C}(x_i - \hat x_i)^2 ,

which is the trade-off a calibrator balances: a narrower range means a smaller step (less
rounding error) and more clipped elements (more clipping error).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import as_float_array, check_scale, check_zero_point
from .granularity import broadcast_param
from .grid import integer_grid
from .quantize import dequantize, quantize
from .rounding import round_to_integer


class QuantizationError(NamedTuple):
    """Mean squared errors: ``total == clipping + rounding`` (up to float64 rounding)."""

    total: float
    clipping: float
    rounding: float
    clipped_fraction: float


def clipping_mask(x, scale, zero_point, bits: int = 8, *, signed: bool = False, narrow_range: bool = False,
                  axis=None, group_size=None) -> np.ndarray:
    """Boolean mask of the elements that the quantizer clips (round-to-nearest)."""
    qmin, qmax = integer_grid(bits, signed=signed, narrow_range=narrow_range)
    x = as_float_array(x, "x")
    s = broadcast_param(check_scale(scale), "scale", x.shape, axis, group_size)
    z = broadcast_param(check_zero_point(zero_point, qmin, qmax), "zero_point", x.shape, axis, group_size,
                         allow_scalar=True)
    unclipped = round_to_integer(x / s, "nearest") + z
    return (unclipped < qmin) | (unclipped > qmax)


def quantization_error(x, scale, zero_point, bits: int = 8, *, signed: bool = False,
                       narrow_range: bool = False, axis=None, group_size=None) -> QuantizationError:
    """Split the mean squared error of quantize-then-dequantize into clipping and rounding error.

    Parameters are those of :func:`quantize` (rounding to nearest).  See the module docstring
    for the definition; ``clipped_fraction`` is the share of elements that were clipped.

    Examples
    --------
    >>> x = np.array([-0.3, 0.1, 0.25, 2.0])
    >>> err = quantization_error(x, scale=0.1, zero_point=4, bits=3)
    >>> round(err.clipping, 6), round(err.rounding, 6)
    (0.7225, 0.000625)
    """
    kw = dict(signed=signed, narrow_range=narrow_range, axis=axis, group_size=group_size)
    x = as_float_array(x, "x")
    q = quantize(x, scale, zero_point, bits, **kw)
    sq = (x - dequantize(q, scale, zero_point, axis, group_size)) ** 2
    clipped = clipping_mask(x, scale, zero_point, bits, **kw)
    n = max(x.size, 1)
    return QuantizationError(
        total=float(sq.sum() / n),
        clipping=float(sq[clipped].sum() / n),
        rounding=float(sq[~clipped].sum() / n),
        clipped_fraction=float(clipped.sum() / n),
    )
