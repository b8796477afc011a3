"""Agreement with PyTorch (written against torch 2.13) on the same quantization scheme.

PyTorch quantizes float32 ``x`` as ``zp + nearbyint(x * (1.0f / (float) scale))`` in float32;
quantref divides in float64.  The two can only differ where ``x / s`` lies within float32
rounding of a ``k + 0.5`` tie; elsewhere the codes must be identical.  Observer qparams are
computed by PyTorch in float32, so scales agree to float32 rounding (a few 1e-8 relative).
"""
import math

import numpy as np
import pytest

import quantref
from quantref.linear import minmax, qparams

torch = pytest.importorskip("torch")
from torch.ao.quantization import MinMaxObserver, PerChannelMinMaxObserver  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    # torch 2.13 announces the deprecation of quantized tensors; the functions still work
    "ignore:torch.quantize_per_tensor, torch.quantize_per_channel:UserWarning",
)

# Observer scales: PyTorch does (max - min) in float32 (one rounding, <= 2^-24 relative) and a
# float32 division (another <= 2^-24); quantref is exact to float64.  2 * 2^-24 = 1.19e-7 < 2e-7.
SCALE_RTOL = 2e-7
# Dequantize: PyTorch rounds the scale to float32 and the product (q - zp) * scale to float32,
# each <= 2^-24 relative: <= 2^-23 = 1.19e-7 in total; allow 2^-22.
DEQUANT_RTOL = 2.0 ** -22


def near_tie(x32, scale):
    """Elements where x/s (exact in float64 for float32 x) is within float32 rounding of k + 0.5.

    PyTorch's value carries three float32 roundings (the scale, its reciprocal, the product),
    each <= 2^-24 relative, so its error is below 4 * 2^-24 * |x/s|; we never use a band
    narrower than 1e-5 (the bound for |x/s| up to ~40).
    """
    r = x32.astype(np.float64) / np.asarray(scale, dtype=np.float64)
    dist = np.abs(r - np.floor(r) - 0.5)
    return dist < np.maximum(1e-5, 4 * 2.0 ** -24 * np.abs(r))


def check_codes(torch_codes, ours, tie_set, n_structural=1, n_max_frac=1e-4):
    """``n_structural``: ties built in by the scheme.  A symmetric scale ``amax / 127.5`` puts the
    element of largest magnitude exactly on +-127.5, one such tie per tensor or per channel."""
    torch_codes = torch_codes.astype(np.int64)
    ours = ours.astype(np.int64)
    differ = torch_codes != ours
    # every disagreement is at a near tie, and is a single step
    assert not np.any(differ & ~tie_set), np.argwhere(differ & ~tie_set)[:5]
    assert np.all(np.abs(torch_codes - ours)[differ] == 1)
    # and they are rare
    assert differ.sum() <= n_structural + n_max_frac * differ.size


def data(seed, shape, kind="normal"):
    rng = np.random.default_rng(seed)
    if kind == "normal":
        return (rng.standard_normal(shape) * 3).astype(np.float32)
    if kind == "relu":
        return np.maximum(rng.standard_normal(shape), 0).astype(np.float32)
    if kind == "negative":
        return (-rng.uniform(0.5, 2.0, shape)).astype(np.float32)
    if kind == "tiny":
        return (rng.standard_normal(shape) * 1e-6).astype(np.float32)
    raise ValueError(kind)


# ----------------------------------------------------------------------------- quantize
@pytest.mark.parametrize("seed", range(4))
def test_quantize_per_tensor_quint8_asymmetric(seed):
    x = data(seed, 200_000)
    s, z = qparams(float(x.min()), float(x.max()))
    tq = torch.quantize_per_tensor(torch.from_numpy(x), s, z, torch.quint8)
    assert tq.q_zero_point() == z
    ours = quantref.quantize(x, s, z)
    assert ours.dtype == np.uint8
    check_codes(tq.int_repr().numpy(), ours, near_tie(x, s))
    # dequantize the same codes: PyTorch float32 vs quantref float64
    np.testing.assert_allclose(quantref.dequantize(tq.int_repr().numpy(), s, z),
                               tq.dequantize().numpy().astype(np.float64), rtol=DEQUANT_RTOL, atol=0)


