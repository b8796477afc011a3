"""integer_grid and storage_dtype for every supported bit width (2..16).

Expected grids come from the closed forms, written here with Python integers:
unsigned [0, 2^b - 1], signed [-2^(b-1), 2^(b-1) - 1], narrow drops the lowest code.
"""
import numpy as np
import pytest

from quantref.linear import integer_grid, storage_dtype

ALL_BITS = range(2, 17)


def expected_grid(bits, signed, narrow):
    if signed:
        lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    else:
        lo, hi = 0, 2 ** bits - 1
    return (lo + 1 if narrow else lo), hi


@pytest.mark.parametrize("bits", ALL_BITS)
@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("narrow", [False, True])
def test_integer_grid_closed_form(bits, signed, narrow):
    qmin, qmax = integer_grid(bits, signed=signed, narrow_range=narrow)
    assert (qmin, qmax) == expected_grid(bits, signed, narrow)
    # plain Python ints, not NumPy scalars (they feed Python arithmetic without wrapping)
    assert type(qmin) is int and type(qmax) is int
    # number of codes: 2^b, or 2^b - 1 on the narrow grid
    assert qmax - qmin + 1 == 2 ** bits - (1 if narrow else 0)


def test_integer_grid_hand_cases():
    assert integer_grid(8) == (0, 255)
    assert integer_grid(8, signed=True) == (-128, 127)
    assert integer_grid(8, signed=True, narrow_range=True) == (-127, 127)   # TFLite int8 weights
    assert integer_grid(8, narrow_range=True) == (1, 255)
    assert integer_grid(4, signed=True) == (-8, 7)
    assert integer_grid(2) == (0, 3)
    assert integer_grid(2, signed=True, narrow_range=True) == (-1, 1)
    assert integer_grid(16) == (0, 65535)
    assert integer_grid(16, signed=True) == (-32768, 32767)
    assert integer_grid() == (0, 255)   # default: 8-bit unsigned


def test_integer_grid_accepts_numpy_integer_bits():
    assert integer_grid(np.int64(8), signed=True) == (-128, 127)
    assert integer_grid(np.uint8(4)) == (0, 15)


@pytest.mark.parametrize("bits", ALL_BITS)
@pytest.mark.parametrize("signed", [False, True])
def test_storage_dtype(bits, signed):
    dt = storage_dtype(bits, signed)
    assert isinstance(dt, np.dtype)
    expected = {(True, True): np.int8, (True, False): np.uint8,
                (False, True): np.int16, (False, False): np.uint16}[(bits <= 8, signed)]
    assert dt == np.dtype(expected)
    # it holds every code of the (non-narrow) grid ...
    qmin, qmax = expected_grid(bits, signed, False)
    info = np.iinfo(dt)
    assert info.min <= qmin and qmax <= info.max
    # ... and it is the smallest such dtype: 8-bit storage cannot hold a >8-bit grid
    if bits > 8:
        small = np.iinfo(np.int8 if signed else np.uint8)
        assert qmin < small.min or qmax > small.max
