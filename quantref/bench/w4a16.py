"""Benchmark: the W4A16 kernel against NumPy's float32 GEMV, with the weights streamed from memory.

``python -m quantref.bench w4a16 [--quick] [--threads 1,2] [--size 8192] [--group-size 128]
[--footprint-mb MB]``

Decoding one token multiplies a vector by every weight matrix of the model once, so its time is
the time to read the weights: the kernel's promise is to read 4.3 bits per weight (codes plus a
float32 scale and a uint8 zero point per group of 128) instead of 32.  To measure that and not
the cache, each side cycles through several distinct copies of an ``N x K`` matrix (8192 x 8192
by default) whose total size is at least twice the last-level cache (``--footprint-mb`` overrides),
one copy per call, so that every call reads its weight from memory.

For M = 1 (matrix-vector) and M = 4 (small batch) and each thread count, medians of calls timed
one by one, NumPy and ours in alternating blocks (NumPy first, a pause between blocks so that idle
BLAS threads stop spinning) of:

* NumPy ``x @ W.T`` with ``W`` float32 (OpenBLAS, threads pinned with threadpoolctl);
* ``quantref.lowbit.w4a16_matmul`` on the packed 4-bit weight (the widest SIMD path of this CPU,
  then AVX2 when the CPU has AVX-512 too, as on machines without AVX-512).

Reported: milliseconds, bytes per call (weights + x + y), effective GB/s (bytes / time), and the
ratio NumPy time / our time next to the ratio of bytes (the speed-up a purely memory-bound kernel
would reach).  The float32 matrices hold the 4-bit weights dequantized, so the two products are
compared (within the error bound of :mod:`quantref.lowbit.w4a16`) before anything is timed.
Last, the kernel on one small matrix that stays in cache: its compute ceiling.

Absolute numbers drift on a shared machine; the ratios measured side by side are what count.
With other processes running, a 2-thread call of either side waits at its end for its second
thread to be scheduled again (milliseconds): watch the load averages printed before and after.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from quantref.bench import parse_threads, reexec_without_blas_overrides

if __name__ == "__main__":  # python -m quantref.bench.w4a16: same clean environment
    reexec_without_blas_overrides("quantref.bench.w4a16")

import numpy as np  # noqa: E402

FULL = dict(size=8192, ms=(1, 4), rounds=5, min_footprint=512 << 20)
#: a smoke run: small matrices, a fixed 32 MiB per side (in cache on most machines)
QUICK = dict(size=1024, ms=(1,), rounds=2, min_footprint=32 << 20)
IN_CACHE = 2048
_SETTLE_BLAS = 0.3
_SETTLE_OMP = 0.05


def last_level_cache_bytes() -> int:
    """Size of the last-level cache from sysfs (0 if unknown)."""
    best = 0
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        entries = os.listdir(base)
    except OSError:
        return 0
    for entry in entries:
        try:
            with open(os.path.join(base, entry, "size")) as fh:
                text = fh.read().strip()
        except OSError:
            continue
        mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
        try:
            best = max(best, int(text.rstrip("KMG")) * mult)
        except ValueError:
            continue
    return best


def random_packed_weight(n: int, k: int, group_size: int, rng):
    """A :class:`~quantref.lowbit.w4a16.PackedWeight` with random codes, zero points and positive scales."""
    from quantref.lowbit.w4a16 import PackedWeight

    ng = k // group_size
    return PackedWeight(rng.integers(0, 256, (n, k // 2), dtype=np.uint8),
                        (0.5 + rng.random((n, ng), dtype=np.float32)) * np.float32(0.01),
                        rng.integers(0, 16, (n, ng), dtype=np.uint8), group_size, 4)


def dequantize_float32(pw, rows: int = 1024) -> np.ndarray:
    """The float32 weight of a PackedWeight, dequantized in blocks of rows (the NumPy twin's values)."""
    from quantref.lowbit._numpy_backend import _dequantize_rows

    out = np.empty(pw.shape, dtype=np.float32)
    for n0 in range(0, pw.shape[0], rows):
        out[n0:n0 + rows] = _dequantize_rows(pw.packed[n0:n0 + rows], pw.scales[n0:n0 + rows],
                                             pw.zero_points[n0:n0 + rows], pw.group_size)
    return out


def _copy_packed(pw):
    from quantref.lowbit.w4a16 import PackedWeight

    return PackedWeight(pw.packed.copy(), pw.scales.copy(), pw.zero_points.copy(), pw.group_size, pw.bits)


def _timed_cycle(fn, items, out_times):
    for item in items:
        t0 = time.perf_counter()
        fn(item)
        out_times.append(time.perf_counter() - t0)


def _load():
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except (AttributeError, OSError):
        return "unknown"


def run(quick: bool = False, threads=(1, 2), size: int | None = None, group_size: int = 128,
        footprint_mb: int | None = None) -> int:
    try:
        import threadpoolctl
    except ImportError:
        print("quantref.bench w4a16 needs threadpoolctl: pip install threadpoolctl", file=sys.stderr)
        return 2
    try:
        from quantref.lowbit import _w4a16 as mod
    except ImportError:
        print("quantref.lowbit._w4a16 is not built: pip install -e . (with a C compiler)", file=sys.stderr)
        return 2
    from quantref.bench.gemm import _cpu_model
    from quantref.lowbit.w4a16 import bytes_per_call, error_bound, w4a16_matmul

    cfg = QUICK if quick else FULL
    n = k = int(size or cfg["size"])
    if k % group_size or group_size % 2:
        print(f"--group-size {group_size} must be even and divide --size {k}", file=sys.stderr)
        return 2
    model, flags = _cpu_model()
    llc = last_level_cache_bytes()
    print(f"CPU: {model}; {os.cpu_count()} logical CPUs; AVX2 {'yes' if 'avx2' in flags else 'no'}, "
          f"AVX-512F {'yes' if 'avx512f' in flags else 'no'} (/proc/cpuinfo); last-level cache "
          f"{llc / 2**20:.0f} MiB (sysfs)")
    impls = ["avx512"] if mod.AVX512_AVAILABLE else []
    impls += ["avx2"] if mod.AVX2_AVAILABLE else []
    impls = impls or ["portable"]
    print(f"quantref.lowbit._w4a16: AVX-512 path {'on' if mod.AVX512_AVAILABLE else 'off'}, AVX2 path "
          f"{'on' if mod.AVX2_AVAILABLE else 'off'}, OpenMP {mod.HAVE_OPENMP}; timed: {', '.join(impls)}")
    print(f"NumPy {np.__version__}; BLAS as seen by threadpoolctl:")
    for lib in threadpoolctl.threadpool_info():
        if lib.get("user_api") == "blas":
            print(f"  {lib.get('internal_api')} {lib.get('version')}, kernel {lib.get('architecture', '?')!r}, "
                  f"{lib.get('num_threads')} threads max")
    overrides = [v for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if v in os.environ]
    print(f"OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE in this process: {overrides or 'none'}")
    print(f"load average (1 min) before: {_load()} -- above ~0.5 on 2 cores, the numbers are unreliable")

    rng = np.random.default_rng(0)
    pw0 = random_packed_weight(n, k, group_size, rng)
    w0 = dequantize_float32(pw0)
    footprint = (footprint_mb << 20) if footprint_mb else \
        cfg["min_footprint"] if quick else max(2 * llc, cfg["min_footprint"])
    n_f32 = max(1, -(-footprint // w0.nbytes))
    n_w4 = max(1, -(-footprint // pw0.nbytes))
    print(f"\nWeights: {n} x {k}, groups of {group_size}: float32 {w0.nbytes / 2**20:.0f} MiB per matrix, "
          f"{n_f32} copies cycled ({n_f32 * w0.nbytes / 2**20:.0f} MiB); 4-bit {pw0.nbytes / 2**20:.1f} MiB per "
          f"matrix, {n_w4} copies cycled ({n_w4 * pw0.nbytes / 2**20:.0f} MiB)", flush=True)
    f32 = [w0] + [w0.copy() for _ in range(n_f32 - 1)]
    w4 = [pw0] + [_copy_packed(pw0) for _ in range(n_w4 - 1)]

    # correctness first: ours against NumPy on the same (dequantized) weights, within the error bound
    xc = rng.standard_normal((max(cfg["ms"]), k)).astype(np.float32)
    bound = error_bound(xc, w0[:256].astype(np.float64))
    ref = xc.astype(np.float64) @ w0[:256].astype(np.float64).T
    for impl in impls:
        y = w4a16_matmul(xc, pw0, impl=impl)[:, :256]
        worst = float(np.max(np.abs(y - ref) / bound))
        assert worst <= 1.0, f"{impl}: error {worst:.3g} x the bound"
    worst_np = float(np.max(np.abs((xc @ w0[:256].T) - ref) / bound))
    print(f"check: every path within the float32 error bound of the float64 product (NumPy at "
          f"{worst_np:.2g} x the bound)")

    rows = []
    for M in cfg["ms"]:
        x = rng.standard_normal((M, k)).astype(np.float32)
        out = np.empty((M, n), dtype=np.float32)
        for thr in threads:
            t_np, t_ours = [], {impl: [] for impl in impls}
            with threadpoolctl.threadpool_limits(thr, user_api="blas"):
                np.matmul(x, f32[0].T, out=out)                                   # warm-up
                for impl in impls:
                    w4a16_matmul(x, w4[0], out=out, num_threads=thr, impl=impl)
                for _ in range(cfg["rounds"]):
                    _timed_cycle(lambda w: np.matmul(x, w.T, out=out), f32, t_np)
                    time.sleep(_SETTLE_BLAS)
                    for impl in impls:
                        _timed_cycle(lambda w: w4a16_matmul(x, w, out=out, num_threads=thr, impl=impl), w4,
                                     t_ours[impl])
                        time.sleep(_SETTLE_OMP)
            rows.append((M, thr, statistics.median(t_np), {i: statistics.median(t) for i, t in t_ours.items()}))
            _print_row(rows[-1], n, k, group_size, first=len(rows) == 1)

    # compute ceiling: one small matrix that stays in cache
    pwc = random_packed_weight(IN_CACHE, IN_CACHE, group_size, rng)
    xc1 = rng.standard_normal((1, IN_CACHE)).astype(np.float32)
    print(f"\nIn cache ({IN_CACHE} x {IN_CACHE}, {pwc.nbytes / 2**20:.1f} MiB, the same matrix every call): "
          f"the kernel's compute ceiling, M = 1")
    for impl in impls:
        for thr in threads:
            ts = []
            w4a16_matmul(xc1, pwc, num_threads=thr, impl=impl)
            _timed_cycle(lambda w: w4a16_matmul(xc1, w, num_threads=thr, impl=impl), [pwc] * 30, ts)
            t = statistics.median(ts)
            print(f"  {impl:>7}, {thr} thread(s): {t * 1e3:.3f} ms, {IN_CACHE * IN_CACHE / t / 1e9:.1f} G weights/s, "
                  f"{pwc.nbytes / t / 1e9:.1f} GB/s of packed weight")
    print(f"\nload average (1 min) after: {_load()}")
    ideal = bytes_per_call(1, n, k, None) / bytes_per_call(1, n, k, group_size)
    best = max(r[2] / min(r[3].values()) for r in rows if r[0] == 1)
    print(f"\nSummary: bytes per weight {bytes_per_call(1, n, k, group_size) * 8 / (n * k):.2f} bits vs 32: "
          f"{ideal:.2f}x less traffic at M = 1; the kernel reached {best:.2f}x NumPy float32 "
          f"({best / ideal:.0%} of the memory-bound ideal).")
    return 0


def _print_row(row, n, k, group_size, first):
    from quantref.lowbit.w4a16 import bytes_per_call

    M, thr, t_np, t_ours = row
    b_np, b_w4 = bytes_per_call(M, n, k, None), bytes_per_call(M, n, k, group_size)
    if first:
        print("\nMedians per call; GB/s = bytes per call / time; x = NumPy time / ours; "
              "ideal = NumPy bytes / our bytes")
        print(f"{'M':>3} {'thr':>3} | {'NumPy f32':>9} {'MB/call':>8} {'GB/s':>6} | "
              f"{'W4A16':>8} {'':>6} {'MB/call':>8} {'GB/s':>6} {'x':>6} {'ideal':>6}")
    print(f"{M:>3} {thr:>3} | {t_np * 1e3:>7.2f}ms {b_np / 1e6:>8.1f} {b_np / t_np / 1e9:>6.1f} |", end="")
    for i, (impl, t) in enumerate(t_ours.items()):
        lead = "" if i == 0 else f"\n{'':>8}| {'':>9} {'':>8} {'':>6} |"
        print(f"{lead} {t * 1e3:>6.2f}ms {impl:>6} {b_w4 / 1e6:>8.1f} {b_w4 / t / 1e9:>6.1f} {t_np / t:>6.2f} "
              f"{b_np / b_w4:>6.2f}", end="")
    print(flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m quantref.bench w4a16", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small matrices, few rounds: a smoke run")
    parser.add_argument("--threads", default="1,2", help="thread counts, comma-separated (default 1,2)")
    parser.add_argument("--size", type=int, default=None, help="N = K of the weight (default 8192)")
    parser.add_argument("--group-size", type=int, default=128, help="inputs per group (default 128)")
    parser.add_argument("--footprint-mb", type=int, default=None,
                        help="total MiB of weights cycled per side (default: twice the last-level cache)")
    args = parser.parse_args(argv)
    threads = parse_threads(parser, args.threads)
    return run(quick=args.quick, threads=threads, size=args.size, group_size=args.group_size,
               footprint_mb=args.footprint_mb)


if __name__ == "__main__":
    sys.exit(main())
