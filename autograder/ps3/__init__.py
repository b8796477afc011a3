"""Checks for problem set 3, calibration, fake quantization and quantization-aware training.

Each test cell of the assignment calls one of these with the student's function (they return
None: a value left at the end of a test cell would be read by nbgrader as partial credit)::

    from autograder.ps3 import check_fake_quantize
    check_fake_quantize(fake_quantize)                    # visible cases, inputs shown on failure
    check_fake_quantize(fake_quantize, suite="hidden")    # hidden cases, only their labels shown

The reference answers come from :mod:`quantref` (:mod:`quantref.calibration` for the observers,
:mod:`quantref.qat` for fake quantization, the straight-through backward, the QAT step of
``FakeQuantMLP`` and ``qat_finetune``); :mod:`.cases` holds the inputs and :mod:`.mistakes` the
known wrong answers that the feedback names.

The QAT run (exercise 7) is checked by the test accuracy of the network it returns, which must
come within :data:`QAT_TOLERANCE` of what :func:`quantref.qat.qat_finetune` reaches with the
same settings and shuffle: a correct loop matches it to about one point (computed in float32,
to about two), while a network that does not learn stays near the 53 % of post-training
quantization at 2 bits.
"""
from __future__ import annotations

import hashlib
from typing import NamedTuple

import numpy as np

from quantref.calibration import MinMaxObserver, MovingAverageMinMaxObserver, PercentileObserver
from quantref.qat import FakeQuantMLP, fake_quantize_backward, fake_quantize_forward, qat_finetune
from quantref.zoo import DigitsSplit

from ..checking import (ProblemSet, Exercise, compare_float_array, compare_tuple)
from . import cases, mistakes

#: A QAT run passes when its test accuracy is at least quantref's minus this (a fraction: 5 points).
QAT_TOLERANCE = 0.05


# -- comparisons ------------------------------------------------------------------------------------

def _number(got, expected) -> str | None:
    # 1e-9 relative: the same float64 formula written in another order agrees to ~1e-15.
    if got is None:
        return "got None, expected a number"
    return compare_float_array(got, expected, rtol=1e-9, atol=1e-12)


def _compare_range(got, expected) -> str | None:
    return compare_tuple(got, expected, [("rmin", _number), ("rmax", _number)])


def _compare_values(got, expected) -> str | None:
    # fake-quantized values s * (q - z): 1e-9 relative, 1e-12 absolute for s*q - s*z at q = z
    return compare_float_array(got, expected, rtol=1e-9, atol=1e-12)


def _compare_gradient(got, expected) -> str | None:
    # the gradient is either grad or 0, element by element: exact up to float rounding
    return compare_float_array(got, expected, rtol=1e-12, atol=0.0)


def _compare_grad_array(got, expected) -> str | None:
    # backpropagation through two or three layers in another order agrees to ~1e-14; every known
    # mistake changes the gradients by far more than 1e-6 relative
    return compare_float_array(got, expected, rtol=1e-6, atol=1e-10)


def _is_pair(value) -> bool:
    return isinstance(value, (tuple, list)) and len(value) == 2


def _compare_step(got, expected) -> str | None:
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        return f"expected a tuple (loss, grads, act_ranges), got {type(got).__name__}"
    loss, grads, ranges = got
    e_loss, e_grads, e_ranges = expected
    difference = _number(loss, e_loss)
    if difference is not None:
        return f"loss: {difference}"
    n = len(e_grads)
    if not isinstance(grads, (tuple, list)) or len(grads) != n or not all(_is_pair(g) for g in grads):
        return f"grads: expected a list of {n} pairs (dW, db), one per layer"
    for i, ((dw, db), (e_dw, e_db)) in enumerate(zip(grads, e_grads)):
        for name, g, e in ((f"dW of layer {i}", dw, e_dw), (f"db of layer {i}", db, e_db)):
            difference = _compare_grad_array(g, e)
            if difference is not None:
                return f"grads: {name}: {difference}"
    if not isinstance(ranges, (tuple, list)) or len(ranges) != n:
        return f"act_ranges: expected a list of {n} pairs (rmin, rmax), one per layer input"
    for i, (r, e) in enumerate(zip(ranges, e_ranges)):
        difference = _compare_range(r, e)
        if difference is not None:
            return f"act_ranges[{i}] (the input of layer {i}): {difference}"
    return None


