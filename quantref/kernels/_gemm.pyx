# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
r"""The integer matmul core, step by step: an optimisation ladder you can call.

Every rung computes the same thing as ``matmul_core`` in ``_int_matmul.pyx``::

    out[i, j] = sum_k a[i, k] * bt[j, k]        (int32, exact)

with ``a`` (M x K) and ``bt`` (N x K, that is ``b`` transposed) C-contiguous ``uint8`` or
``int8`` arrays and ``out`` an (M x N) C-contiguous ``int32`` array that is overwritten.  Like
``matmul_core`` these functions check nothing: :mod:`quantref.kernels.int_matmul` checks dtypes,
shapes, contiguity and, above all, that ``K <= max_safe_k(...)`` so that no int32 partial sum of
the product can overflow (signed overflow is undefined behaviour in C).  They release the GIL for
the O(MNK) work.

The ladder
----------
1. :func:`core_naive` -- the textbook triple loop ``i, j, k`` over ``b`` in its natural (K x N)
   layout: the inner loop strides through memory by N bytes, so it cannot be vectorised.
2. :func:`core_packed` -- ``b`` stored transposed, so the inner loop is a contiguous dot product
   of two byte vectors, and the operands converted to a *form* the compiler vectorises well
   (below).
3. :func:`core_register_blocked` -- a 4 x 4 tile of outputs per pass over ``k``: every byte loaded
   is used 4 times, from registers.
4. :func:`core_cache_blocked` -- plus blocking over N (``nc``), K (``kc``) and M (``mc``), so that
   an (``nc`` x ``kc``) block of ``b`` stays in L2 while the 4-row strips of ``a`` pass over it.
5. :func:`core_threaded` -- plus OpenMP threads sharing the (``mc`` x ``nc``) blocks of ``out``
   (``num_threads``).

All rungs share the micro-kernels (4x4, 4x1, 1x4 and 1x1 tiles of dot products) and differ only
in the loops around them, so the ladder measures loop structure, not different arithmetic.
Rung 1 copies ``bt`` back to ``b`` (K x N) first: it shows the layout one starts from.

Forms: what the inner loop multiplies
-------------------------------------
The compiler (gcc -O3 -march=native) turns ``acc += (int)x[k] * (int)y[k]`` into SIMD code, but
*which* code depends on the element types and on the CPU:

* ``"u8s8"`` -- ``uint8 x int8``.  With AVX-512 VNNI (or AVX-VNNI) gcc emits ``vpdpbusd``: 64
  byte products summed into int32 lanes per instruction.  Only the *mixed-sign* pair has that
  instruction, so same-sign inputs are shifted by 128 first (below).  Without VNNI gcc widens
  the bytes and multiplies in 16 bits (``vpmullw``): slow.
* ``"i16"`` -- ``a`` widened to ``int16`` once (O(MK) work), ``b`` read as bytes.  gcc emits
  ``vpmaddwd`` (16 products summed pairwise into int32 per 256-bit instruction), the fastest exact
  integer multiply on AVX2 machines without VNNI.  Any sign combination works directly.  (The
  byte instruction ``vpmaddubsw`` does twice the work but saturates at int16, so it is not
  exact.)  On Zen 3, ``vpmaddwd`` issues once per cycle: 16 multiply-adds per cycle, exactly the
  float32 FMA peak (2 x 8), so without VNNI int8 can only match float32, not beat it.

``DEFAULT_FORM`` is ``"u8s8"`` when this module was compiled for a CPU with VNNI and ``"i16"``
otherwise.  Both give bit-identical results on every machine (only the speed differs), and both
are tested everywhere.

The shift to mixed signs (form ``"u8s8"``)
------------------------------------------
For ``int8 x int8`` we multiply ``a' = a + 128`` (stored as uint8, the bit pattern ``a ^ 0x80``)
by ``b`` and correct::

    sum_k a b = sum_k a' b - 128 * sum_k b          (the column sums of b)

For ``uint8 x uint8`` we use ``a'' = a - 128`` (int8) instead: ``sum_k a b = sum_k a'' b + 128 *
sum_k b``.  Whichever of ``a`` and ``b`` is smaller (M <= N: ``a``) gets shifted; shifting ``b``
instead corrects with the row sums of ``a``.  Mixed-sign inputs (``uint8 x int8`` and ``int8 x
uint8``) need no shift at all.

Overflow: a shifted term is at most ``255 * 128 = 32,640`` in magnitude, so a shifted int32 sum is
safe for ``K <= 65,793``.  ``max_safe_k`` allows ``K`` up to 131,071 for ``int8 x int8``, so every
rung sums ``k`` in blocks of at most ``KSAFE = 65,536`` (rungs 4-5: of ``kc``), corrects each
block's int32 sum in int64 with that block's row/column sums, and only then adds it to ``out``.
After each block ``out`` holds a partial sum of the *original* product, which the caller's
``max_safe_k`` check bounds; so nothing overflows anywhere.
"""
from cython.parallel cimport prange
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uintptr_t
from libc.stdlib cimport getenv

import numpy as np

from quantref.kernels.aligned import CACHE_LINE, HUGE_PAGE, aligned_empty

cimport numpy as cnp

cnp.import_array()

