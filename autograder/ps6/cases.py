"""Inputs for the problem set 6 checks: a few visible cases, and many seeded hidden ones.

Every input is chosen so that a correct answer computed in float64 (or float32) agrees with
quantref, which works in float32, and the exact comparisons stay fair:

* encoding and table inputs are multiples of 1/16 (or float32 values), so that squared distances
  are exact in both precisions and a tie is a true tie (the lower index wins);
* k-means training data are redrawn until no assignment of the run is a near-tie (the two
  nearest prototypes at least 1e-4 of the data's squared scale apart) and no cluster is ever
  empty, so that float rounding never changes the trajectory;
* table spreads keep ``255 / spread`` away from a power of two, where ``floor(log2(.))`` would
  depend on the last bit.

Hidden suites cover the edges where wrong answers show: one subspace and one coordinate per
subspace, D not divisible by M, a single Lloyd iteration, 256 prototypes (codes above 127), exact
ties, a query equal to a prototype, square shapes (a transposed table or result keeps the
shape), uint8 sums far above 255, constant tables, and queries of very different ranges.
"""
from __future__ import annotations

import numpy as np

from quantref.pq import MaddnessEncoder, ProductQuantizer

from ..checking import Case


def _rng(seed: int, salt: int) -> np.random.Generator:
    return np.random.default_rng([seed, salt])


def initial_rows(n: int, K: int, seed: int) -> np.ndarray:
    """The rows that start k-means in subspace m with ``seed + m`` (the notebook's helper, and quantref's)."""
    return np.sort(np.random.default_rng(seed).choice(n, size=K, replace=False))


def _grid(x, step: float) -> np.ndarray:
    return np.round(np.asarray(x, dtype=np.float64) / step) * step


def _float32(x) -> np.ndarray:
    """float64 values that float32 holds exactly, so that quantref (float32) sees the student's input."""
    return np.asarray(x, dtype=np.float32).astype(np.float64)


# -- exercise 1: prototype learning ----------------------------------------------------------------

def _trajectory_is_safe(sub: np.ndarray, K: int, niter: int, seed: int) -> bool:
    """Lloyd's run on one subspace has no near-tie and no empty cluster (used to pick inputs only)."""
    c = sub[initial_rows(len(sub), K, seed)].copy()
    scale = float(np.mean(np.sum(sub ** 2, axis=1))) + 1e-3
    for _ in range(niter + 1):
        d2 = np.sum((sub[:, None, :] - c[None, :, :]) ** 2, axis=2)
        if K > 1:
            two = np.partition(d2, 1, axis=1)[:, :2]
            if np.min(two[:, 1] - two[:, 0]) < 1e-4 * scale:
                return False
        assign = np.argmin(d2, axis=1)
        counts = np.bincount(assign, minlength=K)
        if np.any(counts == 0):
            return False
        c = np.stack([sub[assign == k].mean(axis=0) for k in range(K)])
    return True


def training_data(rng: np.random.Generator, n: int, D: int, M: int, K: int, niter: int, seed: int,
                  spread: float = 3.0, offset: float = 0.0) -> np.ndarray:
    """Clustered rows on a grid of 1/1024 (exact in float32) whose k-means runs are safe in every subspace."""
    d = D // M if D % M == 0 else D
    for _ in range(500):
        centers = offset + rng.normal(0.0, spread, size=(K + int(rng.integers(0, 3)), D))
        x = _grid(centers[rng.integers(0, len(centers), size=n)] + rng.normal(0.0, 1.0, size=(n, D)), 1 / 1024)
        if D % M or all(_trajectory_is_safe(x[:, m * d:(m + 1) * d], K, niter, seed + m) for m in range(M)):
            return x
    raise RuntimeError("no safe training data found; change the case's shape")  # pragma: no cover


