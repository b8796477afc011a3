"""Rounding modes: how a real number ``x`` becomes an integer.

===============  ==============================================  ===========================
mode             rule                                            used by
===============  ==============================================  ===========================
``nearest``      nearest integer, ties to even                   NumPy, PyTorch
``half_away``    nearest integer, ties away from zero            TFLite (``std::round``)
``floor``        largest integer <= x                            (a common mistake)
``ceil``         smallest integer >= x
``stochastic``   ``floor(x) + 1`` with probability ``x - floor(x)``  training in low precision
===============  ==============================================  ===========================

Stochastic rounding is unbiased, ``E[round(x)] = x``, at the price of extra variance.
"""
from __future__ import annotations

import numpy as np

ROUNDING_MODES = ("nearest", "half_away", "floor", "ceil", "stochastic")


def check_rounding(mode, name: str = "rounding") -> str:
    if mode not in ROUNDING_MODES:
        raise ValueError(
            f"{name}={mode!r} is not a rounding mode; use one of {', '.join(map(repr, ROUNDING_MODES))}."
        )
    return mode


def _generator(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(
        f"rng must be a numpy.random.Generator, an integer seed or None, got {type(rng).__name__}; "
        f"pass rng=np.random.default_rng(0) for reproducible stochastic rounding."
    )


def round_half_away(x: np.ndarray) -> np.ndarray:
    """Round to nearest, ties away from zero: ``sign(x) * floor(|x| + 1/2)``.

    Computed as ``trunc(x) + sign(x) * [|x - trunc(x)| >= 1/2]`` because ``|x| + 0.5`` itself
    rounds in floating point (0.49999999999999994 + 0.5 == 1.0).
    """
    t = np.trunc(x)
    return t + np.sign(x) * (np.abs(x - t) >= 0.5)


def round_stochastic(x: np.ndarray, rng=None) -> np.ndarray:
    """``floor(x) + [u < x - floor(x)]`` with ``u ~ U[0, 1)``: unbiased, ``E = x``."""
    fl = np.floor(x)
    u = _generator(rng).random(np.shape(x))
    return fl + (u < (x - fl))


def round_to_integer(x, mode: str = "nearest", rng=None) -> np.ndarray:
    """Round a float array with one of :data:`ROUNDING_MODES`; returns float64 holding integers.

    ``rng`` (a ``numpy.random.Generator`` or seed) is used by ``stochastic`` only.
    """
    mode = check_rounding(mode, "mode")
    x = np.asarray(x, dtype=np.float64)
    if mode == "nearest":
        return np.rint(x)
    if mode == "half_away":
        return round_half_away(x)
    if mode == "floor":
        return np.floor(x)
    if mode == "ceil":
        return np.ceil(x)
    return round_stochastic(x, rng)
