"""MADDNESS (quantref.pq.maddness): the tree hash, its learning, the ridge refinement, the product.

References written here: the tree walk ``g = 2g + (x[dim] > t[g])`` in plain Python, the best
split of a bucket by trying every threshold, and the ridge solution from the normal equations.
"""
import numpy as np
import pytest

from quantref.kernels import compiled_available
from quantref.pq import MaddnessEncoder, MaddnessMatmul, unpack_codes_4bit
from quantref.pq.maddness import _split
from quantref.pq.scan import COMPILED

HAVE = compiled_available(COMPILED)
BACKENDS = [pytest.param("cython", marks=pytest.mark.skipif(not HAVE, reason="quantref.pq._pq not built")),
            "numpy"]


@pytest.fixture(autouse=True)
def _clean_backend_env(monkeypatch):
    monkeypatch.delenv("QUANTREF_BACKEND", raising=False)


@pytest.fixture(scope="module")
def low_rank():
    """Rows of rank 6 plus a little noise: a product MADDNESS can approximate well."""
    rng = np.random.default_rng(0)
    a = (rng.normal(size=(3000, 6)) @ rng.normal(size=(6, 32)) + 0.05 * rng.normal(size=(3000, 32)))
    return a.astype(np.float32)


def walk(x, dims, thresholds):
    """The tree walk of one row, one codebook at a time, in Python."""
    codes = []
    for c in range(len(dims)):
        g = 0
        for level in range(4):
            g = 2 * g + int(x[dims[c][level]] > thresholds[c][level][g])
        codes.append(g)
    return codes


def test_hand_tree():
    enc = MaddnessEncoder(1)
    enc.d = 3
    enc.split_dims = np.array([[0, 1, 2, 0]], dtype=np.int64)
    thr = np.full((1, 4, 8), np.inf, np.float32)
    thr[0, 0, 0] = 0.0                      # level 0: x0 > 0 ?
    thr[0, 1, :2] = [10.0, -10.0]           # level 1: x1 > 10 (left) / x1 > -10 (right)
    thr[0, 2, :4] = [0, 1, 2, 3]            # level 2: x2 > g
    thr[0, 3, :8] = np.arange(8) - 4.0      # level 3: x0 > g - 4
    enc.thresholds = thr
    enc.prototypes = np.zeros((1, 16, 3), np.float32)
    x = np.array([[1.0, 0.0, 2.5], [-1.0, 20.0, 0.5], [0.0, 0.0, 0.0]], dtype=np.float32)
    # row 0: x0>0 -> 1; x1>-10 -> 3; x2>3? no -> 6; x0=1 > 6-4=2? no -> 12
    # row 1: 0; x1>10 -> 1; x2>1? no -> 2; x0=-1 > 2-4? yes -> 5
    # row 2: 0 (0 > 0 is false); 0 > 10? no -> 0; 0 > 0? no -> 0; 0 > -4 -> 1
    expected = [[12], [5], [1]]
    for backend in ("numpy",) + (("cython",) if HAVE else ()):
        np.testing.assert_array_equal(enc.encode(x, backend=backend), expected)
        np.testing.assert_array_equal(unpack_codes_4bit(enc.encode(x, packed=True, backend=backend)), expected)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fitted_encoder_walks_its_trees(low_rank, backend):
    enc = MaddnessEncoder(4).fit(low_rank[:2000], progress=False)
    assert enc.split_dims.shape == (4, 4) and enc.thresholds.shape == (4, 4, 8)
    for c in range(4):                      # every split coordinate lies in the codebook's own columns
        assert np.all((enc.split_dims[c] >= 8 * c) & (enc.split_dims[c] < 8 * c + 8))
    x = low_rank[2000:2300]
    codes = enc.encode(x, backend=backend, num_threads=2)
    expected = np.array([walk(row, enc.split_dims, enc.thresholds) for row in x])
    np.testing.assert_array_equal(codes, expected)
    np.testing.assert_array_equal(unpack_codes_4bit(enc.encode(x, packed=True, backend=backend)), expected)
    assert len(np.unique(enc.encode(low_rank[:2000])[:, 0])) == 16       # balanced: all 16 leaves used


