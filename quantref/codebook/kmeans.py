r"""One-dimensional k-means: the clustering step of Deep Compression's weight sharing.

Han et al. (2016, "Deep Compression", section 3) replace the :math:`n` weights of a layer by
:math:`k` shared values, the centroids :math:`c_1 \le \dots \le c_k`, chosen by k-means to
minimise the within-cluster sum of squares

.. math::

    \min_{c,\ \text{codes}} \sum_{i=1}^{n} \big(w_i - c_{\text{code}_i}\big)^2 .

Lloyd's algorithm alternates two steps until the assignment stops changing:

* **assign** every value to its nearest centroid, :math:`\text{code}_i = \arg\min_j |w_i - c_j|`
  (ties go to the smaller centroid, i.e. the lower index, as ``np.argmin`` does);
* **update** every centroid to the mean of its values, :math:`c_j = \frac{1}{|S_j|}\sum_{i \in S_j} w_i`.

In one dimension the clusters of sorted centroids are contiguous runs of the *sorted* values,
separated at the midpoints :math:`(c_j + c_{j+1})/2`, so an iteration costs
:math:`O(k \log n)` binary searches plus :math:`O(n)` segment sums, after one sort.

Initialisation (``init=``), as compared by Han et al.: ``"linear"`` spaces the centroids evenly
over :math:`[\min w, \max w]` (their choice: it keeps the rare large weights, which matter most);
``"density"`` places them at evenly spaced quantiles of the weights; ``"random"`` (Forgy) picks
:math:`k` distinct weights at random; ``"kmeans++"`` (Arthur & Vassilvitskii 2007) picks each
next centroid with probability proportional to the squared distance to the nearest one so far.

**Empty clusters.** A centroid that receives no value (linear initialisation in a gap of the
weight histogram, or a duplicated initial centroid) is moved onto the value with the largest
squared error :math:`(w_i - c_{\text{code}_i})^2` (the worst-represented weight; the next empty
centroid takes the next-worst distinct value), and the iteration continues.  So the result has
no empty cluster unless the data has fewer distinct values than :math:`k`.

**Fewer distinct values than k.** Then the optimum has zero error: the centroids are the distinct
values (ascending), padded to length :math:`k` by repeating the largest one; padded entries are
never used by any code (ties go to the lower index).
"""
from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from .._checks import as_float_array

INITS = ("linear", "density", "random", "kmeans++")


class KMeans1D(NamedTuple):
    """Result of :func:`kmeans_1d`."""

    centroids: np.ndarray  #: float64, shape (k,), ascending
    codes: np.ndarray      #: index of each value's centroid, shape of the input, smallest unsigned dtype
    inertia: float         #: sum of squared errors ``sum((x - centroids[codes])**2)``
    n_iter: int            #: Lloyd iterations run
    converged: bool        #: True when the last iteration changed no assignment


def check_k(k, n: int, name: str = "k") -> int:
    """Return ``k`` as an int in ``[1, n]``, or raise naming ``name``."""
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
        raise TypeError(f"{name} must be a whole number of clusters, got {k!r} of type {type(k).__name__}.")
    k = int(k)
    if k < 1:
        raise ValueError(f"{name}={k}: the number of clusters must be at least 1.")
    if k > n:
        raise ValueError(f"{name}={k} is larger than the data: only {n} value(s) to cluster. "
                         f"Use at most {n} clusters (fewer bits), or cluster more values.")
    return k


def _code_dtype(k: int) -> np.dtype:
    return np.dtype(np.min_scalar_type(max(k - 1, 0)))


