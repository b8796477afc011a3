"""quantref without a C compiler: everything runs on the NumPy kernels, identically, and says so once.

Each test starts a child process (Python, a Jupyter kernel, pytest) with ``tests/no_extension`` on
``PYTHONPATH``: its ``sitecustomize`` hides the four compiled extensions, so importing them fails
exactly as where they were never built (see its docstring).  The child's results are compared
with the compiled kernels of this process, bit for bit.

These tests are slow (every lecture and worked solution executes once more, on NumPy); deselect
them with ``-m 'not slow'``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from course_helpers import ROOT

from quantref.extensions import NAMES

pytestmark = pytest.mark.slow

BLOCKER = Path(__file__).resolve().parent / "no_extension"
EXTENSIONS = NAMES     # every compiled extension, from the one registry (quantref/extensions.py)
#: a phrase of the once-per-process message (quantref.kernels.backend)
MESSAGE = "compiled kernels are not built"
NOTEBOOKS = sorted((ROOT / "lectures").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))


def blocked_env() -> dict:
    """This process's environment, with the blocker first on PYTHONPATH and no backend forced."""
    env = {k: v for k, v in os.environ.items()
           if k != "QUANTREF_BACKEND" and not k.startswith(("PYTEST_XDIST", "PYTEST_CURRENT_TEST"))}
    env["PYTHONPATH"] = os.pathsep.join([str(BLOCKER)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def run_blocked(args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], env=blocked_env(), cwd=ROOT, capture_output=True, text=True,
                          **kwargs)


def need_compiled():
    from quantref.kernels import compiled_available

    missing = [m for m in EXTENSIONS if not compiled_available(m)]
    if missing:
        pytest.skip(f"{', '.join(missing)} not built here: nothing to compare the NumPy path with")


# ----------------------------------------------------------------------------- the blocker itself
def test_blocker_hides_the_extensions_as_if_never_built():
    need_compiled()       # otherwise the child would pass without any blocker
    probe = """if True:
        import importlib, importlib.util, json, pkgutil
        import quantref.kernels, quantref.codebook, quantref.pq
        out = {}
        for name in %r:
            try:
                importlib.import_module(name)
                err = None
            except ImportError as exc:
                err = [type(exc).__name__, str(exc), exc.name]
            pkg, _, leaf = name.rpartition(".")
            listed = leaf in {m.name for m in pkgutil.iter_modules(importlib.import_module(pkg).__path__)}
            out[name] = [err, importlib.util.find_spec(name) is None, listed]
        out["twin listed"] = "_numpy_backend" in {m.name for m in pkgutil.iter_modules(quantref.pq.__path__)}
        print(json.dumps(out))
    """ % (EXTENSIONS,)
    proc = run_blocked(["-c", probe], timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for name in EXTENSIONS:
        assert out[name] == [["ModuleNotFoundError", f"No module named {name!r}", name], True, False], name
    assert out["twin listed"] is True     # only the four are hidden
    # without the variable (e.g. imported by pytest's doctest collection) the file changes nothing
    plain = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(BLOCKER)!r}); "
                            "import sitecustomize, quantref.pq._pq"], cwd=ROOT, capture_output=True, text=True,
                           timeout=120, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert plain.returncode == 0, plain.stderr


