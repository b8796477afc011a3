"""Checks for problem set 7, adaptive rounding (AdaRound, Nagel et al. 2020) of one linear layer.

Each test cell of the assignment calls one of these with the student's function (they return
None: a value left at the end of a test cell would be read by nbgrader as partial credit)::

    from autograder.ps7 import check_rectified_sigmoid
    check_rectified_sigmoid(rectified_sigmoid)                    # visible cases, inputs shown on failure
    check_rectified_sigmoid(rectified_sigmoid, suite="hidden")    # hidden cases, only their labels shown

The reference answers come from :mod:`quantref.adaround` (``rectified_sigmoid``,
``rectified_sigmoid_grad``, ``initial_v``, ``rounding_regularizer`` and its gradient, ``beta_at``,
``soft_weight``, ``hard_rounding``, ``adaround_layer``); :mod:`.cases` holds the inputs and
:mod:`.mistakes` the known wrong answers that the feedback names.  Codes and schedules are compared
exactly (up to the last bits of a float), floats with the tolerances stated at each comparison.

AdaRound on a layer is an optimisation, so its codes are not compared bit for bit: they must be
integers on the grid, each weight rounded down or up (``floor(W/s)`` or ``floor(W/s) + 1``,
clipped), and the layer's output error must be below round-to-nearest's and at most
:data:`ADAROUND_FACTOR` times the output error of quantref's own AdaRound on the same inputs.
"""
from __future__ import annotations

import numpy as np

from quantref import adaround as ar

from ..checking import Exercise, ProblemSet, compare_float_array, compare_integer_array, compare_tuple
from . import cases, mistakes

#: How much larger than quantref's output error a correct AdaRound may end.  Hundreds of Adam steps
#: amplify rounding-level differences (the Gram matrix or the inputs themselves in the products, the
#: order of the sums, Adam's epsilon inside or outside the root): over 24 test layers independent
#: correct implementations ended between 0.99 and 1.03 times quantref's error, because a few
#: borderline weights go the other way.  The cases keep only layers where a step size changed by one
#: part in a million moves the error by less than 5 %.  1.2 leaves room for that; the optimisation's
#: named mistakes end far above it (the regularizer's gradient with the wrong sign: 1.5 to 4.3 times).
ADAROUND_FACTOR = 1.2


# -- comparisons ------------------------------------------------------------------------------------

def _compare_values(got, expected) -> str | None:
    # h and dh/dV lie in [0, 1] and [0, 0.3]: 1 / (1 + exp(-V)), 0.5 (1 + tanh(V/2)) and scipy's expit
    # agree to a few 1e-16; 1e-12 absolute leaves room for that, every named mistake moves a value by
    # more than 1e-3.
    return compare_float_array(got, expected, rtol=0.0, atol=1e-12)


def _compare_v(got, expected) -> str | None:
    # V = log(p / (1 - p)): the fraction W/s - floor(W/s) carries |W/s| * 1e-16 of rounding, and
    # dV/drest <= 1 / (1.2 * (1/12) * (11/12)) = 13; the cases keep W/s at least 1e-3 from any integer.
    return compare_float_array(got, expected, rtol=1e-9, atol=1e-9)


def _compare_regularizer(got, expected) -> str | None:
    # A sum of up to 1000 terms in [0, 1] (order of summation: ~1e-13); gradients up to
    # 2 * 20 * 0.3 = 12, each the product of a few rounded factors.
    value = lambda g, e: compare_float_array(g, e, rtol=1e-9, atol=1e-9)  # noqa: E731
    grad = lambda g, e: compare_float_array(g, e, rtol=1e-9, atol=1e-10)  # noqa: E731
    return compare_tuple(got, expected, [("value", value), ("gradient", grad)])


