"""Smoke test of ``python -m quantref.bench pq``: the command runs end to end on tiny data.

It checks the command's own correctness checks (the scans against int64 references, the LUT
against NumPy indexing) ran and the tables were printed; it does not judge speed.
"""
import numpy as np
import pytest

from quantref.kernels import compiled_available

pytestmark = pytest.mark.skipif(not (compiled_available("quantref.pq._pq")
                                     and compiled_available("quantref.codebook._lut")),
                                reason="the compiled kernels are not built here")


def test_bench_pq_runs(monkeypatch, capsys):
    pytest.importorskip("threadpoolctl")
    import quantref.bench.pq as bench

    monkeypatch.setattr(bench, "QUICK", dict(N=700, D=64, n_train=600, niter=2, lut_n=1 << 12))
    monkeypatch.setattr(bench, "IN_CACHE_ROWS", 64)
    monkeypatch.setattr(bench, "_SETTLE_BLAS", 0.0)
    assert bench.run(quick=True, threads=(1,), lut=True) == 0
    out = capsys.readouterr().out
    for needle in ("Scan (aggregation) vs NumPy float32", "Encoding 700 rows", "LUT dequantization",
                   "2-bit packed, k=4"):
        assert needle in out
    rows = [line for line in out.splitlines() if line.startswith((" 16 ", " 32 "))]
    assert len(rows) == 2 * 2 + 2            # (M x nq) scan rows + one encoding row per M


def test_bench_pq_rejects_bad_threads(capsys):
    import quantref.bench.pq as bench

    with pytest.raises(SystemExit):
        bench.main(["--threads", "0"])
    assert "positive thread counts" in capsys.readouterr().err


def test_make_data_is_seeded():
    import quantref.bench.pq as bench

    rot = np.linalg.qr(np.random.default_rng(0).standard_normal((8, 8)))[0]
    np.testing.assert_array_equal(bench.make_data(5, 8, 1, rot), bench.make_data(5, 8, 1, rot))