# ----------------------------------------------------------------------------- (a) kernels, one message
CHILD = """if True:
    import importlib, json, sys, warnings
    warnings.simplefilter("always")        # Python's own de-duplication must not hide a second message
    import numpy as np
    import quantref.kernels as qk
    from quantref.codebook import lut_dequantize, pack_codes
    from quantref.pq import ProductQuantizer, pack_codes_4bit, quantize_tables, scan

    inp = np.load(sys.argv[1])
    res = {}
    res["int_matmul"] = qk.int_matmul(inp["a"], inp["b"], 131, inp["zb"])
    res["int_matmul_i8"] = qk.int_matmul(inp["b"].T.copy(), inp["a"].T.copy(), -3, 200)
    res["lut8"] = lut_dequantize(inp["codes8"], inp["cb256"])
    res["lut4"] = lut_dequantize(pack_codes(inp["codes4"], 4), inp["cb11"])
    res["lut2"] = lut_dequantize(pack_codes(inp["codes2"], 2), inp["cb4"])
    res["scan_float"] = scan(inp["pq_codes"], inp["tables"])
    qt = quantize_tables(inp["tables"])
    res["scan_u8"] = scan(inp["pq_codes"], qt.tables)
    res["scan_packed"] = scan(pack_codes_4bit(inp["pq_codes"]), qt)
    res["scan_packed_deq"] = scan(pack_codes_4bit(inp["pq_codes"]), qt, dequantize=True)
    pq = ProductQuantizer(32, 8, nbits=4)
    pq.centroids = inp["centroids"]
    res["pq_encode"] = pq.compute_codes(inp["x"])
    np.savez(sys.argv[2], **res)
    print(json.dumps({"compiled_available": qk.compiled_available(),
                      "int_matmul": qk.backend_name(),
                      "lut": importlib.import_module("quantref.codebook.lut").get_backend().__name__,
                      "pq": importlib.import_module("quantref.pq.scan").get_backend().__name__}))
"""


def _inputs(rng) -> dict:
    return dict(
        a=rng.integers(0, 256, size=(37, 301), dtype=np.uint8),
        b=rng.integers(-128, 128, size=(301, 29), dtype=np.int8),
        zb=rng.integers(-128, 128, size=29),
        codes8=rng.integers(0, 256, size=(70, 113), dtype=np.uint8),
        cb256=rng.normal(size=256).astype(np.float32),
        codes4=rng.integers(0, 11, size=1001, dtype=np.uint8),
        cb11=rng.normal(size=11).astype(np.float32),
        codes2=rng.integers(0, 4, size=(9, 31), dtype=np.uint8),
        cb4=rng.normal(size=4).astype(np.float32),
        pq_codes=rng.integers(0, 16, size=(517, 8), dtype=np.uint8),
        tables=rng.normal(size=(3, 8, 16)).astype(np.float32),
        centroids=rng.normal(size=(8, 16, 4)).astype(np.float32),
        x=rng.normal(size=(301, 32)).astype(np.float32),
    )


def _compiled_results(inp) -> dict:
    import quantref.kernels as qk
    from quantref.codebook import lut_dequantize, pack_codes
    from quantref.pq import ProductQuantizer, pack_codes_4bit, quantize_tables, scan

    c = "cython"
    qt = quantize_tables(inp["tables"])
    pq = ProductQuantizer(32, 8, nbits=4)
    pq.centroids = inp["centroids"]
    return {
        "int_matmul": qk.int_matmul(inp["a"], inp["b"], 131, inp["zb"], backend=c),
        "int_matmul_i8": qk.int_matmul(inp["b"].T.copy(), inp["a"].T.copy(), -3, 200, backend=c),
        "lut8": lut_dequantize(inp["codes8"], inp["cb256"], backend=c),
        "lut4": lut_dequantize(pack_codes(inp["codes4"], 4), inp["cb11"], backend=c),
        "lut2": lut_dequantize(pack_codes(inp["codes2"], 2), inp["cb4"], backend=c),
        "scan_float": scan(inp["pq_codes"], inp["tables"], backend=c),
        "scan_u8": scan(inp["pq_codes"], qt.tables, backend=c),
        "scan_packed": scan(pack_codes_4bit(inp["pq_codes"], backend=c), qt, backend=c),
        "scan_packed_deq": scan(pack_codes_4bit(inp["pq_codes"], backend=c), qt, dequantize=True, backend=c),
        "pq_encode": pq.compute_codes(inp["x"], backend=c),
    }


