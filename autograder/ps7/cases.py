"""Inputs for the problem set 7 checks: a few visible cases, and many seeded hidden ones.

Hidden suites cover the edges where wrong answers show: ``V`` far out on both sides, where ``h`` is
clipped to 0 or 1 (and its gradient is 0), and ``V = 0`` exactly (where the hard rounding goes up);
weights that are exact multiples of their scale (fraction 0), negative weights (floor, not
truncation), weights beyond the grid of a clipped scale (so that the clip to ``[qmin, qmax]``
shows); exponents at both ends of the annealing, 20 and 2; schedules of 1, 2 and 3 iterations and
lengths whose warm start ``0.2 * iters`` has a fractional part above one half (so that truncating
it shows); 2-bit to 4-bit layers.

Weights are drawn as ``s * q`` with ``q`` at least 1e-3 from any integer (except where a case says
"exact multiples", with power-of-two scales so that ``W / s`` is exact): ``floor(W / s)`` is then
the same however a student divides.  ``V`` is drawn at least 1e-6 from ``+-log 11``, where the
stretched sigmoid reaches 0 and 1 and the gradient jumps.

The AdaRound layers are kept only when quantref's AdaRound beats round-to-nearest by at least 20 %
and is stable: a run with the step size changed by one part in a million ends within 5 % of the
same output error (so that a correct implementation, whose floating-point rounding differs, lands
near quantref's result).
"""
from __future__ import annotations

import numpy as np

from quantref.adaround import adaround_layer

from ..checking import Case

#: Where h(V) = sigma(V) * 1.2 - 0.1 reaches 0 and 1: V = -log 11 and +log 11.
_EDGE = float(np.log(11.0))


def _rng(seed: int, salt: int) -> np.random.Generator:
    return np.random.default_rng([seed, salt])


def _away_from_edges(v: np.ndarray) -> np.ndarray:
    """``v`` moved off the two points where h is clipped (gradient undefined there)."""
    v = np.array(v, dtype=np.float64)
    near = np.abs(np.abs(v) - _EDGE) < 1e-6
    v[near] += 1e-3
    return v


def _v(rng, shape, spread=3.0) -> np.ndarray:
    return _away_from_edges(rng.normal(0.0, spread, size=shape))


def _grid(bits: int) -> tuple[int, int]:
    qmax = 2 ** (bits - 1) - 1
    return -qmax, qmax


def _q(rng, shape, lo, hi) -> np.ndarray:
    """Values of W / s in [lo, hi], at least 1e-3 away from every integer."""
    q = rng.uniform(lo, hi, size=shape)
    frac = q - np.floor(q)
    return np.floor(q) + np.clip(frac, 1e-3, 1 - 1e-3)


def _layer(rng, shape, bits, clip=1.0):
    """``(w, scale)``: per-row scale max|W| / qmax times ``clip`` (< 1: some weights beyond the grid)."""
    _, qmax = _grid(bits)
    out, inp = shape
    scale = 10.0 ** rng.uniform(-2.5, 0.5, size=out)
    reach = qmax / clip
    q = _q(rng, shape, -reach, reach)
    return q * scale[:, None], scale


# -- exercises 1 and 2: the rectified sigmoid and its gradient ---------------------------------------

def sigmoid_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("a few values of V", dict(v=np.array([0.0, 1.0, -1.0, 2.0, -2.0]))),
                Case("far out on both sides: h is clipped", dict(v=np.array([-50.0, -3.0, 3.0, 50.0])))]
    rng = _rng(seed, 1)
    cases = [Case(f"random V of shape {shape}, spread {spread}", dict(v=_v(rng, shape, spread)))
             for shape, spread in [((200,), 3.0), ((16, 24), 2.0), ((3, 4, 5), 6.0), ((1000,), 1.0)]]
    cases += [
        Case("just inside and just outside the clipped region",
             dict(v=np.array([-_EDGE - 1e-3, -_EDGE + 1e-3, _EDGE - 1e-3, _EDGE + 1e-3, -2.0, 2.0]))),
        Case("very large |V|", dict(v=np.array([-100.0, -30.0, 30.0, 100.0]))),
        Case("V = 0 exactly", dict(v=np.zeros((2, 3)))),
        Case("a single value", dict(v=np.array([0.7]))),
    ]
    return cases


