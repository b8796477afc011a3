"""Inputs for the problem set 4 checks: a few visible cases, and many seeded hidden ones.

Hidden suites cover the edges where wrong answers show: transformer-like activations with a
few huge channels (:func:`quantref.llm.synthetic_layer`), values of exactly the threshold,
negative-only outliers, square matrices (a reduction over the wrong axis keeps the shape),
exact ties (power-of-two scales), all-zero rows and columns (the scale and factor floors),
values so small that the scale floor applies, every column an outlier, no outlier at all,
rows long enough that an int8 or int16 product wraps, and alpha at 0 and 1.
"""
from __future__ import annotations

import numpy as np

from quantref.llm import per_tensor_int8, smoothquant, synthetic_layer, vectorwise_int8

from ..checking import Case


def _rng(seed: int, salt: int) -> np.random.Generator:
    return np.random.default_rng([seed, salt])


def _layer(seed: int, salt: int, tokens: int, k: int, out: int, n_outliers: int):
    s = synthetic_layer(tokens, k, out, n_outliers, seed=int(_rng(seed, salt).integers(2 ** 31)))
    return s.x, s.w


# -- exercise 1: outlier columns ----------------------------------------------------------------------

def outlier_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("two outlier columns (6.0 itself counts)",
                     dict(x=np.array([[1.0, 6.0, -5.9], [-6.1, 0.0, 2.0]]), threshold=6.0)),
                Case("no outliers", dict(x=np.array([[0.5, -2.0, 3.0], [5.9, -5.99, 0.0]]), threshold=6.0)),
                Case("threshold 2.0", dict(x=np.array([[0.5, -2.0, 1.0, 0.0], [1.5, 0.1, -1.9, 2.5]]), threshold=2.0))]
    rng = _rng(seed, 1)
    cases = []
    for i, (tokens, k, n) in enumerate([(32, 64, 3), (16, 128, 5), (64, 32, 1)]):
        x, _ = _layer(seed, 10 + i, tokens, k, 4, n)
        cases.append(Case(f"transformer-like activations, {tokens} tokens x {k} channels", dict(x=x, threshold=6.0)))
    x = rng.uniform(-5.0, 5.0, size=(6, 6))
    x[2, 4], x[5, 1], x[0, 0] = 6.0, -6.0, 8.0
    square = rng.uniform(-3.0, 3.0, size=(5, 5))
    square[1, 3] = 9.0
    square[4, 0] = -7.5
    one_token = rng.uniform(-5.0, 5.0, size=(1, 9))
    one_token[0, [2, 7]] = [12.0, -30.0]
    cases += [
        Case("values of exactly +6.0 and -6.0 (they count)", dict(x=x, threshold=6.0)),
        Case("negative outliers only", dict(x=np.array([[-8.0, 1.0, 0.5], [-7.0, -2.0, -6.5], [0.0, 2.0, 1.0]]),
                                            threshold=6.0)),
        Case("a square matrix (rows and columns give the same shape)", dict(x=square, threshold=6.0)),
        Case("one token", dict(x=one_token, threshold=6.0)),
        Case("every column is an outlier", dict(x=np.array([[7.0, -9.0], [0.0, 1.0]]), threshold=6.0)),
        Case("an outlier in one token only",
             dict(x=np.concatenate([rng.uniform(-1, 1, (7, 4)), [[0.0, 0.0, 25.0, 0.0]]]), threshold=6.0)),
        Case("threshold 2.5, with values of exactly 2.5",
             dict(x=np.array([[2.5, -1.0, 0.0, -2.4, 3.0], [0.0, -2.5, 2.49, 0.0, 0.5]]), threshold=2.5)),
        Case("no outliers in a wide matrix", dict(x=rng.uniform(-5.9, 5.9, size=(3, 40)), threshold=6.0)),
    ]
    return cases


# -- exercise 2: per-row absmax int8 ---------------------------------------------------------------------

_TIES = np.array([127.0, 2.5, -2.5, 0.5, -1.5, 3.5, -0.5, 126.5]) / 64    # s = 1/64: v / s = k + 1/2 exactly


