"""Observers (quantref.calibration): min/max, moving average, percentile, MSE and entropy (KL).

Expected values are hand computations (arithmetic in the comments), NumPy's own percentile,
brute-force searches on the raw data, a step-by-step implementation of TensorRT's KL procedure
written here, and PyTorch's observers where torch is installed.
"""
import doctest

import numpy as np
import pytest

import quantref.calibration as cal
from quantref.calibration import (N_BINS, AbsHistogram, EntropyObserver, MinMaxObserver, MovingAverageMinMaxObserver,
                                  MSEObserver, NoDataError, PercentileObserver, kl_divergences)
from quantref.calibration import base, entropy, histogram, minmax, mse, percentile
from quantref.linear import dequantize, integer_grid, qparams, quantization_error, quantize

ALL = [MinMaxObserver, MovingAverageMinMaxObserver, PercentileObserver, MSEObserver, EntropyObserver]
HIST = [PercentileObserver, MSEObserver, EntropyObserver]


def feed(obs, x, n_batches, split_axis=0):
    """Feed ``x`` to ``obs`` in ``n_batches`` pieces cut along ``split_axis`` (not the channel axis)."""
    for b in np.array_split(x, n_batches, axis=split_axis):
        obs.update(b)
    return obs


@pytest.mark.parametrize("module", [cal, base, minmax, histogram, percentile, mse, entropy])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


# ============================================================================ min / max
def test_minmax_hand_case_per_tensor():
    obs = MinMaxObserver()
    obs.update([0.5, -1.0, 2.0]).update([[3.0, 0.0]]).update([-4.0])
    # min(-1, 0, -4) = -4 ; max(2, 3, -4) = 3
    assert obs.range() == (-4.0, 3.0)
    assert obs.n_batches == 3 and obs.n_values == 6
    # qparams: s = (3 - (-4)) / 255 = 7/255 ; -4 / s = -145.71 -> round -146 ; z = 146
    assert obs.qparams(8) == (7 / 255, 146)
    # symmetric: amax 4 -> s = 4 / 127.5, z = 0
    assert obs.qparams(8, symmetric=True) == (4 / 127.5, 0)


def test_minmax_per_channel_axis0_and_axis1():
    w1 = np.array([[1.0, -2.0, 0.5], [0.0, 4.0, -1.0]])
    w2 = np.array([[3.0, 0.0], [-5.0, 1.0]])
    obs = MinMaxObserver(axis=0).update(w1).update(w2)
    # row 0: {1, -2, 0.5, 3, 0} -> (-2, 3) ; row 1: {0, 4, -1, -5, 1} -> (-5, 4)
    lo, hi = obs.range()
    np.testing.assert_array_equal(lo, [-2.0, -5.0])
    np.testing.assert_array_equal(hi, [3.0, 4.0])
    s, z = obs.qparams(8, symmetric=True)
    np.testing.assert_array_equal(s, [3 / 127.5, 5 / 127.5])
    np.testing.assert_array_equal(z, [0, 0])
    # axis=1 (columns) of 3-D batches: channel axis kept, the others reduced
    x = np.arange(24.0).reshape(2, 3, 4) - 10     # x[i, c, k] = 12 i + 4 c + k - 10
    lo, hi = MinMaxObserver(axis=1).update(x).range()
    # channel c: min at i=0,k=0: 4c - 10 ; max at i=1,k=3: 12 + 4c + 3 - 10 = 4c + 5
    np.testing.assert_array_equal(lo, [-10.0, -6.0, -2.0])
    np.testing.assert_array_equal(hi, [5.0, 9.0, 13.0])


def test_moving_average_hand_case_default_constant():
    obs = MovingAverageMinMaxObserver()
    assert obs.averaging_constant == 0.01
    obs.update([0.0, 4.0])            # first batch sets (0, 4)
    assert obs.range() == (0.0, 4.0)
    obs.update([-2.0, 2.0])           # min: 0 + 0.01 (-2 - 0) = -0.02 ; max: 4 + 0.01 (2 - 4) = 3.98
    lo, hi = obs.range()
    # tolerance 1e-15: 0.01 is not exact in binary, one or two roundings of O(1) values
    assert lo == pytest.approx(-0.02, abs=1e-15) and hi == pytest.approx(3.98, abs=1e-15)
    obs.update([1.0, 1.0])            # min: -0.02 + 0.01 (1 + 0.02) = -0.0098 ; max: 3.98 + 0.01 (1 - 3.98) = 3.9502
    lo, hi = obs.range()
    assert lo == pytest.approx(-0.0098, abs=1e-15) and hi == pytest.approx(3.9502, abs=1e-15)


