"""Benchmark: the int8 matmul through its public API, its kernel, the tier's peak, NumPy and PyTorch.

``python -m quantref.bench gemm [--quick] [--threads 1,2] [--no-ladder] [--tiers all] [--footprint-mb MB]``

It prints the CPU's features and the instruction-set tier that runs (:mod:`quantref.kernels.tiers`),
each available tier's peak (a register-only loop of its inner instruction), the ladder of
:mod:`quantref.kernels._gemm` on the first shape (every rung, rung 6 on every tier), and then, for
the tier that runs (``--tiers all``: every tier this CPU has, each forced in turn), every shape
(M x K times K x N) and thread count, medians of repeats of

* public: ``int_matmul(a, pack_weights(b), a_zero_point=128)`` on weights packed once;
* core: the kernel alone on the same packed weights (``_gemm.gemm_packed``);
* NumPy float32 ``@`` (OpenBLAS/MKL, threads pinned with threadpoolctl), and NumPy int32 ``@``
  (a plain loop, no BLAS; timed once on the first rows);
* ``torch._int_mm`` (oneDNN) when PyTorch is importable, in a child process whose oneDNN is capped
  at the same instructions as the row's tier (``ONEDNN_MAX_CPU_ISA``): the best library on the
  same CPU *and* the same instruction set;

with the ratios the targets are stated in: public / core (>= 0.9), core / the tier's peak and
public / torch (>= 0.8 and >= 0.9 on the three large shapes; AMX rows report both and judge
neither, see ``--help``; nor is an inexact torch a target: oneDNN's AVX2 path saturates), and for
M <= 16 public / the bandwidth bound (>= 0.8; the tier's peak where that is lower).  At M <= 16 the
weights are streamed from memory: each method cycles through copies of its weights adding up to
twice the last-level cache, and the bound is the weight bytes over the memory copy bandwidth
(np.copyto over as many bytes), timed within the row's own alternating blocks, so that the bound
meets the machine the kernels met (on a shared machine one M = 16 row read 0.74 and 0.86 of a
bandwidth measured once per run, in two runs an hour apart).  Those rows also time the kernel on
one copy of the weights, called back to back so that they stay in the caches ("cached"): what
the kernel reaches when its weights need not come from main memory.  A row whose cached speed is
itself near or below the bound cannot meet it by streaming better: at that M the kernel is
limited by its arithmetic and by how fast the caches feed it.  The tier's peak is timed the same
way: its loop is called in turn with the public call and the kernel, and each row judges against
the median (the best of 7 printed before the rows is one moment: within one minute the AVX-512
loop read 813-963 GOP/s on 1 thread, and the kernel moved with it, correlation 0.67).  The last
lines say how many rows would meet core/peak against that best-of-7 ceiling instead.

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

from quantref.kernels.aligned import aligned_empty  # noqa: E402

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
    if M <= 16:
        # streamed weights: a call takes about a millisecond, and a median of 21 of them moved by
        # 20-30 % from run to run on a shared machine; 90 calls cost a quarter of a second
        return 90
    return 12 if work > 4e9 else 21 if work > 5e8 else 30


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


def _interleaved(fns, reps, settle, rounds=3, per_round=None):
    """Time every fn in ``fns`` (name -> callable) in alternating blocks of back-to-back calls.

    Each round gives each method an untimed warm-up call and its share of ``reps`` timed calls
    back to back (a dict of methods instead of one: those are called in turn, call by call, so
    that they meet the same cache state; public and core are timed that way): the steady state of a loop calling the kernel, with worker threads awake (an
    OpenMP or BLAS thread woken from sleep on an idle virtual CPU can take ~8 ms to show up).
    With ``settle`` (several threads) each block is followed by a pause: idle worker threads keep
    spinning for a while after a call (OpenBLAS ~2^28 cycles, libgomp ~300k spins) and would
    steal the second core from the next method.  Alternating ``rounds`` blocks spreads slow
    drifts of a shared machine over every method.  ``per_round`` (name -> calls) gives a slow
    method a fixed number of timed calls per round instead.
    """
    times = {name: [] for name in fns}
    for r in range(rounds):
        for name, fn in fns.items():
            share = reps // rounds + (1 if r < reps % rounds else 0)
            share = (per_round or {}).get(name, share)
            if isinstance(fn, dict):        # methods timed call by call in turn (same cache state)
                for f in fn.values():
                    f()
                order = list(fn.items())
                for _ in range(share):
                    for sub, f in order:
                        times.setdefault(sub, []).append(_time_once(f))
                    order.reverse()         # neither method always goes first
                times.pop(name, None)
            else:
                fn()
                times[name].extend(_time_once(fn) for _ in range(share))
            if settle:
                time.sleep(_SETTLE_BLAS if "float32" in name or "torch" in name else _SETTLE_OMP)
    return times


def _verdict(checks):
    """"met", or "MISSED" and each ratio below its target, from (name, ratio, target) triples.

    Two decimals, or three where two would round up to the target itself:

    >>> _verdict([("pub/core", 0.95, 0.9), ("core/peak", 0.7962, 0.8), ("pub/bound", 0.71, 0.8)])
    'MISSED core/peak 0.796<0.8, pub/bound 0.71<0.8'
    >>> _verdict([("pub/core", 0.95, 0.9)])
    'met'
    """
    missed = [f"{name} {v:.2f}<{target}" if round(v, 2) < target else f"{name} {v:.3f}<{target}"
              for name, v, target in checks if v < target]
    return "met" if not missed else "MISSED " + ", ".join(missed)


def _peak_iters(tier):
    """Iterations of ``tier``'s peak loop per call: a few milliseconds."""
    return 200_000 if tier == "amx" else 1_000_000