def quantize_rows_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("two rows", dict(v=np.array([[0.5, -1.27], [2.54, 0.01]]))),
                Case("three rows, negative extremes", dict(v=np.array([[-3.0, 1.0, 2.0], [0.1, -0.2, 0.05],
                                                                        [4.0, -4.0, 1.0]]))),
                Case("exact ties (round half to even)", dict(v=np.array([_TIES, -_TIES])))]
    rng = _rng(seed, 2)
    x, w = _layer(seed, 20, 8, 48, 16, 2)
    zero_row = rng.normal(0, 1, size=(4, 6))
    zero_row[2] = 0.0
    return [
        Case("activations with outlier channels (8 tokens x 48)", dict(v=x)),
        Case("weights (16 output channels x 48)", dict(v=w)),
        Case("exact ties in every row", dict(v=np.array([_TIES, _TIES[::-1], -_TIES]))),
        Case("an all-zero row (the scale floor applies)", dict(v=zero_row)),
        Case("tiny values (absmax / 127 is below the scale floor)", dict(v=rng.normal(0, 1e-8, size=(3, 5)))),
        Case("one column", dict(v=rng.normal(0, 2, size=(6, 1)))),
        Case("one row", dict(v=rng.normal(0, 2, size=(1, 9)))),
        Case("a square matrix (per row and per column give the same shape)", dict(v=rng.normal(0, 1, size=(5, 5)) *
                                                                                 rng.uniform(0.1, 10, size=(5, 1)))),
        Case("large values", dict(v=rng.normal(0, 1e4, size=(3, 7)))),
        Case("rows of very different ranges",
             dict(v=rng.normal(0, 1, size=(4, 12)) * np.array([[0.01], [1], [50], [3]]))),
    ]


# -- exercise 3: LLM.int8() --------------------------------------------------------------------------------

def llm_int8_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        x = np.array([[1.0, 7.0, -0.5, 0.25], [-2.0, 6.5, 0.75, 1.5], [0.5, -8.0, 1.0, -1.0]])
        w = np.array([[0.5, 0.1, -0.3, 0.2], [-0.25, 0.05, 0.4, -0.1]])
        rng = _rng(0, 30)
        return [Case("one outlier column", dict(x=x, w=w, threshold=6.0)),
                Case("no outliers", dict(x=rng.uniform(-2, 2, size=(2, 5)).round(2),
                                         w=rng.uniform(-1, 1, size=(3, 5)).round(2), threshold=6.0))]
    rng = _rng(seed, 3)
    cases = []
    for i, (tokens, k, out, n) in enumerate([(16, 64, 8, 3), (32, 96, 12, 2), (8, 512, 4, 4)]):
        x, w = _layer(seed, 30 + i, tokens, k, out, n)
        cases.append(Case(f"transformer-like layer, {tokens} tokens, K = {k}, {out} outputs, {n} outlier channels",
                          dict(x=x, w=w, threshold=6.0)))
    x = rng.uniform(-3, 3, size=(4, 6))
    x[1, 2] = 6.0
    zero = rng.uniform(-3, 3, size=(3, 5))
    zero[1] = 0.0
    zero[1, 3] = 9.0                                              # token 1: only an outlier, its int8 part is 0
    sq_x, sq_w = _layer(seed, 40, 6, 20, 6, 2)
    cases += [
        Case("a value of exactly 6.0 (its column is an outlier)", dict(x=x, w=rng.normal(0, 0.5, size=(3, 6)),
                                                                       threshold=6.0)),
        Case("negative outliers", dict(x=np.where(np.arange(7) == 3, -20.0, 1.0) * rng.uniform(0.5, 1, size=(5, 7)),
                                       w=rng.normal(0, 0.5, size=(4, 7)), threshold=6.0)),
        Case("every column is an outlier (the int8 part is empty)", dict(x=rng.uniform(7, 9, size=(3, 2)),
                                                                         w=rng.normal(0, 1, size=(2, 2)),
                                                                         threshold=6.0)),
        Case("a token whose ordinary values are all 0", dict(x=zero, w=rng.normal(0, 1, size=(2, 5)), threshold=6.0)),
        Case("one token", dict(x=sq_x[:1], w=sq_w, threshold=6.0)),
        Case("as many tokens as outputs", dict(x=sq_x, w=sq_w, threshold=6.0)),
        Case("threshold 3.0", dict(x=rng.normal(0, 1.2, size=(6, 10)), w=rng.normal(0, 1, size=(5, 10)),
                                   threshold=3.0)),
        Case("large codes on long rows (int8 and int16 sums wrap)",
             dict(x=np.full((2, 300), 2.0), w=np.full((3, 300), -0.5), threshold=6.0)),
    ]
    return cases


# -- exercises 4 and 5: SmoothQuant -------------------------------------------------------------------