def test_moving_average_per_channel_against_loop():
    rng = np.random.default_rng(3)
    batches = [rng.normal(0, 1 + t, (4, 10)) for t in range(6)]
    obs = MovingAverageMinMaxObserver(averaging_constant=0.3, axis=0)
    for b in batches:
        obs.update(b)
    lo, hi = obs.range()
    for c in range(4):                # independent scalar recursion per channel
        m, M = batches[0][c].min(), batches[0][c].max()
        for b in batches[1:]:
            m = m + 0.3 * (b[c].min() - m)
            M = M + 0.3 * (b[c].max() - M)
        # same operations in the same order: identical doubles
        assert lo[c] == m and hi[c] == M
    assert not np.array_equal(lo, np.min([b.min(axis=1) for b in batches], axis=0))   # not plain min


def test_moving_average_constant_one_keeps_last_batch():
    obs = MovingAverageMinMaxObserver(averaging_constant=1.0).update([-5.0, 5.0]).update([1.0, 2.0])
    assert obs.range() == (1.0, 2.0)


# ============================================================================ PyTorch
class TestTorchObservers:
    """Our float64 observers against torch.ao.quantization (float32).

    PyTorch stores min/max in float32.  Plain min/max of float32 data is exact in both.  The
    moving average does three float32 operations per batch (each <= 2^-24 relative) on values of
    the order of the range: over 20 batches the error stays below 20 * 3 * 2^-24 * |range| ~ 4e-6
    of the range; we allow 1e-5 of the largest |value|.  Scales: PyTorch computes them in float32
    from float32 min/max (two roundings): relative 2e-7 for exact min/max, plus the min/max error
    for the moving average.
    """

    @pytest.fixture(autouse=True)
    def _torch(self):
        # inside a fixture, so that without torch only these tests skip, not the module
        self.torch = pytest.importorskip("torch")

    def data(self, seed, shape=(20, 8, 16)):
        rng = np.random.default_rng(seed)
        return (rng.normal(0.3, 2.0, shape) * rng.uniform(0.5, 2.0, (shape[0], 1, 1))).astype(np.float32)

    @pytest.mark.parametrize("seed", range(3))
    def test_minmax_per_tensor(self, seed):
        from torch.ao.quantization import MinMaxObserver as TorchMinMax
        x = self.data(seed)
        ours, theirs = MinMaxObserver(), TorchMinMax(dtype=self.torch.quint8, qscheme=self.torch.per_tensor_affine)
        for b in x:
            ours.update(b)
            theirs(self.torch.from_numpy(b))
        assert ours.range() == (float(theirs.min_val), float(theirs.max_val))
        ts, tz = theirs.calculate_qparams()
        s, z = ours.qparams(8)
        assert s == pytest.approx(float(ts), rel=2e-7) and z == int(tz)

    @pytest.mark.parametrize("seed", range(3))
    def test_moving_average_per_tensor(self, seed):
        from torch.ao.quantization import MovingAverageMinMaxObserver as TorchMA
        x = self.data(seed)
        ours = MovingAverageMinMaxObserver()
        theirs = TorchMA(averaging_constant=0.01, dtype=self.torch.quint8, qscheme=self.torch.per_tensor_affine)
        for b in x:
            ours.update(b)
            theirs(self.torch.from_numpy(b))
        lo, hi = ours.range()
        tol = 1e-5 * float(np.abs(x).max())
        assert lo == pytest.approx(float(theirs.min_val), abs=tol)
        assert hi == pytest.approx(float(theirs.max_val), abs=tol)
        ts, tz = theirs.calculate_qparams()
        s, z = ours.qparams(8)
        assert s == pytest.approx(float(ts), rel=1e-5)
        # z = -round(min / s): the two may differ by one only where min / s is within 1e-3 of a .5 tie
        r = min(lo, 0.0) / s
        near_tie = abs(r - np.floor(r) - 0.5) < 1e-3
        assert z == int(tz) or (near_tie and abs(z - int(tz)) == 1)

    @pytest.mark.parametrize("ch_axis", [0, 1, 2])
    def test_per_channel_minmax_and_moving_average(self, ch_axis):
        from torch.ao.quantization import MovingAveragePerChannelMinMaxObserver, PerChannelMinMaxObserver
        x = self.data(7)
        ours_mm, ours_ma = MinMaxObserver(axis=ch_axis), MovingAverageMinMaxObserver(axis=ch_axis)
        t_mm = PerChannelMinMaxObserver(ch_axis=ch_axis, dtype=self.torch.qint8,
                                        qscheme=self.torch.per_channel_symmetric)
        t_ma = MovingAveragePerChannelMinMaxObserver(averaging_constant=0.01, ch_axis=ch_axis,
                                                     dtype=self.torch.qint8, qscheme=self.torch.per_channel_symmetric)
        # batches: split along an axis that is not the channel axis
        split = 1 if ch_axis == 0 else 0
        for b in np.array_split(x, 5, axis=split):
            for obs in (ours_mm, ours_ma):
                obs.update(b)
            for obs in (t_mm, t_ma):
                obs(self.torch.from_numpy(np.ascontiguousarray(b)))
        lo, hi = ours_mm.range()
        np.testing.assert_array_equal(lo, t_mm.min_val.numpy())
        np.testing.assert_array_equal(hi, t_mm.max_val.numpy())
        ts, tz = t_mm.calculate_qparams()
        s, z = ours_mm.qparams(8, symmetric=True)
        np.testing.assert_allclose(s, ts.numpy(), rtol=2e-7)
        np.testing.assert_array_equal(z, tz.numpy())
        lo, hi = ours_ma.range()
        tol = 1e-5 * float(np.abs(x).max())
        np.testing.assert_allclose(lo, t_ma.min_val.numpy(), rtol=0, atol=tol)
        np.testing.assert_allclose(hi, t_ma.max_val.numpy(), rtol=0, atol=tol)


