"""Argument checks of the integer-only inference code, at its Python boundary.

Each check returns the argument in the form the arithmetic needs (an int64 array, or a Python
int) or raises a ``TypeError``/``ValueError`` whose message names the argument and the fix.
"""
from __future__ import annotations

import numbers

import numpy as np

INT32_MIN = int(np.iinfo(np.int32).min)
INT32_MAX = int(np.iinfo(np.int32).max)


def as_integer_array(x, name: str, lo: int = INT32_MIN, hi: int = INT32_MAX, what: str = "int32") -> np.ndarray:
    """Return ``x`` as an int64 array, or raise if it is not integer-typed or leaves ``[lo, hi]``."""
    arr = np.asarray(x)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(
            f"{name} must hold integers ({what}), got dtype {arr.dtype}; integer-only inference never "
            f"takes floats here: pass e.g. np.asarray({name}, dtype=np.int32) if the values are whole numbers."
        )
    wide = arr.astype(np.int64)
    if wide.size and (wide.min() < lo or wide.max() > hi):
        raise ValueError(
            f"{name} holds values from {int(wide.min())} to {int(wide.max())}, outside the {what} range "
            f"[{lo}, {hi}]; an int32 accumulator would overflow. Use smaller operands or split the sum."
        )
    return wide


def as_int(value, name: str, lo: int | None = None, hi: int | None = None) -> int:
    """Return ``value`` as a Python int, or raise if it is not a whole number in ``[lo, hi]``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} of type {type(value).__name__}; "
                        f"pass a whole number, e.g. {name}=0.")
    value = int(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(f"{name}={value} is out of range; it must lie in [{lo}, {hi}].")
    return value


def check_grid(qmin, qmax) -> tuple[int, int]:
    """Return ``(qmin, qmax)`` as ints, or raise unless ``qmin < qmax`` inside int32."""
    qmin = as_int(qmin, "qmin", INT32_MIN, INT32_MAX)
    qmax = as_int(qmax, "qmax", INT32_MIN, INT32_MAX)
    if qmin >= qmax:
        raise ValueError(f"qmin={qmin} must be smaller than qmax={qmax}; e.g. qmin=0, qmax=255 for uint8 codes.")
    return qmin, qmax


def code_dtype(qmin: int, qmax: int) -> np.dtype:
    """The dtype that holds the grid ``[qmin, qmax]``: uint8, else int8, else int32."""
    if 0 <= qmin and qmax <= 255:
        return np.dtype(np.uint8)
    if -128 <= qmin and qmax <= 127:
        return np.dtype(np.int8)
    return np.dtype(np.int32)


def check_activation_dtype(dtype, name: str = "activation_dtype") -> np.dtype:
    """Return ``dtype`` if it is uint8 or int8 (8-bit activation codes), else raise."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in (np.dtype(np.uint8), np.dtype(np.int8)):
        raise TypeError(f"{name} must be np.uint8 or np.int8 (8-bit activation codes), got {dtype!r}.")
    return dt
