"""Every bad input is refused with ValueError or TypeError whose message names the argument."""
import numpy as np
import pytest

from quantref.kernels import int_matmul, int_matmul_terms
from quantref.linear import (asymmetric_qparams, clipping_mask, dequantize, fake_quantize, integer_grid,
                             minmax, qparams, quantization_error, quantize, round_to_integer, storage_dtype,
                             symmetric_qparams)

X = np.array([[0.1, -0.2, 0.3, 0.4], [1.0, -1.0, 0.5, 0.0], [2.0, 0.25, -0.75, 0.125]])   # shape (3, 4)
A = np.zeros((2, 3), dtype=np.uint8)
B = np.zeros((3, 4), dtype=np.int8)


# ----------------------------------------------------------------------------- bits
BITS_CALLS = {
    "integer_grid": lambda bits: integer_grid(bits),
    "storage_dtype": lambda bits: storage_dtype(bits, True),
    "qparams": lambda bits: qparams(-1.0, 1.0, bits),
    "symmetric_qparams": lambda bits: symmetric_qparams(-1.0, 1.0, bits),
    "asymmetric_qparams": lambda bits: asymmetric_qparams(-1.0, 1.0, bits),
    "quantize": lambda bits: quantize(X, 0.1, 0, bits),
    "fake_quantize": lambda bits: fake_quantize(X, 0.1, 0, bits),
    "quantization_error": lambda bits: quantization_error(X, 0.1, 0, bits),
}


@pytest.mark.parametrize("fn", BITS_CALLS.values(), ids=BITS_CALLS.keys())
@pytest.mark.parametrize("bits", [1, 17, 0, -3, 64])
def test_bits_out_of_range(fn, bits):
    with pytest.raises(ValueError, match=rf"^bits={bits} is out of range"):
        fn(bits)


@pytest.mark.parametrize("fn", BITS_CALLS.values(), ids=BITS_CALLS.keys())
@pytest.mark.parametrize("bits", [8.0, True, np.bool_(True), "8", None, 7.5])
def test_bits_wrong_type(fn, bits):
    with pytest.raises(TypeError, match=r"^bits must be a whole number"):
        fn(bits)


# ----------------------------------------------------------------------------- ranges
@pytest.mark.parametrize("fn", [qparams, asymmetric_qparams, symmetric_qparams])
def test_rmin_greater_than_rmax(fn):
    with pytest.raises(ValueError, match=r"rmin must be <= rmax, got rmin=.*2.*rmax=.*1"):
        fn(2.0, 1.0)
    with pytest.raises(ValueError, match=r"rmin must be <= rmax.*at index 1"):
        fn(np.array([0.0, 3.0, -1.0]), np.array([1.0, 2.0, 1.0]))


@pytest.mark.parametrize("fn", [qparams, asymmetric_qparams, symmetric_qparams])
def test_rmin_rmax_shape_mismatch(fn):
    with pytest.raises(ValueError, match=r"rmin and rmax must have the same shape"):
        fn(np.zeros(3), np.ones(4))
    with pytest.raises(ValueError, match=r"rmin and rmax must have the same shape"):
        fn(0.0, np.ones(2))