@pytest.mark.parametrize("seed", range(4))
def test_quantize_per_tensor_qint8_symmetric(seed):
    x = data(100 + seed, 200_000)
    s, z = qparams(float(x.min()), float(x.max()), symmetric=True)
    assert z == 0
    tq = torch.quantize_per_tensor(torch.from_numpy(x), s, z, torch.qint8)
    ours = quantref.quantize(x, s, z, signed=True)
    assert ours.dtype == np.int8
    check_codes(tq.int_repr().numpy(), ours, near_tie(x, s))
    np.testing.assert_allclose(quantref.dequantize(tq.int_repr().numpy(), s, z),
                               tq.dequantize().numpy().astype(np.float64), rtol=DEQUANT_RTOL, atol=0)


def test_quantize_per_tensor_clamps_like_torch():
    # a scale too small for the data: both clamp to the full dtype range
    x = data(7, 10_000)
    for dtype, signed, z in ((torch.quint8, False, 100), (torch.qint8, True, -3)):
        tq = torch.quantize_per_tensor(torch.from_numpy(x), 0.01, z, dtype)
        ours = quantref.quantize(x, 0.01, z, signed=signed)
        assert np.any(ours.astype(int) == (127 if signed else 255))
        check_codes(tq.int_repr().numpy(), ours, near_tie(x, 0.01))


@pytest.mark.parametrize("axis, shape", [(0, (32, 500)), (1, (4, 16, 50)), (2, (8, 10, 12))])
@pytest.mark.parametrize("dtype", ["quint8", "qint8"])
def test_quantize_per_channel(axis, shape, dtype):
    x = data(sum(shape) + axis, shape)
    lo, hi = minmax(x, axis=axis)
    signed = dtype == "qint8"
    s, z = qparams(lo, hi, symmetric=signed)
    tq = torch.quantize_per_channel(torch.from_numpy(x), torch.from_numpy(s), torch.from_numpy(z), axis,
                                    getattr(torch, dtype))
    ours = quantref.quantize(x, s, z, signed=signed, axis=axis)
    bshape = [1] * x.ndim
    bshape[axis] = -1
    check_codes(tq.int_repr().numpy(), ours, near_tie(x, s.reshape(bshape)), n_structural=x.shape[axis])
    np.testing.assert_allclose(quantref.dequantize(tq.int_repr().numpy(), s, z, axis=axis),
                               tq.dequantize().numpy().astype(np.float64), rtol=DEQUANT_RTOL, atol=0)


def test_documented_tie_difference():
    """reference-semantics.md: s = 0.00214854861, x = 0.273939937 gives 128 in PyTorch
    (float32 reciprocal: x * (1/s) rounds to exactly 127.5, ties to even -> 128) and 127 in
    quantref (float64 division: 127.4999950..., below the tie)."""
    s, x = 0.00214854861, np.float32(0.273939937)
    # independent arithmetic: float32 reciprocal product is exactly the tie, float64 quotient is not
    assert x * (np.float32(1.0) / np.float32(s)) == np.float32(127.5)
    r = float(x) / s
    assert 127.49999 < r < 127.5 and round(r) == 127
    assert near_tie(np.array([x]), s)[0]
    t = torch.quantize_per_tensor(torch.tensor([float(x)], dtype=torch.float32), s, 0, torch.quint8)
    assert int(t.int_repr()[0]) == 128                        # PyTorch
    ours = quantref.quantize(np.array([x]), s, 0)
    np.testing.assert_array_equal(ours, np.array([127], dtype=np.uint8))   # quantref: documented difference


# ----------------------------------------------------------------------------- observers
OBSERVER_DATA = [("normal", 0), ("normal", 1), ("relu", 2), ("negative", 3), ("tiny", 4)]


@pytest.mark.parametrize("kind, seed", OBSERVER_DATA)
def test_minmax_observer_per_tensor_affine_quint8(kind, seed):
    x = data(seed, (64, 257), kind)
    obs = MinMaxObserver(dtype=torch.quint8, qscheme=torch.per_tensor_affine)
    obs(torch.from_numpy(x))
    ts, tz = obs.calculate_qparams()
    s, z = qparams(float(x.min()), float(x.max()))
    assert int(tz) == z
    # PyTorch computes the scale in float32, hence rtol (see SCALE_RTOL)
    assert float(ts) == pytest.approx(s, rel=SCALE_RTOL)


