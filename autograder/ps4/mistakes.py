"""Known mistakes of problem set 4, each a small wrong implementation or a test on the output.

The checks compare a failing answer with each of these; a match names the mistake in the
feedback.  Each wrong implementation differs from the reference in exactly one way.  They are
written with NumPy alone: the reference answers come from :mod:`quantref`, these only need to
reproduce a wrong answer.
"""
from __future__ import annotations

import numpy as np

from ..checking import Mistake

_EPS = float(np.finfo(np.float32).eps)
_CLAMP = 1e-5


def build(pairs, compare) -> list:
    """Mistakes from ``(name, wrong implementation)`` pairs, matched with the exercise's comparison.

    The student's answer matches a wrong implementation's when the comparison finds no
    difference, the same inf or NaN in both at the same places counting as equal
    (:meth:`~autograder.checking.Mistake.from_function`).
    """
    return [Mistake.from_function(name, wrong, compare) for name, wrong in pairs]


# -- exercise 1: outlier columns ----------------------------------------------------------------------

def outlier_wrong() -> list:
    def cols(test, axis=0, reduce=np.any):
        def wrong(x, threshold=6.0):
            return np.flatnonzero(reduce(test(np.asarray(x, dtype=np.float64), threshold), axis=axis))
        return wrong

    return [
        ("> instead of >=: a value of exactly the threshold (6.0 or -6.0) makes its column an outlier",
         cols(lambda x, t: np.abs(x) > t)),
        ("rows instead of columns: an outlier is a feature dimension, a column of X (reduce over the tokens, axis=0)",
         cols(lambda x, t: np.abs(x) >= t, axis=1)),
        ("|x| is missing: negative values of -6.0 and below are outliers too",
         cols(lambda x, t: x >= t)),
        ("all() instead of any(): one token with |x| >= threshold makes the column an outlier",
         cols(lambda x, t: np.abs(x) >= t, reduce=np.all)),
    ]


def outlier_extra() -> list:
    def boolean_mask(got, args, expected):
        arr = np.asarray(got)
        return arr.dtype == np.bool_ and arr.ndim == 1 and np.array_equal(np.flatnonzero(arr), expected)

    def where_tuple(got, args, expected):
        return isinstance(got, tuple) and len(got) == 1 and np.array_equal(np.asarray(got[0]), expected)

    return [Mistake("returned a boolean mask: return the column indices, np.flatnonzero(mask)", boolean_mask),
            Mistake("returned np.where's tuple: the indices are its first element, np.where(mask)[0] "
                    "(or use np.flatnonzero)", where_tuple)]


# -- exercise 2: per-row absmax int8 ---------------------------------------------------------------------

def _rows(v, *, axis=1, divisor=127.0, rnd=np.rint, floor=True, per_tensor=False):
    v = np.asarray(v, dtype=np.float64)
    amax = np.abs(v).max() if per_tensor else np.abs(v).max(axis=axis)
    scale = amax / divisor
    if floor:
        scale = np.maximum(scale, _EPS)
    s = np.full(v.shape[0], scale) if per_tensor else scale
    shaped = s[:, None] if axis == 1 else s[None, :]
    with np.errstate(all="ignore"):
        q = np.clip(rnd(v / shaped), -127, 127)
    return np.nan_to_num(q).astype(np.int8), s


def _half_away(v):
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def quantize_rows_wrong() -> list:
    return [
        ("the absmax runs over the wrong axis: one scale per row of v (reduce along axis=1), one per token of X and "
         "one per output channel of W", lambda v: _rows(v, axis=0)),
        ("one scale for the whole matrix (per tensor); vector-wise quantization has one scale per row",
         lambda v: _rows(v, per_tensor=True)),
        ("divided by 128: the absmax maps to 127, the end of the narrow grid [-127, 127] (s = max|v| / 127)",
         lambda v: _rows(v, divisor=128.0)),
        ("divided by 127.5 (PyTorch's full-range divisor); the narrow grid [-127, 127] uses s = max|v| / 127",
         lambda v: _rows(v, divisor=127.5)),
        ("ties were rounded away from zero; np.round (np.rint) rounds half to even",
         lambda v: _rows(v, rnd=_half_away)),
        ("rounded by truncation (astype(np.int8) without rounding); round to nearest with np.round first",
         lambda v: _rows(v, rnd=np.trunc)),
        ("no floor on the scale: an all-zero (or tiny) row needs s = max(max|v| / 127, SCALE_EPS)",
         lambda v: _rows(v, floor=False)),
    ]


