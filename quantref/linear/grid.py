"""The integer grid a b-bit quantizer maps onto.

======================  =========================  ===========================
grid                    ``qmin``                   ``qmax``
======================  =========================  ===========================
unsigned                ``0``                      ``2^b - 1``
unsigned, narrow        ``1``                      ``2^b - 1``
signed                  ``-2^(b-1)``               ``2^(b-1) - 1``
signed, narrow          ``-2^(b-1) + 1``           ``2^(b-1) - 1``
======================  =========================  ===========================

The narrow signed grid is symmetric around 0 (TFLite's int8 weights use [-127, 127]).
"""
from __future__ import annotations

import numpy as np

from .._checks import check_bits


def integer_grid(bits: int = 8, *, signed: bool = False, narrow_range: bool = False) -> tuple[int, int]:
    """Return ``(qmin, qmax)`` of the b-bit grid.

    Parameters
    ----------
    bits : int
        Bit width, 2 to 16.
    signed : bool
        ``False`` for ``[0, 2^b - 1]``, ``True`` for ``[-2^(b-1), 2^(b-1) - 1]``.
    narrow_range : bool
        Drop the lowest code (``qmin + 1``), making a signed grid symmetric.

    Examples
    --------
    >>> integer_grid(8)
    (0, 255)
    >>> integer_grid(8, signed=True, narrow_range=True)
    (-127, 127)
    """
    bits = check_bits(bits)
    if signed:
        qmin, qmax = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    else:
        qmin, qmax = 0, (1 << bits) - 1
    if narrow_range:
        qmin += 1
    return qmin, qmax


def storage_dtype(bits: int, signed: bool) -> np.dtype:
    """The smallest NumPy integer dtype that holds every code of the grid."""
    bits = check_bits(bits)
    if bits <= 8:
        return np.dtype(np.int8 if signed else np.uint8)
    return np.dtype(np.int16 if signed else np.uint16)