# ============================================================================ histogram
def test_histogram_first_batch_matches_numpy():
    x = np.random.default_rng(0).normal(size=(1, 5000))
    h = AbsHistogram()
    h.add(x)
    ref, edges = np.histogram(np.abs(x), bins=N_BINS, range=(0, np.abs(x).max()))
    np.testing.assert_array_equal(h.counts[0], ref)
    assert h.top[0] == np.abs(x).max() == edges[-1]


@pytest.mark.parametrize("growth", [3, 5, 37])
def test_histogram_regrowth_is_exact(growth):
    # After growing by an integer factor k, the merged counts equal a direct histogram of all the
    # data over the final range.  Continuous random data never sits on a bin edge, except the first
    # batch's maximum, which sits at the old top = (2048 / k) new bins: with k not dividing 2048 that
    # is inside new bin floor(2048 / k) = 2047 // k, where the merge puts it too.
    rng = np.random.default_rng(growth)
    first = rng.uniform(-1, 1, 3000)
    second = rng.uniform(-1, 1, 3000) * (growth - 0.5)        # max|x| between (k-1) and k times the first
    obs = PercentileObserver()
    obs.update(first).update(second)
    top = obs.hist.top[0]
    assert top == growth * np.abs(first).max()                # grown by exactly k
    both = np.abs(np.concatenate([first, second]))
    ref, _ = np.histogram(both, bins=N_BINS, range=(0, top))
    np.testing.assert_array_equal(obs.hist.counts[0], ref)


def test_histogram_growth_by_two_moves_only_the_old_top():
    # k = 2 divides 2048: the old top is the left edge of new bin 1024, but the merge puts it in
    # new bin 1023 (whose closed interval [1022 w, 1024 w] still contains it).  Nothing else differs.
    rng = np.random.default_rng(1)
    first, second = rng.uniform(0, 1, 1000), rng.uniform(0, 1.9, 1000)
    h = AbsHistogram()
    h.add(first[None])
    h.add(second[None])
    top = h.top[0]
    assert top == 2 * first.max()
    ref, _ = np.histogram(np.concatenate([first, second]), bins=N_BINS, range=(0, top))
    diff = h.counts[0] - ref
    assert diff[1023] == 1 and diff[1024] == -1 and np.count_nonzero(diff) == 2