def test_kernels_without_extensions_warn_once_and_give_the_compiled_results(tmp_path, monkeypatch):
    need_compiled()
    monkeypatch.delenv("QUANTREF_BACKEND", raising=False)
    inp = _inputs(np.random.default_rng(20240607))
    np.savez(tmp_path / "in.npz", **inp)
    proc = run_blocked(["-c", CHILD, str(tmp_path / "in.npz"), str(tmp_path / "out.npz")], timeout=300)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    assert info == {"compiled_available": False, "int_matmul": "numpy", "lut": "quantref.codebook._numpy_backend",
                    "pq": "quantref.pq._numpy_backend"}
    # one message, naming every missing extension, the fix, and that only the speed differs
    assert proc.stderr.count(MESSAGE) == 1 and proc.stderr.count("BackendWarning") == 1, proc.stderr
    for needed in (*EXTENSIONS, "C compiler", "build-essential", "Xcode", "Build Tools", "pip install -e .",
                   "make install", "identical", "slower"):
        assert needed in proc.stderr, needed
    got = np.load(tmp_path / "out.npz")
    want = _compiled_results(inp)
    assert sorted(got.files) == sorted(want)
    for name, w in want.items():
        g = got[name]
        assert (g.dtype, g.shape) == (w.dtype, w.shape), name
        assert g.tobytes() == np.ascontiguousarray(w).tobytes(), f"{name}: the NumPy path differs from the compiled one"


# ----------------------------------------------------------------------------- (b) every notebook
CHECK_CELL = ("import quantref.kernels as _qk, importlib.util as _iu\n"
              "print('no-extension check:', _qk.compiled_available(), "
              f"[_iu.find_spec(_m) is None for _m in {EXTENSIONS!r}])")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[f"{p.parent.name}/{p.name}" for p in NOTEBOOKS])
def test_notebook_runs_without_extensions(path):
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(CHECK_CELL))    # proves the kernel really ran without them
    start = time.perf_counter()
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute(env=blocked_env())
    seconds = time.perf_counter() - start
    print(f"{path.parent.name}/{path.name}: {seconds:.1f} s on the NumPy kernels")
    check = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert f"no-extension check: False {[True] * len(EXTENSIONS)}" in check, check
    told = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
            and any(MESSAGE in json.dumps(o) or "BackendWarning" in json.dumps(o) for o in c.outputs)]
    assert len(told) <= 1, f"the missing-extension message appears in cells {told}; it must appear once at most"


# ----------------------------------------------------------------------------- (c) unit tests on NumPy
UNIT_TESTS = ["tests/test_int_matmul.py", "tests/test_packed_weights.py", "tests/test_codebook_lut.py", "tests/test_pq_scan.py",
              "tests/test_pq_quantizer.py", "tests/test_pq_maddness.py"]
#: tests about the compiled kernels alone, skipped in full where they are not built
COMPILED_ONLY = {
    "test_int_matmul::test_env_var_auto_and_cython_pick_the_extension",   # auto picks the extension
    "test_int_matmul::test_plain_loop_kernel_is_exact",                   # calls _int_matmul directly
    "test_packed_weights::test_an_unknown_forced_tier_is_refused",         # the tiers of the compiled kernel
    "test_packed_weights::test_hiding_features_falls_back_without_sigill",  # idem
    "test_packed_weights::test_forcing_a_hidden_tier_is_refused_not_sigill",  # idem
    "test_packed_weights::test_the_kernel_allocates_its_output_as_aligned_empty_does",  # its C allocation
    "test_codebook_lut::test_streaming_path_any_alignment",               # the compiled streaming stores
    "test_pq_scan::test_streaming_stores_and_partial_blocks",             # idem, for the scan
    "test_pq_quantizer::test_compiled_and_numpy_encoders_agree",          # compares the two backends
    "test_pq_maddness::test_backends_agree_on_the_product",               # idem
}


def test_kernel_unit_tests_pass_on_the_numpy_path(tmp_path):
    report = tmp_path / "junit.xml"
    proc = run_blocked(["-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", *UNIT_TESTS],
                       timeout=1200)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    passed, skipped = {}, {}
    for case in ET.parse(report).iter("testcase"):
        func = f"{case.get('classname').rpartition('.')[2]}::{case.get('name').partition('[')[0]}"
        skip = case.find("skipped")
        if skip is None:
            passed[func] = passed.get(func, 0) + 1
        else:
            skipped.setdefault(func, []).append(skip.get("message", ""))
    # every skip is a compiled-only case (the "cython" parameters, compiled-only tests) ...
    reasons = {r for rs in skipped.values() for r in rs}
    assert all("not built" in r for r in reasons), reasons
    # ... and every test but the compiled-only ones ran on NumPy at least once
    assert set(skipped) - set(passed) == COMPILED_ONLY
    assert {f.partition("::")[0] for f in passed} == {Path(t).stem for t in UNIT_TESTS}
