"""``grade --dask``: a Dask scheduler and two workers on 127.0.0.1 grade a small class into the
PostgreSQL gradebook."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from course_helpers import venv_env
from grading_support import A, FULL, LIMITS, _free_port, cell_scores, cli, make_course, postgres_server, runs, submit

pytestmark = pytest.mark.slow
__all__ = ["postgres_server"]


@pytest.fixture
def dask_cluster(tmp_path):
    distributed = pytest.importorskip("distributed", reason="Dask missing (pip install 'dask[distributed]')")
    dask = Path(sys.executable).parent / "dask"
    if not dask.exists():
        dask = shutil.which("dask")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [subprocess.Popen([str(dask), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], env=venv_env(), cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    for _ in range(2):
        procs.append(subprocess.Popen([str(dask), "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                                       "--no-dashboard", "--local-directory", str(tmp_path)], env=venv_env(),
                                      cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        with distributed.Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


def test_grade_a_class_on_a_dask_cluster(dask_cluster, postgres_server, tmp_path):
    db = postgres_server()
    course = make_course(tmp_path / "c")
    kinds = {"d1": "correct", "d2": "wrong:quantize_no_clipping", "d3": "broken:invalid_json", "d4": "correct"}
    for s, kind in kinds.items():
        submit(course, s, kind)
    out = cli("grade", A, "--course", str(course), "--db", db, "--dask", dask_cluster, *LIMITS)
    assert f"Dask cluster {dask_cluster}" in out.stdout
    scores = {s: sum(c.values()) for s, c in cell_scores(db).items()}
    assert scores["d1"] == scores["d4"] == FULL and 0 < scores["d2"] < FULL and scores["d3"] == 0
    got = runs(db)
    assert got["d3"]["status"] == "rejected" and "invalid JSON" in got["d3"]["details"]["reasons"][0]
    assert (course / "autograded" / "d1" / A / f"{A}.ipynb").exists()
