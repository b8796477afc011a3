"""Known mistakes of problem set 7, each a small wrong implementation or a test on the output.

The checks compare a failing answer with each of these; a match names the mistake in the
feedback.  Each wrong implementation differs from the exercise in exactly one way.  They are
written with NumPy alone: the reference answers come from :mod:`quantref.adaround`, these only
need to reproduce a wrong answer.  AdaRound on a layer is graded by the output error its
rounding reaches, not bit for bit, so its mistakes are recognised from the codes themselves
(:func:`adaround_extra`).
"""
from __future__ import annotations

import numpy as np

from ..checking import Mistake

ZETA, GAMMA = 1.1, -0.1


def build(wrong: list, compare) -> list:
    """:class:`Mistake` s from ``(name, wrong implementation)`` pairs."""
    return [Mistake.from_function(name, func, compare) for name, func in wrong]


def _sig(v):
    return 1.0 / (1.0 + np.exp(-np.asarray(v, dtype=np.float64)))


def _h(v, *, stretch=True, clip=True, swap=False):
    z, g = (GAMMA, ZETA) if swap else (ZETA, GAMMA)
    h = _sig(v) * (z - g) + g if stretch else _sig(v)
    return np.clip(h, 0.0, 1.0) if clip else h


def _dh(v, *, zeroed=True, factor=True, of_h=False):
    s = _sig(v)
    raw = s * (ZETA - GAMMA) + GAMMA
    if of_h:
        hc = np.clip(raw, 0.0, 1.0)
        d = hc * (1 - hc)
    else:
        d = s * (1 - s)
    d = d * ((ZETA - GAMMA) if factor else 1.0)
    return np.where((raw > 0) & (raw < 1), d, 0.0) if zeroed else d


# -- exercise 1: the rectified sigmoid -------------------------------------------------------------------

def sigmoid_wrong() -> list:
    return [
        ("the sigmoid without the stretch: h = clip(sigmoid(V) * (zeta - gamma) + gamma, 0, 1) with zeta = 1.1, "
         "gamma = -0.1, so that h reaches 0 and 1 for finite V", lambda v: _h(v, stretch=False)),
        ("stretched but not clipped: h must be clipped to [0, 1]", lambda v: _h(v, clip=False)),
        ("zeta and gamma swapped: sigmoid(V) * (zeta - gamma) + gamma rises from 0 to 1 as V grows",
         lambda v: _h(v, swap=True)),
    ]


# -- exercise 2: its gradient ---------------------------------------------------------------------------

def sigmoid_grad_wrong() -> list:
    return [
        ("the gradient is not zeroed where h is clipped: where sigmoid(V) * 1.2 - 0.1 is outside (0, 1), h is "
         "constant and dh/dV = 0", lambda v: _dh(v, zeroed=False)),
        ("the factor zeta - gamma = 1.2 of the stretch is missing: dh/dV = (zeta - gamma) sigmoid(V) (1 - sigmoid(V))",
         lambda v: _dh(v, factor=False)),
        ("the derivative of the plain sigmoid (no stretch factor, never zeroed)",
         lambda v: _dh(v, factor=False, zeroed=False)),
        ("h (1 - h) instead of sigmoid(V) (1 - sigmoid(V)): the derivative of the sigmoid is in terms of sigmoid(V), "
         "not of the stretched h", lambda v: _dh(v, of_h=True)),
    ]


# -- exercise 3: the initial V ---------------------------------------------------------------------------

def _rest(w, scale, how="floor"):
    q = np.asarray(w, dtype=np.float64) / np.asarray(scale, dtype=np.float64)[:, None]
    if how == "abs":
        q = np.abs(q)
    return q - np.floor(q)


def _logit(p):
    return np.log(p / (1.0 - p))


