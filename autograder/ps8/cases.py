"""Inputs for the problem set 8 checks: a few visible cases, and many seeded hidden ones.

Every input is chosen so that a correct answer computed in float64 agrees with quantref exactly
where the comparison is exact:

* group-wise quantization: random weights, plus groups whose scale is a power of two (1/16) and
  whose values sit exactly on half steps, so that "round half to even" is a true tie; groups that
  lie entirely above or below zero (the range must be widened to contain 0), and a group of zeros
  (the scale floor);
* GPTQ: a dampened Hessian ``2 X^T X + lambda I`` from random inputs, redrawn until perturbing it
  by 1e-9 of its mean diagonal changes no code -- so no value comes within float64 rounding of a
  rounding boundary, and an answer that orders its float operations differently (a few 1e-13
  relative) still gets the same codes and zero points;
* AWQ: inputs with a few salient channels, redrawn until the best exponent's output error beats
  the runner-up's by at least 1e-7 relative (the errors of different formulas agree to ~1e-13);
  one case makes every exponent tie exactly (all |x| = 1: every scale is exactly 1);
* FP8 E4M3: every finite code's value, every exact midpoint between two neighbouring values (a
  tie, float64), float64 values just beside the midpoints (a float32 intermediate would round
  them onto the tie), subnormals, zeros of both signs, values past 448 and infinities
  (saturation), NaN; for decoding, all 256 codes;
* NF4: float32 blocks, plus a float64 block whose absmax is 1 holding every midpoint between two
  levels exactly (ties go to the lower level), and a block of zeros.
"""
from __future__ import annotations

import numpy as np

from quantref.formats import NF4_LEVELS, decode_e4m3
from quantref.lowbit import gptq_from_hessian

from ..checking import Case


def _rng(seed: int, salt: int) -> np.random.Generator:
    return np.random.default_rng([seed, salt])


# -- exercise 1: group-wise quantization --------------------------------------------------------------

def _weights(rng, n: int, k: int, scale: float = 0.5) -> np.ndarray:
    return rng.normal(0.0, scale, size=(n, k))


def _half_steps(rng, n: int, k: int) -> np.ndarray:
    """Rows whose groups of 8 span exactly [-0.5, 0.4375] (scale 1/16, zero point 8), values on half steps."""
    w = (rng.integers(-8, 7, size=(n, k)) + 0.5) / 16            # w / s = i + 1/2: a tie in every entry
    w[:, 0::8] = -0.5
    w[:, 1::8] = 0.4375
    return w


def groupwise_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        rng = _rng(0, 10)
        return [Case("one row, groups of 2 (the example)", dict(w=np.array([[-1.0, 0.5, 2.0, 3.0]]), group_size=2)),
                Case("2 rows of 8, groups of 8 spanning [-0.5, 0.4375]: scale 1/16, ties at half steps",
                     dict(w=_half_steps(rng, 2, 8), group_size=8)),
                Case("4 x 16, groups of 8", dict(w=_weights(rng, 4, 16), group_size=8))]
    rng = _rng(seed, 1)
    cases = []
    for n, k, g, bits in [(8, 64, 32, 4), (16, 128, 128, 4), (6, 96, 32, 3), (4, 32, 8, 2), (3, 16, 16, 8),
                          (5, 256, 64, 4)]:
        cases.append(Case(f"{n} x {k}, groups of {g}, {bits} bits", dict(w=_weights(rng, n, k), group_size=g,
                                                                           bits=bits)))
    cases.append(Case("square 32 x 32, groups of 8 (groups along the wrong axis keep the shape)",
                      dict(w=_weights(rng, 32, 32), group_size=8)))
    cases.append(Case("ties at half steps (scale 1/16)", dict(w=_half_steps(rng, 6, 32), group_size=8)))
    pos = _weights(rng, 4, 32, 0.2)
    pos[:, :16] = np.abs(pos[:, :16]) + 1.0                        # first group of each row above 0
    pos[:, 16:] = -np.abs(pos[:, 16:]) - 2.0                       # second group below 0
    cases.append(Case("groups entirely above or below zero (the range must contain 0)",
                      dict(w=pos, group_size=16)))
    zero = _weights(rng, 3, 32)
    zero[1, 8:16] = 0.0                                            # a group of zeros
    zero[2, :8] = 1e-9 * rng.normal(size=8)
    cases.append(Case("a group of zeros and a group of tiny weights", dict(w=zero, group_size=8)))
    cases.append(Case("one group per row (group_size = K)", dict(w=_weights(rng, 4, 48, 2.0), group_size=48)))
    cases.append(Case("large weights (around 100)", dict(w=100.0 + _weights(rng, 4, 32, 30.0), group_size=16)))
    return cases


