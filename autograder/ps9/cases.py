"""Inputs for the problem set 9 checks: a few visible cases, and many seeded hidden ones.

Hidden suites cover the edges where wrong answers show: batch norms whose variance is far below
or above epsilon, large epsilon, float32 parameters (folding runs in float64), linear layers as
well as convolutions; weight channels of very different ranges (one scale per tensor would
show), exact rounding ties on dyadic grids, an all-zero channel; biases that only the right
scale keeps in range, and one that overflows int32 (which must raise); multipliers from
realistic scales, with one rounding up to the Q31 carry; convolutions whose input zero point is
far from 0 (padding with 0 shows), output zero points above 0 with a fused ReLU, negative
biases, several channels with their own multipliers, and accumulators on rounding boundaries of
the fixed-point multiply; the payoff table on other calibration and test images than the
visible case.  The payoff table's inputs are the shipped network (:mod:`.models`), not
random ones: its accuracy ranges are the point.
"""
from __future__ import annotations

import functools

import numpy as np

from quantref.zoo import load_digits_split

from ..checking import Case
from .models import model_dict, qat_model_dict

U8, I8 = np.uint8, np.int8


def _rng(seed: int, salt: int) -> np.random.Generator:
    return np.random.default_rng([seed, salt])


# -- exercise 1: batch-norm folding ----------------------------------------------------------------

def _bn(rng, c, var_scale=1.0, eps=1e-5, dtype=np.float64):
    return dict(gamma=rng.uniform(0.3, 2.0, c).astype(dtype) * rng.choice([-1, 1], c).astype(dtype),
                beta=rng.normal(0, 0.5, c).astype(dtype), mean=rng.normal(0, 1.0, c).astype(dtype),
                var=(rng.uniform(0.05, 3.0, c) * var_scale).astype(dtype), eps=eps)


def fold_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        w = np.arange(1.0, 9.0).reshape(2, 1, 2, 2) / 4
        return [Case("a 2-channel convolution, no bias of its own",
                     dict(w=w, b=np.zeros(2), gamma=np.array([2.0, 0.5]), beta=np.array([0.5, -1.0]),
                          mean=np.array([3.0, -1.0]), var=np.array([4.0 - 1e-5, 0.25 - 1e-5]), eps=1e-5)),
                Case("a linear layer (out, in) with a bias",
                     dict(w=np.array([[1.0, -2.0, 0.5], [0.25, 0.0, 4.0]]), b=np.array([0.1, -0.3]),
                          gamma=np.array([1.5, -0.8]), beta=np.array([0.0, 0.2]), mean=np.array([0.4, -2.0]),
                          var=np.array([0.9, 2.5]), eps=1e-3))]
    rng = _rng(seed, 1)
    cases = []
    for shape in [(8, 1, 3, 3), (16, 8, 3, 3), (4, 3, 5, 5), (10, 256)]:
        c = shape[0]
        cases.append(Case(f"weights of shape {shape}", dict(w=rng.normal(0, 0.3, shape), b=rng.normal(0, 0.1, c),
                                                           **_bn(rng, c))))
    c = 6
    cases += [
        Case("variances far below epsilon (epsilon dominates)",
             dict(w=rng.normal(size=(c, 2, 3, 3)), b=np.zeros(c), **_bn(rng, c, var_scale=1e-7))),
        Case("large variances", dict(w=rng.normal(size=(c, 2, 3, 3)), b=rng.normal(size=c), **_bn(rng, c, var_scale=400.0))),
        Case("epsilon = 0.1", dict(w=rng.normal(size=(c, 3, 3, 3)), b=rng.normal(size=c), **_bn(rng, c, eps=0.1))),
        Case("float32 parameters (fold in float64)",
             dict(w=rng.normal(size=(c, 2, 3, 3)).astype(np.float32), b=np.zeros(c, np.float32),
                  **_bn(rng, c, dtype=np.float32))),
        Case("one output channel", dict(w=rng.normal(size=(1, 4, 3, 3)), b=np.array([0.7]), **_bn(rng, 1))),
    ]
    return cases


# -- exercise 2: per-channel int8 weights --------------------------------------------------------------

