"""Inputs for the problem set 5 checks: a few visible cases, and many seeded hidden ones.

Hidden suites cover the edges where wrong answers show: exact ties between two centroids
(dyadic values, so that both distances are exact), repeated and unevenly spaced centroids,
weights outside the centroids' range, 2-D and 3-D weights, one centroid; k-means runs of 0, 1
and many iterations, stopped before they converge (so that one iteration more or less shows),
heavy-tailed weights, integer-valued weights with ties at the midpoints; codebooks that are not
evenly spaced, of 1 and of 256 entries, codes out of range (which must raise); code counts that
do not fill the last byte, the largest codes of 1, 2 and 4 bits; codebooks of 16-bit values and
a number of clusters that is not a power of two.

The k-means cases are filtered with :func:`quantref.codebook.kmeans_1d` itself: every case has
more distinct values than clusters, and no cluster is ever empty along the way (quantref moves
an empty cluster's centroid onto the worst-represented weight, a rule outside the exercise).
"""
from __future__ import annotations

import numpy as np

from quantref.codebook import kmeans_1d, pack_codes

from ..checking import Case


def _rng(seed: int, salt: int) -> np.random.Generator:
    return np.random.default_rng([seed, salt])


# -- exercise 1: nearest centroid ------------------------------------------------------------------

def assign_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("three centroids", dict(w=np.array([-1.0, -0.2, 0.1, 0.6, 2.0]), centroids=np.array([-0.5, 0.0, 1.0]))),
                Case("ties go to the lower index", dict(w=np.array([0.25, 0.75, 1.0]), centroids=np.array([0.0, 0.5, 1.5]))),
                Case("2-D weights", dict(w=np.array([[0.3, -0.9, 0.05], [1.2, -0.4, 0.5]]),
                                         centroids=np.array([-1.0, -0.25, 0.25, 1.0])))]
    rng = _rng(seed, 1)
    cases = []
    for shape, k in [((40,), 4), ((8, 16), 16), ((3, 5, 7), 8), ((200,), 2), ((64, 32), 32)]:
        w = rng.standard_t(4, size=shape) * 10 ** rng.uniform(-2, 1)
        c = np.sort(rng.choice(w.ravel(), size=k, replace=False))
        cases.append(Case(f"random weights of shape {shape}, {k} centroids taken from them", dict(w=w, centroids=c)))
    c = np.array([-1.5, -0.5, 0.0, 0.25, 2.0])          # uneven spacing; every midpoint is dyadic
    mids = (c[:-1] + c[1:]) / 2
    cases += [
        Case("exact ties at every midpoint", dict(w=np.concatenate([mids, -mids[::-1]]), centroids=c)),
        Case("ties and non-ties, 2-D", dict(w=np.array([[0.125, 1.125, -1.0], [-0.25, 0.0, 3.0]]), centroids=c)),
        Case("unevenly spaced centroids", dict(w=rng.uniform(-2, 2.5, size=30), centroids=np.array([-1.0, -0.9, 0.3, 2.2]))),
        Case("weights outside the centroids' range", dict(w=np.array([-100.0, -3.0, 5.0, 1e6]), centroids=c)),
        Case("one centroid", dict(w=rng.normal(size=7), centroids=np.array([0.3]))),
        Case("a repeated centroid (the lower index wins)", dict(w=np.array([-0.6, 0.0, 0.1, 0.5, 0.9]),
                                                                 centroids=np.array([-0.5, 0.5, 0.5, 1.0]))),
        Case("one weight", dict(w=np.array([0.7]), centroids=np.array([0.0, 0.5, 1.0]))),
        Case("weights equal to centroids", dict(w=c[::-1].copy(), centroids=c)),
    ]
    return cases


# -- exercise 2: Lloyd's k-means ---------------------------------------------------------------------

def _clean(w, k: int, iters: int) -> bool:
    """More distinct values than clusters, and no empty cluster in the first ``iters + 1`` assignments."""
    if np.unique(w).size <= k:
        return False
    for t in range(iters + 1):
        r = kmeans_1d(w, k, max_iter=t)
        if np.bincount(r.codes.ravel(), minlength=k).min() == 0:
            return False
        if r.n_iter < t:          # converged: later iterations change nothing
            break
    return True


def _running(w, k: int, iters: int) -> bool:
    """Iteration ``iters + 1`` still moves a centroid (so an iteration more or less shows)."""
    a = kmeans_1d(w, k, max_iter=iters).centroids
    b = kmeans_1d(w, k, max_iter=iters + 1).centroids
    return not np.allclose(a, b, rtol=1e-6, atol=0)


