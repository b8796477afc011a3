"""Inputs for the problem set 2 checks: a few visible cases, and many seeded hidden ones.

Hidden suites cover the edges where wrong answers show: every pairing of uint8 and int8 codes,
zero points at the ends of their range, per-column weight zero points, square matrices (a sum
over the wrong axis keeps the shape), shared dimensions long enough that 8- and 16-bit
arithmetic wraps, exact ties in both rounding steps of the fixed-point multiply (both signs),
products of two int32 values beyond float64's 53 bits, shifts 0 and 31, the carry of a Q31
multiplier that rounds up to 2^31, and outputs clamped at both ends of the grid.
"""
from __future__ import annotations

import numpy as np

from ..checking import Case

U8, I8 = np.uint8, np.int8
INT32_MIN, INT32_MAX = -(2 ** 31), 2 ** 31 - 1


def _rng(seed: int, salt: int) -> np.random.Generator:
    return np.random.default_rng([seed, salt])


def _codes(rng, dtype, shape):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)


def _zero_point(rng, dtype, size=None):
    info = np.iinfo(dtype)
    z = rng.integers(info.min, info.max, size=size, endpoint=True)
    return int(z) if size is None else z.astype(np.int64)


# -- exercises 1 and 2: zero-point terms and the corrected matmul -------------------------------

def _matmul_visible() -> list:
    return [
        Case("uint8 activations x int8 weights, za = 128",
             dict(a=np.array([[130, 128, 0], [255, 1, 128]], dtype=U8),
                  b=np.array([[1, -2], [3, 4], [-128, 127]], dtype=I8), za=128, zb=0)),
        Case("uint8 x uint8 with both zero points",
             dict(a=np.array([[3, 5], [0, 9]], dtype=U8), b=np.array([[5, 6, 7], [8, 5, 0]], dtype=U8), za=3, zb=5)),
        Case("int8 x int8",
             dict(a=np.array([[-1, 4, 7]], dtype=I8), b=np.array([[2], [-3], [1]], dtype=I8), za=-1, zb=2)),
    ]


def _matmul_hidden(seed: int, salt: int) -> list:
    rng = _rng(seed, salt)
    cases = []
    for da, db in [(U8, I8), (U8, U8), (I8, I8), (I8, U8), (U8, I8), (U8, U8)]:
        m, k, n = (int(v) for v in rng.integers(1, 9, size=3))
        k = int(k * rng.integers(1, 40))
        cases.append(Case(f"random {np.dtype(da).name} x {np.dtype(db).name}, K = {k}",
                          dict(a=_codes(rng, da, (m, k)), b=_codes(rng, db, (k, n)),
                               za=_zero_point(rng, da), zb=_zero_point(rng, db))))
    s = int(rng.integers(3, 7))
    cases += [
        Case("square matrices (row and column sums have the same shape)",
             dict(a=_codes(rng, U8, (s, s)), b=_codes(rng, I8, (s, s)), za=int(rng.integers(1, 255)), zb=int(rng.integers(1, 127)))),
        Case("per-column weight zero points zb[j]",
             dict(a=_codes(rng, U8, (4, 9)), b=_codes(rng, U8, (9, 5)), za=int(rng.integers(1, 255)),
                  zb=_zero_point(rng, U8, 5))),
        Case("long shared dimension (uint8 x uint8 wraps in 8 or 16 bits)",
             dict(a=np.full((2, 700), 255, dtype=U8), b=np.full((700, 3), 255, dtype=U8), za=1, zb=2)),
        Case("largest products: 255 x -128",
             dict(a=np.full((3, 300), 255, dtype=U8), b=np.full((300, 2), -128, dtype=I8), za=0, zb=0)),
        Case("codes below the zero point (uint8 subtraction would wrap)",
             dict(a=rng.integers(0, 60, size=(3, 8)).astype(U8), b=_codes(rng, I8, (8, 4)), za=200, zb=-3)),
        Case("zero points at the ends of their ranges",
             dict(a=_codes(rng, I8, (2, 5)), b=_codes(rng, I8, (5, 3)), za=-128, zb=127)),
        Case("one row, one column", dict(a=_codes(rng, U8, (1, 6)), b=_codes(rng, I8, (6, 1)), za=77, zb=-9)),
        Case("K = 1", dict(a=_codes(rng, U8, (3, 1)), b=_codes(rng, U8, (1, 4)), za=5, zb=250)),
    ]
    return cases


def zero_point_terms_cases(suite: str, seed: int) -> list:
    return _matmul_visible() if suite == "visible" else _matmul_hidden(seed, 1)


def int_matmul_zp_cases(suite: str, seed: int) -> list:
    return _matmul_visible() if suite == "visible" else _matmul_hidden(seed, 2)


# -- exercise 3: fold the input zero point into the bias ----------------------------------------

