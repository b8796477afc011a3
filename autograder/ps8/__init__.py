"""Checks for problem set 8, low-bit weights: group-wise int4, nibbles, GPTQ, AWQ, FP8 E4M3 and NF4.

Each test cell of the assignment calls one of these with the student's function (they return
None: a value left at the end of a test cell would be read by nbgrader as partial credit)::

    from autograder.ps8 import check_gptq_quantize
    check_gptq_quantize(gptq_quantize)                    # visible cases, inputs shown on failure
    check_gptq_quantize(gptq_quantize, suite="hidden")    # hidden cases, only their labels shown

The reference answers come from :mod:`quantref.lowbit` (``quantize_groupwise``, ``pack_nibbles``,
``unpack_nibbles``, ``gptq_from_hessian``, ``awq_quantize``) and :mod:`quantref.formats`
(``encode_e4m3`` with ``saturate=True``, ``decode_e4m3``, ``encode_nf4``); :mod:`.cases` holds the
inputs and :mod:`.mistakes` the known wrong answers that the feedback names.  Codes, zero points,
packed bytes, FP8 codes and values, NF4 codes and absmax are compared exactly; scales with the
tolerances stated at each comparison.
"""
from __future__ import annotations

import numpy as np

from quantref.formats import decode_e4m3, encode_e4m3, encode_nf4
from quantref.lowbit import awq_quantize, gptq_from_hessian, pack_nibbles, quantize_groupwise, unpack_nibbles

from ..checking import Exercise, ProblemSet, compare_float_array, compare_integer_array, compare_tuple
from . import cases, mistakes


# -- comparisons ------------------------------------------------------------------------------------------

def _codes(got, expected) -> str | None:
    return compare_integer_array(got, expected, dtype=np.uint8)


def _integers(got, expected) -> str | None:
    return compare_integer_array(np.asarray(got) if isinstance(got, (list, tuple)) else got, expected)


def _compare_groupwise(got, expected) -> str | None:
    # the same float64 formula, s = (max(r_max, 0) - min(r_min, 0)) / (2^b - 1): identical, or one rounding
    # apart if the answer multiplies by 1/(2^b - 1); 1e-12 relative
    return compare_tuple(got, expected, [("codes", _codes),
                                         ("scales", lambda g, e: compare_float_array(g, e, rtol=1e-12)),
                                         ("zero points", _integers)])


def _compare_gptq(got, expected) -> str | None:
    # the column updates are float64 sums whose order (and the way U is computed) may differ from
    # quantref's: the updated columns, and so the scales, agree to ~1e-13 relative; 1e-9 relative.
    # Codes and zero points are exact: every case is checked to keep them under a 1e-9 perturbation
    # of H (cases.gptq_is_robust), far more than float64 reordering moves anything.
    return compare_tuple(got, expected, [("codes", _codes),
                                         ("scales", lambda g, e: compare_float_array(g, e, rtol=1e-9)),
                                         ("zero points", _integers)])


def _compare_awq(got, expected) -> str | None:
    # alpha is one of the grid's own numbers: exact.  The scales are a^alpha / sqrt(max * min) with
    # a = mean |x|, a sum in another order: 1e-9 relative
    return compare_tuple(got, expected, [("alpha", lambda g, e: compare_float_array(g, e, rtol=0.0, atol=0.0)),
                                         ("scales", lambda g, e: compare_float_array(g, e, rtol=1e-9))])


def _compare_values(got, expected) -> str | None:
    """Decoded FP8 values, bit-exact: the same numbers, NaN where NaN, and the sign of every zero."""
    if not isinstance(got, np.ndarray) or not np.issubdtype(got.dtype, np.floating):
        return f"expected a NumPy float array (float32), got {type(got).__name__}" + (
            f" of dtype {got.dtype}" if isinstance(got, np.ndarray) else "")
    if got.shape != expected.shape:
        return f"shape {got.shape}, expected {expected.shape}"
    g, e = got.astype(np.float64), expected.astype(np.float64)
    bad = (np.isnan(g) != np.isnan(e)) | (~np.isnan(e) & ((g != e) | (np.signbit(g) != np.signbit(e))))
    if np.any(bad):
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        return f"{int(bad.sum())} of {bad.size} values differ; first at index {idx}: got {g[idx]!r}, expected {e[idx]!r}"
    return None


