"""LUT dequantization (quantref.codebook.lut_dequantize) on every backend and implementation.

The expected values are ``codebook[codes]`` indexed in the test (float copies, so every result
must be bit-identical), and the codes of packed buffers are unpacked independently here.
"""
import warnings

import numpy as np
import pytest

from quantref.codebook import lut_dequantize, pack_codes
from quantref.codebook.lut import COMPILED, STREAM_MIN, TWIN
from quantref.kernels import BackendWarning, compiled_available
from quantref.kernels import backend as backend_mod
from quantref.kernels.backend import resolve

HAVE = compiled_available(COMPILED)
NO_EXT = "quantref.codebook._lut is not built here"
RUNS = [pytest.param(("cython", impl), marks=pytest.mark.skipif(not HAVE, reason=NO_EXT), id=f"cython-{impl}")
        for impl in ("auto", "portable", "reference")] + [pytest.param(("numpy", "auto"), id="numpy")]


@pytest.fixture(autouse=True)
def _clean_backend_env(monkeypatch):
    monkeypatch.delenv("QUANTREF_BACKEND", raising=False)


def unpacked(codes, bits, n):
    """Independent unpacking: code i is bits [bits*(i % per), ...) of byte i // per."""
    per = 8 // bits
    return np.array([(int(codes[i // per]) >> (bits * (i % per))) & ((1 << bits) - 1) for i in range(n)],
                    dtype=np.int64)


@pytest.mark.parametrize("run", RUNS)
@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 31, 33, 1000, 70001])
def test_uint8_codes(run, n):
    backend, impl = run
    rng = np.random.default_rng(n)
    cb = rng.normal(size=256).astype(np.float32)
    codes = rng.integers(0, 256, n, dtype=np.uint8)
    out = lut_dequantize(codes, cb, backend=backend, impl=impl, num_threads=2)
    assert out.dtype == np.float32 and out.shape == (n,)
    np.testing.assert_array_equal(out, cb[codes])


@pytest.mark.parametrize("run", RUNS)
@pytest.mark.parametrize("bits", [4, 2, 1])
@pytest.mark.parametrize("n", [1, 3, 8, 15, 16, 17, 63, 64, 65, 1001, 70001])
def test_packed_codes(run, bits, n):
    backend, impl = run
    rng = np.random.default_rng(100 * bits + n)
    k = 1 << bits
    cb = rng.normal(size=k).astype(np.float32)
    codes = rng.integers(0, k, n, dtype=np.uint8)
    p = pack_codes(codes, bits)
    expected = cb[unpacked(p.data, bits, n)]
    np.testing.assert_array_equal(expected, cb[codes])          # the test's own unpacking agrees
    out = lut_dequantize(p, cb, backend=backend, impl=impl, num_threads=2)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("run", RUNS)
def test_shapes_and_short_codebooks(run):
    backend, impl = run
    rng = np.random.default_rng(5)
    cb = rng.normal(size=5).astype(np.float32)                  # k = 5 < 2**bits
    codes = rng.integers(0, 5, (3, 4, 5), dtype=np.uint8)
    np.testing.assert_array_equal(lut_dequantize(codes, cb, backend=backend, impl=impl), cb[codes])
    p = pack_codes(codes, 4)
    out = lut_dequantize(p, cb, backend=backend, impl=impl)
    assert out.shape == (3, 4, 5)
    np.testing.assert_array_equal(out, cb[codes])


@pytest.mark.skipif(not HAVE, reason=NO_EXT)
@pytest.mark.parametrize("bits", [8, 4, 2])
@pytest.mark.parametrize("offset", [0, 1, 3])
def test_streaming_path_any_alignment(bits, offset):
    # >= STREAM_MIN codes: non-temporal stores after a scalar head up to 32-byte alignment
    n = STREAM_MIN + 37
    rng = np.random.default_rng(bits + offset)
    cb = rng.normal(size=1 << bits).astype(np.float32)
    codes = rng.integers(0, 1 << bits, n, dtype=np.uint8)
    buf = np.full(n + 8, np.nan, dtype=np.float32)
    out = buf[offset:offset + n]
    arg = codes if bits == 8 else pack_codes(codes, bits)
    for impl in ("auto", "portable"):
        buf[:] = np.nan
        lut_dequantize(arg, cb, out=out, backend="cython", impl=impl, num_threads=2)
        np.testing.assert_array_equal(out, cb[codes])
        assert np.isnan(buf[:offset]).all() and np.isnan(buf[offset + n:]).all(), "wrote outside out"


def test_out_is_written_and_returned():
    cb = np.array([1.5, -2.0], np.float32)
    out = np.zeros((2, 2), np.float32)
    res = lut_dequantize(np.array([[1, 0], [0, 1]], np.uint8), cb, out=out)
    assert res is out
    np.testing.assert_array_equal(out, [[-2.0, 1.5], [1.5, -2.0]])


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("backend", [pytest.param("cython", marks=pytest.mark.skipif(not HAVE, reason=NO_EXT)),
                                     "numpy"])
def test_codes_out_of_range(backend):
    cb = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match=r"codes\[4\] \(flat index\) = 3 is out of range for a codebook of 3"):
        lut_dequantize(np.array([0, 1, 2, 2, 3, 0], np.uint8), cb, backend=backend)
    p = pack_codes(np.array([0, 2, 1, 3, 0], np.uint8), 2)
    with pytest.raises(ValueError, match=r"codes\[3\] \(flat index\) = 3"):
        lut_dequantize(p, cb, backend=backend)
    # the padding codes of a last, partial byte are not codes: no error for them
    p = pack_codes(np.array([2, 2, 2], np.uint8), 2)
    np.testing.assert_array_equal(lut_dequantize(p, cb, backend=backend), [0, 0, 0])


def test_bad_dtypes_and_shapes():
    cb = np.zeros(4, np.float32)
    with pytest.raises(TypeError, match="codes has dtype int64"):
        lut_dequantize(np.array([0, 1]), cb)
    with pytest.raises(TypeError, match="codes must be a NumPy array"):
        lut_dequantize([0, 1], cb)
    with pytest.raises(TypeError, match="codebook has dtype float64"):
        lut_dequantize(np.zeros(2, np.uint8), np.zeros(4))
    with pytest.raises(ValueError, match="codebook has 17 entries, more than 4-bit codes can address"):
        lut_dequantize(pack_codes(np.zeros(2, np.uint8), 4), np.zeros(17, np.float32))
    with pytest.raises(ValueError, match="out must be a writable C-contiguous float32 array of shape"):
        lut_dequantize(np.zeros(3, np.uint8), cb, out=np.zeros(4, np.float32))
    with pytest.raises(TypeError, match="out must be a float32"):
        lut_dequantize(np.zeros(3, np.uint8), cb, out=np.zeros(3))
    with pytest.raises(ValueError, match="impl='fast'"):
        lut_dequantize(np.zeros(3, np.uint8), cb, impl="fast")
    with pytest.raises(ValueError, match="num_threads"):
        lut_dequantize(np.zeros(3, np.uint8), cb, num_threads=0)


def test_backend_resolution(monkeypatch):
    monkeypatch.setattr(backend_mod, "_warned", False)
    with pytest.warns(BackendWarning, match=r"quantref.codebook._missing.*identical.*pip install -e \.") as rec:
        mod = resolve("auto", "quantref.codebook._missing", TWIN)
    assert mod.__name__ == TWIN
    assert len(rec) == 1 and rec[0].filename == __file__     # points at the caller, not at quantref
    # told once per process: a second missing extension falls back silently
    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter("always")
        assert resolve("auto", "quantref.pq._missing", "quantref.pq._numpy_backend").__name__ \
            == "quantref.pq._numpy_backend"
    assert not [w for w in again if issubclass(w.category, BackendWarning)]
    with pytest.raises(ImportError, match="quantref.codebook._missing is not built"):
        resolve("cython", "quantref.codebook._missing", TWIN)
    with pytest.raises(ValueError, match="backend='gpu' is unknown"):
        resolve("gpu", COMPILED, TWIN)
    monkeypatch.setenv("QUANTREF_BACKEND", "numpy")
    assert resolve(None, COMPILED, TWIN).__name__ == TWIN