def test_histogram_zeros_before_any_range():
    obs = PercentileObserver(percentile=50.0)
    obs.update(np.zeros(6)).update([0.0, 2.0, -2.0, 2.0])
    # 7 zeros in bin 0, three |x| = 2 in the last bin
    assert obs.hist.counts[0, 0] == 7 and obs.hist.counts[0, -1] == 3 and obs.hist.counts.sum() == 10
    # 50 % of 10 = 5 values are reached in bin 0: amax = its upper edge 2/2048
    assert obs.amax() == 2 / 2048


# ============================================================================ percentile
@pytest.mark.parametrize("p", [50.0, 90.0, 99.0, 99.9, 99.99, 100.0])
def test_percentile_histogram_within_one_bin_of_numpy(p):
    # amax is the upper edge of the bin where the cumulative count reaches p %, so it lies within one
    # bin width of the exact percentile when neighbouring order statistics are closer than a bin
    # (200k Gaussian values: spacing near the 99.99th percentile ~ 1e-3 < bin width ~ 2.3e-3).
    rng = np.random.default_rng(5)
    x = rng.standard_normal(200_000) * np.repeat([0.5, 1.0, 2.0, 1.0], 50_000)   # range grows twice
    obs = feed(PercentileObserver(p), x, 4)
    exact = np.percentile(np.abs(x), p)
    width = obs.bin_width()
    assert width == obs.hist.top[0] / 2048
    assert exact - 1e-12 <= obs.amax() <= exact + width
    # the exact method is numpy.percentile itself
    exact_obs = feed(PercentileObserver(p, method="exact"), x, 4)
    assert exact_obs.amax() == exact


def test_percentile_100_is_the_maximum():
    x = np.random.default_rng(2).normal(size=999)
    obs = feed(PercentileObserver(100.0), x, 3)
    assert obs.amax() == np.abs(x).max()
    # amax = max(|min|, |max|), so cutting [-amax, amax] to the data gives the min/max range
    assert obs.range() == (x.min(), x.max())


def test_percentile_per_channel_and_one_sided_range():
    rng = np.random.default_rng(8)
    x = np.abs(rng.normal(size=(3, 40_000))) * np.array([[1.0], [3.0], [0.2]])   # channels on axis 0, x >= 0
    obs = feed(PercentileObserver(99.0, axis=0), x, 5, split_axis=1)
    lo, hi = obs.range()
    width = obs.bin_width()
    for c in range(3):
        exact = np.percentile(x[c], 99.0)
        assert exact - 1e-12 <= hi[c] <= exact + width[c]
    # one-sided data: the range starts at the data's minimum (>= 0), not at -amax
    np.testing.assert_array_equal(lo, x.min(axis=1))


# ============================================================================ MSE
def brute_force_mse(x, bits, unsigned, n=1500):
    """Smallest MSE over n thresholds on the raw data (quantization_error), and the quantizer kind."""
    amax = np.abs(x).max()
    best = np.inf
    for a in np.linspace(amax / n, amax, n):
        if unsigned:
            s, z = qparams(0.0, a, bits)
            e = quantization_error(x, s, z, bits).total
        else:
            s, z = qparams(-a, a, bits, symmetric=True, narrow_range=True)
            e = quantization_error(x, s, z, bits, signed=True, narrow_range=True).total
        best = min(best, e)
    return best


@pytest.mark.parametrize("kind,bits", [("normal", 3), ("normal", 8), ("laplace", 4), ("outliers", 4),
                                       ("outliers", 8), ("relu", 4)])
def test_mse_observer_near_brute_force(kind, bits):
    # The observer sees only the histogram (each value replaced by its bin centre, width <= 2 max/2048),
    # so its threshold can be off by about a bin; near the optimum the error curve is flat.  Measured
    # difference from a 1500-threshold search on the raw data: <= 0.2 % (either way: the search has its
    # own resolution); we allow a factor 1.01.
    rng = np.random.default_rng(bits)
    x = {"normal": lambda: rng.standard_normal(10_000),
         "laplace": lambda: rng.laplace(size=10_000),
         "outliers": lambda: np.concatenate([rng.standard_normal(10_000), rng.normal(0, 20, 5)]),
         "relu": lambda: np.maximum(rng.standard_normal(10_000), 0)}[kind]()
    obs = feed(MSEObserver(bits=bits), x, 6)
    unsigned = kind == "relu"
    if unsigned:
        s, z = obs.qparams(bits)
        ours = quantization_error(x, s, z, bits).total
    else:
        s, z = obs.qparams(bits, symmetric=True, narrow_range=True)
        ours = quantization_error(x, s, z, bits, signed=True, narrow_range=True).total
    best = brute_force_mse(x, bits, unsigned)
    assert best / 1.01 <= ours <= 1.01 * best
    if kind == "outliers" and bits == 4:
        # the test can tell: keeping the outliers (min/max) is far worse
        s, z = qparams(-np.abs(x).max(), np.abs(x).max(), bits, symmetric=True, narrow_range=True)
        assert quantization_error(x, s, z, bits, signed=True, narrow_range=True).total > 5 * best


