r"""MSE calibration (TensorRT): the threshold that minimises the histogram-weighted squared error.

Every bin of the histogram of ``|x|`` stands for its centre :math:`c_j = (j + \tfrac12) w`,
weighted by its count :math:`n_j`.  For each candidate threshold ``a`` (every bin centre up to
``max|x|``, and ``max|x|`` itself), the centres are fake-quantized with the quantizer that ``a``
defines and the error is

.. math::

    E(a) = \sum_j n_j \,\big(c_j - \hat c_j(a)\big)^2, \qquad a_{max} = \arg\min_a E(a).

The quantizer of a candidate (built with :func:`quantref.linear.qparams`, applied with
:func:`quantref.linear.fake_quantize`) is TensorRT's: signed and symmetric with
``2^(b-1) - 1`` steps over ``[0, a]`` (``symmetric=True, narrow_range=True``), or, for one-sided
(``unsigned``) data, ``2^b - 1`` steps over ``[0, a]`` (asymmetric, zero point 0).

Differences from pytorch-quantization, on purpose: candidates start at bin 0 rather than 128
(at 2 to 4 bits the optimum often lies below ``128/2048`` of the maximum), ``max|x|`` is a
candidate too, and among equal errors the largest threshold wins (clipping that buys nothing
is not chosen).
"""
from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from ..linear import fake_quantize, qparams
from .histogram import N_BINS, HistogramObserver

_CHUNK = 256   # candidates per vectorised fake-quantize call: bounds memory at 256 x n_bins floats


def weighted_errors(centres: np.ndarray, counts: np.ndarray, candidates: np.ndarray, bits: int,
                    unsigned: bool) -> np.ndarray:
    """``E(a)`` of the module docstring for every candidate ``a`` (1-D arrays in, 1-D out)."""
    keep = counts > 0
    c, n = centres[keep], counts[keep].astype(np.float64)
    errors = np.empty(candidates.shape)
    for start in range(0, candidates.size, _CHUNK):
        a = candidates[start:start + _CHUNK]
        if unsigned:
            s, z = qparams(np.zeros_like(a), a, bits)
            grid = dict(signed=False, narrow_range=False)
        else:
            s, z = qparams(-a, a, bits, symmetric=True, narrow_range=True)
            grid = dict(signed=True, narrow_range=True)
        tiled = np.broadcast_to(c, (a.size, c.size))
        fq = fake_quantize(tiled, s, z, bits, axis=0, **grid)
        errors[start:start + a.size] = ((fq - c) ** 2 * n).sum(axis=1)
    return errors


def argmin_widest(errors: np.ndarray, candidates: np.ndarray, rel_tol: float = 1e-9) -> float:
    """The largest candidate whose error is within ``rel_tol`` of the smallest."""
    best = errors.min()
    return float(candidates[np.flatnonzero(errors <= best * (1 + rel_tol))].max())


class MSEObserver(HistogramObserver):
    """Threshold minimising the histogram-weighted squared quantization error (TensorRT "mse").

    Parameters
    ----------
    bits : int
        The bit width the threshold is tuned for (``range()``'s default; ``qparams(bits)``
        tunes for the bits it is given).
    axis, unsigned, n_bins
        See :class:`~quantref.calibration.histogram.HistogramObserver`.
    progress : bool
        Show a progress bar over channels (per-channel observers with many channels).

    Examples
    --------
    >>> x = np.random.default_rng(0).standard_normal(100_000)
    >>> obs = MSEObserver(bits=4).update(x)
    >>> bool(2.0 < obs.amax() < 3.0 < np.abs(x).max())   # 4-bit Gaussian: clip near 2.5 sigma
    True
    """

    def __init__(self, bits: int = 8, *, axis=None, unsigned=None, n_bins: int = N_BINS, progress: bool = False):
        super().__init__(bits, axis=axis, unsigned=unsigned, n_bins=n_bins)
        self.progress = progress

    def errors(self, bits=None, channel: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``(candidates, E)`` for one channel, for plotting the trade-off."""
        self._require_data("errors")
        bits = self.bits if bits is None else bits
        centres = self.hist.centres()[channel]
        absmax = self.absmax()[channel]
        cand = np.unique(np.append(centres[centres <= absmax], absmax))
        cand = cand[cand > 0]
        return cand, weighted_errors(centres, self.hist.counts[channel], cand, bits,
                                     bool(self.is_unsigned()[channel]))

    def _amax(self, bits: int) -> np.ndarray:
        absmax = self.absmax()
        out = absmax.copy()
        channels = range(absmax.size)
        for c in tqdm(channels, desc="MSE calibration", disable=not self.progress or absmax.size < 2):
            if absmax[c] == 0:
                continue                      # all zeros: nothing to search
            cand, err = self.errors(bits, c)
            out[c] = argmin_widest(err, cand)
        return out