def train_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        rng = _rng(0, 10)
        return [Case("12 rows, D = 4, M = 2 subspaces, K = 2, 5 iterations",
                     dict(X=training_data(rng, 12, 4, 2, 2, 5, 0, spread=4.0), M=2, K=2, niter=5, seed=0)),
                Case("40 rows, D = 6, M = 3, K = 4, 10 iterations",
                     dict(X=training_data(rng, 40, 6, 3, 4, 10, 7), M=3, K=4, niter=10, seed=7)),
                Case("D = 5 is not divisible by M = 2 (raise ValueError)",
                     dict(X=_grid(rng.normal(0, 1, size=(8, 5)), 1 / 1024), M=2, K=2, niter=5, seed=0))]
    rng = _rng(seed, 1)
    cases = []
    for n, D, M, K, niter in [(64, 8, 2, 4, 10), (100, 12, 4, 8, 15), (128, 16, 4, 16, 20), (60, 12, 3, 4, 25)]:
        s = int(rng.integers(0, 1000))
        cases.append(Case(f"{n} rows, D = {D}, M = {M}, K = {K}, {niter} iterations",
                          dict(X=training_data(rng, n, D, M, K, niter, s), M=M, K=K, niter=niter, seed=s)))
    s = int(rng.integers(0, 1000))
    cases += [
        Case("one subspace (M = 1): plain k-means on whole rows",
             dict(X=training_data(rng, 80, 6, 1, 8, 10, s), M=1, K=8, niter=10, seed=s)),
        Case("one coordinate per subspace (M = D)",
             dict(X=training_data(rng, 48, 6, 6, 4, 10, s + 1), M=6, K=4, niter=10, seed=s + 1)),
        Case("a single Lloyd iteration",
             dict(X=training_data(rng, 32, 8, 2, 4, 1, s + 2), M=2, K=4, niter=1, seed=s + 2)),
        Case("two prototypes per subspace, 8 subspaces",
             dict(X=training_data(rng, 40, 16, 8, 2, 6, s + 3), M=8, K=2, niter=6, seed=s + 3)),
        Case("as many rows as prototypes (the initial rows are all the rows)",
             dict(X=training_data(rng, 8, 4, 2, 8, 5, s + 4), M=2, K=8, niter=5, seed=s + 4)),
        Case("values around 10, widely spread clusters",
             dict(X=training_data(rng, 50, 8, 4, 4, 10, s + 5, spread=8.0, offset=10.0), M=4, K=4, niter=10,
                  seed=s + 5)),
        Case("D = 10 is not divisible by M = 4", dict(X=_grid(rng.normal(0, 1, (20, 10)), 1 / 1024), M=4, K=2,
                                                      niter=5, seed=0)),
        Case("D = 7 is not divisible by M = 2", dict(X=_grid(rng.normal(0, 1, (20, 7)), 1 / 1024), M=2, K=4,
                                                     niter=5, seed=1)),
        Case("M = 6 is larger than D = 4", dict(X=_grid(rng.normal(0, 1, (20, 4)), 1 / 1024), M=6, K=2,
                                                niter=5, seed=2)),
    ]
    return cases


# -- exercise 2: encoding ----------------------------------------------------------------------------

def _prototypes(rng, M: int, K: int, d: int, scale: float = 2.0) -> np.ndarray:
    return np.clip(_grid(rng.normal(0.0, scale, size=(M, K, d)), 1 / 16), -8, 8)


def _rows(rng, n: int, D: int, scale: float = 2.0) -> np.ndarray:
    return np.clip(_grid(rng.normal(0.0, scale, size=(n, D)), 1 / 16), -8, 8)


