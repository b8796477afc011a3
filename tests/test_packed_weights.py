"""pack_weights / int_matmul on PackedWeights, on every instruction-set tier this CPU runs.

Reference: ``(a.astype(int64) - za) @ (b.astype(int64) - zb)``, compared bit for bit (int32).
Each tier is forced with ``QUANTREF_GEMM_TIER``; tiers this machine cannot run are skipped with
the reason (see the skip summary: ``pytest -rs``).  Forcing a missing tier, and hiding features
(``QUANTREF_HIDE_CPU_FEATURES``), are tested in child processes: a refusal, never SIGILL.
"""
import itertools
import zlib
import os
import subprocess
import sys

import numpy as np
import pytest

from quantref.kernels import (PackedWeights, available_tiers, compiled_available, cpu_features, gemm_tier,
                              int_matmul, max_safe_k, pack_weights)
from quantref.kernels.tiers import HIDE_ENV, TIER_ENV, TIERS

U8, I8 = np.dtype(np.uint8), np.dtype(np.int8)
PAIRS = list(itertools.product([U8, I8], [U8, I8]))
PAIR_IDS = [f"{a.name}x{b.name}" for a, b in PAIRS]
AVAILABLE = available_tiers()


def _why_not(tier):
    if not compiled_available("quantref.kernels._gemm"):
        return "the compiled extension quantref.kernels._gemm is not built"
    info = cpu_features()
    if tier in info["hidden"]:
        return f"hidden by {HIDE_ENV}"
    if tier == "amx" and info["amx_permission"] == "refused":
        return "the Linux kernel refused the AMX tile permission (arch_prctl)"
    return f"this CPU ({info['cpu']}) or its OS lacks it"


TIER_PARAMS = [pytest.param(t, marks=pytest.mark.skipif(t not in AVAILABLE, reason=f"tier {t}: {_why_not(t)}"))
               for t in TIERS] + ["numpy"]


@pytest.fixture
def tier(request, monkeypatch):
    """Force a tier (or the NumPy backend) for the test."""
    name = request.param
    monkeypatch.delenv("QUANTREF_BACKEND", raising=False)
    if name == "numpy":
        monkeypatch.setenv("QUANTREF_BACKEND", "numpy")
        monkeypatch.delenv(TIER_ENV, raising=False)
    else:
        monkeypatch.setenv(TIER_ENV, name)
        assert gemm_tier() == name
    return name


def codes(rng, dtype, shape):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)


def reference(a, b, za, zb):
    return (a.astype(np.int64) - np.int64(za)) @ (b.astype(np.int64) - np.asarray(zb, dtype=np.int64))


# (M, K, N): M = 1, N = 1, K = 1..3 (partial quad), K not a multiple of 64, M not a multiple of 6
# or 32 (micro-kernel / AMX tile rows), N not a multiple of 16 or 64 (panels), several panels;
# the last: more rows than one AMX task (256) and K over two AMX k-blocks (1024), neither whole
SHAPES = [(1, 1, 1), (1, 3, 5), (2, 2, 1), (1, 64, 64), (5, 17, 33), (6, 4, 1), (7, 65, 63), (13, 130, 129),
          (33, 200, 70), (1, 1000, 300), (200, 66, 17), (40, 515, 130), (16, 1100, 65), (290, 2100, 70)]


@pytest.mark.parametrize("tier", TIER_PARAMS, indirect=True)
@pytest.mark.parametrize("a_dtype,b_dtype", PAIRS, ids=PAIR_IDS)
def test_packed_matches_int64_reference(tier, a_dtype, b_dtype):
    rng = np.random.default_rng(zlib.crc32(f"{a_dtype.name}x{b_dtype.name}".encode()))
    ia, ib = np.iinfo(a_dtype), np.iinfo(b_dtype)
    for M, K, N in SHAPES:
        a, b = codes(rng, a_dtype, (M, K)), codes(rng, b_dtype, (K, N))
        zbs = (0, int(ib.min), int(ib.max), rng.integers(ib.min, ib.max, N, endpoint=True))
        zas = (0, int(ia.min), int(ia.max), int(rng.integers(ia.min, ia.max, endpoint=True)))
        if M * K * N > 10 ** 7:        # the int64 reference is slow: the extremes and a random one
            zbs, zas = zbs[2:], zas[1:2] + zas[3:]
        for zb in zbs:
            w = pack_weights(b, zb)
            for za in zas:
                out = int_matmul(a, w, za)
                assert out.dtype == np.int32 and out.shape == (M, N)
                np.testing.assert_array_equal(out, reference(a, b, za, zb), err_msg=f"{M}x{K}x{N} za={za} zb={zb}")