cdef extern from *:
    """
    #if defined(__AVX512VNNI__) || defined(__AVXVNNI__)
    #define QUANTREF_HAVE_VNNI 1
    #else
    #define QUANTREF_HAVE_VNNI 0
    #endif
    #ifdef _OPENMP
    #include <omp.h>
    #define QUANTREF_HAVE_OPENMP 1
    static int quantref_max_threads(void) { return omp_get_max_threads(); }
    #else
    #define QUANTREF_HAVE_OPENMP 0
    static int quantref_max_threads(void) { return 1; }
    #endif
    """
    const int QUANTREF_HAVE_VNNI
    const int QUANTREF_HAVE_OPENMP
    int quantref_max_threads() nogil

#: True when compiled for a CPU with AVX-512 VNNI or AVX-VNNI (``vpdpbusd``).
HAVE_VNNI = bool(QUANTREF_HAVE_VNNI)
#: True when compiled with OpenMP; without it ``core_threaded`` runs on one thread.
HAVE_OPENMP = bool(QUANTREF_HAVE_OPENMP)
FORMS = ("u8s8", "i16")
#: The form the fast rungs use unless told otherwise (see the module docstring).
DEFAULT_FORM = "u8s8" if HAVE_VNNI else "i16"
#: The rungs, slowest first.
LADDER = ("core_naive", "core_packed", "core_register_blocked", "core_cache_blocked", "core_threaded")
cdef enum:
    _KSAFE = 65536
#: Largest k-block whose shifted int32 sum cannot overflow: 65,536 * 32,640 < 2^31.
KSAFE = _KSAFE
#: Default block sizes of rungs 4-5.  A task (the unit of work of a thread) is an (MC x NC)
#: block of out; k runs in blocks of KC.  An (NC x KC) block of b (256 KiB at 64 x 4096) stays in
#: L2 while the 4-row strips of a pass over it.  Long k-blocks matter on the dot-product form:
#: every 4 x 4 tile ends with 16 horizontal reductions, a fixed cost per k-block.  Tuned (noisily)
#: on Zen 3 with the "i16" form; for "u8s8" on a VNNI CPU, which computes 4x faster and so needs
#: 4x the bytes per cycle, KC is halved so that a 4-row strip of a stays in L1 (a reasoned guess).
MC = 64
NC = 64
#: ``core_threaded`` uses no more threads than M*N*K / MIN_MACS_PER_THREAD (about 20 us each).
MIN_MACS_PER_THREAD = 1 << 21
KC = 2048 if QUANTREF_HAVE_VNNI else 4096

ctypedef fused a_t:
    uint8_t
    int8_t

ctypedef fused b_t:
    uint8_t
    int8_t

ctypedef fused x_t:     # the left operand as the inner loop sees it (a, converted to a form)
    uint8_t
    int8_t
    int16_t

ctypedef fused y_t:     # the right operand (bt, possibly shifted)
    uint8_t
    int8_t

cdef struct Corr:
    # Correction added to each k-block's int32 sum: c * sa[blk, i] + c * sb[blk, j] (see above).
    int64_t c
    const int32_t* sa   # (n_kblocks, M) row sums of a per k-block, or NULL
    const int32_t* sb   # (n_kblocks, N) row sums of bt (= column sums of b) per k-block, or NULL


# ------------------------------------------------------------------------------------------------
# Rung 1: the textbook loop
# ------------------------------------------------------------------------------------------------

def core_naive(const a_t[:, ::1] a, const b_t[:, ::1] bt, int32_t[:, ::1] out):
    """Rung 1: ``out[i, j] = sum_k a[i, k] * b[k, j]``, the i-j-k triple loop on b as (K, N).

    ``b`` is first put back into its natural row-major (K x N) layout, so the inner ``k`` loop
    jumps N bytes between consecutive loads: no SIMD, one cache line per product for large N.
    """
    cdef Py_ssize_t M = a.shape[0], N = bt.shape[0], K = a.shape[1]
    cdef Py_ssize_t i, j, k
    cdef int32_t acc
    if bt.shape[1] != K or out.shape[0] != M or out.shape[1] != N:
        raise ValueError(f"a is ({M}, {K}), bt is ({bt.shape[0]}, {bt.shape[1]}) and out is "
                         f"({out.shape[0]}, {out.shape[1]}): bt must be (N, K) and out (M, N)")
    cdef const b_t[:, ::1] b = np.ascontiguousarray(np.asarray(bt).T)
    with nogil:
        for i in range(M):
            for j in range(N):
                acc = 0
                for k in range(K):
                    acc = acc + <int32_t>a[i, k] * <int32_t>b[k, j]
                out[i, j] = acc


# ------------------------------------------------------------------------------------------------
# Micro-kernels: dot products of rows of X with rows of Y over kc contiguous k
# ------------------------------------------------------------------------------------------------

cdef inline int32_t _mul(x_t u, y_t v) noexcept nogil:
    """``u * v`` as the inner loops want it (resolved at compile time per type pair)."""
    if (x_t is uint8_t and y_t is int8_t) or (x_t is int8_t and y_t is uint8_t):
        # Mixed signs: |u * v| <= 255 * 128 = 32,640, so the product is exact in int16.  Saying
        # so lets gcc 12 use vpdpbusd for *every* accumulator of a tile; with an int32 product
        # it widens one of the 16 through 16 bits (vpdpwssd), a pattern-matching quirk.
        return <int16_t>(<int32_t>u * <int32_t>v)
    else:
        return <int32_t>u * <int32_t>v


