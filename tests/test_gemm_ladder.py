"""Every rung of the integer matmul ladder (quantref.kernels._gemm) equals an int64 reference.

Bit for bit, for every dtype pair (uint8/int8 x uint8/int8), both operand forms ("u8s8", the
VNNI-friendly mixed-sign form with its +-128 shift and correction, and "i16"), edge sizes that
are not multiples of the 4 x 4 tiles or of the cache blocks, extreme codes at K = max_safe_k,
and 1 and 2 threads.
"""
import itertools

import numpy as np
import pytest

from quantref.kernels import max_safe_k

g = pytest.importorskip(
    "quantref.kernels._gemm",
    reason="the compiled extension quantref.kernels._gemm is not built "
           "(`pip install -e .` with a C compiler builds it)")

DTYPES = (np.uint8, np.int8)
PAIRS = list(itertools.product(DTYPES, DTYPES))
PAIR_IDS = [f"{np.dtype(a).name}x{np.dtype(b).name}" for a, b in PAIRS]
FORMS = g.FORMS
EDGE = (0, 1, 2, 3, 5, 15, 16, 17, 31, 33, 64, 65, 257)


def _rungs():
    """(id, callable(a, bt, out)) for every rung and option worth testing."""
    out = [("naive", g.core_naive)]
    for form in FORMS:
        out += [
            (f"packed-{form}", lambda a, bt, o, f=form: g.core_packed(a, bt, o, form=f)),
            (f"register-{form}", lambda a, bt, o, f=form: g.core_register_blocked(a, bt, o, form=f)),
            (f"cache-{form}", lambda a, bt, o, f=form: g.core_cache_blocked(a, bt, o, form=f)),
            # small, odd block sizes: many partial blocks and partial tiles inside blocks
            (f"cache-small-{form}",
             lambda a, bt, o, f=form: g.core_cache_blocked(a, bt, o, form=f, mc=6, nc=7, kc=13)),
        ]
        for threads in (1, 2):
            # min_macs_per_thread=0: really use `threads` threads even on tiny products
            out += [
                (f"threaded{threads}-{form}",
                 lambda a, bt, o, f=form, t=threads: g.core_threaded(a, bt, o, t, form=f, min_macs_per_thread=0)),
                (f"threaded{threads}-small-{form}",
                 lambda a, bt, o, f=form, t=threads: g.core_threaded(a, bt, o, t, form=f, mc=5, nc=9, kc=17,
                                                                     min_macs_per_thread=0)),
            ]
    out.append(("matmul_core", g.matmul_core))
    return out


RUNGS = _rungs()
RUNG_IDS = [name for name, _ in RUNGS]
# On tiny shapes the default blocks make one task, so "threaded2" would run on one thread anyway;
# the small-block variant is the one that spreads edge cases over both threads.  (Each parallel
# region costs a thread wake-up, which a busy 2-core machine makes slow: keep their number down.)
EDGE_RUNGS = [r for r in RUNGS if not (r[0].startswith("threaded2") and "small" not in r[0])]


def _reference(a, bt):
    return a.astype(np.int64) @ bt.astype(np.int64).T


def _codes(rng, dtype, shape):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)


def _check(fn, a, bt):
    ref = _reference(a, bt)
    assert np.all(np.abs(ref) <= np.iinfo(np.int32).max), "test bug: reference exceeds int32"
    out = np.full((a.shape[0], bt.shape[0]), 0x5A5A5A5A, dtype=np.int32)  # every entry must be written
    fn(a, bt, out)
    np.testing.assert_array_equal(out, ref)


def _shapes():
    """Every edge size on every axis at least once, plus a few random triples."""
    rng = np.random.default_rng(1234)
    shapes = set()
    for v in EDGE:
        shapes.add((v, 17, 33))
        shapes.add((15, v, 31))
        shapes.add((5, 16, v))
    for _ in range(12):
        shapes.add(tuple(int(x) for x in rng.choice(EDGE, 3)))
    shapes.add((65, 64, 257))
    shapes.add((257, 33, 65))
    return sorted(shapes)


SHAPES = _shapes()


@pytest.mark.parametrize("name,fn", EDGE_RUNGS, ids=[n for n, _ in EDGE_RUNGS])
@pytest.mark.parametrize("a_dtype,b_dtype", PAIRS, ids=PAIR_IDS)
def test_rung_matches_int64_reference_on_edge_shapes(name, fn, a_dtype, b_dtype):
    rng = np.random.default_rng(7)
    for M, N, K in SHAPES:
        a = _codes(rng, a_dtype, (M, K))
        bt = _codes(rng, b_dtype, (N, K))
        _check(fn, a, bt)