def test_nan_goes_left():
    enc = MaddnessEncoder(1).fit(np.random.default_rng(1).normal(size=(100, 4)).astype(np.float32), progress=False)
    x = np.full((1, 4), np.nan, np.float32)
    for backend in ("numpy",) + (("cython",) if HAVE else ()):
        assert enc.encode(x, backend=backend, check_finite=False)[0, 0] == 0   # x > t is false for NaN


def test_split_is_the_best_threshold():
    rng = np.random.default_rng(3)
    for trial in range(20):
        n = int(rng.integers(2, 40))
        xb = rng.normal(size=(n, 3))
        v = np.round(rng.normal(size=n), 1).astype(np.float32)      # repeated values
        t, loss = _split(xb - xb.mean(0), v)

        def sse(rows):
            return float(((xb[rows] - xb[rows].mean(0)) ** 2).sum()) if rows.any() else 0.0
        right = v > t
        assert loss == pytest.approx(sse(~right) + sse(right), rel=1e-9, abs=1e-12)
        candidates = [sse(v <= u) + sse(v > u) for u in np.unique(v)[:-1]]
        if candidates:
            assert loss == pytest.approx(min(candidates), rel=1e-9, abs=1e-12)
            below = v[~right].max()
            above = v[right].min()
            assert below <= t < above                              # a threshold between the two sides
        else:
            assert t == np.inf                                     # nothing to split


def test_ridge_refinement_is_the_normal_equations(low_rank):
    a = low_rank[:1500]
    enc = MaddnessEncoder(4).fit(a, progress=False)
    codes = enc.encode(a).astype(np.int64)
    lam = 2.5
    G = np.zeros((len(a), 64))
    for c in range(4):
        G[np.arange(len(a)), 16 * c + codes[:, c]] = 1.0
    P = np.linalg.solve(G.T @ G + lam * np.eye(64), G.T @ a.astype(np.float64))
    enc.refine_prototypes(a, lam)
    np.testing.assert_allclose(enc.prototypes.reshape(64, 32), P, rtol=1e-4, atol=1e-5)


def test_matmul_approximates_the_product(low_rank):
    rng = np.random.default_rng(4)
    B = rng.normal(size=(32, 5)).astype(np.float32)
    train, test = low_rank[:2000], low_rank[2000:]
    exact = test.astype(np.float64) @ B
    errs = {}
    for ridge in (None, 1.0):
        amm = MaddnessMatmul(8, ridge=ridge).fit(train, B, progress=False)
        approx = amm(test)
        assert approx.shape == (1000, 5) and approx.dtype == np.float32
        errs[ridge] = np.linalg.norm(approx - exact) / np.linalg.norm(exact)
        # the float-table product differs from the uint8 one only by the table rounding
        amm_f = MaddnessMatmul(8, ridge=ridge, quantize=False)
        amm_f.encoder = amm.encoder
        amm_f.set_B(B)
        diff = np.abs(amm_f(test) - approx)
        assert np.all(diff <= 8 / (2 * amm.qtables.scale)[None, :] + 1e-4 * (1 + np.abs(exact)))
    # leaf means alone (each codebook sees 4 of the 32 columns) vs prototypes refined over all columns
    assert errs[None] < 0.6 and errs[1.0] < 0.35 and errs[1.0] < 0.75 * errs[None], errs


@pytest.mark.skipif(not HAVE, reason="quantref.pq._pq not built")
def test_backends_agree_on_the_product(low_rank):
    B = np.random.default_rng(5).normal(size=(32, 3)).astype(np.float32)
    amm = MaddnessMatmul(4).fit(low_rank[:1000], B, progress=False)
    x = low_rank[1000:1100]
    ref = amm(x, backend="numpy")
    for impl in ("auto", "portable", "reference"):
        np.testing.assert_array_equal(amm(x, backend="cython", impl=impl, num_threads=2), ref)


# ----------------------------------------------------------------------------- bad input