def weights_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        w = np.array([[[[1.27, -0.5], [0.02, 0.0]]], [[[2.54, 0.01], [-1.0, 0.3]]]])   # s = 0.01 and 0.02
        return [Case("two channels of a 2 x 2 kernel", dict(w=w)),
                Case("channels of very different ranges", dict(w=np.stack([np.full((1, 3, 3), 0.01) * np.arange(9).reshape(1, 3, 3),
                                                                              np.full((1, 3, 3), -4.0)])))]
    rng = _rng(seed, 2)
    cases = []
    for shape in [(8, 1, 3, 3), (16, 8, 3, 3), (10, 256), (3, 4, 5, 5)]:
        spread = 10 ** rng.uniform(-2, 1, size=(shape[0],) + (1,) * (len(shape) - 1))
        cases.append(Case(f"weights of shape {shape}, channel ranges over three decades",
                          dict(w=rng.normal(size=shape) * spread)))
    s = 0.125                                            # max 127 * s = 15.875: every ratio below is exact
    ties = np.array([127 * s, s / 2, -s / 2, 1.5 * s, -1.5 * s, 2.5 * s, 8.5 * s, -20.5 * s, 0.0])
    w_zero = rng.normal(size=(4, 2, 3, 3))
    w_zero[2] = 0.0
    cases += [
        Case("exact ties (w / s = k + 1/2): round half to even",
             dict(w=np.stack([ties.reshape(1, 3, 3), -ties.reshape(1, 3, 3)]))),
        Case("an all-zero channel (its scale is float32's eps)", dict(w=w_zero)),
        Case("the largest weight negative", dict(w=-np.abs(rng.normal(size=(5, 3, 3, 3))))),
        Case("one output channel", dict(w=rng.normal(size=(1, 2, 3, 3)))),
    ]
    return cases


# -- exercise 3: the int32 bias ------------------------------------------------------------------------

def bias_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("two channels", dict(b=np.array([0.5, -0.25]), input_scale=0.1, weight_scales=np.array([0.5, 0.01]))),
                Case("the digits' first layer's scale", dict(b=np.array([0.31, -1.2, 0.0, 2.5]), input_scale=1 / 255,
                                                             weight_scales=np.array([0.004, 0.011, 0.02, 0.0075])))]
    rng = _rng(seed, 3)
    cases = []
    for c in (8, 16, 10):
        cases.append(Case(f"{c} channels, realistic scales",
                          dict(b=rng.normal(0, 0.5, c), input_scale=float(10 ** rng.uniform(-3, -1)),
                               weight_scales=10 ** rng.uniform(-3, -1.5, c))))
    cases += [
        Case("ties: b / (s_x s_w) = k + 1/2 (round half to even)",
             dict(b=np.array([0.5, 1.5, 2.5, -0.5, -1.5]) / 64, input_scale=0.25, weight_scales=np.full(5, 0.0625))),
        Case("a bias the weight scale alone would leave in int8's range",
             dict(b=np.array([0.02, -0.03, 0.05]), input_scale=0.002, weight_scales=np.array([0.001, 0.002, 0.004]))),
        Case("zero bias", dict(b=np.zeros(4), input_scale=0.05, weight_scales=np.full(4, 0.01))),
    ]
    return cases


def bias_bad_cases(suite: str, seed: int) -> list:
    """A bias that does not fit int32 on its grid: quantref raises ValueError; the student must raise too."""
    if suite == "visible":
        return [Case("b / (s_x s_w) = 5e9, beyond int32", dict(b=np.array([0.5, 50.0]), input_scale=1e-5,
                                                                    weight_scales=np.array([1e-3, 1e-6])))]
    rng = _rng(seed, 4)
    b = rng.normal(0, 0.1, 6)
    b[3] = -30.0
    return [Case("one channel beyond int32 (negative)", dict(b=b, input_scale=1e-4, weight_scales=np.full(6, 1e-5)))]


# -- exercise 4: the requantization multipliers -------------------------------------------------------

def multiplier_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("one channel, M = 0.3", dict(input_scale=0.5, weight_scales=np.array([0.06]), output_scale=0.1)),
                Case("three channels", dict(input_scale=1 / 255, weight_scales=np.array([0.004, 0.011, 0.02]),
                                            output_scale=0.02))]
    rng = _rng(seed, 5)
    cases = []
    for c in (8, 16, 10):
        s_x = float(10 ** rng.uniform(-3, -1))
        s_w = 10 ** rng.uniform(-3, -1.5, c)
        cases.append(Case(f"{c} channels, realistic scales", dict(input_scale=s_x, weight_scales=s_w,
                                                                  output_scale=float(s_x * s_w.max() * rng.uniform(1.5, 40)))))
    cases += [
        Case("a power of two (M = 1/4)", dict(input_scale=0.5, weight_scales=np.array([0.125]), output_scale=0.25)),
        Case("M just below 1", dict(input_scale=0.9999999, weight_scales=np.array([1.0]), output_scale=1.0)),
        Case("the Q31 carry (f rounds up to 1)", dict(input_scale=1.0, weight_scales=np.array([1 - 2.0 ** -33]),
                                                      output_scale=2.0)),
        Case("tiny multipliers (large shifts)", dict(input_scale=1e-4, weight_scales=np.array([1e-4, 3e-5]),
                                                     output_scale=0.5)),
    ]
    return cases