cdef inline void _k1x1(const x_t* X, Py_ssize_t ldx, const y_t* Y, Py_ssize_t ldy,
                       Py_ssize_t kc, int32_t* acc) noexcept nogil:
    cdef int32_t c00 = 0
    cdef Py_ssize_t k
    for k in range(kc):
        c00 = c00 + _mul(X[k], Y[k])
    acc[0] = c00


cdef inline void _k1x4(const x_t* X, Py_ssize_t ldx, const y_t* Y, Py_ssize_t ldy,
                       Py_ssize_t kc, int32_t* acc) noexcept nogil:
    cdef const y_t* y0 = Y
    cdef const y_t* y1 = Y + ldy
    cdef const y_t* y2 = Y + 2 * ldy
    cdef const y_t* y3 = Y + 3 * ldy
    cdef int32_t c00 = 0, c01 = 0, c02 = 0, c03 = 0
    cdef x_t u0
    cdef Py_ssize_t k
    for k in range(kc):
        u0 = X[k]
        c00 = c00 + _mul(u0, y0[k])
        c01 = c01 + _mul(u0, y1[k])
        c02 = c02 + _mul(u0, y2[k])
        c03 = c03 + _mul(u0, y3[k])
    acc[0] = c00; acc[1] = c01; acc[2] = c02; acc[3] = c03


cdef inline void _k4x1(const x_t* X, Py_ssize_t ldx, const y_t* Y, Py_ssize_t ldy,
                       Py_ssize_t kc, int32_t* acc) noexcept nogil:
    cdef const x_t* x0 = X
    cdef const x_t* x1 = X + ldx
    cdef const x_t* x2 = X + 2 * ldx
    cdef const x_t* x3 = X + 3 * ldx
    cdef int32_t c00 = 0, c10 = 0, c20 = 0, c30 = 0
    cdef y_t v0
    cdef Py_ssize_t k
    for k in range(kc):
        v0 = Y[k]
        c00 = c00 + _mul(x0[k], v0)
        c10 = c10 + _mul(x1[k], v0)
        c20 = c20 + _mul(x2[k], v0)
        c30 = c30 + _mul(x3[k], v0)
    acc[0] = c00; acc[1] = c10; acc[2] = c20; acc[3] = c30


cdef inline void _k4x4(const x_t* X, Py_ssize_t ldx, const y_t* Y, Py_ssize_t ldy,
                       Py_ssize_t kc, int32_t* acc) noexcept nogil:
    # 16 accumulators; each loaded element of X is used 4 times and so is each byte of Y.
    cdef const x_t* x0 = X
    cdef const x_t* x1 = X + ldx
    cdef const x_t* x2 = X + 2 * ldx
    cdef const x_t* x3 = X + 3 * ldx
    cdef const y_t* y0 = Y
    cdef const y_t* y1 = Y + ldy
    cdef const y_t* y2 = Y + 2 * ldy
    cdef const y_t* y3 = Y + 3 * ldy
    cdef int32_t c00 = 0, c01 = 0, c02 = 0, c03 = 0
    cdef int32_t c10 = 0, c11 = 0, c12 = 0, c13 = 0
    cdef int32_t c20 = 0, c21 = 0, c22 = 0, c23 = 0
    cdef int32_t c30 = 0, c31 = 0, c32 = 0, c33 = 0
    cdef x_t u0, u1, u2, u3
    cdef y_t v0, v1, v2, v3
    cdef Py_ssize_t k
    for k in range(kc):
        u0 = x0[k]; u1 = x1[k]; u2 = x2[k]; u3 = x3[k]
        v0 = y0[k]; v1 = y1[k]; v2 = y2[k]; v3 = y3[k]
        c00 = c00 + _mul(u0, v0); c01 = c01 + _mul(u0, v1); c02 = c02 + _mul(u0, v2); c03 = c03 + _mul(u0, v3)
        c10 = c10 + _mul(u1, v0); c11 = c11 + _mul(u1, v1); c12 = c12 + _mul(u1, v2); c13 = c13 + _mul(u1, v3)
        c20 = c20 + _mul(u2, v0); c21 = c21 + _mul(u2, v1); c22 = c22 + _mul(u2, v2); c23 = c23 + _mul(u2, v3)
        c30 = c30 + _mul(u3, v0); c31 = c31 + _mul(u3, v1); c32 = c32 + _mul(u3, v2); c33 = c33 + _mul(u3, v3)
    acc[0] = c00; acc[1] = c01; acc[2] = c02; acc[3] = c03
    acc[4] = c10; acc[5] = c11; acc[6] = c12; acc[7] = c13
    acc[8] = c20; acc[9] = c21; acc[10] = c22; acc[11] = c23
    acc[12] = c30; acc[13] = c31; acc[14] = c32; acc[15] = c33


cdef inline void _store(int32_t* out, Py_ssize_t M, Py_ssize_t N, Py_ssize_t i, Py_ssize_t j,
                        int mr, int nr, const int32_t* acc, bint first, const Corr* corr,
                        Py_ssize_t blk) noexcept nogil:
    """Correct an mr x nr tile of k-block sums (in int64) and write or add it into ``out``."""
    cdef int r, s
    cdef int64_t v
    cdef int32_t* o
    if corr.sa == NULL and corr.sb == NULL and first:      # the common case: a plain store
        for r in range(mr):
            o = out + (i + r) * N + j
            for s in range(nr):
                o[s] = acc[r * nr + s]
        return
    for r in range(mr):
        o = out + (i + r) * N + j
        for s in range(nr):
            v = acc[r * nr + s]
            if corr.sa != NULL:
                v = v + corr.c * corr.sa[blk * M + i + r]
            if corr.sb != NULL:
                v = v + corr.c * corr.sb[blk * N + j + s]
            if not first:
                v = v + o[s]
            # v is now a partial sum of the original product: it fits (max_safe_k).
            o[s] = <int32_t>v


