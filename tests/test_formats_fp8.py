"""FP8 E4M3 (fn) and E5M2, bit for bit against ml_dtypes (an independent implementation).

Decode: all 256 codes.  Encode: every float16, random float32/float64 over many magnitudes and
random bit patterns, exact ties (both directions of even), just off the ties, subnormals, the
overflow boundary, +-0, NaN, +-inf.  ``saturate=True`` (which ml_dtypes does not have) is checked
against an independent rule: clip to +-max, then cast with ml_dtypes.  Kept wrong encoders
(ties away from zero, truncation, double rounding through float32) must fail the tests aimed at them.
"""
import ml_dtypes
import numpy as np
import pytest

from quantref.formats import (
    E4M3,
    E5M2,
    all_values,
    decode,
    decode_e4m3,
    decode_e5m2,
    encode,
    encode_e4m3,
    encode_e5m2,
    values,
)

REFERENCE = {"e4m3": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2}
FORMATS = {"e4m3": E4M3, "e5m2": E5M2}
ENCODERS = {"e4m3": encode_e4m3, "e5m2": encode_e5m2}
DECODERS = {"e4m3": decode_e4m3, "e5m2": decode_e5m2}
ALL_CODES = np.arange(256, dtype=np.uint8)


def reference_encode(x, name):
    """ml_dtypes' cast, read back as codes."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(x).astype(REFERENCE[name]).view(np.uint8)


def reference_encode_saturating(x, name):
    """The independent saturation rule: clip to +-max (NaN stays NaN), then ml_dtypes' cast."""
    m = float(ml_dtypes.finfo(REFERENCE[name]).max)
    return reference_encode(np.clip(x, -m, m), name)


def positive_finite_values(name):
    """Every positive finite value, in code order (= value order), from ml_dtypes' decode."""
    v = ALL_CODES[:128].view(REFERENCE[name]).astype(np.float64)
    return v[np.isfinite(v)][1:]


def assert_same_codes(got, want, x):
    bad = np.flatnonzero(got.ravel() != want.ravel())
    assert bad.size == 0, (f"{bad.size} codes differ, first at x={np.ravel(x)[bad[0]]!r}: "
                           f"got {got.ravel()[bad[0]]:#04x}, want {want.ravel()[bad[0]]:#04x}")


# --------------------------------------------------------------------------- kept wrong encoders
def wrong_encode_ties_away(x, name):
    """Round to nearest with ties away from zero (TFLite's rule, not FP8's)."""
    grid = positive_finite_values(name)
    codes = np.arange(1, grid.size + 1)
    a = np.abs(np.asarray(x, dtype=np.float64))
    hi = np.clip(np.searchsorted(grid, a, side="left"), 0, grid.size - 1)
    lo_val = np.where(hi > 0, grid[np.maximum(hi - 1, 0)], 0.0)
    lo_code = np.where(hi > 0, codes[np.maximum(hi - 1, 0)], 0)
    up = (a - lo_val) >= (grid[hi] - a)
    mag = np.where(up, codes[hi], lo_code)
    return (np.where(np.signbit(x), 0x80, 0) | mag).astype(np.uint8)


def wrong_encode_truncate(x, name):
    """Round toward zero: the largest magnitude value not above |x|."""
    grid = np.concatenate([[0.0], positive_finite_values(name)])
    mag = np.searchsorted(grid, np.abs(np.asarray(x, dtype=np.float64)), side="right") - 1
    return (np.where(np.signbit(x), 0x80, 0) | mag).astype(np.uint8)


def wrong_encode_via_float32(x, name):
    """Round float64 input to float32 first: two roundings, which can turn a near-tie into a tie."""
    return encode(np.asarray(x, np.float64).astype(np.float32), name)


def right_encode(x, name):
    return encode(x, name)


# --------------------------------------------------------------------------- format constants
@pytest.mark.parametrize("name, bias, max_, min_normal, min_subnormal",
                         [("e4m3", 7, 448.0, 2.0 ** -6, 2.0 ** -9), ("e5m2", 15, 57344.0, 2.0 ** -14, 2.0 ** -16)])
def test_format_constants(name, bias, max_, min_normal, min_subnormal):
    fmt, info = FORMATS[name], ml_dtypes.finfo(REFERENCE[name])
    assert (fmt.bias, fmt.max, fmt.min_normal, fmt.min_subnormal) == (bias, max_, min_normal, min_subnormal)
    assert (fmt.max, fmt.min_normal, fmt.min_subnormal) == (
        float(info.max), float(info.smallest_normal), float(info.smallest_subnormal))


# --------------------------------------------------------------------------- decode
@pytest.mark.parametrize("name", FORMATS)
def test_decode_every_code_bit_for_bit(name):
    got = DECODERS[name](ALL_CODES)
    want = ALL_CODES.view(REFERENCE[name]).astype(np.float32)
    assert got.dtype == np.float32 and got.shape == (256,)
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


