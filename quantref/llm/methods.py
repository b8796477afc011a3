r"""Quantized matmuls for outlier-laden activations, each with its error against the float product.

Every method returns ``(output, rel_error)`` with

.. math::

    \mathrm{rel\_error} = \frac{\|\hat Y - X W^T\|_F}{\|X W^T\|_F}.

================================  ==============================================================
method                            what is quantized how
================================  ==============================================================
:func:`per_tensor_int8`           one absmax scale for ``X``, one for ``W``: the outliers set
                                  ``X``'s scale and the ordinary values collapse onto a few codes
:func:`vectorwise_int8`           one scale per token (row of ``X``) and per output channel (row
                                  of ``W``): still ruined, since most tokens carry an outlier
:func:`llm_int8`                  LLM.int8() (Dettmers et al. 2022): the columns of ``X`` with any
                                  ``|x| >= 6.0`` and the matching columns of ``W`` in floating
                                  point, the rest vector-wise int8, the two results summed
:func:`smoothquant`               SmoothQuant (Xiao et al. 2023): divide column ``j`` of ``X`` by
                                  ``s_j`` and multiply column ``j`` of ``W`` by it (the product is
                                  unchanged), then quantize both to int8
================================  ==============================================================

The decomposition of LLM.int8() keeps its outlier part in float64 here (the paper uses fp16);
its integer part is exact (int32, :func:`quantref.kernels.int_matmul`).
"""
from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np
from tqdm.auto import tqdm

from .absmax import absmax_int8, check_operands, int8_product

#: LLM.int8()'s outlier threshold.
THRESHOLD = 6.0
#: The floor of the smoothing factors and of the channel maxima behind them.  SmoothQuant's code
#: (``smooth.py``) applies ``clamp(min=1e-5)`` to the weight maxima and to the factors; we also apply
#: it to the activation maxima (see :func:`smoothing_factors`).
SMOOTH_CLAMP = 1e-5


class MatmulResult(NamedTuple):
    output: np.ndarray   #: the approximate product, float64 (tokens, out)
    rel_error: float     #: ``||output - X W^T||_F / ||X W^T||_F``


def relative_error(y, y_ref) -> float:
    """``||y - y_ref||_F / ||y_ref||_F`` (``inf`` if the reference is all zeros and ``y`` is not)."""
    num = float(np.linalg.norm(np.asarray(y, dtype=np.float64) - y_ref))
    den = float(np.linalg.norm(y_ref))
    return num / den if den > 0 else (0.0 if num == 0 else float("inf"))


def _result(y, x, w) -> MatmulResult:
    return MatmulResult(y, relative_error(y, x @ w.T))


def per_tensor_int8(x, w) -> MatmulResult:
    """Int8 with one absmax scale per tensor for ``X`` and for ``W``."""
    x, w = check_operands(x, w)
    return _result(int8_product(absmax_int8(x, "per_tensor"), absmax_int8(w, "per_tensor"))[1], x, w)


def vectorwise_int8(x, w) -> MatmulResult:
    """Int8 with one absmax scale per token (row of ``X``) and per output channel (row of ``W``)."""
    x, w = check_operands(x, w)
    return _result(int8_product(absmax_int8(x, "per_row"), absmax_int8(w, "per_row"))[1], x, w)


# ----------------------------------------------------------------------------- LLM.int8()
class Int8Decomposition(NamedTuple):
    """The two parts of LLM.int8()'s mixed-precision product ``X W^T = outlier part + integer part``."""

    outlier_columns: np.ndarray   #: indices ``j`` with ``max_i |X_ij| >= threshold``
    x_codes: np.ndarray           #: int8 codes of the other columns of X, (tokens, K - n_outliers)
    x_scale: np.ndarray           #: per-token scales
    w_codes: np.ndarray           #: int8 codes of the other columns of W, (out, K - n_outliers)
    w_scale: np.ndarray           #: per-output-channel scales
    int_product: np.ndarray       #: int32 ``x_codes @ w_codes.T``, exact
    outlier_product: np.ndarray   #: float64 ``X[:, O] @ W[:, O].T``
    output: np.ndarray            #: ``outlier_product + x_scale w_scale int_product``


def _check_threshold(threshold) -> float:
    if isinstance(threshold, (bool, np.bool_)) or not isinstance(threshold, numbers.Real) \
            or not np.isfinite(threshold) or threshold <= 0:
        raise ValueError(f"threshold must be a positive number, got {threshold!r}; LLM.int8() uses threshold=6.0.")
    return float(threshold)


def outlier_columns(x, threshold: float = THRESHOLD) -> np.ndarray:
    """Columns of ``X`` holding at least one value with ``|x| >= threshold`` (``>=``: 6.0 itself counts).

    Examples
    --------
    >>> outlier_columns(np.array([[1.0, 6.0, -5.9], [-6.1, 0.0, 2.0]]))
    array([0, 1])
    """
    x = np.asarray(x)
    return np.flatnonzero(np.any(np.abs(x) >= _check_threshold(threshold), axis=0))