def quantize_rows_extra() -> list:
    def per_column_shape(got, args, expected):
        v = np.asarray(args["v"])
        try:
            return v.shape[0] != v.shape[1] and np.shape(got[1]) == (v.shape[1],)
        except Exception:  # noqa: BLE001
            return False

    def scalar_scale(got, args, expected):
        try:
            return np.ndim(got[1]) == 0 and np.asarray(args["v"]).shape[0] > 1
        except Exception:  # noqa: BLE001
            return False

    def column_vector(got, args, expected):
        try:
            return np.shape(got[1]) == (np.shape(expected[1])[0], 1)
        except Exception:  # noqa: BLE001
            return False

    return [
        Mistake("the absmax runs over the wrong axis: one scale per row of v (reduce along axis=1), one per token of X "
                "and one per output channel of W", per_column_shape),
        Mistake("one scale for the whole matrix (per tensor); vector-wise quantization has one scale per row",
                scalar_scale),
        Mistake("the scales have shape (rows, 1): return them as a 1-D array, scales.ravel() (keep keepdims for "
                "the division only)", column_vector),
    ]


# -- exercise 3: LLM.int8() -----------------------------------------------------------------------------------

def _llm(x, w, threshold=6.0, *, test=lambda a, t: a >= t, drop=True, float_part=True, wrap=False,
         per_tensor=False, scales_first=False):
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    outlier = np.any(test(np.abs(x), threshold), axis=0)
    cols = np.flatnonzero(outlier)
    regular = ~outlier if drop else np.ones(x.shape[1], dtype=bool)
    if not regular.any():
        acc = np.zeros((x.shape[0], w.shape[0]), dtype=np.int64)
        y_int = np.zeros(acc.shape)
    else:
        if scales_first:                    # per-token scales from the whole row, outliers included
            xq, xs = _rows(x)
            xq = xq[:, regular]
        else:
            xq, xs = _rows(x[:, regular], per_tensor=per_tensor)
        wq, ws = _rows(w[:, regular], per_tensor=per_tensor)
        acc = xq.astype(np.int64) @ wq.T.astype(np.int64)
        if wrap:
            acc = acc.astype(np.int8).astype(np.int64)
        y_int = xs[:, None] * ws[None, :] * acc
    y = y_int + (x[:, cols] @ w[:, cols].T if float_part else 0.0)
    return acc, y


def llm_int8_wrong() -> list:
    return [
        ("the outlier columns are in the int8 part too: they go to the float part only (drop them from X and W "
         "before quantizing)", lambda **kw: _llm(**kw, drop=False)),
        ("the float part of the outlier columns is missing: Y = X[:, O] W[:, O]^T + the rescaled int8 part",
         lambda **kw: _llm(**kw, float_part=False)),
        ("the int8 product wrapped around: int8 @ int8 stays int8 in NumPy; widen the codes to int32 first",
         lambda **kw: _llm(**kw, wrap=True)),
        ("outlier columns: a value of exactly the threshold counts (|x| >= threshold, not >)",
         lambda **kw: _llm(**kw, test=lambda a, t: a > t)),
        ("the int8 part used one scale per tensor; LLM.int8() is vector-wise: one scale per token (row of X) and "
         "per output channel (row of W)", lambda **kw: _llm(**kw, per_tensor=True)),
        ("the per-token scales were computed before the outlier columns were removed, so the outliers still set "
         "them; quantize X[:, regular] itself", lambda **kw: _llm(**kw, scales_first=True)),
    ]


# -- exercises 4 and 5: SmoothQuant ------------------------------------------------------------------------------

def _factors(x, w, alpha=0.5, *, swap=False, invert=False, w_axis=0, x_axis=0, clamp=True, signed=False):
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    ax = (x if signed else np.abs(x)).max(axis=x_axis)
    aw = (w if signed else np.abs(w)).max(axis=w_axis)
    if clamp:
        ax, aw = np.maximum(ax, _CLAMP), np.maximum(aw, _CLAMP)
    a = 1.0 - alpha if swap else alpha
    with np.errstate(all="ignore"):
        s = aw ** (1.0 - a) / ax ** a if invert else ax ** a / aw ** (1.0 - a)
    return np.maximum(s, _CLAMP) if clamp else s


#: (name, keyword arguments of the wrong factors); exercise 5's solution calls exercise 4's
FACTOR_VARIANTS = [
    ("the alpha exponents are swapped: s_j = max|X_j|^alpha / max|W_j|^(1 - alpha)", dict(swap=True)),
    ("the ratio is upside down: s_j = max|X_j|^alpha / max|W_j|^(1 - alpha), and X is divided by it",
     dict(invert=True)),
    ("max|W_j| runs over the wrong axis: input channel j is column j of W (out x K), so reduce over axis 0",
     dict(w_axis=1)),
    ("max|X_j| runs over the wrong axis: channel j is column j of X (tokens x K), so reduce over the tokens, axis 0",
     dict(x_axis=1)),
    ("no clamp at 1e-5: an all-zero channel gives a factor of 0 or inf; clamp both maxima and the factors at 1e-5 "
     "(SMOOTH_CLAMP)", dict(clamp=False)),
    ("the maxima are of signed values; SmoothQuant uses max |X_j| and max |W_j|", dict(signed=True)),
]


