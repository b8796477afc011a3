"""The W4A16 kernel (quantref.lowbit.w4a16): every path against dequantize-then-matmul in float64.

Tolerance: |y - y_ref| <= gamma_{K+2} * sum_k |x_k| |w_hat_k| per output, gamma_j = j u / (1 - j u),
u = 2^-24 (float32 scale, table entry, product, and at most K - 1 additions per term; derived in
the module docstring).  The reference is built here from the unpacked integer codes in int64 and
float64 scales, independently of the kernel and of its NumPy twin.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from quantref.kernels import compiled_available
from quantref.lowbit import PackedWeight, pack_weight, quantize_groupwise, w4a16_matmul
from quantref.lowbit.w4a16 import bytes_per_call

ROOT = Path(__file__).resolve().parents[1]
HAVE = compiled_available("quantref.lowbit._w4a16")
U = 2.0 ** -24


def _impls():
    out = [("numpy", "auto")]
    if HAVE:
        from quantref.lowbit import _w4a16 as mod

        out += [("cython", "reference"), ("cython", "portable")]
        out += [("cython", "avx2")] if mod.AVX2_AVAILABLE else []
        out += [("cython", "avx512")] if mod.AVX512_AVAILABLE else []
    return out


IMPLS = _impls()


def reference(x, gq):
    """float64 x @ w_hat.T from int64 codes; and the error bound of each output."""
    G = gq.group_size
    w = np.repeat(gq.scales, G, axis=1) * (gq.codes.astype(np.int64) - np.repeat(gq.zero_points, G, axis=1))
    x = np.atleast_2d(x).astype(np.float64)
    K = w.shape[1]
    gamma = (K + 2) * U / (1 - (K + 2) * U)
    return x @ w.T, gamma * (np.abs(x) @ np.abs(w).T)


def assert_within_bound(y, ref, bound):
    ratio = np.abs(np.atleast_2d(y).astype(np.float64) - ref) / bound
    assert np.all(ratio <= 1.0), f"worst error {ratio.max():.3g} x the bound"


@pytest.mark.parametrize("backend, impl", IMPLS)
@pytest.mark.parametrize("G", [32, 64, 128, 16, 48, 2])
@pytest.mark.parametrize("M", [1, 2, 3, 4, 5, 9])
def test_every_path_matches_float64_within_the_bound(backend, impl, G, M):
    rng = np.random.default_rng(G * 100 + M)
    N, K = 67, 6 * G if G >= 16 else 40         # odd N (a row pair and a single row), tails for G = 48, 16
    w = rng.standard_normal((N, K)) * rng.uniform(0.01, 2.0, (N, 1))
    gq = quantize_groupwise(w, 4, G, symmetric=bool(M % 2))
    x = (rng.standard_normal((M, K)) * rng.uniform(0.1, 10, K)).astype(np.float32)
    ref, bound = reference(x, gq)
    y = w4a16_matmul(x, pack_weight(gq), backend=backend, impl=impl)
    assert y.shape == (M, N) and y.dtype == np.float32
    assert_within_bound(y, ref, bound)


@pytest.mark.parametrize("backend, impl", IMPLS)
def test_int3_codes_vector_input_and_large_k(backend, impl):
    rng = np.random.default_rng(7)
    w = rng.standard_normal((33, 4096))
    gq = quantize_groupwise(w, 3, 128)
    x = rng.standard_normal(4096).astype(np.float32)
    ref, bound = reference(x, gq)
    y = w4a16_matmul(x, pack_weight(gq), backend=backend, impl=impl)
    assert y.shape == (33,)
    assert_within_bound(y, ref, bound)


@pytest.mark.parametrize("backend, impl", IMPLS)
def test_the_bound_catches_wrong_nibble_order_and_a_dropped_zero_point(backend, impl):
    """The test above can fail: the same check rejects a weight decoded with a classic mistake."""
    rng = np.random.default_rng(8)
    w = rng.standard_normal((16, 256))
    gq = quantize_groupwise(w, 4, 64)
    x = rng.standard_normal((2, 256)).astype(np.float32)
    ref, bound = reference(x, gq)
    pw = pack_weight(gq)
    swapped = PackedWeight((pw.packed >> 4) | (pw.packed << 4), pw.scales, pw.zero_points, 64, 4)  # odd <-> even
    no_zero = PackedWeight(pw.packed, pw.scales, np.zeros_like(pw.zero_points), 64, 4)
    for wrong in (swapped, no_zero):
        y = w4a16_matmul(x, wrong, backend=backend, impl=impl)
        assert np.max(np.abs(y - ref) / bound) > 1e3


@pytest.mark.skipif(not HAVE, reason="quantref.lowbit._w4a16 is not built here")
def test_threads_and_out_and_float16_input():
    rng = np.random.default_rng(9)
    gq = quantize_groupwise(rng.standard_normal((300, 512)), 4, 128)
    pw = pack_weight(gq)
    x = rng.standard_normal((3, 512)).astype(np.float16)
    ref, bound = reference(x.astype(np.float32), gq)
    one = w4a16_matmul(x, pw, num_threads=1)
    for threads in (2, None):
        assert np.array_equal(w4a16_matmul(x, pw, num_threads=threads), one)   # rows are independent
    out = np.full((3, 300), np.nan, dtype=np.float32)
    assert w4a16_matmul(x, pw, out=out) is out
    assert_within_bound(out, ref, bound)


def test_bytes_per_call_counts_codes_scales_and_zeros():
    assert bytes_per_call(1, 8192, 8192, 128) == 8192 * 4096 + 5 * 8192 * 64 + 4 * 8192 * 2
    assert bytes_per_call(1, 8192, 8192, None) == 4 * 8192 * 8192 + 4 * 8192 * 2
    gq = quantize_groupwise(np.ones((4, 256)), 4, 128)
    assert pack_weight(gq).nbytes == 4 * 128 + 5 * 4 * 2


@pytest.mark.parametrize("make, exc, words", [
    (lambda x, pw: w4a16_matmul(x.astype(np.float64), pw), TypeError, ["float32"]),
    (lambda x, pw: w4a16_matmul(x.astype(np.int32), pw), TypeError, ["dtype int32"]),
    (lambda x, pw: w4a16_matmul(x[:, :100], pw), ValueError, ["K=128", "do not match"]),
    (lambda x, pw: w4a16_matmul(x[None], pw), ValueError, ["vector (K,) or a matrix"]),
    (lambda x, pw: w4a16_matmul(np.where(x > 1, np.nan, x).astype(np.float32), pw), ValueError, ["NaN"]),
    (lambda x, pw: w4a16_matmul(np.where(x > 1, np.inf, x).astype(np.float32), pw), ValueError, ["inf"]),
    (lambda x, pw: w4a16_matmul(x, pw.packed), TypeError, ["PackedWeight"]),
    (lambda x, pw: w4a16_matmul(x, pw, impl="sse"), ValueError, ["impl='sse'"]),
    (lambda x, pw: w4a16_matmul(x, pw, num_threads=0), ValueError, ["num_threads"]),
    (lambda x, pw: w4a16_matmul(x, pw, backend="gpu"), ValueError, ["backend='gpu'"]),
    (lambda x, pw: w4a16_matmul(x, pw, out=np.empty((2, 5), np.float32)), ValueError, ["shape (2, 8)"]),
    (lambda x, pw: w4a16_matmul(x, pw, out=np.empty((2, 8))), TypeError, ["out"]),
    (lambda x, pw: w4a16_matmul(x, PackedWeight(pw.packed, pw.scales.astype(np.float64), pw.zero_points, 32, 4)),
     TypeError, ["scales", "float32"]),
    (lambda x, pw: w4a16_matmul(x, PackedWeight(pw.packed, pw.scales, pw.zero_points + 16, 32, 4)),
     ValueError, ["[0, 15]"]),
    (lambda x, pw: w4a16_matmul(x, PackedWeight(pw.packed, pw.scales, pw.zero_points, 48, 4)),
     ValueError, ["group_size=48"]),
    (lambda x, pw: w4a16_matmul(x, PackedWeight(pw.packed, pw.scales, pw.zero_points, 64, 4)),
     ValueError, ["shape (8, 2)"]),
])
def test_bad_input_is_rejected_with_a_clear_message(make, exc, words):
    rng = np.random.default_rng(10)
    pw = pack_weight(quantize_groupwise(rng.standard_normal((8, 128)), 4, 32))
    x = rng.standard_normal((2, 128)).astype(np.float32)
    with pytest.raises(exc) as info:
        make(x, pw)
    for word in words:
        assert word in str(info.value)


def test_pack_weight_rejects_more_than_four_bits_and_odd_groups():
    w = np.random.default_rng(11).standard_normal((4, 30))
    with pytest.raises(ValueError, match="bits must be <= 4"):
        pack_weight(quantize_groupwise(w, 8, 30))
    with pytest.raises(ValueError, match="odd"):
        pack_weight(quantize_groupwise(w, 4, 15))
    with pytest.raises(TypeError, match="GroupQuantized"):
        pack_weight(w)


@pytest.mark.skipif(not HAVE, reason="nothing to hide: quantref.lowbit._w4a16 is not built here")
def test_without_the_extension_the_numpy_twin_runs_with_one_warning():
    code = """if True:
        import warnings, numpy as np
        warnings.simplefilter("always")
        from quantref.lowbit import quantize_groupwise, pack_weight, w4a16_matmul
        from quantref.lowbit.w4a16 import get_backend
        rng = np.random.default_rng(0)
        pw = pack_weight(quantize_groupwise(rng.standard_normal((5, 64)), 4, 32))
        x = rng.standard_normal(64).astype(np.float32)
        with warnings.catch_warnings(record=True) as caught:
            y1 = w4a16_matmul(x, pw)
            y2 = w4a16_matmul(x, pw)
        print(get_backend().__name__, len(caught), "quantref.lowbit._w4a16" in str(caught[0].message))
        print(float(np.abs(y1 - pw.dequantize() @ x.astype(np.float64)).max()))
    """
    env = {k: v for k, v in os.environ.items() if k != "QUANTREF_BACKEND"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests" / "no_extension")] +
                                        ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.split("\n")[:2]
    assert first == "quantref.lowbit._numpy_backend 1 True"
    assert float(second) < 1e-4
