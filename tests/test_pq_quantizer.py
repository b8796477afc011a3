"""ProductQuantizer (quantref.pq): training, encoding, decoding and table construction.

Expected values: a hand case, brute-force nearest prototypes and tables computed in float64 in the
test.  The compiled encoder and its NumPy twin must give the same codes bit for bit (both sum the
squared differences in float32 in the same order, without fused multiply-add).
"""
import numpy as np
import pytest

from quantref.pq import ProductQuantizer, kmeans, scan
from quantref.pq.scan import COMPILED
from quantref.kernels import compiled_available

HAVE = compiled_available(COMPILED)
BACKENDS = [pytest.param("cython", marks=pytest.mark.skipif(not HAVE, reason="quantref.pq._pq not built")),
            "numpy"]


@pytest.fixture(autouse=True)
def _clean_backend_env(monkeypatch):
    monkeypatch.delenv("QUANTREF_BACKEND", raising=False)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    s = (1.0 + np.arange(32)) ** -0.5
    x = (rng.normal(size=(3000, 32)) * s).astype(np.float32)
    return x[:2000], x[2000:]


def brute_codes(pq, x):
    xs = x.astype(np.float64).reshape(len(x), pq.M, 1, pq.dsub)
    d = ((xs - pq.centroids.astype(np.float64)[None]) ** 2).sum(-1)      # (n, M, ksub)
    return d


def test_hand_case():
    pq = ProductQuantizer(4, 2, nbits=1)
    pq.centroids = np.array([[[0, 0], [1, 1]], [[0, 0], [2, 2]]], dtype=np.float32)
    x = np.array([[0.9, 0.8, 0.1, 0.0], [0.2, 0.1, 1.5, 1.2]], dtype=np.float32)
    codes = pq.compute_codes(x)
    np.testing.assert_array_equal(codes, [[1, 0], [0, 1]])
    np.testing.assert_array_equal(pq.decode(codes), [[1, 1, 0, 0], [0, 0, 2, 2]])
    q = np.array([[1.0, 2.0, 3.0, 4.0]], dtype=np.float32)
    np.testing.assert_array_equal(pq.compute_inner_prod_tables(q), [[[0, 3], [0, 14]]])
    np.testing.assert_array_equal(pq.compute_distance_tables(q), [[[5, 1], [25, 5]]])
    # aggregation: q . x_hat and ||q - x_hat||^2 by lookups
    np.testing.assert_array_equal(scan(codes, pq.tables(q)), [[3, 14]])
    np.testing.assert_array_equal(scan(codes, pq.tables(q, "l2")), [[1 + 25, 5 + 5]])


@pytest.mark.parametrize("nbits", [2, 4, 8])
@pytest.mark.parametrize("backend", BACKENDS)
def test_codes_are_nearest_prototypes(data, nbits, backend):
    train, test = data
    pq = ProductQuantizer(32, 4, nbits).train(train, niter=5, progress=False)
    codes = pq.compute_codes(test, backend=backend)
    assert codes.dtype == np.uint8 and codes.shape == (len(test), 4)
    d = brute_codes(pq, test)
    chosen = np.take_along_axis(d, codes[..., None].astype(np.int64), axis=2)[..., 0]
    # float32 summation can only decide near-ties differently: the chosen distance is the minimum
    # up to float32 rounding of a 8-term sum (relative 8 * 2**-24 of the distance)
    np.testing.assert_array_less(chosen - d.min(axis=2), 8 * 2.0 ** -24 * d.min(axis=2) + 1e-30)
    assert np.mean(codes == d.argmin(axis=2)) > 0.999


@pytest.mark.skipif(not HAVE, reason="quantref.pq._pq not built")
@pytest.mark.parametrize("nbits", [1, 4, 8])
def test_compiled_and_numpy_encoders_agree(data, nbits):
    train, test = data
    pq = ProductQuantizer(32, 8, nbits).train(train, niter=3, progress=False)
    np.testing.assert_array_equal(pq.compute_codes(test, backend="cython", num_threads=2),
                                  pq.compute_codes(test, backend="numpy"))


def test_ties_go_to_the_lower_prototype():
    pq = ProductQuantizer(2, 1, nbits=2)
    pq.centroids = np.array([[[1, 0], [0, 1], [-1, 0], [0, -1]]], dtype=np.float32)
    x = np.array([[0, 0], [0.5, 0.5], [-0.5, 0.5]], dtype=np.float32)   # equidistant ties
    for backend in ("numpy",) + (("cython",) if HAVE else ()):
        np.testing.assert_array_equal(pq.compute_codes(x, backend=backend)[:, 0], [0, 0, 1])


