r"""MADDNESS: approximate matrix products with a learned hash instead of nearest-prototype encoding.

Blalock & Guttag (2021, "Multiplying Matrices Without Multiplying") approximate :math:`AB` for a
fixed :math:`B` (:math:`D \times n_{\text{out}}`) and rows of :math:`A` that arrive later.  Like
product quantization, the :math:`D` columns of :math:`A` are split into :math:`C` codebooks of
:math:`D/C` columns with 16 prototypes each, and :math:`a B \approx \sum_c T_{c,\,g_c(a)}` with
tables :math:`T_{c,k} = P_{c,k} B` computed once.  What changes is the **encoder** :math:`g_c`:

* a balanced binary tree of 4 levels per codebook; level :math:`l` compares one coordinate
  :math:`j_l` (the same for all nodes of the level) with a per-node threshold
  :math:`t_{l,g}`, walking

  .. math::

      g \leftarrow 0; \qquad g \leftarrow 2g + [\,a_{j_l} > t_{l,g}\,], \quad l = 0, 1, 2, 3,

  so a code costs 4 comparisons instead of the :math:`16 \cdot D/C` multiply-adds of a
  nearest-prototype search;
* learning (their Algorithm 2), greedily per level: for each candidate coordinate (the
  ``candidates`` coordinates with the largest squared error summed over the current buckets),
  split every bucket at the threshold that minimises the sum of the two halves' squared errors
  (over the codebook's columns), and keep the coordinate with the lowest total;
* the prototypes start as the leaves' means (zero outside the codebook's columns) and can then be
  refined over all :math:`D` columns by ridge regression on the one-hot codes
  :math:`G \in \{0,1\}^{n \times 16C}` (their section 4.3):

  .. math::

      P = \arg\min_P \lVert A - G P \rVert_F^2 + \lambda \lVert P \rVert_F^2
        = (G^\top G + \lambda I)^{-1} G^\top A ;

* the tables are quantized to uint8 (per-codebook offset, one shared power-of-two scale,
  :mod:`quantref.pq.tables`) and summed with the 4-bit byte-shuffle scan.  The paper averages
  with saturating byte adds; here the integer sums are exact (16-bit), so the only error of the
  aggregation is the table rounding.
"""
from __future__ import annotations

import numbers

import numpy as np
from tqdm.auto import tqdm

from quantref.kernels.backend import kernel_threads

from .product_quantizer import check_rows
from .scan import PackedCodes4, get_backend, scan
from .tables import quantize_tables

LEVELS = 4
LEAVES = 1 << LEVELS
#: show a progress bar when fitting (rows x columns x candidates) exceeds this
PROGRESS_WORK = 2e7


def _split(xc: np.ndarray, v: np.ndarray):
    """Best split of a bucket along one coordinate.

    ``xc`` (nb, d) holds the bucket's rows (centred, float64) over the codebook's columns and
    ``v`` (nb,) the float32 split coordinate.  Returns (threshold float32, loss): the rows with
    ``v > threshold`` go right; the loss is the two halves' summed squared error.  A bucket that
    cannot be split (fewer than two distinct values) gets threshold +inf (all rows left).
    """
    nb = len(v)
    rowsq = np.einsum("nd,nd->n", xc, xc)
    total = float(rowsq.sum())
    if nb < 2:
        return np.float32(np.inf), total
    order = np.argsort(v, kind="stable")
    vs, xs = v[order], xc[order]
    # left part = rows [0, i] in sorted order: SSE = sum ||x||^2 - ||sum x||^2 / count, and the
    # right part from the totals: ||T - c||^2 = ||T||^2 - 2 T.c + ||c||^2 with T the sum of all rows
    c1 = np.cumsum(xs, axis=0)
    c1sq = np.einsum("nd,nd->n", c1, c1)
    sq = np.cumsum(rowsq[order])
    T = c1[-1]
    cnt = np.arange(1, nb + 1, dtype=np.float64)
    rcnt = nb - cnt
    sse_left = sq - c1sq / cnt
    rsq = float(T @ T) - 2.0 * (c1 @ T) + c1sq
    sse_right = (total - sq) - rsq / np.maximum(rcnt, 1.0)
    loss = sse_left[:-1] + sse_right[:-1]
    valid = vs[:-1] < vs[1:]
    if not valid.any():
        return np.float32(np.inf), total
    loss = np.where(valid, loss, np.inf)
    i = int(np.argmin(loss))
    lo, hi = vs[i], vs[i + 1]
    t = np.float32((np.float64(lo) + np.float64(hi)) / 2)
    if not (lo <= t < hi):
        t = lo
    return t, float(loss[i])


