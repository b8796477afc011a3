"""The scan (aggregation) of PQ codes: every path against references written in this file.

uint8 tables: exact integer sums, compared bit for bit with an int64 sum computed here, for the
readable Cython loop, the AVX2 kernels, their portable C twins and the NumPy backend.  float32
tables: the compiled loop and the NumPy twin add in the same order (bit-identical); against a
float64 sum the error is bounded by (M - 1) float32 roundings: ``(M-1) * 2**-24 * sum |T|``.
"""
import numpy as np
import pytest

from quantref.kernels import compiled_available
from quantref.pq import (PackedCodes4, QuantizedTables, pack_codes_4bit, quantize_tables, scan,
                         unpack_codes_4bit)
from quantref.pq.scan import COMPILED, STREAM_MIN_BYTES

HAVE = compiled_available(COMPILED)
NO_EXT = "quantref.pq._pq is not built here"
RUNS = [pytest.param(("cython", impl), marks=pytest.mark.skipif(not HAVE, reason=NO_EXT), id=f"cython-{impl}")
        for impl in ("auto", "portable", "reference")] + [pytest.param(("numpy", "auto"), id="numpy")]


@pytest.fixture(autouse=True)
def _clean_backend_env(monkeypatch):
    monkeypatch.delenv("QUANTREF_BACKEND", raising=False)


def int_reference(codes, tables):
    """sum_m tables[q, m, codes[i, m]] in int64, one lookup at a time."""
    nq, M, _ = tables.shape
    out = np.zeros((nq, len(codes)), dtype=np.int64)
    t = tables.astype(np.int64)
    for m in range(M):
        out += t[:, m, :][:, codes[:, m]]
    return out


def case(seed, N, M, nq, ksub):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, ksub, (N, M), dtype=np.uint8), rng.integers(0, 256, (nq, M, ksub), dtype=np.uint8))


# ----------------------------------------------------------------------------- hand cases

def test_hand_case():
    T = np.array([[[0, 10], [0, 100]], [[1, 2], [3, 4]]], dtype=np.uint8)      # nq = 2, M = 2, ksub = 2
    codes = np.array([[1, 0], [1, 1], [0, 0]], dtype=np.uint8)
    np.testing.assert_array_equal(scan(codes, T), [[10, 110, 0], [5, 6, 4]])
    np.testing.assert_array_equal(scan(codes, T.astype(np.float32)), [[10, 110, 0], [5, 6, 4]])


def test_uint16_sums_do_not_saturate():
    codes = np.zeros((3, 256), np.uint8)
    T = np.full((1, 256, 16), 255, np.uint8)
    out = scan(codes, T)
    assert out.dtype == np.uint16 and np.all(out == 256 * 255)
    np.testing.assert_array_equal(scan(pack_codes_4bit(codes), T), out)


def test_pack_layout_by_hand():
    codes = np.zeros((33, 3), np.uint8)
    codes[0] = [1, 2, 3]
    codes[1] = [4, 5, 6]
    codes[16] = [7, 8, 9]
    codes[32] = [10, 11, 12]
    p = pack_codes_4bit(codes)
    assert p.data.shape == (2, 2, 32) and p.n == 33 and p.M == 3
    assert p.data[0, 0, 0] == 1 | 2 << 4 and p.data[0, 1, 0] == 3      # row 0 -> byte 0, odd M padded
    assert p.data[0, 0, 2] == 4 | 5 << 4                                 # row 1 -> byte 2
    assert p.data[0, 0, 1] == 7 | 8 << 4 and p.data[0, 1, 1] == 9        # row 16 -> byte 1
    assert p.data[1, 0, 0] == 10 | 11 << 4                               # row 32 -> block 1
    np.testing.assert_array_equal(unpack_codes_4bit(p), codes)


# ----------------------------------------------------------------------------- uint8 tables, every path

@pytest.mark.parametrize("run", RUNS)
@pytest.mark.parametrize("N, M, nq", [(1, 1, 1), (5, 3, 4), (31, 2, 5), (32, 16, 8), (33, 17, 3), (100, 8, 9),
                                      (257, 32, 16), (70, 5, 0), (0, 4, 3)])
def test_4bit_packed_and_plain(run, N, M, nq):
    backend, impl = run
    codes, T = case(N * 1000 + M * 10 + nq, N, M, nq, 16)
    ref = int_reference(codes, T)
    p = pack_codes_4bit(codes, backend=backend)
    np.testing.assert_array_equal(unpack_codes_4bit(p), codes)
    for arg in (p, codes):
        out = scan(arg, T, backend=backend, impl=impl, num_threads=2)
        assert out.dtype == np.uint16 and out.shape == (nq, N)
        np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("run", RUNS)
