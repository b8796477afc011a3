"""OCP Microscaling: the E2M1 element, the E8M0 scale, and the MXFP8 / MXFP4 block formats.

E2M1 and E8M0 are checked bit for bit against ml_dtypes (float4_e2m1fn, float8_e8m0fnu) on every
code.  The block formats are checked against a reference written here from the spec's rule
(``s = floor(log2(amax)) - emax_elem``, elements = clip(V / 2^s, +-max) cast by ml_dtypes); kept
wrong block encoders (ceil instead of floor, no saturation) must fail it.
"""
import ml_dtypes
import numpy as np
import pytest

from quantref.formats import (
    E2M1,
    MXTensor,
    decode,
    decode_e8m0,
    decode_mx,
    e8m0_values,
    element_emax,
    encode,
    encode_e8m0_exponent,
    encode_mx,
    encode_mxfp4,
    encode_mxfp8,
    values,
)

ELEMENT_REFERENCE = {"e4m3": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2, "e2m1": ml_dtypes.float4_e2m1fn}
E2M1_CODES = np.arange(16, dtype=np.uint8)


# --------------------------------------------------------------------------- E2M1
def test_e2m1_decode_every_code_bit_for_bit():
    got = decode(E2M1_CODES, "e2m1")
    want = E2M1_CODES.view(ml_dtypes.float4_e2m1fn).astype(np.float32)
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
    assert got[:8].tolist() == [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]       # the spec's table
    assert got[8:].tolist() == [-0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0]


def test_e2m1_constants_and_values():
    info = ml_dtypes.finfo(ml_dtypes.float4_e2m1fn)
    assert (E2M1.bias, E2M1.max, E2M1.min_normal, E2M1.min_subnormal) == (1, 6.0, 1.0, 0.5)
    assert (E2M1.max, E2M1.min_normal, E2M1.min_subnormal) == (
        float(info.max), float(info.smallest_normal), float(info.smallest_subnormal))
    v = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0])
    np.testing.assert_array_equal(values("e2m1"), np.concatenate([-v[:0:-1], v]))


@pytest.mark.parametrize("saturate", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_e2m1_encode_random_and_overflow(dtype, saturate):
    """E2M1 has no inf or NaN: overflow and +-inf go to +-6 in both modes, as ml_dtypes does."""
    rng = np.random.default_rng(20)
    x = np.concatenate([rng.standard_normal(50_000) * np.exp2(rng.uniform(-4, 4, 50_000)),
                        [6.0, 7.0, 7.0 + 1e-6, 8.0, 1e30, np.inf, -np.inf, 0.25, 0.2500001, -0.25, 0.0, -0.0]])
    x = x.astype(dtype)
    want = x.astype(ml_dtypes.float4_e2m1fn).view(np.uint8)
    np.testing.assert_array_equal(encode(x, "e2m1", saturate=saturate), want)


def e2m1_ties():
    v = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0])
    mid = (v[:-1] + v[1:]) / 2                      # 0.25 0.75 1.25 1.75 2.5 3.5 5
    codes = np.arange(8)
    even = np.where(codes[:-1] % 2 == 0, codes[:-1], codes[1:])
    return np.concatenate([mid, -mid]), np.concatenate([even, even | 8]).astype(np.uint8)


def wrong_e2m1_ties_away(x):
    """Nearest E2M1 value, ties away from zero: a kept wrong encoder."""
    v = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0])
    a = np.abs(x)
    d = np.abs(a[:, None] - v)
    code = len(v) - 1 - np.argmin(d[:, ::-1], axis=1)           # on a tie, the larger one
    return (np.where(np.signbit(x), 8, 0) | code).astype(np.uint8)


def test_e2m1_ties_to_even():
    x, want = e2m1_ties()
    np.testing.assert_array_equal(encode(x, "e2m1"), want)
    np.testing.assert_array_equal(x.astype(ml_dtypes.float4_e2m1fn).view(np.uint8), want)
    assert encode(np.array([0.25, 0.75, 2.5, 5.0]), "e2m1").tolist() == [0, 2, 4, 6]   # 0, 1, 2, 4 by hand
    assert np.count_nonzero(wrong_e2m1_ties_away(x) != want) > 0