@pytest.mark.parametrize("tier", TIER_PARAMS, indirect=True)
@pytest.mark.parametrize("a_dtype,b_dtype", PAIRS, ids=PAIR_IDS)
def test_packed_exact_at_max_safe_k_with_extreme_codes(tier, a_dtype, b_dtype):
    """K = max_safe_k with codes at their extremes: the result touches int32's limits, and the
    kernel's shifted operands (a + 128, b - 128) overflow int32 on the way; the modular
    arithmetic must still land on the exact result."""
    ia, ib = np.iinfo(a_dtype), np.iinfo(b_dtype)
    za, zb = 0, 0
    K = max_safe_k(a_dtype, b_dtype, za, zb)
    rng = np.random.default_rng(K)
    a = np.empty((17, K), a_dtype)      # 17 rows: enough for the AMX tier's tiles (it needs 8+)
    a[0], a[1] = ia.min, ia.max
    a[2:] = rng.choice([ia.min, ia.max], (15, K))
    b = np.empty((K, 5), b_dtype)
    b[:, 0], b[:, 1] = ib.min, ib.max
    b[:, 2:] = rng.choice([ib.min, ib.max], (K, 3))
    ref = reference(a, b, za, zb)
    worst = max(abs(ia.min), ia.max) * max(abs(ib.min), ib.max)
    assert np.abs(ref).max() > np.iinfo(np.int32).max - worst   # the test reaches the bound
    np.testing.assert_array_equal(int_matmul(a, pack_weights(b, zb), za), ref)


@pytest.mark.parametrize("tier", TIER_PARAMS, indirect=True)
def test_zero_points_at_the_far_end_near_the_bound(tier):
    """uint8 x uint8 with zero points 255 and 0: |a - za| reaches 255 on the other side."""
    za, zb = 255, 0
    K = max_safe_k(U8, U8, za, zb)
    a = np.zeros((2, K), np.uint8)
    b = np.full((K, 3), 255, np.uint8)
    np.testing.assert_array_equal(int_matmul(a, pack_weights(b, zb), za), reference(a, b, za, zb))


@pytest.mark.parametrize("tier", TIER_PARAMS, indirect=True)
def test_plain_arrays_and_packed_agree_and_threads_do_not_matter(tier):
    rng = np.random.default_rng(5)
    a, b = codes(rng, U8, (70, 300)), codes(rng, I8, (300, 140))
    ref = reference(a, b, 3, 0)
    w = pack_weights(b)
    for threads in (None, 1, 2):
        np.testing.assert_array_equal(int_matmul(a, w, 3, num_threads=threads), ref)
    np.testing.assert_array_equal(int_matmul(a, b, 3), ref)
    # a non-contiguous a is fine
    big = codes(rng, U8, (140, 600))
    np.testing.assert_array_equal(int_matmul(big[::2, ::2], w, 3), reference(big[::2, ::2], b, 3, 0))


