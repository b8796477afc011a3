r"""Product quantization (Jégou et al. 2011) with a Faiss-like API: train, encode, decode, tables.

A vector :math:`x \in \mathbb{R}^D` is cut into :math:`M` sub-vectors of :math:`d = D/M`
coordinates, :math:`x = (x^{(0)}, \dots, x^{(M-1)})`.  Each subspace :math:`m` has its own
codebook of :math:`K = 2^{\text{nbits}}` prototypes :math:`c_{m,0}, \dots, c_{m,K-1}`, learned by
k-means on the training rows' sub-vectors (**prototype learning**).  A vector is stored as
:math:`M` codes (**encoding**), the nearest prototype in each subspace,

.. math::

    \text{code}_m(x) = \arg\min_k \lVert x^{(m)} - c_{m,k} \rVert^2 ,
    \qquad \hat x = (c_{0,\text{code}_0}, \dots, c_{M-1,\text{code}_{M-1}}) .

For a query :math:`q`, inner products and squared distances to every prototype form the lookup
tables (**table construction**), shape (nq, M, K) as Faiss' ``compute_inner_prod_tables`` and
``compute_distance_tables``,

.. math::

    T^{\text{ip}}_{m,k} = q^{(m)} \cdot c_{m,k}, \qquad
    T^{\text{L2}}_{m,k} = \lVert q^{(m)} - c_{m,k} \rVert^2 ,

and then :math:`q \cdot \hat x = \sum_m T^{\text{ip}}_{m,\text{code}_m}` and
:math:`\lVert q - \hat x \rVert^2 = \sum_m T^{\text{L2}}_{m,\text{code}_m}` exactly: :math:`M`
lookups instead of :math:`D` multiply-adds per database row (**aggregation**, :func:`scan`).
"""
from __future__ import annotations

import numbers

import numpy as np
from tqdm.auto import tqdm

from quantref.kernels.backend import kernel_threads

from .kmeans import kmeans
from .scan import check_codes, get_backend, scan

METRICS = ("ip", "l2")
#: show a progress bar during training when (training rows x K x M x niter) exceeds this
PROGRESS_WORK = 3e8


def _positive_int(v, name: str) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral) or int(v) < 1:
        raise ValueError(f"{name} must be a positive integer, got {v!r}.")
    return int(v)


def check_rows(x, d: int, name: str = "x", *, check_finite: bool = True) -> np.ndarray:
    """Return ``x`` as a C-contiguous float32 (n, d) array, or raise naming ``name``.

    float32 input is used as is (no copy when C-contiguous); other real dtypes are converted.
    ``check_finite`` rejects NaN and inf (two reductions, min and max, over the data).
    """
    if isinstance(x, np.ndarray):
        arr = x
    else:
        arr = np.asarray(x)
    if arr.dtype == np.bool_ or arr.dtype == object or not (
            np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name} must hold real numbers (float or int), got dtype {arr.dtype}; "
                        f"convert with np.asarray({name}, dtype=np.float32).")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n rows, {d} columns), got shape {arr.shape}.")
    if arr.shape[1] != d:
        raise ValueError(f"{name} has {arr.shape[1]} columns, but the quantizer works in dimension {d}.")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if check_finite and arr.size:
        lo, hi = arr.min(), arr.max()
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValueError(f"{name} contains NaN or inf; encode finite vectors only "
                             f"(np.nan_to_num({name}) replaces them).")
    return arr


