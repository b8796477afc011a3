"""Inputs for the problem set 3 checks: a few visible cases, and many seeded hidden ones.

Hidden suites cover the edges where wrong answers show: the first batch (no state yet), batches
inside, beyond and on both sides of the running range, all-negative and constant batches,
averaging constants other than 1/2 (where ``c`` and ``1 - c`` differ), percentiles between two
order statistics, post-ReLU data, exact ties (power-of-two scales, odd zero points), values
just beyond the real range that still round onto the grid, per-channel scales, clipped hidden
activations in a QAT step, and short QAT runs of the digits MLP with several shuffles.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..checking import Case


def _rng(seed: int, salt: int) -> np.random.Generator:
    return np.random.default_rng([seed, salt])


def _batch(rng, shape, loc=0.0, scale=1.0) -> np.ndarray:
    return rng.normal(loc, scale, size=shape)


# -- exercise 1: the running min/max --------------------------------------------------------------

def update_minmax_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("first batch (no state yet)", dict(state=None, batch=np.array([0.5, -1.0, 2.0]))),
                Case("a batch that reaches beyond the maximum",
                     dict(state=(-1.0, 2.0), batch=np.array([0.0, 3.5, -0.5]))),
                Case("a batch inside the range", dict(state=(-1.0, 3.5), batch=np.array([[0.1, -0.2], [1.0, 2.0]])))]
    rng = _rng(seed, 1)
    lo, hi = sorted(rng.normal(0, 2, size=2))
    cases = [
        Case("first batch, 2-D", dict(state=None, batch=_batch(rng, (4, 5)))),
        Case("first batch, all negative", dict(state=None, batch=-np.abs(_batch(rng, 7)) - 0.5)),
        Case("first batch, one value", dict(state=None, batch=np.array([float(rng.normal())]))),
        Case("a batch beyond both ends", dict(state=(float(lo), float(hi)),
                                             batch=np.array([lo - 1.0, hi + 2.0, (lo + hi) / 2]))),
        Case("a batch below the minimum only", dict(state=(-1.0, 4.0), batch=rng.uniform(-3.0, 1.0, size=6))),
        Case("a batch inside the range", dict(state=(-5.0, 5.0), batch=_batch(rng, (3, 3)))),
        Case("all-positive state and batch (post-ReLU)", dict(state=(0.5, 3.0), batch=rng.uniform(0.2, 2.0, size=8))),
        Case("all-negative state and batch", dict(state=(-4.0, -1.0), batch=-rng.uniform(0.5, 3.0, size=5))),
        Case("constant state (a constant first batch)", dict(state=(2.0, 2.0), batch=np.array([1.5, 2.5, 2.0]))),
        Case("a 3-D batch", dict(state=(-0.5, 0.5), batch=_batch(rng, (2, 3, 4)))),
        Case("large values", dict(state=(-1e6, 2e6), batch=_batch(rng, 9, scale=3e6))),
    ]
    return cases


# -- exercise 2: the moving-average min/max -----------------------------------------------------------

def moving_average_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("first batch: it sets the range", dict(rmin=None, rmax=None, batch=np.array([0.0, 4.0]), c=0.01)),
                Case("c = 0.5", dict(rmin=0.0, rmax=4.0, batch=np.array([-2.0, 2.0]), c=0.5)),
                Case("c = 0.1, a wider batch", dict(rmin=-1.0, rmax=1.0, batch=np.array([-3.0, 0.5, 5.0]), c=0.1))]
    rng = _rng(seed, 2)
    cases = []
    for c in (0.01, 0.1, 0.3):
        lo, hi = sorted(rng.normal(0, 2, size=2))
        cases.append(Case(f"random range and batch, c = {c}",
                          dict(rmin=float(lo), rmax=float(hi), batch=_batch(rng, (3, 4), scale=2.0), c=c)))
    cases += [
        Case("first batch, 2-D", dict(rmin=None, rmax=None, batch=_batch(rng, (5, 2)), c=0.01)),
        Case("first batch, all negative", dict(rmin=None, rmax=None, batch=-rng.uniform(1.0, 2.0, size=4), c=0.2)),
        Case("c = 1: only the newest batch counts", dict(rmin=-1.0, rmax=1.0, batch=np.array([-0.25, 3.0]), c=1.0)),
        Case("a batch inside the range (the range shrinks towards it)",
             dict(rmin=-4.0, rmax=6.0, batch=rng.uniform(-1.0, 1.0, size=6), c=0.25)),
        Case("a batch beyond both ends", dict(rmin=-1.0, rmax=1.0, batch=np.array([-7.0, 0.0, 9.0]), c=0.05)),
        Case("all-positive (post-ReLU)", dict(rmin=0.0, rmax=2.0, batch=rng.uniform(0.0, 5.0, size=10), c=0.01)),
        Case("constant batch", dict(rmin=-2.0, rmax=3.0, batch=np.full(4, 1.5), c=0.3)),
        Case("small c, large values", dict(rmin=-1e4, rmax=1e4, batch=_batch(rng, 6, scale=5e4), c=0.001)),
    ]
    return cases


# -- exercise 3: percentile calibration ------------------------------------------------------------------

def percentile_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("five values, p = 75", dict(x=np.array([0.0, -1.0, 2.0, 3.0, -4.0]), p=75.0)),
                Case("post-ReLU data (all >= 0), p = 90",
                     dict(x=np.array([0.0, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 8.0, 20.0]), p=90.0)),
                Case("p = 100 keeps the extremes", dict(x=np.array([[-2.0, 1.0], [0.5, 3.0]]), p=100.0))]
    rng = _rng(seed, 3)
    cases = [
        Case("heavy-tailed data, p = 99.9", dict(x=rng.standard_t(3, size=5000), p=99.9)),
        Case("heavy-tailed data, p = 99.99", dict(x=rng.standard_t(2, size=(40, 50)), p=99.99)),
        Case("Gaussian data, p = 99", dict(x=rng.normal(1.0, 2.0, size=2000), p=99.0)),
        Case("post-ReLU data, p = 99.9", dict(x=np.maximum(rng.normal(0, 1, size=3000), 0.0), p=99.9)),
        Case("all negative, p = 95", dict(x=-rng.exponential(1.0, size=500) - 0.1, p=95.0)),
        Case("seven values: the percentile lies between two of them", dict(x=rng.normal(0, 1, size=7), p=90.0)),
        Case("p = 50 (the median of |x|)", dict(x=rng.normal(0, 3, size=(6, 7)), p=50.0)),
        Case("p = 12.5", dict(x=rng.uniform(-1, 2, size=33), p=12.5)),
        Case("constant tensor", dict(x=np.full((3, 4), 2.5), p=99.0)),
        Case("one value", dict(x=np.array([-0.75]), p=99.9)),
        Case("a 3-D tensor with one outlier", dict(x=np.concatenate([rng.normal(0, 1, 199), [40.0]]).reshape(5, 8, 5),
                                                   p=99.0)),
    ]
    return cases


# -- exercises 4 and 5: fake quantization and the straight-through backward ---------------------------

def _fq_visible(with_grad: bool, rng=None) -> list:
    def g(shape):
        return np.ones(shape) if rng is None else rng.normal(0, 1, size=shape).round(3)
    cases = [
        Case("4-bit grid [0, 15], z = 2", dict(x=np.array([0.26, 1.0, -0.3, 0.5, 2.0]), scale=0.1, zero_point=2,
                                              qmin=0, qmax=15)),
        Case("signed grid [-2, 1], s = 1", dict(x=np.array([1.4, 1.5, -2.5, -2.6, 0.5]), scale=1.0, zero_point=0,
                                               qmin=-2, qmax=1)),
        Case("uint8 activations, z = 64", dict(x=np.array([[-1.2, 0.0, 0.3], [2.5, 4.5, -0.01]]), scale=1 / 64,
                                               zero_point=64, qmin=0, qmax=255)),
    ]
    if with_grad:
        for c in cases:
            c.args = dict(grad=g(c.args["x"].shape), **c.args)
    return cases


def _fq_hidden(seed: int, salt: int, with_grad: bool) -> list:
    rng = _rng(seed, salt)
    cases = []
    grids = [(0, 255), (-128, 127), (-127, 127), (0, 15), (-8, 7), (0, 3), (-1, 1)]
    for qmin, qmax in grids[:5]:
        z = int(rng.integers(qmin, qmax + 1)) if qmin >= 0 else 0
        s = float(10 ** rng.uniform(-3, 0))
        lo, hi = s * (qmin - z), s * (qmax - z)
        x = rng.uniform(lo - 0.2 * (hi - lo), hi + 0.2 * (hi - lo), size=tuple(rng.integers(2, 6, size=2)))
        cases.append(Case(f"random values around the grid [{qmin}, {qmax}]", dict(x=x, scale=s, zero_point=z,
                                                                                 qmin=qmin, qmax=qmax)))
    ties = np.arange(-6, 7) + 0.5                                                   # x / s = k + 1/2 exactly
    cases += [
        Case("exact ties, odd zero point", dict(x=ties * 0.25, scale=0.25, zero_point=5, qmin=0, qmax=15)),
        Case("exact ties, zero point 0", dict(x=ties / 8, scale=1 / 8, zero_point=0, qmin=-8, qmax=7)),
        Case("just beyond the real range, by less than half a step",
             dict(x=np.array([-0.36, -0.33, -0.3, 0.0, 1.2, 1.23, 1.27]), scale=0.1, zero_point=3, qmin=0, qmax=15)),
        Case("ties at both ends of the grid", dict(x=np.array([-2.5, -2.0, -1.5, 1.0, 1.5, 2.5]), scale=1.0,
                                                   zero_point=0, qmin=-2, qmax=1)),
        Case("2-bit weights (ternary grid [-1, 1])", dict(x=rng.normal(0, 1, size=(3, 5)), scale=0.6, zero_point=0,
                                                          qmin=-1, qmax=1)),
        Case("per-channel scales, shape (out, 1)",
             dict(x=rng.normal(0, 1, size=(4, 6)) * np.array([[0.1], [1.0], [3.0], [0.02]]),
                  scale=np.array([[0.1], [1.0], [3.0], [0.02]]) * 2.5 / 127, zero_point=0, qmin=-127, qmax=127)),
        Case("per-channel scales and zero points, shape (out, 1)",
             dict(x=rng.uniform(-1, 3, size=(3, 7)), scale=np.array([[0.25], [0.125], [0.5]]),
                  zero_point=np.array([[3], [8], [1]]), qmin=0, qmax=15)),
        Case("all values clipped", dict(x=np.array([-9.0, 7.0, 12.0]), scale=0.5, zero_point=3, qmin=0, qmax=7)),
        Case("a 7-bit unsigned grid [0, 127] (PyTorch's reduce_range)",
             dict(x=rng.uniform(-1, 5, size=12), scale=4.0 / 127, zero_point=16, qmin=0, qmax=127)),
    ]
    if with_grad:
        for c in cases:
            c.args = dict(grad=rng.normal(0, 1, size=np.shape(c.args["x"])), **c.args)
    return cases


def fake_quantize_cases(suite: str, seed: int) -> list:
    return _fq_visible(False) if suite == "visible" else _fq_hidden(seed, 4, False)


def ste_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return _fq_visible(True, _rng(0, 50))
    return _fq_hidden(seed, 5, True)


# -- exercises 6 and 7: the QAT step and a short QAT run ---------------------------------------------------

@lru_cache(maxsize=1)
def digits():
    """The digits MLP (float64 layers) and the digits split, loaded once."""
    from quantref.zoo import load_digits_split, pretrained_mlp
    layers = tuple((w.astype(np.float64), b.astype(np.float64)) for w, b in pretrained_mlp().layers)
    return layers, load_digits_split()


def _layers(rng, sizes) -> list:
    return [(rng.normal(0, 1 / np.sqrt(n_in), size=(n_out, n_in)), rng.normal(0, 0.1, size=n_out))
            for n_in, n_out in zip(sizes[:-1], sizes[1:])]


def _float_inputs(layers, x) -> list:
    a, inputs = x, []
    for i, (w, b) in enumerate(layers):
        inputs.append(a)
        z = a @ w.T + b
        a = np.maximum(z, 0.0) if i < len(layers) - 1 else z
    return inputs


def _narrow_ranges(layers, x, keep: float) -> list:
    """Ranges that cover only the middle ``keep`` of each layer input: the batch gets clipped."""
    out = []
    for a in _float_inputs(layers, x):
        lo, hi = np.percentile(a, [50 * (1 - keep), 50 * (1 + keep)])
        out.append((float(lo), float(max(hi, lo + 1e-3))))
    return out


def _step(label, layers, ranges, x, y, w_bits, a_bits, c) -> Case:
    return Case(label, dict(layers=[(w.copy(), b.copy()) for w, b in layers], act_ranges=list(ranges),
                            x=np.asarray(x, dtype=np.float64), y=np.asarray(y, dtype=np.int64),
                            w_bits=w_bits, a_bits=a_bits, c=c))


def qat_step_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        rng = _rng(0, 60)
        tiny = _layers(rng, (3, 4, 2))
        x = rng.uniform(-1, 1, size=(5, 3)).round(2)
        y = rng.integers(0, 2, size=5)
        return [_step("a 3 -> 4 -> 2 network, first batch (no ranges yet), W4A4", tiny, [(None, None)] * 2, x, y, 4, 4,
                      0.01),
                _step("the same network, ranges set narrower than the batch (clipped inputs), W3A4, c = 0.1", tiny,
                      [(-0.5, 0.5), (0.0, 0.2)], x, y, 3, 4, 0.1)]
    rng = _rng(seed, 6)
    mlp, data = digits()
    idx = rng.choice(len(data.x_train), 32, replace=False)
    xd, yd = data.x_train[idx].astype(np.float64), data.y_train[idx]
    three = _layers(rng, (6, 5, 4, 3))
    x3 = rng.normal(0, 1, size=(8, 6))
    y3 = rng.integers(0, 3, size=8)
    small = _layers(rng, (4, 6, 3))
    x4 = rng.normal(0.5, 1, size=(6, 4))
    y4 = rng.integers(0, 3, size=6)
    return [
        _step("the digits MLP on 32 images, first batch, W2A8", mlp, [(None, None)] * 2, xd, yd, 2, 8, 0.01),
        _step("the digits MLP, ranges narrower than the batch (clipped hidden activations), W4A4", mlp,
              _narrow_ranges(mlp, xd, 0.6), xd, yd, 4, 4, 0.01),
        _step("the digits MLP, W3A3, c = 0.5", mlp, _narrow_ranges(mlp, xd, 0.9), xd, yd, 3, 3, 0.5),
        _step("a 3-layer network, W2A2, ranges set", three, _narrow_ranges(three, x3, 0.7), x3, y3, 2, 2, 0.05),
        _step("a 3-layer network, first batch, W8A8", three, [(None, None)] * 3, x3, y3, 8, 8, 0.01),
        _step("c = 1: each range is the batch's own", small, _narrow_ranges(small, x4, 0.5), x4, y4, 4, 8, 1.0),
        _step("signed inputs, ranges narrower than the batch, W4A3", small, _narrow_ranges(small, x4, 0.4), x4, y4, 4,
              3, 0.2),
        _step("one sample", small, [(-1.0, 2.0), (0.0, 0.5)], x4[:1], y4[:1], 3, 4, 0.01),
    ]


def qat_train_cases(suite: str, seed: int) -> list:
    mlp, data = digits()
    base = dict(layers=[(w.copy(), b.copy()) for w, b in mlp], x=data.x_train.astype(np.float64), y=data.y_train,
                batch_size=64, lr=1e-3, c=0.01)
    if suite == "visible":
        return [Case("the digits MLP, W2A8, 2 epochs, seed 0", dict(base, w_bits=2, a_bits=8, epochs=2, seed=0))]
    s = 100 + 2 * seed
    return [Case("the digits MLP, W2A8, 3 epochs, another shuffle", dict(base, w_bits=2, a_bits=8, epochs=3, seed=s)),
            Case("the digits MLP, W2A4, 3 epochs, another shuffle",
                 dict(base, w_bits=2, a_bits=4, epochs=3, seed=s + 1))]