cdef void _block(const x_t* X, const y_t* Y, int32_t* out, Py_ssize_t M, Py_ssize_t N,
                 Py_ssize_t K, Py_ssize_t i0, Py_ssize_t i1, Py_ssize_t j0, Py_ssize_t j1,
                 Py_ssize_t p0, Py_ssize_t kc, Py_ssize_t blk, const Corr* corr,
                 int tiled) noexcept nogil:
    """out[i0:i1, j0:j1] (+)= the k-block [p0, p0+kc) of the product, tile by tile."""
    cdef int32_t acc[16]
    cdef bint first = p0 == 0
    cdef Py_ssize_t i = i0, j
    if tiled:
        while i + 4 <= i1:
            j = j0
            while j + 4 <= j1:
                _k4x4(X + i * K + p0, K, Y + j * K + p0, K, kc, acc)
                _store(out, M, N, i, j, 4, 4, acc, first, corr, blk)
                j += 4
            while j < j1:
                _k4x1(X + i * K + p0, K, Y + j * K + p0, K, kc, acc)
                _store(out, M, N, i, j, 4, 1, acc, first, corr, blk)
                j += 1
            i += 4
        while i < i1:
            j = j0
            while j + 4 <= j1:
                _k1x4(X + i * K + p0, K, Y + j * K + p0, K, kc, acc)
                _store(out, M, N, i, j, 1, 4, acc, first, corr, blk)
                j += 4
            while j < j1:
                _k1x1(X + i * K + p0, K, Y + j * K + p0, K, kc, acc)
                _store(out, M, N, i, j, 1, 1, acc, first, corr, blk)
                j += 1
            i += 1
    else:
        while i < i1:
            for j in range(j0, j1):
                _k1x1(X + i * K + p0, K, Y + j * K + p0, K, kc, acc)
                _store(out, M, N, i, j, 1, 1, acc, first, corr, blk)
            i += 1


cdef void _unblocked(const x_t* X, const y_t* Y, int32_t* out, Py_ssize_t M, Py_ssize_t N,
                     Py_ssize_t K, const Corr* corr, int tiled) noexcept nogil:
    """Rungs 2-3: the whole (M, N) range per pass; k only split into KSAFE blocks."""
    cdef Py_ssize_t p0 = 0, blk = 0
    while p0 < K:
        _block(X, Y, out, M, N, K, 0, M, 0, N, p0, min(<Py_ssize_t>_KSAFE, K - p0), blk, corr, tiled)
        p0 += _KSAFE
        blk += 1


cdef inline void _task(Py_ssize_t t, const x_t* X, const y_t* Y, int32_t* out, Py_ssize_t M,
                       Py_ssize_t N, Py_ssize_t K, const Corr* corr, Py_ssize_t mc,
                       Py_ssize_t nc, Py_ssize_t kc, Py_ssize_t nib) noexcept nogil:
    """One (mc x nc) block of out over all of k: the unit of work of rungs 4-5."""
    cdef Py_ssize_t jb = t // nib, ib = t % nib
    cdef Py_ssize_t i0 = ib * mc, j0 = jb * nc
    cdef Py_ssize_t i1 = min(M, i0 + mc), j1 = min(N, j0 + nc)
    cdef Py_ssize_t p0 = 0, blk = 0
    while p0 < K:
        _block(X, Y, out, M, N, K, i0, i1, j0, j1, p0, min(kc, K - p0), blk, corr, 1)
        p0 += kc
        blk += 1


cdef void _blocked(const x_t* X, const y_t* Y, int32_t* out, Py_ssize_t M, Py_ssize_t N,
                   Py_ssize_t K, const Corr* corr, Py_ssize_t mc, Py_ssize_t nc,
                   Py_ssize_t kc, int num_threads) noexcept nogil:
    """Rungs 4-5: tasks = (mc x nc) blocks of out, consecutive tasks share a block of b."""
    cdef Py_ssize_t nib = (M + mc - 1) // mc, njb = (N + nc - 1) // nc
    cdef Py_ssize_t t
    if num_threads <= 1:
        for t in range(nib * njb):
            _task(t, X, Y, out, M, N, K, corr, mc, nc, kc, nib)
    else:
        for t in prange(nib * njb, num_threads=num_threads, schedule="dynamic"):
            _task(t, X, Y, out, M, N, K, corr, mc, nc, kc, nib)


cdef void _go(const x_t* X, const y_t* Y, int32_t* out, Py_ssize_t M, Py_ssize_t N,
              Py_ssize_t K, const Corr* corr, int mode, Py_ssize_t mc, Py_ssize_t nc,
              Py_ssize_t kc, int num_threads) noexcept nogil:
    if mode == 2:
        _blocked(X, Y, out, M, N, K, corr, mc, nc, kc, num_threads)
    else:
        _unblocked(X, Y, out, M, N, K, corr, mode)


