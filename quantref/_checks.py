"""Argument checks shared by the public functions.

Every public entry point validates its arguments here, at the Python boundary, so that the
kernels behind it can assume clean input.  Each message names the argument and says how to fix it.
"""
from __future__ import annotations

import numbers

import numpy as np

MIN_BITS = 2
MAX_BITS = 16


def check_bits(bits) -> int:
    """Return ``bits`` as an int, or raise if it is not a whole number in [2, 16]."""
    if isinstance(bits, (bool, np.bool_)) or not isinstance(bits, numbers.Integral):
        raise TypeError(
            f"bits must be a whole number between {MIN_BITS} and {MAX_BITS}, got {bits!r} "
            f"of type {type(bits).__name__}; pass e.g. bits=8."
        )
    bits = int(bits)
    if not MIN_BITS <= bits <= MAX_BITS:
        raise ValueError(
            f"bits={bits} is out of range: quantref supports {MIN_BITS} to {MAX_BITS} bits; "
            f"pass e.g. bits=8 (or bits=4 for low precision)."
        )
    return bits


def as_float_array(x, name: str) -> np.ndarray:
    """Return ``x`` as a float64 array, or raise on non-numeric data, NaN or inf."""
    arr = np.asarray(x)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating)
        or np.issubdtype(arr.dtype, np.integer)
    ) or arr.dtype == np.bool_:
        raise TypeError(
            f"{name} must be a real-valued numeric array (float or int), got dtype {arr.dtype}; "
            f"convert it with np.asarray({name}, dtype=np.float32)."
        )
    arr = arr.astype(np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(
            f"{name} contains {bad} NaN or inf value(s); quantization needs finite data. "
            f"Find where they come from, or replace them, e.g. with np.nan_to_num({name})."
        )
    return arr


def check_scale(scale) -> np.ndarray:
    """Return ``scale`` as a float64 array, or raise if any entry is <= 0, NaN or inf."""
    s = as_float_array(scale, "scale")
    if np.any(s <= 0):
        raise ValueError(
            f"scale must be > 0 everywhere, got minimum {s.min()!r}; a scale comes from "
            f"qparams(rmin, rmax, bits), which never returns a non-positive scale."
        )
    return s


def check_zero_point(zero_point, qmin: int, qmax: int) -> np.ndarray:
    """Return the zero point as an int64 array, or raise if it is not an integer in the grid."""
    z = np.asarray(zero_point)
    if z.dtype == np.bool_ or not (
        np.issubdtype(z.dtype, np.integer) or np.issubdtype(z.dtype, np.floating)
    ):
        raise TypeError(f"zero_point must be an integer (or integer array), got dtype {z.dtype}.")
    if np.issubdtype(z.dtype, np.floating):
        if not np.all(np.isfinite(z)) or np.any(z != np.round(z)):
            raise ValueError(
                f"zero_point must hold whole numbers, got {z!r}; round it to the grid "
                f"(the zero point is an integer so that real 0 is represented exactly)."
            )
    z = z.astype(np.int64)
    if np.any(z < qmin) or np.any(z > qmax):
        raise ValueError(
            f"zero_point must lie inside the integer grid [{qmin}, {qmax}], got values from "
            f"{z.min()} to {z.max()}; clip it to the grid or check the bits/signed arguments."
        )
    return z


def check_positive_int(value, name: str) -> int:
    """Return ``value`` as an int >= 1: TypeError for a non-integer (or a bool), ValueError below 1."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer, got {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}.")
    return int(value)


def check_axis(axis, ndim: int, name: str = "axis") -> int:
    """Return ``axis`` normalised to [0, ndim), or raise if it is out of range."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"{name} must be an integer or None, got {axis!r}.")
    axis = int(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{name}={axis} is out of range for an array with {ndim} dimension(s); "
            f"use a value in [{-ndim}, {ndim - 1}]."
        )
    return axis % ndim
