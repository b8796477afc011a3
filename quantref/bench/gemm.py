"""Benchmark: the integer matmul ladder (:mod:`quantref.kernels._gemm`) against NumPy.

``python -m quantref.bench gemm [--quick] [--threads 1,2]``

For every shape (M x K times K x N) and thread count it prints, from one run, medians of
repeats (back-to-back calls in alternating blocks, see ``_paired``) of

* ours: the top rung ``core_threaded`` on ``uint8 x int8`` codes, ``num_threads`` threads;
* NumPy float32 ``@`` (OpenBLAS/MKL, threads pinned with threadpoolctl);
* NumPy int32 ``@`` (no BLAS, one thread; too slow for big shapes, so it is timed on 256^3 and
  that rate is used for every ratio; the full run also times 1024^3 once, where NumPy's int loop
  is ~3x slower, and shows the ratios against that rate too);

GOP/s = 2*M*N*K / time.  Before timing, every result of ours is checked bit for bit against an
int64 reference on that shape (computed through float64 BLAS, which is exact here: every
product is at most 2^15 in magnitude and K <= 2^13, so every partial sum is an integer below
2^28 < 2^53).  For 1024^3 (256^3 with --quick) it also times every rung of the ladder.

Absolute numbers drift on a shared machine; the ratios measured side by side are what count.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

from quantref.bench import parse_threads, reexec_without_blas_overrides

if __name__ == "__main__":  # python -m quantref.bench.gemm: same clean environment
    reexec_without_blas_overrides("quantref.bench.gemm")

import numpy as np  # noqa: E402

SHAPES = [(1024, 1024, 1024), (2048, 2048, 2048), (128, 4096, 4096), (16, 4096, 4096), (1, 4096, 4096)]
QUICK_SHAPES = [(256, 256, 256), (512, 512, 512), (64, 1024, 1024), (16, 1024, 1024), (1, 1024, 1024)]
#: (minimum ours / NumPy float32, minimum ours / NumPy int32 or None) per shape (full run).
TARGETS = {(1024, 1024, 1024): (3.0, 300.0), (2048, 2048, 2048): (3.0, 300.0),
           (128, 4096, 4096): (3.0, 300.0), (16, 4096, 4096): (2.0, None),
           (1, 4096, 4096): (2.0, None)}
INT32_SHAPE = (256, 256, 256)


def _gops(M, K, N, seconds):
    return 2.0 * M * N * K / seconds / 1e9


def _time_once(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


_SETTLE_BLAS = 0.3   # seconds for OpenBLAS's idle threads to stop spinning
_SETTLE_OMP = 0.05   # and libgomp's


def _paired(numpy_fn, ours_fn, reps, settle, rounds=3):
    """Time NumPy and ours in alternating blocks of back-to-back calls; ``reps`` calls each.

    Each block starts with an untimed warm-up call, then times its share of the ``reps`` calls
    back to back: that is the steady state of a loop calling the kernel, with worker threads
    awake (an OpenMP or BLAS thread woken from sleep on an idle virtual CPU can take ~8 ms to
    show up).  With ``settle`` (several threads) each block is followed by a pause: idle worker
    threads keep spinning for a while after a call (OpenBLAS ~2^28 cycles, libgomp ~300k spins)
    and would steal the second core from the other library.  Alternating ``rounds`` blocks per
    library spreads slow drifts of a shared machine over both.
    """
    t_np, t_ours = [], []
    for r in range(rounds):
        share = reps // rounds + (1 if r < reps % rounds else 0)
        for fn, times, pause in ((numpy_fn, t_np, _SETTLE_BLAS), (ours_fn, t_ours, _SETTLE_OMP)):
            fn()
            times.extend(_time_once(fn) for _ in range(share))
            if settle:
                time.sleep(pause)
    return t_np, t_ours


def _repeats(M, K, N, quick):
    work = 2.0 * M * N * K
    if quick:
        return 6
    return 6 if work > 4e9 else 9 if work > 5e8 else 15


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as fh:
            info = fh.read()
    except OSError:
        return platform.processor() or "unknown CPU", set()
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines()
                  if line.startswith("model name")), "unknown CPU")
    flags_line = next((line for line in info.splitlines() if line.startswith("flags")), "")
    return model, set(flags_line.split(":", 1)[-1].split())


def _reference(a, bt):
    """int64 ``a @ bt.T``, exact (see the module docstring), at BLAS speed."""
    K = a.shape[1]
    assert K * 255 * 128 < 2 ** 53
    return (a.astype(np.float64) @ bt.astype(np.float64).T).astype(np.int64)


def _print_header(g, threadpoolctl):
    model, flags = _cpu_model()
    vnni_cpu = "avx512_vnni" in flags or "avx_vnni" in flags
    print(f"CPU: {model}; {os.cpu_count()} logical CPUs; "
          f"AVX2 {'yes' if 'avx2' in flags else 'no'}, AVX-512 {'yes' if 'avx512f' in flags else 'no'}, "
          f"VNNI {'yes' if vnni_cpu else 'no'} (/proc/cpuinfo)")
    print(f"quantref._gemm: compiled with VNNI={g.HAVE_VNNI}, OpenMP={g.HAVE_OPENMP}; "
          f"default form {g.DEFAULT_FORM!r} "
          f"({'uint8 x int8 -> vpdpbusd' if g.DEFAULT_FORM == 'u8s8' else 'a widened to int16 -> vpmaddwd'})")
    print(f"NumPy {np.__version__}; BLAS as seen by threadpoolctl:")
    for lib in threadpoolctl.threadpool_info():
        if lib.get("user_api") == "blas":
            print(f"  {lib.get('internal_api')} {lib.get('version')}, kernel "
                  f"{lib.get('architecture', '?')!r}, {lib.get('num_threads')} threads max, "
                  f"{os.path.basename(lib.get('filepath', ''))}")
    overrides = [n for n in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if n in os.environ]
    print(f"OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE in this process: {overrides or 'none'}")
    print(f"load average (1 min) before: {_load()} -- above ~0.5 on 2 cores, 2-thread numbers are unreliable")


def _load():
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except (AttributeError, OSError):
        return "unknown"


def _time_numpy_int32(threadpoolctl, shape=INT32_SHAPE, reps=3):
    M, K, N = shape
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (M, K)).astype(np.int32)
    b = rng.integers(-128, 128, (K, N)).astype(np.int32)
    with threadpoolctl.threadpool_limits(1):
        if reps > 1:
            a @ b
        times = [_time_once(lambda: a @ b) for _ in range(reps)]
    return _gops(M, K, N, statistics.median(times))


def _ladder(g, threadpoolctl, M, K, N, max_threads):
    """Every rung once per form on one shape (1 thread; the last rung on max_threads)."""
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (M, K)).astype(np.uint8)
    bt = rng.integers(-128, 128, (N, K)).astype(np.int8)
    ref = _reference(a, bt)
    out = np.empty((M, N), np.int32)
    rows = [("1 core_naive (i-j-k, b as K x N)", None, lambda: g.core_naive(a, bt, out), 1)]
    for form in (g.DEFAULT_FORM,) + tuple(f for f in g.FORMS if f != g.DEFAULT_FORM):
        rows += [
            (f"2 core_packed", form, lambda f=form: g.core_packed(a, bt, out, form=f), 3),
            (f"3 core_register_blocked (4x4)", form, lambda f=form: g.core_register_blocked(a, bt, out, form=f), 3),
            (f"4 core_cache_blocked", form, lambda f=form: g.core_cache_blocked(a, bt, out, form=f), 5),
            (f"5 core_threaded ({max_threads} thr)", form,
             lambda f=form: g.core_threaded(a, bt, out, max_threads, form=f), 5),
        ]
    print(f"\nLadder on {M}x{K}x{N}, uint8 x int8 (rungs 1-4 one thread; median of the shown repeats):")
    print(f"  {'rung':<36} {'form':<6} {'GOP/s':>8} {'repeats':>8}")
    with threadpoolctl.threadpool_limits(1):
        for name, form, fn, reps in rows:
            out.fill(-1)
            first = _time_once(fn)
            np.testing.assert_array_equal(out, ref, err_msg=f"{name} {form} is wrong")
            times = [first] if reps == 1 else [_time_once(fn) for _ in range(reps)]
            print(f"  {name:<36} {form or '-':<6} {_gops(M, K, N, statistics.median(times)):8.1f} "
                  f"{len(times):8d}", flush=True)


def run(quick=False, threads=(1, 2), ladder=True) -> int:
    try:
        import threadpoolctl
    except ImportError:
        print("quantref.bench gemm needs threadpoolctl: pip install threadpoolctl", file=sys.stderr)
        return 2
    try:
        from quantref.kernels import _gemm as g
    except ImportError:
        print("quantref.kernels._gemm is not built: pip install -e . (with a C compiler)", file=sys.stderr)
        return 2

    _print_header(g, threadpoolctl)
    int32_gops = _time_numpy_int32(threadpoolctl)
    print(f"NumPy int32 matmul (no BLAS, 1 thread), timed on {'x'.join(map(str, INT32_SHAPE))} only: "
          f"{int32_gops:.2f} GOP/s; every 'x int32' ratio below divides by this rate.")

    int32_big = None
    if not quick:
        int32_big = _time_numpy_int32(threadpoolctl, (1024, 1024, 1024), reps=1)
        print(f"NumPy int32 on 1024x1024x1024, one run: {int32_big:.2f} GOP/s (its loop is cache-unfriendly at "
              f"that size); column 'x i32@1k' divides by this rate instead.")

    shapes = QUICK_SHAPES if quick else SHAPES
    if ladder:
        _ladder(g, threadpoolctl, *shapes[0], max(threads))

    print("\nTop rung (core_threaded, uint8 x int8, default form) vs NumPy; medians of repeats.")
    print("Every result of ours was checked bit for bit against the int64 reference first.")
    print("NumPy and ours run in 3 alternating blocks of back-to-back calls each (warm-up call untimed); with")
    print("2+ threads a pause follows each block so idle spinning worker threads do not slow the other library.")
    header = (f"{'M x K x N':<16} {'thr':>3} {'ours GOP/s':>11} {'f32 GOP/s':>10} {'x f32':>7} "
              f"{'x int32':>8} " + (f"{'x i32@1k':>9} " if int32_big else "") + f"{'reps':>5}  target")
    print(header)
    print("-" * len(header) + "-" * 20)
    all_met = True
    rng = np.random.default_rng(2)
    for M, K, N in shapes:
        a = rng.integers(0, 256, (M, K)).astype(np.uint8)
        bt = rng.integers(-128, 128, (N, K)).astype(np.int8)
        af = a.astype(np.float32)
        bf = np.ascontiguousarray(bt.T).astype(np.float32)
        ref = _reference(a, bt)
        out = np.empty((M, N), np.int32)
        for nthr in threads:
            def ours():
                g.core_threaded(a, bt, out, nthr)

            def numpy_f32():
                af @ bf

            with threadpoolctl.threadpool_limits(nthr):
                out.fill(-1)
                ours()
                np.testing.assert_array_equal(out, ref, err_msg=f"ours is wrong on {M}x{K}x{N}")
                reps = _repeats(M, K, N, quick)
                t_np, t_ours = _paired(numpy_f32, ours, reps, settle=nthr > 1)
            ours_g = _gops(M, K, N, statistics.median(t_ours))
            np_g = _gops(M, K, N, statistics.median(t_np))
            vs_f32, vs_i32 = ours_g / np_g, ours_g / int32_gops
            target = "" if quick else TARGETS.get((M, K, N))
            verdict = ""
            if target:
                ok = vs_f32 >= target[0] and (target[1] is None or vs_i32 >= target[1])
                all_met &= ok
                want = f">={target[0]:g}x f32" + (f", >={target[1]:g}x int32" if target[1] else "")
                if target[1] and vs_f32 >= target[0] and int32_big and ours_g / int32_big >= target[1]:
                    want += "; int32 part met only against the 1024^3 rate"
                verdict = f"{'met' if ok else 'MISSED'} ({want})"
            big_col = f"{ours_g / int32_big:9.0f} " if int32_big else ""
            print(f"{f'{M}x{K}x{N}':<16} {nthr:>3} {ours_g:11.1f} {np_g:10.1f} {vs_f32:7.2f} "
                  f"{vs_i32:8.0f} {big_col}{reps:5d}  {verdict}", flush=True)
    print(f"load average (1 min) after: {_load()}")
    if not quick:
        print(f"\nTargets: {'all met' if all_met else 'not all met'} "
              "(they assume a CPU with AVX-512 VNNI; see the header for this one).")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m quantref.bench gemm", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small shapes and few repeats (smoke test)")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    parser.add_argument("--no-ladder", action="store_true", help="skip the per-rung table")
    args = parser.parse_args(argv)
    threads = parse_threads(parser, args.threads)
    return run(quick=args.quick, threads=threads, ladder=not args.no_ladder)


if __name__ == "__main__":
    sys.exit(main())
