r"""Min/max observers: the running extremes, or their exponential moving average (PyTorch).

:class:`MinMaxObserver` keeps the smallest and largest value seen,

.. math::

    r_{min} = \min_t \min(x_t), \qquad r_{max} = \max_t \max(x_t),

and :class:`MovingAverageMinMaxObserver` follows PyTorch's ``MovingAverageMinMaxObserver``: the
first batch sets the range, each later batch ``t`` moves it a fraction ``c`` of the way towards
the batch's own extremes,

.. math::

    r_{min} \leftarrow r_{min} + c\,(\min(x_t) - r_{min}), \qquad
    r_{max} \leftarrow r_{max} + c\,(\max(x_t) - r_{max}),

with ``c = 0.01`` by default.  Both work per tensor and per channel, in float64.
"""
from __future__ import annotations

import numpy as np

from .base import Observer, check_fraction


class MinMaxObserver(Observer):
    """The running minimum and maximum; ``range()`` is ``(min, max)`` of everything seen.

    Examples
    --------
    >>> obs = MinMaxObserver()
    >>> obs.update([-1.0, 0.5]).update([2.0, 0.0]).range()
    (-1.0, 2.0)
    >>> obs.qparams(bits=8)          # s = (2 - (-1)) / 255, z = 0 - round(-1 / s) = 85
    (0.011764705882352941, 85)
    """

    def __init__(self, axis=None):
        super().__init__(axis)
        self.min_val = None
        self.max_val = None

    def _observe(self, x: np.ndarray) -> None:
        lo, hi = x.min(axis=1), x.max(axis=1)
        if self.min_val is None:
            self.min_val, self.max_val = lo, hi
        else:
            self.min_val = np.minimum(self.min_val, lo)
            self.max_val = np.maximum(self.max_val, hi)

    def _compute_range(self, bits: int):
        return self.min_val.copy(), self.max_val.copy()


class MovingAverageMinMaxObserver(MinMaxObserver):
    """Exponential moving average of the batch extremes (PyTorch's rule, ``c = 0.01``).

    Parameters
    ----------
    averaging_constant : float in (0, 1]
        The weight ``c`` of the newest batch; ``c = 1`` keeps only the last batch.
    axis : int or None
        Per tensor or per channel, see :class:`~quantref.calibration.base.Observer`.

    Examples
    --------
    >>> obs = MovingAverageMinMaxObserver(averaging_constant=0.5)
    >>> obs.update([0.0, 4.0]).update([-2.0, 2.0]).range()   # min: 0 + 0.5 (-2 - 0); max: 4 + 0.5 (2 - 4)
    (-1.0, 3.0)
    """

    def __init__(self, averaging_constant: float = 0.01, axis=None):
        super().__init__(axis)
        self.averaging_constant = check_fraction(averaging_constant, "averaging_constant", low_open=0.0,
                                                 high_closed=1.0, example="averaging_constant=0.01")

    def _observe(self, x: np.ndarray) -> None:
        lo, hi = x.min(axis=1), x.max(axis=1)
        if self.min_val is None:
            self.min_val, self.max_val = lo, hi
        else:
            c = self.averaging_constant
            self.min_val = self.min_val + c * (lo - self.min_val)
            self.max_val = self.max_val + c * (hi - self.max_val)

    def __repr__(self) -> str:
        return (f"MovingAverageMinMaxObserver(averaging_constant={self.averaging_constant}, axis={self.axis}, "
                f"n_batches={self.n_batches})")