def initial_v_wrong() -> list:
    return [
        ("the sign is flipped: V = log(p / (1 - p)) with p = (rest - gamma) / (zeta - gamma); log((1 - p) / p) gives "
         "h(V) = 1 - rest", lambda w, scale: -_logit((_rest(w, scale) - GAMMA) / (ZETA - GAMMA))),
        ("zeta and gamma swapped in the inverse: p = (rest - gamma) / (zeta - gamma) with gamma = -0.1",
         lambda w, scale: _logit((_rest(w, scale) - ZETA) / (GAMMA - ZETA))),
        ("the fraction of |W/s|: for a negative weight the fraction is W/s - floor(W/s), e.g. -0.3 -> 0.7",
         lambda w, scale: _logit((_rest(w, scale, "abs") - GAMMA) / (ZETA - GAMMA))),
        ("returned the fraction itself: V is the inverse of the rectified sigmoid at the fraction, "
         "log(p / (1 - p)) with p = (rest - gamma) / (zeta - gamma)", lambda w, scale: _rest(w, scale)),
    ]


def initial_v_extra() -> list:
    def plain_logit(got, args, expected):
        """sigmoid(V) = rest wherever rest is well inside (0, 1): the plain sigmoid's inverse."""
        try:
            v = np.asarray(got, dtype=np.float64)
        except (TypeError, ValueError):
            return False
        rest = _rest(args["w"], args["scale"])
        if v.shape != rest.shape:
            return False
        sig = _sig(v)
        inside = (rest > 0.01) & (rest < 0.99)      # near 0 and 1 a student clips rest somehow; sigmoid(V) follows
        return (bool(np.allclose(sig[inside], rest[inside], rtol=0, atol=1e-9))
                and bool(np.all(sig[rest <= 0.01] <= 0.02)) and bool(np.all(sig[rest >= 0.99] >= 0.98)))

    return [Mistake("the inverse of the plain sigmoid, log(rest / (1 - rest)): invert the stretched one, "
                    "p = (rest - gamma) / (zeta - gamma), then V = log(p / (1 - p)) (finite even at rest = 0)",
                    plain_logit)]


# -- exercise 4: the rounding regularizer ----------------------------------------------------------------

def _reg(v, beta, *, value="sum", grad="right"):
    h = _h(v)
    u = 2 * h - 1
    terms = 1 - np.abs(u) ** beta
    val = {"sum": np.sum(terms), "mean": np.mean(terms), "no one minus": np.sum(np.abs(u) ** beta)}[value]
    if grad == "right":
        g = -2 * beta * np.abs(u) ** (beta - 1) * np.sign(u) * _dh(v)
    elif grad == "sign":
        g = 2 * beta * np.abs(u) ** (beta - 1) * np.sign(u) * _dh(v)
    elif grad == "wrt h":
        g = -2 * beta * np.abs(u) ** (beta - 1) * np.sign(u)
    elif grad == "not zeroed":
        g = -2 * beta * np.abs(u) ** (beta - 1) * np.sign(u) * _dh(v, zeroed=False)
    elif grad == "power beta":
        g = -2 * beta * np.abs(u) ** beta * np.sign(u) * _dh(v)
    elif grad == "no sign":
        g = -2 * beta * np.abs(u) ** (beta - 1) * _dh(v)
    elif grad == "no 2":
        g = -beta * np.abs(u) ** (beta - 1) * np.sign(u) * _dh(v)
    return val, g


def regularizer_wrong() -> list:
    return [
        ("the regularizer's gradient has the wrong sign: d/dV (1 - |2h - 1|^beta) = -2 beta |2h - 1|^(beta - 1) "
         "sign(2h - 1) dh/dV (descending it pushes h towards 0 or 1)", lambda v, beta: _reg(v, beta, grad="sign")),
        ("the gradient with respect to h, not V: multiply by dh/dV (chain rule)", lambda v, beta: _reg(v, beta, grad="wrt h")),
        ("the gradient is not zeroed where h is clipped (dh/dV = 0 there)", lambda v, beta: _reg(v, beta, grad="not zeroed")),
        ("|2h - 1|^beta in the gradient: the derivative of |u|^beta is beta |u|^(beta - 1) sign(u)",
         lambda v, beta: _reg(v, beta, grad="power beta")),
        ("sign(2h - 1) is missing from the gradient: d|u|/du = sign(u)", lambda v, beta: _reg(v, beta, grad="no sign")),
        ("the inner factor 2 of d(2h - 1)/dh is missing from the gradient", lambda v, beta: _reg(v, beta, grad="no 2")),
        ("the mean instead of the sum over the weights", lambda v, beta: _reg(v, beta, value="mean")),
        ("sum |2h - 1|^beta without the '1 -': the regularizer is 0 when every h is 0 or 1, so f = sum(1 - |2h - 1|^beta)",
         lambda v, beta: _reg(v, beta, value="no one minus")),
    ]