def smoothing_wrong() -> list:
    return [(name, lambda _kw=kw, **args: _factors(**args, **_kw)) for name, kw in FACTOR_VARIANTS]


def _smooth(x, w, alpha=0.5, *, how="right", factors=None):
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    s = _factors(x, w, alpha, **(factors or {}))
    if how == "inverse":
        return x * s, w / s
    if how == "both":
        return x / s, w / s
    if how == "rows":
        return x / s, w * s[:, None]
    return x / s, w * s


def smooth_wrong() -> list:
    pairs = [
        ("the inverse transform (X * s, W / s), or s upside down: X is divided by s = max|X_j|^alpha / "
         "max|W_j|^(1 - alpha), which shrinks the activation outliers, and W multiplied by it",
         lambda **kw: _smooth(**kw, how="inverse")),
        ("both operands were divided by s: W is multiplied by it, so that (X / s)(W * s)^T = X W^T",
         lambda **kw: _smooth(**kw, how="both")),
        ("the rows of W were scaled: input channel j is column j of W (out x K), so W * s scales its columns",
         lambda **kw: _smooth(**kw, how="rows")),
    ]
    for name, kw in FACTOR_VARIANTS:
        if kw.get("invert"):
            continue                        # the same output as the inverse transform above
        pairs.append((f"in the smoothing factors (Exercise 4): {name}",
                      lambda _kw=kw, **args: _smooth(**args, factors=_kw)))
    return pairs


def smooth_extra() -> list:
    def unclamped(got, args, expected):
        zero_channel = any(np.any(np.all(np.asarray(args[k]) == 0, axis=0)) for k in ("x", "w"))
        try:
            finite = all(np.all(np.isfinite(np.asarray(g, dtype=np.float64))) for g in got)
        except Exception:  # noqa: BLE001
            return False
        return zero_channel and not finite

    return [Mistake("in the smoothing factors (Exercise 4): " + FACTOR_VARIANTS[4][0], unclamped)]


#: Mistakes that usually show as a shape error (the check reports the error itself) and are
#: named only on square inputs, where the shapes happen to agree.
SHAPE_ERRORS = {FACTOR_VARIANTS[2][0], FACTOR_VARIANTS[3][0],
                "the rows of W were scaled: input channel j is column j of W (out x K), so W * s scales its columns",
                "W was not transposed: the layer computes X @ W.T (W is out x K)"}


# -- exercise 6: the relative error -----------------------------------------------------------------------------

def relative_error_wrong() -> list:
    def err(how):
        def wrong(y, x, w):
            y = np.asarray(y, dtype=np.float64)
            ref = np.asarray(x, dtype=np.float64) @ np.asarray(w, dtype=np.float64).T
            with np.errstate(all="ignore"):
                if how == "own":
                    return float(np.linalg.norm(y - ref) / np.linalg.norm(y))
                if how == "squared":
                    return float(np.linalg.norm(y - ref) ** 2 / np.linalg.norm(ref) ** 2)
                if how == "elementwise":
                    return float(np.mean(np.abs(y - ref) / np.abs(ref)))
                if how == "norms":
                    return float(abs(np.linalg.norm(y) - np.linalg.norm(ref)) / np.linalg.norm(ref))
                if how == "max":
                    return float(np.abs(y - ref).max() / np.abs(ref).max())
                if how == "mse":
                    return float(np.mean((y - ref) ** 2))
                if how == "untransposed":
                    ref = np.asarray(x, dtype=np.float64) @ np.asarray(w, dtype=np.float64)
                    return float(np.linalg.norm(y - ref) / np.linalg.norm(ref))
            raise ValueError(how)
        return wrong

    return [
        ("divided by the norm of the method's output Y; the relative error is relative to the exact product: "
         "||Y - X W^T|| / ||X W^T||", err("own")),
        ("the norms were squared: ||Y - X W^T||_F / ||X W^T||_F, not its square", err("squared")),
        ("the mean of element-wise relative errors; use the ratio of Frobenius norms, ||Y - X W^T|| / ||X W^T||",
         err("elementwise")),
        ("the difference of the norms, | ||Y|| - ||X W^T|| |; the error is the norm of the difference, "
         "||Y - X W^T||", err("norms")),
        ("the largest absolute error (max norm); use the Frobenius norm (np.linalg.norm of the matrix)", err("max")),
        ("the mean squared error is not relative: divide the norm of the error by the norm of X W^T", err("mse")),
        ("W was not transposed: the layer computes X @ W.T (W is out x K)", err("untransposed")),
    ]


#: The wrong implementations of each exercise (the tests run every one through its check).
WRONG = {"outlier_columns": outlier_wrong, "quantize_rows": quantize_rows_wrong, "llm_int8": llm_int8_wrong,
         "smoothing_factors": smoothing_wrong, "smooth": smooth_wrong, "relative_error": relative_error_wrong}
