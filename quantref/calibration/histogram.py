r"""The 2048-bin histogram of ``|x|`` that TensorRT's calibrators read, grown as batches arrive.

TensorRT's percentile, MSE and entropy calibrators all start from a histogram of the absolute
values ``|x|`` over ``[0, top]`` and choose a clipping threshold ``amax <= top`` from it.  The
histogram here keeps exactly ``n_bins`` bins (2048 by default) of width ``w = top / n_bins``;
bin ``j`` holds the values with :math:`j w \le |x| < (j + 1) w`, the last bin also ``|x| = top``.

Growing the range (re-binning)
------------------------------
The first batch with a non-zero value sets ``top = max|x|`` exactly.  When a later batch reaches
beyond ``top``, the range grows by the smallest **integer** factor ``k`` with
``k * top >= max|x|``: the new bins are ``k`` times as wide, and old bin ``j`` lies entirely
inside new bin ``j // k``, so its count moves there whole.  Re-binning is therefore exact -- no
count is split or interpolated, the histogram stays integer -- and every value still lies inside
(the closed interval of) its bin.  The price: after a growth the data may fill only the lower
part of the histogram (more than half of it, since ``k * top < max|x| + top``), so the bin width
is between ``max|x| / 2048`` and ``2 max|x| / 2048``.  (pytorch-quantization instead keeps the
width and appends bins, so its histogram can exceed 2048 bins; PyTorch's ``HistogramObserver``
re-bins by spreading counts uniformly, which is approximate.)

Values that are all zero so far (e.g. a dead ReLU) have no range yet; they are counted in bin 0,
which contains 0 whatever ``top`` becomes.

:class:`HistogramObserver` is the base of the three TensorRT calibrators: it keeps the histogram
and the signed extremes, and maps a threshold ``amax`` to a range (see
:meth:`HistogramObserver._compute_range`).
"""
from __future__ import annotations

import numbers

import numpy as np

from .._checks import check_bits
from .base import Observer

#: TensorRT's histogram size.
N_BINS = 2048


def check_n_bins(n_bins) -> int:
    if isinstance(n_bins, (bool, np.bool_)) or not isinstance(n_bins, numbers.Integral):
        raise TypeError(f"n_bins must be an integer, got {n_bins!r}; pass e.g. n_bins=2048 (TensorRT's choice).")
    if n_bins < 2:
        raise ValueError(f"n_bins={n_bins} is too small; pass at least 2 (TensorRT uses 2048).")
    return int(n_bins)


