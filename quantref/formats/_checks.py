"""Argument checks of the number formats, done at the Python boundary.

Each message names the argument and says how to fix it.
"""
from __future__ import annotations

import numbers

import numpy as np

FLOAT_DTYPES = (np.float16, np.float32, np.float64)


def as_float64(x, name: str = "x") -> np.ndarray:
    """Return ``x`` (float16, float32 or float64) as a C-contiguous float64 array, exactly.

    Integers, booleans, complex numbers and objects are refused: an encoder rounds a *real
    float*, and silently converting other data would hide a mistake upstream.  The widening to
    float64 is exact, so encoding the float64 copy gives the same codes as encoding the original.
    """
    arr = np.asarray(x)
    if arr.dtype.type not in FLOAT_DTYPES:
        raise TypeError(
            f"{name} must be a float16, float32 or float64 array, got dtype {arr.dtype}; "
            f"convert it first, e.g. np.asarray({name}, dtype=np.float32)."
        )
    with np.errstate(invalid="ignore"):          # float32 signalling NaNs are quieted, sign kept
        return np.asarray(arr, dtype=np.float64, order="C")


def as_codes(codes, n_bits: int, name: str = "codes") -> np.ndarray:
    """Return ``codes`` as a uint8 array after checking its dtype and, below 8 bits, its range."""
    arr = np.asarray(codes)
    if arr.dtype != np.uint8:
        raise TypeError(
            f"{name} must be a uint8 array (one code per byte), got dtype {arr.dtype}; "
            f"if the values are codes in [0, {2 ** n_bits - 1}], pass np.asarray({name}, dtype=np.uint8)."
        )
    if n_bits < 8 and arr.size and int(arr.max()) >= 2 ** n_bits:
        raise ValueError(
            f"{name} must hold {n_bits}-bit codes in [0, {2 ** n_bits - 1}], got a maximum of "
            f"{int(arr.max())}; unpack packed bytes into one code per byte first."
        )
    return arr


def check_bool(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r} of type {type(value).__name__}.")
    return bool(value)


def check_block_size(block_size, length: int, name: str = "block_size", what: str = "x.size") -> int:
    """Return ``block_size`` as an int, or raise unless it is a positive integer dividing ``length``."""
    if isinstance(block_size, (bool, np.bool_)) or not isinstance(block_size, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer, got {block_size!r} of type "
                        f"{type(block_size).__name__}; pass e.g. {name}=64.")
    block_size = int(block_size)
    if block_size < 1:
        raise ValueError(f"{name} must be a positive integer, got {block_size}; pass e.g. {name}=64.")
    if length % block_size:
        raise ValueError(
            f"{name}={block_size} does not divide {what}={length}: every block must be full; "
            f"pad the data to a multiple of {block_size} (e.g. with np.pad) or choose a block size "
            f"that divides {length}."
        )
    return block_size