class MaddnessEncoder:
    """The learned hash of MADDNESS: one 4-level balanced tree per codebook.

    Parameters
    ----------
    ncodebooks : int
        Number of codebooks C; the data's dimension must be divisible by it.
    candidates : int
        Coordinates tried per tree level (those with the largest squared error).

    Attributes
    ----------
    split_dims : ndarray of int64, shape (C, 4)
        Column of A compared at each level.
    thresholds : ndarray of float32, shape (C, 4, 8)
        ``thresholds[c, l, g]`` for the ``2**l`` nodes of level l (+inf elsewhere).
    prototypes : ndarray of float32, shape (C, 16, D)
        Leaf means, zero outside the codebook's columns (or ridge-refined, over all columns).

    All three are None until :meth:`fit`.
    """

    def __init__(self, ncodebooks: int = 16, *, candidates: int = 4):
        for v, name in ((ncodebooks, "ncodebooks"), (candidates, "candidates")):
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral) or int(v) < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}.")
        self.ncodebooks = int(ncodebooks)
        self.candidates = int(candidates)
        self.split_dims = self.thresholds = self.prototypes = None
        self.d = None

    @classmethod
    def from_trees(cls, split_dims, thresholds, d: int) -> "MaddnessEncoder":
        r"""An encoder with given trees (no prototypes): for encoding rows of dimension ``d``.

        ``split_dims[c, l]`` is the column of A compared at level ``l`` of codebook ``c``, and
        ``thresholds[c, l, g]`` the threshold of node ``g`` of that level (entries ``g >= 2**l`` are
        never read).  :meth:`encode` then computes, per row ``a`` and codebook ``c``,

        .. math::

            g \leftarrow 0; \qquad g \leftarrow 2g + [\,a_{j_{c,l}} > t_{c,l,g}\,], \quad l = 0, 1, 2, 3.

        Parameters
        ----------
        split_dims : array_like of int, shape (C, 4)
            Column indices in ``[0, d)``.
        thresholds : array_like of float, shape (C, 4, 8)
            Converted to float32, as :meth:`fit` learns them.
        d : int
            Dimension of the rows to encode.

        Examples
        --------
        >>> enc = MaddnessEncoder.from_trees([[0, 1, 0, 1]], np.zeros((1, 4, 8)), d=2)
        >>> enc.encode(np.array([[1.0, -1.0], [-1.0, 1.0]], dtype=np.float32))
        array([[10],
               [ 5]], dtype=uint8)
        """
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, numbers.Integral) or int(d) < 1:
            raise ValueError(f"d must be a positive integer, got {d!r}.")
        dims = np.asarray(split_dims)
        if dims.ndim != 2 or dims.shape[1] != LEVELS or not np.issubdtype(dims.dtype, np.integer):
            raise ValueError(f"split_dims must be an integer array of shape (C, {LEVELS}), got "
                             f"{dims.dtype} {dims.shape}.")
        thr = np.asarray(thresholds, dtype=np.float32)
        if thr.shape != (dims.shape[0], LEVELS, LEAVES // 2):
            raise ValueError(f"thresholds must have shape ({dims.shape[0]}, {LEVELS}, {LEAVES // 2}) for "
                             f"{dims.shape[0]} codebooks, got {thr.shape}.")
        if np.isnan(thr).any():
            raise ValueError("thresholds contain NaN; use +inf for a node that sends every row left.")
        enc = cls(dims.shape[0])
        enc.split_dims, enc.thresholds, enc.d = dims.astype(np.int64), np.ascontiguousarray(thr), int(d)
        enc._need_fitted()                  # checks the column indices against d
        return enc

    @property
    def is_fitted(self) -> bool:
        return self.split_dims is not None

    def _need_fitted(self):
        if not self.is_fitted:
            raise RuntimeError("the encoder is not fitted: call fit(A_train) first.")
        # the kernels read x[i, split_dims[c, l]] and thresholds[c, l, g]: check what they index
        C = self.ncodebooks
        dims = self.split_dims
        if not isinstance(dims, np.ndarray) or dims.dtype != np.int64 or dims.shape != (C, LEVELS):
            raise ValueError(f"split_dims must be an int64 array of shape ({C}, {LEVELS}).")
        if not isinstance(self.d, numbers.Integral) or dims.size and (dims.min() < 0 or dims.max() >= self.d):
            raise ValueError(f"split_dims must hold column indices in [0, {self.d}), got "
                             f"{dims.min()}..{dims.max()}.")
        thr = self.thresholds
        if not isinstance(thr, np.ndarray) or thr.dtype != np.float32 or thr.shape != (C, LEVELS, LEAVES // 2) \
                or not thr.flags.c_contiguous:
            raise ValueError(f"thresholds must be a C-contiguous float32 array of shape ({C}, {LEVELS}, {LEAVES // 2}).")

    def fit(self, A, *, progress: bool | None = None) -> "MaddnessEncoder":
        """Learn the trees and the leaf-mean prototypes from training rows ``A`` (n, D)."""
        A = np.asarray(A) if not isinstance(A, np.ndarray) else A
        D = A.shape[1] if getattr(A, "ndim", 0) == 2 else None
        A32 = check_rows(A, D if D is not None else -1, "A_train")
        n, D = A32.shape
        C = self.ncodebooks
        if D % C:
            raise ValueError(f"A_train has D={D} columns, not divisible by ncodebooks={C}: each codebook takes "
                             f"D/C columns. Choose ncodebooks among the divisors of {D}.")
        if n < LEAVES:
            raise ValueError(f"{LEAVES} leaves per codebook is larger than the data: only {n} training rows. "
                             f"Fit on at least {LEAVES} rows.")
        dsub = D // C
        dims = np.zeros((C, LEVELS), dtype=np.int64)
        thr = np.full((C, LEVELS, LEAVES // 2), np.inf, dtype=np.float32)
        protos = np.zeros((C, LEAVES, D), dtype=np.float32)
        if progress is None:
            progress = n * D * self.candidates > PROGRESS_WORK
        for c in tqdm(range(C), desc=f"MADDNESS trees ({C} codebooks)", disable=not progress):
            cols = np.arange(c * dsub, (c + 1) * dsub)
            X = A32[:, cols].astype(np.float64)
            V = A32[:, cols]
            buckets = [np.arange(n)]
            means = [X.mean(axis=0)]
            for level in range(LEVELS):
                col_loss = np.zeros(dsub)
                centred = []
                for b in buckets:
                    xb = X[b] - X[b].mean(axis=0) if len(b) else X[b]
                    centred.append(xb)
                    col_loss += np.sum(xb * xb, axis=0)
                cand = np.argsort(-col_loss, kind="stable")[:self.candidates]
                best = None
                for j in cand:
                    splits = [_split(xb, V[b, j]) for b, xb in zip(buckets, centred)]
                    total = sum(s[1] for s in splits)
                    if best is None or total < best[0]:
                        best = (total, j, [s[0] for s in splits])
                _, j, ts = best
                dims[c, level] = cols[j]
                new_buckets, new_means = [], []
                for g, (b, t) in enumerate(zip(buckets, ts)):
                    thr[c, level, g] = t
                    right = V[b, j] > t
                    for part in (b[~right], b[right]):
                        new_buckets.append(part)
                        new_means.append(X[part].mean(axis=0) if len(part) else means[g])
                buckets, means = new_buckets, new_means
            for g in range(LEAVES):
                protos[c, g, cols] = means[g]
        self.split_dims, self.thresholds, self.prototypes, self.d = dims, thr, protos, D
        return self

    def encode(self, A, *, packed: bool = False, num_threads: int | None = None, backend: str | None = None,
               check_finite: bool = True):
        """Codes of the rows of ``A`` (n, D): uint8 (n, C), or PackedCodes4 with ``packed=True``.

        The packed form is written directly by the kernel (no separate packing pass).
        """
        self._need_fitted()
        A = check_rows(A, self.d, "A", check_finite=check_finite)
        mod = get_backend(backend)
        nthreads = kernel_threads(num_threads)
        if packed:
            data = np.zeros((-(-len(A) // 32), -(-self.ncodebooks // 2), 32), dtype=np.uint8)
            mod.encode_maddness_packed(A, self.split_dims, self.thresholds, data, nthreads)
            return PackedCodes4(data, len(A), self.ncodebooks)
        codes = np.empty((len(A), self.ncodebooks), dtype=np.uint8)
        mod.encode_maddness(A, self.split_dims, self.thresholds, codes, nthreads)
        return codes

    def refine_prototypes(self, A, ridge: float = 1.0) -> "MaddnessEncoder":
        """Ridge regression of the prototypes on the one-hot codes of ``A`` (see the module docstring)."""
        self._need_fitted()
        if isinstance(ridge, (bool, np.bool_)) or not isinstance(ridge, numbers.Real) or not ridge >= 0:
            raise ValueError(f"ridge must be a number >= 0, got {ridge!r}.")
        A = check_rows(A, self.d, "A_train")
        codes = self.encode(A).astype(np.int64)
        C = self.ncodebooks
        G = np.zeros((len(A), C * LEAVES))
        G[np.arange(len(A))[:, None], codes + LEAVES * np.arange(C)[None, :]] = 1.0
        gram = G.T @ G + float(ridge) * np.eye(C * LEAVES)
        P = np.linalg.lstsq(gram, G.T @ A.astype(np.float64), rcond=None)[0]
        self.prototypes = P.reshape(C, LEAVES, self.d).astype(np.float32)
        return self


class MaddnessMatmul:
    """Approximate ``A @ B`` for a fixed ``B``: fit on training rows of A, then apply to new rows.

    Parameters
    ----------
    ncodebooks : int
        Codebooks C (4-bit codes each); ``D`` must be divisible by C.
    ridge : float or None
        lambda of the prototype refinement; None keeps the leaf means.
    quantize : bool
        uint8 tables and the byte-shuffle scan (True, as MADDNESS) or float32 tables.
    candidates : int
        Coordinates tried per tree level.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> A, B = rng.normal(size=(2000, 32)).astype(np.float32), rng.normal(size=(32, 3)).astype(np.float32)
    >>> amm = MaddnessMatmul(ncodebooks=4).fit(A[:1000], B)
    >>> amm(A[1000:]).shape
    (1000, 3)
    """

    def __init__(self, ncodebooks: int = 16, *, ridge: float | None = 1.0, quantize: bool = True,
                 candidates: int = 4):
        self.encoder = MaddnessEncoder(ncodebooks, candidates=candidates)
        self.ridge = ridge
        self.quantize = bool(quantize)
        self.tables = self.qtables = None
        self.nout = None

    def fit(self, A_train, B, *, progress: bool | None = None) -> "MaddnessMatmul":
        """Learn the encoder (and refine the prototypes) on ``A_train`` (n, D), then build B's tables."""
        self.encoder.fit(A_train, progress=progress)
        if self.ridge is not None:
            self.encoder.refine_prototypes(A_train, self.ridge)
        return self.set_B(B)

    def set_B(self, B) -> "MaddnessMatmul":
        """Tables ``T[j, c, k] = P[c, k] . B[:, j]`` (float64, stored float32; uint8 when ``quantize``)."""
        self.encoder._need_fitted()
        B = np.asarray(B)
        if B.ndim != 2 or B.shape[0] != self.encoder.d:
            raise ValueError(f"B must have shape (D, n_out) with D={self.encoder.d}, got {B.shape}.")
        Bt = check_rows(B.T, self.encoder.d, "B.T")
        T = np.einsum("ckd,dj->jck", self.encoder.prototypes.astype(np.float64), Bt.T.astype(np.float64))
        self.tables = T.astype(np.float32)
        self.qtables = quantize_tables(self.tables) if self.quantize else None
        self.nout = B.shape[1]
        return self

    def __call__(self, A, *, num_threads: int | None = None, backend: str | None = None, impl: str = "auto",
                 check_finite: bool = True) -> np.ndarray:
        """The approximate product (n, n_out) float32 (a transposed view of the scan's (n_out, n) result)."""
        if self.tables is None:
            raise RuntimeError("call fit(A_train, B) first.")
        if self.quantize:
            packed = self.encoder.encode(A, packed=True, num_threads=num_threads, backend=backend,
                                         check_finite=check_finite)
            est = scan(packed, self.qtables, dequantize=True, num_threads=num_threads, backend=backend, impl=impl)
        else:
            codes = self.encoder.encode(A, num_threads=num_threads, backend=backend, check_finite=check_finite)
            est = scan(codes, self.tables, num_threads=num_threads, backend=backend)
        return est.T

    matmul = __call__
