"""int_matmul / int_matmul_terms / max_safe_k and the backend selection.

Reference: ``(a.astype(int64) - za) @ (b.astype(int64) - zb)``, exact in int64 for every shape
used here; results are compared bit for bit, with their dtype (int32).
"""
import warnings
import zlib

import numpy as np
import pytest

import quantref.kernels._numpy_backend as numpy_backend
from quantref.kernels import (BackendWarning, backend_name, compiled_available, get_backend, int_matmul,
                              int_matmul_terms, max_safe_k)
from quantref.kernels import backend as backend_mod

U8, I8 = np.dtype(np.uint8), np.dtype(np.int8)
DTYPE_PAIRS = [(U8, U8), (U8, I8), (I8, U8), (I8, I8)]
DTYPE_IDS = ["u8xu8", "u8xi8", "i8xu8", "i8xi8"]

NO_EXTENSION = "the Cython extension quantref.kernels._int_matmul is not built/importable here"
BACKENDS = [
    pytest.param("cython", marks=pytest.mark.skipif(not compiled_available(), reason=NO_EXTENSION)),
    "numpy",
]

# (M, K, N): ones, K = 0, empty M or N, odd sizes
SHAPES = [(1, 1, 1), (1, 7, 1), (5, 1, 3), (1, 9, 6), (6, 9, 1), (3, 0, 4), (0, 5, 3), (4, 5, 0),
          (0, 0, 0), (7, 13, 5), (16, 64, 9), (33, 100, 17)]


@pytest.fixture(autouse=True)
def _clean_backend_env(monkeypatch):
    # the tests choose backends explicitly; an outer QUANTREF_BACKEND must not leak in
    monkeypatch.delenv("QUANTREF_BACKEND", raising=False)


def codes(rng, dtype, shape):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)


def zp(rng, dtype, size=None):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=size, endpoint=True)


def reference(a, b, za, zb):
    return (a.astype(np.int64) - np.int64(za)) @ (b.astype(np.int64) - np.asarray(zb, dtype=np.int64))


def run_both(a, b, za, zb):
    """Result of every available backend (they must agree bit for bit)."""
    out = {"numpy": int_matmul(a, b, za, zb, backend="numpy")}
    if compiled_available():
        out["cython"] = int_matmul(a, b, za, zb, backend="cython")
    return out


# ----------------------------------------------------------------------------- hand cases
@pytest.mark.parametrize("backend", BACKENDS)
def test_hand_case(backend):
    # (130 - 128) * 1 + (128 - 128) * (-2) = 2
    a = np.array([[130, 128]], dtype=np.uint8)
    b = np.array([[1], [-2]], dtype=np.int8)
    out = int_matmul(a, b, a_zero_point=128, backend=backend)
    np.testing.assert_array_equal(out, np.array([[2]], dtype=np.int32))
    assert out.dtype == np.int32


@pytest.mark.parametrize("backend", BACKENDS)
def test_hand_case_per_column_zero_point(backend):
    # a - za = [[1, 2], [3, 4]] (za = 0, int8) ; b = [[5, 6], [7, 8]] uint8 with zb = [5, 8]
    # b - zb = [[0, -2], [2, 0]]
    # row 0: [1*0 + 2*2, 1*(-2) + 2*0] = [4, -2] ; row 1: [3*0 + 4*2, 3*(-2) + 0] = [8, -6]
    a = np.array([[1, 2], [3, 4]], dtype=np.int8)
    b = np.array([[5, 6], [7, 8]], dtype=np.uint8)
    out = int_matmul(a, b, 0, np.array([5, 8]), backend=backend)
    np.testing.assert_array_equal(out, np.array([[4, -2], [8, -6]], dtype=np.int32))


# ----------------------------------------------------------------------------- random sweep
def _sweep_params():
    for M, K, N in SHAPES:
        for zb_kind in ("zero", "scalar", "per_column"):
            yield pytest.param(M, K, N, zb_kind, id=f"{M}x{K}x{N}-{zb_kind}")