def test_e2m1_refuses_nan():
    with pytest.raises(ValueError, match=r"^x contains 1 NaN value\(s\), but E2M1 has no NaN code"):
        encode(np.array([1.0, np.nan]), "e2m1")


def test_e2m1_codes_above_15_are_refused():
    with pytest.raises(ValueError, match=r"^codes must hold 4-bit codes in \[0, 15\], got a maximum of 16"):
        decode(np.array([3, 16], np.uint8), "e2m1")


# --------------------------------------------------------------------------- E8M0
def test_e8m0_decode_every_code_bit_for_bit():
    codes = np.arange(256, dtype=np.uint8)
    got = decode_e8m0(codes)
    want = codes.view(ml_dtypes.float8_e8m0fnu).astype(np.float32)
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
    assert got[127] == 1.0 and got[0] == 2.0 ** -127 and got[254] == 2.0 ** 127 and np.isnan(got[255])


def test_e8m0_exponents_and_values():
    k = np.arange(-127, 128)
    codes = encode_e8m0_exponent(k)
    np.testing.assert_array_equal(codes, np.ldexp(1.0, k).astype(ml_dtypes.float8_e8m0fnu).view(np.uint8))
    np.testing.assert_array_equal(codes, np.arange(255, dtype=np.uint8))
    np.testing.assert_array_equal(e8m0_values(), np.ldexp(1.0, k))
    np.testing.assert_array_equal(values("e8m0"), decode_e8m0(codes).astype(np.float64))


@pytest.mark.parametrize("bad", [np.array([-128]), np.array([128]), np.array([0, 200])])
def test_e8m0_exponent_out_of_range(bad):
    with pytest.raises(ValueError, match=r"^k must lie in \[-127, 127\]"):
        encode_e8m0_exponent(bad)


@pytest.mark.parametrize("bad", [np.array([1.0]), np.array([True]), ["3"]])
def test_e8m0_exponent_must_be_integer(bad):
    with pytest.raises(TypeError, match=r"^k must be an integer array of exponents"):
        encode_e8m0_exponent(bad)


# --------------------------------------------------------------------------- MX blocks
def reference_mx(x, element, block_size=32):
    """The spec's conversion, written independently: float log2, clip, ml_dtypes cast."""
    ref = ELEMENT_REFERENCE[element]
    emax = {"e4m3": 8, "e5m2": 15, "e2m1": 2}[element]
    top = float(ml_dtypes.finfo(ref).max)
    blocks = np.asarray(x, np.float64).reshape(-1, block_size)
    amax = np.abs(blocks).max(axis=1)
    with np.errstate(divide="ignore"):
        s = np.where(amax > 0, np.floor(np.log2(amax)) - emax, -127)
    s = np.maximum(s, -127)
    scaled = blocks / np.exp2(s)[:, None]
    elements = np.clip(scaled, -top, top).astype(ref).view(np.uint8).reshape(np.shape(x))
    return (s + 127).astype(np.uint8).reshape(np.shape(x)[:-1] + (-1,)), elements


def wrong_mx_ceil(x, element, block_size=32):
    """Scale from ceil(log2(amax)) instead of floor: elements never saturate, but a binade is lost."""
    emax = {"e4m3": 8, "e5m2": 15, "e2m1": 2}[element]
    blocks = np.asarray(x, np.float64).reshape(-1, block_size)
    amax = np.abs(blocks).max(axis=1)
    s = np.where(amax > 0, np.ceil(np.log2(np.where(amax > 0, amax, 1))) - emax, -127)
    elements = encode(blocks / np.exp2(s)[:, None], element, saturate=True).reshape(np.shape(x))
    return (s + 127).astype(np.uint8).reshape(np.shape(x)[:-1] + (-1,)), elements