def test_decode_hand_worked_codes():
    # E4M3 0x38 = 0.0111.000 -> 2^(7-7) = 1; 0x01 -> 2^-6 * 1/8; 0x7E = 0.1111.110 -> 2^8 * 1.75 = 448
    assert decode_e4m3(np.array([0x38, 0x01, 0x7E, 0xFE], np.uint8)).tolist() == [1.0, 2.0 ** -9, 448.0, -448.0]
    assert np.isnan(decode_e4m3(np.array([0x7F, 0xFF], np.uint8))).all()
    # E5M2 0x3C = 0.01111.00 -> 1; 0x7B = 0.11110.11 -> 2^15 * 1.75 = 57344; 0x7C inf
    assert decode_e5m2(np.array([0x3C, 0x01, 0x7B, 0x7C, 0xFC], np.uint8)).tolist() == [
        1.0, 2.0 ** -16, 57344.0, np.inf, -np.inf]
    assert np.isnan(decode_e5m2(np.array([0x7D, 0x7E, 0x7F, 0xFD], np.uint8))).all()


@pytest.mark.parametrize("name", FORMATS)
def test_decode_then_encode_is_identity_on_finite_codes(name):
    finite = ALL_CODES[np.isfinite(ALL_CODES.view(REFERENCE[name]).astype(np.float32))]
    np.testing.assert_array_equal(ENCODERS[name](DECODERS[name](finite)), finite)


# --------------------------------------------------------------------------- value grids
@pytest.mark.parametrize("name, count", [("e4m3", 253), ("e5m2", 247)])
def test_values_grid_is_every_finite_value_sorted(name, count):
    v = ALL_CODES.view(REFERENCE[name]).astype(np.float64)
    want = np.unique(v[np.isfinite(v)])                    # sorted; +0 and -0 counted once
    got = values(name)
    assert got.dtype == np.float64 and got.size == count
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(all_values()[name], want)


def test_values_unknown_name():
    assert sorted(all_values()) == ["e2m1", "e4m3", "e5m2", "nf4"]
    with pytest.raises(ValueError, match=r"^fmt='int4' is not a format name; use one of 'e4m3'"):
        values("int4")