def test_decode_and_tables_against_float64(data):
    train, test = data
    pq = ProductQuantizer(32, 8, 4).train(train, niter=5, progress=False)
    codes = pq.compute_codes(test)
    xh = pq.decode(codes)
    ref = np.concatenate([pq.centroids[m][codes[:, m]] for m in range(8)], axis=1)
    np.testing.assert_array_equal(xh, ref)
    q = test[:5]
    c = pq.centroids.astype(np.float64)
    qs = q.astype(np.float64).reshape(5, 8, 1, 4)
    ip = (qs * c[None]).sum(-1)
    l2 = ((qs - c[None]) ** 2).sum(-1)
    # computed in float64 then rounded once to float32: within half an ulp (+ tiny for l2's expansion)
    np.testing.assert_allclose(pq.tables(q), ip, rtol=2 ** -24, atol=1e-12)
    np.testing.assert_allclose(pq.tables(q, "l2"), l2, rtol=2 ** -24, atol=1e-12)
    # the scan of the tables is the inner product with the reconstruction (float32 sums of 8 terms)
    exact = q.astype(np.float64) @ xh.astype(np.float64).T
    bound = 8 * 2.0 ** -24 * (np.abs(q).astype(np.float64) @ np.abs(xh).astype(np.float64).T) + 1e-12
    assert np.all(np.abs(scan(codes, pq.tables(q)) - exact) <= bound)


def test_training_reduces_the_error(data):
    train, test = data
    errs = []
    for nbits in (2, 4, 6):
        pq = ProductQuantizer(32, 4, nbits).train(train, niter=8, progress=False)
        errs.append(np.mean((pq.decode(pq.compute_codes(test)) - test) ** 2))
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < 0.5 * np.mean(test ** 2)


def test_training_is_seeded(data):
    train, _ = data
    a = ProductQuantizer(32, 4, 4).train(train, niter=3, seed=7, progress=False).centroids
    b = ProductQuantizer(32, 4, 4).train(train, niter=3, seed=7, progress=False).centroids
    np.testing.assert_array_equal(a, b)


def test_kmeans_reseeds_empty_clusters():
    # 4 distinct points, k = 4, init picks duplicates of one point: every cluster must end non-empty
    x = np.array([[0.0], [0.0], [0.0], [0.0], [1.0], [2.0], [3.0]])
    r = kmeans(x, 4, niter=10, seed=0)
    assert sorted(r.centroids.ravel().tolist()) == [0.0, 1.0, 2.0, 3.0]
    assert r.inertia == 0.0


# ----------------------------------------------------------------------------- bad input

def test_d_not_divisible_by_M():
    with pytest.raises(ValueError, match="d=10 is not divisible by M=4"):
        ProductQuantizer(10, 4)


@pytest.mark.parametrize("nbits", [0, 9, 2.5])
def test_bad_nbits(nbits):
    with pytest.raises(ValueError, match="nbits"):
        ProductQuantizer(8, 2, nbits)


def test_more_prototypes_than_training_rows():
    with pytest.raises(ValueError, match="k=256 prototypes per subspace .* only 100 training rows"):
        ProductQuantizer(8, 2, 8).train(np.zeros((100, 8), np.float32), progress=False)


def test_bad_vectors_and_codes(data):
    train, test = data
    pq = ProductQuantizer(32, 4, 2)
    with pytest.raises(RuntimeError, match="not trained"):
        pq.compute_codes(test)
    pq.train(train, niter=2, progress=False)
    with pytest.raises(ValueError, match="x has 31 columns"):
        pq.compute_codes(test[:, :31])
    with pytest.raises(TypeError, match="x must hold real numbers"):
        pq.compute_codes(test.astype(np.complex64))
    with pytest.raises(ValueError, match="NaN or inf"):
        pq.compute_codes(np.full((2, 32), np.inf, np.float32))
    with pytest.raises(ValueError, match=r"codes\[1, 2\] = 4 is out of range for a codebook of 4"):
        pq.decode(np.array([[0, 0, 0, 0], [1, 1, 4, 1]], np.uint8))
    with pytest.raises(TypeError, match="codes has dtype int64"):
        pq.decode(np.zeros((2, 4), np.int64))
    with pytest.raises(ValueError, match="codes has 3 columns, but there are M=4"):
        pq.decode(np.zeros((2, 3), np.uint8))
    with pytest.raises(ValueError, match="metric='cos'"):
        pq.tables(test[:2], "cos")
    with pytest.raises(ValueError, match="centroids must have shape"):
        pq.centroids = np.zeros((4, 4, 4), np.float32)
