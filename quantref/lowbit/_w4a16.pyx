# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""Compiled W4A16 kernel: ``y = x @ w_hat.T`` with 4-bit group-quantized weights unpacked on the fly.

``w4a16_reference`` is the readable loop (one code at a time, the dequantized weight computed
from its group's scale and zero point); ``w4a16`` runs the kernels of ``_w4a16_helper.h``
(portable C, AVX2 or AVX-512, chosen by the caller) on ``num_threads`` threads over chunks of
output rows.  Both trust their caller, :mod:`quantref.lowbit.w4a16`, to have checked dtypes,
shapes, the group size and the zero points.
"""
from cython.parallel cimport prange
from libc.stdint cimport int64_t, uint8_t

import numpy as np

cdef extern from "_w4a16_helper.h" nogil:
    int qr_w4_have_openmp()
    int qr_w4_avx2_available()
    int qr_w4_avx512_available()
    int qr_w4_lanes(int impl)
    void qr_w4_permute_x(const float *x, float *xp, int64_t M, int64_t K, int64_t G, int lanes)
    void qr_w4a16_rows(const float *xp, int64_t M, int64_t K, const uint8_t *packed, const float *scales,
                       const uint8_t *zeros, int64_t G, float *y, int64_t N, int64_t n0, int64_t n1, int impl)

#: True when the AVX2 + FMA kernel can run on this CPU.
AVX2_AVAILABLE = bool(qr_w4_avx2_available())
#: True when the AVX-512F kernel can run on this CPU.
AVX512_AVAILABLE = bool(qr_w4_avx512_available())
#: True when compiled with OpenMP (otherwise ``num_threads`` has no effect).
HAVE_OPENMP = bool(qr_w4_have_openmp())
#: implementation codes of the helper
IMPL_CODES = {"portable": 0, "avx2": 1, "avx512": 2}

#: output rows per parallel chunk
cdef enum:
    ROWS = 64


def w4a16_reference(const float[:, ::1] x, const uint8_t[:, ::1] packed, const float[:, ::1] scales,
                    const uint8_t[:, ::1] zeros, int group_size, float[:, ::1] out):
    """``out[m, n] = sum_k x[m, k] * scales[n, k // G] * (code(n, k) - zeros[n, k // G])``, in float32.

    ``code(n, k) = (packed[n, k // 2] >> (4 * (k % 2))) & 15``: the even index in the low nibble.
    """
    cdef Py_ssize_t M = x.shape[0], K = x.shape[1], N = packed.shape[0], m, n, k, g
    cdef float acc, w
    cdef int code
    with nogil:
        for m in range(M):
            for n in range(N):
                acc = 0.0
                for k in range(K):
                    g = k // group_size
                    code = (packed[n, k // 2] >> (4 * (k % 2))) & 15
                    w = scales[n, g] * <float>(code - <int>zeros[n, g])
                    acc = acc + w * x[m, k]
                out[m, n] = acc


def w4a16(const float[:, ::1] x, const uint8_t[:, ::1] packed, const float[:, ::1] scales,
          const uint8_t[:, ::1] zeros, int group_size, float[:, ::1] out, int num_threads, str impl):
    """The helper's kernel ``impl`` ("portable", "avx2" or "avx512") on chunks of ``ROWS`` output rows.

    ``num_threads <= 0`` lets OpenMP choose.  ``x`` is permuted once into the layout ``impl``
    reads (see ``qr_w4_permute_x``).
    """
    cdef int64_t M = x.shape[0], K = x.shape[1], N = packed.shape[0], G = group_size
    cdef int code = IMPL_CODES[impl]
    cdef int64_t nchunks = (N + ROWS - 1) // ROWS, c
    if M == 0 or N == 0:
        return
    if K == 0:
        out[:, :] = 0
        return
    xp_arr = np.empty((M, K), dtype=np.float32)
    cdef float[:, ::1] xp = xp_arr
    cdef const float *xptr = &x[0, 0]
    cdef float *pptr = &xp[0, 0]
    cdef const uint8_t *wptr = &packed[0, 0]
    cdef const float *sptr = &scales[0, 0]
    cdef const uint8_t *zptr = &zeros[0, 0]
    cdef float *yptr = &out[0, 0]
    with nogil:
        qr_w4_permute_x(xptr, pptr, M, K, G, qr_w4_lanes(code))
    if num_threads <= 0:
        for c in prange(nchunks, nogil=True, schedule="dynamic"):
            qr_w4a16_rows(pptr, M, K, wptr, sptr, zptr, G, yptr, N, c * ROWS, min((c + 1) * ROWS, N), code)
    else:
        for c in prange(nchunks, nogil=True, schedule="dynamic", num_threads=num_threads):
            qr_w4a16_rows(pptr, M, K, wptr, sptr, zptr, G, yptr, N, c * ROWS, min((c + 1) * ROWS, N), code)