def test_mse_observer_tunes_for_the_bits_asked():
    x = np.random.default_rng(0).standard_normal(50_000)
    obs = MSEObserver(bits=8).update(x)
    # Gaussian optimal symmetric clipping grows with the bit width (about 1.2, 2.0, 2.5 sigma at 2, 3, 4 bits)
    a2, a4, a8 = obs.amax(2), obs.amax(4), obs.amax()
    assert a2 < a4 < a8 < np.abs(x).max()
    assert 1.1 < a2 < 1.35 and 2.3 < a4 < 2.7
    assert obs.range(4) == (-a4, a4)


def test_mse_per_channel_matches_per_tensor_on_each_channel():
    rng = np.random.default_rng(4)
    w = rng.normal(size=(5, 400)) * np.array([[0.1], [1], [2], [5], [0.5]])
    lo, hi = MSEObserver(bits=4, axis=0).update(w).range()
    for c in range(5):
        assert (lo[c], hi[c]) == MSEObserver(bits=4).update(w[c]).range()


# ============================================================================ entropy (KL)
def kl_reference(counts, levels):
    """TensorRT's entropy procedure, written out step by step (one candidate at a time)."""
    h = np.asarray(counts, dtype=np.float64)
    B = len(h)
    out = []
    for i in range(min(levels, B), B + 1):
        P = h[:i].copy()
        P[i - 1] += h[i:].sum()                             # fold the tail into the last bin
        # merge the first i bins (not P) into `levels` levels: bin j -> level via linspace/digitize
        space = np.linspace(0, i, levels + 1)
        level = np.digitize(np.arange(i), space) - 1
        nonempty = h[:i] > 0
        sums = np.bincount(level, weights=h[:i], minlength=levels)
        members = np.bincount(level, weights=nonempty, minlength=levels)
        # expand: the non-empty bins of a level share its mean, empty bins stay 0
        Q = np.where(nonempty, sums[level] / np.maximum(members[level], 1), 0.0)
        p = P / P.sum()
        q = Q / Q.sum() if Q.sum() > 0 else Q
        used = p > 0
        kl = np.inf if np.any(q[used] == 0) else float(np.sum(p[used] * np.log(p[used] / q[used])))
        out.append(kl)
    return np.array(out)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("B,levels", [(64, 8), (50, 8), (40, 16), (12, 3)])
def test_kl_divergences_against_step_by_step(seed, B, levels):
    rng = np.random.default_rng(seed)
    counts = rng.poisson(rng.uniform(0, 30, B)) * (rng.random(B) > 0.25)     # some empty bins
    counts[rng.integers(0, B)] += 1
    i, kl = kl_divergences(counts, levels)
    ref = kl_reference(counts, levels)
    np.testing.assert_array_equal(i, np.arange(min(levels, B), B + 1))
    finite = np.isfinite(ref)
    np.testing.assert_array_equal(np.isfinite(kl), finite)
    # float64: the prefix-sum form subtracts sums of size ~N log N; 1e-10 absolute is far above that
    # rounding (~1e-13) and far below the differences between candidates
    np.testing.assert_allclose(kl[finite], ref[finite], rtol=1e-9, atol=1e-10)


