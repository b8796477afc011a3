"""Inputs for the problem set 1 checks: a few visible cases, and many seeded hidden ones.

Hidden suites cover the edges where wrong answers show: exact ties (power-of-two scales so
that ``x / s`` is exact), constant and single-element input, all-negative and all-positive
ranges, wide and narrow ranges, clipping at both ends, per-channel on every axis.
"""
from __future__ import annotations

import numpy as np

from ..checking import Case


def _rng(seed: int, salt: int) -> np.random.Generator:
    return np.random.default_rng([seed, salt])


def qparams_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("range around 0", dict(rmin=-1.0, rmax=3.0, bits=8)),
                Case("ReLU-like range, 4 bits", dict(rmin=0.0, rmax=6.0, bits=4)),
                Case("symmetric range", dict(rmin=-2.0, rmax=2.0, bits=8))]
    rng = _rng(seed, 1)
    cases = []
    for i in range(8):
        lo, hi = sorted(rng.normal(0, 10 ** rng.uniform(-2, 2), size=2))
        lo, hi = min(lo, -abs(hi) * 0.05), max(hi, abs(lo) * 0.05)
        cases.append(Case("random range containing 0", dict(rmin=float(lo), rmax=float(hi), bits=int(rng.integers(2, 9)))))
    cases += [
        Case("all-positive range", dict(rmin=2.0, rmax=6.0, bits=8)),
        Case("all-positive range", dict(rmin=float(rng.uniform(0.5, 1)), rmax=float(rng.uniform(2, 5)), bits=4)),
        Case("all-negative range", dict(rmin=-5.0, rmax=-1.0, bits=8)),
        Case("all-negative range", dict(rmin=-3.0, rmax=-2.5, bits=3)),
        Case("constant zero input", dict(rmin=0.0, rmax=0.0, bits=8)),
        Case("constant positive input", dict(rmin=3.0, rmax=3.0, bits=8)),
        Case("tie: -rmin/scale = 0.5", dict(rmin=-0.5, rmax=254.5, bits=8)),
        Case("tie: -rmin/scale = 2.5", dict(rmin=-2.5, rmax=252.5, bits=8)),
        Case("narrow range", dict(rmin=-3e-6, rmax=1e-6, bits=8)),
        Case("wide range", dict(rmin=-2e5, rmax=5e5, bits=8)),
        Case("2 bits", dict(rmin=-1.0, rmax=2.0, bits=2)),
    ]
    return cases


def quantize_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("small values and one clipped", dict(x=np.array([-1.0, 0.0, 0.29, 3.0]), scale=1 / 64, zero_point=64, bits=8)),
                Case("values clipped at both ends", dict(x=np.array([-3.0, -1.0, 0.0, 1.0, 9.0]), scale=0.5, zero_point=4, bits=4)),
                Case("a 2-D array with ties", dict(x=np.array([[0.1, -0.2], [0.35, 0.7]]), scale=0.04, zero_point=100, bits=8))]
    rng = _rng(seed, 2)
    cases = []
    for i in range(8):
        bits = int(rng.integers(2, 9))
        x = rng.normal(0, 10 ** rng.uniform(-2, 2), size=tuple(rng.integers(1, 7, size=int(rng.integers(1, 4)))))
        lo, hi = np.percentile(x, [2, 98]) if x.size > 2 else (x.min(), x.max())
        span = max(hi - lo, 1e-3) / (2 ** bits - 1)
        z = int(np.clip(np.rint(-min(lo, 0) / span), 0, 2 ** bits - 1))
        cases.append(Case(f"random {x.ndim}-D input, {bits} bits", dict(x=x, scale=float(span), zero_point=z, bits=bits)))
    ties = np.array([0.125, 0.375, 0.625, -0.125, -0.375, -0.625, 1.125])  # x/s = 0.5, 1.5, 2.5, ... exactly
    cases += [
        Case("exact ties (x/scale = k + 0.5)", dict(x=ties, scale=0.25, zero_point=10, bits=8)),
        Case("exact ties at zero point 0", dict(x=np.array([0.5, 1.5, 2.5, 3.5]), scale=1.0, zero_point=0, bits=4)),
        Case("clipping at both ends", dict(x=np.array([-100.0, -2.0, 0.0, 3.0, 100.0]), scale=0.1, zero_point=20, bits=6)),
        Case("all values above the range", dict(x=np.full(5, 50.0), scale=0.1, zero_point=0, bits=8)),
        Case("all-negative input", dict(x=-rng.uniform(0.1, 4, size=9), scale=4 / 255, zero_point=255, bits=8)),
        Case("constant input", dict(x=np.full((3, 2), 1.25), scale=0.05, zero_point=7, bits=8)),
        Case("a single element", dict(x=np.array([0.3]), scale=0.1, zero_point=3, bits=3)),
        Case("2 bits", dict(x=np.array([-1.0, -0.4, 0.2, 0.6, 2.0]), scale=0.5, zero_point=2, bits=2)),
        Case("tiny scale", dict(x=rng.normal(0, 1e-5, size=6), scale=1e-7, zero_point=128, bits=8)),
    ]
    return cases


