"""quantization_error and clipping_mask: total = clipping + rounding."""
import numpy as np
import pytest

from quantref.linear import clipping_mask, qparams, quantization_error


def test_hand_case():
    # s = 0.1, z = 4, 3 bits: grid [0, 7], real range [-0.4, 0.3]
    #  -0.3 -> round(-3) + 4 = 1   -> x^ = -0.3          (error ~0)
    #   0.1 -> 1 + 4 = 5           -> x^ =  0.1          (error ~0)
    #  0.25 -> round(2.5) = 2 -> 6 -> x^ =  0.2, error 0.05, squared 0.0025
    #   2.0 -> 20 + 4 = 24 -> clip 7 -> x^ = 0.3, error 1.7, squared 2.89   (clipped)
    # n = 4: clipping = 2.89/4 = 0.7225 ; rounding = 0.0025/4 = 0.000625 ; clipped 1/4
    x = np.array([-0.3, 0.1, 0.25, 2.0])
    err = quantization_error(x, scale=0.1, zero_point=4, bits=3)
    # tolerance 1e-12: 0.1, 0.3 etc. are not exact in binary, errors of ~1e-17 are expected
    assert err.clipping == pytest.approx(0.7225, abs=1e-12)
    assert err.rounding == pytest.approx(0.000625, abs=1e-12)
    assert err.total == pytest.approx(0.723125, abs=1e-12)
    assert err.clipped_fraction == 0.25
    assert all(type(v) is float for v in err)
    np.testing.assert_array_equal(clipping_mask(x, 0.1, 4, bits=3), [False, False, False, True])


def test_clipping_mask_boundaries():
    # s = 1, z = 0, uint8: 255.4 rounds to 255 (kept), 255.6 rounds to 256 (clipped);
    # -0.4 -> 0 (kept), -0.6 -> -1 (clipped)
    m = clipping_mask([255.4, 255.6, -0.4, -0.6, 100.0], 1.0, 0)
    np.testing.assert_array_equal(m, [False, True, False, True, False])
    assert m.dtype == np.bool_


@pytest.mark.parametrize("seed", range(5))
def test_total_is_clipping_plus_rounding(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_t(3, 4000)                     # heavy tails: some clipping
    s, z = qparams(-2.0, 2.5, bits=4)
    err = quantization_error(x, s, z, bits=4)
    # the three means are sums of the same non-negative float64 terms in different groupings:
    # they agree to float64 summation rounding, ~n * 2^-53 relative
    assert err.total == pytest.approx(err.clipping + err.rounding, rel=1e-12)
    assert err.clipping > 0 and err.rounding > 0
    # independent computation
    q = np.clip(np.array([round(v / s) for v in x]) + z, 0, 15)
    xh = s * (q - z)
    clipped = np.array([not (0 <= round(v / s) + z <= 15) for v in x])
    sq = (x - xh) ** 2
    assert err.clipped_fraction == clipped.mean()
    assert err.clipping == pytest.approx(sq[clipped].sum() / x.size, rel=1e-12)
    assert err.rounding == pytest.approx(sq[~clipped].sum() / x.size, rel=1e-12)
    assert err.total == pytest.approx(sq.mean(), rel=1e-12)


def test_no_clipping_when_range_covers_data_and_rounding_bound():
    rng = np.random.default_rng(9)
    for bits in (2, 4, 8, 12):
        s, z = qparams(-1.3, 2.2, bits=bits)
        qmax = 2 ** bits - 1
        # data strictly inside the grid's real range [s (0 - z), s (qmax - z)]
        x = rng.uniform(s * (0 - z), s * (qmax - z), 3000)
        err = quantization_error(x, s, z, bits=bits)
        assert err.clipping == 0.0 and err.clipped_fraction == 0.0
        assert not clipping_mask(x, s, z, bits=bits).any()
        # each element's squared rounding error <= (s/2)^2 = s^2/4, so the mean is too
        # (1e-9 relative slack for float64 rounding of x/s and s*(q-z))
        assert err.rounding <= s * s / 4 * (1 + 1e-9)
        # uniform data: mean squared rounding error ~ s^2/12, so the bound is not vacuous
        assert err.rounding == pytest.approx(s * s / 12, rel=0.15)
        assert err.total == err.rounding


def test_per_channel_error_against_loop():
    rng = np.random.default_rng(12)
    x = rng.normal(0, 1, (3, 500))
    s = np.array([0.01, 0.02, 0.05])
    z = np.array([128, 100, 10])
    err = quantization_error(x, s, z, axis=0)
    total = clip = 0.0
    nclip = 0
    for c in range(3):
        for v in x[c]:
            r = round(v / s[c]) + z[c]
            code = min(max(r, 0), 255)
            e2 = (v - s[c] * (code - z[c])) ** 2
            total += e2
            if code != r:
                clip += e2
                nclip += 1
    n = x.size
    assert err.total == pytest.approx(total / n, rel=1e-12)
    assert err.clipping == pytest.approx(clip / n, rel=1e-12)
    assert err.clipped_fraction == nclip / n
    assert nclip > 0