# -- exercises 2 and 3: nibble packing ------------------------------------------------------------------

def _codes(rng, shape, top: int = 16) -> np.ndarray:
    return rng.integers(0, top, size=shape).astype(np.uint8)


def pack_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("one row of 4 codes (the example)", dict(codes=np.array([[1, 2, 15, 0]], dtype=np.uint8))),
                Case("2 x 6", dict(codes=_codes(_rng(0, 20), (2, 6))))]
    rng = _rng(seed, 2)
    return [Case("8 x 64", dict(codes=_codes(rng, (8, 64)))),
            Case("a 1-D array of 32 codes", dict(codes=_codes(rng, (32,)))),
            Case("3 x 2: one byte per row", dict(codes=_codes(rng, (3, 2)))),
            Case("square 16 x 16", dict(codes=_codes(rng, (16, 16)))),
            Case("every code 15 (every byte 255)", dict(codes=np.full((4, 8), 15, dtype=np.uint8))),
            Case("every pair (even, odd) of codes once", dict(codes=np.stack(np.meshgrid(
                np.arange(16), np.arange(16), indexing="ij"), axis=-1).reshape(1, -1).astype(np.uint8))),
            Case("3-bit codes (below 8) in nibbles", dict(codes=_codes(rng, (4, 12), top=8)))]


def unpack_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("one row of 2 bytes (the example)", dict(packed=np.array([[33, 15]], dtype=np.uint8))),
                Case("2 x 3 bytes", dict(packed=_codes(_rng(0, 30), (2, 3), top=256)))]
    rng = _rng(seed, 3)
    return [Case("8 x 32 bytes", dict(packed=_codes(rng, (8, 32), top=256))),
            Case("a 1-D array of 16 bytes", dict(packed=_codes(rng, (16,), top=256))),
            Case("3 x 1: one byte per row", dict(packed=_codes(rng, (3, 1), top=256))),
            Case("square 8 x 8", dict(packed=_codes(rng, (8, 8), top=256))),
            Case("all 256 byte values", dict(packed=np.arange(256, dtype=np.uint8).reshape(16, 16)))]


# -- exercise 4: GPTQ ----------------------------------------------------------------------------------------

def dampened_hessian(x: np.ndarray, percdamp: float = 0.01) -> np.ndarray:
    """``2 X^T X + lambda I``, ``lambda = percdamp * mean(diag)``, exactly symmetric (what the exercise is given)."""
    h = 2.0 * (x.T @ x)
    h = (h + h.T) / 2
    return h + percdamp * float(np.mean(np.diag(h))) * np.eye(len(h))


def _gptq_codes(w, h, g, bits):
    q = gptq_from_hessian(w, h, bits, g, percdamp=0.0)
    return q.codes, q.zero_points


def gptq_is_robust(w, h, g: int, bits: int) -> bool:
    """No code or zero point moves when H is perturbed by 1e-9 of its mean diagonal (nothing near a boundary)."""
    codes, zeros = _gptq_codes(w, h, g, bits)
    bump = 1e-9 * float(np.mean(np.diag(h))) * np.eye(len(h))
    for other in (h + bump, h - bump):
        c, z = _gptq_codes(w, other, g, bits)
        if not (np.array_equal(c, codes) and np.array_equal(z, zeros)):
            return False
    return True