@pytest.mark.parametrize("da, db", DTYPE_PAIRS, ids=DTYPE_IDS)
@pytest.mark.parametrize("M, K, N, zb_kind", list(_sweep_params()))
def test_random_against_int64_reference(da, db, M, K, N, zb_kind):
    rng = np.random.default_rng(zlib.crc32(f"{da}{db}{M},{K},{N}{zb_kind}".encode()))
    a, b = codes(rng, da, (M, K)), codes(rng, db, (K, N))
    za = zp(rng, da)
    zb = {"zero": 0, "scalar": int(zp(rng, db)), "per_column": zp(rng, db, N)}[zb_kind]
    expected = reference(a, b, za, zb)
    results = run_both(a, b, za, zb)
    for name, out in results.items():
        assert out.dtype == np.int32, name
        assert out.shape == (M, N), name
        np.testing.assert_array_equal(out.astype(np.int64), expected, err_msg=name)
    if len(results) == 2:
        np.testing.assert_array_equal(results["cython"], results["numpy"])


def test_scalar_b_zero_point_minimal_hand_case():
    # Regression (wrong in commit ad782d4, where the row-sum term broadcast along columns):
    # a - 0 = [[1], [2]] ; b - 1 = [[1, 2]] ; outer product [[1, 2], [2, 4]]
    a = np.array([[1], [2]], dtype=np.uint8)
    b = np.array([[2, 3]], dtype=np.uint8)
    np.testing.assert_array_equal(int_matmul(a, b, 0, 1), np.array([[1, 2], [2, 4]], dtype=np.int32))
    # M != N, N == 1: a - 0 = [[1], [2], [3]], b - 1 = [[1]] -> [[1], [2], [3]] (shape (3, 1))
    a3 = np.array([[1], [2], [3]], dtype=np.uint8)
    out = int_matmul(a3, np.array([[2]], dtype=np.uint8), 0, 1)
    assert out.shape == (3, 1)
    np.testing.assert_array_equal(out, np.array([[1], [2], [3]], dtype=np.int32))


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_n_with_per_column_zero_point(backend):
    a = np.ones((2, 3), dtype=np.uint8)
    b = np.ones((3, 0), dtype=np.int8)
    out = int_matmul(a, b, 1, np.zeros(0, dtype=np.int64), backend=backend)
    assert out.shape == (2, 0) and out.dtype == np.int32


# ----------------------------------------------------------------------------- layouts
def _layouts(rng, da, db):
    M, K, N = 6, 10, 4
    big_a = codes(rng, da, (2 * M, 3 * K))
    big_b = codes(rng, db, (K * 2, N * 3))
    yield "strided slices", big_a[::2, 1::3], big_b[1::2, ::3]
    yield "transposed views", np.ascontiguousarray(codes(rng, da, (K, M))).T, codes(rng, db, (N, K)).T
    yield "negative strides", big_a[::-2, ::-3], big_b[::-2, ::-3]
    yield "fortran order", np.asfortranarray(codes(rng, da, (M, K))), np.asfortranarray(codes(rng, db, (K, N)))


