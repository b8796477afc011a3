r"""Int8 absmax quantization and the int8 x int8 matmul, per tensor or vector-wise.

For a linear layer :math:`Y = X W^T` with activations ``X`` (tokens x K) and weights ``W``
(out x K, the layout of ``nn.Linear`` and of the course MLP), both operands are quantized
symmetrically to int8 on the narrow grid [-127, 127] with absmax scales (from
:func:`quantref.linear.qparams` with ``symmetric=True, narrow_range=True``: ``s = max|v| / 127``),

* **per tensor**: one scale for all of ``X``, one for all of ``W``;
* **vector-wise** (LLM.int8()): one scale per row of ``X`` (per token) and one per row of ``W``
  (per output channel -- the paper's "columns of W", as it writes ``W`` as K x out);

and the product is computed exactly in int32 by :func:`quantref.kernels.int_matmul`, then scaled
back:

.. math::

    Y_{ij} \approx s_{X,i}\, s_{W,j} \sum_k q^X_{ik} q^W_{jk}.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import as_float_array
from ..kernels import int_matmul
from ..linear import dequantize, minmax, qparams, quantize

GRANULARITIES = ("per_tensor", "per_row")


class Int8Operand(NamedTuple):
    codes: np.ndarray   #: int8 codes, shape of the operand
    scale: object       #: float (per tensor) or float64 array (one per row)


def check_operands(x, w) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``X`` (tokens, K) and ``W`` (out, K); return float64 arrays."""
    x = as_float_array(x, "x")
    w = as_float_array(w, "w")
    if x.ndim != 2 or w.ndim != 2:
        raise ValueError(f"x and w must be 2-D, got shapes {x.shape} and {w.shape}; x is (tokens, K), w is (out, K).")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x has {x.shape[1]} columns but w has {w.shape[1]}: w must be (out, K) as in nn.Linear "
                         f"(Y = x @ w.T); did you pass w transposed?")
    return x, w


def absmax_int8(v, granularity: str = "per_tensor") -> Int8Operand:
    """Quantize a matrix to int8 with absmax scales, per tensor or per row (module docstring).

    Examples
    --------
    >>> op = absmax_int8(np.array([[0.5, -1.27], [2.54, 0.01]]), "per_row")
    >>> op.codes.tolist(), op.scale.tolist()            # row scales 1.27/127 = 0.01 and 2.54/127 = 0.02
    ([[50, -127], [127, 0]], [0.01, 0.02])
    """
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity={granularity!r} is not one of {GRANULARITIES}; use 'per_tensor' or 'per_row'.")
    axis = None if granularity == "per_tensor" else 0
    lo, hi = minmax(v, axis=axis)
    scale, zero_point = qparams(lo, hi, 8, symmetric=True, narrow_range=True)
    codes = quantize(v, scale, zero_point, 8, signed=True, narrow_range=True, axis=axis)
    return Int8Operand(codes, scale)


def int8_product(x_op: Int8Operand, w_op: Int8Operand) -> tuple[np.ndarray, np.ndarray]:
    """``(int32 sum_k qX qW, float Y)``: the exact integer product and its rescaled value."""
    acc = int_matmul(x_op.codes, np.ascontiguousarray(w_op.codes.T), 0, 0)
    xs = np.asarray(x_op.scale, dtype=np.float64)
    rows = dequantize(acc, xs, np.zeros(xs.shape, dtype=np.int64), axis=None if xs.ndim == 0 else 0)
    return acc, rows * np.asarray(w_op.scale, dtype=np.float64)


def int8_matmul(x, w, x_granularity: str = "per_tensor", w_granularity: str = "per_tensor") -> np.ndarray:
    """``X W^T`` through int8 absmax quantization of both operands (module docstring)."""
    x, w = check_operands(x, w)
    return int8_product(absmax_int8(x, x_granularity), absmax_int8(w, w_granularity))[1]