def _draw(rng, kind: str, shape):
    if kind == "normal":
        return rng.normal(0, 0.1, size=shape)
    if kind == "uniform":
        return rng.uniform(-1, 1, size=shape)
    if kind == "t":
        return rng.standard_t(5, size=shape) * 0.05
    if kind == "bimodal":
        n = int(np.prod(shape))
        return np.where(rng.random(n) < 0.3, rng.normal(-0.5, 0.1, n), rng.normal(0.4, 0.2, n)).reshape(shape)
    raise ValueError(kind)


def _case(rng, kind, shape, k, iters, running=True, tries=200):
    for _ in range(tries):
        w = _draw(rng, kind, shape)
        if _clean(w, k, iters) and (not running or _running(w, k, iters)):
            return w
    raise RuntimeError(f"no clean k-means case for {kind} {shape} k={k} iters={iters}")


def kmeans_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("two clusters; 2.0 is a tie at the first midpoint", dict(w=np.array([0.0, 1.0, 2.0, 3.0, 4.0]), k=2, iters=3)),
                Case("three clusters, two iterations", dict(w=np.array([-1.0, -0.8, -0.1, 0.0, 0.2, 0.3, 0.9, 1.6, 2.0]),
                                                            k=3, iters=2)),
                Case("no iteration: the linear initialisation", dict(w=np.array([0.5, -0.25, 0.1, 0.75, -1.0]), k=4, iters=0))]
    rng = _rng(seed, 2)
    cases = []
    for kind, shape, k, iters in [("normal", (300,), 4, 2), ("uniform", (500,), 8, 3), ("t", (24, 32), 4, 5),
                                  ("bimodal", (400,), 3, 1), ("normal", (16, 16), 8, 4), ("t", (1000,), 16, 2),
                                  ("uniform", (4, 5, 6), 2, 1)]:
        w = _case(rng, kind, shape, k, iters)
        cases.append(Case(f"{kind} weights of shape {shape}, k = {k}, {iters} iteration{'s' * (iters != 1)}",
                          dict(w=w, k=k, iters=iters)))
    cases += [
        Case("many iterations (run to convergence)", dict(w=_case(rng, "normal", (200,), 4, 60, running=False), k=4, iters=60)),
        Case("no iteration: the linear initialisation", dict(w=_case(rng, "t", (50,), 5, 0), k=5, iters=0)),
        Case("integer weights with ties at the midpoints", dict(w=np.array([0.0, 1, 1, 2, 3, 4, 4, 5, 6, 8, 9, 10, 12]),
                                                                  k=3, iters=4)),
        Case("one cluster", dict(w=rng.normal(size=9), k=1, iters=2)),
        Case("as many clusters as values but one", dict(w=np.array([0.1, 0.4, 0.45, 1.2, 2.0]), k=4, iters=3)),
    ]
    return cases


# -- exercise 3: lookup-table dequantization -------------------------------------------------------

def _codebook(rng, k: int) -> np.ndarray:
    return np.sort(rng.standard_t(4, size=k) * 0.1).astype(np.float32)


def lut_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        cb = np.array([-0.5, 0.0, 0.25], dtype=np.float32)
        return [Case("three entries", dict(codes=np.array([2, 0, 1, 1, 2], dtype=np.uint8), codebook=cb)),
                Case("2-D codes, 16 entries", dict(codes=np.array([[15, 0, 7], [3, 3, 12]], dtype=np.uint8),
                                                   codebook=np.linspace(-1, 1, 16).astype(np.float32) ** 3))]
    rng = _rng(seed, 3)
    cases = []
    for shape, k in [((100,), 16), ((8, 8), 4), ((2, 3, 4), 256), ((500,), 2), ((10, 30), 7)]:
        codes = rng.integers(0, k, size=shape).astype(np.uint8)
        cases.append(Case(f"codes of shape {shape}, {k} entries", dict(codes=codes, codebook=_codebook(rng, k))))
    cases += [
        Case("a codebook that is not evenly spaced", dict(codes=np.arange(5, dtype=np.uint8)[::-1].copy(),
                                                           codebook=np.array([-2.0, -0.01, 0.0, 0.3, 7.5], dtype=np.float32))),
        Case("one entry", dict(codes=np.zeros(6, dtype=np.uint8), codebook=np.array([0.125], dtype=np.float32))),
        Case("256 entries, codes 0 and 255", dict(codes=np.array([255, 0, 255, 128], dtype=np.uint8),
                                                  codebook=_codebook(rng, 256))),
        Case("no codes at all", dict(codes=np.zeros(0, dtype=np.uint8), codebook=_codebook(rng, 4))),
        Case("a column of codes", dict(codes=rng.integers(0, 8, size=(9, 1)).astype(np.uint8), codebook=_codebook(rng, 8))),
    ]
    return cases