@pytest.mark.parametrize("kind, seed", OBSERVER_DATA)
def test_minmax_observer_per_tensor_symmetric_qint8(kind, seed):
    x = data(10 + seed, (64, 257), kind)
    obs = MinMaxObserver(dtype=torch.qint8, qscheme=torch.per_tensor_symmetric)
    obs(torch.from_numpy(x))
    ts, tz = obs.calculate_qparams()
    s, z = qparams(float(x.min()), float(x.max()), symmetric=True)    # signed by default
    assert int(tz) == z == 0
    assert float(ts) == pytest.approx(s, rel=SCALE_RTOL)


def test_observers_on_all_zero_tensor():
    # constant 0: both floor the scale at float32 eps, zero point 0 (affine: qmin - 0)
    x = torch.zeros(10)
    for qscheme, dtype, symmetric in ((torch.per_tensor_affine, torch.quint8, False),
                                      (torch.per_tensor_symmetric, torch.qint8, True)):
        obs = MinMaxObserver(dtype=dtype, qscheme=qscheme)
        obs(x)
        ts, tz = obs.calculate_qparams()
        s, z = qparams(0.0, 0.0, symmetric=symmetric)
        assert float(ts) == s == 2.0 ** -23 == torch.finfo(torch.float32).eps
        assert int(tz) == z == 0


@pytest.mark.parametrize("ch_axis", [0, 1])
@pytest.mark.parametrize("seed", range(3))
def test_per_channel_observer_symmetric_qint8(ch_axis, seed):
    x = data(20 + seed, (48, 33))
    x[5 % x.shape[0]] = 0.0    # an all-zero row (a constant channel when ch_axis=0)
    obs = PerChannelMinMaxObserver(ch_axis=ch_axis, dtype=torch.qint8, qscheme=torch.per_channel_symmetric)
    obs(torch.from_numpy(x))
    ts, tz = obs.calculate_qparams()
    lo, hi = minmax(x, axis=ch_axis)
    s, z = qparams(lo, hi, symmetric=True)
    np.testing.assert_array_equal(tz.numpy().astype(np.int64), z)
    np.testing.assert_allclose(ts.numpy().astype(np.float64), s, rtol=SCALE_RTOL, atol=0)


@pytest.mark.parametrize("seed", range(3))
def test_per_channel_observer_affine_quint8(seed):
    x = data(30 + seed, (40, 25), "normal")
    x[3] = np.abs(x[3])          # a one-sided channel
    obs = PerChannelMinMaxObserver(ch_axis=0, dtype=torch.quint8, qscheme=torch.per_channel_affine)
    obs(torch.from_numpy(x))
    ts, tz = obs.calculate_qparams()
    lo, hi = minmax(x, axis=0)
    s, z = qparams(lo, hi)
    np.testing.assert_array_equal(tz.numpy().astype(np.int64), z)
    np.testing.assert_allclose(ts.numpy().astype(np.float64), s, rtol=SCALE_RTOL, atol=0)


def test_observer_qparams_then_quantize_end_to_end():
    # the whole pipeline: observer -> qparams -> quantize, codes agree away from ties
    x = data(99, (128, 64))
    obs = MinMaxObserver(dtype=torch.quint8, qscheme=torch.per_tensor_affine)
    obs(torch.from_numpy(x))
    ts, tz = obs.calculate_qparams()
    s, z = qparams(float(x.min()), float(x.max()))
    assert int(tz) == z
    tq = torch.quantize_per_tensor(torch.from_numpy(x), float(ts), int(tz), torch.quint8)
    # quantref with PyTorch's own float32 scale: same scheme, same parameters
    ours = quantref.quantize(x, float(ts), int(tz))
    check_codes(tq.int_repr().numpy(), ours, near_tie(x, float(ts)))
    assert math.isclose(float(ts), s, rel_tol=SCALE_RTOL)
