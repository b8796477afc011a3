"""Smoke test of ``python -m quantref.bench gemm``: the command runs end to end on small shapes.

It checks that every tier this CPU runs gets its rows, each with its peak and the streamed row
alone with its cached speed (each public result was checked bit for bit inside the command
before timing), that torch, when importable, is measured at each tier's
instruction set, and that the summary is printed; it does not judge speed.
"""
import pytest

from quantref.kernels import compiled_available

pytestmark = pytest.mark.skipif(not compiled_available("quantref.kernels._gemm"),
                                reason="quantref.kernels._gemm is not built here")


def test_bench_gemm_runs_every_tier(monkeypatch, capsys):
    pytest.importorskip("threadpoolctl")
    import quantref.bench.gemm as bench
    from quantref.kernels import available_tiers

    monkeypatch.setattr(bench, "QUICK_SHAPES", [(64, 128, 128), (3, 256, 128)])
    monkeypatch.setattr(bench, "_SETTLE_BLAS", 0.0)
    assert bench.run(quick=True, threads=(1,), ladder=False, tiers="all", footprint_mb=2) == 0
    out = capsys.readouterr().out
    tiers = [t for t in available_tiers() if t != "scalar"]
    for t in tiers:
        rows = [line for line in out.splitlines() if line.split()[:1] == [t] and "x" in line.split()[1]]
        assert len(rows) == 2, (t, rows)
        for row in rows:            # each row timed the tier's peak loop in its own rounds
            assert float(row.split()[8]) > 0, row
        # the streamed row (M = 3) also timed its kernel on weights kept in the caches; the other not
        cached = {row.split()[1]: row.split()[10] for row in rows}
        assert float(cached["3x256x128"]) > 0 and cached["64x128x128"] == "-", cached
    assert "weights streamed from memory" in out and "Targets:" in out
    if set(tiers) - {"amx"}:        # core/peak judged (not on AMX): also told against the start's peak
        assert "judged rows at 0.8 or more" in out
    if bench._torch() is not None:       # torch measured in a child per tier: a number, not '-'
        row = next(line for line in out.splitlines() if line.startswith(tiers[-1]) and "64x128x128" in line)
        assert row.split()[7] != "-", row


def test_bench_gemm_rejects_bad_arguments(capsys):
    import quantref.bench.gemm as bench

    with pytest.raises(SystemExit):
        bench.main(["--threads", "0"])
    assert "positive thread counts" in capsys.readouterr().err
    assert bench.run(quick=True, threads=(1,), ladder=False, tiers="nosuchtier") == 2
    assert "cannot run here" in capsys.readouterr().err