def _run(cnp.ndarray X, cnp.ndarray Y, cnp.ndarray out, sa, sb, int64_t c, int mode,
         Py_ssize_t mc, Py_ssize_t nc, Py_ssize_t kc, int num_threads):
    """Typed entry point (mode 0: 1x1 tiles, 1: 4x4 tiles, 2: blocked, + threads).

    Dispatches on the dtypes by hand (cheaper than a fused ``def``): X is uint8, int8 or int16,
    Y uint8 or int8, all C-contiguous; sa/sb are C-contiguous int32 or None.
    """
    cdef Py_ssize_t M = X.shape[0], N = Y.shape[0], K = X.shape[1]
    cdef Corr corr
    cdef const void* px = cnp.PyArray_DATA(X)
    cdef const void* py = cnp.PyArray_DATA(Y)
    cdef int32_t* po = <int32_t*>cnp.PyArray_DATA(out)
    cdef int xt = cnp.PyArray_TYPE(X), yt = cnp.PyArray_TYPE(Y)
    corr.c = c
    corr.sa = <const int32_t*>cnp.PyArray_DATA(sa) if sa is not None else NULL
    corr.sb = <const int32_t*>cnp.PyArray_DATA(sb) if sb is not None else NULL
    with nogil:
        if yt == cnp.NPY_UINT8:
            if xt == cnp.NPY_UINT8:
                _go(<const uint8_t*>px, <const uint8_t*>py, po, M, N, K, &corr, mode, mc, nc, kc, num_threads)
            elif xt == cnp.NPY_INT8:
                _go(<const int8_t*>px, <const uint8_t*>py, po, M, N, K, &corr, mode, mc, nc, kc, num_threads)
            else:
                _go(<const int16_t*>px, <const uint8_t*>py, po, M, N, K, &corr, mode, mc, nc, kc, num_threads)
        else:
            if xt == cnp.NPY_UINT8:
                _go(<const uint8_t*>px, <const int8_t*>py, po, M, N, K, &corr, mode, mc, nc, kc, num_threads)
            elif xt == cnp.NPY_INT8:
                _go(<const int8_t*>px, <const int8_t*>py, po, M, N, K, &corr, mode, mc, nc, kc, num_threads)
            else:
                _go(<const int16_t*>px, <const int8_t*>py, po, M, N, K, &corr, mode, mc, nc, kc, num_threads)


# ------------------------------------------------------------------------------------------------
# Python-level rungs 2-5: convert the operands to a form, then run
# ------------------------------------------------------------------------------------------------

def _block_sums(x, Py_ssize_t kb):
    """int32 (n_kblocks, rows): sums of each row of ``x`` over k-blocks of length ``kb``."""
    K = x.shape[1]
    return np.stack([x[:, p:p + kb].sum(axis=1, dtype=np.int32) for p in range(0, K, kb)])


def prepare(a, bt, form=None, Py_ssize_t kb=KSAFE):
    """Convert ``(a, bt)`` to ``form``: return ``(X, Y, sa, sb, c)`` for the kernels.

    ``X @ Y.T`` plus the per-k-block corrections ``c * sa[blk, i] + c * sb[blk, j]`` equals
    ``a @ bt.T``; ``sa``/``sb`` are None when unused.  Exposed for teaching and tests.
    """
    form = DEFAULT_FORM if form is None else form
    if form not in FORMS:
        raise ValueError(f"form={form!r} is unknown; use one of {FORMS}")
    if kb < 1 or kb > KSAFE:
        raise ValueError(f"the k-block must lie in [1, {KSAFE}], got {kb}")
    if form == "i16":
        return a.astype(np.int16), bt, None, None, 0
    if a.dtype != bt.dtype:          # uint8 x int8 or int8 x uint8: already mixed-sign
        return a, bt, None, None, 0
    flipped = np.uint8 if a.dtype == np.int8 else np.int8
    c = -128 if a.dtype == np.int8 else 128
    if a.shape[0] <= bt.shape[0]:   # shift the smaller operand: here a
        X = (a.view(np.uint8) ^ np.uint8(0x80)).view(flipped)
        return X, bt, None, _block_sums(bt, kb), c
    Y = (bt.view(np.uint8) ^ np.uint8(0x80)).view(flipped)
    return a, Y, _block_sums(a, kb), None, c


_CODES = (np.dtype(np.uint8), np.dtype(np.int8))


def check_operands(a, bt, out):
    """The boundary of rungs 1-5: ``a`` (M x K) and ``bt`` (N x K) C-contiguous uint8/int8 codes,
    ``out`` a writable C-contiguous int32 (M x N) array; TypeError/ValueError naming the fix.

    (The kernels read raw pointers: a wrong shape or dtype would read or write out of bounds.)
    """
    for name, x, dtypes in (("a", a, _CODES), ("bt", bt, _CODES), ("out", out, (np.dtype(np.int32),))):
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{name} must be a NumPy array, got {type(x).__name__}")
        if x.dtype not in dtypes:
            raise TypeError(f"{name} has dtype {x.dtype}; it must be " + " or ".join(d.name for d in dtypes))
        if x.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got shape {x.shape}")
        if not x.flags.c_contiguous:
            raise ValueError(f"{name} must be C-contiguous: pass np.ascontiguousarray({name})")
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    if bt.shape[1] != a.shape[1]:
        raise ValueError(f"a is {a.shape} and bt is {bt.shape}: both must have K = a.shape[1] columns "
                         f"(bt is b transposed, N x K)")
    if out.shape != (a.shape[0], bt.shape[0]):
        raise ValueError(f"out has shape {out.shape}; it must be (M, N) = {(a.shape[0], bt.shape[0])}")


