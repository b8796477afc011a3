# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""Compiled lookup-table dequantization: ``out[i] = table[code_i]``.

Two kinds of kernel live here:

* ``lut_reference``: the plain loops the lecture reads, one code per iteration;
* ``lut``: the same lookups in ``_lut_helper.h`` (an AVX2 loop, chosen at run time, or a portable
  C loop giving identical results), run on ``num_threads`` threads over chunks of the codes.

Both trust their caller, :mod:`quantref.codebook.lut`, to have checked dtypes, sizes and that
``table`` has ``2**bits`` entries (so that no code can index outside it).
"""
from cython.parallel cimport prange
from libc.stdint cimport int64_t, uint8_t

cdef extern from "_lut_helper.h" nogil:
    int qr_lut_simd_available()
    int qr_lut_have_openmp()
    void qr_lut(const uint8_t *codes, int bits, const float *table, float *out, int64_t i0, int64_t i1,
                int simd, int stream)

#: True when the AVX2 path can run on this CPU.
SIMD_AVAILABLE = bool(qr_lut_simd_available())
#: True when compiled with OpenMP (otherwise ``num_threads`` has no effect).
HAVE_OPENMP = bool(qr_lut_have_openmp())

#: codes per parallel chunk (a multiple of 64 so that packed chunks start on a byte boundary)
cdef enum:
    CHUNK = 1 << 16


def lut_reference(const uint8_t[::1] codes, int bits, const float[::1] table, float[::1] out):
    """``out[i] = table[code_i]`` for ``i < len(out)``, one code at a time (bits 8, 4, 2 or 1)."""
    cdef Py_ssize_t n = out.shape[0], i
    cdef int per = 8 // bits, shift
    cdef unsigned mask = (1u << bits) - 1u
    with nogil:
        if bits == 8:
            for i in range(n):
                out[i] = table[codes[i]]
        else:
            for i in range(n):
                shift = bits * (i % per)                       # bit offset of code i in its byte
                out[i] = table[(codes[i // per] >> shift) & mask]


def lut(const uint8_t[::1] codes, int bits, const float[::1] table, float[::1] out, int num_threads,
        bint simd, bint stream):
    """The helper's kernel on chunks of ``CHUNK`` codes; ``num_threads=0`` lets OpenMP choose."""
    cdef int64_t n = out.shape[0]
    cdef int64_t nchunks = (n + CHUNK - 1) // CHUNK, c, i1
    cdef const uint8_t *cp = &codes[0] if codes.shape[0] else NULL
    cdef float *op = &out[0] if n else NULL
    if n == 0:
        return
    if num_threads <= 0:
        for c in prange(nchunks, nogil=True, schedule="dynamic"):
            i1 = min((c + 1) * CHUNK, n)
            qr_lut(cp, bits, &table[0], op, c * CHUNK, i1, simd, stream)
    else:
        for c in prange(nchunks, nogil=True, schedule="dynamic", num_threads=num_threads):
            i1 = min((c + 1) * CHUNK, n)
            qr_lut(cp, bits, &table[0], op, c * CHUNK, i1, simd, stream)