def llm_int8_decompose(x, w, threshold: float = THRESHOLD) -> Int8Decomposition:
    """Split ``X W^T`` into LLM.int8()'s float outlier part and its exact int8 vector-wise part."""
    x, w = check_operands(x, w)
    cols = outlier_columns(x, threshold)
    regular = np.ones(x.shape[1], dtype=bool)
    regular[cols] = False
    outlier_product = x[:, cols] @ w[:, cols].T
    if regular.any():
        xq = absmax_int8(x[:, regular], "per_row")
        wq = absmax_int8(w[:, regular], "per_row")
        acc, y_int = int8_product(xq, wq)
        x_codes, x_scale, w_codes, w_scale = xq.codes, xq.scale, wq.codes, wq.scale
    else:                                           # every column is an outlier: nothing in int8
        acc = np.zeros((x.shape[0], w.shape[0]), dtype=np.int32)
        y_int = np.zeros(acc.shape)
        x_codes = np.zeros((x.shape[0], 0), dtype=np.int8)
        w_codes = np.zeros((w.shape[0], 0), dtype=np.int8)
        x_scale, w_scale = np.ones(x.shape[0]), np.ones(w.shape[0])
    return Int8Decomposition(cols, x_codes, x_scale, w_codes, w_scale, acc, outlier_product, outlier_product + y_int)


def llm_int8(x, w, threshold: float = THRESHOLD) -> MatmulResult:
    """LLM.int8(): outlier columns in float, the rest int8 vector-wise, summed."""
    x, w = check_operands(x, w)
    return _result(llm_int8_decompose(x, w, threshold).output, x, w)


# ----------------------------------------------------------------------------- SmoothQuant
def _check_alpha(alpha) -> float:
    if isinstance(alpha, (bool, np.bool_)) or not isinstance(alpha, numbers.Real) or not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}; SmoothQuant uses alpha=0.5.")
    return float(alpha)


def smoothing_factors(x, w, alpha: float = 0.5) -> np.ndarray:
    r"""SmoothQuant's per-input-channel factors :math:`s_j = \max_i|X_{ij}|^\alpha / \max_o|W_{oj}|^{1-\alpha}`.

    SmoothQuant's code (``smooth_ln_fcs`` in ``smooth.py``) clamps the weight maxima and the
    factors at ``1e-5``; the activation maxima come from calibration and are not clamped there.
    This function clamps the activation maxima too, so both maxima are treated alike: an all-zero
    activation channel then gets :math:`(10^{-5})^\alpha / \max_o|W_{oj}|^{1-\alpha}` rather than
    the floor ``1e-5``.  The two agree on every channel whose activation maximum is at least ``1e-5``.

    Examples
    --------
    >>> x = np.array([[16.0, 1.0], [-4.0, 0.5]])
    >>> w = np.array([[1.0, 4.0], [-0.25, 1.0]])
    >>> smoothing_factors(x, w)          # sqrt(16) / sqrt(1) = 4 ; sqrt(1) / sqrt(4) = 0.5
    array([4. , 0.5])
    """
    x, w = check_operands(x, w)
    alpha = _check_alpha(alpha)
    ax = np.maximum(np.abs(x).max(axis=0), SMOOTH_CLAMP)
    aw = np.maximum(np.abs(w).max(axis=0), SMOOTH_CLAMP)
    return np.maximum(ax ** alpha / aw ** (1.0 - alpha), SMOOTH_CLAMP)


def smooth(x, w, alpha: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(X / s, W * s, s)``: the smoothed operands (columns scaled) and the factors; ``X W^T`` is unchanged."""
    x, w = check_operands(x, w)
    s = smoothing_factors(x, w, alpha)
    return x / s, w * s, s


def smoothquant(x, w, alpha: float = 0.5, *, act_granularity: str = "per_tensor",
                weight_granularity: str = "per_tensor") -> MatmulResult:
    """SmoothQuant: smooth with ``alpha``, then int8 absmax (activations per tensor or per token).

    ``act_granularity``: ``"per_tensor"`` (SmoothQuant-O2) or ``"per_token"`` (O1); the activation
    scales are computed from ``x`` itself (dynamic), so the static per-tensor scale of O3 is not modelled;
    ``weight_granularity``: ``"per_tensor"`` (as in all three) or ``"per_channel"``.
    """
    names = {"per_tensor": "per_tensor", "per_token": "per_row", "per_channel": "per_row"}
    if act_granularity not in ("per_tensor", "per_token"):
        raise ValueError(f"act_granularity={act_granularity!r}: use 'per_tensor' or 'per_token'.")
    if weight_granularity not in ("per_tensor", "per_channel"):
        raise ValueError(f"weight_granularity={weight_granularity!r}: use 'per_tensor' or 'per_channel'.")
    x, w = check_operands(x, w)
    xs, ws, _ = smooth(x, w, alpha)
    y = int8_product(absmax_int8(xs, names[act_granularity]), absmax_int8(ws, names[weight_granularity]))[1]
    return _result(y, x, w)


def alpha_sweep(x, w, alphas=None, *, progress: bool = True, **kwargs) -> list[dict]:
    """SmoothQuant's error for each migration strength ``alpha`` (default 0, 0.1, ..., 1).

    ``alpha = 0`` gives ``s_j = 1 / max|W_j|``: the columns of ``W`` are scaled to a maximum of 1
    and column ``j`` of ``X`` is multiplied by ``max|W_j|`` (no difficulty moves only when the
    weight maxima are alike); ``alpha = 1`` moves all the difficulty into the weights.  Returns rows
    ``{"alpha": a, "rel_error": e}``.
    """
    alphas = np.round(np.linspace(0.0, 1.0, 11), 10) if alphas is None else alphas
    x, w = check_operands(x, w)
    return [{"alpha": float(a), "rel_error": smoothquant(x, w, a, **kwargs).rel_error}
            for a in tqdm(alphas, desc="alpha sweep", disable=not progress)]