def _layer(rng, n: int, k: int, samples: int = 0, *, salient: int = 0, correlated: bool = True,
           g: int = 8, bits: int = 4):
    for _ in range(50):
        w = rng.normal(0.0, 0.5, size=(n, k))
        x = rng.normal(0.0, 1.0, size=(samples or 4 * k, k))
        if correlated:
            x = x @ (np.eye(k) + 0.5 * rng.normal(0.0, 1.0 / np.sqrt(k), size=(k, k)))
        if salient:
            x[:, rng.choice(k, salient, replace=False)] *= 10.0
        h = dampened_hessian(x)
        if gptq_is_robust(w, h, g, bits):
            return dict(w=w, hessian=h, group_size=g, bits=bits)
    raise RuntimeError("no robust GPTQ case found; change the case's shape")  # pragma: no cover


def gptq_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        rng = _rng(0, 40)
        return [Case("2 x 4 layer, groups of 2", _layer(rng, 2, 4, 16, g=2)),
                Case("4 x 16 layer, groups of 8", _layer(rng, 4, 16, g=8)),
                Case("3 x 8 layer, one group per row", _layer(rng, 3, 8, g=8))]
    rng = _rng(seed, 4)
    cases = []
    for n, k, g, bits in [(8, 64, 32, 4), (16, 128, 64, 4), (6, 64, 16, 3), (4, 32, 32, 4), (5, 24, 8, 2)]:
        cases.append(Case(f"{n} x {k} layer, groups of {g}, {bits} bits", _layer(rng, n, k, g=g, bits=bits)))
    cases.append(Case("square 32 x 32 layer, groups of 8", _layer(rng, 32, 32, g=8)))
    cases.append(Case("inputs with 3 salient channels (10x larger)", _layer(rng, 8, 48, salient=3, g=16)))
    cases.append(Case("fewer samples than inputs (the dampening keeps H invertible)",
                      _layer(rng, 6, 32, samples=12, g=16)))
    cases.append(Case("uncorrelated inputs", _layer(rng, 4, 32, correlated=False, g=8)))
    return cases


# -- exercise 5: AWQ ---------------------------------------------------------------------------------------

#: the exponents of the visible and most hidden cases: 0, 0.05, ..., 1
GRID = [i / 20 for i in range(21)]


def awq_is_clear(w, x, g: int, bits: int, grid) -> bool:
    """The best exponent's error beats every other's by at least 1e-7 relative (no near-tie)."""
    from quantref.lowbit import awq_quantize
    errors = np.sort(awq_quantize(w, x, bits, g, grid=grid).errors)
    return len(errors) == 1 or errors[1] - errors[0] > 1e-7 * errors[0]


def _awq_layer(rng, n: int, k: int, g: int, bits: int = 4, *, salient: int = 2, factor: float = 20.0,
               grid=None, dead: int = 0):
    grid = list(GRID if grid is None else grid)
    for _ in range(50):
        w = rng.normal(0.0, 0.5, size=(n, k))
        x = rng.normal(0.0, 1.0, size=(8 * k, k)) * rng.uniform(0.5, 1.5, size=k)
        if salient:
            x[:, rng.choice(k, salient, replace=False)] *= factor
        if dead:
            x[:, rng.choice(k, dead, replace=False)] = 0.0
        if awq_is_clear(w, x, g, bits, grid):
            return dict(w=w, x=x, group_size=g, bits=bits, grid=grid)
    raise RuntimeError("no AWQ case without a near-tie found")  # pragma: no cover


