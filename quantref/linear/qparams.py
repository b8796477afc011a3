"""Scale and zero point of a linear quantizer from a real range ``[rmin, rmax]``.

The rules are PyTorch's observer rules (``torch.ao.quantization.observer``), written for NumPy
in float64; PyTorch computes the same formulas in float32, so its scales agree with ours to
float32 rounding.
"""
from __future__ import annotations

import numpy as np

from .._checks import as_float_array, check_bits
from .grid import integer_grid

#: Smallest scale ever returned; a constant (e.g. all-zero) tensor would otherwise get scale 0.
#: PyTorch uses the same floor (float32 machine epsilon).
SCALE_EPS = float(np.finfo(np.float32).eps)


def _range_arrays(rmin, rmax) -> tuple[np.ndarray, np.ndarray]:
    lo = as_float_array(rmin, "rmin")
    hi = as_float_array(rmax, "rmax")
    if lo.shape != hi.shape:
        raise ValueError(
            f"rmin and rmax must have the same shape, got {lo.shape} and {hi.shape}; pass one "
            f"minimum and one maximum per channel."
        )
    if np.any(lo > hi):
        i = int(np.argmax((lo > hi).ravel()))
        raise ValueError(
            f"rmin must be <= rmax, got rmin={lo.ravel()[i]!r} > rmax={hi.ravel()[i]!r}"
            f"{'' if lo.ndim == 0 else f' at index {i}'}; swap them or recompute the range."
        )
    return lo, hi


def _as_result(scale: np.ndarray, zero_point: np.ndarray, scalar: bool):
    if scalar:
        return float(scale), int(zero_point)
    return scale, zero_point.astype(np.int64)


def asymmetric_qparams(rmin, rmax, bits: int = 8, *, signed: bool = False, narrow_range: bool = False):
    r"""Scale and zero point of an asymmetric (affine) quantizer.

    The range is first widened to contain 0, so that real 0 maps to an integer exactly:

    .. math::

        r_{min}' = \min(r_{min}, 0), \qquad r_{max}' = \max(r_{max}, 0)

        s = \max\left(\frac{r_{max}' - r_{min}'}{q_{max} - q_{min}}, \varepsilon\right), \qquad
        z = \operatorname{clip}\left(q_{min} - \operatorname{round}(r_{min}' / s),\ q_{min},\ q_{max}\right)

    with ``round`` half to even and :math:`\varepsilon` the float32 machine epsilon.

    Parameters
    ----------
    rmin, rmax : float or array_like
        The real range; arrays give one quantizer per entry (per channel or per group).
    bits : int
        Bit width, 2 to 16.
    signed, narrow_range : bool
        Select the integer grid, see :func:`quantref.linear.integer_grid`.

    Returns
    -------
    scale : float or ndarray of float64
    zero_point : int or ndarray of int64

    Examples
    --------
    >>> asymmetric_qparams(-1.0, 3.0, bits=8)
    (0.01568627450980392, 64)
    """
    qmin, qmax = integer_grid(bits, signed=signed, narrow_range=narrow_range)
    lo, hi = _range_arrays(rmin, rmax)
    min_neg = np.minimum(lo, 0.0)
    max_pos = np.maximum(hi, 0.0)
    scale = np.maximum((max_pos - min_neg) / (qmax - qmin), SCALE_EPS)
    zero_point = np.clip(qmin - np.rint(min_neg / scale), qmin, qmax)
    return _as_result(scale, zero_point, lo.ndim == 0)


def symmetric_qparams(rmin, rmax, bits: int = 8, *, signed: bool = True, narrow_range: bool = False):
    r"""Scale and zero point of a symmetric quantizer.

    The grid is centred on 0 over ``[-amax, amax]`` with :math:`a_{max} = \max(|r_{min}|, |r_{max}|)`:

    .. math::

        s = \max\left(\frac{a_{max}}{(q_{max} - q_{min}) / 2}, \varepsilon\right), \qquad
        z = \begin{cases} 0 & \text{signed grid} \\ 2^{b-1} & \text{unsigned grid} \end{cases}

    For int8 the divisor is 127.5 on the full grid [-128, 127] (PyTorch) and 127 on the narrow
    grid [-127, 127] (TFLite); don't mix the two.

    Parameters and returns are as for :func:`asymmetric_qparams`.

    Examples
    --------
    >>> symmetric_qparams(-2.0, 1.0, bits=8, narrow_range=True)
    (0.015748031496062992, 0)
    """
    bits = check_bits(bits)
    qmin, qmax = integer_grid(bits, signed=signed, narrow_range=narrow_range)
    lo, hi = _range_arrays(rmin, rmax)
    amax = np.maximum(-np.minimum(lo, 0.0), np.maximum(hi, 0.0))
    scale = np.maximum(amax / ((qmax - qmin) / 2), SCALE_EPS)
    zero_point = np.full(scale.shape, 0 if signed else 1 << (bits - 1), dtype=np.int64)
    return _as_result(scale, zero_point, lo.ndim == 0)


def qparams(rmin, rmax, bits: int = 8, *, symmetric: bool = False, signed: bool | None = None,
            narrow_range: bool = False):
    """Scale and zero point for the real range ``[rmin, rmax]``.

    Dispatches to :func:`asymmetric_qparams` or :func:`symmetric_qparams`, whose docstrings give
    the formulas.  ``signed=None`` picks the usual grid: signed for symmetric quantizers
    (int8 weights), unsigned for asymmetric ones (uint8 activations).

    Scalars give ``(float, int)``; arrays of per-channel minima and maxima give arrays.

    Examples
    --------
    >>> qparams(0.0, 6.0, bits=4)
    (0.4, 0)
    >>> qparams(-1.0, 1.0, symmetric=True)
    (0.00784313725490196, 0)
    """
    if signed is None:
        signed = bool(symmetric)
    if symmetric:
        return symmetric_qparams(rmin, rmax, bits, signed=signed, narrow_range=narrow_range)
    return asymmetric_qparams(rmin, rmax, bits, signed=signed, narrow_range=narrow_range)
