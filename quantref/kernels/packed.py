r"""Weights packed once for the int8 matmul, as fbgemm (``PackBMatrix``) and oneDNN (reorder) do.

Weights do not change between calls, so everything of the zero-point expansion that depends on
them alone is computed once, when they are packed:

.. math::

    \sum_k (a_{ik} - z_a)(b_{kj} - z_{b,j})
      = \underbrace{\sum_k a^u_{ik} b^s_{kj}}_{\text{kernel}}
      \; \underbrace{- z^u_a \sum_k b^s_{kj} + K z^u_a z^s_{b,j}}_{\text{per column: } O(N)}
      \; - z^s_{b,j} \underbrace{\sum_k a^u_{ik}}_{O(MK)} ,

written for the operands the int8 instructions multiply (``vpdpbusd``, AMX ``tdpbusd``: unsigned
bytes times signed bytes): :math:`a^u = a`, :math:`z^u_a = z_a` for uint8 ``a`` and
:math:`a^u = a + 128`, :math:`z^u_a = z_a + 128` for int8 ``a``; :math:`b^s = b`,
:math:`z^s_b = z_b` for int8 ``b`` and :math:`b^s = b - 128`, :math:`z^s_b = z_b - 128` for uint8
``b``.  Shifting a code and its zero point by the same amount leaves :math:`a - z_a` and
:math:`b - z_b` unchanged, so the identity is exact for every sign combination.

:func:`pack_weights` stores :math:`b^s` in the kernel's layout, its column sums and
:math:`z^s_b`; :func:`int_matmul` on a :class:`PackedWeights` adds, per call, only the O(N)
column term for the given :math:`z_a` (cached) and, when :math:`z_b \ne 0`, the row sums of
:math:`a^u`.  The kernel adds both while it stores the result, in int32 arithmetic modulo
:math:`2^{32}`: exact, because the true result fits in int32 (checked with ``max_safe_k`` first).
"""
from __future__ import annotations

import numpy as np

from .backend import compiled_gemm, get_backend, kernel_threads, requested_backend
from .tiers import gemm_tier

_SIGNED = np.dtype(np.int8)


def _wrap32(x: np.ndarray) -> np.ndarray:
    """int64 -> int32 modulo 2^32 (the kernel's arithmetic)."""
    return (np.asarray(x, dtype=np.int64) & 0xFFFFFFFF).astype(np.uint32).view(np.int32)


class PackedWeights:
    """Weights ``b`` (K x N uint8 or int8 codes) prepared once for :func:`int_matmul`.

    Build with :func:`pack_weights`.  Attributes are read-only by convention.

    Attributes
    ----------
    shape : tuple (K, N)
    dtype : numpy.dtype
        The codes' dtype (uint8 or int8).
    zero_point : ndarray of int64
        Scalar (per tensor) or shape (N,) (per column).
    codes : ndarray, shape (K, N)
        A read-only copy of the codes (the NumPy backend and :func:`int_matmul_terms` use it).
    col_sums : ndarray of int64, shape (N,)
        :math:`\\sum_k b_{kj}` of the codes as given.
    packed : ndarray of int8 or None
        :math:`b^s` in the compiled kernel's layout (None when the kernel is not built).
    """

    def __init__(self, codes, zero_point, packed, bs_col_sums, zb_s):
        self.codes = codes
        self.shape = codes.shape
        self.dtype = codes.dtype
        self.zero_point = zero_point
        self.col_sums = codes.sum(axis=0, dtype=np.int64)
        self.packed = packed
        self._bs_col_sums = bs_col_sums                      # sum_k b^s, int64 (N,)
        self._zb_s = zb_s                                    # z_b^s, int64 (N,)
        self._zb_s32 = zb_s.astype(np.int32) if np.any(zb_s) else None
        self._colterms = {}                                  # z_a^u -> int32 (N,) column term
        self._k_max = {}                                     # (a dtype, z_a) -> max_safe_k, checked once

    def colterm(self, za_u: int) -> np.ndarray | None:
        """The per-column term :math:`K z^u_a z^s_b - z^u_a \\sum_k b^s` mod 2^32 (None if zero)."""
        if za_u == 0:
            return None
        term = self._colterms.get(za_u)
        if term is None:
            if len(self._colterms) > 64:
                self._colterms.clear()
            K = self.shape[0]
            term = _wrap32(K * za_u * self._zb_s - za_u * self._bs_col_sums)
            self._colterms[za_u] = term
        return term

    @property
    def nbytes(self) -> int:
        """Bytes held: the codes, the packed copy and the per-column terms."""
        return int(self.codes.nbytes + (self.packed.nbytes if self.packed is not None else 0)
                   + self.col_sums.nbytes + self._bs_col_sums.nbytes + self._zb_s.nbytes)

    def __repr__(self) -> str:
        zp = int(self.zero_point) if self.zero_point.ndim == 0 else "per column"
        return (f"PackedWeights(K={self.shape[0]}, N={self.shape[1]}, dtype={self.dtype.name}, "
                f"zero_point={zp}, packed={'yes' if self.packed is not None else 'no (NumPy backend)'})")