def encode_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        P = np.array([[[0.0, 0.0], [1.0, 1.0]], [[0.0, 0.0], [2.0, 2.0]]])
        X = np.array([[0.875, 0.75, 0.125, 0.0], [0.25, 0.0, 1.5, 2.5], [1.0, 1.0, -1.0, 3.0]])
        ties = np.array([[[0.0], [1.0], [2.0], [5.0]]])                # M = 1, K = 4, one coordinate
        rng = _rng(0, 20)
        return [Case("3 rows, M = 2, K = 2", dict(X=X, prototypes=P)),
                Case("ties: 0.5, 1.5 and 3.5 lie midway between two prototypes (the lower index wins)",
                     dict(X=np.array([[0.5], [1.5], [1.0], [3.5], [-3.0], [7.0]]), prototypes=ties)),
                Case("5 rows, M = 3, K = 4, 2 coordinates per subspace",
                     dict(X=_rows(rng, 5, 6), prototypes=_prototypes(rng, 3, 4, 2)))]
    rng = _rng(seed, 2)
    cases = []
    for n, M, K, d in [(50, 4, 16, 2), (20, 8, 4, 1), (40, 1, 8, 4), (10, 3, 2, 5), (6, 4, 4, 4)]:
        cases.append(Case(f"{n} rows, M = {M}, K = {K}, {d} coordinates per subspace",
                          dict(X=_rows(rng, n, M * d), prototypes=_prototypes(rng, M, K, d))))
    P = _prototypes(rng, 2, 256, 3, scale=3.0)
    cases.append(Case("K = 256 prototypes (codes above 127 need uint8)", dict(X=_rows(rng, 30, 6, 3.0), prototypes=P)))
    P = _prototypes(rng, 3, 8, 2)
    P[:, 5] = P[:, 2]                                                  # duplicated prototypes: always a tie
    X = _rows(rng, 12, 6)
    X[:4] = P[:, 2].reshape(-1)[None, :]                               # rows on the duplicated prototype
    cases.append(Case("duplicated prototypes (a tie in every row that picks them)", dict(X=X, prototypes=P)))
    P = _prototypes(rng, 4, 8, 2)
    a, b = rng.integers(0, 8, size=(2, 10, 4))
    mid = (P[np.arange(4)[None, :], a] + P[np.arange(4)[None, :], b]) / 2   # midpoints: exact ties or nearer
    cases.append(Case("rows midway between two prototypes", dict(X=mid.reshape(10, 8), prototypes=P)))
    P = np.concatenate([-np.ones((2, 1, 2)), np.ones((2, 1, 2)), np.zeros((2, 1, 2)) + [3.0, -3.0],
                        np.zeros((2, 1, 2)) + [1.0, -1.0]], axis=1)
    cases.append(Case("zero rows, equally far from several prototypes", dict(X=np.zeros((3, 4)), prototypes=P)))
    big = _prototypes(rng, 4, 4, 2, scale=0.5)
    big[:, 3] *= 8                                                      # one prototype of large norm
    cases.append(Case("prototypes of very different norms (the nearest is not the largest inner product)",
                      dict(X=_rows(rng, 16, 8, 1.0), prototypes=np.clip(big, -8, 8))))
    return cases


# -- exercise 3: lookup tables ------------------------------------------------------------------------

def tables_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        P = np.array([[[0.0, 0.0], [1.0, 1.0]], [[0.0, 0.0], [2.0, -1.0]]])
        q = np.array([[1.0, 2.0, 0.5, -1.0]])
        rng = _rng(0, 30)
        return [Case("one query, M = 2, K = 2, inner products", dict(Q=q, prototypes=P, metric="ip")),
                Case("one query, M = 2, K = 2, squared distances", dict(Q=q, prototypes=P, metric="l2")),
                Case("2 queries, M = 3, K = 4, inner products",
                     dict(Q=_rows(rng, 2, 6), prototypes=_prototypes(rng, 3, 4, 2), metric="ip"))]
    rng = _rng(seed, 3)
    cases = []
    for nq, M, K, d, metric in [(3, 4, 16, 2, "ip"), (3, 4, 16, 2, "l2"), (1, 8, 8, 1, "ip"), (2, 2, 256, 4, "l2"),
                                (5, 4, 4, 3, "ip"), (5, 4, 4, 3, "l2"), (4, 1, 8, 6, "l2"), (2, 3, 2, 5, "ip")]:
        Q = _float32(rng.normal(0, 1.5, size=(nq, M * d)))
        P = _float32(rng.normal(0, 1.5, size=(M, K, d)))
        shape = " (as many codebooks as prototypes)" if M == K else ""
        cases.append(Case(f"{nq} queries, M = {M}, K = {K}, d = {d}, {metric}{shape}",
                          dict(Q=Q, prototypes=P, metric=metric)))
    P = _float32(rng.normal(0, 1, size=(3, 8, 2)))
    Q = np.stack([P[:, 1].reshape(-1), P[:, 6].reshape(-1)])              # queries equal to prototypes
    cases.append(Case("queries equal to a prototype (zero distances)", dict(Q=Q, prototypes=P, metric="l2")))
    for metric in ("ip", "l2"):
        Q, P = _float32(rng.normal(100, 30, size=(2, 8))), _float32(rng.normal(100, 30, size=(4, 16, 2)))
        cases.append(Case(f"values around 100, {metric}", dict(Q=Q, prototypes=P, metric=metric)))
    return cases