class AbsHistogram:
    """Per-channel histograms of ``|x|`` with exactly ``n_bins`` bins over ``[0, top]``.

    Attributes
    ----------
    counts : ndarray of int64, shape (channels, n_bins)
    top : ndarray of float64, shape (channels,)
        Upper edge of the last bin; 0 while a channel has only seen zeros.

    Examples
    --------
    >>> h = AbsHistogram(n_bins=4)
    >>> h.add(np.array([[0.0, -1.0, 2.0, 4.0]]))       # top = 4, width 1
    >>> h.counts.tolist(), h.top.tolist()
    ([[1, 1, 1, 1]], [4.0])
    >>> h.add(np.array([[7.5]]))                        # k = ceil(7.5 / 4) = 2: bins [0,2) [2,4) [4,6) [6,8]
    >>> h.counts.tolist(), h.top.tolist()
    ([[2, 2, 0, 1]], [8.0])
    """

    def __init__(self, n_bins: int = N_BINS):
        self.n_bins = check_n_bins(n_bins)
        self.counts = None
        self.top = None

    def edges(self) -> np.ndarray:
        """Bin edges, shape ``(channels, n_bins + 1)``: ``edges[c, j] = j * top[c] / n_bins``."""
        return self.top[:, None] * (np.arange(self.n_bins + 1) / self.n_bins)

    def centres(self) -> np.ndarray:
        """Bin centres, shape ``(channels, n_bins)``: ``(j + 1/2) * top / n_bins``."""
        return self.top[:, None] * ((np.arange(self.n_bins) + 0.5) / self.n_bins)

    def _grow(self, c: int, new_max: float) -> None:
        top = self.top[c]
        k = int(np.ceil(new_max / top))
        while k * top < new_max:        # guard against rounding in new_max / top
            k += 1
        merged = np.zeros(self.n_bins, dtype=np.int64)
        np.add.at(merged, np.arange(self.n_bins) // k, self.counts[c])
        self.counts[c] = merged
        self.top[c] = k * top

    def add(self, x: np.ndarray) -> None:
        """Add a batch given as float64 ``(channels, values)``."""
        a = np.abs(x)
        channels, B = a.shape[0], self.n_bins
        if self.counts is None:
            self.counts = np.zeros((channels, B), dtype=np.int64)
            self.top = np.zeros(channels)
        batch_max = a.max(axis=1)
        first = (self.top == 0) & (batch_max > 0)
        self.top[first] = batch_max[first]
        for c in np.flatnonzero(batch_max > self.top):
            self._grow(int(c), float(batch_max[c]))
        top = np.where(self.top > 0, self.top, 1.0)[:, None]      # channels with top 0 hold only zeros
        idx = np.clip(np.floor(a / top * B), 0, B - 1).astype(np.int64)
        flat = (idx + (np.arange(channels) * B)[:, None]).ravel()
        self.counts += np.bincount(flat, minlength=channels * B).reshape(channels, B)


class HistogramObserver(Observer):
    """Base of the TensorRT calibrators: a histogram of ``|x|`` plus the signed extremes.

    Subclasses choose a threshold ``amax`` per channel (``_amax``); the range is then

    .. math::

        r_{min} = \\max(-a_{max}, \\min x), \\qquad r_{max} = \\min(a_{max}, \\max x),

    i.e. the symmetric interval ``[-amax, amax]`` cut to the side(s) the data occupy: a
    post-ReLU tensor gets ``(0, amax)``, not ``(-amax, amax)``.  With symmetric qparams this is
    exactly ``amax`` again.  Two special cases keep the range sensible: a channel whose values
    are all equal to ``c`` has nothing to clip and gets ``(c, c)`` (qparams widens it to contain
    0); if every value lies beyond ``amax`` on one side the range collapses to ``(amax, amax)``
    (or ``(-amax, -amax)``).

    Parameters
    ----------
    bits : int
        Default bit width for :meth:`range` (used by calibrators that optimise for it).
    axis : int or None
        Per tensor or per channel.
    unsigned : bool or None
        Whether the quantizer that the threshold is tuned for is unsigned (``2^b`` levels over
        ``[0, amax]``, for one-sided data such as post-ReLU activations) or signed
        (``2^(b-1)`` levels per side).  ``None``: unsigned for the channels whose values were all
        ``>= 0``.  This is pytorch-quantization's ``unsigned`` flag.
    n_bins : int
        Histogram size, 2048 as in TensorRT.
    """

    def __init__(self, bits: int = 8, *, axis=None, unsigned=None, n_bins: int = N_BINS):
        super().__init__(axis)
        self.bits = check_bits(bits)
        if unsigned is not None and not isinstance(unsigned, (bool, np.bool_)):
            raise TypeError(f"unsigned must be True, False or None (decide from the data), got {unsigned!r}.")
        self.unsigned = unsigned
        self.hist = AbsHistogram(n_bins)
        self.min_val = None
        self.max_val = None

    def _default_bits(self) -> int:
        return self.bits

    def _observe(self, x: np.ndarray) -> None:
        lo, hi = x.min(axis=1), x.max(axis=1)
        if self.min_val is None:
            self.min_val, self.max_val = lo, hi
        else:
            self.min_val = np.minimum(self.min_val, lo)
            self.max_val = np.maximum(self.max_val, hi)
        self.hist.add(x)

    def absmax(self) -> np.ndarray:
        """Largest ``|x|`` seen, per channel."""
        return np.maximum(-self.min_val, self.max_val)

    def is_unsigned(self) -> np.ndarray:
        """Per channel: does the threshold target an unsigned quantizer (see ``unsigned``)?"""
        if self.unsigned is None:
            return self.min_val >= 0
        return np.full(self.min_val.shape, bool(self.unsigned))

    def _amax(self, bits: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def amax(self, bits=None) -> np.ndarray | float:
        """The calibrated threshold, never above the largest ``|x|`` seen."""
        self._require_data("threshold")
        bits = self.bits if bits is None else check_bits(bits)
        a = np.minimum(self._amax(bits), self.absmax())
        return float(a[0]) if self.axis is None else a

    def _compute_range(self, bits: int):
        a = np.minimum(self._amax(bits), self.absmax())
        lo = np.maximum(-a, self.min_val)
        hi = np.minimum(a, self.max_val)
        above = lo > hi                                  # everything beyond amax on one side
        positive = self.min_val > 0
        lo = np.where(above & positive, hi, lo)          # data > amax: (amax, amax)
        hi = np.where(above & ~positive, lo, hi)         # data < -amax: (-amax, -amax)
        constant = self.min_val == self.max_val
        lo = np.where(constant, self.min_val, lo)
        hi = np.where(constant, self.max_val, hi)
        return lo, hi
