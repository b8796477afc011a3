"""Post-training quantization (PTQ) of the MLP with any calibrator, and the PTQ accuracy table.

PTQ quantizes a trained float model without training it further:

1. **weights**: symmetric per output channel (see :mod:`quantref.qat.network`), with ranges
   from ``weight_observer`` fed the weight matrix (``"minmax"``: ``max|W_c|``, the usual choice;
   TensorRT also calibrates weights with max);
2. **activations**: the float model runs on a small calibration mini-batch (128 training images by
   default, fed in batches of 32), and each layer's input goes to its own observer
   (``observer``: any of :data:`quantref.calibration.OBSERVERS`), which gives that input's
   asymmetric per-tensor range -- the calibrators that optimise the range do so for ``a_bits``;
3. the fake-quantized network (:class:`~quantref.qat.network.FakeQuantMLP`) is evaluated on the
   test split.
"""
from __future__ import annotations

import numbers

import numpy as np
from tqdm.auto import tqdm

from .._checks import as_float_array, check_bits
from ..calibration import OBSERVERS, HistogramObserver, Observer
from .network import FakeQuantMLP, float_layer_inputs, float_logits, layers_of

#: Calibrators of the PTQ table, in its column order.
TABLE_OBSERVERS = ("minmax", "moving_average", "percentile", "mse", "entropy")
#: (weight bits, activation bits) of the PTQ table's rows.
TABLE_CONFIGS = ((8, 8), (4, 8), (4, 4), (2, 8))
#: Default calibration set size (training images).
CALIB_SIZE = 128


def make_observer(spec, bits: int, *, axis=None) -> Observer:
    """A fresh observer from a name in :data:`quantref.calibration.OBSERVERS` or a factory.

    ``spec`` is a name (``"minmax"``, ``"moving_average"``, ``"percentile"`` (99.99), ``"mse"``,
    ``"entropy"``) or a callable ``spec(axis=...)`` returning an observer, e.g.
    ``lambda axis: PercentileObserver(99.9, axis=axis)``.
    """
    bits = check_bits(bits)
    if isinstance(spec, str):
        if spec not in OBSERVERS:
            raise ValueError(f"observer={spec!r} is not a calibrator; use one of {', '.join(map(repr, OBSERVERS))} "
                             f"or a callable axis -> Observer.")
        cls = OBSERVERS[spec]
        return cls(bits=bits, axis=axis) if issubclass(cls, HistogramObserver) else cls(axis=axis)
    if callable(spec):
        obs = spec(axis=axis)
        if not isinstance(obs, Observer):
            raise TypeError(f"the observer factory returned {type(obs).__name__}, not a quantref.calibration observer.")
        if obs.axis != axis:
            raise ValueError(f"the observer factory must honour axis={axis}, its observer has axis={obs.axis}.")
        return obs
    raise TypeError(f"observer must be a name ({', '.join(map(repr, OBSERVERS))}) or a callable axis -> Observer, "
                    f"got {type(spec).__name__}.")


def _default_data(data):
    if data is not None:
        return data
    from ..zoo import load_digits_split
    return load_digits_split()


def _default_mlp(mlp):
    if mlp is not None:
        return mlp
    from ..zoo import pretrained_mlp
    return pretrained_mlp()


def calibration_inputs(calib, data, seed: int = 0) -> np.ndarray:
    """The calibration images: an array as given, or ``calib`` (default 128) seeded draws from ``x_train``."""
    if calib is None or (isinstance(calib, numbers.Integral) and not isinstance(calib, (bool, np.bool_))):
        n = CALIB_SIZE if calib is None else int(calib)
        x = data.x_train
        if not 1 <= n <= len(x):
            raise ValueError(f"calib={n} calibration images requested, but the training split has {len(x)}; "
                             f"pass a number in [1, {len(x)}].")
        return x[np.random.default_rng(seed).choice(len(x), n, replace=False)]
    x = as_float_array(calib, "calib")
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"calib must be an int (number of training images) or a 2-D array of inputs, "
                         f"got shape {x.shape}.")
    return x


def calibrate_weight_ranges(layers, w_bits: int, weight_observer="minmax") -> list:
    """Per-output-channel ``(rmin, rmax)`` of every layer's weights from ``weight_observer`` (tuned for ``w_bits``)."""
    ranges = []
    for w, _ in layers:
        obs = make_observer(weight_observer, w_bits, axis=0).update(w)
        ranges.append(obs.range(w_bits) if isinstance(obs, HistogramObserver) else obs.range())
    return ranges


