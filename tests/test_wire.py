"""What crosses between the trusted grader and a sandboxed submission (autograder/wire.py): plain data only,
rebuilt from base types, with its shapes and dtypes intact."""
import struct

import numpy as np
import pytest

from autograder import wire


def roundtrip(value):
    data = wire.dumps({"value": wire.encode(value)})
    (size,) = struct.unpack(">Q", data[:8])
    assert size == len(data) - 8
    return wire.decode(wire.loads(data[8:])["value"])


@pytest.mark.parametrize("value", [
    None, True, 3, -(2 ** 70), 0.1, float("inf"), -0.0, "text", (1, 2.5), [1, [2, (3,)]], {"a": 1, "b": (2,)},
    np.float32(1.5), np.int64(-7), np.uint8(255), np.bool_(True),
])
def test_plain_values_cross_unchanged(value):
    got = roundtrip(value)
    assert type(got) is type(value) and repr(got) == repr(value)


@pytest.mark.parametrize("arr", [
    np.array(3.5), np.array([], dtype=np.int8), np.arange(12, dtype=np.int32).reshape(3, 4)[:, ::2],
    np.array([[1, 2], [3, 4]], dtype=">i4"), np.array([np.nan, -np.inf, -0.0], dtype=np.float16),
    np.zeros((2, 0, 3), dtype=np.complex128), np.array([True, False]),
])
def test_arrays_keep_shape_dtype_and_bits(arr):
    got = roundtrip(arr)
    assert type(got) is np.ndarray and got.shape == arr.shape
    assert got.dtype == arr.dtype.newbyteorder("=")
    assert got.tobytes() == arr.astype(arr.dtype.newbyteorder("="), copy=False).tobytes()


class AlwaysEqual(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(self), dtype=bool)


class LooksLikeAnArray:
    def __array__(self, dtype=None, copy=None):
        return np.zeros(3)


class LyingFloat(float):
    def __eq__(self, other):
        return True


@pytest.mark.parametrize("value", [
    np.zeros(3).view(AlwaysEqual), LooksLikeAnArray(), LyingFloat(1.0), np.array([object()]), {1: 2},
    np.zeros(2, dtype=[("a", "i4")]), np.array(["text"]), lambda: 0,
])
def test_objects_that_could_lie_do_not_cross(value):
    with pytest.raises(wire.EncodeError):
        wire.encode(value)


@pytest.mark.parametrize("tree", [
    {"__ndarray__": "O", "shape": [1], "data": ""}, {"__ndarray__": "<f8", "shape": [2], "data": "AAAA"},
    {"__ndarray__": "<f8", "shape": [-1], "data": ""}, {"__pickle__": "x"}, {}, 1.5,
    {"__scalar__": "<f8", "data": "AA=="},
])
def test_malformed_messages_are_refused(tree):
    with pytest.raises((wire.EncodeError, ValueError, TypeError)):
        wire.decode(tree)


def test_deep_nesting_is_refused():
    value = []
    for _ in range(40):
        value = [value]
    with pytest.raises(wire.EncodeError):
        wire.encode(value)
