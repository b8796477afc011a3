r"""Requantization: from int32 accumulators back to 8-bit codes, with integers only.

.. math::

    q_{out} = \mathrm{clamp}\big(\mathrm{MBQM}(acc, M_0, n) + z_{out},\ q_{lo},\ q_{max}\big),
    \qquad q_{lo} = \begin{cases} \max(q_{min}, z_{out}) & \text{fused ReLU} \\ q_{min} & \text{otherwise} \end{cases}

where :math:`M = s_x s_w / s_{out} = M_0 2^{-31} 2^{-n}` (:mod:`~quantref.integer.fixedpoint`).
A ReLU after the layer costs nothing: real 0 is the code :math:`z_{out}`, so the ReLU is the
lower clamp at the zero point (TFLite's fused activation).
"""
from __future__ import annotations

import numpy as np

from ._checks import as_integer_array, as_int, check_grid, code_dtype
from .fixedpoint import check_quantized_multiplier, multiply_by_quantized_multiplier, quantize_multiplier


def fixed_point_multiplier(multiplier) -> tuple[np.ndarray, np.ndarray]:
    """``(M0, shift)`` as int64 arrays from a real multiplier (or per-channel array) or a ``(M0, shift)`` tuple."""
    if isinstance(multiplier, tuple):
        if len(multiplier) != 2:
            raise ValueError(f"multiplier as a tuple must be (M0, shift), got {len(multiplier)} items; "
                             f"pass a real multiplier in (0, 1) or the pair from quantize_multiplier.")
        m0, shift = multiplier
        if np.issubdtype(np.asarray(m0).dtype, np.floating):
            raise TypeError("multiplier=(M0, shift) needs an integer Q31 M0; for real per-channel multipliers "
                            "pass an array, e.g. np.array([0.3, 0.4]), not a tuple.")
        return check_quantized_multiplier(m0, shift)
    m0, shift = quantize_multiplier(multiplier)
    return np.asarray(m0, dtype=np.int64), np.asarray(shift, dtype=np.int64)


def requantize(acc, multiplier, out_zero_point, qmin, qmax, relu: bool = False) -> np.ndarray:
    r"""Rescale int32 accumulators to output codes: ``clamp(MBQM(acc, M0, n) + z_out, qmin, qmax)``.

    Parameters
    ----------
    acc : array_like of int
        Accumulators :math:`\sum_k (x_k - z_x) w_k + b`, in the int32 range; typically shape
        ``(batch, out_channels)``.
    multiplier : float, ndarray of float, or tuple ``(M0, shift)``
        The real multiplier :math:`M = s_x s_w / s_{out}` in (0, 1), converted with
        :func:`~quantref.integer.fixedpoint.quantize_multiplier`; or the fixed-point pair itself.
        Arrays (real, or ``M0`` and ``shift``) hold one multiplier per output channel and broadcast
        against ``acc`` along its last axis.
    out_zero_point : int
        :math:`z_{out}`, inside ``[qmin, qmax]``.
    qmin, qmax : int
        The output grid, e.g. ``0, 255`` for uint8 or ``-128, 127`` for int8.
    relu : bool
        Fuse a ReLU: clamp below at :math:`\max(q_{min}, z_{out})` (real 0).

    Returns
    -------
    ndarray
        Codes of ``acc``'s shape, in ``uint8`` if the grid fits ``[0, 255]``, else ``int8`` if it
        fits ``[-128, 127]``, else ``int32``.

    Notes
    -----
    ``MBQM(acc) + z_out`` is formed in int64 before the clamp, so it saturates correctly even where
    an int32 sum would overflow (TFLite adds in int32; for :math:`M < 1` and 8-bit zero points the
    two agree on every accumulator that does not overflow there).

    Examples
    --------
    >>> acc = np.array([[-300, -1, 0, 99, 101, 1000]], dtype=np.int32)
    >>> requantize(acc, 0.01, out_zero_point=2, qmin=0, qmax=7)   # -3, -0.01, 0, 0.99, 1.01, 10; + 2
    array([[0, 2, 2, 3, 3, 7]], dtype=uint8)
    >>> requantize(acc, 0.01, out_zero_point=2, qmin=0, qmax=7, relu=True)
    array([[2, 2, 2, 3, 3, 7]], dtype=uint8)
    """
    acc64 = as_integer_array(acc, "acc")
    m0, shift = fixed_point_multiplier(multiplier)
    qmin, qmax = check_grid(qmin, qmax)
    z = as_int(out_zero_point, "out_zero_point")
    if not qmin <= z <= qmax:
        raise ValueError(f"out_zero_point={z} must lie inside the output grid [{qmin}, {qmax}]; the zero point "
                         f"is the code of real 0.")
    if not isinstance(relu, (bool, np.bool_)):
        raise TypeError(f"relu must be True or False, got {relu!r}.")
    scaled = multiply_by_quantized_multiplier(acc64, m0, shift).astype(np.int64)
    lower = max(qmin, z) if relu else qmin
    return np.clip(scaled + z, lower, qmax).astype(code_dtype(qmin, qmax))