@pytest.mark.parametrize("N, M, nq, ksub", [(1, 1, 1, 256), (40, 4, 16, 256), (41, 3, 17, 200), (50, 16, 32, 256),
                                            (33, 8, 48, 256), (20, 2, 100, 3), (2100, 5, 130, 256)])
def test_8bit_and_other_table_lengths(run, N, M, nq, ksub):
    backend, impl = run
    codes, T = case(N + M + nq + ksub, N, M, nq, ksub)
    out = scan(codes, T, backend=backend, impl=impl, num_threads=2)
    np.testing.assert_array_equal(out, int_reference(codes, T))


@pytest.mark.skipif(not HAVE, reason=NO_EXT)
def test_streaming_stores_and_partial_blocks():
    # outputs >= STREAM_MIN_BYTES take non-temporal stores; N is not a multiple of 32
    N, nq = 70_001, 64
    assert N * nq * 2 >= STREAM_MIN_BYTES
    for ksub, M in ((16, 2), (256, 1)):
        codes, T = case(ksub, N, M, nq, ksub)
        ref = int_reference(codes, T)
        arg = pack_codes_4bit(codes) if ksub == 16 else codes
        for impl in ("auto", "portable"):
            np.testing.assert_array_equal(scan(arg, T, impl=impl, num_threads=2), ref)


@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_out_argument_any_layout(layout):
    codes, T = case(3, 70, 6, 20, 16)
    ref = int_reference(codes, T)
    for arg in (codes, pack_codes_4bit(codes)):
        if layout == "strided":
            out = np.zeros((20, 140), np.uint16)[:, ::2]
        else:
            out = np.zeros((20, 70), np.uint16, order=layout)
        res = scan(arg, T, out=out)
        assert res is out
        np.testing.assert_array_equal(out, ref)


# ----------------------------------------------------------------------------- float and quantized tables

@pytest.mark.parametrize("backend", [pytest.param("cython", marks=pytest.mark.skipif(not HAVE, reason=NO_EXT)),
                                     "numpy"])
@pytest.mark.parametrize("ksub", [16, 256])
def test_float_tables(backend, ksub):
    rng = np.random.default_rng(ksub)
    N, M, nq = 300, 12, 7
    codes = rng.integers(0, ksub, (N, M), dtype=np.uint8)
    T = rng.normal(size=(nq, M, ksub)).astype(np.float32)
    out = scan(codes, T, backend=backend)
    assert out.dtype == np.float32
    seq = np.zeros((nq, N), np.float32)           # float32 sum in the order m = 0, 1, ..., by hand
    for m in range(M):
        seq = seq + T[:, m, codes[:, m]]
    np.testing.assert_array_equal(out, seq)
    exact = np.zeros((nq, N))
    mag = np.zeros((nq, N))
    for m in range(M):
        exact += T[:, m, codes[:, m]].astype(np.float64)
        mag += np.abs(T[:, m, codes[:, m]].astype(np.float64))
    assert np.all(np.abs(out - exact) <= (M - 1) * 2.0 ** -24 * mag)
    np.testing.assert_array_equal(scan(pack_codes_4bit(codes), T, backend=backend) if ksub == 16 else out, out)


def test_quantize_tables_by_hand():
    qt = quantize_tables(np.array([[[0.0, 1.0, 2.0], [-1.0, -1.0, 0.5]]], dtype=np.float32))
    # spread 2 -> s = 2**floor(log2(255 / 2)) = 64; (0.5 - -1) * 64 = 96
    np.testing.assert_array_equal(qt.tables, [[[0, 64, 128], [0, 0, 96]]])
    np.testing.assert_array_equal(qt.offsets, [[0.0, -1.0]])
    np.testing.assert_array_equal(qt.scale, [64.0])
    assert qt.bias[0] == -1.0
    flat = quantize_tables(np.full((1, 2, 4), 3.0, np.float32))          # constant tables: s = 1, zeros
    assert flat.scale[0] == 1.0 and not flat.tables.any() and flat.bias[0] == 6.0


def test_quantized_estimate_error_bound():
    rng = np.random.default_rng(1)
    N, M, nq = 500, 16, 6
    codes = rng.integers(0, 16, (N, M), dtype=np.uint8)
    T = (rng.normal(size=(nq, M, 16)) * rng.uniform(0.1, 10, size=(nq, 1, 1))).astype(np.float32)
    qt = quantize_tables(T)
    assert np.all(np.log2(qt.scale) == np.round(np.log2(qt.scale)))           # powers of two
    assert np.all((T.max(2) - T.min(2)).max(1) * qt.scale <= 255)              # the largest that fits
    assert np.all((T.max(2) - T.min(2)).max(1) * qt.scale * 2 > 255)
    exact = np.zeros((nq, N))
    for m in range(M):
        exact += T[:, m, codes[:, m]].astype(np.float64)
    est = scan(codes, qt, dequantize=True)
    # rounding each entry costs at most 1/(2s); M entries; plus float32 rounding of the result
    bound = M / (2 * qt.scale.astype(np.float64))[:, None] + 1e-5 * (1 + np.abs(exact))
    assert np.all(np.abs(est - exact) <= bound)
    np.testing.assert_array_equal(scan(codes, qt), int_reference(codes, qt.tables))