# -- exercise 5: the annealed beta -----------------------------------------------------------------------

def _schedule(iters, *, warm=0.2, start_of=round, b0=20.0, b1=2.0, span="rest", off=None):
    start = int(start_of(warm * iters))
    out = []
    for t in range(iters):
        if t < start:
            out.append(off)
            continue
        if span == "rest":
            rel = (t - start) / max(iters - start, 1)
        elif span == "rest - 1":
            rel = (t - start) / max(iters - start - 1, 1)
        else:                                    # over the whole run
            rel = t / iters
        out.append(b1 + (b0 - b1) * (1 - rel))
    return out


def schedule_wrong() -> list:
    return [
        ("no warm start: the first round(0.2 * iters) steps have no regularizer (None)",
         lambda iters: _schedule(iters, warm=0.0)),
        ("beta annealed in the wrong direction: it falls from 20 to 2 (large beta first, touching only h near 0 "
         "and 1)", lambda iters: _schedule(iters, b0=2.0, b1=20.0)),
        ("the warm start was truncated, int(0.2 * iters); it lasts round(0.2 * iters) steps",
         lambda iters: _schedule(iters, start_of=int)),
        ("beta decays over the whole run; it starts at 20 when the warm start ends and falls over the remaining "
         "iters - start steps", lambda iters: _schedule(iters, span="whole")),
        ("beta reaches 2 at the last step: rel = (t - start) / (iters - start), so the last step is just above 2",
         lambda iters: _schedule(iters, span="rest - 1")),
        ("0 during the warm start; return None there (no regularizer)", lambda iters: _schedule(iters, off=0.0)),
    ]


# -- exercises 6 and 7: the soft and the hard rounding ---------------------------------------------------

def _base(w, scale, how="floor"):
    q = np.asarray(w, dtype=np.float64) / np.asarray(scale, dtype=np.float64)[:, None]
    return np.round(q) if how == "nearest" else np.floor(q)


def _soft(w, scale, v, qmin, qmax, *, base="floor", clip="grid", stretch=True, times_s=True):
    s = np.asarray(scale, dtype=np.float64)[:, None]
    q = _base(w, scale, base) + _h(v, stretch=stretch)
    if clip == "grid":
        q = np.clip(q, qmin, qmax)
    out = s * q if times_s else q
    if clip == "weights":
        out = np.clip(out, qmin, qmax)
    return out


def soft_wrong() -> list:
    return [
        ("round-to-nearest as the base: AdaRound chooses between floor(W/s) and floor(W/s) + 1, so the base is "
         "floor(W/s)", lambda w, scale, v, qmin, qmax: _soft(w, scale, v, qmin, qmax, base="nearest")),
        ("no clip to the grid: clip floor(W/s) + h(V) to [qmin, qmax]",
         lambda w, scale, v, qmin, qmax: _soft(w, scale, v, qmin, qmax, clip=None)),
        ("the soft weight was clipped to [qmin, qmax] after multiplying by s; the grid is in integer units: clip "
         "floor(W/s) + h(V), then multiply", lambda w, scale, v, qmin, qmax: _soft(w, scale, v, qmin, qmax, clip="weights")),
        ("the soft integer, not the weight: multiply by the scale s",
         lambda w, scale, v, qmin, qmax: _soft(w, scale, v, qmin, qmax, times_s=False)),
        ("the plain sigmoid instead of the rectified one",
         lambda w, scale, v, qmin, qmax: _soft(w, scale, v, qmin, qmax, stretch=False)),
    ]


def _hard(w, scale, v, qmin, qmax, *, up="v>=0", base="floor", clip=True):
    v = np.asarray(v, dtype=np.float64)
    step = {"v>=0": v >= 0, "v>0": v > 0, "v>0.5": v > 0.5, "h>0.5": _h(v) > 0.5, "sig>=0.5": _sig(v) >= 0.5}[up]
    q = _base(w, scale, base) + step
    return (np.clip(q, qmin, qmax) if clip else q).astype(np.int64)