class QATRun(NamedTuple):
    """What the reference QAT run reached; the comparison evaluates the student's network against it."""

    accuracy: float
    w_bits: int
    a_bits: int
    shapes: tuple


def _test_split():
    return cases.digits()[1]


def _network(layers, act_ranges, w_bits, a_bits) -> FakeQuantMLP:
    observers = [MinMaxObserver().update(np.array([float(lo), float(hi)])) for lo, hi in act_ranges]
    return FakeQuantMLP([(np.asarray(w), np.asarray(b)) for w, b in layers], w_bits, a_bits, act_observers=observers)


def _trained_parts(got, expected: QATRun):
    """``(layers, act_ranges, None)`` from a student's result, or ``(None, None, what is wrong)``."""
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return None, None, f"expected a tuple (layers, act_ranges), got {type(got).__name__}"
    layers, ranges = got
    n = len(expected.shapes)
    if not isinstance(layers, (tuple, list)) or len(layers) != n or not all(_is_pair(p) for p in layers):
        return None, None, f"layers: expected a list of {n} pairs (W, b)"
    for i, ((w, b), (ws, bs)) in enumerate(zip(layers, expected.shapes)):
        for name, v, shape in (("W", w, ws), ("b", b, bs)):
            arr = np.asarray(v)
            if arr.shape != shape or not np.issubdtype(arr.dtype, np.floating) or not np.all(np.isfinite(arr)):
                return None, None, f"layers[{i}] {name}: expected finite floats of shape {shape}"
    if not isinstance(ranges, (tuple, list)) or len(ranges) != n or not all(_is_pair(r) for r in ranges):
        return None, None, f"act_ranges: expected a list of {n} pairs (rmin, rmax)"
    for i, (lo, hi) in enumerate(ranges):
        if lo is None or hi is None:
            return None, None, (f"act_ranges[{i}] is still (None, None): keep the ranges that qat_step returns "
                                f"and pass them to the next step")
        try:
            lo, hi = float(lo), float(hi)
        except (TypeError, ValueError):
            return None, None, f"act_ranges[{i}]: expected two numbers, got {ranges[i]!r}"
        if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
            return None, None, f"act_ranges[{i}] = ({lo}, {hi}) is not a range"
    return layers, ranges, None


def _accuracy_of(layers, act_ranges, expected: QATRun):
    try:
        data = _test_split()
        return _network(layers, act_ranges, expected.w_bits, expected.a_bits).accuracy(data.x_test, data.y_test)
    except Exception:  # noqa: BLE001 - a malformed network has no accuracy
        return None


def _compare_qat_run(got, expected: QATRun) -> str | None:
    layers, ranges, problem = _trained_parts(got, expected)
    if problem:
        return problem
    accuracy = _accuracy_of(layers, ranges, expected)
    if accuracy is None:
        return "the returned network cannot be evaluated"
    need = expected.accuracy - QAT_TOLERANCE
    if accuracy < need:
        return (f"test accuracy of the fine-tuned network (W{expected.w_bits}A{expected.a_bits}) is "
                f"{100 * accuracy:.1f} %; quantref's QAT with the same settings reaches "
                f"{100 * expected.accuracy:.1f} %, "
                f"so at least {100 * need:.1f} % is needed")
    return None


# -- references (quantref) --------------------------------------------------------------------------

def _ref_update_minmax(state, batch):
    obs = MinMaxObserver()
    if state is not None:
        obs.update(np.array(state, dtype=np.float64))
    return obs.update(batch).range()


def _ref_moving_average(rmin, rmax, batch, c):
    obs = MovingAverageMinMaxObserver(averaging_constant=c)
    if rmin is not None:
        obs.update(np.array([rmin, rmax], dtype=np.float64))   # the first update sets the range exactly
    return obs.update(batch).range()


def _ref_percentile(x, p):
    return PercentileObserver(percentile=p, method="exact").update(x).range()


def _per_channel(x, scale, zero_point):
    """quantref's ``(scale, zero_point, axis)`` for parameters that broadcast against ``x`` (e.g. shape (out, 1))."""
    s = np.asarray(scale, dtype=np.float64)
    if s.ndim == 0:
        return float(s), int(np.asarray(zero_point)), None
    axis = next(i for i, n in enumerate(s.shape) if n != 1)
    z = np.broadcast_to(np.asarray(zero_point, dtype=np.int64), s.shape)
    return s.reshape(-1), z.reshape(-1), axis


