"""Calibration: observers that turn the tensors seen batch by batch into a quantization range.

=============================  =================================================================
observer                       range
=============================  =================================================================
``MinMaxObserver``             running min and max (PyTorch ``MinMaxObserver``)
``MovingAverageMinMaxObserver`` moving average of batch min and max, ``c = 0.01`` (PyTorch)
``PercentileObserver``         p-th percentile of ``|x|`` from a 2048-bin histogram (TensorRT)
``MSEObserver``                histogram-weighted squared-error minimiser (TensorRT "mse")
``EntropyObserver``            KL-divergence minimiser over 128 levels (TensorRT "entropy")
=============================  =================================================================

Every observer is fed with ``observer.update(batch)`` and read with ``observer.range()`` or
``observer.qparams(bits, symmetric=..., signed=..., narrow_range=...)`` (which calls
:func:`quantref.linear.qparams`); ``axis=`` gives one range per channel.  Modules, one idea
each: :mod:`.base`, :mod:`.minmax`, :mod:`.histogram` (the growing histogram of ``|x|``),
:mod:`.percentile`, :mod:`.mse`, :mod:`.entropy`.

Examples
--------
>>> import numpy as np
>>> obs = MinMaxObserver()
>>> for batch in np.array_split(np.arange(-3.0, 10.0), 4):
...     _ = obs.update(batch)
>>> obs.range()
(-3.0, 9.0)
"""
from .base import NoDataError, Observer
from .entropy import EntropyObserver, kl_divergences
from .histogram import N_BINS, AbsHistogram, HistogramObserver
from .minmax import MinMaxObserver, MovingAverageMinMaxObserver
from .mse import MSEObserver
from .percentile import PercentileObserver

#: Names accepted wherever an observer can be chosen by a string (e.g. :func:`quantref.qat.ptq_accuracy`).
OBSERVERS = {
    "minmax": MinMaxObserver,
    "moving_average": MovingAverageMinMaxObserver,
    "percentile": PercentileObserver,
    "mse": MSEObserver,
    "entropy": EntropyObserver,
}

__all__ = ["AbsHistogram", "EntropyObserver", "HistogramObserver", "MSEObserver", "MinMaxObserver",
           "MovingAverageMinMaxObserver", "N_BINS", "NoDataError", "OBSERVERS", "Observer", "PercentileObserver",
           "kl_divergences"]