def _peak(g, tier, nthr, repeats=7):
    """GOP/s of ``tier``'s register-only loop of its inner instruction: the best of ``repeats``.

    The ceiling printed before the rows: the fastest repeat, since a loop that touches no memory can
    only be slowed down by a busy machine.  The rows judge against the loop timed again in their
    own rounds (the median, as for the kernels), because the machine is not the same minutes later.
    """
    iters = _peak_iters(tier)
    g.peak(tier, iters // 10, nthr)
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ops = g.peak(tier, iters, nthr)
        rates.append(ops / (time.perf_counter() - t0) / 1e9)
    return max(rates)


class _Copy:
    """np.copyto over ``nbytes`` split over ``nthr`` Python threads: one call copies them all, and
    the memory copy bandwidth is ``nbytes`` over its time.  One large copy, not one per weight copy:
    above a size tied to the last-level cache, memcpy writes around the caches, and many smaller
    copies (each below it) would each read their destination first and measure ~40 % less."""

    def __init__(self, nbytes, nthr, like=None):
        from concurrent.futures import ThreadPoolExecutor

        self.nbytes = nbytes
        if like is not None:                       # the same arrays as another thread count's
            self.src, self.dst = like.src, like.dst
        else:
            self.src = np.ones(nbytes, np.uint8)
            self.dst = np.ones(nbytes, np.uint8)  # written now: no page fault is timed
        cuts = np.linspace(0, nbytes, nthr + 1).astype(int)
        self.bounds = list(zip(cuts[:-1], cuts[1:]))
        self.pool = ThreadPoolExecutor(nthr)

    def __call__(self):
        list(self.pool.map(lambda b: np.copyto(self.dst[b[0]:b[1]], self.src[b[0]:b[1]]), self.bounds))

    def close(self):
        self.pool.shutdown()


def _aligned_copy(x):
    """A copy of ``x`` on a 64-byte boundary, as pack_weights lays out its panels."""
    out = aligned_empty(x.shape, x.dtype)
    out[...] = x
    return out


def _packed_copies(w, n):
    """``n`` PackedWeights with the same codes and terms but their own packed panels."""
    import copy

    copies = [w]
    for _ in range(n - 1):
        c = copy.copy(w)
        c.packed = _aligned_copy(w.packed)
        copies.append(c)
    return copies


class _Cycle:
    """Calls ``fn(item)`` with the next of ``items`` each time: every call meets a copy of the
    weights that no call has touched for a whole cycle (more bytes than the last-level cache)."""

    def __init__(self, fn, items):
        self.fn, self.items, self.i = fn, items, 0

    def __call__(self):
        item = self.items[self.i]
        self.i = (self.i + 1) % len(self.items)
        return self.fn(item)


def _torch():
    try:
        import torch
    except Exception:           # not installed, or broken: the benchmark goes on without it
        return None
    return torch


#: oneDNN's instruction-set cap (ONEDNN_MAX_CPU_ISA) matching each of our tiers
ONEDNN_ISA = {"avx2": "AVX2", "avxvnni": "AVX2_VNNI", "avx512vnni": "AVX512_CORE_VNNI", "amx": "AVX512_CORE_AMX"}


def _torch_child(spec: dict) -> dict:
    """In a child process started with ONEDNN_MAX_CPU_ISA: medians of torch._int_mm per shape and
    thread count (weights cycled like ours for M <= 16), and whether its result was exact.
    Returns {"M,K,N,thr": GOP/s, "M,K,N,wrong": entries that differ from the int64 reference}."""
    torch = _torch()
    out = {}
    if torch is None:
        return out
    rng = np.random.default_rng(2)
    for M, K, N in spec["shapes"]:
        an = rng.integers(-128, 128, (M, K)).astype(np.int8)
        bn = rng.integers(-128, 128, (K, N)).astype(np.int8)
        a, b = torch.from_numpy(an), torch.from_numpy(bn)
        try:
            got = torch._int_mm(a, b).numpy()
        except Exception:       # torch._int_mm rejects some shapes
            continue
        # exact through float64 (|products| <= 2^14, K <= 2^13: every sum below 2^53)
        ref = (an.astype(np.float64) @ bn.astype(np.float64)).astype(np.int64)
        out[f"{M},{K},{N},wrong"] = int(np.count_nonzero(got != ref))
        bs = [b] + [b.clone() for _ in range(_n_copies(K * N, spec["footprint"]) - 1)] if M <= 16 else [b]
        for nthr in spec["threads"]:
            torch.set_num_threads(nthr)
            fn = _Cycle(lambda bb: torch._int_mm(a, bb), bs)
            times = _interleaved({"torch": fn}, _repeats(M, K, N, spec["quick"]), settle=nthr > 1)["torch"]
            out[f"{M},{K},{N},{nthr}"] = _gops(M, K, N, statistics.median(times))
    return out


def _torch_at_isa(tier, shapes, threads, footprint, quick):
    """torch._int_mm with oneDNN capped at ``tier``'s instructions, measured in a child process
    (the cap is read once, when oneDNN starts).  None when PyTorch is not importable."""
    import json
    import subprocess

    if _torch() is None or tier not in ONEDNN_ISA:
        return None
    spec = {"shapes": shapes, "threads": list(threads), "footprint": footprint, "quick": quick}
    env = dict(os.environ, ONEDNN_MAX_CPU_ISA=ONEDNN_ISA[tier])
    proc = subprocess.run([sys.executable, "-m", "quantref.bench.gemm", "--torch-child", json.dumps(spec)],
                          env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"  (torch at {ONEDNN_ISA[tier]} failed: {proc.stderr.strip().splitlines()[-1:]})")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _n_copies(nbytes, footprint):
    return max(2, -(-footprint // max(nbytes, 1)))


def _fmt(x, width, digits=0):
    return f"{'-':>{width}}" if x is None else f"{x:{width}.{digits}f}"


def _numpy_int32(a, b, target_ops=3e8):
    """GOP/s of NumPy's int32 ``@`` (no BLAS: a plain loop) on the first rows of ``a``: its time
    grows with M x N x K, so a slice of ~``target_ops`` operations gives the rate in a second."""
    M, K = a.shape
    N = b.shape[1]
    m = int(max(1, min(M, target_ops // (2 * N * K))))
    ai, bi = a[:m].astype(np.int32), b.astype(np.int32)
    ai @ bi[:, :1]
    t = _time_once(lambda: ai @ bi)
    return _gops(m, K, N, t), m


def run(quick=False, threads=(1, 2), ladder=True, tiers=None, footprint_mb=None) -> int:
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
    from quantref.bench.w4a16 import last_level_cache_bytes
    from quantref.kernels import cpu_features, int_matmul, pack_weights
    from quantref.kernels.tiers import TIER_ENV

    _print_header(g, threadpoolctl)
    info = cpu_features()
    tier = info["tier"]
    print(f"CPU features (CPUID/XGETBV): tiers {', '.join(info['cpu_tiers'])}; AMX permission: "
          f"{info['amx_permission']}; hidden: {', '.join(info['hidden']) or 'none'}; "
          f"forced: {info['forced'] or 'no'}")
    print(f"/proc/cpuinfo flags: " + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in info["flags"].items()))
    print(f"int8 matmul tier that runs: {tier}  (available: {', '.join(info['available_tiers'])})")
    torch = _torch()
    print(f"PyTorch: {torch.__version__ + ' (torch._int_mm, int8 x int8 -> int32, oneDNN)' if torch else 'not importable (column left empty)'}")
    vector_tiers = [t for t in info["available_tiers"] if t != "scalar"]
    if tiers == "all":
        run_tiers = vector_tiers[::-1]
    elif tiers:
        run_tiers = [t.strip() for t in tiers.split(",") if t.strip()]
        unknown = [t for t in run_tiers if t not in vector_tiers]
        if unknown:
            print(f"--tiers: {', '.join(unknown)} cannot run here (available: {', '.join(vector_tiers)})",
                  file=sys.stderr)
            return 2
    else:
        run_tiers = [tier]
    llc = last_level_cache_bytes()
    footprint = (footprint_mb << 20) if footprint_mb else max(2 * llc, 256 << 20)

    peaks = {}
    print("\nPeaks: register-only loop of each tier's inner instruction, GOP/s (best of 7 now; each row")
    print("times the loop again, call by call with its kernels, and judges against that median):")
    for t in vector_tiers:
        peaks[t] = {n: _peak(g, t, n) for n in threads}
        print(f"  {t:<11} " + "  ".join(f"{n} thr {peaks[t][n]:8.0f}" for n in threads)
              + ("   <- the running tier" if t == tier else ""))

    shapes = QUICK_SHAPES if quick else SHAPES
    if ladder:
        _ladder(g, threadpoolctl, *shapes[0], max(threads))

    print(f"\nint8 matmul, uint8 x int8 -> int32; GOP/s = 2MNK / median time.")
    print("  public: int_matmul(a, pack_weights(b), a_zero_point=128, num_threads=n), weights packed once")
    print("  core:   the kernel alone on the same packed weights (_gemm.gemm_packed, no zero-point terms)")
    print("  f32:    NumPy float32 @ (BLAS, threads pinned);  i32: NumPy int32 @ (no BLAS, one thread,")
    print("          timed once on the first rows: its time grows with M x N x K)")
    print("  torch:  torch._int_mm (int8 x int8) in a child process with oneDNN capped at the row's tier")
    print("          (ONEDNN_MAX_CPU_ISA), same threads and weight copies, measured just before the tier's rows")
    print("          its result is checked too: an inexact one (AVX2's saturating vpmaddubsw) is no target")
    print(f"  M <= 16: weights streamed from memory: every method cycles through copies of its weights")
    print(f"          ({footprint / 2**20:.0f} MiB per method, twice the {llc / 2**20:.0f} MiB last-level cache);")
    print("          bound = 2MNK / (weight bytes / memory copy bandwidth: np.copyto over as many bytes, timed")
    print("          in the row's own rounds),")
    print("          or the tier's peak where that is lower (the roofline: AVX2 at M = 16 is compute-bound);")
    print("          cached = the kernel on one copy of the weights, back to back (in the caches); a miss")
    print("          names cached/bound: what the kernel reaches when its weights need not come from memory")
    print("Every public result was checked bit for bit against an int64 reference first; methods run in 3")
    print("alternating blocks of back-to-back calls (warm-up untimed), with pauses between blocks on 2+ threads;")
    print("public and core share a block, called in turn call by call (the same cache state for both).")
    header = (f"{'tier':<10} {'M x K x N':<15} {'thr':>3} {'public':>7} {'core':>7} {'f32':>6} {'i32':>5} "
              f"{'torch':>6} {'peak':>6} {'bound':>6} {'cached':>6} {'pub/core':>8} {'core/peak':>9} {'pub/torch':>9} "
              f"{'pub/bound':>9} {'pub/f32':>7}  verdict")
    rng = np.random.default_rng(2)
    bandwidth = {}
    copiers = {}
    verdicts = []
    against_start = []      # core/peak judged against the best-of-7 peak printed before the rows
    data = []
    for M, K, N in shapes:
        a = rng.integers(0, 256, (M, K)).astype(np.uint8)
        b = rng.integers(-128, 128, (K, N)).astype(np.int8)
        data.append((M, K, N, a, b))
    i32 = {(M, K, N): _numpy_int32(a, b) for M, K, N, a, b in data}
    saved_env = os.environ.get(TIER_ENV)
    try:
        for t in run_tiers:
            tq = _torch_at_isa(t, [list(x[:3]) for x in data], threads, footprint, quick)
            os.environ[TIER_ENV] = t
            print(f"\n{header}")
            print("-" * (len(header) + 30))
            for M, K, N, a, b in data:
                w = pack_weights(b)
                ref = _reference(a, np.ascontiguousarray(b.T)) - 128 * b.sum(axis=0, dtype=np.int64)[None, :]
                np.testing.assert_array_equal(int_matmul(a, w, 128), ref, err_msg=f"{t}: public API wrong on {M}x{K}x{N}")
                out = aligned_empty((M, N), np.int32)     # as the public API allocates it
                af = a.astype(np.float32)
                bf = b.astype(np.float32)
                streamed = M <= 16
                ws = _packed_copies(w, _n_copies(w.packed.nbytes, footprint)) if streamed else [w]
                bfs = [bf] + [bf.copy() for _ in range(_n_copies(bf.nbytes, footprint) - 1)] if streamed else [bf]
                for nthr in threads:
                    fns = {
                        "ours": {"public": _Cycle(lambda ww: int_matmul(a, ww, 128, num_threads=nthr), ws),
                                 "core": _Cycle(lambda ww: g.gemm_packed(a, False, ww.packed, N, out, None, None,
                                                                         t, nthr), ws[len(ws) // 2:] + ws[:len(ws) // 2])},
                        "float32": _Cycle(lambda x: af @ x, bfs),
                    }
                    peak_ops = None
                    if t in peaks:      # the tier's peak, timed call by call with the kernels (see _peak)
                        peak_ops = g.peak(t, _peak_iters(t), nthr)
                        fns["ours"]["peak"] = lambda: g.peak(t, _peak_iters(t), nthr)
                    if streamed:        # the bound's bandwidth, timed in the same rounds
                        if nthr not in copiers:
                            copiers[nthr] = _Copy(footprint, nthr, next(iter(copiers.values()), None))
                        fns["copy"] = copiers[nthr]
                        # the kernel without main memory: one copy of the weights, kept in the caches by its
                        # own block of back-to-back calls (after the block's untimed warm-up call)
                        fns["cached"] = lambda: g.gemm_packed(a, False, w.packed, N, out, None, None, t, nthr)
                    with threadpoolctl.threadpool_limits(nthr):
                        reps = _repeats(M, K, N, quick)
                        times = _interleaved(fns, reps, settle=nthr > 1, per_round={"copy": 2})
                    copy_times = times.pop("copy", None)
                    peak_times = times.pop("peak", None)
                    r = {k: _gops(M, K, N, statistics.median(v)) for k, v in times.items()}
                    torch_g = (tq or {}).get(f"{M},{K},{N},{nthr}")
                    torch_wrong = (tq or {}).get(f"{M},{K},{N},wrong", 0)
                    peak = peak_ops / statistics.median(peak_times) / 1e9 if peak_times else None
                    bound = None
                    if streamed:
                        bw = copiers[nthr].nbytes / statistics.median(copy_times) / 1e9
                        bandwidth.setdefault(nthr, []).append(bw)
                        bound = 2.0 * M * N * K / (K * N / (bw * 1e9)) / 1e9
                        if peak:        # the roofline: a tier slower than memory is bound by its peak
                            bound = min(bound, peak)
                    pub_core = r["public"] / r["core"]
                    core_peak = r["core"] / peak if peak else None
                    pub_torch = r["public"] / torch_g if torch_g else None
                    pub_bound = r["public"] / bound if bound else None
                    cached = r.get("cached")
                    checks = [("pub/core", pub_core, 0.9)]
                    large = (M, K, N) in ((1024, 1024, 1024), (2048, 2048, 2048), (128, 4096, 4096)) or (quick and M > 16)
                    notes = []
                    if large and core_peak is not None:
                        if t == "amx":
                            notes.append("AMX core/peak reported, not judged: see --help")
                        else:
                            checks.append(("core/peak", core_peak, 0.8))
                            against_start.append(r["core"] / peaks[t][nthr] >= 0.8)
                    if torch_wrong:
                        notes.append(f"torch INEXACT: {torch_wrong} of {M * N} entries wrong, not a target")
                    elif large and pub_torch is not None:
                        if t == "amx":
                            notes.append("vs oneDNN AMX: the anchor")
                        else:
                            checks.append(("pub/torch", pub_torch, 0.9))
                    if pub_bound is not None:
                        checks.append(("pub/bound", pub_bound, 0.8))
                    verdict = _verdict(checks)
                    verdicts.append(verdict == "met")
                    if cached and "pub/bound" in verdict:     # missed: could the caches have fed it?
                        notes.append(f"weights in cache: cached/bound {cached / bound:.2f}")
                    if notes:
                        verdict += " (" + "; ".join(notes) + ")"
                    print(f"{t:<10} {f'{M}x{K}x{N}':<15} {nthr:>3} {r['public']:7.0f} {r['core']:7.0f} "
                          f"{r['float32']:6.0f} {i32[(M, K, N)][0]:5.1f} {_fmt(torch_g, 6)} {_fmt(peak, 6)} "
                          f"{_fmt(bound, 6)} {_fmt(cached, 6)} {pub_core:8.2f} {_fmt(core_peak, 9, 2)} {_fmt(pub_torch, 9, 2)} "
                          f"{_fmt(pub_bound, 9, 2)} {r['public'] / r['float32']:7.1f}  {verdict}", flush=True)
                del ws, bfs
    finally:
        for c in copiers.values():
            c.close()
        copiers.clear()
        if saved_env is None:
            os.environ.pop(TIER_ENV, None)
        else:
            os.environ[TIER_ENV] = saved_env
    print("i32 (NumPy int32 @) timed on the first " + ", ".join(
        f"{m} of {M}" for (M, K, N), (_, m) in i32.items()) + " rows")
    if bandwidth:
        print(f"memory copy bandwidth over {footprint / 2**20:.0f} MiB (timed in each streamed row's rounds), GB/s: "
              + "; ".join(f"{n} thr " + " ".join(f"{bw:.1f}" for bw in v) for n, v in sorted(bandwidth.items())))
    print(f"load average (1 min) after: {_load()}")
    if against_start:
        print(f"core/peak against the best-of-7 peak printed before the rows instead of the row's own: "
              f"{sum(against_start)} of {len(against_start)} judged rows at 0.8 or more")
    print(f"\nTargets: {sum(verdicts)} of {len(verdicts)} rows met (tiers {', '.join(run_tiers)}; "
          f"the machine is shared: rerun before trusting a miss).")
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--torch-child"]:           # internal: see _torch_at_isa
        import json

        print(json.dumps(_torch_child(json.loads(argv[1]))))
        return 0
    parser = argparse.ArgumentParser(prog="python -m quantref.bench gemm", description=__doc__.split("\n\n")[0],
                                     epilog=AMX_NOTE)
    parser.add_argument("--quick", action="store_true", help="small shapes and few repeats (smoke test)")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    parser.add_argument("--no-ladder", action="store_true", help="skip the per-rung table")
    parser.add_argument("--tiers", default=None,
                        help="tiers to measure: 'all' (every one this CPU runs, each forced in turn) or a "
                             "comma-separated list; default: the tier that runs")
    parser.add_argument("--footprint-mb", type=int, default=None,
                        help="bytes of weight copies each method cycles through at M <= 16 "
                             "(default: twice the last-level cache, at least 256 MiB)")
    args = parser.parse_args(argv)
    threads = parse_threads(parser, args.threads)
    return run(quick=args.quick, threads=threads, ladder=not args.no_ladder, tiers=args.tiers,
               footprint_mb=args.footprint_mb)


AMX_NOTE = """AMX: its register-only peak (tdpbusd back to back, 16 x 16 x 64 multiply-adds each) is a
ceiling no real product reaches, because every tdpbusd needs two 1 KiB tiles from the caches: the
rows of an AMX tier report core/peak without judging it, and name oneDNN's AMX kernel (torch) as
the anchor."""


if __name__ == "__main__":
    sys.exit(main())
