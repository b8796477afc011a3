r"""Lookup tables quantized to uint8: a per-codebook offset and one shared scale, as Bolt and MADDNESS do.

A query's float tables :math:`T_{m,k}` (codebook :math:`m`, prototype :math:`k`) are stored as

.. math::

    \tilde T_{m,k} = \operatorname{round}\big(s\,(T_{m,k} - o_m)\big) \in \{0, \dots, 255\},
    \qquad o_m = \min_k T_{m,k}, \qquad
    s = 2^{\lfloor \log_2 (255 / \max_m (\max_k T_{m,k} - o_m)) \rfloor}

(round half to even).  The offset :math:`o_m` is per codebook; the scale :math:`s` is shared by
all codebooks of the query, so that the integer sum stays in one unit, and a power of two, so that
undoing it is exact (Blalock & Guttag 2017, 2021).  The scan adds the uint8 entries exactly in
integers, and the float estimate is

.. math::

    \sum_m T_{m, c_m} \approx \frac{1}{s} \sum_m \tilde T_{m, c_m} + \sum_m o_m ,

with an error of at most :math:`M / (2s)` from rounding (:math:`M` codebooks).  A query whose
tables are all equal gets :math:`s = 1` and zero entries.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class QuantizedTables(NamedTuple):
    """uint8 tables of ``nq`` queries and what undoes the quantization (see the module docstring)."""

    tables: np.ndarray   #: uint8, shape (nq, M, ksub)
    offsets: np.ndarray  #: float32, shape (nq, M): the per-codebook minimum o_m
    scale: np.ndarray    #: float32, shape (nq,): the shared power-of-two scale s

    @property
    def bias(self) -> np.ndarray:
        """``sum_m o_m`` per query, float32 shape (nq,), summed in float64."""
        return np.asarray(self.offsets, dtype=np.float64).sum(axis=1).astype(np.float32)

    def dequantize_sums(self, sums) -> np.ndarray:
        """Float estimates ``sums / s + sum_m o_m`` of integer scan results ``sums`` (nq, N).

        Computed in float32 as ``sums * (1/s)`` (exact: ``s`` is a power of two) then ``+ bias``,
        the same two operations as the fused float epilogue of the 4-bit fast scan.
        """
        sums = np.asarray(sums)
        inv = (1.0 / np.asarray(self.scale, dtype=np.float64)).astype(np.float32)
        return sums.astype(np.float32) * inv[:, None] + self.bias[:, None]


def quantize_tables(tables) -> QuantizedTables:
    """Quantize float lookup tables (nq, M, ksub) to uint8 (see the module docstring).

    Parameters
    ----------
    tables : ndarray of float, shape (nq, M, ksub)
        Finite values.

    Returns
    -------
    QuantizedTables

    Examples
    --------
    >>> qt = quantize_tables(np.array([[[0.0, 1.0, 2.0], [-1.0, -1.0, 0.5]]], dtype=np.float32))
    >>> qt.tables, qt.offsets, qt.scale        # range 2 -> s = 2**floor(log2(127.5)) = 64
    (array([[[  0,  64, 128],
            [  0,   0,  96]]], dtype=uint8), array([[ 0., -1.]], dtype=float32), array([64.], dtype=float32))
    """
    t = np.asarray(tables)
    if t.ndim != 3:
        raise ValueError(f"tables must have shape (nq, M, ksub), got {t.shape}.")
    if not np.issubdtype(t.dtype, np.floating):
        raise TypeError(f"tables has dtype {t.dtype}; quantize_tables takes float tables.")
    t = t.astype(np.float64)
    if not np.all(np.isfinite(t)):
        raise ValueError("tables contains NaN or inf; quantization needs finite tables.")
    nq = t.shape[0]
    if t.shape[2] == 0 or t.shape[1] == 0:
        return QuantizedTables(np.zeros(t.shape, np.uint8), np.zeros(t.shape[:2], np.float32),
                               np.ones(nq, np.float32))
    offsets = t.min(axis=2)
    spread = (t.max(axis=2) - offsets).max(axis=1)
    with np.errstate(divide="ignore"):
        exponent = np.floor(np.log2(255.0 / spread))
    exponent = np.clip(np.where(spread > 0, exponent, 0.0), -120, 120)   # stays a finite float32
    scale = np.exp2(exponent)
    q = np.rint((t - offsets[:, :, None]) * scale[:, None, None])
    return QuantizedTables(np.clip(q, 0, 255).astype(np.uint8), offsets.astype(np.float32),
                           scale.astype(np.float32))
