r"""Entropy calibration (TensorRT): the threshold whose quantized histogram loses the least information.

For the histogram of ``|x|`` with counts :math:`h_0, \dots, h_{B-1}` (``B = 2048``, ``N`` values
in all) and ``L`` quantization levels (``2^(b-1)`` for a signed b-bit quantizer, 128 at 8 bits;
``2^b`` for unsigned data), every candidate ``i = L, ..., B`` (threshold ``amax = i w``) is scored:

1. **P** (what clipping at ``amax`` keeps): the first ``i`` bins with the clipped tail
   :math:`T_i = \sum_{j \ge i} h_j` folded into the last one, :math:`P_j = h_j` for
   ``j < i - 1``, :math:`P_{i-1} = h_{i-1} + T_i`;
2. **Q** (what ``L`` levels can say about it): the first ``i`` bins :math:`h_0 .. h_{i-1}`
   merged into ``L`` levels -- bin ``j`` belongs to level :math:`\lfloor jL/i \rfloor` -- and
   expanded back: each non-empty bin of a level gets the level's mean over its non-empty bins,
   empty bins stay 0;
3. the divergence of the normalised distributions,
   :math:`\mathrm{KL}(P\,\|\,Q) = \sum_{P_j > 0} p_j \log(p_j / q_j)`, infinite where some
   :math:`P_j > 0 = Q_j` (the tail folded into an empty last bin).

The threshold is the ``i`` with the smallest divergence; ties (within ``1e-12``) go to the
largest ``i``, as in pytorch-quantization.

Q is merged from the bins *before* the tail is folded in, as in TensorRT's algorithm and
pytorch-quantization's ``_compute_amax_entropy``: merging the folded ``P`` instead would make
``Q = P`` at ``i = L`` (every bin its own level), a divergence of 0 that always wins.  Unlike
pytorch-quantization we do not overwrite bin 0 with bin 1.

Computing it fast
-----------------
A level ``k`` covers the bins :math:`a_k \le j < a_{k+1}` with :math:`a_k = \lceil k i / L \rceil`.
With :math:`S_k` its sum and :math:`m_k` its number of non-empty bins (over :math:`h_0 .. h_{i-1}`),
every non-empty bin of the level has :math:`Q_j = S_k / m_k`; ``P`` sums to ``N`` and ``Q`` to
:math:`N - T_i`, so

.. math::

    N \cdot \mathrm{KL}_i = \sum_{j < i} P_j \log P_j - \sum_k S'_k \log(S_k / m_k)
                            + N \log\frac{N - T_i}{N},

where :math:`S'_k = S_k`, plus :math:`T_i` for the level of bin ``i - 1``.  Both sums come from
prefix sums of :math:`h`, :math:`[h > 0]` and :math:`h \log h`, so each candidate costs
:math:`O(L)`, all candidates at once.  The tests check this against the procedure written out
step by step.
"""
from __future__ import annotations

import numbers

import numpy as np
from tqdm.auto import tqdm

from .histogram import N_BINS, HistogramObserver