def fold_bias_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("two output channels, uint8 inputs (z = 128)",
                     dict(bias_int32=np.array([100, -7], dtype=np.int32),
                          w_q=np.array([[1, -2, 3], [-127, 0, 5]], dtype=I8), x_zero_point=128)),
                Case("int8 inputs (z = -5)",
                     dict(bias_int32=np.array([0, 10, 20], dtype=np.int32),
                          w_q=np.array([[1, 1], [2, -3], [0, 127]], dtype=I8), x_zero_point=-5))]
    rng = _rng(seed, 3)
    cases = []
    for i in range(5):
        n_out, n_in = (int(v) for v in rng.integers(1, 40, size=2))
        lo, hi = (0, 255) if i % 2 == 0 else (-128, 127)
        cases.append(Case(f"random {n_out} x {n_in} weights, {'uint8' if lo == 0 else 'int8'} inputs",
                          dict(bias_int32=rng.integers(-2 ** 20, 2 ** 20, size=n_out).astype(np.int32),
                               w_q=rng.integers(-127, 128, size=(n_out, n_in)).astype(I8),
                               x_zero_point=int(rng.integers(lo, hi + 1)))))
    s = int(rng.integers(3, 8))
    cases += [
        Case("square weights (a sum over the wrong axis keeps the shape)",
             dict(bias_int32=rng.integers(-1000, 1000, size=s).astype(np.int32),
                  w_q=rng.integers(-127, 128, size=(s, s)).astype(I8), x_zero_point=int(rng.integers(1, 127)))),
        Case("large products z * w (int8 arithmetic wraps)",
             dict(bias_int32=np.array([5, -5, 0], dtype=np.int32),
                  w_q=np.array([[127, 127, 100], [-127, -90, 3], [64, -64, 64]], dtype=I8), x_zero_point=100)),
        Case("zero point 0: the bias is unchanged",
             dict(bias_int32=np.array([3, -1, 4, -1], dtype=np.int32),
                  w_q=rng.integers(-127, 128, size=(4, 6)).astype(I8), x_zero_point=0)),
        Case("uint8 zero point 255, all weights 127",
             dict(bias_int32=np.array([-7, 7], dtype=np.int32), w_q=np.full((2, 50), 127, dtype=I8), x_zero_point=255)),
        Case("one output channel", dict(bias_int32=np.array([12345], dtype=np.int32),
                                        w_q=rng.integers(-127, 128, size=(1, 9)).astype(I8), x_zero_point=-128)),
    ]
    return cases


# -- exercise 4: the Q31 multiplier ---------------------------------------------------------------

def quantize_multiplier_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("M in [0.5, 1): no shift", dict(M=0.75)),
                Case("M = 0.1 = 0.8 * 2^-3", dict(M=0.1)),
                Case("a power of two", dict(M=0.25))]
    rng = _rng(seed, 4)
    cases = [Case("random M in (0, 1)", dict(M=float(rng.uniform(0.001, 1.0)))) for _ in range(4)]
    cases += [Case("random small M", dict(M=float(10 ** rng.uniform(-9, -3)))) for _ in range(4)]
    n = int(rng.integers(1, 20))
    cases += [
        Case("M0 rounds up to 2^31: carry into the shift", dict(M=(2 ** 31 - 0.25) / 2 ** 32)),
        Case("M0 rounds up to 2^31 at a larger shift", dict(M=(2 ** 31 - 0.125) / 2 ** (31 + n + 1))),
        Case("M0 * 2^31 ends in exactly .5 (round half up)", dict(M=(2 ** 30 + 0.5) / 2 ** 31)),
        Case("M0 * 2^31 ends in exactly .5, even integer part", dict(M=(2 ** 30 + 2.5) / 2 ** (31 + n))),
        Case("M0 * 2^31 ends in .4", dict(M=(2 ** 30 + 7.4) / 2 ** 31)),
        Case("M = 2^-k", dict(M=2.0 ** -n)),
        Case("M just below 1", dict(M=1 - 2.0 ** -31)),
        Case("M = 2^-32: the largest shift, 31", dict(M=2.0 ** -32)),
        Case("M = 0.5 exactly", dict(M=0.5)),
    ]
    return cases


# -- exercise 5: multiply by the quantized multiplier -------------------------------------------

def _random_m0(rng, size=None):
    return rng.integers(2 ** 30, 2 ** 31, size=size)


