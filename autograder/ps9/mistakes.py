"""Known mistakes of problem set 9, each a small wrong implementation or a test on the output.

The checks compare a failing answer with each of these; a match names the mistake in the
feedback.  Each wrong implementation differs from the exercise in exactly one way.  They are
written with NumPy alone: the reference answers come from :mod:`quantref`, these only need to
reproduce a wrong answer.
"""
from __future__ import annotations

import math

import numpy as np

from ..checking import Mistake

F32_EPS = float(np.finfo(np.float32).eps)


def build(pairs, compare) -> list:
    """Mistakes from ``(name, wrong implementation)`` pairs, matched with the exercise's comparison."""
    return [Mistake.from_function(name, wrong, compare) for name, wrong in pairs]


# -- exercise 1: batch-norm folding --------------------------------------------------------------------

def _fold(w, b, gamma, beta, mean, var, eps, *, factor="right", bias="right", dtype=np.float64):
    w, b, gamma, beta, mean, var = (np.asarray(a, dtype=dtype) for a in (w, b, gamma, beta, mean, var))
    if factor == "var":
        f = gamma / (var + eps)
    elif factor == "no_eps":
        f = gamma / np.sqrt(var)
    elif factor == "eps_outside":
        f = gamma / (np.sqrt(var) + eps)
    else:
        f = gamma / np.sqrt(var + dtype(eps))
    shape = (len(f),) + (1,) * (w.ndim - 1)
    if bias == "no_mean":
        b_new = b * f + beta
    elif bias == "unscaled":
        b_new = b - mean + beta
    elif bias == "beta_scaled":
        b_new = (b - mean + beta) * f
    else:
        b_new = (b - mean) * f + beta
    return (w * f.reshape(shape)).astype(np.float64), b_new.astype(np.float64)


def fold_wrong() -> list:
    return [
        ("divided by the variance, not by the standard deviation: the factor is gamma / sqrt(var + eps)",
         lambda **a: _fold(**a, factor="var")),
        ("epsilon left out: the factor is gamma / sqrt(var + eps), not gamma / sqrt(var)",
         lambda **a: _fold(**a, factor="no_eps")),
        ("epsilon added to the standard deviation: it goes under the square root, sqrt(var + eps)",
         lambda **a: _fold(**a, factor="eps_outside")),
        ("the running mean was not subtracted from the bias: b' = (b - mean) * factor + beta",
         lambda **a: _fold(**a, bias="no_mean")),
        ("the bias shift (b - mean) was not multiplied by the factor: b' = (b - mean) * factor + beta",
         lambda **a: _fold(**a, bias="unscaled")),
        ("beta was multiplied by the factor too; it is added after scaling: b' = (b - mean) * factor + beta",
         lambda **a: _fold(**a, bias="beta_scaled")),
        ("folded in float32: convert the parameters to float64 first (np.asarray(x, dtype=np.float64))",
         lambda **a: _fold(**a, dtype=np.float32)),
    ]


# -- exercise 2: per-channel int8 weights ------------------------------------------------------------------

def _weights(w, *, granularity="channel", qmax=127, divisor=127, rounding="even", eps=True):
    w = np.asarray(w, dtype=np.float64)
    flat = w.reshape(len(w), -1)
    if granularity == "tensor":
        amax = np.full(len(w), np.abs(flat).max())
    elif granularity == "input":
        amax = np.abs(w).max(axis=tuple(d for d in range(w.ndim) if d != 1))
    else:
        amax = np.abs(flat).max(axis=1)
    scale = amax / divisor
    if eps:
        scale = np.maximum(scale, F32_EPS)
    if granularity == "input":
        shape = [1] * w.ndim
        shape[1] = -1
        r = w / scale.reshape(shape)
        scale = np.full(len(w), np.nan)
    else:
        r = flat / scale[:, None]
    if rounding == "even":
        q = np.rint(r)
    elif rounding == "half_up":
        q = np.floor(r + 0.5)
    elif rounding == "away":
        q = np.sign(r) * np.floor(np.abs(r) + 0.5)
    else:
        q = np.trunc(r)
    return np.clip(q, -qmax - (qmax == 127 and divisor == 127.5), qmax).astype(np.int8).reshape(w.shape), scale


