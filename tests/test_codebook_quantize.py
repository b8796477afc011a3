"""Weight sharing, bit packing and storage (quantref.codebook: quantize, packing, storage).

Packed bytes are written out by hand; the storage numbers are the formula of Han et al. (2016)
evaluated by hand; the quantized weights are checked against brute-force nearest values.
"""
import math

import numpy as np
import pytest

from quantref.codebook import (KMeansQuantized, compression_ratio, kmeans_quantize, pack_codes, packed_nbytes,
                               storage_bits, unpack_codes)
from quantref.codebook.packing import PackedCodes


# ----------------------------------------------------------------------------- kmeans_quantize

def test_quantize_by_hand():
    q = kmeans_quantize([0.0, 0.1, 0.9, 1.0, 0.5], 1)
    # linear init [0, 1]: {0, 0.1, 0.5} / {0.9, 1.0}, means 0.2 and 0.95, then stable
    np.testing.assert_array_equal(q.codebook, np.array([0.2, 0.95], np.float32))
    np.testing.assert_array_equal(q.codes, [0, 0, 1, 1, 0])
    assert q.codes.dtype == np.uint8 and q.codebook.dtype == np.float32 and q.bits == 1


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 8])
def test_codes_are_nearest_float32_codebook_entries(bits):
    w = np.random.default_rng(bits).normal(size=(40, 30)).astype(np.float32)
    q = kmeans_quantize(w, bits)
    assert q.codebook.shape == (1 << bits,) and q.codes.shape == w.shape
    cb = q.codebook.astype(np.float64)
    brute = np.argmin(np.abs(w.astype(np.float64).ravel()[:, None] - cb[None, :]), axis=1)
    np.testing.assert_array_equal(q.codes.ravel(), brute)
    np.testing.assert_array_equal(q.dequantize(), q.codebook[q.codes])


def test_more_bits_less_error():
    w = np.random.default_rng(0).normal(size=2000)
    errs = [np.sum((kmeans_quantize(w, b).dequantize() - w) ** 2) for b in (1, 2, 3, 4, 5)]
    assert all(a > b for a, b in zip(errs, errs[1:])), errs


def test_kmeans_beats_a_uniform_grid_of_the_same_size():
    # the reason for non-linear quantization: on bell-shaped weights, k-means' values sit where the
    # weights are; a uniform grid over [min, max] (4 bits, nearest level) does worse
    w = np.random.default_rng(1).normal(size=5000)
    grid = np.linspace(w.min(), w.max(), 16)
    uniform = grid[np.argmin(np.abs(w[:, None] - grid[None, :]), axis=1)]
    assert np.sum((kmeans_quantize(w, 4).dequantize() - w) ** 2) < 0.8 * np.sum((uniform - w) ** 2)


@pytest.mark.parametrize("bits, err", [(0, ValueError), (9, ValueError), (2.0, TypeError)])
def test_bad_bits(bits, err):
    with pytest.raises(err, match="bits"):
        kmeans_quantize([1.0, 2.0, 3.0], bits)


def test_more_values_than_weights():
    with pytest.raises(ValueError, match="k=16 is larger than the data: only 10"):
        kmeans_quantize(np.arange(10.0), 4)


# ----------------------------------------------------------------------------- packing

def test_pack_4bit_by_hand():
    p = pack_codes(np.array([1, 2, 3], dtype=np.uint8), 4)
    np.testing.assert_array_equal(p.data, [0x21, 0x03])        # 1 | 2 << 4, then 3 | pad 0 << 4
    assert p.shape == (3,) and p.count == 3


def test_pack_2bit_by_hand():
    codes = np.array([3, 0, 1, 2, 1], dtype=np.uint8)
    p = pack_codes(codes, 2)
    np.testing.assert_array_equal(p.data, [3 | 0 << 2 | 1 << 4 | 2 << 6, 1])
    np.testing.assert_array_equal(unpack_codes(p), codes)


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
@pytest.mark.parametrize("shape", [(0,), (1,), (7,), (3, 5), (2, 3, 9)])
def test_pack_roundtrip(bits, shape):
    codes = np.random.default_rng(bits).integers(0, 1 << bits, size=shape, dtype=np.uint8)
    p = pack_codes(codes, bits)
    assert p.data.size == math.ceil(codes.size * bits / 8)
    out = unpack_codes(p)
    assert out.shape == codes.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out, codes)


def test_pack_errors():
    with pytest.raises(ValueError, match=r"codes\[2\] \(flat index\) = 4 does not fit in 2 bits"):
        pack_codes(np.array([0, 1, 4], dtype=np.uint8), 2)
    with pytest.raises(TypeError, match="codes has dtype int64"):
        pack_codes(np.array([0, 1]), 4)
    with pytest.raises(ValueError, match="bits=3"):
        pack_codes(np.zeros(3, np.uint8), 3)
    bad = PackedCodes(np.zeros(3, np.uint8), 4, (3,))   # 3 codes of 4 bits need 2 bytes
    with pytest.raises(ValueError, match="holds 3 bytes"):
        unpack_codes(bad)


# ----------------------------------------------------------------------------- storage

def test_storage_formula_by_hand():
    assert storage_bits(1000, 16) == 1000 * 4 + 16 * 32
    assert compression_ratio(1000, 16) == pytest.approx(32000 / 4512)
    # the codebook matters for a small layer: 640 weights, 256 values
    assert compression_ratio(640, 256) == pytest.approx(20480 / (640 * 8 + 256 * 32))
    assert compression_ratio(10 ** 6, 2) == pytest.approx(32e6 / (1e6 + 64))
    assert compression_ratio(100, 16, b=16) == pytest.approx(1600 / (400 + 256))


def test_packed_bytes():
    assert packed_nbytes(1001, 4) == 501 + 64
    assert packed_nbytes(8, 2, k=3) == 2 + 12
    q = KMeansQuantized(np.zeros(4, np.float32), np.zeros((10, 10), np.uint8), 2)
    assert q.pack().nbytes == 25
    assert q.compression_ratio() == pytest.approx(3200 / (200 + 128))


def test_storage_errors():
    with pytest.raises(ValueError, match="n must be a positive integer"):
        storage_bits(0, 4)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        compression_ratio(10, 1.5)
    q = KMeansQuantized(np.zeros(8, np.float32), np.zeros(4, np.uint8), 3)
    with pytest.raises(ValueError, match="3-bit codes do not pack"):
        q.pack()