def wrong_mx_no_saturation(x, element, block_size=32):
    """The spec's scale but a plain cast of the elements: values past the element max become NaN/inf."""
    emax = {"e4m3": 8, "e5m2": 15, "e2m1": 2}[element]
    blocks = np.asarray(x, np.float64).reshape(-1, block_size)
    amax = np.abs(blocks).max(axis=1)
    s = np.maximum(np.where(amax > 0, np.floor(np.log2(np.where(amax > 0, amax, 1))) - emax, -127), -127)
    elements = encode(blocks / np.exp2(s)[:, None], element, saturate=False).reshape(np.shape(x))
    return (s + 127).astype(np.uint8).reshape(np.shape(x)[:-1] + (-1,)), elements


def mx_data(seed, rows=64, cols=256):
    """float32 rows whose blocks span many magnitudes, with the awkward blocks spliced in."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, cols)) * np.exp2(rng.uniform(-60, 60, (rows, cols // 32, 1))).repeat(32, -1).reshape(rows, cols)
    x[0, :32] = 0.0                                          # all zero
    x[1, :32] = np.linspace(-1, 1, 32); x[1, 5] = 2.0 ** 10  # amax exactly a power of two
    x[2, :32] = np.float32(2.0 ** 10) * np.float32(1 - 2.0 ** -24)   # just below one
    x[3, :32] = rng.standard_normal(32) * 2.0 ** -135        # float32 subnormals: s clamps to -127
    x[4, :32] = rng.uniform(-3e38, 3e38, 32)                 # near the float32 maximum
    x[5, :32] = rng.standard_normal(32); x[5, 0] = 500.0; x[5, 1] = -470.0   # E4M3: 500 -> 448 after scaling
    x[6, :32] = 1e-3; x[6, 7] = 1.0                          # small elements under a large amax
    return x.astype(np.float32)


def mx_mismatches(encoder, element):
    x = mx_data(21)
    want_scales, want_elements = reference_mx(x, element)
    scales, elements = encoder(x, element)
    return int(np.count_nonzero(scales != want_scales) + np.count_nonzero(elements != want_elements))


def quantref_mx(x, element):
    mx = encode_mx(x, element)
    return mx.scales, mx.elements


@pytest.mark.parametrize("element", ["e4m3", "e5m2", "e2m1"])
def test_encode_matches_the_spec_rule(element):
    x = mx_data(21)
    mx = encode_mx(x, element)
    want_scales, want_elements = reference_mx(x, element)
    assert mx.scales.shape == (64, 8) and mx.elements.shape == x.shape and mx.element == element
    np.testing.assert_array_equal(mx.scales, want_scales)
    np.testing.assert_array_equal(mx.elements, want_elements)
    assert mx_mismatches(quantref_mx, element) == 0


# (no saturation is no mistake for E2M1, which has no inf/NaN to overflow to: its cast saturates)
@pytest.mark.parametrize("wrong, element", [(wrong_mx_ceil, "e4m3"), (wrong_mx_ceil, "e2m1"),
                                            (wrong_mx_no_saturation, "e4m3"), (wrong_mx_no_saturation, "e5m2")])
def test_wrong_block_encoders_fail(wrong, element):
    assert mx_mismatches(wrong, element) > 0


@pytest.mark.parametrize("element", ["e4m3", "e5m2", "e2m1"])
def test_decode_is_scale_times_element(element):
    x = mx_data(22)
    mx = encode_mx(x, element)
    elements = mx.elements.view(ELEMENT_REFERENCE[element]).astype(np.float64)
    scales = np.exp2(mx.scales.astype(np.float64) - 127)
    want = (elements.reshape(64, 8, 32) * scales[..., None]).reshape(x.shape).astype(np.float32)
    got = decode_mx(mx)
    assert got.dtype == np.float32 and got.shape == x.shape
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


def test_hand_worked_blocks():
    # MXFP4: amax 6 -> s = floor(log2 6) - 2 = 0; the elements are the values themselves
    v = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0] * 4)
    mx = encode_mxfp4(v)
    assert mx.scales.tolist() == [127] and mx.elements.tolist() == list(range(8)) * 4
    np.testing.assert_array_equal(decode_mx(mx), v)
    # MXFP4: amax 7 -> s = floor(log2 7) - 2 = 0, and 7 saturates to 6
    assert decode_mx(encode_mxfp4(np.r_[7.0, np.zeros(31)]))[0] == 6.0
    # MXFP8: amax 500 -> s = 8 - 8 = 0; 500 saturates to 448, 0.1 -> 0.1015625
    mx = encode_mxfp8(np.r_[500.0, 0.1, np.zeros(30)])
    assert mx.scales.tolist() == [127] and mx.elements[:2].tolist() == [0x7E, 29]
    # MXFP8: amax 1024 -> s = 10 - 8 = 2: elements are x / 4
    mx = encode_mxfp8(np.r_[1024.0, 3.0, np.zeros(30)])
    assert mx.scales.tolist() == [129] and decode_mx(mx)[:2].tolist() == [1024.0, 3.0]


def test_zero_block_and_special_values():
    x = np.zeros((3, 64), np.float32)
    x[0, 40] = 1.5
    x[1, 3] = np.nan
    x[2, 33] = -np.inf
    x[2, 0] = 2.0
    mx = encode_mxfp8(x)
    assert mx.scales.tolist() == [[0, 127 + 0 - 8], [255, 0], [127 + 1 - 8, 255]]
    out = decode_mx(mx)
    assert out[0, 40] == 1.5 and np.all(out[0, :32] == 0)
    assert np.isnan(out[1, :32]).all() and np.all(out[1, 32:] == 0)
    assert out[2, 0] == 2.0 and np.isnan(out[2, 32:]).all()
    # E2M1 has no NaN code: the NaN lives in the scale only
    assert encode_mxfp4(x).scales.tolist() == [[0, 127 + 0 - 2], [255, 0], [127 + 1 - 2, 255]]


def test_float64_beyond_the_scale_range_gets_a_nan_scale():
    x = np.r_[2.0 ** 140, np.zeros(31)]
    assert encode_mxfp8(x).scales.tolist() == [255]
    assert encode_mxfp8(np.r_[2.0 ** 135, np.zeros(31)]).scales.tolist() == [127 + 135 - 8]


def test_storage_cost_and_block_size():
    assert encode_mxfp8(np.zeros(32)).bits_per_value == 8.25
    assert encode_mxfp4(np.zeros(32)).bits_per_value == 4.25
    mx = encode_mx(np.arange(48, dtype=np.float32).reshape(3, 16), "e4m3", block_size=16)
    assert mx.scales.shape == (3, 1)
    assert element_emax("e4m3") == 8 and element_emax("e5m2") == 15 and element_emax("e2m1") == 2


# --------------------------------------------------------------------------- bad input
def test_block_size_must_divide_the_last_axis():
    with pytest.raises(ValueError, match=r"^block_size=32 does not divide x.shape\[-1\]=48.*pad the data"):
        encode_mxfp8(np.zeros((2, 48), np.float32))


def test_scalar_input_is_refused():
    with pytest.raises(ValueError, match=r"^x must have at least one axis"):
        encode_mxfp8(np.float32(1.0))


@pytest.mark.parametrize("bad", [np.arange(32), np.zeros(32, bool)])
def test_non_float_input_is_refused(bad):
    with pytest.raises(TypeError, match=r"^x must be a float16, float32 or float64 array"):
        encode_mxfp4(bad)


@pytest.mark.parametrize("bad", ["e3m2", "fp4", "nf4", None])
def test_unknown_element_format(bad):
    with pytest.raises(ValueError, match=r"is not an MX element format; use one of 'e4m3', 'e5m2', 'e2m1'"):
        encode_mx(np.zeros(32), bad)


def test_decode_checks_its_argument():
    with pytest.raises(TypeError, match=r"^mx must be an MXTensor"):
        decode_mx(np.zeros(32, np.uint8))
    with pytest.raises(ValueError, match=r"^scales must have shape \(2, 1\)"):
        MXTensor(np.zeros((2, 32), np.uint8), np.zeros(2, np.uint8), "e4m3", 32)
    with pytest.raises(TypeError, match=r"^scales must be a uint8 array"):
        MXTensor(np.zeros(32, np.uint8), np.zeros(1, np.int32), "e4m3", 32)
    with pytest.raises(ValueError, match=r"^elements must hold 4-bit codes"):
        MXTensor(np.full(32, 16, np.uint8), np.zeros(1, np.uint8), "e2m1", 32)