def test_kl_divergences_hand_case():
    # counts (4, 2, 1, 1), 2 levels.  i = 3: P = (4, 2, 1 + 1) / 8 ; levels of bins 0,1,2: floor(2j/3) = 0, 0, 1
    # Q: level 0 = (4 + 2) / 2 = 3 each, level 1 = 1 -> Q = (3, 3, 1) / 7
    # KL = 0.5 log(0.5 / (3/7)) + 0.25 log(0.25 / (3/7)) + 0.25 log(0.25 / (1/7))
    _, kl = kl_divergences([4, 2, 1, 1], 2)
    expected = 0.5 * np.log(3.5 / 3) + 0.25 * np.log(1.75 / 3) + 0.25 * np.log(1.75)
    assert kl[1] == pytest.approx(expected, rel=1e-12)


def test_entropy_observer_matches_step_by_step_on_2048_bins():
    rng = np.random.default_rng(11)
    x = np.concatenate([rng.standard_normal(20_000), rng.normal(0, 15, 10)])
    obs = feed(EntropyObserver(), x, 3)
    ref = kl_reference(obs.hist.counts[0], 128)                # candidates 128 .. 2048
    finite = np.isfinite(ref)
    best = np.flatnonzero(ref == ref[finite].min())[-1] + 128   # last argmin, as pytorch-quantization
    assert obs.amax() == best * obs.hist.top[0] / 2048


def test_entropy_clips_outliers_of_a_gaussian():
    rng = np.random.default_rng(0)
    bulk = rng.standard_normal(100_000)
    x = np.concatenate([bulk, [25.0, -30.0, 40.0]])
    obs = feed(EntropyObserver(bits=8), x, 5)
    a = obs.amax()
    # well below the maximum (40) but beyond nearly all of the bulk (|x| < 3.5 for 99.95 %)
    assert 3.0 < a < 0.25 * 40
    lo, hi = obs.range()
    assert (lo, hi) == (-a, a)


def test_entropy_unsigned_uses_twice_the_levels():
    x = np.abs(np.random.default_rng(1).standard_normal(50_000))
    obs = EntropyObserver(bits=4).update(x)
    assert obs.levels() == 16 and EntropyObserver(bits=4, unsigned=False).update(x).levels() == 8
    assert obs.range()[0] == x.min()


# ============================================================================ degenerate data
@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("c", [2.5, -0.75, 0.0])
def test_constant_tensor_gives_a_sensible_range(cls, c):
    obs = cls()
    obs.update(np.full(100, c)).update(np.full((3, 4), c))
    lo, hi = obs.range()
    assert lo <= c <= hi and (lo, hi) == (c, c)
    for kw, grid in ((dict(), dict()), (dict(symmetric=True, narrow_range=True), dict(signed=True, narrow_range=True))):
        s, z = obs.qparams(8, **kw)
        qmin, qmax = integer_grid(8, **grid)
        # the grid's real range [s (qmin - z), s (qmax - z)] contains both 0 and the constant
        # (1e-12 relative slack: s (qmin - z) is one float64 rounding away from -|c|) ...
        assert s * (qmin - z) <= min(c, 0.0) + 1e-12 * abs(c)
        assert max(c, 0.0) - 1e-12 * abs(c) <= s * (qmax - z)
        # ... and the constant comes back to within half a step (0 exactly)
        back = dequantize(quantize(np.array([c, 0.0]), s, z, 8, **grid), s, z)
        assert back[1] == 0.0 and abs(back[0] - c) <= s / 2 * (1 + 1e-12)
        assert s > 0 and (c == 0 or s > 1e-4)


def test_threshold_below_all_the_data():
    # A tight cluster at 10.0 plus one value at 10.01: the bin centres near 10 are candidates below
    # min x = 10, and the MSE search picks one; the range must still be a valid interval at amax.
    x = np.concatenate([np.full(1000, 10.0), [10.01]])
    obs = MSEObserver(bits=8).update(x)
    a = obs.amax()
    lo, hi = obs.range()
    assert a < 10.0 and (lo, hi) == (a, a)
    s, z = obs.qparams(8)
    # every value comes back within its clipping (x - a <= 10.01 - a) plus half a step
    err = np.abs(dequantize(quantize(x, s, z), s, z) - x)
    assert np.all(err <= np.maximum(x - a, 0) + s / 2 + 1e-12)