def _compare_schedule(got, expected) -> str | None:
    """None at the same steps; the betas to 1e-12 relative (20 - 18 rel or 2 + 18 (1 - rel), in any order)."""
    if isinstance(got, np.ndarray):
        got = got.tolist()
    if not isinstance(got, (list, tuple)):
        return f"expected a list with one entry per iteration, got {type(got).__name__}"
    if len(got) != len(expected):
        return f"{len(got)} entries, expected {len(expected)} (one per iteration)"
    for t, (g, e) in enumerate(zip(got, expected)):
        if (g is None) != (e is None):
            want = "None (warm start: no regularizer)" if e is None else f"beta {e!r}"
            return f"step {t}: got {g!r}, expected {want}"
        if e is None:
            continue
        try:
            g = float(g)
        except (TypeError, ValueError):
            return f"step {t}: got {g!r}, expected a number"
        if not np.isclose(g, e, rtol=1e-12, atol=0.0):
            return f"step {t}: got beta {g!r}, expected {e!r}"
    return None


def _compare_soft(got, expected) -> str | None:
    # s * (integer + h): a product of two rounded numbers, a few 1e-16 relative.
    return compare_float_array(got, expected, rtol=1e-12, atol=1e-15)


def _compare_codes(got, expected) -> str | None:
    """Exact integer codes, any integer dtype."""
    if isinstance(got, np.ndarray) and (got.dtype == np.bool_ or not np.issubdtype(got.dtype, np.integer)):
        return f"expected integer codes, got dtype {got.dtype} (cast with .astype(np.int64))"
    return compare_integer_array(got, np.asarray(expected))


def _compare_adaround(got, expected) -> str | None:
    """Integer codes on the grid, each floor or floor + 1; output error below nearest's, within the factor of quantref's."""
    if not isinstance(got, np.ndarray):
        return f"expected a NumPy array of integer codes, got {type(got).__name__}"
    if got.dtype == np.bool_ or not np.issubdtype(got.dtype, np.integer):
        return f"expected integer codes, got dtype {got.dtype} (return the codes, not the weights s * code)"
    ref = expected["codes"]
    if got.shape != ref.shape:
        return f"shape {got.shape}, expected {ref.shape} (the shape of the weights)"
    c = got.astype(np.int64)
    qmin, qmax = expected["qmin"], expected["qmax"]
    off = (c < qmin) | (c > qmax)
    if off.any():
        return f"{int(off.sum())} of {c.size} codes lie outside the grid [{qmin}, {qmax}]"
    down = np.clip(expected["floor"], qmin, qmax)
    up = np.clip(expected["floor"] + 1, qmin, qmax)
    other = (c != down) & (c != up)
    if other.any():
        idx = tuple(int(i) for i in np.argwhere(other)[0])
        return (f"{int(other.sum())} of {c.size} codes are neither floor(W/s) nor floor(W/s) + 1 (clipped to the "
                f"grid); first at index {idx}: got {c[idx]}, expected {down[idx]} or {up[idx]}")
    d = expected["w"] - expected["scale"][:, None] * c
    error = float(np.sum((d @ expected["gram"]) * d))
    # R through the Gram matrix here, through X in quantref: equal roundings agree to ~1e-15 relative
    if error >= expected["nearest_error"] * (1 - 1e-9):
        return (f"the output error of your rounding, {error:.6g}, is not below round-to-nearest's, "
                f"{expected['nearest_error']:.6g}")
    if error > ADAROUND_FACTOR * expected["error"]:
        return (f"the output error of your rounding, {error:.6g}, is more than {ADAROUND_FACTOR:g} times that of "
                f"quantref's AdaRound on the same layer, {expected['error']:.6g} (round-to-nearest: "
                f"{expected['nearest_error']:.6g})")
    return None


# -- references (quantref.adaround) ------------------------------------------------------------------

def _ref_sigmoid(v):
    return ar.rectified_sigmoid(v)


def _ref_sigmoid_grad(v):
    return ar.rectified_sigmoid_grad(v)


def _ref_initial_v(w, scale):
    w = np.asarray(w, dtype=np.float64)
    return ar.initial_v(w / np.asarray(scale)[:, None] - ar.floor_codes(w, scale))


