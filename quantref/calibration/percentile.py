r"""Percentile calibration (TensorRT): clip at the p-th percentile of ``|x|``.

With the histogram of ``|x|`` (counts :math:`n_0, \dots, n_{B-1}`, width ``w``, ``N`` values),
the threshold is the upper edge of the first bin at which the cumulative count reaches ``p %``:

.. math::

    j^* = \min\{\,j : \textstyle\sum_{i \le j} n_i \ge \tfrac{p}{100} N\,\}, \qquad
    a_{max} = \min\big((j^* + 1)\,w,\ \max|x|\big).

So at most ``(100 - p) %`` of the values lie above ``amax``, and ``amax`` exceeds the exact
percentile by less than one bin width (for data dense enough that neighbouring order statistics
are closer than a bin).  pytorch-quantization returns the *lower* edge ``j* w`` instead, which
can clip a constant tensor; the upper edge never clips more than ``(100 - p) %``.

``method="exact"`` keeps every ``|x|`` instead of a histogram and returns
``numpy.percentile(|x|, p)`` (linear interpolation): exact, but its memory grows with the data,
so it is meant for small calibration sets and for checking the histogram.
"""
from __future__ import annotations

import numpy as np

from .base import check_fraction
from .histogram import N_BINS, HistogramObserver

METHODS = ("histogram", "exact")


class PercentileObserver(HistogramObserver):
    """Clip at the p-th percentile of ``|x|`` (TensorRT's percentile calibrator).

    Parameters
    ----------
    percentile : float in (0, 100]
        99.9 or 99.99 are typical; 100 keeps the maximum.
    method : {"histogram", "exact"}
        A 2048-bin histogram (constant memory), or all values (exact, for small data).
    axis, unsigned, n_bins, bits
        See :class:`~quantref.calibration.histogram.HistogramObserver`; the percentile does not
        depend on ``bits``.

    Examples
    --------
    >>> obs = PercentileObserver(percentile=75.0, method="exact")
    >>> obs.update([0.0, -1.0, 2.0, 3.0, -4.0]).range()   # |x| sorted 0 1 2 3 4: 75th percentile is 3
    (-3.0, 3.0)
    """

    def __init__(self, percentile: float = 99.99, *, method: str = "histogram", axis=None, unsigned=None,
                 n_bins: int = N_BINS, bits: int = 8):
        super().__init__(bits, axis=axis, unsigned=unsigned, n_bins=n_bins)
        self.percentile = check_fraction(percentile, "percentile", low_open=0.0, high_closed=100.0,
                                         example="percentile=99.99")
        if method not in METHODS:
            raise ValueError(f"method={method!r} is not a percentile method; use 'histogram' (2048 bins, "
                             f"constant memory) or 'exact' (keeps every value, for small data).")
        self.method = method
        self._values = []

    def _observe(self, x: np.ndarray) -> None:
        super()._observe(x)
        if self.method == "exact":
            self._values.append(np.abs(x))

    def bin_width(self) -> np.ndarray | float:
        """Current histogram bin width ``top / n_bins`` per channel (the histogram method's resolution)."""
        self._require_data("histogram")
        w = self.hist.top / self.hist.n_bins
        return float(w[0]) if self.axis is None else w

    def _amax(self, bits: int) -> np.ndarray:
        p = self.percentile
        if self.method == "exact":
            return np.percentile(np.concatenate(self._values, axis=1), p, axis=1)
        counts = self.hist.counts
        cdf = np.cumsum(counts, axis=1)
        # cdf >= p/100 * N; the 1e-12 relative slack absorbs the binary rounding of a decimal p
        target = (p / 100.0) * cdf[:, -1] * (1 - 1e-12)
        j = np.argmax(cdf >= target[:, None], axis=1)
        return (j + 1) * self.hist.top / self.hist.n_bins

    def __repr__(self) -> str:
        return (f"PercentileObserver(percentile={self.percentile}, method={self.method!r}, axis={self.axis}, "
                f"n_batches={self.n_batches})")