# --------------------------------------------------------------------------- encode: broad agreement
@pytest.mark.parametrize("name", FORMATS)
def test_encode_every_float16(name):
    x = np.arange(2 ** 16, dtype=np.uint16).view(np.float16)
    assert_same_codes(ENCODERS[name](x), reference_encode(x, name), x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", FORMATS)
def test_encode_random_over_many_magnitudes(name, dtype):
    rng = np.random.default_rng(12)
    n = 200_000
    x = (rng.standard_normal(n) * np.exp2(rng.uniform(-40, 40, n))).astype(dtype)
    assert_same_codes(ENCODERS[name](x), reference_encode(x, name), x)


@pytest.mark.parametrize("bits_dtype, dtype", [(np.uint32, np.float32), (np.uint64, np.float64)])
@pytest.mark.parametrize("name", FORMATS)
def test_encode_random_bit_patterns(name, bits_dtype, dtype):
    """Every class of input at once: NaN payloads, +-inf, subnormal and huge floats."""
    rng = np.random.default_rng(13)
    x = rng.integers(0, np.iinfo(bits_dtype).max, 100_000, dtype=bits_dtype, endpoint=True).view(dtype)
    assert_same_codes(ENCODERS[name](x), reference_encode(x, name), x)


@pytest.mark.parametrize("name", FORMATS)
def test_encode_near_the_format_range(name):
    """Dense float32 inputs from below the smallest subnormal to above max, where every rule bites."""
    fmt = FORMATS[name]
    rng = np.random.default_rng(14)
    x = (np.exp2(rng.uniform(np.log2(fmt.min_subnormal) - 3, np.log2(fmt.max) + 1, 100_000))
         * rng.choice([-1, 1], 100_000)).astype(np.float32)
    assert_same_codes(ENCODERS[name](x), reference_encode(x, name), x)


# --------------------------------------------------------------------------- exact ties
def tie_cases(name):
    """Midpoints between neighbouring codes (float32 holds them exactly), with the code RNE picks.

    The expected code is derived without any encoder: of the two neighbours, the one whose code is
    even (its last mantissa bit is 0).  Covers zero/min-subnormal, subnormals, normals, both signs.
    """
    v = np.concatenate([[0.0], positive_finite_values(name)])
    codes = np.arange(v.size)
    mid = (v[:-1] + v[1:]) / 2
    want = np.where(codes[:-1] % 2 == 0, codes[:-1], codes[1:])
    x = np.concatenate([mid, -mid])
    want = np.concatenate([want, want | 0x80]).astype(np.uint8)
    return x, want


TIE_ENCODERS = {"right": right_encode, "ties_away": wrong_encode_ties_away, "truncate": wrong_encode_truncate}


def tie_mismatches(encoder, name, dtype):
    x, want = tie_cases(name)
    x = x.astype(dtype)
    return int(np.count_nonzero(encoder(x, name) != want))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", FORMATS)
def test_exact_ties_round_to_even(name, dtype):
    x, want = tie_cases(name)
    x = x.astype(dtype)
    assert np.all(x.astype(np.float64) == tie_cases(name)[0])            # the ties are exact
    assert_same_codes(ENCODERS[name](x), want, x)
    assert_same_codes(reference_encode(x, name), want, x)                 # ml_dtypes agrees
    # both directions of "even" occur: ties that round down and ties that round up
    lower = np.abs(decode(want, name).astype(np.float64)) < np.abs(x)
    assert lower.any() and (~lower).any()


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("wrong", ["ties_away", "truncate"])
def test_wrong_encoders_fail_the_tie_test(name, wrong):
    assert tie_mismatches(TIE_ENCODERS["right"], name, np.float32) == 0
    assert tie_mismatches(TIE_ENCODERS[wrong], name, np.float32) > 0


@pytest.mark.parametrize("name", FORMATS)
def test_wrong_encoders_agree_away_from_ties(name):
    """The kept wrong encoders are right on representable values: only the tie tests can catch them."""
    v = positive_finite_values(name)
    x = np.concatenate([v, -v, [0.0]])
    for wrong in (wrong_encode_ties_away, wrong_encode_truncate):
        np.testing.assert_array_equal(wrong(x, name), reference_encode(x, name))


@pytest.mark.parametrize("name", FORMATS)
def test_just_off_the_ties(name):
    """One float32 ulp below a tie rounds down, one above rounds up, whatever the parity."""
    v = np.concatenate([[0.0], positive_finite_values(name)])
    mid = ((v[:-1] + v[1:]) / 2).astype(np.float32)
    below, above = np.nextafter(mid, np.float32(0)), np.nextafter(mid, np.float32(np.inf))
    codes = np.arange(v.size, dtype=np.uint8)
    np.testing.assert_array_equal(ENCODERS[name](below), codes[:-1])
    np.testing.assert_array_equal(ENCODERS[name](above), codes[1:])
    np.testing.assert_array_equal(ENCODERS[name](above), reference_encode(above, name))


@pytest.mark.parametrize("name", FORMATS)
def test_float64_near_ties_are_rounded_once(name):
    """tie + 2^-40 relative must round up; rounding to float32 first would make it a tie (to even)."""
    x, _ = tie_cases(name)
    x = x[x > 0]
    near = x * (1 + 2.0 ** -40)
    want = reference_encode(near, name)
    np.testing.assert_array_equal(ENCODERS[name](near), want)
    assert np.count_nonzero(wrong_encode_via_float32(near, name) != want) > 0


# --------------------------------------------------------------------------- subnormals, zero, specials
@pytest.mark.parametrize("name", FORMATS)
def test_subnormals(name):
    fmt = FORMATS[name]
    tiny = fmt.min_subnormal
    subnormals = tiny * np.arange(1, 2 ** fmt.mantissa_bits)
    x = np.concatenate([subnormals, -subnormals, [tiny / 2, tiny / 2 * (1 + 2.0 ** -20), tiny / 4, 1e-30,
                                                  fmt.min_normal, fmt.min_normal - tiny / 2]])
    want = np.concatenate([np.arange(1, 2 ** fmt.mantissa_bits), 0x80 + np.arange(1, 2 ** fmt.mantissa_bits),
                           [0, 1, 0, 0, 2 ** fmt.mantissa_bits, 2 ** fmt.mantissa_bits]]).astype(np.uint8)
    for dtype in (np.float32, np.float64):
        got = ENCODERS[name](x.astype(dtype))
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(got, reference_encode(x.astype(dtype), name))


@pytest.mark.parametrize("name", FORMATS)
def test_signed_zero_nan_inf(name):
    x = np.array([0.0, -0.0, np.nan, -np.nan, np.inf, -np.inf], np.float32)
    want = {"e4m3": [0x00, 0x80, 0x7F, 0xFF, 0x7F, 0xFF], "e5m2": [0x00, 0x80, 0x7E, 0xFE, 0x7C, 0xFC]}[name]
    for saturate in (False, True):
        got = ENCODERS[name](x, saturate=saturate)
        assert got[:4].tolist() == want[:4]
    assert ENCODERS[name](x).tolist() == want
    np.testing.assert_array_equal(ENCODERS[name](x), reference_encode(x, name))
    top = FORMATS[name].max_code
    assert ENCODERS[name](x[4:], saturate=True).tolist() == [top, 0x80 | top]


# --------------------------------------------------------------------------- overflow and saturation
def overflow_boundary(name):
    fmt = FORMATS[name]
    m = fmt.max
    ulp = 2.0 ** (np.floor(np.log2(m)) - fmt.mantissa_bits)
    points = [m, m + ulp / 2, m + ulp / 2 * (1 - 2.0 ** -10), m + ulp / 2 * (1 + 2.0 ** -10), m + ulp,
              m - ulp / 2, np.nextafter(np.float32(m), np.float32(0)), np.nextafter(np.float32(m), np.float32(np.inf)),
              2 * m, 1e30, 3e38]
    return np.array(points + [-p for p in points])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", FORMATS)
def test_overflow_boundary_without_saturation(name, dtype):
    x = overflow_boundary(name).astype(dtype)
    got = ENCODERS[name](x)
    assert_same_codes(got, reference_encode(x, name), x)
    # derived by hand: max + ulp/2 is a tie between max and the first code past it
    top = FORMATS[name].max_code
    over = FORMATS[name].inf_code if name == "e5m2" else FORMATS[name].nan_code
    tie_code = top if top % 2 == 0 else over          # E4M3 max 0x7E is even: 464 -> 448; E5M2 0x7B odd: 61440 -> inf
    assert got[0] == top and got[1] == tie_code and got[2] == top and got[3] == over


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", FORMATS)
def test_saturation_matches_clip_then_cast(name, dtype):
    rng = np.random.default_rng(15)
    x_edge = overflow_boundary(name)
    x = np.concatenate([x_edge, [np.inf, -np.inf, np.nan, 0.0, -0.0],
                        rng.standard_normal(50_000) * np.exp2(rng.uniform(-20, 20, 50_000))]).astype(dtype)
    got = ENCODERS[name](x, saturate=True)
    assert_same_codes(got, reference_encode_saturating(x, name), x)
    finite = np.isfinite(decode(got, name))
    assert finite[~np.isnan(x)].all()                                   # nothing but NaN becomes NaN/inf


def test_saturation_hand_values():
    assert encode_e4m3(np.array([448.0, 449.0, 464.0, 465.0, 1e9, -1e9]), saturate=True).tolist() == [
        0x7E, 0x7E, 0x7E, 0x7E, 0x7E, 0xFE]
    assert encode_e4m3(np.array([448.0, 449.0, 464.0, 465.0]), saturate=False).tolist() == [0x7E, 0x7E, 0x7E, 0x7F]
    assert encode_e5m2(np.array([57344.0, 61439.0, 61440.0, 1e9]), saturate=True).tolist() == [0x7B] * 4
    assert encode_e5m2(np.array([57344.0, 61439.0, 61440.0, 1e9]), saturate=False).tolist() == [0x7B, 0x7B, 0x7C, 0x7C]


def test_shape_and_dtype_are_kept():
    x = np.linspace(-3, 3, 24, dtype=np.float32).reshape(2, 3, 4)
    c = encode_e4m3(x)
    assert c.shape == x.shape and c.dtype == np.uint8
    assert decode_e4m3(c).shape == x.shape
    assert encode_e5m2(np.float32(1.0)).shape == ()


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("bad", [np.arange(4), np.array([True, False]), np.array([1 + 2j]),
                                 np.array([1.0], dtype=object), [1, 2, 3], "1.0"])
@pytest.mark.parametrize("name", FORMATS)
def test_non_float_input_is_refused(name, bad):
    with pytest.raises(TypeError, match=r"^x must be a float16, float32 or float64 array.*np.asarray\(x, dtype=np.float32\)"):
        ENCODERS[name](bad)


@pytest.mark.parametrize("bad", [np.arange(4), np.arange(4, dtype=np.int8), np.zeros(3, np.float32),
                                 np.zeros(2, np.uint16), [1, 2]])
@pytest.mark.parametrize("name", FORMATS)
def test_codes_must_be_uint8(name, bad):
    with pytest.raises(TypeError, match=r"^codes must be a uint8 array.*np.asarray\(codes, dtype=np.uint8\)"):
        DECODERS[name](bad)


@pytest.mark.parametrize("bad", ["yes", 1, None, 0.0])
def test_saturate_must_be_bool(bad):
    with pytest.raises(TypeError, match=r"^saturate must be True or False"):
        encode_e4m3(np.ones(2), saturate=bad)


@pytest.mark.parametrize("bad", ["e3m4", "fp8", 8, None])
def test_unknown_format(bad):
    with pytest.raises(ValueError, match=r"is not a minifloat format; use one of 'e4m3', 'e5m2', 'e2m1'"):
        encode(np.ones(2), bad)
    with pytest.raises(ValueError, match=r"is not a minifloat format"):
        decode(np.zeros(2, np.uint8), bad)
