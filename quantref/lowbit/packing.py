r"""Nibble packing: two 4-bit codes per byte, row by row.

Code :math:`k` of a row goes to byte :math:`\lfloor k/2 \rfloor` of that row; the **even index
takes the low nibble**, the odd index the high nibble:

.. math::

    \text{byte}_{n, j} = q_{n, 2j} + 16\, q_{n, 2j+1}, \qquad
    q_{n, k} = \big\lfloor \text{byte}_{n, \lfloor k/2 \rfloor} / 16^{\,k \bmod 2} \big\rfloor \bmod 16 .

This is the layout of :func:`quantref.codebook.pack_codes` for 4-bit codes (the first code in the
lowest bits), which does the packing here (one source of truth), applied to rows of even length
so that every row starts on a byte.  3-bit and 2-bit codes are stored in nibbles too (the W4A16
kernel reads any code below 16).

Examples
--------
>>> pack_nibbles(np.array([[1, 2, 15, 0]], dtype=np.uint8))     # 1 + 16*2, 15 + 16*0
array([[33, 15]], dtype=uint8)
>>> unpack_nibbles(np.array([[33, 15]], dtype=np.uint8))
array([[ 1,  2, 15,  0]], dtype=uint8)
"""
from __future__ import annotations

import numpy as np

from ..codebook.packing import PackedCodes, check_uint8_codes, pack_codes, unpack_codes


def pack_nibbles(codes) -> np.ndarray:
    """Pack uint8 codes below 16 two per byte along the last axis (even index in the low nibble).

    Parameters
    ----------
    codes : ndarray of uint8, shape (..., K), K even

    Returns
    -------
    ndarray of uint8, shape (..., K // 2)

    Raises
    ------
    TypeError
        ``codes`` is not a uint8 array.
    ValueError
        A code above 15, an odd or missing last axis.
    """
    codes = check_uint8_codes(codes)
    if codes.ndim == 0 or codes.shape[-1] % 2:
        raise ValueError(f"codes must have an even last axis (two codes per byte), got shape {codes.shape}; "
                         f"pad each row with one zero code.")
    packed = pack_codes(np.ascontiguousarray(codes), 4)
    return packed.data.reshape(codes.shape[:-1] + (codes.shape[-1] // 2,))


def unpack_nibbles(packed) -> np.ndarray:
    """Inverse of :func:`pack_nibbles`: uint8 codes of shape ``(..., 2 * packed.shape[-1])``."""
    packed = check_uint8_codes(packed, "packed")
    if packed.ndim == 0:
        raise ValueError("packed must have at least one axis (bytes along the last one).")
    shape = packed.shape[:-1] + (2 * packed.shape[-1],)
    return unpack_codes(PackedCodes(np.ascontiguousarray(packed).ravel(), 4, shape))