def test_bad_input(low_rank):
    with pytest.raises(ValueError, match="D=32 columns, not divisible by ncodebooks=5"):
        MaddnessEncoder(5).fit(low_rank, progress=False)
    with pytest.raises(ValueError, match="16 leaves per codebook is larger than the data: only 10"):
        MaddnessEncoder(4).fit(low_rank[:10], progress=False)
    with pytest.raises(ValueError, match="ncodebooks"):
        MaddnessEncoder(0)
    enc = MaddnessEncoder(4)
    with pytest.raises(RuntimeError, match="not fitted"):
        enc.encode(low_rank)
    enc.fit(low_rank[:500], progress=False)
    with pytest.raises(ValueError, match="A has 31 columns"):
        enc.encode(low_rank[:, :31])
    with pytest.raises(TypeError, match="A must hold real numbers"):
        enc.encode(low_rank.astype(bool))
    with pytest.raises(ValueError, match="ridge"):
        enc.refine_prototypes(low_rank, -1.0)
    bad = MaddnessEncoder(4).fit(low_rank[:500], progress=False)
    bad.split_dims = bad.split_dims.copy()
    bad.split_dims[3, 2] = 32                                   # a column the rows do not have
    with pytest.raises(ValueError, match=r"split_dims must hold column indices in \[0, 32\)"):
        bad.encode(low_rank)
    bad.split_dims = np.zeros((4, 3), np.int64)
    with pytest.raises(ValueError, match=r"split_dims must be an int64 array of shape \(4, 4\)"):
        bad.encode(low_rank)
    amm = MaddnessMatmul(4)
    with pytest.raises(RuntimeError, match="fit"):
        amm(low_rank)
    with pytest.raises(ValueError, match=r"B must have shape \(D, n_out\) with D=32"):
        amm.fit(low_rank[:500], np.zeros((31, 2)), progress=False)


# -- MaddnessEncoder.from_trees: given trees, the codes of g <- 2g + [a_j > t] ------------------------

def _walk(a, dims, thr):
    """One row, one codebook, written out as the paper's loop (independent of the kernels)."""
    g = 0
    for level in range(4):
        g = 2 * g + (1 if a[dims[level]] > thr[level][g] else 0)
    return g


@pytest.mark.parametrize("backend", ["numpy", None])
def test_from_trees_encodes_as_the_tree_walk(backend):
    rng = np.random.default_rng(3)
    C, D, n = 3, 7, 40
    dims = rng.integers(0, D, size=(C, 4))
    thr = rng.normal(size=(C, 4, 8)).astype(np.float32)
    A = rng.normal(size=(n, D)).astype(np.float32)
    A[:5, dims[0, 0]] = thr[0, 0, 0]                     # ties at the root go left
    enc = MaddnessEncoder.from_trees(dims, thr, d=D)
    want = np.array([[_walk(a, dims[c], thr[c]) for c in range(C)] for a in A], dtype=np.uint8)
    np.testing.assert_array_equal(enc.encode(A, backend=backend), want)
    assert not (enc.encode(A[:5], backend=backend)[:, 0] >= 8).any()


def test_from_trees_refuses_bad_trees():
    with pytest.raises(ValueError, match="split_dims must be an integer array of shape"):
        MaddnessEncoder.from_trees(np.zeros((2, 3), dtype=int), np.zeros((2, 4, 8)), d=4)
    with pytest.raises(ValueError, match="thresholds must have shape"):
        MaddnessEncoder.from_trees(np.zeros((2, 4), dtype=int), np.zeros((2, 4, 4)), d=4)
    with pytest.raises(ValueError, match="column indices"):
        MaddnessEncoder.from_trees(np.full((1, 4), 4), np.zeros((1, 4, 8)), d=4)
    with pytest.raises(ValueError, match="NaN"):
        MaddnessEncoder.from_trees(np.zeros((1, 4), dtype=int), np.full((1, 4, 8), np.nan), d=4)
    with pytest.raises(ValueError, match="d must be a positive integer"):
        MaddnessEncoder.from_trees(np.zeros((1, 4), dtype=int), np.zeros((1, 4, 8)), d=0)
