# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""Compiled core of the integer matmul: ``core[i, j] = sum_k a[i, k] * bt[j, k]``.

This module only does arithmetic.  It trusts its caller, :mod:`quantref.kernels.int_matmul`,
to have checked dtypes, shapes, contiguity and that no int32 partial sum can overflow (signed
overflow is undefined behaviour in C, so the check happens before we get here, not in the loop).

``b`` arrives transposed (``bt`` is ``N x K``, C-contiguous) so that the inner loop is a
contiguous dot product of two byte vectors into an int32 accumulator: the shape compilers
vectorise (and, for ``uint8 x int8``, turn into AVX-512 VNNI ``vpdpbusd``).
"""
from libc.stdint cimport int8_t, int32_t, uint8_t

ctypedef fused a_t:
    uint8_t
    int8_t

ctypedef fused b_t:
    uint8_t
    int8_t


def matmul_core(const a_t[:, ::1] a, const b_t[:, ::1] bt, int32_t[:, ::1] out):
    """Write ``a @ bt.T`` into ``out`` (int32), accumulating in int32, without the GIL."""
    cdef Py_ssize_t M = a.shape[0], N = bt.shape[0], K = a.shape[1]
    cdef Py_ssize_t i, j, k
    cdef int32_t acc
    with nogil:
        for i in range(M):
            for j in range(N):
                acc = 0
                for k in range(K):
                    acc = acc + <int32_t>a[i, k] * <int32_t>bt[j, k]
                out[i, j] = acc
