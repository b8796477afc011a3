"""Benchmark: product-quantization scans and encoders, and LUT dequantization, against NumPy.

``python -m quantref.bench pq [--quick] [--threads 1,2] [--no-lut]``

Data: N = 100,000 database rows and up to 128 queries in D = 512 (``--quick``: 8,192 rows,
D = 128), drawn from one synthetic distribution with a power-law spectrum, like embeddings:
``x = (z * s) R`` with ``z ~ N(0, I)``, ``s_j = (1 + j)^(-1/2)`` and ``R`` a random rotation
(seeded).  Quantizers are trained on 20,000 separate rows of the same distribution.

For M = 16 and 32 subspaces (codebooks), 16 and 128 queries and each thread count, medians of
repeats (NumPy and ours in adjacent blocks, NumPy first, a pause between them so that idle BLAS
threads stop spinning) of:

* NumPy float32 ``Q @ X.T`` (OpenBLAS, threads pinned with threadpoolctl);
* the 4-bit fast scan: PQ with 16 prototypes per subspace, packed codes, uint8 tables, exact
  uint16 sums (byte shuffles; target >= 50x NumPy);
* the 8-bit scan: PQ with 256 prototypes, uint8 tables, queries innermost (target >= 5x NumPy);
* MADDNESS' approximate product (C = M codebooks): encoding + 4-bit scan with the float output;

each next to its approximation quality: the relative error of the product,
``||S_hat - S||_F / ||S||_F`` against the exact float64 product, and recall@10 (the fraction of
each query's exact top 10 by inner product found in its approximate top 10).  The scans are timed
on ready uint8 tables; building and quantizing them is shown separately ("tables").

Then encoding of the N rows: MADDNESS' tree hash vs PQ's nearest-prototype search (target: >= 20x
faster than PQ with the same code size, 16 prototypes; PQ with 256 prototypes shown too).  Both
skip the NaN/inf check of their inputs here (``check_finite=False``) so that only the kernels are
timed.  Last, LUT dequantization bandwidth (quantref.codebook.lut_dequantize on 64 Mi codes)
against NumPy's copy of a large float32 array (``np.copyto``, one thread), counting bytes read plus
bytes written for both (target >= 0.5 of the copy); each of our runs is paired with a copy run just
before it, so that both see the same load on a shared machine.

Absolute numbers drift on a shared machine; the ratios measured side by side are what count.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from quantref.bench import parse_threads, reexec_without_blas_overrides

if __name__ == "__main__":  # python -m quantref.bench.pq: same clean environment
    reexec_without_blas_overrides("quantref.bench.pq")

import numpy as np  # noqa: E402

FULL = dict(N=100_000, D=512, n_train=20_000, niter=20, lut_n=64 << 20)
QUICK = dict(N=8_192, D=128, n_train=4_096, niter=5, lut_n=4 << 20)
SUBSPACES = (16, 32)
QUERIES = (16, 128)
TARGETS = {"4bit": 50.0, "8bit": 5.0, "encode": 20.0, "lut": 0.5}
IN_CACHE_ROWS = 2048
_SETTLE_BLAS = 0.3
_SETTLE_OMP = 0.05


def make_data(n: int, d: int, seed: int, rotation: np.ndarray) -> np.ndarray:
    """Rows ``(z * s) R`` with ``s_j = (1 + j)^(-1/2)`` (see the module docstring), float32."""
    rng = np.random.default_rng(seed)
    s = (1.0 + np.arange(d)) ** -0.5
    out = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, 8192):
        z = rng.standard_normal((min(8192, n - start), d)) * s
        out[start:start + len(z)] = z @ rotation
    return out


def _time_once(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _median(fn, reps: int) -> float:
    fn()  # warm-up
    return statistics.median(_time_once(fn) for _ in range(reps))


def _reps(seconds_guess: float, quick: bool) -> int:
    if quick:
        return 3
    return 3 if seconds_guess > 0.5 else 7 if seconds_guess > 0.05 else 15


def _quality(est: np.ndarray, exact: np.ndarray, top_exact: np.ndarray) -> tuple[float, float]:
    """Relative Frobenius error and recall@10 of approximate scores ``est`` (nq, N)."""
    est = np.asarray(est, dtype=np.float64)
    rel = float(np.linalg.norm(est - exact) / np.linalg.norm(exact))
    top = np.argpartition(-est, 10, axis=1)[:, :10]
    recall = float(np.mean([len(np.intersect1d(a, b)) / 10 for a, b in zip(top, top_exact)]))
    return rel, recall


def _load():
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except (AttributeError, OSError):
        return "unknown"


def _header(threadpoolctl, pqmod, lutmod):
    from quantref.bench.gemm import _cpu_model

    model, flags = _cpu_model()
    print(f"CPU: {model}; {os.cpu_count()} logical CPUs; AVX2 {'yes' if 'avx2' in flags else 'no'}, "
          f"AVX-512 {'yes' if 'avx512f' in flags else 'no'} (/proc/cpuinfo)")
    print(f"quantref.pq._pq: AVX2 path {'on' if pqmod.SIMD_AVAILABLE else 'OFF (portable C)'}, "
          f"OpenMP {pqmod.HAVE_OPENMP}; quantref.codebook._lut: AVX2 {lutmod.SIMD_AVAILABLE}, "
          f"OpenMP {lutmod.HAVE_OPENMP}")
    print(f"NumPy {np.__version__}; BLAS as seen by threadpoolctl:")
    for lib in threadpoolctl.threadpool_info():
        if lib.get("user_api") == "blas":
            print(f"  {lib.get('internal_api')} {lib.get('version')}, kernel {lib.get('architecture', '?')!r}, "
                  f"{lib.get('num_threads')} threads max")
    overrides = [n for n in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if n in os.environ]
    print(f"OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE in this process: {overrides or 'none'}")
    print(f"load average (1 min) before: {_load()} -- above ~0.5 on 2 cores, 2-thread numbers are unreliable")


def _verdict(ratio: float, target: float, quick: bool) -> str:
    if quick:
        return ""
    return "met" if ratio >= target else "MISSED"


def run(quick: bool = False, threads=(1, 2), lut: bool = True) -> int:
    try:
        import threadpoolctl
    except ImportError:
        print("quantref.bench pq needs threadpoolctl: pip install threadpoolctl", file=sys.stderr)
        return 2
    try:
        from quantref.codebook import _lut as lutmod
        from quantref.pq import _pq as pqmod
    except ImportError:
        print("quantref.pq._pq / quantref.codebook._lut are not built: pip install -e . (with a C compiler)",
              file=sys.stderr)
        return 2
    from quantref.pq import MaddnessMatmul, ProductQuantizer, pack_codes_4bit, quantize_tables, scan

    cfg = QUICK if quick else FULL
    N, D = cfg["N"], cfg["D"]
    _header(threadpoolctl, pqmod, lutmod)
    rotation = np.linalg.qr(np.random.default_rng(0).standard_normal((D, D)))[0]
    X = make_data(N, D, 1, rotation)
    train = make_data(cfg["n_train"], D, 2, rotation)
    Q = make_data(max(QUERIES), D, 3, rotation)
    print(f"\nData: X {N} x {D}, {max(QUERIES)} queries, {len(train)} training rows (power-law spectrum, rotated); "
          f"PQ k-means {cfg['niter']} iterations.")
    exact_all = Q.astype(np.float64) @ X.astype(np.float64).T
    results = {"4bit": [], "8bit": [], "encode": [], "lut": []}
    scan_rows, enc_rows = [], []
    for M in SUBSPACES:
        t0 = time.perf_counter()
        pq4 = ProductQuantizer(D, M, 4).train(train, niter=cfg["niter"], progress=False)
        pq8 = ProductQuantizer(D, M, 8).train(train, niter=cfg["niter"], progress=not quick)
        amm = MaddnessMatmul(M).fit(train, Q.T, progress=not quick)
        print(f"M={M}: trained PQ 4-bit, PQ 8-bit and MADDNESS in {time.perf_counter() - t0:.1f} s", flush=True)
        codes4 = pq4.compute_codes(X)
        packed4 = pack_codes_4bit(codes4)
        codes8 = pq8.compute_codes(X)

        for nq in QUERIES:
            q = np.ascontiguousarray(Q[:nq])
            exact = exact_all[:nq]
            top_exact = np.argpartition(-exact, 10, axis=1)[:, :10]
            t0 = time.perf_counter()
            qt4 = quantize_tables(pq4.tables(q))
            t_tables4 = time.perf_counter() - t0
            t0 = time.perf_counter()
            qt8 = quantize_tables(pq8.tables(q))
            t_tables8 = time.perf_counter() - t0
            amm_q = MaddnessMatmul(M)
            amm_q.encoder, amm_q.ridge = amm.encoder, amm.ridge
            amm_q.set_B(q.T)
            # quality (thread-independent); the uint8 sums are checked against an int64 reference first
            s4 = scan(packed4, qt4.tables)
            ref4 = np.zeros((nq, N), np.int64)
            for m in range(M):
                ref4 += qt4.tables[:, m, codes4[:, m]]
            assert np.array_equal(s4, ref4), "4-bit fast scan disagrees with the int64 reference"
            s8 = scan(codes8, qt8.tables)
            ref8 = np.zeros((nq, N), np.int64)
            for m in range(M):
                ref8 += qt8.tables[:, m, codes8[:, m]]
            assert np.array_equal(s8, ref8), "8-bit scan disagrees with the int64 reference"
            q4 = _quality(qt4.dequantize_sums(s4), exact, top_exact)
            q8 = _quality(qt8.dequantize_sums(s8), exact, top_exact)
            qm = _quality(amm_q(X).T, exact, top_exact)
            for thr in threads:
                with threadpoolctl.threadpool_limits(thr, user_api="blas"):
                    g = 0.2 * nq / 16
                    t_np = _median(lambda: q @ X.T, _reps(g, quick))
                    time.sleep(_SETTLE_BLAS)
                    t4 = _median(lambda: scan(packed4, qt4.tables, num_threads=thr), _reps(g / 50, quick))
                    time.sleep(_SETTLE_OMP)
                    t8 = _median(lambda: scan(codes8, qt8.tables, num_threads=thr), _reps(g / 5, quick))
                    time.sleep(_SETTLE_OMP)
                    tm = _median(lambda: amm_q(X, num_threads=thr, check_finite=False), _reps(g / 5, quick))
                    time.sleep(_SETTLE_OMP)
                r4, r8, rm = t_np / t4, t_np / t8, t_np / tm
                results["4bit"].append(r4 >= TARGETS["4bit"])
                results["8bit"].append(r8 >= TARGETS["8bit"])
                scan_rows.append((M, nq, thr, t_np, t4, r4, q4, t8, r8, q8, tm, rm, qm, t_tables4, t_tables8))
                _print_scan_row(scan_rows[-1], quick, first=len(scan_rows) == 1)

        Xc = np.ascontiguousarray(X[:IN_CACHE_ROWS])
        for thr in threads:
            e4 = _median(lambda: pq4.compute_codes(X, num_threads=thr, check_finite=False), 3 if not quick else 2)
            e8 = _median(lambda: pq8.compute_codes(X, num_threads=thr, check_finite=False), 1 if not quick else 2)
            em = _median(lambda: amm.encoder.encode(X, packed=True, num_threads=thr, check_finite=False),
                         _reps(0.02, quick))
            c4 = _median(lambda: pq4.compute_codes(Xc, num_threads=thr, check_finite=False), 7)
            cm = _median(lambda: amm.encoder.encode(Xc, packed=True, num_threads=thr, check_finite=False), 15)
            results["encode"].append(e4 / em >= TARGETS["encode"])
            enc_rows.append((M, thr, e4, e8, em, c4 / cm))
        del codes4, packed4, codes8

    _print_encode(enc_rows, quick, N)
    if lut:
        results["lut"] = _lut_bandwidth(cfg["lut_n"], threads, quick)
    print(f"\nload average (1 min) after: {_load()}")
    if not quick:
        print("\nTargets (ratios from the same run and thread count):")
        names = {"4bit": "4-bit fast scan >= 50x NumPy f32", "8bit": "8-bit scan >= 5x NumPy f32",
                 "encode": "MADDNESS encoding >= 20x PQ encoding (16 prototypes)",
                 "lut": "LUT dequantization >= 0.5 x memcpy bandwidth"}
        for key, name in names.items():
            got = results[key]
            if got:
                print(f"  {name}: met in {sum(got)} of {len(got)} configurations")
    return 0


def _print_scan_row(row, quick, first):
    (M, nq, thr, t_np, t4, r4, q4, t8, r8, q8, tm, rm, qm, tt4, tt8) = row
    if first:
        print("\nScan (aggregation) vs NumPy float32 Q @ X.T; medians; ms; x = NumPy time / ours;"
              " quality: relative error of the product, recall@10")
        print("  4-bit: PQ 16 prototypes, packed codes, uint8 tables, byte-shuffle scan, exact uint16 sums (target >= 50x)")
        print("  8-bit: PQ 256 prototypes, uint8 tables, queries-innermost scan, exact uint16 sums (target >= 5x)")
        print("  MADDNESS: encode N rows + 4-bit scan with float output (the whole approximate product; no target)")
        print("  tables: building + quantizing the uint8 tables (not in the scan times)\n")
        hdr = (f"{'M':>3} {'nq':>4} {'thr':>3} | {'NumPy':>7} | {'4-bit':>6} {'x':>6} {'err':>5} {'R@10':>5} {'':>6} | "
               f"{'8-bit':>6} {'x':>5} {'err':>5} {'R@10':>5} {'':>6} | {'MADD':>6} {'x':>5} {'err':>5} {'R@10':>5} | "
               f"{'tables 4b/8b':>12}")
        print(hdr)
        print("-" * len(hdr))
    print(f"{M:>3} {nq:>4} {thr:>3} | {t_np * 1e3:7.2f} | {t4 * 1e3:6.3f} {r4:6.1f} {q4[0]:5.3f} {q4[1]:5.2f} "
          f"{_verdict(r4, TARGETS['4bit'], quick):>6} | {t8 * 1e3:6.2f} {r8:5.1f} {q8[0]:5.3f} {q8[1]:5.2f} "
          f"{_verdict(r8, TARGETS['8bit'], quick):>6} | {tm * 1e3:6.2f} {rm:5.1f} {qm[0]:5.3f} {qm[1]:5.2f} | "
          f"{tt4 * 1e3:5.2f}/{tt8 * 1e3:5.2f}", flush=True)


def _print_encode(rows, quick, N):
    print(f"\nEncoding {N} rows (ms, medians): PQ nearest prototype (16 and 256 prototypes) vs MADDNESS tree hash "
          f"(writes the packed 4-bit layout); target: MADDNESS >= 20x faster than PQ with 16 prototypes.")
    print(f"Reading X itself bounds MADDNESS here; 'x PQ4 in cache' repeats the comparison on the first "
          f"{IN_CACHE_ROWS} rows (in L3), i.e. the encoders' compute alone.")
    hdr = (f"{'M':>3} {'thr':>3} | {'PQ 4-bit':>9} {'PQ 8-bit':>9} {'MADDNESS':>9} | {'x PQ4':>7} {'':>6} {'x PQ8':>7} | "
           f"{'x PQ4 in cache':>14}")
    print(hdr)
    print("-" * len(hdr))
    for M, thr, e4, e8, em, cache_ratio in rows:
        print(f"{M:>3} {thr:>3} | {e4 * 1e3:9.2f} {e8 * 1e3:9.1f} {em * 1e3:9.2f} | {e4 / em:7.1f} "
              f"{_verdict(e4 / em, TARGETS['encode'], quick):>6} {e8 / em:7.1f} | {cache_ratio:14.1f}", flush=True)


def _lut_bandwidth(n: int, threads, quick) -> list:
    from quantref.codebook import lut_dequantize, pack_codes

    rng = np.random.default_rng(4)
    codes = rng.integers(0, 256, n, dtype=np.uint8)
    codebook = rng.standard_normal(256).astype(np.float32)
    src = np.ones(n, dtype=np.float32)
    dst = np.empty(n, dtype=np.float32)
    out = np.empty(n, dtype=np.float32)
    dst[...] = 0.0
    out[...] = 0.0          # touch every page before timing
    reps = 3 if quick else 7
    print(f"\nLUT dequantization of {n / 2**20:.0f} Mi codes into float32 (GB/s = (bytes read + bytes written) / time; "
          f"each of our runs is paired with a run of NumPy's copy of {4 * n / 2**20:.0f} MiB float32 (np.copyto, one "
          f"thread) just before it, medians of {reps} pairs)")
    cases = [("uint8 codes, k=256", codes, codebook, 1.0),
             ("4-bit packed, k=16", pack_codes(codes & 15, 4), codebook[:16], 0.5),
             ("2-bit packed, k=4", pack_codes(codes & 3, 2), codebook[:4], 0.25)]
    hdr = f"{'codes':<20} {'thr':>3} | {'ms':>7} {'GB/s':>6} | {'copy GB/s':>9} | {'x copy':>7}"
    print(hdr)
    print("-" * len(hdr))
    met = []
    for name, c, cb, in_bytes in cases:
        ref = codebook[codes if cb.size == 256 else codes & (cb.size - 1)]
        lut_dequantize(c, cb, out=out)
        assert np.array_equal(out, ref), f"lut_dequantize is wrong on {name}"
        for thr in threads:
            np.copyto(dst, src)
            lut_dequantize(c, cb, out=out, num_threads=thr)
            pairs = [(_time_once(lambda: np.copyto(dst, src)),
                      _time_once(lambda: lut_dequantize(c, cb, out=out, num_threads=thr))) for _ in range(reps)]
            t_copy = statistics.median(p[0] for p in pairs)
            t = statistics.median(p[1] for p in pairs)
            copy_bw = 2 * 4 * n / t_copy / 1e9
            bw = (in_bytes + 4) * n / t / 1e9
            met.append(bw / copy_bw >= TARGETS["lut"])
            print(f"{name:<20} {thr:>3} | {t * 1e3:7.2f} {bw:6.1f} | {copy_bw:9.1f} | {bw / copy_bw:7.2f} "
                  f"{_verdict(bw / copy_bw, TARGETS['lut'], quick)}", flush=True)
    return met


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m quantref.bench pq", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small data, few repeats (smoke test)")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    parser.add_argument("--no-lut", action="store_true", help="skip the LUT dequantization bandwidth section")
    args = parser.parse_args(argv)
    threads = parse_threads(parser, args.threads)
    return run(quick=args.quick, threads=threads, lut=not args.no_lut)


if __name__ == "__main__":
    sys.exit(main())