def weights_wrong() -> list:
    return [
        ("one scale for the whole tensor (per-tensor); each output channel needs its own, max|W_c| / 127",
         lambda w: _weights(w, granularity="tensor")),
        ("one scale per input channel (axis 1); the scales belong to the output channels (axis 0)",
         lambda w: _weights(w, granularity="input")),
        ("divided by 128 (the int8 range's size on the negative side); the narrow grid [-127, 127] uses 127",
         lambda w: _weights(w, divisor=128)),
        ("truncated toward zero (astype(np.int8) without rounding); round to the nearest code first",
         lambda w: _weights(w, rounding="trunc")),
        ("rounded half away from zero; NumPy's np.round rounds half to even, as quantref does",
         lambda w: _weights(w, rounding="away")),
        ("an all-zero channel divided by a zero scale; clamp the scale at float32's eps",
         lambda w: _weights(w, eps=False)),
    ]


# -- exercise 3: the int32 bias ---------------------------------------------------------------------------

def _bias(b, input_scale, weight_scales, *, scale="both", rounding="even", dtype=np.int32):
    b = np.asarray(b, dtype=np.float64)
    s_w = np.asarray(weight_scales, dtype=np.float64)
    s = {"both": input_scale * s_w, "weight": s_w, "input": input_scale + 0 * s_w, "sum": input_scale + s_w}[scale]
    r = b / s
    q = np.rint(r) if rounding == "even" else np.trunc(r)
    if dtype == np.int8:
        return np.clip(q, -128, 127).astype(np.int32)
    if np.any(np.abs(q) > 2 ** 31 - 1) or not np.all(np.isfinite(q)):
        raise ValueError("out of int32")
    return q.astype(np.int32)


def bias_wrong() -> list:
    return [
        ("the bias scale is the weight scale alone; it is s_x * s_w, the scale of the accumulator",
         lambda b, input_scale, weight_scales: _bias(b, input_scale, weight_scales, scale="weight")),
        ("the bias scale is the input scale alone; it is s_x * s_w, the scale of the accumulator",
         lambda b, input_scale, weight_scales: _bias(b, input_scale, weight_scales, scale="input")),
        ("the bias scale is s_x + s_w; the accumulator's scale is the product s_x * s_w",
         lambda b, input_scale, weight_scales: _bias(b, input_scale, weight_scales, scale="sum")),
        ("truncated toward zero; round to the nearest integer (half to even)",
         lambda b, input_scale, weight_scales: _bias(b, input_scale, weight_scales, rounding="trunc")),
        ("the bias was clipped to int8; it is an int32, like the accumulator it is added to",
         lambda b, input_scale, weight_scales: _bias(b, input_scale, weight_scales, dtype=np.int8)),
    ]


# -- exercise 4: the requantization multipliers ----------------------------------------------------------

def _multipliers(input_scale, weight_scales, output_scale, *, m="right", mantissa="round", sign=1):
    s_w = np.asarray(weight_scales, dtype=np.float64)
    M = {"right": input_scale * s_w / output_scale, "inverted": output_scale / (input_scale * s_w),
         "no_input": s_w / output_scale}[m]
    m0, shift = [], []
    for v in np.atleast_1d(M):
        if mantissa == "raw":
            m0.append(math.floor(v * 2 ** 31 + 0.5))
            shift.append(0)
            continue
        f, e = math.frexp(v)
        q = math.floor(f * 2 ** 31) if mantissa == "floor" else math.floor(f * 2 ** 31 + 0.5)
        n = -e
        if mantissa == "round" and q == 2 ** 31:
            q, n = 2 ** 30, n - 1
        m0.append(q)
        shift.append(sign * n)
    return np.array(m0, dtype=np.int64), np.array(shift, dtype=np.int64)


def multiplier_wrong() -> list:
    return [
        ("the multiplier is upside down: M = s_x * s_w / s_out (it is below 1)",
         lambda **a: _multipliers(**a, m="inverted")),
        ("the input scale is missing: M = s_x * s_w / s_out",
         lambda **a: _multipliers(**a, m="no_input")),
        ("M was not normalised: M0 = round(f * 2^31) with M = f * 2^-n and f in [0.5, 1) (math.frexp)",
         lambda **a: _multipliers(**a, mantissa="raw")),
        ("the mantissa was truncated; round f * 2^31 to the nearest integer",
         lambda **a: _multipliers(**a, mantissa="floor")),
        ("the Q31 carry is missing: when f * 2^31 rounds to 2^31, use M0 = 2^30 and one shift less",
         lambda **a: _multipliers(**a, mantissa="carry")),
        ("the shift has the wrong sign: it is the right shift n = -exponent, a non-negative number",
         lambda **a: _multipliers(**a, sign=-1)),
    ]