# ============================================================================ bad input
@pytest.mark.parametrize("cls", ALL)
def test_range_before_update_is_refused(cls):
    obs = cls()
    with pytest.raises(NoDataError, match=r"has seen no data.*call observer.update\(batch\)"):
        obs.range()
    with pytest.raises(ValueError, match=r"has seen no data"):
        obs.qparams(8)


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_inf_batches_are_refused(cls, bad):
    obs = cls()
    with pytest.raises(ValueError, match=r"^batch contains 1 NaN or inf"):
        obs.update([0.0, bad, 1.0])
    assert obs.n_batches == 0                  # nothing was recorded
    obs.update([1.0, 2.0])
    with pytest.raises(ValueError, match=r"batch contains"):
        obs.update(np.array([[1.0], [bad]]))
    assert obs.n_batches == 1


@pytest.mark.parametrize("cls", ALL)
def test_bad_batches(cls):
    obs = cls()
    with pytest.raises(ValueError, match=r"batch is empty"):
        obs.update(np.zeros((0, 3)))
    with pytest.raises(TypeError, match=r"batch must be a real-valued numeric array"):
        obs.update(["a", "b"])
    per_channel = cls(axis=1)
    per_channel.update(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"batch has 4 channels along axis 1, but earlier batches had 3"):
        per_channel.update(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"axis=5 is out of range"):
        cls(axis=5).update(np.ones((2, 3)))
    with pytest.raises(TypeError, match=r"axis must be an integer"):
        cls(axis=1.0)


@pytest.mark.parametrize("p", [0.0, -1.0, 100.0001, 150.0, np.nan])
def test_percentile_out_of_range(p):
    with pytest.raises(ValueError, match=r"percentile=.* is out of range: it must lie in \(0, 100\]"):
        PercentileObserver(p)


@pytest.mark.parametrize("p", ["99", None, True])
def test_percentile_wrong_type(p):
    with pytest.raises(TypeError, match=r"percentile must be a real number"):
        PercentileObserver(p)


def test_percentile_bad_method():
    with pytest.raises(ValueError, match=r"method='sorted' is not a percentile method"):
        PercentileObserver(99.0, method="sorted")


@pytest.mark.parametrize("cls", [MSEObserver, EntropyObserver])
@pytest.mark.parametrize("bits", [1, 0, 17])
def test_bits_out_of_range(cls, bits):
    with pytest.raises(ValueError, match=rf"^bits={bits} is out of range"):
        cls(bits=bits)
    obs = cls().update([1.0, -2.0])
    with pytest.raises(ValueError, match=rf"^bits={bits} is out of range"):
        obs.qparams(bits)
    with pytest.raises(ValueError, match=rf"^bits={bits} is out of range"):
        obs.range(bits)


@pytest.mark.parametrize("cls", ALL)
def test_qparams_bits_checked_for_every_observer(cls):
    obs = cls().update([1.0, -2.0])
    with pytest.raises(ValueError, match=r"^bits=1 is out of range"):
        obs.qparams(1)
    with pytest.raises(TypeError, match=r"^bits must be a whole number"):
        obs.qparams(8.0)


@pytest.mark.parametrize("c", [0.0, -0.1, 1.5, np.nan])
def test_averaging_constant_out_of_range(c):
    with pytest.raises(ValueError, match=r"averaging_constant=.* is out of range"):
        MovingAverageMinMaxObserver(c)


def test_bad_histogram_arguments():
    with pytest.raises(ValueError, match=r"n_bins=1 is too small"):
        MSEObserver(n_bins=1)
    with pytest.raises(TypeError, match=r"unsigned must be True, False or None"):
        EntropyObserver(unsigned="yes")
    with pytest.raises(ValueError, match=r"counts must be finite, non-negative and not all zero"):
        kl_divergences([0, 0, 0], 2)
    with pytest.raises(ValueError, match=r"levels must be a positive integer"):
        kl_divergences([1, 2], 0)


def test_entropy_candidates_start_at_128_bins_at_low_bit_widths():
    # One weight row of the course MLP (64 values) gives a sparse histogram.  With candidates
    # starting at L = 8 bins (4 bits), a threshold of a few bins reaches KL = 0 and clips almost
    # every weight (it picked 0.005 against max|w| = 0.92); TensorRT's candidates start at bin
    # 128, so the threshold is at least 128/2048 of max|w|.
    from quantref.calibration import EntropyObserver
    from quantref.zoo import pretrained_mlp
    w = pretrained_mlp().layers[0][0][1]
    lo, hi = EntropyObserver(bits=4).update(w).range()
    assert hi >= 128 / 2048 * np.abs(w).max()