def pack_weights(b, zero_point=0, *, backend: str | None = None) -> PackedWeights:
    """Pack weight codes ``b`` (K x N) once, for many calls of :func:`int_matmul`.

    Parameters
    ----------
    b : ndarray of uint8 or int8, shape (K, N)
        The right operand (for a layer ``y = x W^T``: ``W.T``, shape (in_features, out_features)).
    zero_point : int or ndarray of shape (N,)
        Per tensor, or one per column of ``b``; fixed from now on.
    backend : {"auto", "cython", "numpy"}, optional
        ``"numpy"`` (or no compiled kernel) keeps the codes only; see :mod:`quantref.kernels.backend`.

    Returns
    -------
    PackedWeights

    Examples
    --------
    >>> import numpy as np
    >>> from quantref.kernels import int_matmul, pack_weights
    >>> b = np.array([[1], [-2]], dtype=np.int8)
    >>> w = pack_weights(b)
    >>> int_matmul(np.array([[130, 128]], dtype=np.uint8), w, a_zero_point=128)
    array([[2]], dtype=int32)
    """
    from .int_matmul import _check_codes, _check_zero_point

    b = _check_codes(b, "b")
    K, N = b.shape
    zb = _check_zero_point(zero_point, "zero_point", b.dtype, N)
    codes = np.array(b, order="C", copy=True)
    codes.flags.writeable = False
    if b.dtype == _SIGNED:
        bs = codes
        zb_s = np.broadcast_to(zb, (N,)).astype(np.int64)
    else:
        bs = (codes ^ np.uint8(0x80)).view(np.int8)          # b - 128, bit for bit
        zb_s = np.broadcast_to(zb, (N,)).astype(np.int64) - 128
    bs_col_sums = bs.sum(axis=0, dtype=np.int64)
    packed = None
    kernel = get_backend(backend)
    g = compiled_gemm()
    if g is not None and not kernel.__name__.endswith("_numpy_backend"):
        packed = g.pack_b(bs)
        packed.flags.writeable = False
    return PackedWeights(codes, zb, packed, bs_col_sums, zb_s)


def packed_matmul(a: np.ndarray, w: PackedWeights, za: np.ndarray, *, backend: str | None = None,
                  num_threads=None) -> np.ndarray:
    """The compiled kernel on packed weights (arguments already checked by :func:`int_matmul`)."""
    from .int_matmul import int_matmul_terms

    kernel = get_backend(backend)
    if w.packed is None or kernel.__name__.endswith("_numpy_backend"):
        return int_matmul_terms(a, w.codes, za, w.zero_point, backend=backend).result
    return _compiled_matmul(np.ascontiguousarray(a), w, int(za), kernel_threads(num_threads))


def _compiled_matmul(a: np.ndarray, w: PackedWeights, za: int, threads: int) -> np.ndarray:
    """The compiled kernel on C-contiguous uint8 or int8 codes ``a`` and packed ``w``."""
    signed = a.dtype == _SIGNED
    # out=None: the kernel allocates the output in C, 64-byte aligned (aligned_empty's rule):
    # NumPy's 16-byte alignment splits every zmm store of C across two cache lines, which cost the
    # AVX-512 tier 5-10 % at 1024^3 and above (measured), and aligned_empty in Python costs 20-30 us
    # with the caches cold, as a large product leaves them (6 us in C)
    return compiled_gemm().gemm_packed(a.view(np.uint8) if signed else a, signed, w.packed, w.shape[1], None,
                                        w.colterm(za + 128 if signed else za), w._zb_s32, gemm_tier(), threads)


def fast_call(a, w: PackedWeights, a_zero_point, num_threads):
    """:func:`int_matmul` on packed weights without its checks, or None when they must run.

    Valid only for what an earlier call already checked: the same ``a`` dtype and integer zero
    point (its ``max_safe_k`` is then cached in ``w._k_max``), a C-contiguous 2-D ``a`` of the
    right width, packed weights and a backend that is not ``"numpy"``.  With the weights streamed
    from memory every line of Python runs from cold caches, so the path is kept short.
    """
    if type(a) is not np.ndarray or type(a_zero_point) is not int or a.ndim != 2 or not a.flags.c_contiguous:
        return None
    k_max = w._k_max.get((a.dtype.char, a_zero_point))
    K = w.shape[0]
    if k_max is None or K > k_max or a.shape[1] != K or w.packed is None or requested_backend() == "numpy":
        return None
    if num_threads is None:
        threads = kernel_threads(None)
    elif type(num_threads) is int and num_threads > 0:
        threads = num_threads
    else:
        return None                                          # the full path names the mistake
    return _compiled_matmul(a, w, a_zero_point, threads)