def awq_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        rng = _rng(0, 50)
        return [Case("8 x 32 layer, 2 salient inputs, groups of 16, 3 bits", _awq_layer(rng, 8, 32, 16, 3)),
                Case("4 x 16 layer, 1 salient input, groups of 8, a grid of 5 exponents",
                     _awq_layer(rng, 4, 16, 8, 3, salient=1, grid=[0.0, 0.25, 0.5, 0.75, 1.0]))]
    rng = _rng(seed, 5)
    cases = []
    for n, k, g, bits, sal in [(16, 64, 32, 4, 2), (8, 128, 64, 3, 4), (12, 64, 16, 3, 1), (6, 32, 32, 4, 3)]:
        cases.append(Case(f"{n} x {k} layer, {sal} salient inputs, groups of {g}, {bits} bits",
                          _awq_layer(rng, n, k, g, bits, salient=sal)))
    cases.append(Case("square 32 x 32 layer, groups of 8", _awq_layer(rng, 32, 32, 8, 3)))
    cases.append(Case("no salient input (mild scaling)", _awq_layer(rng, 8, 32, 16, 3, salient=0)))
    cases.append(Case("an input that is always 0 (its scale is clamped at 1e-4)",
                      _awq_layer(rng, 8, 32, 16, 3, dead=1)))
    cases.append(Case("the grid in another order", _awq_layer(rng, 8, 32, 16, 3, grid=[1.0, 0.5, 0.0, 0.75, 0.25])))
    ones = np.where(rng.random((64, 16)) < 0.5, -1.0, 1.0)         # every mean |x| is 1: every scale is 1
    cases.append(Case("every exponent gives the same error (ties go to the first in the grid)",
                      dict(w=rng.normal(0.0, 0.5, size=(4, 16)), x=ones, group_size=8, bits=3,
                           grid=[0.5, 0.0, 1.0])))
    return cases


# -- exercises 6 and 7: FP8 E4M3 ------------------------------------------------------------------------------

def e4m3_values() -> np.ndarray:
    """The 253 finite non-negative and negative E4M3 values (codes 0..126 and 128..254), float64."""
    codes = np.array([c for c in range(256) if c not in (0x7F, 0xFF)], dtype=np.uint8)
    return decode_e4m3(codes).astype(np.float64)


def e4m3_midpoints() -> np.ndarray:
    """Every exact midpoint between neighbouring positive finite values, and 464 (between 448 and 480)."""
    v = np.unique(np.abs(e4m3_values()))
    return np.append((v[:-1] + v[1:]) / 2, 464.0)


def encode_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("the example", dict(x=np.array([0.1, -3.0, 1000.0], dtype=np.float32))),
                Case("ties (1.0625, 1.1875), 464, NaN, inf, the smallest subnormal",
                     dict(x=np.array([1.0, 1.0625, 1.1875, 464.0, np.nan, np.inf, 2.0 ** -9, -0.25],
                                     dtype=np.float32)))]
    rng = _rng(seed, 6)
    mids = e4m3_midpoints()
    signs = np.where(rng.random(mids.size) < 0.5, -1.0, 1.0)
    nudge = np.ldexp(1.0, -40) * mids                               # far below float32's resolution
    finite = e4m3_values()
    cases = [
        Case("every finite E4M3 value (each encodes to its own code), float32",
             dict(x=rng.permutation(finite).astype(np.float32))),
        Case("every midpoint between neighbouring values, positive (ties to even)", dict(x=mids.copy())),
        Case("every midpoint, negative", dict(x=-mids)),
        Case("just above and below every midpoint (float64: no double rounding through float32)",
             dict(x=np.concatenate([mids + nudge, mids - nudge]) * np.concatenate([signs, -signs]))),
        Case("random float32 values of every size (1e-4 to 1e3)",
             dict(x=(rng.normal(size=(8, 16)) * 10.0 ** rng.uniform(-4, 3, size=(8, 16))).astype(np.float32))),
        Case("the subnormal range (below 2^-6), float64",
             dict(x=rng.uniform(-2.0 ** -6, 2.0 ** -6, size=64))),
        Case("zeros of both signs, and values that round to zero (2^-10 is a tie with 0)",
             dict(x=np.array([0.0, -0.0, 2.0 ** -10, -(2.0 ** -10), 2.0 ** -11, -1e-6, 1e-30, -1e-300]))),
        Case("past the largest value: saturation to +-448",
             dict(x=np.array([448.0, 449.0, 463.9, 464.0, 464.1, 480.0, 500.0, -470.0, 1e6, -1e30, 65504.0]))),
        Case("infinities and NaN", dict(x=np.array([np.inf, -np.inf, np.nan, 1.0, np.nan], dtype=np.float32))),
        Case("a 3-D float32 array", dict(x=rng.normal(0, 50, size=(2, 3, 4)).astype(np.float32))),
    ]
    return cases