@pytest.mark.parametrize("name", ["rmin", "rmax"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_inf_in_range(name, bad):
    lo, hi = np.array([-1.0, 0.0]), np.array([1.0, 2.0])
    (lo if name == "rmin" else hi)[1] = bad
    with pytest.raises(ValueError, match=rf"^{name} contains 1 NaN or inf"):
        qparams(lo, hi)


@pytest.mark.parametrize("bad", [np.array([1 + 2j]), np.array(["a"], dtype=object), "abc", None])
def test_non_numeric_range(bad):
    with pytest.raises(TypeError, match=r"^rmin must be a real-valued numeric array"):
        qparams(bad, 1.0)
    with pytest.raises(TypeError, match=r"^rmax must be a real-valued numeric array"):
        qparams(-1.0, bad)


# ----------------------------------------------------------------------------- scale / zero point
@pytest.mark.parametrize("scale", [0.0, -0.1, -np.inf])
def test_scale_not_positive(scale):
    for call in (lambda: quantize(X, scale, 0), lambda: dequantize(np.zeros(3, np.uint8), scale, 0),
                 lambda: fake_quantize(X, scale, 0), lambda: quantization_error(X, scale, 0)):
        with pytest.raises(ValueError, match=r"^scale"):
            call()


@pytest.mark.parametrize("scale", [np.nan, np.inf])
def test_scale_nan_inf(scale):
    with pytest.raises(ValueError, match=r"^scale contains 1 NaN or inf"):
        quantize(X, scale, 0)
    with pytest.raises(ValueError, match=r"^scale contains 1 NaN or inf"):
        dequantize(np.zeros(3, np.uint8), scale, 0)


def test_scale_per_channel_with_one_bad_entry():
    with pytest.raises(ValueError, match=r"^scale must be > 0 everywhere"):
        quantize(X, np.array([0.1, 0.0, 0.1]), np.zeros(3, int), axis=0)


@pytest.mark.parametrize("bits, signed, zero_point", [(8, False, 256), (8, False, -1), (8, True, 128),
                                                      (8, True, -129), (4, False, 16), (16, False, 65536)])
def test_zero_point_outside_grid(bits, signed, zero_point):
    with pytest.raises(ValueError, match=r"^zero_point must lie inside the integer grid"):
        quantize(X, 0.1, zero_point, bits, signed=signed)


def test_zero_point_outside_narrow_grid():
    # narrow signed 8-bit grid is [-127, 127]: -128 is outside
    with pytest.raises(ValueError, match=r"zero_point must lie inside the integer grid \[-127, 127\]"):
        quantize(X, 0.1, -128, signed=True, narrow_range=True)


@pytest.mark.parametrize("zero_point", [2.5, np.array([1.0, 2.5, 3.0]), np.nan])
def test_zero_point_not_integer(zero_point):
    axis = 0 if np.ndim(zero_point) else None
    scale = np.full(3, 0.1) if axis == 0 else 0.1
    with pytest.raises(ValueError, match=r"^zero_point must hold whole numbers"):
        quantize(X, scale, zero_point, axis=axis)
    with pytest.raises(ValueError, match=r"^zero_point must hold whole numbers"):
        dequantize(np.zeros((3, 4), np.uint8), scale, zero_point, axis=axis)


@pytest.mark.parametrize("zero_point", [True, "3", None, np.array([1 + 1j])])
def test_zero_point_wrong_type(zero_point):
    with pytest.raises(TypeError, match=r"^zero_point must be an integer"):
        quantize(X, 0.1, zero_point)


def test_whole_float_zero_point_is_accepted():
    # 3.0 is a whole number: accepted, same codes as 3 (0.1/0.1 + 3 = 4 ...)
    np.testing.assert_array_equal(quantize([0.0, 0.1], 0.1, 3.0), np.array([3, 4], dtype=np.uint8))


# ----------------------------------------------------------------------------- data
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_inf_in_x(bad):
    x = X.copy()
    x[1, 2] = bad
    for call in (lambda: quantize(x, 0.1, 0), lambda: fake_quantize(x, 0.1, 0),
                 lambda: quantization_error(x, 0.1, 0), lambda: minmax(x)):
        with pytest.raises(ValueError, match=r"^x contains 1 NaN or inf"):
            call()


@pytest.mark.parametrize("bad", [np.array([1 + 2j, 3j]), np.array([1.0, "a"], dtype=object),
                                 np.array([1.0, 2.0], dtype=object), np.array([True, False]), ["a", "b"]])
def test_complex_object_bool_string_x(bad):
    for call in (lambda: quantize(bad, 0.1, 0), lambda: minmax(bad), lambda: quantization_error(bad, 0.1, 0)):
        with pytest.raises(TypeError, match=r"^x must be a real-valued numeric array"):
            call()


@pytest.mark.parametrize("bad", [np.array([1 + 2j]), np.array([0.1], dtype=object)])
def test_complex_or_object_scale(bad):
    with pytest.raises(TypeError, match=r"^scale must be a real-valued numeric array"):
        quantize([1.0], bad, 0)


def test_minmax_empty():
    with pytest.raises(ValueError, match=r"^x is empty"):
        minmax(np.zeros((0, 3)))


@pytest.mark.parametrize("q", [np.array([1.0, 2.0]), np.array([1, 2], dtype=np.float32), np.array([True]),
                               np.array([1 + 0j]), [1.5]])
def test_dequantize_non_integer_codes(q):
    with pytest.raises(TypeError, match=r"^q must be an integer array"):
        dequantize(q, 0.1, 0)


# ----------------------------------------------------------------------------- rounding
@pytest.mark.parametrize("mode", ["banker", "round", "NEAREST", "", None, 1])
def test_unknown_rounding_mode(mode):
    with pytest.raises(ValueError, match=r"^rounding=.* is not a rounding mode; use one of 'nearest'"):
        quantize(X, 0.1, 0, rounding=mode)


def test_round_to_integer_unknown_mode_names_mode():
    with pytest.raises(ValueError, match=r"\bmode="):
        round_to_integer([1.0], mode="banker")


def test_bad_rng():
    with pytest.raises(TypeError, match=r"^rng must be a numpy.random.Generator"):
        quantize(X, 0.1, 0, rounding="stochastic", rng="seed")
    with pytest.raises(TypeError, match=r"^rng must be"):
        quantize(X, 0.1, 0, rounding="stochastic", rng=np.random.RandomState(0))


# ----------------------------------------------------------------------------- granularity
def test_axis_out_of_range():
    with pytest.raises(ValueError, match=r"^axis=2 is out of range for an array with 2 dimension"):
        quantize(X, np.full(4, 0.1), np.zeros(4, int), axis=2)
    with pytest.raises(ValueError, match=r"^axis=-3 is out of range"):
        minmax(X, axis=-3)
    with pytest.raises(ValueError, match=r"^axis=2 is out of range"):
        dequantize(np.zeros((3, 4), np.uint8), np.full(4, 0.1), np.zeros(4, int), axis=2)
    with pytest.raises(ValueError, match=r"^axis=5 is out of range"):
        minmax(X, axis=5, group_size=2)


@pytest.mark.parametrize("axis", [1.0, "0", True])
def test_axis_wrong_type(axis):
    with pytest.raises(TypeError, match=r"^axis must be an integer or None"):
        minmax(X, axis=axis)
    with pytest.raises(TypeError, match=r"^axis must be an integer or None"):
        quantize(X, np.full(3, 0.1), np.zeros(3, int), axis=axis)


def test_scale_and_zero_point_wrong_shape():
    # per tensor: must be scalars
    with pytest.raises(ValueError, match=r"^scale has shape \(3,\).*must be a scalar"):
        quantize(X, np.full(3, 0.1), 0)
    # per channel along axis 0: 3 channels, not 4
    with pytest.raises(ValueError, match=r"^scale has shape \(4,\).*one per channel along axis 0"):
        quantize(X, np.full(4, 0.1), np.zeros(3, int), axis=0)
    with pytest.raises(ValueError, match=r"^zero_point has shape \(4,\)"):
        quantize(X, np.full(3, 0.1), np.zeros(4, int), axis=0)
    # per group along axis 1, G = 2: shape (3, 2) expected
    with pytest.raises(ValueError, match=r"^scale has shape \(3,\).*one per group of 2 along axis 1"):
        quantize(X, np.full(3, 0.1), np.zeros((3, 2), int), axis=1, group_size=2)
    with pytest.raises(ValueError, match=r"^zero_point has shape \(2, 3\)"):
        quantize(X, np.full((3, 2), 0.1), np.zeros((2, 3), int), axis=1, group_size=2)
    with pytest.raises(ValueError, match=r"^scale has shape"):
        dequantize(np.zeros((3, 4), np.uint8), np.full(4, 0.1), np.zeros(3, int), axis=0)
    with pytest.raises(ValueError, match=r"^scale has shape"):
        quantization_error(X, np.full(4, 0.1), np.zeros(3, int), axis=0)


def test_group_size_errors():
    with pytest.raises(ValueError, match=r"^group_size=3 does not divide the length 4 of axis 1"):
        quantize(X, np.full((3, 1), 0.1), np.zeros((3, 1), int), axis=1, group_size=3)
    with pytest.raises(ValueError, match=r"^group_size=3 does not divide"):
        minmax(X, axis=1, group_size=3)
    with pytest.raises(ValueError, match=r"^group_size needs an axis"):
        quantize(X, 0.1, 0, group_size=2)
    with pytest.raises(ValueError, match=r"^group_size needs an axis"):
        minmax(X, group_size=2)
    for bad in (0, -2, 2.0, True):
        with pytest.raises(ValueError, match=r"^group_size must be a positive integer"):
            minmax(X, axis=1, group_size=bad)


# ----------------------------------------------------------------------------- clipping_mask
@pytest.mark.parametrize("scale", [0.0, -0.1, np.nan])
def test_clipping_mask_rejects_bad_scale(scale):
    with np.errstate(all="ignore"):
        with pytest.raises(ValueError, match=r"^scale"):
            clipping_mask([1.0, 2.0], scale, 0)


@pytest.mark.parametrize("zero_point", [2.5, 300])
def test_clipping_mask_rejects_bad_zero_point(zero_point):
    with pytest.raises(ValueError, match=r"^zero_point"):
        clipping_mask([1.0, 2.0], 0.1, zero_point)


# ----------------------------------------------------------------------------- int_matmul
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int32, np.int16, np.uint16, np.bool_])
def test_int_matmul_wrong_dtype(dtype):
    with pytest.raises(TypeError, match=rf"^a has dtype {np.dtype(dtype)}, but int_matmul takes uint8 or int8"):
        int_matmul(A.astype(dtype), B)
    with pytest.raises(TypeError, match=rf"^b has dtype {np.dtype(dtype)}, but int_matmul takes uint8 or int8"):
        int_matmul(A, B.astype(dtype))