# -- exercise 3: the initial V -------------------------------------------------------------------------

def initial_v_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("two channels", dict(w=np.array([[0.35, -0.35, 0.1], [1.3, 0.05, -2.0]]), scale=np.array([0.2, 0.5]))),
                Case("exact multiples of the scale: fraction 0", dict(w=np.array([[0.5, -0.25, 0.0]]), scale=np.array([0.25])))]
    rng = _rng(seed, 2)
    cases = []
    for shape, bits in [((8, 16), 4), ((32, 8), 3), ((1, 50), 8), ((64, 64), 2)]:
        w, scale = _layer(rng, shape, bits)
        cases.append(Case(f"random layer {shape}, {bits}-bit scale", dict(w=w, scale=scale)))
    s = 2.0 ** -rng.integers(1, 6, size=6)
    k = rng.integers(-7, 8, size=(6, 10)).astype(np.float64)
    cases += [
        Case("exact multiples of power-of-two scales", dict(w=k * s[:, None], scale=s)),
        Case("negative weights (floor, not truncation toward 0)", dict(w=-_q(rng, (4, 12), 0.0, 6.0) * 0.1,
                                                                     scale=np.full(4, 0.1))),
        Case("fractions close to 0 and 1", dict(w=np.array([[2.001, 2.999, -0.001, -0.999, 0.5]]) * 0.125,
                                                scale=np.array([0.125]))),
    ]
    return cases


# -- exercise 4: the rounding regularizer ---------------------------------------------------------------

def regularizer_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("beta = 2", dict(v=np.array([0.0, 0.5, -1.0, 2.0, -50.0]), beta=2.0)),
                Case("beta = 20", dict(v=np.array([[0.3, -0.3], [1.5, 60.0]]), beta=20.0))]
    rng = _rng(seed, 3)
    cases = [Case(f"random V of shape {shape}, beta {beta:g}", dict(v=_v(rng, shape, spread), beta=beta))
             for shape, spread, beta in [((100,), 2.0, 20.0), ((12, 16), 3.0, 2.0),
                                         ((50,), 1.0, float(np.round(rng.uniform(2.5, 19.5), 3))),
                                         ((4, 5, 6), 4.0, 7.0), ((300,), 0.5, 3.0)]]
    cases += [
        Case("every h clipped to 0 or 1", dict(v=np.array([-40.0, -5.0, 5.0, 40.0]), beta=11.0)),
        Case("V = 0 exactly (h = 1/2)", dict(v=np.zeros(5), beta=2.0)),
        Case("just inside the clipped region", dict(v=np.array([-_EDGE + 1e-3, _EDGE - 1e-3]), beta=4.0)),
    ]
    return cases


# -- exercise 5: the annealed beta -----------------------------------------------------------------------

def schedule_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("10 iterations", dict(iters=10)), Case("25 iterations", dict(iters=25))]
    rng = _rng(seed, 4)
    lengths = [1, 2, 3, 4, 8, 13, 100, 2000, int(rng.integers(20, 500)) * 5 + 3, int(rng.integers(20, 500)) * 5 + 4]
    return [Case(f"{n} iteration{'s' * (n != 1)}", dict(iters=n)) for n in lengths]


# -- exercises 6 and 7: the soft and the hard rounding ---------------------------------------------------