def dequantize_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("codes around the zero point", dict(q=np.array([0, 64, 96, 255], dtype=np.uint8), scale=1 / 64, zero_point=64)),
                Case("zero point 0", dict(q=np.array([0, 1, 15], dtype=np.uint8), scale=0.4, zero_point=0))]
    rng = _rng(seed, 3)
    cases = []
    for i in range(6):
        bits = int(rng.integers(2, 9))
        q = rng.integers(0, 2 ** bits, size=tuple(rng.integers(1, 6, size=int(rng.integers(1, 4)))), dtype=np.uint8)
        cases.append(Case(f"random codes, {bits} bits", dict(q=q, scale=float(10 ** rng.uniform(-4, 1)),
                                                             zero_point=int(rng.integers(0, 2 ** bits)))))
    cases += [
        Case("codes below the zero point (uint8 arithmetic would wrap)", dict(q=np.array([0, 3, 100, 127], dtype=np.uint8), scale=0.02, zero_point=128)),
        Case("zero point at the top of the grid", dict(q=np.array([0, 128, 255], dtype=np.uint8), scale=0.5, zero_point=255)),
        Case("a single code", dict(q=np.array([7], dtype=np.uint8), scale=0.25, zero_point=9)),
    ]
    return cases


def per_channel_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        w = np.array([[0.5, -1.0, 0.25], [20.0, 4.0, -8.0]])
        return [Case("2 output channels (rows), axis=0", dict(w=w, bits=8, axis=0)),
                Case("channels along axis 1", dict(w=w.T.copy(), bits=4, axis=1))]
    rng = _rng(seed, 4)
    cases = []
    for axis, shape in [(0, (6, 5)), (1, (5, 6)), (0, (4, 3, 2)), (1, (3, 4, 2)), (2, (2, 3, 4)), (-1, (3, 2, 5))]:
        ranges = 10 ** rng.uniform(-3, 1, size=shape[axis])
        w = rng.normal(size=shape) * np.expand_dims(ranges, tuple(d for d in range(len(shape)) if d != axis % len(shape)))
        cases.append(Case(f"shape {shape}, axis={axis}", dict(w=w, bits=int(rng.integers(2, 9)), axis=axis)))
    w = rng.normal(size=(4, 6))
    w[1] = 0.7          # a constant channel
    w[2] = -np.abs(w[2])  # an all-negative channel
    w[3] = np.abs(w[3])   # an all-positive channel
    cases += [Case("constant, all-negative and all-positive channels", dict(w=w, bits=8, axis=0)),
              Case("square matrix (wrong axis gives the right shapes)", dict(w=rng.normal(size=(5, 5)) * np.arange(1, 6)[:, None], bits=8, axis=0)),
              Case("one channel", dict(w=rng.normal(size=(1, 7)), bits=8, axis=0)),
              Case("single element channels", dict(w=rng.normal(size=(4, 1)), bits=6, axis=0))]
    return cases


