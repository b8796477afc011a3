r"""W4A16: matrix-vector and small-M matmul with 4-bit group-quantized weights, unpacked on the fly.

.. math::

    y_{mn} = \sum_{k=0}^{K-1} x_{mk}\, \hat W_{nk}, \qquad
    \hat W_{nk} = s_{ng}\,(q_{nk} - z_{ng}), \quad g = \lfloor k / G \rfloor,

i.e. ``y = x @ w_hat.T`` with the weight in PyTorch's ``(N outputs, K inputs)`` layout.  The
weight is stored as a :class:`PackedWeight`: codes two per byte (even index in the low nibble,
:mod:`quantref.lowbit.packing`), float32 scales and uint8 zero points per group.  That is
:math:`K/2 + 5K/G` bytes per row instead of :math:`4K` in float32: 7.4x less at ``G = 128``,
6.1x at ``G = 32``.  Decoding one token is a matrix-vector product that reads every weight once,
so its time is set by these bytes: this is why weight-only 4-bit wins for memory-bound decoding.

"A16" names 16-bit activations on a GPU; on a CPU the activations are float32 (``float16``
input is widened to float32 exactly), and so are the products and sums.

The compiled kernel (``_w4a16.pyx`` with ``_w4a16_helper.h``) builds each group's 16-entry table
``T[c] = fl32(s (c - z))`` and looks the codes up in it (one ``vpermps`` per 16 codes with
AVX-512, two and a blend per 8 codes with AVX2, a load per code in portable C; the SIMD variant is
chosen at run time).  The NumPy twin dequantizes blocks of rows to the same float32 values and
calls NumPy's matmul.

Accuracy
--------
Against the float64 reference ``x64 @ dequantize(gq).T`` (the same float32 ``x``, float64
scales), every backend satisfies, for every output,

.. math::

    |y_{mn} - y^{ref}_{mn}| \le \gamma_{K+2} \sum_k |x_{mk}|\,|\hat W_{nk}|, \qquad
    \gamma_j = \frac{j u}{1 - j u}, \quad u = 2^{-24},

because each term :math:`x_k \hat W_k` carries at most :math:`K + 2` roundings of relative size
:math:`u`: the scale rounded to float32, the table entry :math:`s (c - z)` rounded once, the
product (absent with FMA), and at most :math:`K - 1` additions along any summation tree of
:math:`K` terms (the standard bound for floating-point summation in any order, Higham,
*Accuracy and Stability of Numerical Algorithms*, 2002, eq. 4.4 and §3.1).  The backends sum in
different orders, so they agree with each other within twice that bound, not bit for bit.
(:func:`error_bound` evaluates it.)

Examples
--------
>>> from quantref.lowbit import quantize_groupwise
>>> w = np.array([[-1.0, 0.5, 0.0, 1.5], [0.5, -1.0, 1.5, 0.0]])    # exact on the 4-bit grids
>>> pw = pack_weight(quantize_groupwise(w, bits=4, group_size=2))
>>> pw.packed                     # codes [0, 15, 0, 15] and [15, 0, 15, 0], even index low
array([[240, 240],
       [ 15,  15]], dtype=uint8)
>>> w4a16_matmul(np.array([1.0, 2.0, 1.0, 1.0], dtype=np.float32), pw, backend="numpy")
array([1.5, 0. ], dtype=float32)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quantref.kernels.backend import check_num_threads, resolve

from .groupwise import GroupQuantized, check_group_size
from .packing import pack_nibbles, unpack_nibbles

COMPILED = "quantref.lowbit._w4a16"
TWIN = "quantref.lowbit._numpy_backend"
IMPLS = ("auto", "avx512", "avx2", "portable", "reference")
#: unit roundoff of float32
U32 = 2.0 ** -24


def get_backend(backend: str | None = None):
    """The module implementing the kernel: ``quantref.lowbit._w4a16`` or its NumPy twin."""
    return resolve(backend, COMPILED, TWIN)


@dataclass(frozen=True)
class PackedWeight:
    """A group-quantized weight in the kernel's storage format.

    ``w_hat[n, k] = scales[n, k // G] * (code(n, k) - zero_points[n, k // G])`` with
    ``code(n, k) = (packed[n, k // 2] >> 4 * (k % 2)) & 15``.
    """

    packed: np.ndarray       #: uint8, shape (N, K // 2), C-contiguous
    scales: np.ndarray       #: float32, shape (N, K // G), C-contiguous
    zero_points: np.ndarray  #: uint8, shape (N, K // G), C-contiguous
    group_size: int
    bits: int

    @property
    def shape(self) -> tuple:
        """``(N, K)`` of the unpacked weight."""
        return (self.packed.shape[0], 2 * self.packed.shape[1])

    @property
    def nbytes(self) -> int:
        """Bytes the kernel reads for the weight: codes, scales and zero points."""
        return int(self.packed.nbytes + self.scales.nbytes + self.zero_points.nbytes)

    def dequantize(self) -> np.ndarray:
        """The float64 weight :math:`\\hat W = s (q - z)` from the stored (float32) scales."""
        codes = unpack_nibbles(self.packed).astype(np.int64)
        s = np.repeat(self.scales.astype(np.float64), self.group_size, axis=1)
        z = np.repeat(self.zero_points.astype(np.int64), self.group_size, axis=1)
        return s * (codes - z)


def pack_weight(gq: GroupQuantized) -> PackedWeight:
    """The kernel's format of a group-quantized weight: nibble-packed codes, float32 scales, uint8 zeros.

    Raises
    ------
    TypeError
        ``gq`` is not a :class:`~quantref.lowbit.groupwise.GroupQuantized`.
    ValueError
        Codes of more than 4 bits, or an odd group size (groups must start on a byte).
    """
    if not isinstance(gq, GroupQuantized):
        raise TypeError(f"gq must be a GroupQuantized (from quantize_groupwise, gptq_quantize or awq_quantize), "
                        f"got {type(gq).__name__}.")
    if gq.bits > 4:
        raise ValueError(f"the W4A16 kernel stores codes in nibbles, so bits must be <= 4, got bits={gq.bits}.")
    if gq.group_size % 2:
        raise ValueError(f"group_size={gq.group_size} is odd; groups must start on a byte boundary (two codes "
                         f"per byte), so use an even group size.")
    scales = np.ascontiguousarray(gq.scales, dtype=np.float32)
    if not np.all(np.isfinite(scales)) or np.any(scales <= 0):
        raise ValueError("the scales must be positive and finite in float32 (a scale below 1.2e-38 or above "
                         "3.4e38 does not fit); rescale the weight.")
    return PackedWeight(np.ascontiguousarray(pack_nibbles(gq.codes)), scales,
                        np.ascontiguousarray(gq.zero_points, dtype=np.uint8), gq.group_size, gq.bits)


def _check_packed_weight(pw) -> PackedWeight:
    if not isinstance(pw, PackedWeight):
        raise TypeError(f"weight must be a PackedWeight (from pack_weight), got {type(pw).__name__}.")
    N, K = pw.shape
    for name, arr, dtype in (("packed", pw.packed, np.uint8), ("scales", pw.scales, np.float32),
                             ("zero_points", pw.zero_points, np.uint8)):
        if not isinstance(arr, np.ndarray) or arr.dtype != dtype or arr.ndim != 2 or not arr.flags.c_contiguous:
            raise TypeError(f"weight.{name} must be a C-contiguous 2-D {np.dtype(dtype)} array; build the weight "
                            f"with pack_weight.")
    G = check_group_size(pw.group_size, K) if K else pw.group_size
    if G % 2:
        raise ValueError(f"weight.group_size={G} must be even (groups start on a byte).")
    expect = (N, K // G if K else 0)
    if pw.scales.shape != expect or pw.zero_points.shape != expect:
        raise ValueError(f"weight.scales and weight.zero_points must have shape {expect} (one per group of {G}), "
                         f"got {pw.scales.shape} and {pw.zero_points.shape}.")
    if pw.zero_points.size and int(pw.zero_points.max()) > 15:
        raise ValueError(f"weight.zero_points must lie in [0, 15] (4-bit codes), got {int(pw.zero_points.max())}.")
    return pw


def _check_x(x, K: int):
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    if x.dtype not in (np.float32, np.float16):
        raise TypeError(f"x has dtype {x.dtype}; the W4A16 kernel takes float32 (or float16) activations: "
                        f"convert with x.astype(np.float32).")
    if x.ndim not in (1, 2):
        raise ValueError(f"x must be a vector (K,) or a matrix (M, K), got shape {x.shape}.")
    if x.shape[-1] != K:
        raise ValueError(f"x has {x.shape[-1]} entries along its last axis, but the weight has K={K} inputs: "
                         f"shapes x {x.shape} and weight (N, K) = (?, {K}) do not match for x @ w_hat.T.")
    if not np.all(np.isfinite(x)):
        raise ValueError("x contains NaN or inf; the product would be meaningless. Find where they come from.")
    return np.ascontiguousarray(np.atleast_2d(x), dtype=np.float32)


def w4a16_matmul(x, weight: PackedWeight, *, out=None, num_threads: int | None = 1, backend: str | None = None,
                 impl: str = "auto") -> np.ndarray:
    """``y = x @ w_hat.T`` with the 4-bit weight dequantized on the fly.

    Parameters
    ----------
    x : ndarray of float32 (or float16), shape (K,) or (M, K)
        Activations; small ``M`` (1 to a few dozen) is the case the kernel is made for.
    weight : PackedWeight
        From :func:`pack_weight`; shape ``(N, K)``.
    out : ndarray of float32, optional
        C-contiguous, shape ``(M, N)`` (``(N,)`` for a vector ``x``); written and returned.
    num_threads : int or None
        Threads of the compiled kernel (None: every core).  The NumPy backend ignores it.
    backend : {"auto", "cython", "numpy"}, optional
        Overrides ``QUANTREF_BACKEND`` (:mod:`quantref.kernels.backend`).
    impl : {"auto", "avx512", "avx2", "portable", "reference"}
        Compiled backend only: the SIMD loop (an error if the CPU lacks it), the portable C loop, or
        the readable Cython loop; ``"auto"`` takes the widest the CPU has.

    Returns
    -------
    ndarray of float32, shape (M, N), or (N,) for a vector ``x``

    Raises
    ------
    TypeError
        ``x`` not float32/float16, ``weight`` not a PackedWeight, a wrong ``out``.
    ValueError
        NaN/inf in ``x``, a shape mismatch, an unknown ``impl``.
    RuntimeError
        ``impl="avx512"`` / ``"avx2"`` on a CPU without it.
    """
    pw = _check_packed_weight(weight)
    N, K = pw.shape
    vector = np.ndim(x) == 1
    x2 = _check_x(x, K)
    M = x2.shape[0]
    if impl not in IMPLS:
        raise ValueError(f"impl={impl!r} is unknown; use one of {IMPLS}.")
    nthreads = check_num_threads(num_threads)
    shape = (N,) if vector else (M, N)
    if out is None:
        out = np.empty(shape, dtype=np.float32)
    elif not isinstance(out, np.ndarray) or out.dtype != np.float32:
        raise TypeError("out must be a float32 NumPy array.")
    elif out.shape != shape or not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError(f"out must be a writable C-contiguous float32 array of shape {shape}, got {out.shape}.")
    mod = get_backend(backend)
    out2 = out.reshape(M, N)
    if impl == "reference":
        mod.w4a16_reference(x2, pw.packed, pw.scales, pw.zero_points, pw.group_size, out2)
        return out
    compiled = mod.__name__ == COMPILED
    if impl == "auto":
        impl = "avx512" if mod.AVX512_AVAILABLE else "avx2" if mod.AVX2_AVAILABLE else "portable"
    elif compiled and impl == "avx512" and not mod.AVX512_AVAILABLE:
        raise RuntimeError("impl='avx512' needs a CPU with AVX-512F; use impl='auto', 'avx2' or 'portable'.")
    elif compiled and impl == "avx2" and not mod.AVX2_AVAILABLE:
        raise RuntimeError("impl='avx2' needs a CPU with AVX2 and FMA; use impl='auto' or 'portable'.")
    mod.w4a16(x2, pw.packed, pw.scales, pw.zero_points, pw.group_size, out2, nthreads, impl)
    return out


def error_bound(x, weight) -> np.ndarray:
    r"""The bound :math:`\gamma_{K+2} \sum_k |x_{mk}| |\hat W_{nk}|` of the module docstring, float64 (M, N).

    ``weight`` is a :class:`PackedWeight` or a float matrix ``(N, K)`` of dequantized weights.
    """
    w = weight.dequantize() if isinstance(weight, PackedWeight) else np.asarray(weight, dtype=np.float64)
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    K = w.shape[1]
    gamma = (K + 2) * U32 / (1 - (K + 2) * U32)
    return gamma * (np.abs(x) @ np.abs(w).T)


def bytes_per_call(M: int, N: int, K: int, group_size: int | None) -> int:
    """Bytes one call moves at least: the weight (4-bit codes + float32 scale + uint8 zero per group,
    or float32 when ``group_size`` is None), ``x`` read and ``y`` written, float32."""
    weight = N * K * 4 if group_size is None else N * K // 2 + 5 * N * (K // group_size)
    return int(weight + 4 * M * K + 4 * M * N)