def hard_wrong() -> list:
    return [
        ("rounded up where V > 0.5; the threshold is V >= 0, where h(V) = 1/2",
         lambda w, scale, v, qmin, qmax: _hard(w, scale, v, qmin, qmax, up="v>0.5")),
        ("V = 0 was rounded down: round up where V >= 0 (h(V) >= 1/2), not V > 0 or h > 1/2",
         lambda w, scale, v, qmin, qmax: _hard(w, scale, v, qmin, qmax, up="v>0")),
        ("round-to-nearest as the base: the codes are floor(W/s) + [V >= 0]",
         lambda w, scale, v, qmin, qmax: _hard(w, scale, v, qmin, qmax, base="nearest")),
        ("no clip to the grid: clip the codes to [qmin, qmax]",
         lambda w, scale, v, qmin, qmax: _hard(w, scale, v, qmin, qmax, clip=False)),
    ]


def hard_extra() -> list:
    def dequantized(got, args, expected):
        try:
            arr = np.asarray(got, dtype=np.float64)
        except (TypeError, ValueError):
            return False
        s = np.asarray(args["scale"], dtype=np.float64)[:, None]
        return arr.shape == expected.shape and bool(np.allclose(arr, expected * s, rtol=1e-9, atol=0))

    return [Mistake("returned the dequantized weights s * code; return the integer codes", dequantized)]


# -- exercise 8: AdaRound on one layer -----------------------------------------------------------------

def _codes(got):
    arr = np.asarray(got)
    if not np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_:
        return None
    return arr.astype(np.float64)


def adaround_extra() -> list:
    def grid_of(args):
        qmax = 2 ** (args["bits"] - 1) - 1
        return -qmax, qmax

    def nearest_base(got, args, expected):
        c = _codes(got)
        if c is None or c.shape != expected["codes"].shape:
            return False
        qmin, qmax = grid_of(args)
        r = np.clip(_base(args["w"], args["scale"], "nearest"), qmin, qmax)
        f = np.clip(_base(args["w"], args["scale"]), qmin, qmax)
        up = np.clip(r + 1, qmin, qmax)
        return bool(np.all((c == r) | (c == up))) and not bool(np.all((c == f) | (c == np.clip(f + 1, qmin, qmax))))

    def unclipped(got, args, expected):
        c = _codes(got)
        if c is None or c.shape != expected["codes"].shape:
            return False
        qmin, qmax = grid_of(args)
        return bool(np.any((c < qmin) | (c > qmax)))

    def nearest(got, args, expected):
        c = _codes(got)
        if c is None or c.shape != expected["codes"].shape:
            return False
        qmin, qmax = grid_of(args)
        return bool(np.array_equal(c, np.clip(_base(args["w"], args["scale"], "nearest"), qmin, qmax)))

    def dequantized(got, args, expected):
        c = _codes(got)
        if c is None or c.shape != expected["codes"].shape or np.issubdtype(np.asarray(got).dtype, np.integer):
            return False
        s = np.asarray(args["scale"], dtype=np.float64)[:, None]
        return bool(np.allclose(c / s, np.round(c / s), rtol=0, atol=1e-6)) and not bool(np.all(c == np.round(c)))

    return [Mistake("round-to-nearest as the base: each weight goes down to floor(W/s) or up to floor(W/s) + 1",
                    nearest_base),
            Mistake("no clip to the grid: the codes must lie in [qmin, qmax]", unclipped),
            Mistake("the codes are round-to-nearest's: the optimisation changed nothing (is V updated, and is the "
                    "final rounding V >= 0 of the optimised V?)", nearest),
            Mistake("returned the dequantized weights s * code; return the integer codes", dequantized)]


#: The wrong implementations of each exercise (the tests run every one through its check).
WRONG = {"rectified_sigmoid": sigmoid_wrong, "rectified_sigmoid_grad": sigmoid_grad_wrong,
         "initial_v": initial_v_wrong, "rounding_regularizer": regularizer_wrong, "beta_schedule": schedule_wrong,
         "soft_weight": soft_wrong, "hard_rounding": hard_wrong}
