# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""Compiled kernels of product quantization: encoding, and the scan (aggregation of table entries).

(Loops over rows are scheduled dynamically, in chunks: on a shared machine, a thread that the
operating system has parked then does less work instead of holding the others up.)

The plain loops here are the readable reference the lecture walks through:

* ``encode_pq``: nearest prototype per subspace (squared L2), Jégou et al. (2011);
* ``encode_maddness``: the 4-level balanced tree of MADDNESS (Blalock & Guttag 2021);
* ``scan_float`` / ``scan_u8``: ``out[q, i] = sum_m T[q, m, code[i, m]]``;
* ``pack_4bit``: the block layout of the 4-bit fast scan.

The fast scans call ``_fastscan_helper.h`` (AVX2 byte shuffles chosen at run time, or a portable C
loop with the same results): ``fastscan4`` for 16-entry tables and packed 4-bit codes,
``scan_qmajor`` for any table length with the queries innermost.

Every function trusts its caller (:mod:`quantref.pq.scan`, :mod:`quantref.pq.product_quantizer`,
:mod:`quantref.pq.maddness`) to have checked dtypes, shapes, and that every code indexes inside its
table; ``num_threads`` must be >= 1.  Float arithmetic follows the source order exactly (the
extension is compiled with ``-ffp-contract=off``: no fused multiply-add), which is what makes the
NumPy twin's results identical.
"""
from cython.parallel cimport parallel, prange
from libc.stdint cimport int64_t, uint8_t, uint16_t
from libc.stdlib cimport free, malloc

cdef extern from "_fastscan_helper.h" nogil:
    int qr_pq_simd_available()
    int qr_pq_have_openmp()
    void qr_fastscan4(const uint8_t *packed, int64_t P, const uint8_t *tables, int64_t nq, uint16_t *out,
                      int64_t ldo, int64_t N, int64_t b0, int64_t b1, int simd, int stream,
                      const float *mul, const float *add, float *outf)
    void qr_scan_qmajor(const uint8_t *codes, int64_t M, int64_t ksub, const uint8_t *tt, int64_t nqp,
                        int64_t nq, uint16_t *out, int64_t ldo, int64_t i0, int64_t i1, int simd, int stream)

#: True when the AVX2 kernels of the helper can run on this CPU.
SIMD_AVAILABLE = bool(qr_pq_simd_available())
#: True when compiled with OpenMP (otherwise ``num_threads`` has no effect).
HAVE_OPENMP = bool(qr_pq_have_openmp())


# ----------------------------------------------------------------------------------- encoding

def encode_pq(const float[:, ::1] x, const float[:, :, ::1] ct, uint8_t[:, ::1] codes, int num_threads):
    """``codes[i, m] = argmin_k sum_j (x[i, m*dsub + j] - ct[m, j, k])**2``, ties to the lower k.

    ``ct`` holds the centroids transposed, ``ct[m, j, k]`` = coordinate j of centroid k of
    subspace m, so that the innermost loop runs over the k centroids contiguously (vectorised).
    The squared distances are summed over j = 0, 1, ..., dsub-1 in float32.
    """
    cdef Py_ssize_t n = x.shape[0], D = x.shape[1], M = ct.shape[0], dsub = ct.shape[1], ksub = ct.shape[2]
    cdef Py_ssize_t i, m, j, k, best
    cdef float xj, diff
    cdef float *dist
    cdef const float *x0
    cdef const float *c0
    cdef uint8_t *out0
    cdef const float *xr
    cdef const float *crow
    cdef uint8_t *out
    if n == 0 or M == 0:
        return
    x0, c0, out0 = &x[0, 0], &ct[0, 0, 0], &codes[0, 0]
    with nogil, parallel(num_threads=num_threads):
        dist = <float *> malloc(ksub * sizeof(float))       # one distance buffer per thread
        for i in prange(n, schedule="dynamic", chunksize=256):
            xr, out = x0 + i * D, out0 + i * M              # private row pointers
            for m in range(M):
                for k in range(ksub):
                    dist[k] = 0.0
                for j in range(dsub):
                    xj = xr[m * dsub + j]
                    crow = c0 + (m * dsub + j) * ksub       # ct[m, j, :]
                    for k in range(ksub):
                        diff = xj - crow[k]
                        dist[k] = dist[k] + diff * diff
                best = 0
                for k in range(1, ksub):
                    if dist[k] < dist[best]:
                        best = k
                out[m] = <uint8_t> best
        free(dist)


cdef inline int _leaf(const float *xr, const int64_t *d, const float *t) noexcept nogil:
    """The tree walk of one codebook: ``g = 2 g + (x[d[l]] > t[8 l + g])`` for l = 0..3.

    ``d`` points to the codebook's 4 split columns, ``t`` to its thresholds (4 levels x 8 nodes).
    """
    cdef int g = xr[d[0]] > t[0]
    g = 2 * g + (xr[d[1]] > t[8 + g])
    g = 2 * g + (xr[d[2]] > t[16 + g])
    g = 2 * g + (xr[d[3]] > t[24 + g])
    return g


def encode_maddness(const float[:, ::1] x, const int64_t[:, ::1] dims, const float[:, :, ::1] thresholds,
                    uint8_t[:, ::1] codes, int num_threads):
    """MADDNESS hashing: for each codebook c, walk the 4 levels of a balanced binary tree.

    ``g = 0``; at level l: ``g = 2 g + (x[i, dims[c, l]] > thresholds[c, l, g])``.  The leaf
    ``g`` in [0, 16) is the code: four comparisons per codebook, no arithmetic on ``x``.
    ``dims`` is (C, 4) and ``thresholds`` (C, 4, 8) (level l uses its first 2**l entries).
    """
    cdef Py_ssize_t n = x.shape[0], D = x.shape[1], C = dims.shape[0]
    cdef Py_ssize_t i, c
    cdef const float *x0
    cdef const int64_t *d0
    cdef const float *t0
    cdef uint8_t *c0
    cdef const float *xr
    cdef const int64_t *d
    cdef const float *t
    cdef uint8_t *out
    if n == 0 or C == 0:
        return
    x0, d0, t0, c0 = &x[0, 0], &dims[0, 0], &thresholds[0, 0, 0], &codes[0, 0]
    for i in prange(n, nogil=True, schedule="dynamic", chunksize=1024, num_threads=num_threads):
        # per-row private pointers: the byte stores below cannot alias them, so they stay in registers
        xr, d, t, out = x0 + i * D, d0, t0, c0 + i * C
        for c in range(C):
            out[c] = <uint8_t> _leaf(xr, d + 4 * c, t + 32 * c)


def encode_maddness_packed(const float[:, ::1] x, const int64_t[:, ::1] dims, const float[:, :, ::1] thresholds,
                           uint8_t[:, :, ::1] packed, int num_threads):
    """:func:`encode_maddness` writing straight into the 4-bit fast-scan layout (see :func:`pack_4bit`).

    Row i = 32 b + r goes to byte s = 2r (r < 16) or 2(r - 16) + 1 of block b; codebook 2p to the
    low nibble of pair p, 2p + 1 to the high nibble.  Each byte belongs to one row, so threads
    never write the same byte.  ``packed`` is (nblocks, ceil(C/2), 32).
    """
    cdef Py_ssize_t n = x.shape[0], D = x.shape[1], C = dims.shape[0], P = packed.shape[1]
    cdef Py_ssize_t i, c, r
    cdef int lo, hi
    cdef const float *x0
    cdef const int64_t *d0
    cdef const float *t0
    cdef uint8_t *p0
    cdef const float *xr
    cdef const int64_t *d
    cdef const float *t
    cdef uint8_t *out
    if n == 0 or C == 0:
        return
    x0, d0, t0, p0 = &x[0, 0], &dims[0, 0], &thresholds[0, 0, 0], &packed[0, 0, 0]
    for i in prange(n, nogil=True, schedule="dynamic", chunksize=1024, num_threads=num_threads):
        r = i % 32
        # byte s of pair p in block b is p0[(b * P + p) * 32 + s]
        out = p0 + (i // 32) * P * 32 + (2 * r if r < 16 else 2 * (r - 16) + 1)
        xr, d, t = x0 + i * D, d0, t0
        for c in range(0, C, 2):
            lo = _leaf(xr, d + 4 * c, t + 32 * c)
            hi = _leaf(xr, d + 4 * (c + 1), t + 32 * (c + 1)) if c + 1 < C else 0
            out[(c // 2) * 32] = <uint8_t> (lo | (hi << 4))


# --------------------------------------------------------------------- the scan, reference loops

def scan_float(const uint8_t[:, ::1] codes, const float[:, :, ::1] tables, float[:, :] out, int num_threads):
    """``out[q, i] = sum_m tables[q, m, codes[i, m]]``, summed in float32 in the order m = 0, 1, ..."""
    cdef Py_ssize_t N = codes.shape[0], M = codes.shape[1], nq = tables.shape[0]
    cdef Py_ssize_t i, q, m
    cdef float s
    if N == 0:
        return
    for i in prange(N, nogil=True, schedule="static", num_threads=num_threads):
        for q in range(nq):
            s = 0.0
            for m in range(M):
                s = s + tables[q, m, codes[i, m]]
            out[q, i] = s


def scan_u8(const uint8_t[:, ::1] codes, const uint8_t[:, :, ::1] tables, uint16_t[:, :] out, int num_threads):
    """``out[q, i] = sum_m tables[q, m, codes[i, m]]``, exact (the caller checked M * 255 < 2**16)."""
    cdef Py_ssize_t N = codes.shape[0], M = codes.shape[1], nq = tables.shape[0]
    cdef Py_ssize_t i, q, m
    cdef unsigned s
    if N == 0:
        return
    for i in prange(N, nogil=True, schedule="static", num_threads=num_threads):
        for q in range(nq):
            s = 0
            for m in range(M):
                s = s + tables[q, m, codes[i, m]]
            out[q, i] = <uint16_t> s


def pack_4bit(const uint8_t[:, ::1] codes, uint8_t[:, :, ::1] packed):
    """Write 4-bit codes (N, M) into the fast-scan layout ``packed`` (nblocks, npairs, 32), zeroed.

    Row i = 32 b + r goes to byte s = 2r (r < 16) or 2(r - 16) + 1 (r >= 16) of block b;
    subspace 2p to the low nibble of pair p, subspace 2p + 1 to the high nibble.
    """
    cdef Py_ssize_t N = codes.shape[0], M = codes.shape[1]
    cdef Py_ssize_t i, m, b, r, s
    with nogil:
        for i in range(N):
            b = i // 32
            r = i % 32
            s = 2 * r if r < 16 else 2 * (r - 16) + 1
            for m in range(M):
                if m % 2 == 0:
                    packed[b, m // 2, s] = packed[b, m // 2, s] | codes[i, m]
                else:
                    packed[b, m // 2, s] = packed[b, m // 2, s] | (codes[i, m] << 4)


# ------------------------------------------------------------------------- the scan, fast paths

#: rows per parallel chunk of the fast scans (a multiple of 32)
cdef enum:
    CHUNK_ROWS = 2048


def fastscan4(const uint8_t[:, :, ::1] packed, const uint8_t[:, :, ::1] tables, uint16_t[:, ::1] out,
              Py_ssize_t N, int num_threads, bint simd, bint stream):
    """4-bit scan of ``packed`` (nblocks, P, 32) with tables (nq, 2P, 16): ``out[q, i]`` for i < N."""
    cdef int64_t nblocks = packed.shape[0], P = packed.shape[1], nq = tables.shape[0]
    cdef int64_t per = CHUNK_ROWS // 32, nchunks = (nblocks + per - 1) // per, c, b1
    cdef int64_t ldo = out.strides[0] // out.itemsize     # row stride in elements
    if N == 0 or nq == 0 or P == 0:
        return
    for c in prange(nchunks, nogil=True, schedule="dynamic", num_threads=num_threads):
        b1 = min((c + 1) * per, nblocks)
        qr_fastscan4(&packed[0, 0, 0], P, &tables[0, 0, 0], nq, &out[0, 0], ldo, N, c * per, b1, simd, stream,
                     NULL, NULL, NULL)


def fastscan4_float(const uint8_t[:, :, ::1] packed, const uint8_t[:, :, ::1] tables, const float[::1] mul,
                    const float[::1] add, float[:, ::1] out, Py_ssize_t N, int num_threads, bint simd, bint stream):
    """As :func:`fastscan4`, writing ``out[q, i] = sum * mul[q] + add[q]`` in float32."""
    cdef int64_t nblocks = packed.shape[0], P = packed.shape[1], nq = tables.shape[0]
    cdef int64_t per = CHUNK_ROWS // 32, nchunks = (nblocks + per - 1) // per, c, b1
    cdef int64_t ldo = out.strides[0] // out.itemsize     # row stride in elements
    if N == 0 or nq == 0 or P == 0:
        return
    for c in prange(nchunks, nogil=True, schedule="dynamic", num_threads=num_threads):
        b1 = min((c + 1) * per, nblocks)
        qr_fastscan4(&packed[0, 0, 0], P, &tables[0, 0, 0], nq, NULL, ldo, N, c * per, b1, simd, stream,
                     &mul[0], &add[0], &out[0, 0])


def scan_qmajor(const uint8_t[:, ::1] codes, const uint8_t[:, :, ::1] tt, Py_ssize_t nq, uint16_t[:, ::1] out_t,
                int num_threads, bint simd, bint stream):
    """Scan with queries innermost: tables ``tt`` (M, ksub, nqp), result ``out_t[i, q]`` (N, >= nq)."""
    cdef int64_t N = codes.shape[0], M = codes.shape[1], ksub = tt.shape[1], nqp = tt.shape[2]
    cdef int64_t nchunks = (N + CHUNK_ROWS - 1) // CHUNK_ROWS, c, i1
    cdef int64_t ldo = out_t.strides[0] // out_t.itemsize
    if N == 0 or nq == 0 or M == 0:
        return
    for c in prange(nchunks, nogil=True, schedule="dynamic", num_threads=num_threads):
        i1 = min((c + 1) * CHUNK_ROWS, N)
        qr_scan_qmajor(&codes[0, 0], M, ksub, &tt[0, 0, 0], nqp, nq, &out_t[0, 0], ldo, c * CHUNK_ROWS, i1,
                       simd, stream)
