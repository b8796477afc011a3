r"""Group-wise weight quantization along the input dimension (the weight-only 4-bit format of LLMs).

A linear layer's weight :math:`W` has shape ``(N, K)`` (``N`` outputs, ``K`` inputs; ``y = x W^T``,
PyTorch's layout).  Each row is cut into ``K / G`` consecutive groups of ``G`` inputs (``G`` = 32,
64 or 128 in practice), and every group :math:`(n, g)` gets its own scale and zero point:

.. math::

    q_{nk} = \operatorname{clip}\big(\operatorname{round}(W_{nk} / s_{ng}) + z_{ng},\ 0,\ 2^b - 1\big),
    \qquad \hat W_{nk} = s_{ng}\,(q_{nk} - z_{ng}), \qquad g = \lfloor k / G \rfloor .

The codes always live on the **unsigned** grid :math:`[0, 2^b - 1]` (so that two 4-bit codes pack
into a byte):

* ``symmetric=False`` (asymmetric): :math:`s, z` from the group's range widened to contain 0,
  :math:`s = (\max(r_{max}, 0) - \min(r_{min}, 0)) / (2^b - 1)`,
  :math:`z = \operatorname{round}(-\min(r_{min}, 0) / s)`;
* ``symmetric=True``: :math:`s = a_{max} / ((2^b - 1) / 2)` with :math:`a_{max} = \max |W|` over the
  group, and the fixed zero point :math:`z = 2^{b-1}` (8 for int4: codes 0..15 stand for -8..7).

Both are exactly :func:`quantref.linear.qparams` (``signed=False``) applied per group, and the
mapping is :func:`quantref.linear.quantize` / :func:`~quantref.linear.dequantize` with
``axis=1, group_size=G``: this module only chooses the granularity (one source of truth).  These
are also the rules of the GPTQ reference code (its ``Quantizer`` with ``sym=True`` takes
``scale = 2 a_max / (2^b - 1)`` and ``zero = 2^{b-1}``).

Examples
--------
>>> w = np.array([[-1.0, 0.5, 2.0, 3.0]])
>>> gq = quantize_groupwise(w, bits=4, group_size=2)
>>> gq.codes, gq.zero_points
(array([[ 0, 15, 10, 15]], dtype=uint8), array([[10,  0]]))
>>> gq.dequantize()
array([[-1. ,  0.5,  2. ,  3. ]])
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from .._checks import as_float_array
from ..linear import dequantize, minmax, qparams, quantize

#: bit widths of this module (the codes are stored one per uint8; 4 bits or fewer pack into nibbles)
MIN_BITS, MAX_BITS = 2, 8
#: group sizes used in practice (any divisor of K is accepted)
GROUP_SIZES = (32, 64, 128)


def check_lowbit_bits(bits) -> int:
    """Return ``bits`` as an int in [2, 8], or raise a TypeError / ValueError saying what to pass."""
    if isinstance(bits, (bool, np.bool_)) or not isinstance(bits, numbers.Integral):
        raise TypeError(f"bits must be a whole number between {MIN_BITS} and {MAX_BITS}, got {bits!r} "
                        f"of type {type(bits).__name__}; pass e.g. bits=4.")
    if not MIN_BITS <= int(bits) <= MAX_BITS:
        raise ValueError(f"bits={int(bits)} is out of range for group-wise weight quantization: use "
                         f"{MIN_BITS} to {MAX_BITS} bits (bits=4 or bits=3 for LLM weights).")
    return int(bits)


def check_weight(w, name: str = "w") -> np.ndarray:
    """``w`` as a finite float64 matrix ``(N, K)``; a TypeError / ValueError otherwise."""
    arr = as_float_array(w, name)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D weight matrix (N outputs, K inputs), got shape {arr.shape}; "
                         f"reshape it, e.g. {name}.reshape(N, -1).")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); pass at least one weight.")
    return arr


def check_group_size(group_size, k: int) -> int:
    """``group_size`` as an int that divides ``k`` (the input dimension), or a ValueError."""
    if isinstance(group_size, (bool, np.bool_)) or not isinstance(group_size, numbers.Integral) \
            or int(group_size) < 1:
        raise ValueError(f"group_size must be a positive integer (32, 64 or 128 in practice), got {group_size!r}.")
    if k % int(group_size):
        raise ValueError(f"group_size={int(group_size)} does not divide the input dimension K={k}; choose a "
                         f"divisor of {k} (e.g. {max(d for d in (1, 2, 4, 8, 16, 32, 64, 128) if k % d == 0)}) "
                         f"or pad the weight's columns.")
    return int(group_size)


def check_symmetric(symmetric) -> bool:
    if not isinstance(symmetric, (bool, np.bool_)):
        raise TypeError(f"symmetric must be True or False, got {symmetric!r}.")
    return bool(symmetric)


def group_qparams(w, bits: int = 4, group_size: int = 128, *, symmetric: bool = False):
    """Scale and zero point of every group: :func:`quantref.linear.qparams` on each group's range.

    Parameters
    ----------
    w : array_like, shape (N, K)
    bits : int
        2 to 8.
    group_size : int
        Divides ``K``.
    symmetric : bool
        See the module docstring.

    Returns
    -------
    scales : ndarray of float64, shape (N, K // group_size)
    zero_points : ndarray of int64, shape (N, K // group_size), on the grid [0, 2**bits - 1]
    """
    w = check_weight(w)
    bits = check_lowbit_bits(bits)
    g = check_group_size(group_size, w.shape[1])
    lo, hi = minmax(w, axis=1, group_size=g)
    return qparams(lo, hi, bits, symmetric=check_symmetric(symmetric), signed=False)


@dataclass(frozen=True)
class GroupQuantized:
    """A weight quantized group-wise: codes plus one scale and zero point per group.

    ``w_hat[n, k] = scales[n, k // G] * (codes[n, k] - zero_points[n, k // G])``.
    """

    codes: np.ndarray        #: uint8, shape (N, K), on [0, 2**bits - 1]
    scales: np.ndarray       #: float64, shape (N, K // G)
    zero_points: np.ndarray  #: int64, shape (N, K // G)
    bits: int
    group_size: int
    symmetric: bool

    @property
    def shape(self) -> tuple:
        return tuple(self.codes.shape)

    def dequantize(self) -> np.ndarray:
        """:math:`\\hat W = s (q - z)` per group, float64, shape (N, K)."""
        return dequantize(self.codes, self.scales, self.zero_points, axis=1, group_size=self.group_size)


def quantize_with_params(w, scales, zero_points, bits: int, group_size: int) -> np.ndarray:
    """Codes of ``w`` under given per-group parameters (``quantref.linear.quantize``, ``axis=1``)."""
    w = check_weight(w)
    return quantize(w, scales, zero_points, check_lowbit_bits(bits), signed=False, axis=1,
                    group_size=check_group_size(group_size, w.shape[1]))


def quantize_groupwise(w, bits: int = 4, group_size: int = 128, *, symmetric: bool = False) -> GroupQuantized:
    """Round-to-nearest (RTN) group-wise quantization of a weight matrix along its input dimension.

    Parameters
    ----------
    w : array_like, shape (N, K)
        Finite weights, ``y = x @ w.T``.
    bits : int
        2 to 8 (4 and 3 are the LLM formats).
    group_size : int
        Consecutive inputs sharing a scale; must divide ``K``.
    symmetric : bool
        Symmetric (fixed zero point ``2**(bits-1)``) or asymmetric (one zero point per group).

    Returns
    -------
    GroupQuantized

    Raises
    ------
    TypeError
        Non-numeric ``w``, non-integer ``bits``.
    ValueError
        NaN/inf, ``w`` not 2-D, ``bits`` outside [2, 8], ``group_size`` not dividing ``K``.
    """
    w = check_weight(w)
    bits = check_lowbit_bits(bits)
    g = check_group_size(group_size, w.shape[1])
    symmetric = check_symmetric(symmetric)
    scales, zeros = group_qparams(w, bits, g, symmetric=symmetric)
    codes = quantize_with_params(w, scales, zeros, bits, g)
    return GroupQuantized(codes, scales, zeros, bits, g, symmetric)


def rtn_groupwise(w, bits: int = 4, group_size: int = 128, *, symmetric: bool = False) -> np.ndarray:
    """The dequantized RTN weight :math:`\\hat W` (float64): :func:`quantize_groupwise` then dequantize."""
    return quantize_groupwise(w, bits, group_size, symmetric=symmetric).dequantize()