def error_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("one clipped element", dict(x=np.array([-0.3, 0.1, 0.25, 2.0]), scale=0.1, zero_point=4, bits=3)),
                Case("nothing clipped", dict(x=np.array([0.0, 0.26, 0.5]), scale=0.1, zero_point=0, bits=4))]
    rng = _rng(seed, 5)
    cases = []
    for i in range(6):
        bits = int(rng.integers(2, 9))
        x = rng.standard_t(3, size=int(rng.integers(5, 300)))
        lo, hi = np.percentile(x, [10, 90])
        s = (hi - lo) / (2 ** bits - 1)
        cases.append(Case(f"heavy-tailed data clipped at percentiles, {bits} bits",
                          dict(x=x, scale=float(s), zero_point=int(np.clip(np.rint(-lo / s), 0, 2 ** bits - 1)), bits=bits)))
    cases += [
        # grid [0, 15] * 0.5 - 2 covers [-2, 5.5]; 5.6 rounds to 15.2 -> code 15 (not clipped), 5.8 to 15.6 -> clipped
        Case("elements within half a step outside the real range", dict(x=np.array([-2.2, -2.3, 5.6, 5.8, 0.0]), scale=0.5, zero_point=4, bits=4)),
        Case("everything clipped", dict(x=np.array([10.0, 20.0, -30.0]), scale=0.1, zero_point=8, bits=4)),
        Case("a single element", dict(x=np.array([0.37]), scale=0.1, zero_point=0, bits=8)),
        Case("constant input", dict(x=np.full(10, -1.0), scale=0.1, zero_point=2, bits=8)),
    ]
    return cases


def _repeated(values, n: int, rng=None) -> np.ndarray:
    """Each value ``n`` times (shuffled when ``rng`` is given): many draws of one value in one call."""
    x = np.repeat(np.asarray(values, dtype=np.float64), n)
    return x if rng is None else rng.permutation(x)


def stochastic_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("values a quarter, half and three quarters of a step past a code, 2000 draws each",
                     dict(x=_repeated([0.25, 0.5, 0.75, -0.3, 1.5], 2000), scale=1.0, zero_point=8, bits=4, seed=0)),
                Case("a 2-D array, 8 bits", dict(x=_repeated([0.3, -0.6, 0.5 / 64, 1.5 / 64], 1500).reshape(50, 120),
                                                 scale=1 / 64, zero_point=128, bits=8, seed=2024)),
                Case("values on the grid and clipped ones", dict(x=np.array([0.0, 1.0, -3.0, 9.0, 0.3] * 400),
                                                                 scale=0.5, zero_point=2, bits=3, seed=7))]
    rng = _rng(seed, 6)
    cases = []
    for i in range(4):
        bits = int(rng.integers(2, 9))
        scale = float(2.0 ** rng.integers(-10, 3))               # a power of two: x / scale is exact
        qmax = 2 ** bits - 1
        z = int(rng.integers(0, qmax + 1))
        v = np.concatenate([rng.uniform(-z, qmax - z, size=6),   # unrounded codes, minus z, inside the grid
                            np.array([1.5, 2.5]) - z])           # ties from an odd and an even code
        cases.append(Case(f"random values inside the grid, {bits} bits, 3000 draws each",
                          dict(x=_repeated(v * scale, 3000, rng), scale=scale, zero_point=z, bits=bits,
                               seed=int(rng.integers(0, 2 ** 63)))))
    near = np.array([0.02, 0.1, 0.9, 0.98, 0.5, 1.5, 3.0])            # fractions near 0 and 1: floor/nearest show
    cases += [
        Case("fractions near 0 and 1, 4000 draws each",
             dict(x=_repeated(near * 0.25, 4000, rng), scale=0.25, zero_point=5, bits=4, seed=int(rng.integers(0, 2 ** 63)))),
        Case("negative values (floor, not truncation)",
             dict(x=_repeated([-0.3, -1.7, -2.5, -1.5], 3000, rng), scale=1.0, zero_point=100, bits=8, seed=int(rng.integers(0, 2 ** 63)))),
        Case("a 3-D array", dict(x=_repeated([0.123, 0.456, 0.05, 0.15], 3000, rng).reshape(20, 20, 30), scale=0.1, zero_point=0,
                                 bits=8, seed=int(rng.integers(0, 2 ** 63)))),
        Case("clipping at both ends", dict(x=_repeated([-9.0, 0.3, 9.0, 7.2], 1000, rng), scale=1.0, zero_point=1, bits=3,
                                           seed=int(rng.integers(0, 2 ** 63)))),
        Case("seed 0", dict(x=_repeated([0.4, 0.6], 3000, rng), scale=0.5, zero_point=3, bits=2, seed=0)),
    ]
    return cases