def _extreme_operands(a_dtype, b_dtype, M, N, K, rng):
    """Rows of a and bt at the dtype extremes: the sums reach max_safe_k * |a|max * |b|max."""
    ia, ib = np.iinfo(a_dtype), np.iinfo(b_dtype)
    a = np.empty((M, K), dtype=a_dtype)
    bt = np.empty((N, K), dtype=b_dtype)
    a_rows = [ia.min, ia.max, ia.min, ia.max]          # constant rows first
    b_rows = [ib.min, ib.min, ib.max, ib.max]
    for i in range(M):
        a[i] = a_rows[i] if i < len(a_rows) else rng.choice([ia.min, ia.max], K)
    for j in range(N):
        bt[j] = b_rows[j] if j < len(b_rows) else rng.choice([ib.min, ib.max], K)
    return a, bt


EXTREME_RUNGS = [r for r in RUNGS if "small" not in r[0] or "threaded2" in r[0]]


@pytest.mark.parametrize("name,fn", EXTREME_RUNGS, ids=[n for n, _ in EXTREME_RUNGS])
@pytest.mark.parametrize("a_dtype,b_dtype", PAIRS, ids=PAIR_IDS)
@pytest.mark.parametrize("M,N", [(4, 6), (6, 4)], ids=["shift-a", "shift-b"])
def test_rung_exact_at_max_safe_k_with_extreme_codes(name, fn, a_dtype, b_dtype, M, N):
    """K = max_safe_k: the original sums touch int32's limit; shifted forms would overflow
    without the k-blocked correction (e.g. int8 127 * 127 over K = 131,071 shifted to
    255 * 127 per term is 4.2e9).  M <= N shifts a, M > N shifts b (same-sign pairs)."""
    K = max_safe_k(a_dtype, b_dtype)
    rng = np.random.default_rng(K + M)
    a, bt = _extreme_operands(a_dtype, b_dtype, M, N, K, rng)
    ref = _reference(a, bt)
    # the test really exercises the bound: some entry within one term of int32's limits
    worst = np.iinfo(a_dtype).max * np.iinfo(b_dtype).max
    assert np.abs(ref).max() > np.iinfo(np.int32).max - max(worst, 128 * 128)
    _check(fn, a, bt)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("form", FORMS)
def test_threaded_larger_random_matrices(threads, form):
    """A bigger case with several blocks per thread and the default block sizes."""
    rng = np.random.default_rng(threads)
    for (a_dtype, b_dtype), (M, N, K) in zip(PAIRS, [(131, 300, 1100), (64, 513, 2049),
                                                      (300, 67, 1030), (1, 1000, 4097)]):
        a = _codes(rng, a_dtype, (M, K))
        bt = _codes(rng, b_dtype, (N, K))
        _check(lambda x, y, o: g.core_threaded(x, y, o, threads, form=form, min_macs_per_thread=0), a, bt)


def test_prepare_forms_reconstruct_the_product():
    """The shifted operands plus the k-block corrections give the product (teaching aid)."""
    rng = np.random.default_rng(3)
    for a_dtype, b_dtype in PAIRS:
        for M, N in [(3, 5), (5, 3)]:
            K, kb = 40, 16
            a, bt = _codes(rng, a_dtype, (M, K)), _codes(rng, b_dtype, (N, K))
            X, Y, sa, sb, c = g.prepare(a, bt, "u8s8", kb)
            assert {X.dtype, Y.dtype} == {np.dtype(np.uint8), np.dtype(np.int8)}
            got = X.astype(np.int64) @ Y.astype(np.int64).T
            if sa is not None:
                got += c * sa.astype(np.int64).sum(axis=0)[:, None]
            if sb is not None:
                got += c * sb.astype(np.int64).sum(axis=0)[None, :]
            np.testing.assert_array_equal(got, _reference(a, bt))


def test_module_facts():
    assert g.LADDER == ("core_naive", "core_packed", "core_register_blocked",
                        "core_cache_blocked", "core_threaded")
    assert g.DEFAULT_FORM == ("u8s8" if g.HAVE_VNNI else "i16")
    assert g.KSAFE * 255 * 128 <= np.iinfo(np.int32).max
    with pytest.raises(ValueError):
        g.core_packed(np.zeros((1, 1), np.uint8), np.zeros((1, 1), np.int8),
                      np.zeros((1, 1), np.int32), form="fp32")


@pytest.mark.parametrize("rung", ["core_naive", "core_packed", "core_register_blocked", "core_cache_blocked",
                                  "core_threaded", "matmul_core"])
def test_rungs_check_their_operands(rung):
    """Lecture 2 calls the rungs directly: a wrong shape, dtype or layout is refused, never read."""
    fn = getattr(g, rung)
    a, bt, out = np.zeros((2, 3), np.uint8), np.zeros((4, 3), np.int8), np.zeros((2, 4), np.int32)
    fn(a, bt, out)                                             # the right operands pass
    for bad in [(a, np.zeros((4, 5), np.int8), out),           # K differs
                (a, bt, np.zeros((2, 5), np.int32)),           # out has the wrong shape
                (a, bt, np.zeros((4, 2), np.int32)),           # out transposed
                (a.astype(np.float32), bt, out),               # not codes
                (np.zeros((3, 2), np.uint8).T, bt, out)]:      # not C-contiguous
        with pytest.raises((TypeError, ValueError)):
            fn(*bad)
