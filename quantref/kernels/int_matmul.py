r"""The integer matmul with zero points, exact in int32.

For uint8 or int8 codes ``a`` (``M x K``, zero point :math:`z_a`) and ``b`` (``K x N``, zero
point :math:`z_b`, one per tensor or one per column),

.. math::

    \sum_k (a_{ik} - z_a)(b_{kj} - z_{b,j})
      = \underbrace{\sum_k a_{ik} b_{kj}}_{\text{core: } O(MNK)}
      - z_a \underbrace{\sum_k b_{kj}}_{\text{column sums of } b}
      - z_{b,j} \underbrace{\sum_k a_{ik}}_{\text{row sums of } a}
      + K z_a z_{b,j} .

When ``b`` holds weights, its column sums and the last term are known before any input arrives
(computed once, offline, and folded into the bias); the row sums of ``a`` cost :math:`O(MK)`
per input, and vanish when the weights are symmetric (:math:`z_b = 0`).  Only the core product
costs :math:`O(MNK)`.  (gemmlowp's "low-precision.md"; Jacob et al. 2018, eq. 7.)

Every partial sum is checked, before computing, to fit in int32; the result equals an int64
reference bit for bit.

Weights are best packed once (:func:`~quantref.kernels.packed.pack_weights`): ``int_matmul(a,
packed, a_zero_point)`` then spends its time in the compiled kernel's fastest instruction-set tier
(:mod:`~quantref.kernels.tiers`), not in re-laying out ``b`` and re-summing its columns.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .backend import check_num_threads, get_backend
from .packed import PackedWeights, fast_call, pack_weights, packed_matmul

INT32_MAX = np.iinfo(np.int32).max
_CODE_DTYPES = (np.dtype(np.uint8), np.dtype(np.int8))


class IntMatmulTerms(NamedTuple):
    """The four terms of the zero-point expansion and their sum (see the module docstring)."""

    core: np.ndarray        #: ``a @ b`` in int32, shape (M, N): the O(MNK) work
    a_row_sums: np.ndarray  #: ``sum_k a[i, k]``, int64 shape (M,): per input, O(MK)
    b_col_sums: np.ndarray  #: ``sum_k b[k, j]``, int64 shape (N,): offline for weights
    k_za_zb: np.ndarray     #: ``K * za * zb``, int64, scalar or shape (N,): offline
    result: np.ndarray      #: ``core - za*b_col_sums - zb*a_row_sums + k_za_zb``, int32 (M, N)


def _check_codes(x, name: str) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array of uint8 or int8 codes, got {type(x).__name__}; "
                        f"quantize first, e.g. quantref.quantize({name}, scale, zero_point).")
    if x.dtype not in _CODE_DTYPES:
        raise TypeError(f"{name} has dtype {x.dtype}, but int_matmul takes uint8 or int8 codes; quantize "
                        f"floats first (quantref.quantize) or convert small integers with {name}.astype(np.int8).")
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {x.shape}; reshape it to a matrix.")
    return x


def _check_zero_point(z, name: str, dtype: np.dtype, length: int | None) -> np.ndarray:
    zarr = np.asarray(z)
    if zarr.dtype == np.bool_ or not np.issubdtype(zarr.dtype, np.integer):
        raise TypeError(f"{name} must be an integer, got {z!r} of dtype {zarr.dtype}; zero points are integers.")
    if zarr.ndim != 0 and (length is None or zarr.shape != (length,)):
        allowed = "a scalar" if length is None else f"a scalar or an array of shape ({length},), one per column of b"
        raise ValueError(f"{name} has shape {zarr.shape}; it must be {allowed}.")
    info = np.iinfo(dtype)
    if np.any(zarr < info.min) or np.any(zarr > info.max):
        raise ValueError(f"{name} must lie in the {dtype} range [{info.min}, {info.max}] of its operand, "
                         f"got {zarr.min()}..{zarr.max()}.")
    return zarr.astype(np.int64)


def _max_abs(dtype: np.dtype, z=0) -> int:
    info = np.iinfo(dtype)
    z = np.asarray(z, dtype=np.int64)
    # initial=0: an empty per-column zero point (N = 0) bounds nothing
    return int(np.max(np.maximum(np.abs(info.min - z), np.abs(info.max - z)), initial=0))


def max_safe_k(a_dtype, b_dtype, a_zero_point=0, b_zero_point=0) -> int:
    """Largest ``K`` for which no int32 partial sum can overflow, whatever the codes.

    Both the core product (``|a| * |b|`` per term) and the zero-point-shifted product
    (``|a - za| * |b - zb|``) must stay within ``2^31 - 1``: 65,793 for uint8 x int8,
    131,071 for int8 x int8, 33,025 for uint8 x uint8.
    """
    a_dtype, b_dtype = np.dtype(a_dtype), np.dtype(b_dtype)
    per_term = max(_max_abs(a_dtype) * _max_abs(b_dtype),
                   _max_abs(a_dtype, a_zero_point) * _max_abs(b_dtype, b_zero_point))
    return INT32_MAX // per_term


def int_matmul_terms(a, b, a_zero_point=0, b_zero_point=0, *, backend: str | None = None) -> IntMatmulTerms:
    """Compute the zero-point-corrected integer matmul and return its terms separately.

    Parameters
    ----------
    a : ndarray of uint8 or int8, shape (M, K)
    b : ndarray of uint8 or int8, shape (K, N)
        Any memory layout; non-contiguous views are copied once.
    a_zero_point : int
        One zero point for all of ``a`` (per tensor).
    b_zero_point : int or ndarray of shape (N,)
        Per tensor, or one per column of ``b`` (per output channel).
    backend : {"auto", "cython", "numpy"}, optional
        Overrides ``QUANTREF_BACKEND``; see :mod:`quantref.kernels.backend`.

    Returns
    -------
    IntMatmulTerms

    Raises
    ------
    TypeError
        For operands that are not uint8/int8 arrays, or non-integer zero points.
    ValueError
        For shape mismatches, zero points outside their operand's range, or a ``K`` so large
        that an int32 partial sum could overflow (split ``K`` into chunks instead).
    """
    a = _check_codes(a, "a")
    b = _check_codes(b, "b")
    M, K = a.shape
    if b.shape[0] != K:
        raise ValueError(f"shape mismatch: a is {a.shape} and b is {b.shape}; a.shape[1] must equal "
                         f"b.shape[0] (the shared dimension K). Did you mean b.T?")
    N = b.shape[1]
    za = _check_zero_point(a_zero_point, "a_zero_point", a.dtype, None)
    zb = _check_zero_point(b_zero_point, "b_zero_point", b.dtype, N)
    k_max = max_safe_k(a.dtype, b.dtype, za, zb)
    if K > k_max:
        raise ValueError(f"K={K} is too large for exact int32 accumulation of {a.dtype} x {b.dtype} codes with "
                         f"these zero points: an int32 partial sum could overflow past K={k_max}. Split the "
                         f"shared dimension into chunks of at most {k_max} and add the int64 results.")
    kernel = get_backend(backend)
    core = np.empty((M, N), dtype=np.int32)
    kernel.matmul_core(np.ascontiguousarray(a), np.ascontiguousarray(b.T), core)
    a_row_sums = a.sum(axis=1, dtype=np.int64)
    b_col_sums = b.sum(axis=0, dtype=np.int64)
    k_za_zb = K * za * zb
    # (M, 1) against a scalar or an (N,) zero point: broadcasts to (M, N) either way
    result = core - za * b_col_sums[None, :] - a_row_sums[:, None] * zb + k_za_zb
    return IntMatmulTerms(core, a_row_sums, b_col_sums, k_za_zb, result.astype(np.int32))


def int_matmul(a, b, a_zero_point=0, b_zero_point=0, *, backend: str | None = None,
               num_threads=None) -> np.ndarray:
    r"""Exact integer matmul with zero points: ``out[i, j] = sum_k (a[i,k] - za) * (b[k,j] - zb[j])``.

    Returns an int32 array of shape (M, N).  See :func:`int_matmul_terms` for the arguments and
    the module docstring for how the work splits into offline and online terms.

    Parameters
    ----------
    b : ndarray of uint8 or int8, shape (K, N), or PackedWeights
        Plain codes, or weights packed once with :func:`~quantref.kernels.pack_weights` (whose
        zero point was fixed when packing: leave ``b_zero_point`` at 0).  Plain codes are packed
        on the fly when the compiled kernel is built: same result, slower per call.
    num_threads : int or None
        Threads of the compiled kernel; None: every core this process may run on, as in the PQ
        kernels (:func:`~quantref.kernels.backend.kernel_threads`).

    Examples
    --------
    >>> a = np.array([[130, 128]], dtype=np.uint8)
    >>> b = np.array([[1], [-2]], dtype=np.int8)
    >>> int_matmul(a, b, a_zero_point=128)
    array([[2]], dtype=int32)
    """
    if backend is None and type(b) is PackedWeights and type(b_zero_point) is int and b_zero_point == 0:
        out = fast_call(a, b, a_zero_point, num_threads)   # what an earlier call already checked
        if out is not None:
            return out
    check_num_threads(num_threads)
    if isinstance(b, PackedWeights):
        if not (type(b_zero_point) is int and b_zero_point == 0) and np.any(np.asarray(b_zero_point) != 0):
            raise ValueError("b is PackedWeights, whose zero point was fixed by pack_weights(b, zero_point); "
                             "leave b_zero_point at 0 (or pack again with the zero point you want).")
        w = b
        a = _check_codes(a, "a")
        K, N = w.shape
        if a.shape[1] != K:
            raise ValueError(f"shape mismatch: a is {a.shape} and the packed b is {w.shape}; a.shape[1] must "
                             f"equal K={K}, the rows of b (in_features).")
        key = (a.dtype.char, a_zero_point if type(a_zero_point) is int else None)
        k_max = w._k_max.get(key) if key[1] is not None else None
        if k_max is None:          # first call with this dtype and zero point: the full checks
            za = _check_zero_point(a_zero_point, "a_zero_point", a.dtype, None)
            k_max = max_safe_k(a.dtype, w.dtype, za, w.zero_point)
            if key[1] is not None:
                w._k_max[key] = k_max
        else:
            za = a_zero_point
        if K > k_max:
            raise ValueError(f"K={K} is too large for exact int32 accumulation of {a.dtype} x {w.dtype} codes "
                             f"with these zero points: an int32 partial sum could overflow past K={k_max}. "
                             f"Split the shared dimension into chunks of at most {k_max} and add the int64 results.")
        return packed_matmul(a, w, za, backend=backend, num_threads=num_threads)
    if backend != "numpy" and get_backend(backend).__name__ == "quantref.kernels._gemm" \
            and isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.ndim == 2 and b.ndim == 2 \
            and a.dtype in _CODE_DTYPES and b.dtype in _CODE_DTYPES and a.shape[1] == b.shape[0]:
        zb = _check_zero_point(b_zero_point, "b_zero_point", b.dtype, b.shape[1])
        return int_matmul(a, pack_weights(b, zb, backend=backend), a_zero_point, backend=backend,
                          num_threads=num_threads)
    return int_matmul_terms(a, b, a_zero_point, b_zero_point, backend=backend).result