def per_group_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        w = np.array([[0.1, -0.2, 8.0, -4.0, 0.5, 0.5], [1.0, 2.0, 3.0, 4.0, -0.01, 0.02]])
        return [Case("2 rows of 6, groups of 2 along axis 1", dict(w=w, bits=8, axis=1, group_size=2)),
                Case("groups of 3 along axis 1, 4 bits", dict(w=w, bits=4, axis=1, group_size=3)),
                Case("groups of 2 along axis 0", dict(w=w.T.copy(), bits=8, axis=0, group_size=2))]
    rng = _rng(seed, 7)
    cases = []
    for axis, shape, g in [(1, (4, 32), 8), (1, (3, 12), 4), (0, (12, 6), 3), (-1, (2, 3, 16), 4), (1, (2, 6, 4), 2),
                           (0, (8, 8), 2)]:
        scales = 10 ** rng.uniform(-3, 1, size=shape)
        cases.append(Case(f"shape {shape}, groups of {g} along axis {axis}",
                          dict(w=rng.normal(size=shape) * scales, bits=int(rng.integers(2, 9)), axis=axis, group_size=g)))
    w = rng.normal(size=(3, 8))
    w[0, :4] = 0.25        # a constant group
    w[1, 4:] = -np.abs(w[1, 4:])
    cases += [Case("constant and all-negative groups", dict(w=w, bits=8, axis=1, group_size=4)),
              Case("one group per row (per channel)", dict(w=rng.normal(size=(4, 6)), bits=8, axis=1, group_size=6)),
              Case("groups of one element", dict(w=rng.normal(size=(2, 5)), bits=4, axis=1, group_size=1)),
              Case("square matrix, axis 0", dict(w=rng.normal(size=(6, 6)) * np.arange(1, 7), bits=8, axis=0, group_size=3))]
    return cases


def symmetric_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        x = np.array([-1.0, -0.5, 0.25, 1.27])
        return [Case("full grid [-128, 127]", dict(x=x, bits=8, narrow_range=False)),
                Case("narrow grid [-127, 127]", dict(x=x, bits=8, narrow_range=True)),
                Case("4 bits, narrow", dict(x=np.array([3.5, -7.0, 0.6]), bits=4, narrow_range=True))]
    rng = _rng(seed, 8)
    cases = []
    for i in range(8):
        bits = int(rng.integers(2, 9))
        x = rng.normal(rng.normal(), 10 ** rng.uniform(-2, 2), size=tuple(rng.integers(1, 9, size=int(rng.integers(1, 3)))))
        narrow = bool(i % 2)
        cases.append(Case(f"random {x.ndim}-D input, {bits} bits, {'narrow' if narrow else 'full'} grid",
                          dict(x=x, bits=bits, narrow_range=narrow)))
    for narrow in (False, True):
        name = "narrow" if narrow else "full"
        cases += [Case(f"the largest magnitude is negative, {name} grid", dict(x=np.array([-2.0, 0.3, 1.1, -0.7]), bits=8, narrow_range=narrow)),
                  Case(f"all-positive input, {name} grid", dict(x=rng.uniform(0.5, 3, size=7), bits=8, narrow_range=narrow)),
                  Case(f"all zeros, {name} grid", dict(x=np.zeros(4), bits=8, narrow_range=narrow)),
                  Case(f"2 bits, {name} grid", dict(x=np.array([-1.0, -0.4, 0.2, 0.6, 1.0]), bits=2, narrow_range=narrow))]
    # amax = 127: x/s is x * 127.5/127 on the full grid, x exactly on the narrow grid (with its ties)
    cases.append(Case("values on the narrow grid's ties", dict(x=np.array([127.0, -0.5, 1.5, 2.5, -126.5]), bits=8, narrow_range=True)))
    return cases