def _ref_fake_quantize(x, scale, zero_point, qmin, qmax):
    s, z, axis = _per_channel(x, scale, zero_point)
    return fake_quantize_forward(x, s, z, qmin, qmax, axis=axis)


def _ref_ste(grad, x, scale, zero_point, qmin, qmax):
    s, z, axis = _per_channel(x, scale, zero_point)
    return fake_quantize_backward(grad, x, s, z, qmin, qmax, axis=axis)


def _ref_qat_step(layers, act_ranges, x, y, w_bits, a_bits, c):
    observers = []
    for rmin, rmax in act_ranges:
        obs = MovingAverageMinMaxObserver(averaging_constant=c)
        if rmin is not None:
            obs.update(np.array([rmin, rmax], dtype=np.float64))
        observers.append(obs)
    model = FakeQuantMLP(layers, w_bits, a_bits, act_observers=observers)   # weight ranges: max|W_c| at each step
    loss, grads = model.loss_and_gradients(x, y, observe=True)
    return loss, grads, [obs.range() for obs in observers]


_QAT_RUNS: dict = {}


def _ref_qat_train(layers, x, y, w_bits, a_bits, epochs, batch_size, lr, c, seed):
    key = hashlib.sha1()
    for arr in [a for pair in layers for a in pair] + [x, y]:
        key.update(np.ascontiguousarray(arr).tobytes())
    key.update(repr((w_bits, a_bits, epochs, batch_size, lr, c, seed)).encode())
    if key.hexdigest() not in _QAT_RUNS:
        data = _test_split()
        model = qat_finetune(layers, w_bits, a_bits, epochs, seed, progress=False, lr=lr, batch_size=batch_size,
                             weight_observer="minmax", averaging_constant=c,
                             data=DigitsSplit(x, data.x_test, y, data.y_test))
        _QAT_RUNS[key.hexdigest()] = model.accuracy(data.x_test, data.y_test)
    shapes = tuple((np.shape(w), np.shape(b)) for w, b in layers)
    return QATRun(_QAT_RUNS[key.hexdigest()], w_bits, a_bits, shapes)


EXERCISES = {
    "update_minmax": Exercise("update_minmax", _ref_update_minmax, _compare_range, cases.update_minmax_cases,
                              mistakes.build(mistakes.update_minmax_wrong(), _compare_range), points=(1, 1)),
    "moving_average_update": Exercise("moving_average_update", _ref_moving_average, _compare_range,
                                      cases.moving_average_cases,
                                      mistakes.build(mistakes.moving_average_wrong(), _compare_range), points=(1, 1)),
    "percentile_range": Exercise("percentile_range", _ref_percentile, _compare_range, cases.percentile_cases,
                                 mistakes.build(mistakes.percentile_wrong(), _compare_range), points=(1, 2)),
    "fake_quantize": Exercise("fake_quantize", _ref_fake_quantize, _compare_values, cases.fake_quantize_cases,
                              mistakes.build(mistakes.fake_quantize_wrong(), _compare_values), points=(1, 2)),
    "ste_backward": Exercise("ste_backward", _ref_ste, _compare_gradient, cases.ste_cases,
                             mistakes.build(mistakes.ste_wrong(), _compare_gradient), points=(1, 2)),
    "qat_step": Exercise("qat_step", _ref_qat_step, _compare_step, cases.qat_step_cases,
                         mistakes.build(mistakes.qat_step_wrong(), _compare_step), points=(1, 3)),
    "qat_train": Exercise("qat_train", _ref_qat_train, _compare_qat_run, cases.qat_train_cases,
                          mistakes.qat_train_mistakes(_accuracy_of), time_limit=60.0, points=(1, 2)),
}


#: Exercises whose worked solution calls another exercise's answer: a mistake in the callee
#: also costs the caller's points (the nbgrader tests allow for exactly these).
USES = {"qat_step": {"moving_average_update", "fake_quantize", "ste_backward"},
        "qat_train": {"qat_step", "moving_average_update", "fake_quantize", "ste_backward"}}

#: The registry: the notebook's ``check_<exercise>`` and ``require``, the trusted grader and the tests
#: all come from here.
PROBLEM_SET = ProblemSet("ps3_ptq_qat", EXERCISES, uses=USES)
globals().update(PROBLEM_SET.notebook_api())
