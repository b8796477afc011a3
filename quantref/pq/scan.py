r"""Aggregation: the scan of product-quantization codes against lookup tables.

For queries :math:`q` with tables :math:`T_{q,m,k}` (one entry per codebook :math:`m` and
prototype :math:`k`) and database rows :math:`i` with codes :math:`c_{i,m}`, the scan computes

.. math::

    S_{q,i} = \sum_{m=0}^{M-1} T_{q,\,m,\,c_{i,m}} ,

:math:`M` lookups and additions per (query, row) instead of the :math:`D` multiply-adds of an
exact inner product (Jégou et al. 2011).  Three kinds of tables:

* float32 tables: float32 sums, added in the order :math:`m = 0, 1, \dots` (so the NumPy twin and
  the compiled loop agree bit for bit; against an exact sum the error is that of :math:`M - 1`
  float32 additions, at most about :math:`(M-1)\,2^{-24} \sum_m |T_{q,m,c_{i,m}}|`);
* uint8 tables (:mod:`quantref.pq.tables`): exact integer sums in uint16 (:math:`M \le 256`);
* :class:`~quantref.pq.tables.QuantizedTables`: the uint8 sums, or their float estimates with
  ``dequantize=True``.

Fast paths for uint8 tables (compiled backend, ``_fastscan_helper.h``):

* 16 prototypes (4-bit codes) packed by :func:`pack_codes_4bit`: byte shuffles (``vpshufb``) look
  up 32 codes per instruction in tables held in registers, as Bolt and Faiss' fast scan do;
* any number of prototypes, plain codes: the tables are re-laid with the queries innermost, so
  one code selects the entries of all queries at once (vector adds of 32 bytes).

Codes are checked here, at the Python boundary: every code must index inside its table.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from quantref.kernels.aligned import aligned_empty
from quantref.kernels.backend import kernel_threads, resolve

from .tables import QuantizedTables

COMPILED = "quantref.pq._pq"
TWIN = "quantref.pq._numpy_backend"
IMPLS = ("auto", "simd", "portable", "reference")
#: results of at least this many bytes are written with non-temporal (streaming) stores
STREAM_MIN_BYTES = 8 << 20
#: uint16 sums of uint8 entries are exact up to this many codebooks (256 * 255 < 2**16)
MAX_U8_CODEBOOKS = 256


def get_backend(backend: str | None = None):
    """The module implementing the kernels: ``quantref.pq._pq`` or its NumPy twin."""
    return resolve(backend, COMPILED, TWIN)


def check_codes(codes, name: str = "codes", *, M: int | None = None, ksub: int | None = None) -> np.ndarray:
    """Return ``codes`` as a C-contiguous (N, M) uint8 array after checking it, or raise naming ``name``.

    Raises
    ------
    TypeError
        Not a NumPy array, or not uint8.
    ValueError
        Not 2-D, the wrong number of codebooks, or a code ``>= ksub`` (the message gives its position).
    """
    if not isinstance(codes, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array of uint8 codes, shape (N, M), got {type(codes).__name__}.")
    if codes.dtype != np.uint8:
        raise TypeError(f"{name} has dtype {codes.dtype}, but PQ codes are uint8 (one byte per subspace); "
                        f"convert with {name}.astype(np.uint8) after checking the range.")
    if codes.ndim != 2:
        raise ValueError(f"{name} must be 2-D (N rows, M subspaces), got shape {codes.shape}.")
    if M is not None and codes.shape[1] != M:
        raise ValueError(f"{name} has {codes.shape[1]} columns, but there are M={M} subspaces (codebooks); "
                         f"one code per row and subspace.")
    if ksub is not None and codes.size and ksub < 256:
        top = int(codes.max())
        if top >= ksub:
            i, m = np.unravel_index(int(np.argmax(codes >= ksub)), codes.shape)
            raise ValueError(f"{name}[{i}, {m}] = {int(codes[i, m])} is out of range for a codebook of {ksub} "
                             f"prototypes: codes must lie in [0, {ksub - 1}].")
    return np.ascontiguousarray(codes)


# ----------------------------------------------------------------------------- 4-bit packing

class PackedCodes4(NamedTuple):
    """4-bit codes in the fast-scan block layout (see ``_fastscan_helper.h`` and :func:`pack_codes_4bit`)."""

    data: np.ndarray  #: uint8, shape (ceil(n / 32), ceil(M / 2), 32)
    n: int            #: number of rows
    M: int            #: number of subspaces (before padding to an even number)

    @property
    def nbytes(self) -> int:
        return int(self.data.nbytes)


def pack_codes_4bit(codes, *, backend: str | None = None) -> PackedCodes4:
    r"""Pack codes below 16 into the block layout of the 4-bit fast scan.

    Rows go in blocks of 32 and subspaces in pairs; block :math:`b`, pair :math:`p` is 32 bytes,

    .. math::

        \text{byte}_{2j} = c_{32b+j,\,2p} + 16\, c_{32b+j,\,2p+1}, \qquad
        \text{byte}_{2j+1} = c_{32b+16+j,\,2p} + 16\, c_{32b+16+j,\,2p+1}, \qquad j = 0..15 ,

    so that a 16-bit lane :math:`j` of the sums holds rows :math:`j` and :math:`16 + j` and both
    halves store in row order.  Missing rows and an odd last subspace are padded with code 0
    (their tables are zero, or their results are not written).

    Raises
    ------
    TypeError, ValueError
        Codes that are not a 2-D uint8 array, or a code of 16 or more.

    Examples
    --------
    >>> p = pack_codes_4bit(np.array([[1, 2], [3, 4]], dtype=np.uint8))
    >>> p.data.shape, p.data[0, 0, :4]          # row 0 in byte 0, row 1 in byte 2
    ((1, 1, 32), array([33,  0, 67,  0], dtype=uint8))
    """
    codes = check_codes(codes, ksub=16)
    n, M = codes.shape
    packed = np.zeros((-(-n // 32), -(-M // 2), 32), dtype=np.uint8)
    get_backend(backend).pack_4bit(codes, packed)
    return PackedCodes4(packed, n, M)


def check_packed4(packed, name: str = "codes") -> PackedCodes4:
    if not isinstance(packed, PackedCodes4):
        raise TypeError(f"{name} must be PackedCodes4 from pack_codes_4bit, got {type(packed).__name__}.")
    d = packed.data
    if not isinstance(d, np.ndarray) or d.dtype != np.uint8 or not d.flags.c_contiguous:
        raise TypeError(f"{name}.data must be a C-contiguous uint8 array.")
    want = (-(-int(packed.n) // 32), -(-int(packed.M) // 2), 32)
    if d.shape != want:
        raise ValueError(f"{name}.data has shape {d.shape}, but {packed.n} rows of {packed.M} subspaces need "
                         f"{want}; was it built by pack_codes_4bit?")
    return packed


def unpack_codes_4bit(packed: PackedCodes4) -> np.ndarray:
    """Inverse of :func:`pack_codes_4bit`: uint8 codes of shape (n, M)."""
    packed = check_packed4(packed)
    if packed.n == 0:
        return np.zeros((0, packed.M), dtype=np.uint8)
    rows = np.arange(packed.n)
    r = rows % 32
    s = np.where(r < 16, 2 * r, 2 * (r - 16) + 1)
    byte = packed.data[rows // 32, :, s]                       # (n, npairs)
    both = np.stack([byte & 15, byte >> 4], axis=2).reshape(packed.n, -1)
    return np.ascontiguousarray(both[:, :packed.M])


# ----------------------------------------------------------------------------- the scan

def _check_table_array(tables) -> np.ndarray:
    """Type, dtype and rank of the tables; the table length must be 1 to 256."""
    if not isinstance(tables, np.ndarray):
        raise TypeError(f"tables must be a NumPy array of shape (nq, M, ksub) or QuantizedTables, "
                        f"got {type(tables).__name__}.")
    if tables.dtype not in (np.float32, np.uint8):
        raise TypeError(f"tables has dtype {tables.dtype}; the scan takes float32 tables or uint8 tables "
                        f"(quantize_tables); convert with tables.astype(np.float32).")
    if tables.ndim != 3:
        raise ValueError(f"tables must have shape (nq, M, ksub), got {tables.shape}.")
    if not 1 <= tables.shape[2] <= 256:
        raise ValueError(f"tables has {tables.shape[2]} entries per codebook; uint8 codes address 1 to 256.")
    return tables


def _check_tables(tables: np.ndarray, M: int, packed: bool) -> np.ndarray:
    """The tables against the codes: M codebooks, 16 entries for packed codes, M <= 256 for uint8."""
    if tables.shape[1] != M:
        raise ValueError(f"tables has {tables.shape[1]} codebooks (axis 1) but the codes have M={M} subspaces.")
    if packed and tables.shape[2] != 16:
        raise ValueError(f"4-bit packed codes need tables of 16 entries per codebook, got {tables.shape[2]}.")
    if tables.dtype == np.uint8 and M > MAX_U8_CODEBOOKS:
        raise ValueError(f"M={M} codebooks of uint8 entries can overflow the uint16 sums; scan at most "
                         f"{MAX_U8_CODEBOOKS} codebooks at a time and add the results.")
    return np.ascontiguousarray(tables)


def _check_quantized(qt: QuantizedTables, nq: int, M: int) -> None:
    """Offsets (nq, M) and scales (nq,), positive and finite: the kernels index them by query."""
    offsets, scale = np.asarray(qt.offsets), np.asarray(qt.scale)
    if offsets.shape != (nq, M) or scale.shape != (nq,):
        raise ValueError(f"QuantizedTables of {nq} queries and {M} codebooks need offsets of shape {(nq, M)} and "
                         f"scale of shape ({nq},), got {offsets.shape} and {scale.shape}; use quantize_tables.")
    if not (np.all(np.isfinite(offsets)) and np.all(np.isfinite(scale)) and np.all(scale > 0)):
        raise ValueError("QuantizedTables needs finite offsets and finite, positive scales.")


def _check_impl(impl, mod):
    if impl not in IMPLS:
        raise ValueError(f"impl={impl!r} is unknown; use one of {IMPLS}.")
    if impl == "simd" and mod.__name__ == COMPILED and not mod.SIMD_AVAILABLE:
        raise RuntimeError("impl='simd' needs a CPU with AVX2; use impl='portable' or 'auto'.")
    return impl != "portable" and mod.SIMD_AVAILABLE


def _check_out(out, shape, dtype):
    if out is None:
        return None
    if not isinstance(out, np.ndarray) or out.dtype != dtype:
        raise TypeError(f"out must be a NumPy array of dtype {np.dtype(dtype).name}.")
    if out.shape != shape or not out.flags.writeable:
        raise ValueError(f"out must be a writable array of shape {shape}, got {out.shape}.")
    return out


def scan(codes, tables, *, dequantize: bool = False, out=None, num_threads: int | None = None,
         backend: str | None = None, impl: str = "auto") -> np.ndarray:
    """Sum table entries: ``result[q, i] = sum_m tables[q, m, codes[i, m]]`` (see the module docstring).

    Parameters
    ----------
    codes : ndarray of uint8, shape (N, M), or PackedCodes4
    tables : ndarray (nq, M, ksub) of float32 or uint8, or QuantizedTables
    dequantize : bool
        With QuantizedTables: return the float32 estimates ``sums / s + sum_m o_m`` instead of
        the integer sums (fused into the 4-bit kernel for packed codes).
    out : ndarray, optional
        Shape (nq, N) and the result's dtype; written and returned.  Any memory layout: when it
        is not the kernel's own (C order for the reference loops and the 4-bit scan, ``out.T``
        C-contiguous for the queries-innermost scan) the result is copied into it.
    num_threads : int or None
        Threads of the compiled kernels (None: every available core).
    backend : {"auto", "cython", "numpy"}, optional
    impl : {"auto", "simd", "portable", "reference"}
        uint8 tables on the compiled backend: the AVX2 fast path, its portable C twin, or the
        readable Cython loop (all bit-identical).  Float tables always use the Cython loop.

    Returns
    -------
    ndarray of shape (nq, N)
        float32 for float tables (and ``dequantize=True``), uint16 (exact) for uint8 tables.  The
        queries-innermost path returns a transposed view (Fortran order) of its (N, nq) result.

    Raises
    ------
    TypeError
        Codes not uint8, tables neither float32 nor uint8, a wrong ``out``.
    ValueError
        Shapes that disagree, a code out of range for its table, more than 256 codebooks with
        uint8 tables, packed codes with tables of other than 16 entries.

    Examples
    --------
    >>> T = np.array([[[0, 10], [0, 100]]], dtype=np.uint8)        # 1 query, M = 2, ksub = 2
    >>> scan(np.array([[1, 0], [1, 1]], dtype=np.uint8), T)
    array([[ 10, 110]], dtype=uint16)
    """
    mod = get_backend(backend)
    simd = _check_impl(impl, mod)
    nthreads = kernel_threads(num_threads)
    qt = None
    if isinstance(tables, QuantizedTables):
        qt = tables
        tables = qt.tables
        if not isinstance(tables, np.ndarray) or tables.dtype != np.uint8:
            raise TypeError("QuantizedTables.tables must be a uint8 array (from quantize_tables).")
    elif dequantize:
        raise ValueError("dequantize=True needs QuantizedTables (from quantize_tables), which know how to undo "
                         "the quantization.")
    tables = _check_table_array(tables)
    packed = isinstance(codes, PackedCodes4)
    if packed:
        codes = check_packed4(codes)          # nibbles: always < 16, the table length required below
        N, M = codes.n, codes.M
    else:
        codes = check_codes(codes, ksub=tables.shape[2])
        N, M = codes.shape
    tables = _check_tables(tables, M, packed)
    nq = tables.shape[0]
    if qt is not None:
        _check_quantized(qt, nq, M)
    is_float = tables.dtype == np.float32
    fuse = qt is not None and dequantize and packed and impl != "reference"
    out_dtype = np.float32 if (is_float or (qt is not None and dequantize)) else np.uint16
    out = _check_out(out, (nq, N), out_dtype)

    if M == 0:
        res = np.zeros((nq, N), dtype=out_dtype)
        res[...] = qt.bias[:, None] if (qt is not None and dequantize) else 0
        if out is not None:
            out[...] = res
            return out
        return res
    if is_float or impl == "reference":
        plain = unpack_codes_4bit(codes) if packed else codes
        res = out if out is not None and out.dtype == (np.float32 if is_float else np.uint16) \
            else np.empty((nq, N), dtype=np.float32 if is_float else np.uint16)
        (mod.scan_float if is_float else mod.scan_u8)(plain, tables, res, nthreads)
    elif packed:
        P = codes.data.shape[1]
        if 2 * P != M:  # odd M: a zero table for the padding subspace
            tables = np.concatenate([tables, np.zeros((nq, 1, 16), np.uint8)], axis=1)
        stream_ok = N * nq * np.dtype(out_dtype).itemsize >= STREAM_MIN_BYTES
        if out is not None and out.strides[1] == out.itemsize and out.strides[0] % out.itemsize == 0 \
                and out.strides[0] >= N * out.itemsize:
            buf, res = out, out
        else:
            ldo = -(-N // 32) * 32      # rows start on 64-byte boundaries: whole cache lines per block
            buf = aligned_empty((nq, ldo), out_dtype)
            res = buf[:, :N]
        if nq and N:
            if fuse:
                mul = (1.0 / np.asarray(qt.scale, dtype=np.float64)).astype(np.float32)
                mod.fastscan4_float(codes.data, tables, mul, qt.bias, buf, N, nthreads, simd, stream_ok)
            else:
                mod.fastscan4(codes.data, tables, buf, N, nthreads, simd, stream_ok)
    else:
        nqp = -(-nq // 16) * 16
        ksub = tables.shape[2]
        tt = np.zeros((M, ksub, nqp), dtype=np.uint8)
        tt[:, :, _qpos(np.arange(nq), nqp)] = tables.transpose(1, 2, 0)
        if out is not None and out.strides[0] == 2 and out.strides[1] % 2 == 0 and out.strides[1] >= nq * 2:
            buf_t = out.T
        else:
            buf_t = aligned_empty((N, -(-nq // 32) * 32), np.uint16)   # 64-byte rows
        res = buf_t[:, :nq].T
        if nq and N and M:
            stream_ok = N * nq * 2 >= STREAM_MIN_BYTES
            mod.scan_qmajor(codes, tt, nq, buf_t, nthreads, simd, stream_ok)
        elif nq and N:
            res[...] = 0
    if qt is not None and dequantize and not fuse:
        res = qt.dequantize_sums(res)
    if out is not None and res is not out:
        out[...] = res
        return out
    return res


def _qpos(q: np.ndarray, nqp: int) -> np.ndarray:
    """Position of query q in a row of the queries-innermost tables (see ``_fastscan_helper.h``).

    Queries go in units of 32: in unit u, query 32u + j sits at byte 32u + 2j for j < 16 and at
    32u + 2(j - 16) + 1 for j >= 16; a last unit of only 16 queries keeps the plain order.
    """
    unit, j = np.divmod(q, 32)
    permuted = 32 * unit + np.where(j < 16, 2 * j, 2 * (j - 16) + 1)
    return np.where(32 * unit + 32 > nqp, q, permuted)
