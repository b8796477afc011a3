r"""Synthetic transformer-like activations: a few feature channels with huge magnitudes.

Large language models (from about 6.7B parameters) develop *outlier features*: a handful of hidden
dimensions whose activations are tens of times larger than the rest, in most tokens (Dettmers et
al. 2022, LLM.int8(); Xiao et al. 2023, SmoothQuant).  One absmax scale for such a tensor is set by
the outliers, and every ordinary value falls into the few codes around 0.

:func:`outlier_activations` draws ``X`` (tokens x channels):

* ordinary channel ``j``: :math:`X_{ij} \sim \mathcal N(0, \sigma_j^2)` with
  :math:`\sigma_j \sim U(0.3, 1)` (so :math:`|X_{ij}| < 6` with overwhelming probability);
* outlier channel ``j`` (``n_outliers`` of them, default 6 of 4096 -- the hidden size and outlier
  count LLM.int8() reports around 6.7B parameters -- chosen at random): in a fraction
  ``outlier_tokens`` of the tokens, :math:`X_{ij} = \pm m_j (1 + 0.1 \epsilon)`, with a fixed
  sign per channel and magnitude :math:`m_j \sim U(m_{lo}, m_{hi})` (default 20 to 80); in the
  other tokens, an ordinary value.

:func:`synthetic_layer` adds a weight matrix ``W`` (out x channels, :math:`\mathcal N(0, 1/K)`),
so that ``X W^T`` is a linear layer's output.  Everything is seeded.
"""
from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np


class OutlierActivations(NamedTuple):
    x: np.ndarray                 #: float64 (tokens, channels)
    outlier_channels: np.ndarray  #: int64 indices of the outlier channels, sorted


class SyntheticLayer(NamedTuple):
    x: np.ndarray                 #: float64 (tokens, in_features)
    w: np.ndarray                 #: float64 (out_features, in_features)
    outlier_channels: np.ndarray  #: int64, sorted


def _count(value, name, example, minimum=1):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}; e.g. {name}={example}.")
    return int(value)


def outlier_activations(tokens: int = 256, channels: int = 4096, n_outliers: int = 6, *,
                        magnitude=(20.0, 80.0), outlier_tokens: float = 0.75, seed: int = 0) -> OutlierActivations:
    """Draw a tokens x channels activation matrix with a few outlier channels (module docstring).

    Examples
    --------
    >>> act = outlier_activations(tokens=64, channels=128, n_outliers=2, seed=1)
    >>> act.x.shape, act.outlier_channels.tolist()
    ((64, 128), [2, 28])
    >>> ordinary = np.delete(act.x, act.outlier_channels, axis=1)
    >>> bool(np.abs(act.x[:, act.outlier_channels]).max() > 20 > 6 > np.abs(ordinary).max())
    True
    """
    tokens = _count(tokens, "tokens", 256)
    channels = _count(channels, "channels", 4096)
    n_outliers = _count(n_outliers, "n_outliers", 6, minimum=0)
    if n_outliers > channels:
        raise ValueError(f"n_outliers={n_outliers} exceeds channels={channels}; pass at most {channels}.")
    lo, hi = magnitude
    if not 0 < lo <= hi:
        raise ValueError(f"magnitude must be (low, high) with 0 < low <= high, got {magnitude!r}; e.g. (20.0, 80.0).")
    if isinstance(outlier_tokens, bool) or not isinstance(outlier_tokens, numbers.Real) or not 0 < outlier_tokens <= 1:
        raise ValueError(f"outlier_tokens must be a fraction in (0, 1], got {outlier_tokens!r}; e.g. 0.75.")
    rng = np.random.default_rng(seed)
    sigma = rng.uniform(0.3, 1.0, channels)
    x = rng.standard_normal((tokens, channels)) * sigma
    cols = np.sort(rng.choice(channels, n_outliers, replace=False))
    for j in cols:
        rows = rng.random(tokens) < outlier_tokens
        sign = rng.choice([-1.0, 1.0])
        m = rng.uniform(lo, hi)
        x[rows, j] = sign * m * (1 + 0.1 * rng.standard_normal(rows.sum()))
    return OutlierActivations(x, cols.astype(np.int64))


def synthetic_layer(tokens: int = 256, in_features: int = 4096, out_features: int = 512, n_outliers: int = 6, *,
                    magnitude=(20.0, 80.0), outlier_tokens: float = 0.75, seed: int = 0) -> SyntheticLayer:
    """Activations from :func:`outlier_activations` and weights ``W ~ N(0, 1/in_features)`` (out, in)."""
    act = outlier_activations(tokens, in_features, n_outliers, magnitude=magnitude, outlier_tokens=outlier_tokens,
                              seed=seed)
    out_features = _count(out_features, "out_features", 512)
    w = np.random.default_rng([seed, 1]).normal(0.0, 1.0 / np.sqrt(in_features), (out_features, in_features))
    return SyntheticLayer(act.x, w, act.outlier_channels)