class ProductQuantizer:
    """Product quantizer of ``d``-dimensional vectors into ``M`` codes of ``nbits`` bits.

    Parameters
    ----------
    d : int
        Vector dimension; must be divisible by ``M``.
    M : int
        Number of subspaces (codebooks), each of ``dsub = d // M`` coordinates.
    nbits : int
        Bits per code, 1 to 8: ``ksub = 2**nbits`` prototypes per subspace.  ``nbits=4`` (16
        prototypes) gets the byte-shuffle fast scan (:func:`~quantref.pq.scan.pack_codes_4bit`).

    Attributes
    ----------
    centroids : ndarray of float32, shape (M, ksub, dsub), or None before training

    Examples
    --------
    >>> pq = ProductQuantizer(4, 2, nbits=1)
    >>> pq.centroids = np.array([[[0, 0], [1, 1]], [[0, 0], [2, 2]]], dtype=np.float32)
    >>> codes = pq.compute_codes(np.array([[0.9, 0.8, 0.1, 0.0]], dtype=np.float32))
    >>> codes, pq.decode(codes)
    (array([[1, 0]], dtype=uint8), array([[1., 1., 0., 0.]], dtype=float32))
    """

    def __init__(self, d, M, nbits: int = 8):
        d, M = _positive_int(d, "d"), _positive_int(M, "M")
        if isinstance(nbits, (bool, np.bool_)) or not isinstance(nbits, numbers.Integral) or not 1 <= nbits <= 8:
            raise ValueError(f"nbits={nbits!r}: codes are stored in uint8, so nbits must be 1 to 8.")
        if d % M:
            raise ValueError(f"d={d} is not divisible by M={M}: every subspace needs the same number of "
                             f"coordinates. Choose M among the divisors of d (or pad the vectors with zeros).")
        self.d, self.M, self.nbits = d, M, int(nbits)
        self.ksub = 1 << self.nbits
        self.dsub = d // M
        self._centroids = None

    # ------------------------------------------------------------------ state
    @property
    def centroids(self):
        return self._centroids

    @centroids.setter
    def centroids(self, value):
        c = np.asarray(value)
        if c.shape != (self.M, self.ksub, self.dsub):
            raise ValueError(f"centroids must have shape (M, ksub, dsub) = {(self.M, self.ksub, self.dsub)}, "
                             f"got {c.shape}.")
        if not np.issubdtype(c.dtype, np.floating) and not np.issubdtype(c.dtype, np.integer):
            raise TypeError(f"centroids must be real numbers, got dtype {c.dtype}.")
        c = np.ascontiguousarray(c, dtype=np.float32)
        if not np.all(np.isfinite(c)):
            raise ValueError("centroids contain NaN or inf.")
        self._centroids = c

    @property
    def is_trained(self) -> bool:
        return self._centroids is not None

    def _need_trained(self):
        if self._centroids is None:
            raise RuntimeError("the ProductQuantizer is not trained: call train(x) first (or set centroids).")

    @property
    def code_size(self) -> int:
        """Bytes per encoded vector when the codes are bit-packed: ``ceil(M * nbits / 8)``."""
        return -(-self.M * self.nbits // 8)

    def __repr__(self):
        return (f"ProductQuantizer(d={self.d}, M={self.M}, nbits={self.nbits}; dsub={self.dsub}, "
                f"ksub={self.ksub}, {'trained' if self.is_trained else 'untrained'})")

    # ------------------------------------------------------------------ prototype learning
    def train(self, x, *, niter: int = 25, seed: int = 1234, init: str = "random",
              max_points_per_centroid: int | None = 256, progress: bool | None = None) -> "ProductQuantizer":
        """Learn the ``M`` codebooks by k-means on the sub-vectors of the training rows.

        Parameters
        ----------
        x : array_like, shape (n, d)
            Training rows; ``n >= ksub``.
        niter : int
            Lloyd iterations per subspace (Faiss' default: 25).
        seed : int
            Seeds the sub-sampling and the initialisation (subspace m uses ``seed + m``).
        init : {"random", "kmeans++"}
        max_points_per_centroid : int or None
            As Faiss: train on at most ``max_points_per_centroid * ksub`` rows, drawn at random
            (None: all rows).
        progress : bool or None
            tqdm bar over the subspaces; None shows it when the training is long.

        Returns
        -------
        self
        """
        x = check_rows(x, self.d)
        n = x.shape[0]
        if n < self.ksub:
            raise ValueError(f"k={self.ksub} prototypes per subspace (nbits={self.nbits}) is larger than the data: "
                             f"only {n} training rows. Train on at least {self.ksub} rows, or use fewer bits.")
        niter = _positive_int(niter, "niter")
        rng = np.random.default_rng(seed)
        if max_points_per_centroid is not None:
            cap = _positive_int(max_points_per_centroid, "max_points_per_centroid") * self.ksub
            if n > cap:
                x = x[np.sort(rng.choice(n, size=cap, replace=False))]
        if progress is None:
            progress = len(x) * self.ksub * self.M * niter > PROGRESS_WORK
        cents = np.empty((self.M, self.ksub, self.dsub), dtype=np.float32)
        for m in tqdm(range(self.M), desc=f"PQ training ({self.M} x k-means, k={self.ksub})", disable=not progress):
            sub = x[:, m * self.dsub:(m + 1) * self.dsub]
            cents[m] = kmeans(sub, self.ksub, niter=niter, seed=seed + m, init=init).centroids
        self._centroids = cents
        return self

    # ------------------------------------------------------------------ encoding / decoding
    def compute_codes(self, x, *, num_threads: int | None = None, backend: str | None = None,
                      check_finite: bool = True) -> np.ndarray:
        """Nearest prototype per subspace: uint8 codes of shape (n, M) (ties to the lower index).

        The distances are summed in float32 over the subspace's coordinates in order; the
        compiled kernel and the NumPy twin give the same codes.
        """
        self._need_trained()
        x = check_rows(x, self.d, check_finite=check_finite)
        codes = np.empty((x.shape[0], self.M), dtype=np.uint8)
        ct = np.ascontiguousarray(self._centroids.transpose(0, 2, 1))   # (M, dsub, ksub)
        get_backend(backend).encode_pq(x, ct, codes, kernel_threads(num_threads))
        return codes

    def decode(self, codes) -> np.ndarray:
        """Reconstruct ``x_hat`` (n, d) float32 from codes (n, M): the concatenated prototypes."""
        self._need_trained()
        codes = check_codes(codes, M=self.M, ksub=self.ksub)
        parts = [self._centroids[m][codes[:, m]] for m in range(self.M)]
        return np.concatenate(parts, axis=1) if parts else np.zeros((len(codes), 0), np.float32)

    # ------------------------------------------------------------------ table construction
    def compute_inner_prod_tables(self, q) -> np.ndarray:
        """``T[j, m, k] = q_j^(m) . c_{m,k}``: float32 (nq, M, ksub), computed in float64."""
        return self.tables(q, "ip")

    def compute_distance_tables(self, q) -> np.ndarray:
        """``T[j, m, k] = ||q_j^(m) - c_{m,k}||^2``: float32 (nq, M, ksub), computed in float64."""
        return self.tables(q, "l2")

    def tables(self, q, metric: str = "ip") -> np.ndarray:
        """Lookup tables of the queries ``q`` (nq, d) for ``metric`` ``"ip"`` or ``"l2"``."""
        self._need_trained()
        if metric not in METRICS:
            raise ValueError(f"metric={metric!r} is unknown; use 'ip' (inner product) or 'l2' (squared distance).")
        q = check_rows(q, self.d, "q").astype(np.float64)
        qs = q.reshape(len(q), self.M, self.dsub)
        c = self._centroids.astype(np.float64)
        ip = np.einsum("nmd,mkd->nmk", qs, c)
        if metric == "ip":
            return ip.astype(np.float32)
        l2 = np.einsum("nmd,nmd->nm", qs, qs)[:, :, None] - 2.0 * ip + np.einsum("mkd,mkd->mk", c, c)[None]
        return np.maximum(l2, 0.0).astype(np.float32)

    # ------------------------------------------------------------------ aggregation
    def scan(self, codes, tables, **kwargs) -> np.ndarray:
        """:func:`quantref.pq.scan.scan` with the codes checked against this quantizer's shape."""
        if isinstance(codes, np.ndarray):
            codes = check_codes(codes, M=self.M, ksub=self.ksub)
        return scan(codes, tables, **kwargs)