@pytest.mark.parametrize("run", RUNS)
def test_fused_dequantize_matches_two_step(run):
    backend, impl = run
    rng = np.random.default_rng(2)
    for N, M, nq in ((1, 1, 1), (45, 5, 6), (64, 16, 3)):
        codes = rng.integers(0, 16, (N, M), dtype=np.uint8)
        qt = quantize_tables(rng.normal(size=(nq, M, 16)).astype(np.float32))
        two_step = qt.dequantize_sums(int_reference(codes, qt.tables).astype(np.uint16))
        est = scan(pack_codes_4bit(codes), qt, dequantize=True, backend=backend, impl=impl)
        assert est.dtype == np.float32
        np.testing.assert_array_equal(est, two_step)


# ----------------------------------------------------------------------------- bad input

def test_codes_out_of_range_for_the_tables():
    codes, T = case(0, 10, 3, 2, 16)
    codes[7, 2] = 16
    with pytest.raises(ValueError, match=r"codes\[7, 2\] = 16 is out of range for a codebook of 16"):
        scan(codes, T)
    with pytest.raises(ValueError, match=r"codes\[7, 2\] = 16 is out of range"):
        pack_codes_4bit(codes)
    codes[7, 2] = 200
    T8 = np.zeros((2, 3, 100), np.uint8)
    with pytest.raises(ValueError, match=r"codes\[7, 2\] = 200 is out of range for a codebook of 100"):
        scan(codes, T8)


def test_wrong_dtypes_and_shapes():
    codes, T = case(0, 10, 3, 2, 16)
    with pytest.raises(TypeError, match="codes has dtype int64"):
        scan(codes.astype(np.int64), T)
    with pytest.raises(TypeError, match="tables has dtype float64"):
        scan(codes, T.astype(np.float64))
    with pytest.raises(TypeError, match="tables must be a NumPy array"):
        scan(codes, T.tolist())
    with pytest.raises(ValueError, match="tables has 4 codebooks .* M=3"):
        scan(codes, np.zeros((2, 4, 16), np.uint8))
    with pytest.raises(ValueError, match="codes must be 2-D"):
        scan(codes[0], T)
    with pytest.raises(ValueError, match="need tables of 16 entries"):
        scan(pack_codes_4bit(codes), np.zeros((2, 3, 32), np.uint8))
    with pytest.raises(ValueError, match="M=257 codebooks of uint8 entries can overflow"):
        scan(np.zeros((2, 257), np.uint8), np.zeros((1, 257, 16), np.uint8))
    with pytest.raises(ValueError, match="dequantize=True needs QuantizedTables"):
        scan(codes, T, dequantize=True)
    with pytest.raises(ValueError, match="impl='fast'"):
        scan(codes, T, impl="fast")
    with pytest.raises(ValueError, match="out must be a writable array of shape"):
        scan(codes, T, out=np.zeros((2, 11), np.uint16))
    with pytest.raises(TypeError, match="out must be a NumPy array of dtype uint16"):
        scan(codes, T, out=np.zeros((2, 10), np.float32))
    with pytest.raises(ValueError, match="num_threads"):
        scan(codes, T, num_threads=-1)


def test_tampered_packed_codes_are_rejected():
    p = pack_codes_4bit(np.zeros((40, 4), np.uint8))
    T = np.zeros((1, 4, 16), np.uint8)
    with pytest.raises(ValueError, match="codes.data has shape"):
        scan(PackedCodes4(p.data, 100, 4), T)                    # claims more rows than it holds
    with pytest.raises(ValueError, match="codes.data has shape"):
        scan(PackedCodes4(np.ascontiguousarray(p.data[:, :1]), 40, 4), T)
    with pytest.raises(TypeError, match="C-contiguous uint8"):
        scan(PackedCodes4(p.data.astype(np.int16), 40, 4), T)
    with pytest.raises(ValueError, match=r"need offsets of shape \(1, 4\) and scale of shape \(1,\)"):
        scan(p, QuantizedTables(T, np.zeros((1, 3), np.float32), np.ones(1, np.float32)), dequantize=True)
    with pytest.raises(ValueError, match="positive scales"):
        scan(p, QuantizedTables(T, np.zeros((1, 4), np.float32), np.zeros(1, np.float32)), dequantize=True)
    with pytest.raises(TypeError, match="QuantizedTables.tables must be a uint8 array"):
        scan(p, QuantizedTables(np.zeros((1, 4, 16), np.float32), np.zeros((1, 4), np.float32),
                                np.ones(1, np.float32)))