@pytest.mark.parametrize("da, db", DTYPE_PAIRS, ids=DTYPE_IDS)
def test_non_contiguous_inputs(da, db):
    rng = np.random.default_rng(77)
    for label, a, b in _layouts(rng, da, db):
        assert not a.flags.c_contiguous or not b.flags.c_contiguous, label
        za, zb = zp(rng, da), zp(rng, db, b.shape[1])
        expected = reference(a, b, za, zb)
        results = run_both(a, b, za, zb)
        for name, out in results.items():
            assert out.dtype == np.int32
            np.testing.assert_array_equal(out.astype(np.int64), expected, err_msg=f"{label} / {name}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_read_only_inputs(backend):
    rng = np.random.default_rng(8)
    a, b = codes(rng, U8, (5, 7)), codes(rng, I8, (7, 3))
    a.setflags(write=False)
    b.setflags(write=False)
    zb = np.array([1, -2, 3])
    out = int_matmul(a, b, 128, zb, backend=backend)
    np.testing.assert_array_equal(out.astype(np.int64), reference(a, b, 128, zb))
    # read-only and non-contiguous at once
    out = int_matmul(a[:, ::2], b[::2, :], 7, zb, backend=backend)
    np.testing.assert_array_equal(out.astype(np.int64), reference(a[:, ::2], b[::2, :], 7, zb))


# ----------------------------------------------------------------------------- terms
@pytest.mark.parametrize("da, db", DTYPE_PAIRS, ids=DTYPE_IDS)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("M, K, N", [(1, 5, 4), (6, 9, 3), (4, 0, 2), (1, 1, 1), (5, 3, 5)])
@pytest.mark.parametrize("zb_kind", ["scalar", "per_column"])
def test_terms_identity(da, db, backend, M, K, N, zb_kind):
    rng = np.random.default_rng(M + 10 * K + 100 * N)
    a, b = codes(rng, da, (M, K)), codes(rng, db, (K, N))
    za = int(zp(rng, da))
    zb = zp(rng, db, N) if zb_kind == "per_column" else np.int64(zp(rng, db))
    zb_vec = np.broadcast_to(zb, (N,))
    t = int_matmul_terms(a, b, za, zb, backend=backend)
    a64, b64 = a.astype(np.int64), b.astype(np.int64)
    # each term against its independent definition
    assert t.core.dtype == np.int32 and t.core.shape == (M, N)
    np.testing.assert_array_equal(t.core.astype(np.int64), a64 @ b64)
    assert t.a_row_sums.dtype == np.int64 and t.a_row_sums.shape == (M,)
    np.testing.assert_array_equal(t.a_row_sums, a64.sum(axis=1))
    assert t.b_col_sums.dtype == np.int64 and t.b_col_sums.shape == (N,)
    np.testing.assert_array_equal(t.b_col_sums, b64.sum(axis=0))
    assert np.shape(t.k_za_zb) == np.shape(zb)      # scalar per tensor, (N,) per column
    np.testing.assert_array_equal(t.k_za_zb, K * za * zb)
    assert t.result.dtype == np.int32 and t.result.shape == (M, N)
    # the identity: core - za*colsum - zb*rowsum + K*za*zb == (a - za)(b - zb)
    recombined = (t.core.astype(np.int64) - za * t.b_col_sums[None, :]
                  - t.a_row_sums[:, None] * zb_vec[None, :] + K * za * zb_vec[None, :])
    expected = reference(a, b, za, zb)
    np.testing.assert_array_equal(recombined, expected)
    np.testing.assert_array_equal(t.result.astype(np.int64), expected)
    np.testing.assert_array_equal(int_matmul(a, b, za, zb, backend=backend), t.result)


def test_terms_scalar_zero_point_single_row():
    # scalar zb: k_za_zb is a scalar; a = [[3, 4]] (za 1), b = [[1], [2]] (zb 2), K = 2
    # core = 3*1 + 4*2 = 11 ; rowsum = 7 ; colsum = 3 ; K za zb = 2*1*2 = 4
    # result = 11 - 1*3 - 2*7 + 4 = -2 = (3-1)(1-2) + (4-1)(2-2) = -2
    t = int_matmul_terms(np.array([[3, 4]], dtype=np.uint8), np.array([[1], [2]], dtype=np.uint8), 1, 2)
    assert t.core.tolist() == [[11]] and t.a_row_sums.tolist() == [7] and t.b_col_sums.tolist() == [3]
    assert int(t.k_za_zb) == 4 and np.ndim(t.k_za_zb) == 0
    np.testing.assert_array_equal(t.result, np.array([[-2]], dtype=np.int32))


# ----------------------------------------------------------------------------- overflow bound
def test_max_safe_k_hand_values():
    # floor((2^31 - 1) / per-term bound) with 2^31 - 1 = 2147483647
    assert max_safe_k(np.uint8, np.int8) == 2147483647 // (255 * 128) == 65793
    assert max_safe_k(np.int8, np.int8) == 2147483647 // (128 * 128) == 131071
    assert max_safe_k(np.uint8, np.uint8) == 2147483647 // (255 * 255) == 33025
    assert max_safe_k(np.int8, np.uint8) == 65793
    # zero points widen the shifted operand: |0 - 255| = 255 and |-128 - 127| = 255
    assert max_safe_k(np.uint8, np.int8, 255, 127) == 2147483647 // (255 * 255) == 33025
    # za = 128 on uint8: max(|0 - 128|, |255 - 128|) = 128 -> 128*128 < 255*128, core bound rules
    assert max_safe_k(np.uint8, np.int8, 128, 0) == 65793
    # per-column zero points: the worst column counts
    assert max_safe_k(np.uint8, np.int8, 0, np.array([0, 127, -5])) == 33025


# (a dtype, fill a, za, b dtype, fill b, zb, K, exact result per entry)
EXTREMES = [
    # 255 * (-128) * 65793 = -2147483520 (|.| <= 2^31 - 1 = 2147483647)
    (U8, 255, 0, I8, -128, 0, 65793, -2147483520),
    # 255 * 255 * 33025 = 2147450625
    (U8, 255, 0, U8, 255, 0, 33025, 2147450625),
    # (-128) * (-128) * 131071 = 2147467264
    (I8, -128, 0, I8, -128, 0, 131071, 2147467264),
    # (-128) * 127 * 131071 = -2130690176 (int8 x int8 bound is set by -128 * -128)
    (I8, -128, 0, I8, 127, 0, 131071, -2130690176),
    # shifted: (0 - 255) * (-128 - 127) = 65025 ; * 33025 = 2147450625
    (U8, 0, 255, I8, -128, 127, 33025, 2147450625),
    # shifted: (-128 - 127) * (255 - 0) = -65025 ; * 33025 = -2147450625
    (I8, -128, 127, U8, 255, 0, 33025, -2147450625),
]


@pytest.mark.parametrize("da, fa, za, db, fb, zb, K, value", EXTREMES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_extremes_at_max_safe_k(da, fa, za, db, fb, zb, K, value, backend):
    assert max_safe_k(da, db, za, zb) == K
    a = np.full((2, K), fa, dtype=da)
    b = np.full((K, 2), fb, dtype=db)
    expected = reference(a, b, za, zb)
    assert np.all(expected == value)                 # the hand value, via exact int64
    for zb_arg in (zb, np.full(2, zb)):              # per tensor and per column
        out = int_matmul(a, b, za, zb_arg, backend=backend)
        assert out.dtype == np.int32
        np.testing.assert_array_equal(out.astype(np.int64), expected)
    # one more K could overflow: refused before computing
    a2 = np.full((1, K + 1), fa, dtype=da)
    b2 = np.full((K + 1, 1), fb, dtype=db)
    with pytest.raises(ValueError, match=rf"K={K + 1}\b.*K={K}\b"):
        int_matmul(a2, b2, za, zb, backend=backend)


# ----------------------------------------------------------------------------- backend choice
def test_env_var_forces_numpy(monkeypatch):
    monkeypatch.setenv("QUANTREF_BACKEND", "numpy")
    assert backend_name() == "numpy"
    assert get_backend() is numpy_backend
    calls = []
    real = numpy_backend.matmul_core

    def spy(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(numpy_backend, "matmul_core", spy)
    rng = np.random.default_rng(1)
    a, b = codes(rng, U8, (3, 4)), codes(rng, I8, (4, 2))
    out = int_matmul(a, b, 3, np.array([1, 2]))
    assert calls == [1]              # the NumPy kernel did the work
    np.testing.assert_array_equal(out.astype(np.int64), reference(a, b, 3, np.array([1, 2])))


@pytest.mark.skipif(not compiled_available(), reason=NO_EXTENSION)
def test_env_var_auto_and_cython_pick_the_extension(monkeypatch):
    assert backend_name() == "cython"                      # default (auto), extension built
    monkeypatch.setenv("QUANTREF_BACKEND", "cython")
    assert backend_name() == "cython"
    monkeypatch.setenv("QUANTREF_BACKEND", "auto")
    assert backend_name() == "cython"
    # an explicit argument overrides the variable
    monkeypatch.setenv("QUANTREF_BACKEND", "numpy")
    assert backend_name("cython") == "cython"
    assert backend_name("numpy") == "numpy"


def test_unknown_backend_rejected(monkeypatch):
    a, b = np.zeros((1, 1), np.uint8), np.zeros((1, 1), np.int8)
    with pytest.raises(ValueError, match="backend='fortran'"):
        int_matmul(a, b, backend="fortran")
    monkeypatch.setenv("QUANTREF_BACKEND", "fortran")
    with pytest.raises(ValueError, match="QUANTREF_BACKEND"):
        int_matmul(a, b)


def test_missing_extension_falls_back_and_warns_once(monkeypatch):
    def missing():
        raise ImportError("simulated: No module named 'quantref.kernels._int_matmul'")

    monkeypatch.setattr(backend_mod, "_compiled", missing)
    monkeypatch.setattr(backend_mod, "_warned", False)
    rng = np.random.default_rng(2)
    a, b = codes(rng, I8, (4, 6)), codes(rng, U8, (6, 3))
    zb = np.array([0, 200, 255])
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        assert compiled_available() is False
        outs = [int_matmul(a, b, -5, zb) for _ in range(3)]
        assert backend_name() == "numpy"
    backend_warnings = [w for w in rec if issubclass(w.category, BackendWarning)]
    assert len(backend_warnings) == 1, [str(w.message) for w in rec]
    assert issubclass(BackendWarning, UserWarning)
    msg = str(backend_warnings[0].message)
    assert "pip install -e ." in msg and "NumPy" in msg and "C compiler" in msg and "identical" in msg
    assert backend_warnings[0].filename == __file__      # points at the caller's line, not into quantref
    for out in outs:     # still correct on the fallback
        np.testing.assert_array_equal(out.astype(np.int64), reference(a, b, -5, zb))
    # insisting on the extension is an error that names the fix
    with pytest.raises(ImportError, match=r"not built.*pip install -e \."):
        int_matmul(a, b, -5, zb, backend="cython")
    monkeypatch.setenv("QUANTREF_BACKEND", "cython")
    with pytest.raises(ImportError, match="pip install -e"):
        int_matmul(a, b, -5, zb)
    # forcing NumPy never warns
    monkeypatch.setenv("QUANTREF_BACKEND", "numpy")
    monkeypatch.setattr(backend_mod, "_warned", False)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        int_matmul(a, b, -5, zb)
    assert not [w for w in rec if issubclass(w.category, BackendWarning)]


@pytest.mark.skipif(not compiled_available(), reason=NO_EXTENSION)
@pytest.mark.parametrize("da, db", [(np.uint8, np.int8), (np.int8, np.int8), (np.uint8, np.uint8), (np.int8, np.uint8)])
def test_plain_loop_kernel_is_exact(da, db):
    # int_matmul uses the blocked kernel when built; the plain triple loop stays the readable
    # reference and must agree with the int64 definition too
    from quantref.kernels import _int_matmul
    rng = np.random.default_rng(7)
    for M, K, N in [(1, 1, 1), (3, 17, 5), (16, 64, 9), (0, 4, 3)]:
        a = rng.integers(np.iinfo(da).min, np.iinfo(da).max + 1, size=(M, K)).astype(da)
        b = rng.integers(np.iinfo(db).min, np.iinfo(db).max + 1, size=(K, N)).astype(db)
        out = np.empty((M, N), dtype=np.int32)
        _int_matmul.matmul_core(a, np.ascontiguousarray(b.T), out)
        np.testing.assert_array_equal(out, a.astype(np.int64) @ b.astype(np.int64))
