r"""Lookup-table dequantization: ``w_hat[i] = codebook[codes[i]]``.

Dequantizing a weight-shared layer is a gather from a table of :math:`k` floats.  It does no
arithmetic: it reads :math:`n \cdot \log_2 k / 8` bytes of codes and writes :math:`4n` bytes of
float32, so on large inputs its speed is set by memory bandwidth, not by the CPU.  Packed 4-bit
codes read half a byte per weight, 2-bit codes a quarter.

The compiled kernel (``_lut.pyx`` with ``_lut_helper.h``) looks up 8 floats per instruction
(``vpermps``) for 4- and 2-bit codes, and streams large outputs past the caches; the NumPy twin
(``codebook[codes]``) gives the same values.  ``QUANTREF_BACKEND`` or ``backend=`` choose between
them, with the rule every quantref kernel follows (:mod:`quantref.kernels.backend`).

Every code is valid by construction when the codebook has :math:`2^{\text{bits}}` entries; a
shorter codebook is padded to that length for the kernel (so no kernel can read past it), and the
codes are checked against its real length here, before any kernel runs.
"""
from __future__ import annotations

import numpy as np

from quantref.kernels.backend import check_num_threads, resolve

from .packing import PackedCodes, check_packed, check_uint8_codes

COMPILED = "quantref.codebook._lut"
TWIN = "quantref.codebook._numpy_backend"
IMPLS = ("auto", "simd", "portable", "reference")
#: outputs of at least this many floats are written with non-temporal (streaming) stores
STREAM_MIN = 1 << 20


def get_backend(backend: str | None = None):
    """The module implementing the kernels: ``quantref.codebook._lut`` or its NumPy twin."""
    return resolve(backend, COMPILED, TWIN)


def _check_codebook(codebook, bits: int) -> np.ndarray:
    if not isinstance(codebook, np.ndarray):
        raise TypeError(f"codebook must be a NumPy array of float32 values, got {type(codebook).__name__}.")
    if codebook.dtype != np.float32:
        raise TypeError(f"codebook has dtype {codebook.dtype}; lut_dequantize takes a float32 codebook "
                        f"(convert with codebook.astype(np.float32)).")
    if codebook.ndim != 1 or codebook.size == 0:
        raise ValueError(f"codebook must be a non-empty 1-D array, got shape {codebook.shape}.")
    if codebook.size > 1 << bits:
        raise ValueError(f"codebook has {codebook.size} entries, more than {bits}-bit codes can address "
                         f"({1 << bits}).")
    return codebook


def lut_dequantize(codes, codebook, *, out=None, num_threads: int | None = 1, backend: str | None = None,
                   impl: str = "auto") -> np.ndarray:
    """Look up every code in the codebook: ``out[i] = codebook[codes[i]]``.

    Parameters
    ----------
    codes : ndarray of uint8, any shape, or PackedCodes
        One code per byte (bits = 8), or codes packed by
        :func:`~quantref.codebook.packing.pack_codes` (4, 2 or 1 bits).
    codebook : ndarray of float32, shape (k,)
        ``k <= 2**bits``; every code must be below ``k``.
    out : ndarray of float32, optional
        C-contiguous, of the codes' (unpacked) shape; written in place and returned.
    num_threads : int or None
        Threads of the compiled kernel (None: every core).  The NumPy backend uses one.
    backend : {"auto", "cython", "numpy"}, optional
        Overrides ``QUANTREF_BACKEND``.
    impl : {"auto", "simd", "portable", "reference"}
        Compiled backend only: the AVX2 loop (``"simd"``; an error on a CPU without AVX2), the
        portable C loop, or the readable Cython loop; ``"auto"`` takes AVX2 when the CPU has it.
        All give the same values.

    Returns
    -------
    ndarray of float32, shape of the (unpacked) codes

    Raises
    ------
    TypeError
        Codes that are not uint8 / PackedCodes, a codebook that is not float32, a wrong ``out``.
    ValueError
        A code ``>= len(codebook)`` (the message gives its flat index), a codebook longer than the
        codes can address, a wrong ``out`` shape.

    Examples
    --------
    >>> cb = np.array([-0.5, 0.0, 0.25], dtype=np.float32)
    >>> lut_dequantize(np.array([[2, 0], [1, 1]], dtype=np.uint8), cb)
    array([[ 0.25, -0.5 ],
           [ 0.  ,  0.  ]], dtype=float32)
    """
    if isinstance(codes, PackedCodes):
        packed = check_packed(codes)
        bits, shape, data = packed.bits, packed.shape, packed.data
    else:
        data = check_uint8_codes(codes)
        bits, shape = 8, data.shape
        data = np.ascontiguousarray(data).ravel()
    codebook = _check_codebook(codebook, bits)
    if impl not in IMPLS:
        raise ValueError(f"impl={impl!r} is unknown; use one of {IMPLS}.")
    nthreads = check_num_threads(num_threads)
    n = int(np.prod(shape, dtype=np.int64))
    k = codebook.size
    if k < 1 << bits and n:
        values = data if bits == 8 else _unpacked_max_view(packed)
        top = int(values.max())
        if top >= k:
            flat = data if bits == 8 else _unpack_all(packed)
            bad = int(np.argmax(flat >= k))
            raise ValueError(f"codes[{bad}] (flat index) = {int(flat[bad])} is out of range for a codebook of "
                             f"{k} entries: codes must lie in [0, {k - 1}].")
    if out is None:
        out = np.empty(shape, dtype=np.float32)
    else:
        if not isinstance(out, np.ndarray) or out.dtype != np.float32:
            raise TypeError("out must be a float32 NumPy array.")
        if out.shape != tuple(shape) or not out.flags.c_contiguous or not out.flags.writeable:
            raise ValueError(f"out must be a writable C-contiguous float32 array of shape {tuple(shape)}, "
                             f"got shape {out.shape}.")
    table = np.zeros(1 << bits, dtype=np.float32)   # padded: every bits-wide code is a valid index
    table[:k] = codebook
    mod = get_backend(backend)
    flat_out = out.reshape(-1)
    if impl == "reference":
        mod.lut_reference(data, bits, table, flat_out)
        return out
    if impl == "simd" and mod.__name__ == COMPILED and not mod.SIMD_AVAILABLE:
        raise RuntimeError("impl='simd' needs a CPU with AVX2; use impl='portable' or 'auto'.")
    simd = impl in ("auto", "simd") and mod.SIMD_AVAILABLE
    mod.lut(data, bits, table, flat_out, nthreads, simd, n >= STREAM_MIN)
    return out


def _unpack_all(packed: PackedCodes) -> np.ndarray:
    from .packing import unpack_codes

    return unpack_codes(packed).ravel()


def _unpacked_max_view(packed: PackedCodes) -> np.ndarray:
    """Small array whose maximum is the largest code of a packed buffer (padding codes excluded)."""
    bits, data, per = packed.bits, packed.data, 8 // packed.bits
    full = packed.count // per                # bytes whose every code is real (no padding)
    mask = np.uint8((1 << bits) - 1)
    maxima = [int(((data[:full] >> np.uint8(s)) & mask).max()) for s in range(0, 8, bits)] if full else []
    rest = packed.count - full * per          # real codes in the last, partly padded byte
    if rest:
        maxima += [(int(data[full]) >> (bits * t)) & int(mask) for t in range(rest)]
    return np.array(maxima or [0], dtype=np.int64)