def decode_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("1, the smallest subnormal, 448, -448, NaN, -0",
                     dict(codes=np.array([0x38, 0x01, 0x7E, 0xFE, 0x7F, 0x80], dtype=np.uint8)))]
    rng = _rng(seed, 7)
    return [Case("all 256 codes, in order", dict(codes=np.arange(256, dtype=np.uint8))),
            Case("all 256 codes, shuffled, as a 16 x 16 array",
                 dict(codes=rng.permutation(256).astype(np.uint8).reshape(16, 16))),
            Case("the subnormal codes and their negatives", dict(codes=np.array(list(range(8)) + list(range(128, 136)),
                                                                                  dtype=np.uint8))),
            Case("random codes, 3-D", dict(codes=rng.integers(0, 256, size=(2, 4, 8)).astype(np.uint8)))]


# -- exercise 8: NF4 ----------------------------------------------------------------------------------------

def nf4_midpoints() -> np.ndarray:
    """The 15 exact float64 midpoints between neighbouring float32 NF4 levels."""
    levels = NF4_LEVELS.astype(np.float64)
    return (levels[:-1] + levels[1:]) / 2


def nf4_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        rng = _rng(0, 80)
        return [Case("the example: one block of 4", dict(x=np.array([0.5, -1.0, 0.04, 2.0], dtype=np.float32),
                                                           block_size=4)),
                Case("2 blocks of 8", dict(x=rng.normal(size=16).astype(np.float32), block_size=8))]
    rng = _rng(seed, 8)
    ties = np.concatenate([nf4_midpoints(), [1.0]])                   # absmax 1: x / absmax = x exactly
    cases = [Case("4 blocks of 64", dict(x=rng.normal(size=256).astype(np.float32), block_size=64)),
             Case("a 16 x 32 matrix, blocks of 64 (blocks run across rows in C order)",
                  dict(x=rng.normal(size=(16, 32)).astype(np.float32), block_size=64)),
             Case("a 8 x 64 matrix, blocks of 16", dict(x=rng.normal(size=(8, 64)).astype(np.float32), block_size=16)),
             Case("blocks of very different sizes (absmax per block, not per tensor)",
                  dict(x=(rng.normal(size=(4, 32)) * np.array([[1e-3], [1.0], [50.0], [0.2]])).astype(np.float32)
                       .reshape(-1), block_size=32)),
             Case("every midpoint between two levels, exactly (float64, absmax 1): ties go to the lower level",
                  dict(x=np.concatenate([ties, -ties[::-1]]), block_size=32)),
             Case("a block of zeros", dict(x=np.concatenate([np.zeros(8), rng.normal(size=8)]).astype(np.float32),
                                           block_size=8)),
             Case("a block whose largest magnitude is negative",
                  dict(x=np.array([-4.0, 1.0, 2.0, -0.5, 0.3, 3.9, -2.2, 0.0], dtype=np.float32), block_size=8)),
             Case("one block (block_size = x.size)", dict(x=rng.standard_t(3, size=128).astype(np.float32),
                                                          block_size=128))]
    return cases