def _xlogx(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return np.where(x > 0, x * np.log(np.where(x > 0, x, 1.0)), 0.0)


#: The smallest candidate threshold, in bins, that the observer considers (TensorRT: 128).
MIN_CANDIDATE_BINS = 128


def kl_divergences(counts, levels: int, start=None) -> tuple[np.ndarray, np.ndarray]:
    """KL(P || Q) of every candidate ``i`` (the module docstring's procedure), vectorised.

    Parameters
    ----------
    counts : array_like of non-negative numbers, shape (B,)
        A histogram of ``|x|``; at least one count must be positive.
    levels : int
        Number of quantization levels ``L`` (128 for signed 8 bits).
    start : int, optional
        Smallest candidate, default ``min(L, B)``.

    Returns
    -------
    candidates : ndarray of int64, shape (B - start + 1,)
        ``i = start, ..., B``; the threshold of candidate ``i`` is the upper edge of bin ``i - 1``.
    kl : ndarray of float64
        The divergences in nats; ``inf`` where Q cannot represent P.

    Examples
    --------
    >>> i, kl = kl_divergences([4, 2, 1, 1], levels=2)
    >>> i.tolist()
    [2, 3, 4]
    >>> # i = 2: P = (4, 2 + 2) / 8 and Q = (4, 2) / 6, so KL = 0.5 log(0.75) + 0.5 log(1.5)
    >>> bool(abs(kl[0] - (0.5 * np.log(0.75) + 0.5 * np.log(1.5))) < 1e-15)
    True
    >>> # i = 4: no tail; level 0 merges (4, 2) into (3, 3), level 1 keeps (1, 1)
    >>> bool(abs(kl[2] - (0.5 * np.log(4 / 3) + 0.25 * np.log(2 / 3))) < 1e-15)
    True
    """
    h = np.asarray(counts, dtype=np.float64)
    if h.ndim != 1 or h.size == 0:
        raise ValueError(f"counts must be a non-empty 1-D histogram, got shape {h.shape}.")
    if not np.all(np.isfinite(h)) or np.any(h < 0) or h.sum() <= 0:
        raise ValueError("counts must be finite, non-negative and not all zero (a histogram of at least one value).")
    if isinstance(levels, (bool, np.bool_)) or not isinstance(levels, numbers.Integral) or levels < 1:
        raise ValueError(f"levels must be a positive integer (e.g. 128 for signed 8 bits), got {levels!r}.")
    B, L = h.size, int(levels)
    start = min(L, B) if start is None else int(start)
    if not 1 <= start <= B:
        raise ValueError(f"start={start} must lie in [1, {B}] (the number of bins).")
    N = h.sum()
    H = np.concatenate([[0.0], np.cumsum(h)])                 # H[j] = sum_{t<j} h_t
    Z = np.concatenate([[0], np.cumsum(h > 0)])               # Z[j] = #{t<j : h_t > 0}
    HL = np.concatenate([[0.0], np.cumsum(_xlogx(h))])        # HL[j] = sum_{t<j} h_t log h_t

    i = np.arange(start, B + 1, dtype=np.int64)               # candidates
    tail = N - H[i]                                           # T_i
    kept = H[i]                                               # N - T_i = sum of Q
    plogp = HL[i - 1] + _xlogx(h[i - 1] + tail)               # sum_{j<i} P_j log P_j

    k = np.arange(L + 1, dtype=np.int64)
    a = (k[None, :] * i[:, None] + L - 1) // L                # a_k = ceil(k i / L), shape (m, L+1)
    S = H[a[:, 1:]] - H[a[:, :-1]]                            # level sums of h_0 .. h_{i-1}
    m = (Z[a[:, 1:]] - Z[a[:, :-1]]).astype(np.float64)       # non-empty bins per level
    with np.errstate(divide="ignore", invalid="ignore"):
        logq = np.where(S > 0, np.log(S / np.where(m > 0, m, 1.0)), 0.0)
        plogq = (S * logq).sum(axis=1) + tail * logq[np.arange(i.size), ((i - 1) * L) // i]
        kl = (plogp - plogq) / N + np.log(kept / N)
    kl = np.maximum(kl, 0.0)            # KL >= 0: clamp float64 cancellation around exact zeros
    impossible = ((h[i - 1] == 0) & (tail > 0)) | (kept == 0)
    kl[impossible] = np.inf
    return i, kl


class EntropyObserver(HistogramObserver):
    """Threshold minimising KL(P || Q) over the 2048-bin histogram (TensorRT "entropy").

    Parameters
    ----------
    bits : int
        Bit width the threshold is tuned for: ``L = 2^(bits-1)`` levels (``2^bits`` for unsigned
        data).  At 12 bits and more ``L >= 2048`` and the full range is kept.
    axis, unsigned, n_bins
        See :class:`~quantref.calibration.histogram.HistogramObserver`.
    progress : bool
        Show a progress bar over channels.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = np.concatenate([rng.standard_normal(100_000), [40.0, -35.0]])   # two outliers
    >>> obs = EntropyObserver().update(x)
    >>> bool(obs.amax() < 10 < 40 == np.abs(x).max())                            # clipped far below max
    True
    """

    def __init__(self, bits: int = 8, *, axis=None, unsigned=None, n_bins: int = N_BINS, progress: bool = False):
        super().__init__(bits, axis=axis, unsigned=unsigned, n_bins=n_bins)
        self.progress = progress

    def _start(self, bits, channel: int) -> int:
        # TensorRT's candidates start at 128 bins whatever the bit width: on a sparse histogram a
        # threshold of a few bins can reach KL = 0 while clipping almost everything
        return min(max(self.levels(bits, channel), MIN_CANDIDATE_BINS), self.hist.n_bins)

    def levels(self, bits=None, channel: int = 0) -> int:
        bits = self.bits if bits is None else bits
        return 1 << (bits - 1 + int(bool(self.is_unsigned()[channel])))

    def divergences(self, bits=None, channel: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``(thresholds, KL)`` for one channel, for plotting."""
        self._require_data("divergences")
        i, kl = kl_divergences(self.hist.counts[channel], self.levels(bits, channel), self._start(bits, channel))
        return i * self.hist.top[channel] / self.hist.n_bins, kl

    def _amax(self, bits: int) -> np.ndarray:
        out = self.absmax().copy()
        for c in tqdm(range(out.size), desc="entropy calibration", disable=not self.progress or out.size < 2):
            if out[c] == 0:
                continue
            i, kl = kl_divergences(self.hist.counts[c], self.levels(bits, c), self._start(bits, c))
            best = i[np.flatnonzero(kl <= kl.min() + 1e-12)].max()
            out[c] = best * self.hist.top[c] / self.hist.n_bins
        return out