def _compare_nf4(got, expected) -> str | None:
    # absmax is max |x| of the block rounded to float32: exact
    return compare_tuple(got, expected, [("codes", _codes),
                                         ("absmax", lambda g, e: compare_float_array(g, e, rtol=0.0, atol=0.0))])


# -- references (quantref) ----------------------------------------------------------------------------------

def _ref_groupwise(w, group_size, bits=4):
    q = quantize_groupwise(w, bits, group_size, symmetric=False)
    return q.codes, q.scales, q.zero_points


def _ref_pack(codes):
    return pack_nibbles(codes)


def _ref_unpack(packed):
    return unpack_nibbles(packed)


def _ref_gptq(w, hessian, group_size, bits=4):
    # the exercise is given the dampened Hessian: no further dampening here (percdamp=0)
    q = gptq_from_hessian(w, hessian, bits, group_size, symmetric=False, percdamp=0.0)
    return q.codes, q.scales, q.zero_points


def _ref_awq(w, x, group_size, bits, grid):
    res = awq_quantize(w, x, bits, group_size, symmetric=False, grid=grid)
    return res.alpha, res.scales


def _ref_encode(x):
    return encode_e4m3(x, saturate=True)


def _ref_decode(codes):
    return decode_e4m3(codes)


def _ref_nf4(x, block_size=64):
    q = encode_nf4(x, block_size)
    return q.codes, q.absmax


EXERCISES = {
    "groupwise_quantize": Exercise("groupwise_quantize", _ref_groupwise, _compare_groupwise, cases.groupwise_cases,
                                   mistakes.build(mistakes.groupwise_wrong(), _compare_groupwise), points=(1, 2)),
    "pack_nibbles": Exercise("pack_nibbles", _ref_pack, _codes, cases.pack_cases,
                             mistakes.build(mistakes.pack_wrong(), _codes), points=(1, 1)),
    "unpack_nibbles": Exercise("unpack_nibbles", _ref_unpack, _codes, cases.unpack_cases,
                               mistakes.build(mistakes.unpack_wrong(), _codes), points=(1, 1)),
    "gptq_quantize": Exercise("gptq_quantize", _ref_gptq, _compare_gptq, cases.gptq_cases,
                              mistakes.build(mistakes.gptq_wrong(), _compare_gptq), points=(2, 3), time_limit=20.0),
    "awq_search": Exercise("awq_search", _ref_awq, _compare_awq, cases.awq_cases,
                           mistakes.build(mistakes.awq_wrong(), _compare_awq), points=(1, 3), time_limit=20.0),
    "encode_e4m3": Exercise("encode_e4m3", _ref_encode, _codes, cases.encode_cases,
                            mistakes.build(mistakes.encode_wrong(), _codes), points=(1, 3)),
    "decode_e4m3": Exercise("decode_e4m3", _ref_decode, _compare_values, cases.decode_cases,
                            mistakes.build(mistakes.decode_wrong(), _compare_values), points=(1, 2)),
    "encode_nf4": Exercise("encode_nf4", _ref_nf4, _compare_nf4, cases.nf4_cases,
                           mistakes.build(mistakes.nf4_wrong(), _compare_nf4), points=(1, 2)),
}

#: Exercises whose worked solution calls another exercise's answer: none, each stands alone (the
#: closing, ungraded cell puts group-wise quantization, packing and GPTQ together).
USES: dict = {}

#: The registry: the notebook's ``check_<exercise>`` and ``require``, the trusted grader and the tests
#: all come from here.
PROBLEM_SET = ProblemSet("ps8_low_bit_weights", EXERCISES, uses=USES)
globals().update(PROBLEM_SET.notebook_api())