def _boundaries(xs: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Segment ends of the clusters of sorted values ``xs`` for ascending centroids ``c``.

    Returns ``ends`` (length k): cluster j is ``xs[ends[j-1]:ends[j]]`` (``ends[-1] == n``).
    Exactly the brute-force rule ``argmin_j |x - c[j]|`` in float64 with ties to the lower index:
    between neighbours a < b, x goes to b iff ``|x - b| < |x - a|``; the midpoint search is
    corrected by a few such comparisons where rounding could put it off by one.  A repeated
    centroid (equal to the one before it) never wins a tie, so its cluster is empty.
    """
    n, k = len(xs), len(c)
    uc, first = np.unique(c, return_index=True)
    u = len(uc)
    ends_u = np.empty(u, dtype=np.int64)
    ends_u[-1] = n
    if u > 1:
        ends_u[:-1] = np.searchsorted(xs, (uc[:-1] + uc[1:]) / 2.0, side="right")
    lo = 0
    for j in range(u - 1):
        s = max(int(ends_u[j]), lo)
        a, b = uc[j], uc[j + 1]
        # move s down while the last value kept low belongs up, then up while the first value sent up belongs low
        while s > lo and abs(xs[s - 1] - b) < abs(xs[s - 1] - a):
            s -= 1
        while s < n and not abs(xs[s] - b) < abs(xs[s] - a):
            s += 1
        ends_u[j] = s
        lo = s
    # cluster first[j] takes the values of distinct centroid j; its repeats after it stay empty
    owner = np.searchsorted(first, np.arange(k), side="right") - 1
    return ends_u[owner]


def assign_sorted_centroids(x, centroids) -> np.ndarray:
    """Index of the nearest of the ascending ``centroids`` for each value of ``x`` (ties: lower index).

    Same result as ``np.argmin(np.abs(x[:, None] - centroids[None, :]), axis=1)`` (float64),
    in :math:`O(n \\log n)` instead of :math:`O(nk)`.
    """
    x = np.asarray(x, dtype=np.float64)
    c = np.asarray(centroids, dtype=np.float64)
    if np.any(np.diff(c) < 0):
        raise ValueError("centroids must be sorted in ascending order.")
    flat = x.ravel()
    order = np.argsort(flat, kind="stable")
    ends = _boundaries(flat[order], c)
    sorted_codes = np.repeat(np.arange(len(c)), np.diff(np.concatenate([[0], ends])))
    codes = np.empty(flat.size, dtype=_code_dtype(len(c)))
    codes[order] = sorted_codes
    return codes.reshape(x.shape)


def _init(xs: np.ndarray, k: int, init: str, rng: np.random.Generator) -> np.ndarray:
    n = len(xs)
    if init == "linear":
        return np.linspace(xs[0], xs[-1], k)
    if init == "density":
        return np.quantile(xs, (np.arange(k) + 0.5) / k)
    if init == "random":
        distinct = np.unique(xs)
        return np.sort(rng.choice(distinct, size=k, replace=False))
    # kmeans++ (D^2 sampling)
    c = np.empty(k)
    c[0] = xs[rng.integers(n)]
    d2 = (xs - c[0]) ** 2
    for j in range(1, k):
        total = d2.sum()
        c[j] = xs[rng.choice(n, p=d2 / total)]
        np.minimum(d2, (xs - c[j]) ** 2, out=d2)
    return np.sort(c)


def kmeans_1d(values, k, *, init: str = "linear", max_iter: int = 300, seed: int = 0) -> KMeans1D:
    """Cluster the values of an array of any shape into ``k`` centroids (see the module docstring).

    Parameters
    ----------
    values : array_like of real numbers
        Flattened; NaN or inf are rejected.
    k : int
        Number of clusters, :math:`1 \\le k \\le n`.
    init : {"linear", "density", "random", "kmeans++"}
        Initialisation; ``"linear"`` (Deep Compression's) is deterministic.
    max_iter : int
        Upper bound on Lloyd iterations (``converged`` tells whether it was reached first).
    seed : int
        Seed of ``"random"`` and ``"kmeans++"``.

    Returns
    -------
    KMeans1D
        ``codes`` has the shape of ``values``.

    Raises
    ------
    ValueError
        ``k`` larger than the number of values, ``k < 1``, an unknown ``init``, an empty input.

    Examples
    --------
    >>> r = kmeans_1d([0.0, 0.1, 0.9, 1.0], 2)
    >>> r.centroids, r.codes
    (array([0.05, 0.95]), array([0, 0, 1, 1], dtype=uint8))
    """
    x = as_float_array(values, "values")
    if x.size == 0:
        raise ValueError("values is empty: there is nothing to cluster.")
    k = check_k(k, x.size)
    if init not in INITS:
        raise ValueError(f"init={init!r} is unknown; use one of {INITS}.")
    if isinstance(max_iter, (bool, np.bool_)) or not isinstance(max_iter, numbers.Integral) or max_iter < 0:
        raise ValueError(f"max_iter must be a non-negative integer, got {max_iter!r}.")
    flat = x.ravel()
    order = np.argsort(flat, kind="stable")
    xs = flat[order]
    n = xs.size

    def result(c, ends, n_iter, converged):
        counts = np.diff(np.concatenate([[0], ends]))
        sorted_codes = np.repeat(np.arange(k), counts)
        codes = np.empty(n, dtype=_code_dtype(k))
        codes[order] = sorted_codes
        inertia = float(np.sum((xs - c[sorted_codes]) ** 2))
        return KMeans1D(c, codes.reshape(x.shape), inertia, n_iter, converged)

    distinct = np.unique(xs)
    if len(distinct) <= k:  # exact: one centroid per distinct value, padding never used
        c = np.concatenate([distinct, np.full(k - len(distinct), distinct[-1])])
        return result(c, _boundaries(xs, c), 0, True)

    rng = np.random.default_rng(seed)
    c = _init(xs, k, init, rng)
    ends = _boundaries(xs, c)
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        starts = np.concatenate([[0], ends[:-1]])
        counts = ends - starts
        nonempty = counts > 0
        sums = np.add.reduceat(xs, np.minimum(starts, n - 1))  # empty segments give garbage: masked below
        c = np.where(nonempty, sums / np.maximum(counts, 1), c)
        if not nonempty.all():
            c = _relocate_empty(xs, c, ends, ~nonempty)
        c = np.sort(c)
        new_ends = _boundaries(xs, c)
        if np.array_equal(new_ends, ends) and nonempty.all():
            converged = True
            ends = new_ends
            break
        ends = new_ends
    return result(c, ends, n_iter, converged)


def _relocate_empty(xs, c, ends, empty) -> np.ndarray:
    """Move each empty cluster's centroid onto the worst-represented distinct value (see module docstring)."""
    counts = np.diff(np.concatenate([[0], ends]))
    sorted_codes = np.repeat(np.arange(len(c)), counts)
    err = (xs - c[sorted_codes]) ** 2
    c = c.copy()
    taken = set(c[~empty].tolist())
    for j in np.flatnonzero(empty):
        for i in np.argsort(-err, kind="stable"):
            if xs[i] not in taken:
                c[j] = xs[i]
                taken.add(xs[i])
                err[xs == xs[i]] = 0.0
                break
    return c