def _ref_regularizer(v, beta):
    return ar.rounding_regularizer(ar.rectified_sigmoid(v), beta), ar.rounding_regularizer_grad(v, beta)


def _ref_schedule(iters):
    return [ar.beta_at(t, iters) for t in range(iters)]


def _ref_soft(w, scale, v, qmin, qmax):
    return ar.soft_weight(w, scale, v, qmin, qmax)


def _ref_hard(w, scale, v, qmin, qmax):
    return ar.hard_rounding(w, scale, v, qmin, qmax)


def _ref_adaround(w, scale, x, bits, iters, lr):
    """quantref's AdaRound codes, with what the comparison needs to judge another rounding."""
    res = ar.adaround_layer(w, x, bits, iters=iters, lr=lr, scale=scale, progress=False)
    x = np.asarray(x, dtype=np.float64)
    qmax = 2 ** (bits - 1) - 1
    return dict(codes=res.codes.astype(np.int64), error=res.error, nearest_error=res.nearest_error,
                floor=ar.floor_codes(w, scale).astype(np.int64), qmin=-qmax, qmax=qmax,
                w=np.asarray(w, dtype=np.float64), scale=np.asarray(scale, dtype=np.float64), gram=x.T @ x / len(x))


EXERCISES = {
    "rectified_sigmoid": Exercise("rectified_sigmoid", _ref_sigmoid, _compare_values, cases.sigmoid_cases,
                                  mistakes.build(mistakes.sigmoid_wrong(), _compare_values), points=(1, 1)),
    "rectified_sigmoid_grad": Exercise("rectified_sigmoid_grad", _ref_sigmoid_grad, _compare_values, cases.sigmoid_cases,
                                       mistakes.build(mistakes.sigmoid_grad_wrong(), _compare_values), points=(1, 1)),
    "initial_v": Exercise("initial_v", _ref_initial_v, _compare_v, cases.initial_v_cases,
                          mistakes.build(mistakes.initial_v_wrong(), _compare_v) + mistakes.initial_v_extra(),
                          points=(1, 2)),
    "rounding_regularizer": Exercise("rounding_regularizer", _ref_regularizer, _compare_regularizer,
                                     cases.regularizer_cases,
                                     mistakes.build(mistakes.regularizer_wrong(), _compare_regularizer), points=(1, 3)),
    "beta_schedule": Exercise("beta_schedule", _ref_schedule, _compare_schedule, cases.schedule_cases,
                              mistakes.build(mistakes.schedule_wrong(), _compare_schedule), points=(1, 2)),
    "soft_weight": Exercise("soft_weight", _ref_soft, _compare_soft, cases.rounding_cases,
                            mistakes.build(mistakes.soft_wrong(), _compare_soft), points=(1, 2)),
    "hard_rounding": Exercise("hard_rounding", _ref_hard, _compare_codes, cases.rounding_cases,
                              mistakes.build(mistakes.hard_wrong(), _compare_codes) + mistakes.hard_extra(),
                              points=(1, 1)),
    "adaround_layer": Exercise("adaround_layer", _ref_adaround, _compare_adaround, cases.adaround_cases,
                               mistakes.adaround_extra(), points=(2, 3), time_limit=30.0),
}


#: Exercises whose worked solution calls another exercise's answer: a mistake in the callee
#: also costs the caller's points (the nbgrader tests allow for exactly these).
USES = {"rounding_regularizer": {"rectified_sigmoid", "rectified_sigmoid_grad"},
        "soft_weight": {"rectified_sigmoid"},
        "adaround_layer": {"rectified_sigmoid", "rectified_sigmoid_grad", "initial_v", "rounding_regularizer",
                           "beta_schedule", "soft_weight", "hard_rounding"}}

#: The registry: the notebook's ``check_<exercise>`` and ``require``, the trusted grader and the tests
#: all come from here.
PROBLEM_SET = ProblemSet("ps7_adaptive_rounding", EXERCISES, uses=USES)
globals().update(PROBLEM_SET.notebook_api())