# -- exercise 4: aggregation ---------------------------------------------------------------------------

def _codes(rng, n: int, M: int, K: int) -> np.ndarray:
    return rng.integers(0, K, size=(n, M)).astype(np.uint8)


def aggregate_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        T = np.array([[[0.5, 1.5], [-1.0, 2.0]]], dtype=np.float32)
        codes = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.uint8)
        T8 = np.array([[[10, 200, 0], [150, 5, 255], [100, 0, 60]], [[0, 1, 2], [3, 4, 5], [6, 7, 8]]], dtype=np.uint8)
        return [Case("float tables, 1 query, M = 2, K = 2", dict(tables=T, codes=codes)),
                Case("uint8 tables, 2 queries, M = 3, K = 3 (sums above 255)",
                     dict(tables=T8, codes=np.array([[1, 2, 0], [0, 0, 2], [2, 1, 1], [1, 2, 0]], dtype=np.uint8)))]
    rng = _rng(seed, 4)
    cases = []
    for nq, M, K, n in [(3, 8, 16, 50), (1, 4, 256, 20), (2, 1, 8, 10), (4, 4, 4, 4)]:
        shape = " (square shapes)" if nq == n and M == K else ""
        tables = rng.normal(0, 2, size=(nq, M, K)).astype(np.float32)
        cases.append(Case(f"float tables, {nq} queries, M = {M}, K = {K}, {n} rows{shape}",
                          dict(tables=tables, codes=_codes(rng, n, M, K))))
    for nq, M, K, n, top in [(3, 8, 16, 40, 256), (2, 16, 16, 30, 256), (4, 4, 4, 4, 256), (2, 2, 16, 20, 100),
                             (1, 256, 2, 5, 256)]:
        shape = " (square shapes)" if nq == n and M == K else ""
        tables = rng.integers(0, top, size=(nq, M, K)).astype(np.uint8)
        cases.append(Case(f"uint8 tables, {nq} queries, M = {M}, K = {K}, {n} rows{shape}",
                          dict(tables=tables, codes=_codes(rng, n, M, K))))
    x = _float32(rng.normal(0, 1, size=(64, 8)))
    pq = ProductQuantizer(8, 4, nbits=2).train(x, niter=5, seed=int(rng.integers(1000)), max_points_per_centroid=None,
                                               progress=False)
    cases.append(Case("inner-product tables and codes of a trained quantizer",
                      dict(tables=pq.tables(x[:3], "ip"), codes=pq.compute_codes(x))))
    return cases


# -- exercise 5: uint8 tables ------------------------------------------------------------------------------

def _safe_spreads(t: np.ndarray) -> bool:
    """255 / spread is at least 1e-6 (in log2) away from a power of two, for every query with a spread."""
    spread = (t.max(axis=2) - t.min(axis=2)).max(axis=1)
    e = np.log2(255.0 / spread[spread > 0])
    return bool(np.all(np.abs(e - np.round(e)) > 1e-6))


def _dyadic_tables(rng, nq: int, M: int, K: int, scale: float = 8.0) -> np.ndarray:
    while True:
        t = (np.round(rng.normal(0, scale, size=(nq, M, K)) * 256) / 256).astype(np.float32)
        if _safe_spreads(t):
            return t


