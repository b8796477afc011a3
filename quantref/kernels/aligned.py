"""Arrays whose data starts on a cache-line boundary, for the compiled kernels.

NumPy aligns its buffers to 16 bytes only.  A 64-byte row of an AMX tile, a zmm load or a
64-byte row of a PQ scan's output that straddles two cache lines costs two loads (or stores)
instead of one, so the kernels' own buffers are allocated with :func:`aligned_empty`.

An array of 2 MiB or more starts on a 2 MiB boundary instead, so that every 2 MiB of it can be
one transparent huge page (NumPy asks the kernel for them on allocations of 4 MiB or more, which
such an array's allocation always is).  An output whose rows are a 4 KiB page apart touches a
page per row: written through 4 KiB pages, AMX's 1024^3 and 2048^3 products ran 2.5-4 % slower
than through huge pages (measured, 1 and 2 threads; AVX-512 VNNI the same either way).  A
1024 x 1024 int32 array aligned to 64 bytes can hold only one whole 2 MiB page.  Packed weights
(``pack_b``) are allocated here too: 4096 x 4096 of them streamed from memory at M = 16 ran 4-6 %
faster on AVX-512 VNNI and 1 % on AVX-VNNI all in huge pages than aligned to 64 bytes, with 7 of
their 8 huge pages (measured, 1 and 2 threads).
"""
from __future__ import annotations

import math

import numpy as np

#: bytes in a cache line: the alignment of every array :func:`aligned_empty` returns
CACHE_LINE = 64
#: bytes in an x86-64 huge page: the alignment of arrays at least this large
HUGE_PAGE = 2 << 20


def aligned_empty(shape, dtype, align: int = CACHE_LINE) -> np.ndarray:
    """An uninitialised C-contiguous array whose first byte lies at a multiple of ``align``.

    Over-allocates ``align`` bytes and returns the view that starts on the boundary
    (``(-address) % align`` bytes in).  Arrays of ``HUGE_PAGE`` bytes or more start on a
    ``HUGE_PAGE`` boundary (a multiple of any smaller power of two ``align``).  The compiled GEMM
    allocates its output by the same rule, in C.
    """
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes >= HUGE_PAGE:
        align = max(align, HUGE_PAGE)
    raw = np.empty(nbytes + align, dtype=np.uint8)
    # the array interface rather than .ctypes: a few hundred ns against several us, which matters
    # to int_matmul's short path
    start = (-raw.__array_interface__["data"][0]) % align
    return raw[start:start + nbytes].view(dtype).reshape(shape)
