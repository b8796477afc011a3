"""1-D k-means of Deep Compression (quantref.codebook.kmeans).

Expected values come from hand cases and from brute force written here: the nearest centroid by
``argmin |x - c|`` over all centroids (float64, ties to the lower index), and the cluster means.
"""
import numpy as np
import pytest

from quantref.codebook import assign_sorted_centroids, kmeans_1d
from quantref.codebook.kmeans import INITS


def brute_codes(x, c):
    return np.argmin(np.abs(np.asarray(x, np.float64).ravel()[:, None] - np.asarray(c)[None, :]), axis=1)


# ----------------------------------------------------------------------------- hand cases

def test_two_clusters_by_hand():
    r = kmeans_1d([0.0, 0.1, 0.9, 1.0], 2)
    np.testing.assert_allclose(r.centroids, [0.05, 0.95], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(r.codes, [0, 0, 1, 1])
    assert r.converged
    assert r.inertia == pytest.approx(4 * 0.05 ** 2, abs=1e-15)


def test_linear_init_spans_min_to_max():
    # one Lloyd step from linspace(0, 9, 4) = [0, 3, 6, 9]: clusters {0,1}, {3}, {6}, {9}
    r = kmeans_1d([0.0, 1.0, 3.0, 6.0, 9.0], 4, max_iter=1)
    np.testing.assert_allclose(r.centroids, [0.5, 3.0, 6.0, 9.0])


def test_ties_go_to_the_lower_centroid():
    c = np.array([0.0, 2.0])
    np.testing.assert_array_equal(assign_sorted_centroids([1.0, 0.999, 1.001], c), [0, 0, 1])


def test_empty_cluster_is_reseeded_on_the_worst_value():
    # linear init [0, 5, 10] leaves the middle centroid empty; after the update [0.15, -, 10] it
    # moves to the value with the largest squared error: 0.0 and 0.3 tie (0.15**2), the first wins
    # -> centroids [0, 0.15, 10], clusters {0}, {0.1, 0.2, 0.3}, {10}
    x = [0.0, 0.1, 0.2, 0.3, 10.0]
    r = kmeans_1d(x, 3, max_iter=1)
    np.testing.assert_allclose(r.centroids, [0.0, 0.15, 10.0])
    np.testing.assert_array_equal(r.codes, [0, 1, 1, 1, 2])
    r = kmeans_1d(x, 3)
    assert r.converged and len(np.unique(r.codes)) == 3
    # the converged clustering separates {0, 0.1} / {0.2, 0.3} (or {0,0.1,0.2}/{0.3}) and {10}
    assert r.codes[-1] == 2 and r.centroids[2] == 10.0


def test_fewer_distinct_values_than_k_is_exact():
    r = kmeans_1d([1.0, 1.0, 2.0, 2.0, 2.0], 4)
    np.testing.assert_array_equal(r.centroids, [1.0, 2.0, 2.0, 2.0])     # padded by repeating the largest
    np.testing.assert_array_equal(r.codes, [0, 0, 1, 1, 1])              # padding never used
    assert r.inertia == 0.0


def test_constant_tensor():
    r = kmeans_1d(np.full((3, 3), -0.5), 2)
    assert r.inertia == 0.0 and r.codes.shape == (3, 3) and np.all(r.codes == 0)


def test_codes_keep_the_input_shape_and_smallest_dtype():
    r = kmeans_1d(np.arange(12.0).reshape(3, 4), 3)
    assert r.codes.shape == (3, 4) and r.codes.dtype == np.uint8
    assert kmeans_1d(np.arange(300.0), 257).codes.dtype == np.uint16


# ----------------------------------------------------------------------------- against brute force

@pytest.mark.parametrize("init", INITS)
def test_fixed_point_matches_brute_force(init):
    rng = np.random.default_rng(0)
    for trial in range(30):
        n = int(rng.integers(5, 200))
        x = rng.normal(size=n)
        if trial % 3 == 0:
            x = np.round(x, 1)          # many ties and repeated values
        k = int(rng.integers(1, min(n, 16) + 1))
        r = kmeans_1d(x, k, init=init, seed=trial)
        np.testing.assert_array_equal(r.codes, brute_codes(x, r.centroids))
        assert np.all(np.diff(r.centroids) >= 0)
        if len(np.unique(x)) > k:
            assert len(np.unique(r.codes)) == k, "empty cluster"
            assert r.converged
            for j in range(k):          # Lloyd's fixed point: every centroid is its cluster's mean
                assert r.centroids[j] == pytest.approx(x[r.codes == j].mean(), rel=1e-12, abs=1e-12)
        assert r.inertia == pytest.approx(np.sum((x - r.centroids[r.codes]) ** 2), rel=1e-12, abs=1e-15)


def test_assignment_at_rounding_boundaries():
    # values one ulp around midpoints: the midpoint search must agree with brute force
    c = np.array([0.1, 0.3, 0.7000000000000001])
    mids = (c[:-1] + c[1:]) / 2
    x = np.concatenate([np.nextafter(mids, -1), mids, np.nextafter(mids, 1)])
    np.testing.assert_array_equal(assign_sorted_centroids(x, c), brute_codes(x, c))


def test_kmeanspp_is_seeded():
    x = np.random.default_rng(1).normal(size=500)
    a = kmeans_1d(x, 8, init="kmeans++", seed=3)
    b = kmeans_1d(x, 8, init="kmeans++", seed=3)
    np.testing.assert_array_equal(a.centroids, b.centroids)


def test_linear_beats_or_matches_random_on_heavy_tails():
    # Deep Compression's argument: linear init keeps the rare large weights represented
    x = np.random.default_rng(2).standard_t(2, size=4000)
    lin = kmeans_1d(x, 8, init="linear")
    assert lin.centroids[-1] > np.quantile(x, 0.999) / 4


# ----------------------------------------------------------------------------- bad input

def test_k_larger_than_the_data():
    with pytest.raises(ValueError, match="k=5 is larger than the data: only 4"):
        kmeans_1d([1.0, 2.0, 3.0, 4.0], 5)


@pytest.mark.parametrize("k, err", [(0, ValueError), (2.0, TypeError), (True, TypeError)])
def test_bad_k(k, err):
    with pytest.raises(err, match="k"):
        kmeans_1d([1.0, 2.0], k)


def test_bad_values():
    with pytest.raises(ValueError, match="NaN or inf"):
        kmeans_1d([1.0, np.nan], 1)
    with pytest.raises(TypeError, match="values"):
        kmeans_1d(np.array(["a", "b"]), 1)
    with pytest.raises(ValueError, match="empty"):
        kmeans_1d([], 1)


def test_bad_init_and_unsorted_centroids():
    with pytest.raises(ValueError, match="init='forgy'"):
        kmeans_1d([1.0, 2.0], 1, init="forgy")
    with pytest.raises(ValueError, match="ascending"):
        assign_sorted_centroids([1.0], [2.0, 1.0])