def rounding_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("3 bits, h inside (0, 1)", dict(w=np.array([[0.35, -0.35, 0.1], [1.3, 0.05, -1.6]]),
                                                      scale=np.array([0.2, 0.5]),
                                                      v=np.array([[0.0, 1.0, -1.0], [0.4, -0.2, 2.0]]), qmin=-3, qmax=3)),
                Case("weights beyond the grid, h clipped", dict(w=np.array([[0.95, -0.95, 0.45]]), scale=np.array([0.25]),
                                                                 v=np.array([[5.0, -5.0, 0.3]]), qmin=-3, qmax=3))]
    rng = _rng(seed, 5)
    cases = []
    for shape, bits, clip in [((8, 16), 4, 1.0), ((16, 8), 3, 0.6), ((4, 40), 2, 0.8), ((32, 32), 8, 1.0),
                              ((6, 10), 3, 0.5)]:
        w, scale = _layer(rng, shape, bits, clip)
        v = _v(rng, shape)
        v.ravel()[rng.choice(v.size, size=max(1, v.size // 10), replace=False)] = 0.0      # V = 0: h = 1/2, rounds up
        qmin, qmax = _grid(bits)
        label = f"random layer {shape}, {bits} bits" + (f", scale clipped to {clip:g} of the range" if clip < 1 else "")
        cases.append(Case(label, dict(w=w, scale=scale, v=v, qmin=qmin, qmax=qmax)))
    cases += [
        Case("V = 0 everywhere, negative weights", dict(w=-_q(rng, (3, 7), 0.0, 3.0) * 0.5, scale=np.full(3, 0.5),
                                                        v=np.zeros((3, 7)), qmin=-3, qmax=3)),
        Case("V between 0 and 1/2", dict(w=_q(rng, (2, 9), -3.0, 3.0) * 0.3, scale=np.full(2, 0.3),
                                         v=rng.uniform(0.01, 0.49, size=(2, 9)), qmin=-3, qmax=3)),
        Case("every weight at the edge of the grid, pushed up", dict(w=np.array([[6.8, -6.8, 7.0, -7.0]]) * 0.25 + 0.01,
                                                                      scale=np.array([0.25]),
                                                                      v=np.full((1, 4), 40.0), qmin=-7, qmax=7)),
    ]
    return cases


# -- exercise 8: AdaRound on one layer ------------------------------------------------------------------

def _calibration(rng, n: int, inp: int) -> np.ndarray:
    """Correlated inputs: Gaussian mixed by a random matrix, plus a positive offset on half the cases."""
    x = rng.normal(size=(n, inp)) @ rng.normal(size=(inp, inp)) / np.sqrt(inp)
    if rng.random() < 0.5:
        x = np.abs(x)                         # non-negative, like ReLU outputs or pixels
    return x


def _stable_layer(rng, shape, n, bits, clip, iters, lr, tries=20):
    """A layer on which quantref's AdaRound beats nearest by 20 % and does not hinge on rounding noise."""
    for _ in range(tries):
        w, scale = _layer(rng, shape, bits, clip)
        x = _calibration(rng, n, shape[1])
        ref = adaround_layer(w, x, bits, iters=iters, lr=lr, scale=scale, progress=False)
        if ref.error > 0.8 * ref.nearest_error:
            continue
        other = adaround_layer(w, x, bits, iters=iters, lr=lr * (1 + 1e-6), scale=scale, progress=False)
        if abs(other.error - ref.error) <= 0.05 * ref.error:
            return w, scale, x
    raise RuntimeError(f"no stable AdaRound case for {shape}, {bits} bits")


def adaround_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        rng = np.random.default_rng(2020)
        cases = []
        for shape, n, bits, clip, iters in [((8, 16), 256, 3, 1.0, 300), ((6, 12), 128, 4, 0.8, 400)]:
            w, scale, x = _stable_layer(rng, shape, n, bits, clip, iters, 1e-2)
            label = f"layer {shape}, {n} inputs, {bits} bits, {iters} iterations" + (", clipped scale" if clip < 1 else "")
            cases.append(Case(label, dict(w=w, scale=scale, x=x, bits=bits, iters=iters, lr=1e-2)))
        return cases
    rng = _rng(seed, 6)
    cases = []
    for shape, n, bits, clip, iters, lr in [((8, 16), 256, 3, 1.0, 500, 1e-2), ((16, 32), 512, 4, 0.8, 600, 1e-2),
                                            ((12, 24), 300, 3, 0.7, 500, 1e-2), ((10, 20), 400, 2, 1.0, 400, 2e-2),
                                            ((24, 16), 200, 4, 1.0, 800, 5e-3)]:
        w, scale, x = _stable_layer(rng, shape, n, bits, clip, iters, lr)
        label = (f"layer {shape}, {n} inputs, {bits} bits, {iters} iterations"
                 + (f", scale clipped to {clip:g} of the range" if clip < 1 else ""))
        cases.append(Case(label, dict(w=w, scale=scale, x=x, bits=bits, iters=iters, lr=lr)))
    return cases