def quantize_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("one query, M = 2, K = 3", dict(tables=np.array([[[0.0, 1.0, 2.0], [-1.0, -1.0, 0.5]]],
                                                                         dtype=np.float32))),
                Case("two queries of different ranges, M = 2, K = 4",
                     dict(tables=np.array([[[0.25, 1.5, -0.5, 3.0], [2.0, 2.5, 1.0, 0.0]],
                                           [[10.0, 40.0, 25.0, 12.5], [-20.0, 0.0, 5.0, -7.5]]], dtype=np.float32)))]
    rng = _rng(seed, 5)
    x = _float32(rng.normal(0, 1, size=(64, 16)))
    pq = ProductQuantizer(16, 8, nbits=4).train(x, niter=5, seed=int(rng.integers(1000)), max_points_per_centroid=None,
                                                progress=False)
    cases = []
    for metric in ("ip", "l2"):
        t = pq.tables(x[:3], metric)
        if _safe_spreads(t):
            cases.append(Case(f"{metric} tables of a trained quantizer, 3 queries, M = 8, K = 16", dict(tables=t)))
    cases += [Case("tables on a grid of 1/256 (exact ties at half a step)", dict(tables=_dyadic_tables(rng, 4, 6, 16))),
              Case("256 entries per codebook", dict(tables=_dyadic_tables(rng, 2, 3, 256)))]
    flat = _dyadic_tables(rng, 2, 4, 8)
    flat[0] = 3.5                                                     # query 0: every entry equal
    cases.append(Case("a query whose tables are constant (spread 0: scale 1)", dict(tables=flat)))
    one = _dyadic_tables(rng, 2, 4, 8)
    one[:, 2] = -1.25                                                 # codebook 2 constant in both queries
    cases.append(Case("a constant codebook among others", dict(tables=one)))
    cases.append(Case("a tiny spread (scale far above 1)", dict(tables=_dyadic_tables(rng, 2, 3, 8, scale=1 / 64))))
    cases.append(Case("a large spread (scale below 1)", dict(tables=_dyadic_tables(rng, 2, 3, 8, scale=3000.0))))
    cases.append(Case("all entries negative", dict(tables=-np.abs(_dyadic_tables(rng, 3, 4, 8)) - 50.0)))
    cases.append(Case("one codebook (M = 1)", dict(tables=_dyadic_tables(rng, 3, 1, 16))))
    ranges = _dyadic_tables(rng, 3, 4, 16) * np.array([0.01, 1.0, 40.0], dtype=np.float32)[:, None, None]
    cases.append(Case("queries of very different ranges",
                      dict(tables=ranges if _safe_spreads(ranges) else _dyadic_tables(rng, 3, 4, 16))))
    return cases


# -- exercise 6: the MADDNESS hash-tree encoder ---------------------------------------------------------

def _trees(rng, C: int, D: int):
    """Random trees: split columns in [0, D), float32 thresholds, +inf where a level has no node."""
    dims = rng.integers(0, D, size=(C, 4)).astype(np.int64)
    thr = np.full((C, 4, 8), np.inf, dtype=np.float32)
    for level in range(4):
        thr[:, level, :2 ** level] = rng.normal(size=(C, 2 ** level))
    return dims, thr


def _on_thresholds(rng, A, dims, thr, count: int):
    """Set ``count`` entries of A to the threshold their row meets at level 0 or 1: exact ties."""
    A = A.copy()
    for i in rng.choice(len(A), size=min(count, len(A)), replace=False):
        c = int(rng.integers(0, dims.shape[0]))
        A[i, dims[c, 0]] = thr[c, 0, 0]
    return A


