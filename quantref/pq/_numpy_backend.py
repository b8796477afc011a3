"""Pure-NumPy twin of :mod:`quantref.pq._pq`: the same results (bit for bit), slower.

Float sums follow the compiled kernels' order (subspaces m = 0, 1, ..., coordinates j = 0, 1, ...
one float32 operation at a time), so float results are identical too, not merely close.
"""
import numpy as np

SIMD_AVAILABLE = False
HAVE_OPENMP = False


def encode_pq(x, ct, codes, num_threads):
    M, dsub, ksub = ct.shape
    for m in range(M):
        dist = np.zeros((x.shape[0], ksub), dtype=np.float32)
        for j in range(dsub):
            diff = x[:, m * dsub + j, None] - ct[m, j][None, :]
            dist += diff * diff
        codes[:, m] = np.argmin(dist, axis=1) if ksub else 0


def encode_maddness(x, dims, thresholds, codes, num_threads):
    n = x.shape[0]
    C, L = dims.shape
    for c in range(C):
        g = np.zeros(n, dtype=np.int64)
        for level in range(L):
            g = 2 * g + (x[:, dims[c, level]] > thresholds[c, level][g])
        codes[:, c] = g


def encode_maddness_packed(x, dims, thresholds, packed, num_threads):
    codes = np.empty((x.shape[0], dims.shape[0]), dtype=np.uint8)
    encode_maddness(x, dims, thresholds, codes, num_threads)
    pack_4bit(codes, packed)


def scan_float(codes, tables, out, num_threads):
    acc = np.zeros((tables.shape[0], codes.shape[0]), dtype=np.float32)
    for m in range(codes.shape[1]):
        acc += tables[:, m, codes[:, m]]
    out[...] = acc


def scan_u8(codes, tables, out, num_threads):
    acc = np.zeros((tables.shape[0], codes.shape[0]), dtype=np.int64)
    for m in range(codes.shape[1]):
        acc += tables[:, m, codes[:, m]]
    out[...] = acc


def pack_4bit(codes, packed):
    N, M = codes.shape
    rows = np.arange(N)
    r = rows % 32
    s = np.where(r < 16, 2 * r, 2 * (r - 16) + 1)
    for m in range(M):
        shift = np.uint8(4 * (m % 2))
        packed[rows // 32, m // 2, s] |= codes[:, m] << shift


def fastscan4(packed, tables, out, N, num_threads, simd, stream):
    nblocks, P, _ = packed.shape
    s = np.arange(32)
    rows = (np.arange(nblocks)[:, None] * 32 + np.where(s % 2 == 0, s // 2, 16 + s // 2)[None, :]).ravel()
    acc = np.zeros((tables.shape[0], nblocks * 32), dtype=np.int64)
    for p in range(P):
        byte = packed[:, p, :].ravel()
        acc += tables[:, 2 * p, byte & 15] + tables[:, 2 * p + 1, byte >> 4].astype(np.int64)
    valid = rows < N
    out[:, rows[valid]] = acc[:, valid]


def fastscan4_float(packed, tables, mul, add, out, N, num_threads, simd, stream):
    sums = np.empty((tables.shape[0], N), dtype=np.uint16)
    fastscan4(packed, tables, sums, N, num_threads, simd, stream)
    out[:, :N] = sums.astype(np.float32) * mul[:, None] + add[:, None]


def scan_qmajor(codes, tt, nq, out_t, num_threads, simd, stream):
    M, ksub, nqp = tt.shape
    pos = _qpos(np.arange(nq), nqp)
    acc = np.zeros((codes.shape[0], nq), dtype=np.int64)
    for m in range(M):
        acc += tt[m][codes[:, m]][:, pos]
    out_t[:, :nq] = acc


def _qpos(q, nqp):
    unit, j = np.divmod(q, 32)
    return np.where(32 * unit + 32 > nqp, q, 32 * unit + np.where(j < 16, 2 * j, 2 * (j - 16) + 1))