def _rung(a, bt, out, int mode, form, Py_ssize_t mc, Py_ssize_t nc, Py_ssize_t kc,
          int num_threads):
    check_operands(a, bt, out)
    M, K = a.shape
    N = bt.shape[0]
    if M == 0 or N == 0:
        return
    if K == 0:
        out[...] = 0
        return
    X, Y, sa, sb, c = prepare(a, bt, form, kc)
    _run(X, Y, out, sa, sb, c, mode, mc, nc, kc, num_threads)


def block_sizes(Py_ssize_t M, Py_ssize_t N, Py_ssize_t K, mc=None, nc=None, kc=None,
                int num_threads=1):
    """The ``(mc, nc, kc)`` rungs 4-5 use for this shape; None picks the default.

    ``kc`` defaults to ``KC``, except when a task has at most 4 rows of ``a`` (GEMV-like
    shapes): then nothing reuses a block of ``b`` and ``kc`` is all of K (at most ``KSAFE``).
    With several threads, ``nc`` is halved (down to 16) until there are at least two
    tasks per thread.
    """
    mc = MC if mc is None else mc
    nc = NC if nc is None else nc
    if kc is None:
        kc = KC if min(M, mc) > 4 else max(K, 1)
    if mc < 1 or nc < 1 or kc < 1:
        raise ValueError(f"block sizes must be positive, got mc={mc}, nc={nc}, kc={kc}")
    kc = min(kc, KSAFE)
    if num_threads > 1:
        nib = (M + mc - 1) // mc
        while nc > 16 and nib * ((N + nc - 1) // nc) < 2 * num_threads:
            nc //= 2
    return mc, nc, kc


def core_packed(a, bt, out, *, form=None):
    """Rung 2: one contiguous dot product per output, ``a[i, :] . bt[j, :]``, in ``form``."""
    _rung(a, bt, out, 0, form, 1, 1, KSAFE, 1)


def core_register_blocked(a, bt, out, *, form=None):
    """Rung 3: 4 x 4 output tiles per pass over k (edges: 4x1, 1x4, 1x1), no cache blocking."""
    _rung(a, bt, out, 1, form, 1, 1, KSAFE, 1)


def core_cache_blocked(a, bt, out, *, form=None, mc=None, nc=None, kc=None):
    """Rung 4: 4 x 4 tiles inside (mc x nc) blocks of out, k in blocks of ``kc``; one thread.

    Block sizes default to :func:`block_sizes`.
    """
    check_operands(a, bt, out)
    mc, nc, kc = block_sizes(a.shape[0], bt.shape[0], a.shape[1], mc, nc, kc, 1)
    _rung(a, bt, out, 2, form, mc, nc, kc, 1)


def core_threaded(a, bt, out, int num_threads=0, *, form=None, mc=None, nc=None, kc=None,
                  min_macs_per_thread=MIN_MACS_PER_THREAD):
    """Rung 5: rung 4 with the (mc x nc) blocks shared among ``num_threads`` OpenMP threads.

    ``num_threads=0`` means OpenMP's default (``OMP_NUM_THREADS``, else every core).  Without
    OpenMP (see ``HAVE_OPENMP``) it runs on one thread, and small products use fewer threads:
    at most M*N*K / ``min_macs_per_thread`` (0: no limit).  Blocks are handed out dynamically, which copes
    better with a busy machine than a fixed split.
    """
    check_operands(a, bt, out)
    if num_threads <= 0:
        num_threads = quantref_max_threads()
    if not HAVE_OPENMP:
        num_threads = 1
    if min_macs_per_thread > 0:  # waking a thread costs tens of microseconds: give it enough work
        num_threads = max(1, min(num_threads, a.shape[0] * bt.shape[0] * a.shape[1] // min_macs_per_thread))
    mc, nc, kc = block_sizes(a.shape[0], bt.shape[0], a.shape[1], mc, nc, kc, num_threads)
    _rung(a, bt, out, 2, form, mc, nc, kc, num_threads)


def matmul_core(a, bt, out):
    """The top rung with its defaults: same contract as ``_int_matmul.matmul_core``."""
    core_threaded(a, bt, out)


# ------------------------------------------------------------------------------------------------
# Rung 6: pre-packed weights and instruction-set tiers (C micro-kernels in _gemm_tiers.h)
# ------------------------------------------------------------------------------------------------
# The rungs above leave the choice of instructions to the compiler, which (in a portable build)
# may only assume SSE2.  Rung 6 writes the inner loop with the CPU's int8 instructions, one
# micro-kernel per tier, each compiled with a function target attribute, and picks the tier at
# run time: the same binary runs everywhere and never executes an instruction the CPU lacks.
# ``b`` is packed once (``pack_b``), in the layout of vpdpbusd and of AMX B tiles, and ``a`` is
# read in place.  See _gemm_tiers.h for the layout and the modular (mod 2^32) epilogue.

cdef extern from "_gemm_tiers.h" nogil:
    enum:
        QR_NR
        QR_KALIGN
        QR_NTIERS
        QR_TIER_AMX
    int qr_allowed_tiers
    int qr_cpu_tiers()
    int qr_amx_request()
    void qr_pack(const int8_t* B, Py_ssize_t ldb, Py_ssize_t K, Py_ssize_t N, int8_t* out, Py_ssize_t Kp)
    int qr_gemm(int tier, const uint8_t* A, Py_ssize_t lda, int a_signed, Py_ssize_t M, Py_ssize_t K,
                const int8_t* Bp, Py_ssize_t Kp, Py_ssize_t N, const int32_t* colterm, const int32_t* zb,
                int32_t* C, Py_ssize_t ldc, int num_threads)
    double qr_peak_ops_per_iter(int tier)
    int qr_peak(int tier, long iters, int num_threads)

#: The instruction-set tiers of rung 6, lowest first; a tier's index is its number in the C code.
TIERS = ("scalar", "avx2", "avxvnni", "avx512vnni", "amx")
#: Columns per packed panel and the multiple K is padded to in the packed layout.
PANEL = QR_NR
K_ALIGN = QR_KALIGN

cdef int _cpu_mask = qr_cpu_tiers()
#: The tiers this CPU and OS support (AMX counted before the Linux permission request).
CPU_TIERS = tuple(t for i, t in enumerate(TIERS) if (_cpu_mask >> i) & 1)
#: "granted", "refused" (AMX tiles not usable: the tier is dropped) or "no AMX" (CPU/OS lacks it).
AMX_PERMISSION = "no AMX"
if (_cpu_mask >> QR_TIER_AMX) & 1:
    if qr_amx_request() == 0:
        AMX_PERMISSION = "granted"
    else:
        AMX_PERMISSION = "refused"
        _cpu_mask &= ~(1 << QR_TIER_AMX)
qr_allowed_tiers = _cpu_mask


def _hidden_by_env():
    """The tiers QUANTREF_HIDE_CPU_FEATURES names (comma-separated), as on a CPU without them."""
    import os
    names = [t.strip().lower() for t in os.environ.get("QUANTREF_HIDE_CPU_FEATURES", "").split(",") if t.strip()]
    for name in names:
        if name not in TIERS:
            raise ValueError(f"QUANTREF_HIDE_CPU_FEATURES names {name!r}, which is not a tier; the tiers are "
                             f"{', '.join(TIERS)}.")
    return tuple(n for n in names if n != "scalar")


#: Tiers hidden at import by QUANTREF_HIDE_CPU_FEATURES (read once, before any kernel runs).
HIDDEN = _hidden_by_env()
for _name in HIDDEN:
    qr_allowed_tiers &= ~(1 << TIERS.index(_name))


def allowed_tiers():
    """The tiers rung 6 may run in this process (the CPU's, minus refused AMX and hidden ones)."""
    return tuple(t for i, t in enumerate(TIERS) if (qr_allowed_tiers >> i) & 1)


def hide_tiers(names):
    """Treat the tiers ``names`` as absent in this process from now on (the scalar tier stays)."""
    global qr_allowed_tiers
    for name in names:
        if name not in TIERS:
            raise ValueError(f"unknown tier {name!r}; the tiers are {TIERS}")
        if name != "scalar":
            qr_allowed_tiers &= ~(1 << TIERS.index(name))


def _tier_index(tier):
    if tier not in TIERS:
        raise ValueError(f"tier={tier!r} is unknown; use one of {TIERS}")
    cdef int t = TIERS.index(tier)
    if not (qr_allowed_tiers >> t) & 1:
        raise ValueError(f"tier {tier!r} cannot run here: this process may run {allowed_tiers()} "
                         f"(the CPU supports {CPU_TIERS}; AMX permission: {AMX_PERMISSION}).")
    return t


def packed_k(Py_ssize_t K):
    """K rounded up to the packed layout's multiple (at least one block)."""
    return max(1, (K + QR_KALIGN - 1) // QR_KALIGN) * QR_KALIGN


def pack_b(const int8_t[:, ::1] b):
    """Pack int8 ``b`` (K x N) into the layout of rung 6: int8 (ceil(N/64), Kp/4, 256).

    ``out[p, q, 4*c + t] = b[4*q + t, 64*p + c]``, zeros outside ``b``.
    """
    cdef Py_ssize_t K = b.shape[0], N = b.shape[1]
    cdef Py_ssize_t Kp = packed_k(K), P = (N + QR_NR - 1) // QR_NR
    # 64-byte aligned: every row of an AMX tile and every zmm load of the panel is one cache line
    out = aligned_empty((P, Kp // 4, 4 * QR_NR), np.int8)
    cdef int8_t[:, :, ::1] o = out
    if P > 0:
        with nogil:
            qr_pack(&b[0, 0] if K > 0 else NULL, N, K, N, &o[0, 0, 0], Kp)
    return out


cdef extern from "Python.h":
    object PyUnicode_DecodeFSDefault(const char *s)


def environ_get(bytes name):
    """The value of the environment variable ``name`` (bytes), or None: the C library's ``getenv``.

    The same value as ``os.environ.get``, whose assignments and deletions reach the C environment
    (they call ``putenv`` and ``unsetenv``), decoded as ``os.environ`` decodes it.  One C call:
    ``os.environ`` is a mapping written in Python, and reading it costs ~9 us with the caches
    cold, as they are on every matmul whose weights stream from memory (measured).
    """
    cdef const char *value = getenv(name)
    return None if value == NULL else PyUnicode_DecodeFSDefault(value)


cdef Py_ssize_t _CACHE_LINE = CACHE_LINE, _HUGE_PAGE = HUGE_PAGE


cdef cnp.ndarray _aligned_int32(Py_ssize_t M, Py_ssize_t N):
    """``aligned_empty((M, N), np.int32)`` in C, by the same rule (a test holds the two together).

    In Python the same allocation costs 20-30 us with the caches cold, as a large product leaves
    them, and here 6 us, as much as a plain ``np.empty`` (measured).
    """
    cdef Py_ssize_t nbytes = M * N * 4
    cdef Py_ssize_t align = _HUGE_PAGE if nbytes >= _HUGE_PAGE else _CACHE_LINE
    cdef cnp.npy_intp n = nbytes + align
    cdef cnp.npy_intp dims[2]
    cdef cnp.ndarray raw = cnp.PyArray_EMPTY(1, &n, cnp.NPY_UINT8, 0)
    cdef char *data = <char *>cnp.PyArray_DATA(raw)
    data += (align - <uintptr_t>data % align) % align
    dims[0] = M
    dims[1] = N
    cdef cnp.ndarray arr = cnp.PyArray_SimpleNewFromData(2, dims, cnp.NPY_INT32, data)
    cnp.set_array_base(arr, raw)
    return arr


def aligned_int32(Py_ssize_t M, Py_ssize_t N):
    """The allocation of :func:`gemm_packed`'s output, for the test that holds it to aligned_empty."""
    return _aligned_int32(M, N)


def gemm_packed(const uint8_t[:, ::1] a, bint a_signed, const int8_t[:, :, ::1] packed, Py_ssize_t N,
                int32_t[:, ::1] out, const int32_t[::1] colterm=None, const int32_t[::1] zb=None,
                tier="auto", int num_threads=0):
    """Rung 6: ``out = a_u @ b + colterm[None, :] - rowsum(a_u)[:, None] * zb[None, :]`` (mod 2^32).

    ``a`` holds the bytes of the (M x K) codes: uint8 as they are, or int8 (``a_signed``) read as
    ``a_u = a + 128``; ``packed`` is ``pack_b(b)`` of int8 ``b`` (K x N).  ``colterm`` and ``zb``
    (int32, length N) are optional.  The result is exact whenever the true value fits in int32
    (the caller's ``max_safe_k`` check).  ``tier``: a name of :data:`TIERS` or "auto" (the
    highest allowed); ``num_threads <= 0``: every core (OpenMP's default).  ``out=None``: the
    function allocates the output (as ``aligned_empty``) and returns it; otherwise it returns None.
    """
    cdef Py_ssize_t M = a.shape[0], K = a.shape[1]
    cdef Py_ssize_t Kp = packed.shape[1] * 4
    if packed.shape[2] != 4 * QR_NR or Kp < K or Kp % QR_KALIGN or packed.shape[0] != (N + QR_NR - 1) // QR_NR:
        raise ValueError(f"packed has shape {tuple(packed.shape)[:3]}, which is not pack_b of a "
                         f"({K} x {N}) matrix; pack b with pack_b (or quantref.kernels.pack_weights).")
    cdef cnp.ndarray result = None
    if out is None:
        result = _aligned_int32(M, N)
        out = result
    elif out.shape[0] != M or out.shape[1] != N:
        raise ValueError(f"out has shape {tuple(out.shape)[:2]}; it must be ({M}, {N}).")
    if colterm is not None and colterm.shape[0] != N:
        raise ValueError(f"colterm has length {colterm.shape[0]}; it must have length N={N}.")
    if zb is not None and zb.shape[0] != N:
        raise ValueError(f"zb has length {zb.shape[0]}; it must have length N={N}.")
    cdef int t
    if tier == "auto":
        t = QR_NTIERS - 1
        while not (qr_allowed_tiers >> t) & 1:
            t -= 1
    else:
        t = _tier_index(tier)
    if M == 0 or N == 0:
        return result
    if K == 0:
        out[:, :] = 0
        if colterm is not None:
            np.asarray(out)[...] += np.asarray(colterm)[None, :]
        return result
    cdef const int32_t* pc = &colterm[0] if colterm is not None else NULL
    cdef const int32_t* pz = &zb[0] if zb is not None else NULL
    cdef int rc
    with nogil:
        rc = qr_gemm(t, &a[0, 0], K, a_signed, M, K, &packed[0, 0, 0], Kp, N, pc, pz, &out[0, 0], N,
                     num_threads)
    if rc == -1:
        raise ValueError(f"tier {TIERS[t]!r} cannot run here (allowed: {allowed_tiers()}).")
    if rc != 0:
        raise MemoryError("rung 6 could not allocate its padded copy of a")
    return result


def peak(tier, long iters, int num_threads=1):
    """Run ``tier``'s register-only peak loop ``iters`` times on ``num_threads`` threads.

    Returns the number of int8 operations done (2 per multiply-add); time the call to get the
    tier's peak.  Refuses (ValueError) a tier that may not run here or has no peak loop (scalar).
    """
    cdef int t = _tier_index(tier)
    cdef int n
    if qr_peak_ops_per_iter(t) == 0:
        raise ValueError(f"tier {tier!r} has no peak loop")
    if iters < 1:
        raise ValueError(f"iters must be at least 1, got {iters}")
    with nogil:
        n = qr_peak(t, iters, num_threads)
    return qr_peak_ops_per_iter(t) * iters * n