def _smooth_cases(suite: str, seed: int, salt: int) -> list:
    if suite == "visible":
        rng = _rng(0, salt)
        return [Case("alpha = 0.5", dict(x=np.array([[16.0, 1.0], [-4.0, 0.5]]), w=np.array([[1.0, 4.0], [-0.25, 1.0]]),
                                         alpha=0.5)),
                Case("alpha = 0.75", dict(x=rng.uniform(-4, 4, size=(3, 4)).round(2),
                                          w=rng.uniform(-1, 1, size=(2, 4)).round(2), alpha=0.75))]
    rng = _rng(seed, salt)
    x, w = _layer(seed, salt + 1, 16, 64, 8, 3)
    sq_x, sq_w = _layer(seed, salt + 2, 10, 12, 12, 2)
    zero_x = rng.normal(0, 1, size=(4, 5))
    zero_x[:, 2] = 0.0
    zero_w = rng.normal(0, 1, size=(3, 5))
    zero_w[:, 4] = 0.0
    neg = np.array([[-9.0, 1.0, 0.5], [2.0, -0.25, 0.5]])
    return [
        Case("transformer-like layer, alpha = 0.5", dict(x=x, w=w, alpha=0.5)),
        Case("transformer-like layer, alpha = 0.8", dict(x=x, w=w, alpha=0.8)),
        Case("alpha = 0 (only W is rescaled)", dict(x=x[:4], w=w, alpha=0.0)),
        Case("alpha = 1 (all the difficulty moves into W)", dict(x=x[:4], w=w, alpha=1.0)),
        Case("W square (out = K)", dict(x=sq_x, w=sq_w, alpha=0.5)),
        Case("W square, alpha = 0.3", dict(x=sq_x, w=sq_w, alpha=0.3)),
        Case("an all-zero channel of X (the 1e-5 clamp)", dict(x=zero_x, w=rng.normal(0, 1, size=(3, 5)), alpha=0.5)),
        Case("an all-zero channel of W (the 1e-5 clamp)", dict(x=rng.normal(0, 1, size=(4, 5)), w=zero_w, alpha=0.5)),
        Case("column maxima from negative values", dict(x=neg, w=-np.abs(rng.normal(0, 1, size=(2, 3))), alpha=0.6)),
        Case("one token", dict(x=rng.normal(0, 3, size=(1, 6)), w=rng.normal(0, 1, size=(4, 6)), alpha=0.5)),
    ]


def smoothing_cases(suite: str, seed: int) -> list:
    return _smooth_cases(suite, seed, 4)


def smooth_cases(suite: str, seed: int) -> list:
    return _smooth_cases(suite, seed, 5)


# -- exercise 6: the relative output error -----------------------------------------------------------------

def relative_error_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        x = np.array([[1.0, 2.0], [0.0, -1.0]])
        w = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]])        # X W^T = [[1, 3, 4], [0, -1, -2]]
        return [Case("one entry off by 0.5", dict(y=np.array([[1.0, 3.5, 4.0], [0.0, -1.0, -2.0]]), x=x, w=w)),
                Case("exact output", dict(y=x @ w.T, x=x, w=w)),
                Case("a 2 x 2 layer (W square)", dict(y=np.array([[2.0, 1.0], [0.0, 1.0]]), x=x, w=np.eye(2)))]
    rng = _rng(seed, 6)
    x, w = _layer(seed, 60, 24, 64, 8, 3)
    sq_x, sq_w = _layer(seed, 61, 6, 6, 6, 1)
    cases = [Case("per-tensor int8 output of a transformer-like layer", dict(y=per_tensor_int8(x, w).output, x=x, w=w)),
             Case("vector-wise int8 output", dict(y=vectorwise_int8(x, w).output, x=x, w=w)),
             Case("SmoothQuant output", dict(y=smoothquant(x, w).output, x=x, w=w)),
             Case("a square layer (W not transposed keeps the shape)",
                  dict(y=sq_x @ sq_w.T + rng.normal(0, 0.1, size=(6, 6)), x=sq_x, w=sq_w)),
             Case("an output 10 % too large", dict(y=1.1 * (x @ w.T), x=x, w=w)),
             Case("noise on a few entries", dict(y=x @ w.T + (rng.random((24, 8)) < 0.1) * rng.normal(0, 1, (24, 8)),
                                                 x=x, w=w)),
             Case("an exact output", dict(y=x @ w.T, x=x, w=w)),
             Case("all-zero output", dict(y=np.zeros((24, 8)), x=x, w=w)),
             Case("one token", dict(y=rng.normal(0, 1, size=(1, 4)), x=rng.normal(0, 1, size=(1, 3)),
                                    w=rng.normal(0, 1, size=(4, 3)))),
             ]
    return cases