# -- exercise 5: the integer convolution ---------------------------------------------------------------

def _conv_case(rng, n, c_in, c_out, hw, *, z_x=None, z_out=None, relu=True, bias_sign=0):
    z_x = int(rng.integers(0, 256)) if z_x is None else z_x
    x_q = rng.integers(0, 256, size=(n, c_in, hw, hw)).astype(U8)
    w_q = rng.integers(-127, 128, size=(c_out, c_in, 3, 3)).astype(I8)
    k = 9 * c_in
    bias = rng.integers(-40 * k, 40 * k, size=c_out)
    if bias_sign:
        bias = bias_sign * np.abs(bias) * 40
    m = 127.0 / (k * 127 * 60) * rng.uniform(0.5, 2.0, size=c_out)     # outputs spread over the grid
    f, e = np.frexp(m)
    m0 = np.floor(f * 2 ** 31 + 0.5).astype(np.int64)
    shift = (-e).astype(np.int64)
    z_out = int(rng.integers(0, 200)) if z_out is None else z_out
    return dict(x_q=x_q, x_zero_point=z_x, w_q=w_q, bias_q=bias.astype(np.int32), m0=m0, shift=shift,
                out_zero_point=z_out, relu=relu)


def conv_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        rng = _rng(0, 60)
        x = np.array([[[[10, 20, 30], [40, 50, 60], [70, 80, 90]]]], dtype=U8)
        w = np.zeros((1, 1, 3, 3), dtype=I8)
        w[0, 0, 1, 1] = 2
        w[0, 0, 0, 0] = -1
        return [Case("one 3 x 3 image, one channel, z_x = 0",
                     dict(x_q=x, x_zero_point=0, w_q=w, bias_q=np.array([100], dtype=np.int32),
                          m0=np.array([2 ** 30]), shift=np.array([1]), out_zero_point=5, relu=False)),
                Case("two images, 2 -> 3 channels, z_x = 128, fused ReLU",
                     _conv_case(rng, 2, 2, 3, 5, z_x=128, z_out=20, relu=True))]
    rng = _rng(seed, 6)
    cases = [
        Case("8 images 1 -> 8 channels (the first layer's shape)", _conv_case(rng, 8, 1, 8, 8)),
        Case("4 images 8 -> 16 channels (the second layer's shape)", _conv_case(rng, 4, 8, 16, 8)),
        Case("input zero point 255 (padding with 0 shows)", _conv_case(rng, 3, 3, 4, 6, z_x=255, z_out=30)),
        Case("input zero point 0, output zero point 0", _conv_case(rng, 3, 2, 5, 4, z_x=0, z_out=0)),
        Case("output zero point 120 with a fused ReLU", _conv_case(rng, 2, 4, 6, 6, z_out=120, relu=True)),
        Case("no ReLU, output zero point 120", _conv_case(rng, 2, 4, 6, 6, z_out=120, relu=False)),
        Case("negative biases", _conv_case(rng, 2, 3, 4, 5, bias_sign=-1)),
        Case("a 1 x 1 image (every window is mostly padding)", _conv_case(rng, 5, 3, 4, 1, z_x=200)),
        Case("one image, one channel, 12 x 12", _conv_case(rng, 1, 1, 1, 12)),
    ]
    return cases


# -- exercise 6: the payoff table ----------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _data():
    return load_digits_split()


def payoff_cases(suite: str, seed: int) -> list:
    data = _data()
    model, qat = model_dict(), qat_model_dict()
    if suite == "visible":
        return [Case("the shipped network; 256 calibration images, the whole test split",
                     dict(model=model, qat_model=qat, x_calibration=data.x_train[:256].copy(),
                          x_test=data.x_test.copy(), y_test=data.y_test.copy()))]
    rng = _rng(seed, 7)
    cases = []
    for n_cal, n_test in [(200, 300), (400, 450)]:   # 450: every test image, in order
        cal = np.sort(rng.choice(len(data.x_train), n_cal, replace=False))
        test = np.sort(rng.choice(len(data.x_test), n_test, replace=False))
        which = "every test image" if n_test == len(data.x_test) else f"{n_test} random test images"
        cases.append(Case(f"{n_cal} random calibration images, {which}",
                          dict(model=model, qat_model=qat, x_calibration=data.x_train[cal],
                               x_test=data.x_test[test], y_test=data.y_test[test])))
    return cases