@pytest.mark.parametrize("bad", [[[1, 2, 3], [4, 5, 6]], 3, None, (1, 2)])
def test_int_matmul_not_an_array(bad):
    with pytest.raises(TypeError, match=r"^a must be a NumPy array of uint8 or int8 codes"):
        int_matmul(bad, B)
    with pytest.raises(TypeError, match=r"^b must be a NumPy array of uint8 or int8 codes"):
        int_matmul_terms(A, bad)


@pytest.mark.parametrize("shape", [(3,), (1, 2, 3), ()])
def test_int_matmul_not_2d(shape):
    with pytest.raises(ValueError, match=r"^a must be 2-D"):
        int_matmul(np.zeros(shape, np.uint8), B)
    with pytest.raises(ValueError, match=r"^b must be 2-D"):
        int_matmul(A, np.zeros(shape, np.int8))


def test_int_matmul_shape_mismatch():
    with pytest.raises(ValueError, match=r"shape mismatch: a is \(2, 3\) and b is \(4, 3\); "
                                         r"a\.shape\[1\] must equal b\.shape\[0\]"):
        int_matmul(A, np.zeros((4, 3), np.int8))


def test_int_matmul_zero_point_shape():
    with pytest.raises(ValueError, match=r"^b_zero_point has shape \(3,\); it must be a scalar or an array "
                                         r"of shape \(4,\)"):
        int_matmul(A, B, 0, np.zeros(3, int))
    with pytest.raises(ValueError, match=r"^b_zero_point has shape \(4, 1\)"):
        int_matmul(A, B, 0, np.zeros((4, 1), int))
    with pytest.raises(ValueError, match=r"^a_zero_point has shape \(2,\); it must be a scalar"):
        int_matmul(A, B, np.zeros(2, int), 0)


