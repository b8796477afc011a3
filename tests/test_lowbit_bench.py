"""Smoke test of ``python -m quantref.bench w4a16``: the command runs end to end on tiny matrices.

It checks that the command's own correctness check ran and the table and summary were printed;
it does not judge speed.
"""
import pytest

from quantref.kernels import compiled_available

pytestmark = pytest.mark.skipif(not compiled_available("quantref.lowbit._w4a16"),
                                reason="quantref.lowbit._w4a16 is not built here")


def test_bench_w4a16_runs(monkeypatch, capsys):
    pytest.importorskip("threadpoolctl")
    import quantref.bench.w4a16 as bench

    monkeypatch.setattr(bench, "QUICK", dict(size=256, ms=(1, 3), rounds=1, min_footprint=1 << 20))
    monkeypatch.setattr(bench, "IN_CACHE", 256)
    monkeypatch.setattr(bench, "_SETTLE_BLAS", 0.0)
    assert bench.run(quick=True, threads=(1,)) == 0
    out = capsys.readouterr().out
    for needle in ("CPU:", "check: every path within the float32 error bound", "NumPy f32", "In cache",
                   "Summary: bytes per weight"):
        assert needle in out
    rows = [line for line in out.splitlines() if line.startswith(("  1   1 |", "  3   1 |"))]
    assert len(rows) == 2


def test_bench_w4a16_rejects_bad_arguments(capsys):
    import quantref.bench.w4a16 as bench

    with pytest.raises(SystemExit):
        bench.main(["--threads", "0"])
    assert "positive thread counts" in capsys.readouterr().err
    assert bench.main(["--quick", "--size", "256", "--group-size", "100"]) == 2
