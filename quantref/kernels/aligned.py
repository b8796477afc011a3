"""Arrays whose data starts on a cache-line boundary, for the compiled kernels.

NumPy aligns its buffers to 16 bytes only.  A 64-byte row of an AMX tile, a zmm load or a
64-byte row of a PQ scan's output that straddles two cache lines costs two loads (or stores)
instead of one, so the kernels' own buffers are allocated with :func:`aligned_empty`.
"""
from __future__ import annotations

import math

import numpy as np


def aligned_empty(shape, dtype, align: int = 64) -> np.ndarray:
    """An uninitialised C-contiguous array whose first byte lies at a multiple of ``align``.

    Over-allocates ``align`` bytes and returns the view that starts on the boundary
    (``(-address) % align`` bytes in).
    """
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    raw = np.empty(nbytes + align, dtype=np.uint8)
    # the array interface rather than .ctypes: a few hundred ns against several us, which matters
    # to int_matmul's short path
    start = (-raw.__array_interface__["data"][0]) % align
    return raw[start:start + nbytes].view(dtype).reshape(shape)