# -- exercise 5: the integer convolution -----------------------------------------------------------------

def _im2col(x, pad_value):
    n, c, h, w = x.shape
    xp = np.full((n, c, h + 2, w + 2), pad_value, dtype=np.int64)
    xp[:, :, 1:-1, 1:-1] = x
    cols = np.stack([xp[:, :, u:u + h, v:v + w] for u in range(3) for v in range(3)], axis=2)   # n, c, 9, h, w
    return cols.transpose(0, 3, 4, 1, 2).reshape(n * h * w, c * 9)


def _mbqm(acc, m0, shift):
    ab = acc * m0
    nudge = np.where(ab >= 0, 2 ** 30, 1 - 2 ** 30)
    x = ab + nudge
    high = np.where(x >= 0, x // 2 ** 31, -(-x // 2 ** 31))
    mask = (np.int64(1) << shift) - 1
    rem = high & mask
    threshold = (mask >> 1) + (high < 0)
    return (high >> shift) + (rem > threshold)


def _conv(x_q, x_zero_point, w_q, bias_q, m0, shift, out_zero_point, relu, *, pad="zero_point",
          subtract=True, rounding="fixed", relu_at="output", multiplier="channel", layout="nchw"):
    n, _, h, w = x_q.shape
    c_out = w_q.shape[0]
    x = np.asarray(x_q, dtype=np.int64)
    z = int(x_zero_point)
    if relu_at == "input":
        x = np.maximum(x, z)
    cols = _im2col(x, z if pad == "zero_point" else 0)
    if subtract:
        cols = cols - z
    prod = cols @ np.asarray(w_q, dtype=np.int64).reshape(c_out, -1).T
    if relu and relu_at == "product":
        prod = np.maximum(prod, 0)
    acc = prod + np.asarray(bias_q, dtype=np.int64)
    m0 = np.asarray(m0, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    if multiplier == "tensor":
        m0, shift = np.full(c_out, m0.ravel()[0]), np.full(c_out, shift.ravel()[0])
    if rounding == "fixed":
        y = _mbqm(acc, m0, shift)
    else:
        y = np.rint(acc * (m0 / 2.0 ** 31) * 2.0 ** (-shift.astype(np.float64))).astype(np.int64)
    y = y + int(out_zero_point)
    low = int(out_zero_point) if relu and relu_at == "output" else 0
    if relu and relu_at == "code0":
        low = 0
    q = np.clip(y, low, 255).astype(np.uint8).reshape(n, h, w, c_out)
    return q if layout == "nhwc" else q.transpose(0, 3, 1, 2)


def conv_wrong() -> list:
    return [
        ("padded with 0 instead of the input zero point: the code of real 0 is z_x, so pad with z_x",
         lambda **a: _conv(**a, pad="zero")),
        ("the input zero point was not subtracted: the accumulator is sum (x_q - z_x) w_q + b_q",
         lambda **a: _conv(**a, subtract=False)),
        ("rounded like a textbook, round(acc * M); the integer kernel rounds acc * M0 / 2^31 (half up), then shifts "
         "(half away from zero): use the fixed-point multiply of problem set 2",
         lambda **a: _conv(**a, rounding="textbook")),
        ("the ReLU clamps at code 0; real 0 is the output zero point, so clamp at z_out",
         lambda **a: _conv(**a, relu_at="code0")),
        ("the ReLU was applied before the bias was added (on the product alone); it acts on the output, after "
         "requantization: clamp the codes at z_out",
         lambda **a: _conv(**a, relu_at="product")),
        ("the ReLU was applied to the layer's input instead of its output",
         lambda **a: _conv(**a, relu_at="input")),
        ("one multiplier for every channel (the first one's); each output channel has its own (m0, shift)",
         lambda **a: _conv(**a, multiplier="tensor")),
    ]


def conv_extra() -> list:
    def channels_last(got, args, expected):
        try:
            return bool(np.array_equal(np.asarray(got), np.asarray(expected).transpose(0, 2, 3, 1))
                        and np.asarray(got).shape != np.asarray(expected).shape)
        except Exception:  # noqa: BLE001
            return False
    return [Mistake("the output has its channels last (n, h, w, c_out); return (n, c_out, h, w) like the input",
                    channels_last)]


# -- exercise 6: the payoff table --------------------------------------------------------------------------

def _rows(got, expected):
    """The rows of both as ``[(name, got_row, expected_row)]``, or None if ``got`` is not a table."""
    if not isinstance(got, dict) or not isinstance(expected, dict):
        return None
    try:
        return [(r, got[r], expected[r]) for r in expected]
    except (KeyError, TypeError):
        return None


def _weight_count(model, with_bias=False) -> int:
    keys = [k for k in model if k.endswith("_W")]
    total = sum(int(np.asarray(model[k]).size) for k in keys)
    if with_bias:
        total += sum(int(np.asarray(model[k.replace("_W", "_b")]).size) for k in keys)
    return total


def _bytes_of(got, row):
    try:
        return int(got[row]["bytes"])
    except Exception:  # noqa: BLE001
        return None


def payoff_extra() -> list:
    def percent(got, args, expected):
        rows = _rows(got, expected)
        return bool(rows) and all(abs(float(g["accuracy"]) / 100 - e["accuracy"]) * e["n_test"] <= 5
                                  for _, g, e in rows) and any(float(g["accuracy"]) > 1 for _, g, _ in rows)

    def float64_bytes(got, args, expected):
        return _bytes_of(got, "float32") == 2 * expected["float32"]["bytes"]

    def bn_kept(got, args, expected):
        extra = 16 * sum(int(np.asarray(v).size) for k, v in args["model"].items() if k.endswith("_gamma"))
        return _bytes_of(got, "float32") == expected["float32"]["bytes"] + extra

    def unpacked(got, args, expected):
        half = sum(-(-int(np.asarray(v).size) // 2) for k, v in args["model"].items() if k.endswith("_W"))
        full = _weight_count(args["model"])
        return any(_bytes_of(got, row) == expected[row]["bytes"] + full - half
                   for row in ("ptq_int4_weights", "qat_int4_weights", "kmeans_4bit_weights"))

    def no_codebook(got, args, expected):
        layers = sum(1 for k in args["model"] if k.endswith("_W"))
        return _bytes_of(got, "kmeans_4bit_weights") == expected["kmeans_4bit_weights"]["bytes"] - 64 * layers

    def weights_only_int8(got, args, expected):
        return _bytes_of(got, "ptq_int8_minmax") == _weight_count(args["model"])

    def float_accuracy_everywhere(got, args, expected):
        rows = _rows(got, expected)
        if not rows:
            return False
        try:
            accs = [float(g["accuracy"]) for _, g, _ in rows]
        except Exception:  # noqa: BLE001
            return False
        return len(set(accs)) == 1 and accs[0] == float(got["float32"]["accuracy"]) and \
            any(e["accuracy"] != expected["float32"]["accuracy"] for _, _, e in rows)

    return [
        Mistake("the accuracies are percentages; give them as fractions in [0, 1]", percent),
        Mistake("the float32 model was counted with 8 bytes a value (float64); float32 values take 4", float64_bytes),
        Mistake("the float32 model still counts its batch norms (4 vectors a layer); the deployed model is folded",
                bn_kept),
        Mistake("4-bit codes were counted one to a byte; two 4-bit codes share a byte (ceil(n / 2) bytes)", unpacked),
        Mistake("the k-means row leaves out its codebooks: 16 float32 values (64 bytes) per layer", no_codebook),
        Mistake("the int8 model's bytes count only its weights; it also stores per channel an int32 bias, M0 and "
                "shift, a zero point per layer and the input's scale and zero point", weights_only_int8),
        Mistake("every row has the float32 model's accuracy: each row must evaluate its own quantized model",
                float_accuracy_everywhere),
    ]


#: The wrong implementations of each exercise (the tests run every one through its check).
WRONG = {"fold_batch_norm": fold_wrong, "quantize_conv_weights": weights_wrong, "quantize_conv_bias": bias_wrong,
         "layer_multipliers": multiplier_wrong, "integer_conv2d": conv_wrong}