@pytest.mark.parametrize("za, zb, name, rng_text", [
    (256, 0, "a_zero_point", r"uint8 range \[0, 255\]"),
    (-1, 0, "a_zero_point", r"uint8 range \[0, 255\]"),
    (0, 128, "b_zero_point", r"int8 range \[-128, 127\]"),
    (0, -129, "b_zero_point", r"int8 range \[-128, 127\]"),
    (0, np.array([0, 1, 200, 2]), "b_zero_point", r"int8 range"),
])
def test_int_matmul_zero_point_out_of_dtype_range(za, zb, name, rng_text):
    with pytest.raises(ValueError, match=rf"^{name} must lie in the {rng_text}"):
        int_matmul(A, B, za, zb)


@pytest.mark.parametrize("bad", [2.5, 1.0, np.float32(3), True, "1", None])
def test_int_matmul_zero_point_not_integer(bad):
    with pytest.raises(TypeError, match=r"^a_zero_point must be an integer"):
        int_matmul(A, B, bad, 0)
    with pytest.raises(TypeError, match=r"^b_zero_point must be an integer"):
        int_matmul(A, B, 0, bad)


def test_int_matmul_k_too_large():
    # uint8 x uint8: max_safe_k = 33025, so K = 33026 is refused
    with pytest.raises(ValueError, match=r"^K=33026 is too large"):
        int_matmul(np.zeros((1, 33026), np.uint8), np.zeros((33026, 1), np.uint8))


def test_int_matmul_read_only_inputs_work():
    # no segfault, no "buffer source array is read-only"
    a = np.arange(6, dtype=np.uint8).reshape(2, 3)
    b = np.arange(12, dtype=np.int8).reshape(3, 4) - 6
    a.setflags(write=False)
    b.setflags(write=False)
    # (a - 1) @ (b - 0): a - 1 = [[-1, 0, 1], [2, 3, 4]] ; b = [[-6..-3], [-2..1], [2..5]]
    # row 0: -1*[-6,-5,-4,-3] + 1*[2,3,4,5] = [8, 8, 8, 8]
    # row 1: 2*[-6,-5,-4,-3] + 3*[-2,-1,0,1] + 4*[2,3,4,5] = [-12-6+8, -10-3+12, -8+0+16, -6+3+20]
    expected = np.array([[8, 8, 8, 8], [-10, -1, 8, 17]], dtype=np.int32)
    for backend in ("numpy", "auto"):
        np.testing.assert_array_equal(int_matmul(a, b, 1, backend=backend), expected)
