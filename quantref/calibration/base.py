"""What every observer shares: batch-by-batch updates, one range per tensor or per channel.

An *observer* (PyTorch's word; TensorRT says *calibrator*) watches the tensors that flow through
one point of a network, batch by batch, and turns what it saw into a real range
``(rmin, rmax)``.  The range becomes a scale and zero point through
:func:`quantref.linear.qparams`, which first widens it to contain 0, so that real 0 is exactly
representable.

Granularity follows :mod:`quantref.linear.granularity`: ``axis=None`` keeps one range for the
whole tensor; ``axis=a`` keeps one range per index along axis ``a`` (the output channels of a
weight ``W[out, in]`` are ``axis=0``), reducing over every other axis.  Batches may differ in
every dimension except the channel axis.

Subclasses implement two hooks: ``_observe(x2d)`` receives each batch as a float64 array of
shape ``(channels, values)`` and ``_compute_range(bits)`` returns arrays of shape
``(channels,)``.
"""
from __future__ import annotations

import numbers

import numpy as np

from .._checks import as_float_array, check_axis, check_bits
from ..linear import qparams as _linear_qparams


class NoDataError(ValueError):
    """Raised when a range is requested from an observer that has not seen any data."""


class Observer:
    """Base class of the observers: collects statistics with :meth:`update`, reports a range.

    Parameters
    ----------
    axis : int or None
        ``None`` for one range per tensor, or the channel axis for one range per channel.

    Attributes
    ----------
    n_batches : int
        Number of batches seen so far.
    n_values : int
        Number of values seen so far (per channel when ``axis`` is set).
    """

    def __init__(self, axis=None):
        if axis is not None and (isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral)):
            raise TypeError(f"axis must be an integer (the channel axis) or None (per tensor), got {axis!r}.")
        self.axis = None if axis is None else int(axis)
        self.n_batches = 0
        self.n_values = 0
        self._channels = None
        self._ndim = None

    # ------------------------------------------------------------------ feeding
    def _as_channels(self, batch) -> np.ndarray:
        """Validate a batch and reshape it to ``(channels, values)`` in float64."""
        x = as_float_array(batch, "batch")
        if x.size == 0:
            raise ValueError(f"batch is empty (shape {x.shape}); pass at least one value per update.")
        if self.axis is None:
            return x.reshape(1, -1)
        if x.ndim == 0:
            raise ValueError(f"a per-channel observer (axis={self.axis}) needs an array with that axis, "
                             f"got a scalar; pass the whole tensor or use axis=None.")
        axis = check_axis(self.axis, x.ndim)
        channels = x.shape[axis]
        if self._channels is not None and channels != self._channels:
            raise ValueError(
                f"batch has {channels} channels along axis {self.axis}, but earlier batches had "
                f"{self._channels}; every batch must have the same channel count (use a new observer "
                f"for a different tensor)."
            )
        return np.moveaxis(x, axis, 0).reshape(channels, -1)

    def update(self, batch) -> "Observer":
        """Feed one batch; returns the observer, so that calls can be chained.

        Raises
        ------
        TypeError
            For non-numeric data.
        ValueError
            For empty batches, NaN or inf, or a channel count that differs from earlier batches.
        """
        x = self._as_channels(batch)
        self._channels = x.shape[0]
        self._observe(x)
        self.n_batches += 1
        self.n_values += x.shape[1]
        return self

    def _observe(self, x: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------------ reading
    def _require_data(self, what: str) -> None:
        if self.n_batches == 0:
            raise NoDataError(
                f"{type(self).__name__} has seen no data, so it has no {what}; call "
                f"observer.update(batch) with at least one batch first."
            )

    def _compute_range(self, bits: int) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def _default_bits(self) -> int:
        return 8

    def range(self, bits=None):
        """The calibrated range ``(rmin, rmax)``: floats per tensor, arrays of shape ``(C,)`` per channel.

        ``bits`` matters only to the observers that optimise the range for a bit width
        (:class:`~quantref.calibration.MSEObserver`, :class:`~quantref.calibration.EntropyObserver`);
        ``None`` uses the bit width they were built with.

        The range is what was calibrated, not yet widened to contain 0; :meth:`qparams` widens it.
        """
        self._require_data("range")
        bits = self._default_bits() if bits is None else check_bits(bits)
        lo, hi = self._compute_range(bits)
        if self.axis is None:
            return float(lo[0]), float(hi[0])
        return lo.astype(np.float64), hi.astype(np.float64)

    def qparams(self, bits: int = 8, *, symmetric: bool = False, signed=None, narrow_range: bool = False):
        """Scale and zero point from :meth:`range`, via :func:`quantref.linear.qparams`.

        The formulas are :func:`quantref.linear.asymmetric_qparams` and
        :func:`quantref.linear.symmetric_qparams`: the range is widened to ``[min(rmin, 0),
        max(rmax, 0)]`` and ``s = (rmax' - rmin') / (qmax - qmin)`` (asymmetric) or
        ``s = amax / ((qmax - qmin) / 2)`` (symmetric), floored at float32 epsilon.
        """
        bits = check_bits(bits)
        lo, hi = self.range(bits)
        return _linear_qparams(lo, hi, bits, symmetric=symmetric, signed=signed, narrow_range=narrow_range)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(axis={self.axis}, n_batches={self.n_batches})"


def check_fraction(value, name: str, *, low_open: float, high_closed: float, example: str) -> float:
    """Return ``value`` as a float in ``(low_open, high_closed]``, or raise naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} of type {type(value).__name__}; "
                        f"pass e.g. {example}.")
    value = float(value)
    if not (low_open < value <= high_closed):
        raise ValueError(f"{name}={value!r} is out of range: it must lie in ({low_open:g}, {high_closed:g}]; "
                         f"pass e.g. {example}.")
    return value
