"""Benchmark: the int8 matmul through its public API, its kernel, the tier's peak, NumPy and PyTorch.

``python -m quantref.bench gemm [--quick] [--threads 1,2] [--no-ladder]``

It prints the CPU's features and the instruction-set tier that runs (:mod:`quantref.kernels.tiers`),
each available tier's peak (a register-only loop of its inner instruction), the ladder of
:mod:`quantref.kernels._gemm` on the first shape (every rung, rung 6 on every tier), and then, for
every shape (M x K times K x N) and thread count, medians of repeats of

* public: ``int_matmul(a, pack_weights(b), a_zero_point=128)`` on weights packed once;
* core: the kernel alone on the same packed weights (``_gemm.gemm_packed``);
* NumPy float32 ``@`` (OpenBLAS/MKL, threads pinned with threadpoolctl);
* ``torch._int_mm`` (oneDNN) when PyTorch is importable (it takes int8 x int8 and M > 16);

with the ratios the targets are stated in: public / core (>= 0.9), core / the running tier's peak
(>= 0.8 on the three large shapes), public / torch (>= 0.9 without AMX; with AMX reported only),
and for M <= 16 public / the bandwidth bound (>= 0.8): the weight bytes over the copy bandwidth of
a buffer of the weights' size, measured in the same run.

GOP/s = 2*M*N*K / time.  Before timing, each public result is checked bit for bit against an
int64 reference (computed through float64 BLAS, exact here: every product is at most 2^15 in
magnitude and K <= 2^13, so every partial sum is an integer below 2^28 < 2^53).

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


def _gops(M, K, N, seconds):
    return 2.0 * M * N * K / seconds / 1e9


def _time_once(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


_SETTLE_BLAS = 0.3   # seconds for OpenBLAS's idle threads to stop spinning
_SETTLE_OMP = 0.05   # and libgomp's


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
    packed = g.pack_b(np.ascontiguousarray(bt.T))
    for tier in g.allowed_tiers():
        rows.append((f"6 gemm_packed ({max_threads} thr)", tier,
                     lambda t=tier: g.gemm_packed(a, False, packed, N, out, None, None, t, max_threads), 5))
    print(f"\nLadder on {M}x{K}x{N}, uint8 x int8 (rungs 1-4 one thread; median of the shown repeats):")
    print(f"  {'rung':<36} {'form/tier':<10} {'GOP/s':>8} {'repeats':>8}")
    with threadpoolctl.threadpool_limits(1):
        for name, form, fn, reps in rows:
            out.fill(-1)
            first = _time_once(fn)
            np.testing.assert_array_equal(out, ref, err_msg=f"{name} {form} is wrong")
            times = [first] if reps == 1 else [_time_once(fn) for _ in range(reps)]
            print(f"  {name:<36} {form or '-':<10} {_gops(M, K, N, statistics.median(times)):8.1f} "
                  f"{len(times):8d}", flush=True)


def _interleaved(fns, reps, settle, rounds=3):
    """Time every fn in ``fns`` (name -> callable) in alternating blocks of back-to-back calls.

    Each round gives each method an untimed warm-up call and its share of ``reps`` timed calls
    back to back (a dict of methods instead of one: those are called in turn, call by call, so
    that they meet the same cache state; public and core are timed that way): the steady state of a loop calling the kernel, with worker threads awake (an
    OpenMP or BLAS thread woken from sleep on an idle virtual CPU can take ~8 ms to show up).
    With ``settle`` (several threads) each block is followed by a pause: idle worker threads keep
    spinning for a while after a call (OpenBLAS ~2^28 cycles, libgomp ~300k spins) and would
    steal the second core from the next method.  Alternating ``rounds`` blocks spreads slow
    drifts of a shared machine over every method.
    """
    times = {name: [] for name in fns}
    for r in range(rounds):
        share = reps // rounds + (1 if r < reps % rounds else 0)
        for name, fn in fns.items():
            if isinstance(fn, dict):        # methods timed call by call in turn (same cache state)
                for f in fn.values():
                    f()
                for _ in range(share):
                    for sub, f in fn.items():
                        times.setdefault(sub, []).append(_time_once(f))
                times.pop(name, None)
            else:
                fn()
                times[name].extend(_time_once(fn) for _ in range(share))
            if settle:
                time.sleep(_SETTLE_BLAS if "float32" in name or "torch" in name else _SETTLE_OMP)
    return times


def _peak(g, tier, nthr, repeats=7):
    """GOP/s of ``tier``'s register-only loop of its inner instruction: the best of ``repeats``.

    A ceiling, so the fastest repeat: a loop that touches no memory can only be slowed down by a
    busy machine, never sped up (the kernels' own times are medians).
    """
    iters = 200_000 if tier == "amx" else 1_000_000
    g.peak(tier, iters // 10, nthr)
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ops = g.peak(tier, iters, nthr)
        rates.append(ops / (time.perf_counter() - t0) / 1e9)
    return max(rates)


def _copy_bandwidth(nbytes, nthr, repeats=7):
    """GB/s of np.copyto over ``nbytes`` (bytes copied / time), split over ``nthr`` Python threads."""
    from concurrent.futures import ThreadPoolExecutor

    src = np.ones(nbytes, np.uint8)
    dst = np.zeros(nbytes, np.uint8)
    parts = np.array_split(np.arange(nbytes), nthr)
    bounds = [(int(p[0]), int(p[-1]) + 1) for p in parts if len(p)]
    with ThreadPoolExecutor(nthr) as pool:
        def copy():
            list(pool.map(lambda b: np.copyto(dst[b[0]:b[1]], src[b[0]:b[1]]), bounds))
        copy()
        times = [_time_once(copy) for _ in range(repeats)]
    return nbytes / statistics.median(times) / 1e9


def _torch():
    try:
        import torch
    except Exception:           # not installed, or broken: the benchmark goes on without it
        return None
    return torch


def _fmt(x, width, digits=0):
    return f"{'-':>{width}}" if x is None else f"{x:{width}.{digits}f}"


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
    from quantref.kernels import cpu_features, int_matmul, pack_weights

    _print_header(g, threadpoolctl)
    info = cpu_features()
    tier = info["tier"]
    print(f"CPU features (CPUID/XGETBV): tiers {', '.join(info['cpu_tiers'])}; AMX permission: "
          f"{info['amx_permission']}; hidden: {', '.join(info['hidden']) or 'none'}; "
          f"forced: {info['forced'] or 'no'}")
    print(f"/proc/cpuinfo flags: " + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in info["flags"].items()))
    print(f"int8 matmul tier that runs: {tier}  (available: {', '.join(info['available_tiers'])})")
    torch = _torch()
    print(f"PyTorch: {torch.__version__ + ' (torch._int_mm, int8 x int8 -> int32)' if torch else 'not importable (column left empty)'}")

    peaks = {}
    print("\nPeaks: register-only loop of each tier's inner instruction, GOP/s (best of 7: a ceiling):")
    for t in info["available_tiers"]:
        if t == "scalar":
            continue
        peaks[t] = {n: _peak(g, t, n) for n in threads}
        print(f"  {t:<11} " + "  ".join(f"{n} thr {peaks[t][n]:8.0f}" for n in threads)
              + ("   <- the running tier" if t == tier else ""))

    shapes = QUICK_SHAPES if quick else SHAPES
    if ladder:
        _ladder(g, threadpoolctl, *shapes[0], max(threads))

    print(f"\nint8 matmul, uint8 x int8 -> int32, tier {tier}; GOP/s = 2MNK / median time.")
    print("  public: int_matmul(a, pack_weights(b), a_zero_point=128, num_threads=n), weights packed once")
    print("  core:   the kernel alone on the same packed weights (_gemm.gemm_packed, no zero-point terms)")
    print("  f32:    NumPy float32 @ (BLAS, threads pinned); torch: torch._int_mm (int8 x int8), same threads")
    print("  bound:  for M <= 16, 2MNK / (weight bytes / copy bandwidth of a buffer of the weights' size)")
    print("Every public result was checked bit for bit against an int64 reference first; methods run in 3")
    print("alternating blocks of back-to-back calls (warm-up untimed), with pauses between blocks on 2+ threads;")
    print("public and core share a block, called in turn call by call (the same cache state for both).")
    header = (f"{'M x K x N':<15} {'thr':>3} {'public':>8} {'core':>8} {'f32':>7} {'torch':>7} {'peak':>7} "
              f"{'bound':>7} {'pub/core':>8} {'core/peak':>9} {'pub/torch':>9} {'pub/bound':>9} {'reps':>4}  verdict")
    print(header)
    print("-" * (len(header) + 30))
    verdicts = []
    rng = np.random.default_rng(2)
    bandwidth = {}
    for M, K, N in shapes:
        a = rng.integers(0, 256, (M, K)).astype(np.uint8)
        b = rng.integers(-128, 128, (K, N)).astype(np.int8)
        w = pack_weights(b)
        af = a.astype(np.float32)
        bf = b.astype(np.float32)
        ref = _reference(a, np.ascontiguousarray(b.T)) - 128 * b.sum(axis=0, dtype=np.int64)[None, :]
        np.testing.assert_array_equal(int_matmul(a, w, 128), ref, err_msg=f"public API wrong on {M}x{K}x{N}")
        out = np.empty((M, N), np.int32)
        ta = tb = None
        if torch is not None:
            ta = torch.from_numpy((a.astype(np.int16) - 128).astype(np.int8))
            tb = torch.from_numpy(b)
            try:
                tref = torch._int_mm(ta, tb).numpy()
                np.testing.assert_array_equal(tref, ref)
            except Exception:      # torch._int_mm rejects small M (and shapes not multiple of 8)
                ta = None
        for nthr in threads:
            fns = {
                "ours": {"public": lambda: int_matmul(a, w, 128, num_threads=nthr),
                         "core": lambda: g.gemm_packed(a, False, w.packed, N, out, None, None, tier, nthr)},
                "float32": lambda: af @ bf,
            }
            if ta is not None:
                torch.set_num_threads(nthr)
                fns["torch"] = lambda: torch._int_mm(ta, tb)
            with threadpoolctl.threadpool_limits(nthr):
                reps = _repeats(M, K, N, quick)
                times = _interleaved(fns, reps, settle=nthr > 1)
            r = {k: _gops(M, K, N, statistics.median(v)) for k, v in times.items()}
            peak = peaks.get(tier, {}).get(nthr)
            bound = None
            if M <= 16:
                if nthr not in bandwidth:
                    bandwidth[nthr] = _copy_bandwidth(K * N, nthr)
                bound = 2.0 * M * N * K / (K * N / (bandwidth[nthr] * 1e9)) / 1e9
            pub_core = r["public"] / r["core"]
            core_peak = r["core"] / peak if peak else None
            pub_torch = r["public"] / r["torch"] if "torch" in r else None
            pub_bound = r["public"] / bound if bound else None
            checks = [("pub/core", pub_core, 0.9)]
            if (M, K, N) in ((1024, 1024, 1024), (2048, 2048, 2048), (128, 4096, 4096)) or (quick and M > 16):
                if core_peak is not None:
                    checks.append(("core/peak", core_peak, 0.8))
                if pub_torch is not None and tier != "amx":
                    checks.append(("pub/torch", pub_torch, 0.9))
            if pub_bound is not None:
                checks.append(("pub/bound", pub_bound, 0.8))
            missed = [f"{n} {v:.2f}<{t}" for n, v, t in checks if v < t]
            verdict = "met" if not missed else "MISSED " + ", ".join(missed)
            if pub_torch is not None and tier == "amx" and M > 16:
                verdict += " (AMX: torch/oneDNN reported, not a target)"
            verdicts.append(not missed)
            print(f"{f'{M}x{K}x{N}':<15} {nthr:>3} {r['public']:8.0f} {r['core']:8.0f} {r['float32']:7.0f} "
                  f"{_fmt(r.get('torch'), 7)} {_fmt(peak, 7)} {_fmt(bound, 7)} {pub_core:8.2f} "
                  f"{_fmt(core_peak, 9, 2)} {_fmt(pub_torch, 9, 2)} {_fmt(pub_bound, 9, 2)} {reps:>4}  {verdict}",
                  flush=True)
    if bandwidth:
        print("copy bandwidth over a buffer of the weights' size: "
              + ", ".join(f"{n} thr {bw:.1f} GB/s" for n, bw in sorted(bandwidth.items())))
    print(f"load average (1 min) after: {_load()}")
    print(f"\nTargets: {sum(verdicts)} of {len(verdicts)} rows met "
          f"(tier {tier}; the machine is shared: rerun before trusting a miss).")
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