@pytest.mark.parametrize("tier", TIER_PARAMS, indirect=True)
def test_calls_from_many_python_threads_at_once(tier):
    """The kernel keeps its scratch memory per calling thread (reused from call to call, grown when
    a larger call comes): calls from several Python threads at once, of changing sizes, must not
    share it."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(11)
    b = codes(rng, I8, (300, 130))
    w = pack_weights(b, 3)
    inputs = [codes(rng, U8 if i % 2 else I8, (1 + (37 * i) % 90, 300)) for i in range(24)]

    def run(i):
        a = inputs[i]
        return np.array_equal(int_matmul(a, w, 5, num_threads=1 + i % 2), reference(a, b, 5, 3))

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(run, list(range(24)) * 3))


@pytest.mark.parametrize("tier", TIER_PARAMS, indirect=True)
def test_row_blocks_meet_every_panel(tier):
    """500 rows and K = 2100: three 192-row blocks of the vector tiers (the last one short), two
    256-row AMX tasks, three 1024-k AMX blocks, 3 panels (the last partial), on 1 and 2 threads."""
    rng = np.random.default_rng(12)
    a, b = codes(rng, U8, (500, 2100)), codes(rng, I8, (2100, 150))
    ref = reference(a, b, 9, 0)
    w = pack_weights(b)
    for threads in (1, 2):
        np.testing.assert_array_equal(int_matmul(a, w, 9, num_threads=threads), ref)


@pytest.mark.parametrize("tier", TIER_PARAMS, indirect=True)
def test_a_large_output_written_around_the_caches(tier):
    """An output of 4 MiB or more (here 1030 x 1040 int32) is written with streaming stores by
    every SIMD tier, its full 64-column panels only: the last panel (16 columns) is stored as
    usual.  K = 600 spans more than one k-block of every vector tier (512, AVX2's widened path
    256), whose partial sums wait in the per-thread scratch; int8 codes, a zero point per column,
    1 and 2 threads.  (Dropping one
    streamed row fails this test alone, on each tier.)"""
    rng = np.random.default_rng(13)
    a, b = codes(rng, I8, (1030, 600)), codes(rng, I8, (600, 1040))
    zb = rng.integers(-128, 127, 1040, endpoint=True)
    ref = reference(a, b, -7, zb)
    w = pack_weights(b, zb)
    for threads in (1, 2):
        np.testing.assert_array_equal(int_matmul(a, w, -7, num_threads=threads), ref)


def test_packed_weights_keep_their_codes_and_sums():
    rng = np.random.default_rng(9)
    b = codes(rng, U8, (10, 7))
    w = pack_weights(b, 128)
    assert isinstance(w, PackedWeights) and w.shape == (10, 7) and w.dtype == U8
    np.testing.assert_array_equal(w.codes, b)
    np.testing.assert_array_equal(w.col_sums, b.astype(np.int64).sum(axis=0))
    b[0, 0] ^= 1                               # the caller's array is not the packed copy
    assert w.codes[0, 0] != b[0, 0]
    with pytest.raises(ValueError):
        w.codes[0, 0] = 1
    assert "K=10, N=7" in repr(w)


def test_a_wrong_sign_correction_is_caught():
    """The reference tells the +128 shift apart from a kernel that forgets to correct for it."""
    rng = np.random.default_rng(1)
    a, b = codes(rng, I8, (4, 9)), codes(rng, I8, (9, 3))
    forgot = (a.astype(np.int64) + 128) @ b.astype(np.int64)
    assert not np.array_equal(forgot, reference(a, b, 0, 0))
    np.testing.assert_array_equal(int_matmul(a, pack_weights(b)), reference(a, b, 0, 0))


def test_bad_input_is_refused_with_the_fix():
    w = pack_weights(np.zeros((4, 3), np.int8))
    with pytest.raises(ValueError, match="fixed by pack_weights"):
        int_matmul(np.zeros((2, 4), np.uint8), w, 0, 5)
    with pytest.raises(ValueError, match="K=4"):
        int_matmul(np.zeros((2, 5), np.uint8), w)
    with pytest.raises(TypeError, match="dtype float64"):
        int_matmul(np.zeros((2, 4)), w)
    with pytest.raises(ValueError, match="a_zero_point"):
        int_matmul(np.zeros((2, 4), np.uint8), w, 300)
    with pytest.raises(ValueError, match="num_threads"):
        int_matmul(np.zeros((2, 4), np.uint8), w, num_threads=0)
    with pytest.raises(TypeError):
        pack_weights(np.zeros((4, 3), np.int16))
    with pytest.raises(ValueError, match="zero_point"):
        pack_weights(np.zeros((4, 3), np.int8), np.zeros(4, np.int64))


def test_repeated_calls_keep_every_check(monkeypatch):
    """After a first call has been checked, later calls with the same dtype and zero point take a
    short path; everything else must still meet the full checks, and the environment still rules."""
    rng = np.random.default_rng(8)
    b = codes(rng, I8, (40, 9))
    w = pack_weights(b)
    a = codes(rng, U8, (6, 40))
    np.testing.assert_array_equal(int_matmul(a, w, 7), reference(a, b, 7, 0))     # checked in full
    np.testing.assert_array_equal(int_matmul(a, w, 7), reference(a, b, 7, 0))     # the short path
    with pytest.raises(ValueError, match="num_threads"):
        int_matmul(a, w, 7, num_threads=0)
    with pytest.raises(ValueError, match="num_threads"):
        int_matmul(a, w, 7, num_threads=True)
    with pytest.raises(ValueError, match="K=40"):
        int_matmul(codes(rng, U8, (6, 41)), w, 7)
    with pytest.raises(ValueError, match="a_zero_point"):
        int_matmul(a, w, 256)
    a8 = codes(rng, I8, (6, 40))                  # same zero point, other dtype: checked again
    with pytest.raises(ValueError, match="a_zero_point"):
        int_matmul(a8, w, 200)
    np.testing.assert_array_equal(int_matmul(a8, w, 7), reference(a8, b, 7, 0))
    np.testing.assert_array_equal(int_matmul(a[:, ::-1].copy()[:, ::-1], w, 7), reference(a, b, 7, 0))
    monkeypatch.setenv("QUANTREF_BACKEND", "numpy")   # the NumPy twin answers, and agrees
    np.testing.assert_array_equal(int_matmul(a, w, 7), reference(a, b, 7, 0))
    monkeypatch.setenv("QUANTREF_BACKEND", "nonsense")
    with pytest.raises(ValueError, match="nonsense"):
        int_matmul(a, w, 7)
    if AVAILABLE:
        monkeypatch.delenv("QUANTREF_BACKEND")
        w = pack_weights(b)                       # packed for the kernel (whatever the caller's env)
        np.testing.assert_array_equal(int_matmul(a, w, 7), reference(a, b, 7, 0))
        monkeypatch.setenv(TIER_ENV, "sse9")
        with pytest.raises(ValueError, match="not a tier"):
            int_matmul(a, w, 7)


@pytest.mark.skipif(not AVAILABLE, reason="the compiled extension quantref.kernels._gemm is not built")
@pytest.mark.parametrize("shape", [(0, 7), (1, 1), (3, 5), (16, 4096), (511, 1024), (512, 1024), (1030, 1040)])
def test_the_kernel_allocates_its_output_as_aligned_empty_does(shape):
    """int_matmul's output is allocated in C (``_gemm.aligned_int32``) by aligned_empty's rule: on
    a cache line, and on a 2 MiB boundary from 2 MiB on (511 x 1024 int32 is 8 KiB short of it,
    512 x 1024 exactly it)."""
    from quantref.kernels import _gemm
    from quantref.kernels.aligned import CACHE_LINE, HUGE_PAGE, aligned_empty
    nbytes = shape[0] * shape[1] * 4
    boundary = HUGE_PAGE if nbytes >= HUGE_PAGE else CACHE_LINE
    for x in (_gemm.aligned_int32(*shape), aligned_empty(shape, np.int32)):
        assert x.shape == shape and x.dtype == np.int32 and x.flags.c_contiguous and x.flags.writeable
        if x.size:                      # an empty array has no byte to place (NumPy may move its pointer)
            assert x.__array_interface__["data"][0] % boundary == 0, (shape, boundary)
        x[...] = 7                      # the whole array lies inside its allocation
        assert int(x.sum()) == 7 * x.size


def test_the_environment_read_through_getenv_is_os_environ(monkeypatch):
    """The matmul reads QUANTREF_BACKEND and QUANTREF_GEMM_TIER through C getenv where the compiled
    module is built: what os.environ sets and deletes (monkeypatch included) must read back the
    same, non-ASCII values too; without the module the same function reads os.environ."""
    from quantref.kernels import backend
    name = "QUANTREF_TEST_GETENV"
    readers = [lambda: backend.environ_get(name, "dflt")]
    if AVAILABLE:
        from quantref.kernels import _gemm
        readers.append(lambda: _gemm.environ_get(name.encode()) or "dflt")
    monkeypatch.delenv(name, raising=False)
    assert [read() for read in readers] == ["dflt"] * len(readers)
    for value in ("numpy", "\u00e9t\u00e9 \u2192 amx"):
        monkeypatch.setenv(name, value)
        assert [read() for read in readers] == [value] * len(readers)
    monkeypatch.setenv(name, "")
    assert backend.environ_get(name, "dflt") == ""          # set but empty is not unset
    monkeypatch.delenv(name)
    assert [read() for read in readers] == ["dflt"] * len(readers)
    monkeypatch.setattr(backend, "compiled_gemm", lambda: None)   # as without the compiled module
    monkeypatch.setenv(name, "from os.environ")
    assert backend.environ_get(name, "dflt") == "from os.environ"


def test_an_unknown_forced_tier_is_refused(monkeypatch):
    if not AVAILABLE:
        pytest.skip("the compiled extension quantref.kernels._gemm is not built")
    monkeypatch.delenv("QUANTREF_BACKEND", raising=False)
    monkeypatch.setenv(TIER_ENV, "sse9")
    with pytest.raises(ValueError, match="not a tier"):
        int_matmul(np.zeros((1, 1), np.uint8), pack_weights(np.zeros((1, 1), np.int8)))


def test_cpu_features_report():
    info = cpu_features()
    assert set(info) >= {"cpu", "flags", "cpu_tiers", "amx_permission", "available_tiers", "tier"}
    if compiled_available("quantref.kernels._gemm"):
        assert info["tier"] == AVAILABLE[-1] or os.environ.get(TIER_ENV)
        assert "scalar" in info["available_tiers"]
        # CPUID agrees with the kernel's /proc/cpuinfo flags
        assert ("avx512vnni" in info["cpu_tiers"]) <= info["flags"]["avx512_vnni"]
        assert ("amx" in info["cpu_tiers"]) <= info["flags"]["amx_int8"]
    else:
        assert info["tier"] == "numpy"


CHILD = """
import numpy as np
from quantref.kernels import cpu_features, int_matmul, pack_weights
rng = np.random.default_rng(0)
a = rng.integers(-128, 128, (37, 130)).astype(np.int8)
b = rng.integers(0, 256, (130, 75)).astype(np.uint8)
ref = (a.astype(np.int64) + 3) @ (b.astype(np.int64) - 200)
out = int_matmul(a, pack_weights(b, 200), -3)
assert np.array_equal(out, ref), "wrong result"
print("TIER", cpu_features()["tier"])
"""


def _child(env_extra):
    env = {k: v for k, v in os.environ.items() if k not in (TIER_ENV, HIDE_ENV, "QUANTREF_BACKEND")}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(not AVAILABLE, reason="the compiled extension quantref.kernels._gemm is not built")
@pytest.mark.parametrize("hidden", [("amx",), ("amx", "avx512vnni"), ("amx", "avx512vnni", "avxvnni"),
                                    ("amx", "avx512vnni", "avxvnni", "avx2")], ids=lambda h: "hide-" + "-".join(h))
def test_hiding_features_falls_back_without_sigill(hidden):
    """As on an older CPU: the best remaining tier runs, exactly."""
    r = _child({HIDE_ENV: ",".join(hidden)})
    assert r.returncode == 0, r.stderr
    expected = [t for t in AVAILABLE if t not in hidden][-1]
    assert f"TIER {expected}" in r.stdout


@pytest.mark.skipif(not AVAILABLE, reason="the compiled extension quantref.kernels._gemm is not built")
@pytest.mark.parametrize("forced", ["amx", "avx512vnni", "avxvnni", "avx2"])
def test_forcing_a_hidden_tier_is_refused_not_sigill(forced):
    r = _child({HIDE_ENV: forced, TIER_ENV: forced})
    assert r.returncode == 1, (r.returncode, r.stderr)       # a Python exception: not -4 (SIGILL)
    assert f"{TIER_ENV}={forced} cannot run here" in r.stderr
    assert "hidden by" in r.stderr
