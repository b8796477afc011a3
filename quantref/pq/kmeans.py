r"""k-means in :math:`d` dimensions, the prototype learning of product quantization.

Lloyd's algorithm on rows :math:`x_i \in \mathbb{R}^d`:

* assign :math:`a_i = \arg\min_j \lVert x_i - c_j \rVert^2`, computed as
  :math:`\arg\min_j (\lVert c_j \rVert^2 - 2\, x_i \cdot c_j)` (one float32 matrix product;
  the :math:`\lVert x_i \rVert^2` term does not change the argmin, and near-ties decided by
  float32 rounding do not matter to the clustering);
* update :math:`c_j = \operatorname{mean}\{x_i : a_i = j\}`.

Initialisation: ``"random"`` takes :math:`k` distinct rows at random (as Faiss does);
``"kmeans++"`` samples each next centroid with probability proportional to the squared distance
to the nearest one chosen so far (Arthur & Vassilvitskii 2007).

**Empty clusters** are re-seeded on the rows with the largest squared error to their centroid
(the worst-represented rows, one per empty cluster, distinct), then the iteration continues.
Faiss instead splits a large cluster in two with a small perturbation; both keep all :math:`k`
prototypes in use.  Iteration stops after ``niter`` rounds or when no assignment changes.
"""
from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np


class KMeansResult(NamedTuple):
    centroids: np.ndarray  #: float32, shape (k, d)
    assign: np.ndarray     #: int64, shape (n,)
    inertia: float         #: sum of squared distances to the assigned centroids (float64)
    n_iter: int


def _sq_dist_argmin(x: np.ndarray, c: np.ndarray, chunk: int = 32768):
    """Nearest centroid of each row (scores in float32 BLAS) and its squared distance (float64)."""
    c32 = c.astype(np.float32)
    cn = np.einsum("kd,kd->k", c32, c32)
    minus2c = (-2.0 * c32).T
    assign = np.empty(len(x), dtype=np.int64)
    for s in range(0, len(x), chunk):
        scores = x[s:s + chunk].astype(np.float32) @ minus2c
        scores += cn
        assign[s:s + chunk] = np.argmin(scores, axis=1)
    d2 = np.einsum("nd,nd->n", x - c[assign], x - c[assign])
    return assign, d2


def kmeans(x, k: int, *, niter: int = 25, seed: int = 0, init: str = "random") -> KMeansResult:
    """Lloyd's k-means on the rows of ``x`` (float64 arithmetic, float32 centroids returned).

    Parameters
    ----------
    x : ndarray, shape (n, d)
        Finite values (the caller checks).
    k : int
        ``1 <= k <= n``.
    niter : int
        Maximum Lloyd iterations.
    seed : int
        Seed of the initialisation.
    init : {"random", "kmeans++"}

    Returns
    -------
    KMeansResult
    """
    x = np.asarray(x, dtype=np.float64)
    n, d = x.shape
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral) or not 1 <= k <= n:
        raise ValueError(f"k={k!r} must be a whole number in [1, n]; there are n={n} training rows. "
                         f"Train on more rows than prototypes, or use fewer bits.")
    rng = np.random.default_rng(seed)
    if init == "random":
        c = x[np.sort(rng.choice(n, size=k, replace=False))].copy()
    elif init == "kmeans++":
        c = np.empty((k, d))
        c[0] = x[rng.integers(n)]
        d2 = np.sum((x - c[0]) ** 2, axis=1)
        for j in range(1, k):
            total = d2.sum()
            idx = rng.choice(n, p=d2 / total) if total > 0 else rng.integers(n)
            c[j] = x[idx]
            np.minimum(d2, np.sum((x - c[j]) ** 2, axis=1), out=d2)
    else:
        raise ValueError(f"init={init!r} is unknown; use 'random' or 'kmeans++'.")
    assign, d2 = _sq_dist_argmin(x, c)
    it = 0
    for it in range(1, niter + 1):
        counts = np.bincount(assign, minlength=k)
        flat = (assign[:, None] * d + np.arange(d)[None, :]).ravel()
        sums = np.bincount(flat, weights=x.ravel(), minlength=k * d).reshape(k, d)
        nonempty = counts > 0
        c[nonempty] = sums[nonempty] / counts[nonempty, None]
        if not nonempty.all():
            order = np.argsort(-d2, kind="stable")
            used = 0
            for j in np.flatnonzero(~nonempty):
                c[j] = x[order[used]]
                used += 1
        new_assign, d2 = _sq_dist_argmin(x, c)
        changed = not np.array_equal(new_assign, assign)
        assign = new_assign
        if not changed and nonempty.all():
            break
    return KMeansResult(c.astype(np.float32), assign, float(d2.sum()), it)