def lut_bad_cases(suite: str, seed: int) -> list:
    """Codes with no codebook entry: quantref raises ValueError; the student must raise too."""
    cb = np.array([-0.5, 0.0, 0.25, 1.0], dtype=np.float32)
    if suite == "visible":
        return [Case("code 4 with a codebook of 4 entries", dict(codes=np.array([0, 4, 1], dtype=np.uint8), codebook=cb))]
    rng = _rng(seed, 4)
    codes = rng.integers(0, 8, size=(6, 5)).astype(np.uint8)
    codes[3, 2] = 8
    return [Case("one past the last entry", dict(codes=np.array([3, 2, 4], dtype=np.uint8), codebook=cb)),
            Case("code 255, codebook of 4 entries", dict(codes=np.array([[255, 0], [1, 2]], dtype=np.uint8), codebook=cb)),
            Case("one bad code among many", dict(codes=codes, codebook=_codebook(rng, 8)))]


# -- exercises 4 and 5: bit packing ----------------------------------------------------------------

def _codes(rng, n: int, bits: int) -> np.ndarray:
    return rng.integers(0, 1 << bits, size=n).astype(np.uint8)


def pack_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("three 4-bit codes (the last byte is half padding)", dict(codes=np.array([1, 2, 3], dtype=np.uint8), bits=4)),
                Case("four 2-bit codes", dict(codes=np.array([3, 0, 1, 2], dtype=np.uint8), bits=2))]
    rng = _rng(seed, 5)
    cases = [Case(f"{n} random {bits}-bit codes", dict(codes=_codes(rng, n, bits), bits=bits))
             for n, bits in [(64, 4), (101, 4), (64, 2), (203, 2), (40, 1), (77, 1)]]
    cases += [
        Case("the largest 4-bit codes", dict(codes=np.full(7, 15, dtype=np.uint8), bits=4)),
        Case("the largest 2-bit codes", dict(codes=np.full(10, 3, dtype=np.uint8), bits=2)),
        Case("one 2-bit code", dict(codes=np.array([2], dtype=np.uint8), bits=2)),
        Case("one 4-bit code", dict(codes=np.array([9], dtype=np.uint8), bits=4)),
        Case("2-bit codes 0, 1, 2, 3 repeated", dict(codes=np.tile(np.arange(4, dtype=np.uint8), 5), bits=2)),
        Case("no codes", dict(codes=np.zeros(0, dtype=np.uint8), bits=4)),
    ]
    return cases


def unpack_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("three 4-bit codes", dict(packed=np.array([33, 3], dtype=np.uint8), bits=4, n=3)),
                Case("four 2-bit codes", dict(packed=np.array([147], dtype=np.uint8), bits=2, n=4))]
    rng = _rng(seed, 6)
    cases = []
    for n, bits in [(64, 4), (101, 4), (64, 2), (203, 2), (40, 1), (77, 1)]:
        cases.append(Case(f"{n} random {bits}-bit codes", dict(packed=pack_codes(_codes(rng, n, bits), bits).data,
                                                               bits=bits, n=n)))
    cases += [
        Case("every byte 255 (the largest codes)", dict(packed=np.full(6, 255, dtype=np.uint8), bits=4, n=12)),
        Case("every byte 255, 2 bits, padding in the last byte", dict(packed=np.full(4, 255, dtype=np.uint8), bits=2, n=13)),
        Case("one 2-bit code", dict(packed=np.array([2], dtype=np.uint8), bits=2, n=1)),
        Case("one 4-bit code", dict(packed=np.array([9], dtype=np.uint8), bits=4, n=1)),
        Case("no codes", dict(packed=np.zeros(0, dtype=np.uint8), bits=2, n=0)),
    ]
    return cases


# -- exercise 6: storage and compression ratio ---------------------------------------------------------

def storage_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("1000 weights, 16 clusters", dict(n=1000, k=16, b=32)),
                Case("a small layer: the codebook outweighs the codes", dict(n=640, k=256, b=32))]
    rng = _rng(seed, 7)
    cases = [Case("a random layer", dict(n=int(rng.integers(1_000, 5_000_000)), k=int(2 ** rng.integers(1, 9)), b=32))
             for _ in range(4)]
    cases += [
        Case("the course MLP's first layer, 4 bits", dict(n=4096, k=16, b=32)),
        Case("16-bit weights", dict(n=100_000, k=16, b=16)),
        Case("16-bit weights, a small layer", dict(n=300, k=64, b=16)),
        Case("a number of clusters that is not a power of two", dict(n=10_000, k=5, b=32)),
        Case("k = 100", dict(n=1234, k=100, b=32)),
        Case("one cluster (codes of 0 bits)", dict(n=50, k=1, b=32)),
        Case("one weight", dict(n=1, k=2, b=32)),
        Case("a billion weights", dict(n=10 ** 9, k=256, b=32)),
    ]
    return cases