def calibrate_ptq(mlp, w_bits: int, a_bits: int, observer="minmax", calib=None, *, weight_observer="minmax",
                  data=None, batch_size: int = 32, seed: int = 0) -> FakeQuantMLP:
    """Calibrate a post-training-quantized copy of ``mlp`` (module docstring, steps 1 and 2).

    Parameters
    ----------
    mlp : MLP or list of (W, b)
        The trained float model (not modified).
    w_bits, a_bits : int
        Bit widths of weights and activations.
    observer : str or callable
        Calibrator of the activations, see :func:`make_observer`.
    calib : int or array, optional
        Calibration inputs, or how many training images to draw (seeded); default 128.
    weight_observer : str or callable
        Calibrator of the per-channel weight ranges (default ``"minmax"``).
    data : DigitsSplit, optional
        Default :func:`quantref.zoo.load_digits_split`.
    batch_size : int
        Calibration images per ``observer.update`` call.
    seed : int
        Seeds the draw of calibration images.

    Returns
    -------
    FakeQuantMLP
        With frozen ranges; ``.accuracy(x, y)`` evaluates it.
    """
    w_bits, a_bits = check_bits(w_bits), check_bits(a_bits)
    layers = layers_of(mlp)
    needs_data = calib is None or isinstance(calib, numbers.Integral)
    x = calibration_inputs(calib, _default_data(data) if needs_data else None, seed)
    act_observers = [make_observer(observer, a_bits) for _ in layers]
    for start in range(0, len(x), batch_size):
        for obs, a in zip(act_observers, float_layer_inputs(layers, x[start:start + batch_size])):
            obs.update(a)
    return FakeQuantMLP(layers, w_bits, a_bits, act_observers=act_observers,
                        weight_ranges=calibrate_weight_ranges(layers, w_bits, weight_observer))


def ptq_accuracy(mlp, w_bits: int, a_bits: int, observer="minmax", calib=None, *, weight_observer="minmax",
                 data=None, seed: int = 0) -> float:
    """Test accuracy of ``mlp`` after post-training quantization (see :func:`calibrate_ptq`).

    Examples
    --------
    >>> from quantref.zoo import pretrained_mlp
    >>> ptq_accuracy(pretrained_mlp(), 8, 8, observer="minmax") > 0.95
    True
    """
    data = _default_data(data)
    model = calibrate_ptq(mlp, w_bits, a_bits, observer, calib, weight_observer=weight_observer, data=data, seed=seed)
    return model.accuracy(data.x_test, data.y_test)


def ptq_table(mlp=None, configs=TABLE_CONFIGS, observers=TABLE_OBSERVERS, *, weight_observer="minmax", calib=None,
              data=None, seed: int = 0, progress: bool = True) -> list[dict]:
    """PTQ test accuracy for every (weight bits, activation bits) configuration and calibrator.

    The calibrators in ``observers`` calibrate the activations; the weights use
    ``weight_observer``, or each column's own calibrator with ``weight_observer="same"``.

    Returns
    -------
    list of dict
        One row per configuration: ``{"config": "W4A8", "w_bits": 4, "a_bits": 8, "float": acc,
        <observer>: acc, ...}`` (accuracies as fractions).
    """
    mlp, data = _default_mlp(mlp), _default_data(data)
    layers = layers_of(mlp)
    float_acc = _float_accuracy(mlp, layers, data)
    rows = []
    jobs = [(wb, ab, obs) for wb, ab in configs for obs in observers]
    results = {}
    for wb, ab, obs in tqdm(jobs, desc="PTQ table", disable=not progress):
        wobs = obs if weight_observer == "same" else weight_observer
        results[wb, ab, obs] = ptq_accuracy(layers, wb, ab, obs, calib, weight_observer=wobs, data=data, seed=seed)
    for wb, ab in configs:
        row = {"config": f"W{wb}A{ab}", "w_bits": wb, "a_bits": ab, "float": float_acc}
        row.update({_name(obs): results[wb, ab, obs] for obs in observers})
        rows.append(row)
    return rows


def _float_accuracy(mlp, layers, data) -> float:
    """The model's own accuracy if it has one (the zoo MLP computes in float32), else float64 logits'."""
    if hasattr(mlp, "accuracy"):
        return float(mlp.accuracy(data.x_test, data.y_test))
    return float(np.mean(np.argmax(float_logits(layers, data.x_test), axis=1) == data.y_test))


def _name(spec) -> str:
    return spec if isinstance(spec, str) else getattr(spec, "__name__", repr(spec))


def format_table(rows: list[dict], columns=None, percent: bool = True) -> str:
    """A Markdown table of ``rows``: accuracies (fractions) as percentages, ``*seconds`` columns as seconds."""
    if not rows:
        return ""
    columns = list(columns or rows[0].keys())

    def cell(key, v):
        if isinstance(v, float) and key.endswith("seconds"):
            return f"{v:.2f}"
        if isinstance(v, float) and percent and 0.0 <= v <= 1.0:
            return f"{100 * v:.1f}"
        if isinstance(v, float):
            return f"{v:.2f}"
        return str(v)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(c, r[c]) for c in columns) + " |" for r in rows]
    return "\n".join(lines)