def mbqm_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("M = 2^30 / 2^31 * 2^-1 = 0.25: ties of RoundingDivideByPOT",
                     dict(acc=np.array([10, -10, 6, -6, 7, 0], dtype=np.int32), M0=2 ** 30, shift=1)),
                Case("M = 0.1 (M0 = 1717986918, shift 3)",
                     dict(acc=np.array([1000, -999, 123456, -5], dtype=np.int32), M0=1717986918, shift=3)),
                Case("M = 1/2, no shift: ties of the high multiply go toward +infinity",
                     dict(acc=np.array([1, 3, 5, -1, -3, -5], dtype=np.int32), M0=2 ** 30, shift=0))]
    rng = _rng(seed, 5)
    cases = []
    for i in range(4):
        acc = rng.integers(INT32_MIN, INT32_MAX, size=(int(rng.integers(1, 20)),), endpoint=True).astype(np.int32)
        cases.append(Case("random accumulators and multiplier",
                          dict(acc=acc, M0=int(_random_m0(rng)), shift=int(rng.integers(0, 32)))))
    small = rng.integers(-2 ** 20, 2 ** 20, size=12).astype(np.int32)
    odd = (2 * rng.integers(-2 ** 15, 2 ** 15, size=10) + 1).astype(np.int32)
    cases += [
        Case("accumulators of realistic size", dict(acc=small, M0=int(_random_m0(rng)), shift=int(rng.integers(5, 12)))),
        # M0 = 2^30 halves exactly: odd accumulators give high-mul ties (k + 1/2), negative and positive
        Case("exact ties in the high multiply, both signs", dict(acc=odd, M0=2 ** 30, shift=0)),
        # M0 = 2^30 halves, shift 2 quarters: acc = 8k + 4 gives x = 4k + 2, a tie of the shift
        Case("exact ties in the rounding shift, both signs",
             dict(acc=(8 * rng.integers(-1000, 1000, size=10) + 4).astype(np.int32), M0=2 ** 30, shift=2)),
        Case("products beyond 2^53 (float64 is not exact)",
             dict(acc=rng.integers(2 ** 28, 2 ** 31 - 1, size=8).astype(np.int32) * np.array([1, -1] * 4, dtype=np.int32),
                  M0=int(_random_m0(rng)) | 1, shift=0)),
        Case("extremes INT32_MIN and INT32_MAX",
             dict(acc=np.array([INT32_MIN, INT32_MAX, -1, 1, 0], dtype=np.int32), M0=INT32_MAX, shift=0)),
        Case("shift 31", dict(acc=np.array([INT32_MIN, INT32_MAX, 2 ** 30, -(2 ** 30), 12345], dtype=np.int32),
                              M0=2 ** 30, shift=31)),
        Case("per-channel multipliers (M0, shift per column)",
             dict(acc=rng.integers(-2 ** 24, 2 ** 24, size=(5, 4)).astype(np.int32), M0=_random_m0(rng, 4),
                  shift=rng.integers(0, 16, size=4))),
        Case("2-D accumulators", dict(acc=rng.integers(-2 ** 26, 2 ** 26, size=(3, 7)).astype(np.int32),
                                      M0=int(_random_m0(rng)), shift=9)),
    ]
    return cases


# -- exercise 6: requantize -----------------------------------------------------------------------

def requantize_cases(suite: str, seed: int) -> list:
    if suite == "visible":
        return [Case("uint8 output, some codes clamped",
                     dict(acc=np.array([[-300, -1, 0, 99, 150, 1000, 40000]], dtype=np.int32),
                          M0=1374389535, shift=6, out_zero_point=2, qmin=0, qmax=255)),
                Case("int8 output", dict(acc=np.array([-100000, -2560, 0, 2560, 100000], dtype=np.int32),
                                         M0=2 ** 30, shift=7, out_zero_point=-5, qmin=-128, qmax=127))]
    rng = _rng(seed, 6)
    cases = []
    for i in range(4):
        qmin, qmax = (0, 255) if i % 2 == 0 else (-128, 127)
        acc = rng.integers(-2 ** 22, 2 ** 22, size=(int(rng.integers(1, 6)), int(rng.integers(1, 8)))).astype(np.int32)
        cases.append(Case(f"random accumulators, {'uint8' if qmin == 0 else 'int8'} output",
                          dict(acc=acc, M0=int(_random_m0(rng)), shift=int(rng.integers(12, 18)),
                               out_zero_point=int(rng.integers(qmin, qmax + 1)), qmin=qmin, qmax=qmax)))
    cases += [
        Case("clamped at both ends", dict(acc=np.array([-2 ** 30, -5000, 0, 5000, 2 ** 30], dtype=np.int32),
                                          M0=2 ** 30, shift=4, out_zero_point=128, qmin=0, qmax=255)),
        Case("zero point at the top of the grid", dict(acc=rng.integers(-3000, 3000, size=8).astype(np.int32),
                                                       M0=1717986918, shift=4, out_zero_point=255, qmin=0, qmax=255)),
        Case("zero point at the bottom of the grid", dict(acc=rng.integers(-3000, 3000, size=8).astype(np.int32),
                                                          M0=1717986918, shift=4, out_zero_point=-128, qmin=-128, qmax=127)),
        Case("a 4-bit grid [0, 15]", dict(acc=np.arange(-40, 41, 8, dtype=np.int32), M0=2 ** 30, shift=2,
                                          out_zero_point=3, qmin=0, qmax=15)),
        Case("exact ties in the high multiply", dict(acc=np.arange(-41, 42, 2, dtype=np.int32), M0=2 ** 30,
                                                    shift=0, out_zero_point=100, qmin=0, qmax=255)),
        Case("exact ties in the rounding shift", dict(acc=(8 * np.arange(-5, 5) + 4).astype(np.int32), M0=2 ** 30,
                                                     shift=2, out_zero_point=10, qmin=0, qmax=255)),
        Case("per-channel multipliers", dict(acc=rng.integers(-2 ** 20, 2 ** 20, size=(4, 3)).astype(np.int32),
                                             M0=_random_m0(rng, 3), shift=rng.integers(12, 16, size=3),
                                             out_zero_point=-10, qmin=-128, qmax=127)),
    ]
    return cases
