"""Known mistakes of problem set 8, each a small wrong implementation.

The checks compare a failing answer with each of these; a match names the mistake in the
feedback.  Each wrong implementation differs from a correct one in exactly one way.  They are
written with NumPy alone: the reference answers come from :mod:`quantref`, these only need to
reproduce a wrong answer.  ``WRONG`` maps every exercise to its list of ``(name, function)``.
"""
from __future__ import annotations

import numpy as np

from ..checking import Mistake


def build(pairs, compare) -> list:
    """Mistakes from ``(name, wrong implementation)`` pairs, matched with the exercise's comparison."""
    return [Mistake.from_function(name, wrong, compare) for name, wrong in pairs]


def _half_away(v):
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


# -- exercise 1: group-wise quantization -------------------------------------------------------------------

def groupwise(w, group_size, bits=4, *, widen=True, clip_zero=True, rnd=np.rint, levels=None, floor_scale=True,
              symmetric=False, down_columns=False):
    """Asymmetric group-wise quantization along the input dimension, with one thing possibly wrong."""
    w = np.asarray(w, dtype=np.float64)
    n, k = w.shape
    qmax = 2 ** bits - 1
    groups = w.T.reshape(-1, group_size) if down_columns else w.reshape(-1, group_size)
    lo, hi = groups.min(axis=1), groups.max(axis=1)
    if widen:
        lo, hi = np.minimum(lo, 0.0), np.maximum(hi, 0.0)
    if symmetric:
        scale = np.maximum(-lo, hi) / (qmax / 2)
    else:
        scale = (hi - lo) / (qmax if levels is None else levels)
    if floor_scale:
        scale = np.maximum(scale, np.finfo(np.float32).eps)
    with np.errstate(all="ignore"):
        zero = np.full(scale.shape, 2.0 ** (bits - 1)) if symmetric else -rnd(lo / scale)
    if clip_zero:
        zero = np.clip(zero, 0, qmax)
    with np.errstate(all="ignore"):
        codes = np.clip(rnd(groups / scale[:, None]) + zero[:, None], 0, qmax)
    codes = np.nan_to_num(codes).astype(np.uint8)
    if down_columns:
        codes = codes.reshape(k, n).T
    else:
        codes = codes.reshape(n, k)
    zero = np.nan_to_num(zero).astype(np.int64)
    return codes, scale.reshape(n, k // group_size), zero.reshape(n, k // group_size)


GW_DOWN_COLUMNS = "groups along the output dimension"
GW_NOT_WIDENED = "the group's range was not widened to contain 0"
GW_ZERO_NOT_CLIPPED = "the zero point was not clipped"


def groupwise_wrong() -> list:
    return [
        (GW_DOWN_COLUMNS + ": a group is G consecutive inputs of one output row, w[n, g*G:(g+1)*G]",
         lambda **kw: groupwise(**kw, down_columns=True)),
        (GW_NOT_WIDENED + ": use min(r_min, 0) and max(r_max, 0), so that 0 is exactly representable",
         lambda **kw: groupwise(**kw, widen=False)),
        (GW_ZERO_NOT_CLIPPED + " (and the range not widened to contain 0): z left the grid [0, 2^b - 1]",
         lambda **kw: groupwise(**kw, widen=False, clip_zero=False)),
        ("symmetric quantization: this exercise is asymmetric, one zero point per group from its range",
         lambda **kw: groupwise(**kw, symmetric=True)),
        ("ties rounded half away from zero; np.rint rounds half to even", lambda **kw: groupwise(**kw, rnd=_half_away)),
        ("floor instead of round to nearest", lambda **kw: groupwise(**kw, rnd=np.floor)),
        ("the scale divides the range by 2^b instead of 2^b - 1 (there are 2^b - 1 steps between 2^b levels)",
         lambda **kw: groupwise(**kw, levels=2 ** kw.get("bits", 4))),
        ("no floor on the scale: a group of zeros has range 0, and its scale must be the float32 epsilon 2^-23",
         lambda **kw: groupwise(**kw, floor_scale=False)),
    ]


# -- exercises 2 and 3: nibble packing ---------------------------------------------------------------------

def pack(codes, *, swapped=False, halves=False):
    c = np.asarray(codes).astype(np.uint16)
    half = c.shape[-1] // 2
    even, odd = (c[..., :half], c[..., half:]) if halves else (c[..., 0::2], c[..., 1::2])
    if swapped:
        even, odd = odd, even
    return (even | (odd << 4)).astype(np.uint8)


def unpack(packed, *, swapped=False, halves=False, unshifted=False):
    p = np.asarray(packed).astype(np.uint16)
    low, high = p & 15, (p & 0xF0) if unshifted else p >> 4
    if swapped:
        low, high = high, low
    if halves:
        out = np.concatenate([low, high], axis=-1)
    else:
        out = np.stack([low, high], axis=-1).reshape(p.shape[:-1] + (2 * p.shape[-1],))
    return out.astype(np.uint8)


NIBBLES_SWAPPED = "nibble order swapped"


def pack_wrong() -> list:
    return [(NIBBLES_SWAPPED + ": the even index goes to the low nibble, byte = q[2j] + 16 q[2j+1]",
             lambda **kw: pack(**kw, swapped=True)),
            ("code k was paired with code k + K/2 (the two halves of the row); pairs are neighbours 2j and 2j+1",
             lambda **kw: pack(**kw, halves=True))]


def unpack_wrong() -> list:
    return [(NIBBLES_SWAPPED + ": the low nibble is the even index, q[2j] = byte & 15, q[2j+1] = byte >> 4",
             lambda **kw: unpack(**kw, swapped=True)),
            ("the low nibbles then the high nibbles were concatenated; interleave them: q[2j], q[2j+1]",
             lambda **kw: unpack(**kw, halves=True)),
            ("the high nibble was masked but not shifted: byte & 0xF0 is 16 q, use byte >> 4",
             lambda **kw: unpack(**kw, unshifted=True))]


# -- exercise 4: GPTQ ------------------------------------------------------------------------------------------

def _qparams(cols, bits):
    qmax = 2 ** bits - 1
    lo, hi = np.minimum(cols.min(axis=1), 0.0), np.maximum(cols.max(axis=1), 0.0)
    s = np.maximum((hi - lo) / qmax, np.finfo(np.float32).eps)
    return s, np.clip(-np.rint(lo / s), 0, qmax)


def gptq(w, hessian, group_size, bits=4, *, feedback=True, divide=True, static=False, factor="inverse",
         sign=-1.0):
    """The column-by-column GPTQ loop with one thing possibly wrong."""
    W = np.array(w, dtype=np.float64)
    H = np.asarray(hessian, dtype=np.float64)
    n, k = W.shape
    if factor == "inverse":
        U = np.linalg.cholesky(np.linalg.inv(H)).T
    elif factor == "hessian":
        U = np.linalg.cholesky(H).T
    else:                                               # rows of H^-1 without the Cholesky form
        U = np.linalg.inv(H)
    original = W.copy()
    codes = np.zeros((n, k), dtype=np.uint8)
    scales = np.zeros((n, k // group_size))
    zeros = np.zeros((n, k // group_size), dtype=np.int64)
    qmax = 2 ** bits - 1
    for j in range(k):
        g = j // group_size
        if j % group_size == 0:
            source = original if static else W
            s, z = _qparams(source[:, j:j + group_size], bits)
            scales[:, g], zeros[:, g] = s, z
        q = np.clip(np.rint(W[:, j] / s) + z, 0, qmax)
        codes[:, j] = q
        if feedback:
            err = W[:, j] - s * (q - z)
            if divide:
                err = err / U[j, j]
            W[:, j:] += sign * np.outer(err, U[j, j:])
    return codes, scales, zeros


GPTQ_RTN = "no error feedback"


def gptq_wrong() -> list:
    return [
        (GPTQ_RTN + " (this is round to nearest): after quantizing column j, subtract e U[j, c] from every later "
                    "column c, with e = (w_j - q_j) / U[j, j]", lambda **kw: gptq(**kw, feedback=False)),
        ("the error was not divided by the diagonal U[j, j] before it was fed back",
         lambda **kw: gptq(**kw, divide=False)),
        ("group scales from the original weights: a group's scale and zero point are computed when the group starts, "
         "from its columns as the updates left them", lambda **kw: gptq(**kw, static=True)),
        ("the Cholesky factor of H instead of H^-1: U is upper triangular with H^-1 = U^T U",
         lambda **kw: gptq(**kw, factor="hessian")),
        ("rows of H^-1 used directly, without its Cholesky factor (each row would need the inverse of the Hessian "
         "of the columns not yet quantized)", lambda **kw: gptq(**kw, factor="rows")),
        ("the error was added instead of subtracted", lambda **kw: gptq(**kw, sign=1.0)),
    ]


# -- exercise 5: AWQ ------------------------------------------------------------------------------------------

def awq(w, x, group_size, bits, grid, *, normalise=True, on_inputs=False, weight_error=False, stat="mean",
        last_tie=False, undo=True):
    w = np.asarray(w, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x).mean(axis=0) if stat == "mean" else np.abs(x).max(axis=0)
    best = None
    for alpha in grid:
        s = np.maximum(a ** alpha, 1e-4)
        if normalise:
            s = s / np.sqrt(s.max() * s.min())
        if on_inputs:
            codes, sc, z = groupwise(w / s, group_size, bits)
            w_hat = _dequantize(codes, sc, z, group_size) * s
        else:
            codes, sc, z = groupwise(w * s, group_size, bits)
            w_hat = _dequantize(codes, sc, z, group_size) / (s if undo else 1.0)
        d = (w - w_hat) if weight_error else (x @ (w - w_hat).T)
        err = float(np.mean(d * d))
        if best is None or err < best[0] or (last_tie and err == best[0]):
            best = (err, float(alpha), s)
    return best[1], best[2]


def _dequantize(codes, scales, zeros, group_size):
    return np.repeat(scales, group_size, axis=1) * (codes.astype(np.int64) - np.repeat(zeros, group_size, axis=1))


def awq_wrong() -> list:
    return [
        ("scales not normalised: divide a^alpha by sqrt(max * min) of the scales", lambda **kw: awq(**kw, normalise=False)),
        ("the scales were applied to the inputs' side of W (W / s quantized, then times s); AWQ quantizes W diag(s) "
         "and divides by s", lambda **kw: awq(**kw, on_inputs=True)),
        ("the error was measured on the weights; AWQ compares the layer's outputs, X W^T against X W_hat^T",
         lambda **kw: awq(**kw, weight_error=True)),
        ("the activation magnitude was max |x|; AWQ uses the mean of |x| over the samples",
         lambda **kw: awq(**kw, stat="max")),
        ("ties went to the later exponent; keep the first exponent of the grid with the smallest error",
         lambda **kw: awq(**kw, last_tie=True)),
        ("the dequantized weight was not divided by s: the effective weight is Q(W diag(s)) diag(s)^-1",
         lambda **kw: awq(**kw, undo=False)),
    ]


# -- exercises 6 and 7: FP8 E4M3 --------------------------------------------------------------------------------

def encode_e4m3(x, *, rounding="even", subnormals=True, overflow="saturate", bias=7, nan_code=0x7F,
                sign_from_compare=False, via_float32=False):
    """FP8 E4M3 codes by float64 arithmetic (scaling by powers of two is exact), one thing possibly wrong."""
    x = np.asarray(x)
    if via_float32:
        x = x.astype(np.float32)
    x = x.astype(np.float64)
    sign = (x < 0) if sign_from_compare else np.signbit(x)
    a = np.abs(x)
    emin = 1 - bias
    max_value = 2.0 ** (15 - bias) * 1.75
    finite = np.isfinite(a) & (a > 0)
    safe = np.where(finite, a, 1.0)
    e = np.frexp(safe)[1] - 1                               # a = 1.m * 2^e
    e_eff = np.maximum(e, emin) if subnormals else e
    step = np.ldexp(1.0, e_eff - 3)
    r = safe / step
    if rounding == "even":
        q = np.rint(r)
    elif rounding == "away":
        q = np.floor(r + 0.5)
    else:
        q = np.floor(r)
    v = np.where(finite, q * step, 0.0)
    if not subnormals:
        v = np.where(e < emin, 0.0, v)
    big = v > max_value
    v_safe = np.where((v > 0) & ~big, v, 1.0)
    ev = np.frexp(v_safe)[1] - 1
    normal = ev >= emin
    mant = np.where(normal, v_safe / np.ldexp(1.0, ev) * 8 - 8, v_safe / np.ldexp(1.0, emin - 3))
    code = np.where(normal, (ev + bias) * 8 + mant, mant)
    code = np.where(v > 0, code, 0)
    over = big | np.isinf(a)
    code = np.where(over, 0x7E if overflow == "saturate" else 0x7F, code)
    if overflow == "saturate" and bias != 7:
        code = np.where(over, 0x7E, code)
    code = np.where(np.isnan(a), nan_code, code)
    return (code.astype(np.int64) | (sign.astype(np.int64) << 7)).astype(np.uint8)


def encode_wrong() -> list:
    return [
        ("ties rounded half away from zero; E4M3 rounds to nearest, ties to even (the code whose last mantissa bit "
         "is 0)", lambda **kw: encode_e4m3(**kw, rounding="away")),
        ("truncation (round toward zero) instead of round to nearest even", lambda **kw: encode_e4m3(**kw, rounding="down")),
        ("no subnormals: values below 2^-6 were flushed to zero; E4M3 has subnormals m/8 * 2^-6",
         lambda **kw: encode_e4m3(**kw, subnormals=False)),
        ("overflow to NaN instead of saturation: this exercise saturates to +-448 (and +-inf to +-448)",
         lambda **kw: encode_e4m3(**kw, overflow="nan")),
        ("exponent bias 8 instead of 7", lambda **kw: encode_e4m3(**kw, bias=8)),
        ("NaN was not encoded as 0x7F", lambda **kw: encode_e4m3(**kw, nan_code=0)),
        ("the sign was taken from x < 0, which is False for -0.0: use np.signbit so that -0.0 gives 0x80",
         lambda **kw: encode_e4m3(**kw, sign_from_compare=True)),
        ("double rounding: the float64 input was first rounded to float32, which moves values beside a tie onto "
         "it; round the float64 value once", lambda **kw: encode_e4m3(**kw, via_float32=True)),
    ]


def decode_e4m3(codes, *, bias=7, subnormals=True, nan=True, subnormal_exponent=None, signed=True):
    c = np.asarray(codes).astype(np.int64)
    s = (c >> 7) & 1
    e = (c >> 3) & 15
    m = c & 7
    sub_exp = (1 - bias) if subnormal_exponent is None else subnormal_exponent
    if subnormals:
        mag = np.where(e > 0, np.ldexp(1.0 + m / 8, e - bias), np.ldexp(m / 8, sub_exp))
    else:
        mag = np.ldexp(1.0 + m / 8, e - bias)
    if nan:
        mag = np.where((e == 15) & (m == 7), np.nan, mag)
    v = np.where(s == 1, -mag, mag) if signed else mag
    return v.astype(np.float32)


def decode_wrong() -> list:
    return [
        ("exponent bias 8 instead of 7", lambda **kw: decode_e4m3(**kw, bias=8)),
        ("no subnormals: exponent field 0 means 2^-6 * m/8, without the implicit leading 1",
         lambda **kw: decode_e4m3(**kw, subnormals=False)),
        ("0x7F and 0xFF were decoded as +-480; in E4M3 (fn) they are NaN", lambda **kw: decode_e4m3(**kw, nan=False)),
        ("subnormals scaled by 2^-7; they share the smallest normal exponent, 2^(1 - 7) = 2^-6",
         lambda **kw: decode_e4m3(**kw, subnormal_exponent=-7)),
        ("the sign bit was ignored", lambda **kw: decode_e4m3(**kw, signed=False)),
    ]


# -- exercise 8: NF4 ------------------------------------------------------------------------------------------

NF4_TABLE = np.array([
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0], dtype=np.float32)


def encode_nf4(x, block_size=64, *, whole=False, side="left", order="C", signed_max=False, guard=True,
               uniform=False):
    x = np.asarray(x)
    flat = x.astype(np.float64).reshape(-1, order=order)
    blocks = flat.reshape(-1, block_size)
    if signed_max:
        m = blocks.max(axis=1)
    else:
        m = np.abs(blocks).max(axis=1)
    if whole:
        m = np.full(len(blocks), np.abs(flat).max())
    absmax = m.astype(np.float32)
    d = absmax.astype(np.float64)[:, None]
    with np.errstate(all="ignore"):
        r = blocks / (np.where(d != 0, d, 1.0) if guard else d)
    if uniform:
        codes = np.clip(np.rint((r + 1) * 7.5), 0, 15)
    else:
        levels = NF4_TABLE.astype(np.float64)
        codes = np.searchsorted((levels[:-1] + levels[1:]) / 2, r, side=side)
    codes = np.nan_to_num(codes).astype(np.uint8).reshape(-1)
    return codes.reshape(x.shape, order=order), absmax


def nf4_wrong() -> list:
    return [
        ("NF4 absmax over the whole tensor; each block of block_size consecutive values has its own absmax",
         lambda **kw: encode_nf4(**kw, whole=True)),
        ("ties went to the upper level; a value exactly between two levels takes the lower one",
         lambda **kw: encode_nf4(**kw, side="right")),
        ("the blocks were taken down the columns; a block is block_size consecutive elements in C order (x.ravel())",
         lambda **kw: encode_nf4(**kw, order="F")),
        ("the block was divided by its largest value, not by its largest magnitude max |x|",
         lambda **kw: encode_nf4(**kw, signed_max=True)),
        ("a block of zeros was divided by 0: its absmax is 0 and its codes are 7 (the level 0)",
         lambda **kw: encode_nf4(**kw, guard=False)),
        ("16 evenly spaced levels instead of the NF4 table", lambda **kw: encode_nf4(**kw, uniform=True)),
    ]


WRONG = {"groupwise_quantize": groupwise_wrong, "pack_nibbles": pack_wrong, "unpack_nibbles": unpack_wrong,
         "gptq_quantize": gptq_wrong, "awq_search": awq_wrong, "encode_e4m3": encode_wrong,
         "decode_e4m3": decode_wrong, "encode_nf4": nf4_wrong}