def maddness_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        dims = np.array([[0, 1, 0, 1]])
        thr = np.zeros((1, 4, 8), dtype=np.float32)
        A = np.array([[1.0, -1.0], [-1.0, 1.0], [0.5, 0.5], [0.0, 0.0]], dtype=np.float32)
        dims2 = np.array([[2, 0, 1, 3], [1, 1, 2, 0]])
        thr2 = np.full((2, 4, 8), np.inf, dtype=np.float32)
        thr2[:, 0, 0] = [0.0, 1.0]
        thr2[:, 1, :2] = [[-0.5, 0.5], [0.0, 2.0]]
        thr2[:, 2, :4] = [[0.0, 1.0, -1.0, 0.25], [-2.0, -1.0, 1.5, 0.0]]
        thr2[:, 3, :8] = [[0.0, 0.5, -0.5, 1.0, -1.0, 2.0, -2.0, 0.0], [1.0, 0.0, -1.0, 0.5, 0.25, -0.25, 2.0, -2.0]]
        rng = _rng(0, 60)
        B = _float32(rng.normal(size=(6, 4)))
        B[0] = [0.5, 1.0, 0.0, 0.0]                                    # ties: 1.0 and 0.0 equal thresholds
        return [Case("one codebook, every threshold 0 (the zero row is a tie at every level: code 0)",
                     dict(A=A, split_dims=dims, thresholds=thr)),
                Case("two codebooks, a threshold per node", dict(A=B, split_dims=dims2, thresholds=thr2))]
    rng = _rng(seed, 6)
    cases = []
    for n, C, D in [(50, 4, 16), (20, 1, 3), (64, 8, 32), (7, 2, 2)]:
        dims, thr = _trees(rng, C, D)
        A = _on_thresholds(rng, _float32(rng.normal(size=(n, D))), dims, thr, n // 5)
        cases.append(Case(f"{n} rows, {C} codebooks, D = {D}, some entries equal to a threshold",
                          dict(A=A, split_dims=dims, thresholds=thr)))
    train = _float32(rng.normal(size=(400, 8)) @ rng.normal(size=(8, 8)))
    enc = MaddnessEncoder(2).fit(train, progress=False)
    cases.append(Case("trees learned by MADDNESS on correlated rows (every code 0-15)",
                      dict(A=_float32(rng.normal(size=(60, 8)) @ rng.normal(size=(8, 8))),
                           split_dims=enc.split_dims, thresholds=enc.thresholds)))
    dims = np.zeros((3, 4), dtype=np.int64)                            # one column for every level
    thr = np.full((3, 4, 8), np.inf, dtype=np.float32)
    for level in range(4):
        thr[:, level, :2 ** level] = np.linspace(-1, 1, 2 ** level, dtype=np.float32)
    cases.append(Case("every level splits the same column", dict(A=_float32(rng.uniform(-2, 2, size=(30, 1))),
                                                                 split_dims=dims, thresholds=thr)))
    dims, thr = _trees(rng, 2, 5)
    cases.append(Case("a single row", dict(A=_float32(rng.normal(size=(1, 5))), split_dims=dims, thresholds=thr)))
    return cases


# -- exercise 7: the 4-bit fast-scan layout -------------------------------------------------------------

def pack_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("2 rows, 2 subspaces", dict(codes=np.array([[1, 2], [3, 4]], dtype=np.uint8))),
                Case("32 rows, 2 subspaces: one full block",
                     dict(codes=np.stack([np.arange(32) % 16, 15 - np.arange(32) % 16], axis=1).astype(np.uint8))),
                Case("40 rows, 3 subspaces (padding)", dict(codes=(np.arange(120).reshape(40, 3) % 16).astype(np.uint8)))]
    rng = _rng(seed, 7)
    cases = []
    for n, M in [(64, 4), (33, 2), (100, 7), (16, 8), (31, 1), (96, 16)]:
        cases.append(Case(f"{n} rows, {M} subspaces", dict(codes=rng.integers(0, 16, size=(n, M), dtype=np.uint8))))
    cases += [Case("every code 15", dict(codes=np.full((40, 4), 15, dtype=np.uint8))),
              Case("a single row", dict(codes=rng.integers(0, 16, size=(1, 5), dtype=np.uint8)))]
    return cases
