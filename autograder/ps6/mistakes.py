"""Known mistakes of problem set 6, each a small wrong implementation or a test on the output.

The checks compare a failing answer with each of these; a match names the mistake in the
feedback.  Each wrong implementation differs from a correct one in exactly one way.  They are
written with NumPy alone: the reference answers come from :mod:`quantref`, these only need to
reproduce a wrong answer.

Only mistakes that change the answer are listed: a distance with a square root, or without the
``||x||^2`` term, picks the same prototype as the squared distance, so an encoder written that
way is correct and is never named.
"""
from __future__ import annotations

import numpy as np

from ..checking import Mistake
from .cases import initial_rows


def build(pairs, compare) -> list:
    """Mistakes from ``(name, wrong implementation)`` pairs, matched with the exercise's comparison."""
    return [Mistake.from_function(name, wrong, compare) for name, wrong in pairs]


def _subspaces(x, M: int, strided: bool = False) -> list:
    """The M sub-matrices of x: contiguous blocks of D // M columns (or, wrongly, every M-th column)."""
    d = x.shape[1] // M
    return [x[:, m::M] if strided else x[:, m * d:(m + 1) * d] for m in range(M)]


def _sq_dist(x, c) -> np.ndarray:
    """Squared distances (n, K) from the rows of x to the rows of c."""
    return np.sum((x[:, None, :] - c[None, :, :]) ** 2, axis=2)


def _l1_dist(x, c) -> np.ndarray:
    return np.sum(np.abs(x[:, None, :] - c[None, :, :]), axis=2)


def _neg_ip(x, c) -> np.ndarray:
    return -(x @ c.T)


def _last_argmin(d) -> np.ndarray:
    return d.shape[1] - 1 - np.argmin(d[:, ::-1], axis=1)


def _first_argmin(d) -> np.ndarray:
    return np.argmin(d, axis=1)


def _argmax(d) -> np.ndarray:
    return np.argmax(d, axis=1)


def _shape(got):
    try:
        return np.shape(got)
    except Exception:  # noqa: BLE001 - whatever the student returned
        return None


# -- exercise 1: prototype learning ------------------------------------------------------------------

def _train(X, M, K, niter=10, seed=0, *, strided=False, check=True, seeds="offset", updates=0, dist=_sq_dist,
           pick=_first_argmin):
    X = np.asarray(X, dtype=np.float64)
    n, D = X.shape
    if check and D % M:
        raise ValueError(f"D = {D} is not divisible by M = {M}")
    d = D // M
    P = np.empty((M, K, d))
    for m, sub in enumerate(_subspaces(X, M, strided)):
        c = sub[initial_rows(n, K, seed + m if seeds == "offset" else seed)].copy()
        for _ in range(niter + updates):
            assign = pick(dist(sub, c))
            counts = np.bincount(assign, minlength=K)
            sums = np.zeros_like(c)
            np.add.at(sums, assign, sub)
            filled = counts > 0
            c[filled] = sums[filled] / counts[filled, None]
        P[m] = c
    return P


TRAIN_STRIDED = ("the subspaces are strided (every M-th column); subspace m is the contiguous block of columns "
                 "m*d to (m+1)*d - 1, with d = D // M")
TRAIN_NO_ERROR = ("D is not divisible by M, and the function did not raise ValueError: d = D // M silently drops "
                  "the last D % M coordinates; check D % M == 0 first")


def train_wrong() -> list:
    iterations = ("the number of Lloyd iterations is off by one: run exactly niter rounds, each an assignment "
                  "then an update of the prototypes")
    return [
        (TRAIN_STRIDED, lambda **kw: _train(**kw, strided=True)),
        (TRAIN_NO_ERROR, lambda **kw: _train(**kw, check=False)),
        ("every subspace started from the same rows: subspace m starts from initial_rows(N, K, seed + m)",
         lambda **kw: _train(**kw, seeds="same")),
        (iterations, lambda **kw: _train(**kw, updates=-1)),
        (iterations, lambda **kw: _train(**kw, updates=1)),
        ("the prototypes were never updated (they are still the initial rows): each iteration moves prototype k "
         "to the mean of the rows assigned to it", lambda **kw: _train(**kw, updates=-kw.get("niter", 10))),
        ("rows were assigned by the L1 distance (sum of |differences|); k-means uses the squared L2 distance",
         lambda **kw: _train(**kw, dist=_l1_dist)),
        ("argmax instead of argmin: each row was assigned to its farthest prototype",
         lambda **kw: _train(**kw, pick=_argmax)),
    ]


def train_extra() -> list:
    def layout(got, args, expected):
        shape = _shape(got)
        if shape is None or not isinstance(expected, np.ndarray) or shape == expected.shape:
            return False
        M, K, d = expected.shape
        return shape in {(K, M, d), (M, d, K), (K, M * d), (M * K, d)}

    return [Mistake("the prototypes have the wrong layout: return an array of shape (M, K, D // M), "
                    "prototypes[m, k] the k-th prototype of subspace m", layout)]


# -- exercise 2: encoding ---------------------------------------------------------------------------------

def _encode(X, prototypes, *, strided=False, dist=_sq_dist, pick=_first_argmin):
    X = np.asarray(X, dtype=np.float64)
    P = np.asarray(prototypes, dtype=np.float64)
    subs = _subspaces(X, P.shape[0], strided)
    return np.stack([pick(dist(sub, P[m])) for m, sub in enumerate(subs)], axis=1).astype(np.uint8)


ENCODE_STRIDED = TRAIN_STRIDED


def encode_wrong() -> list:
    return [
        (ENCODE_STRIDED, lambda **kw: _encode(**kw, strided=True)),
        ("argmax instead of argmin: the code is the nearest prototype, the smallest squared distance",
         lambda **kw: _encode(**kw, pick=_argmax)),
        ("ties went to the highest index; np.argmin returns the first (lowest) index of the smallest distance, "
         "as quantref does", lambda **kw: _encode(**kw, pick=_last_argmin)),
        ("the nearest prototype was taken by the L1 distance (sum of |differences|); use the squared L2 distance",
         lambda **kw: _encode(**kw, dist=_l1_dist)),
        ("the largest inner product is not the nearest prototype: ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2, and "
         "the ||c||^2 term differs between prototypes", lambda **kw: _encode(**kw, dist=_neg_ip)),
    ]


def encode_extra() -> list:
    def transposed(got, args, expected):
        shape = _shape(got)
        return shape is not None and expected.shape[0] != expected.shape[1] and shape == expected.shape[::-1]

    return [Mistake("the codes are transposed: return shape (N, M), one row of M codes per vector", transposed)]


# -- exercise 3: lookup tables -------------------------------------------------------------------------------

def _tables(Q, prototypes, metric="ip", *, strided=False, transpose=False, how=None):
    Q = np.asarray(Q, dtype=np.float64)
    P = np.asarray(prototypes, dtype=np.float64)
    M = P.shape[0]
    kind = how or metric
    out = []
    for m, qs in enumerate(_subspaces(Q, M, strided)):
        ip = qs @ P[m].T                                           # (nq, K)
        if kind == "ip":
            out.append(ip)
        elif kind == "l2":
            out.append(_sq_dist(qs, P[m]))
        elif kind == "sqrt":
            out.append(np.sqrt(_sq_dist(qs, P[m])) if metric == "l2" else ip)
        elif kind == "no_q_norm":
            out.append(np.sum(P[m] ** 2, axis=1)[None, :] - 2 * ip if metric == "l2" else ip)
        else:
            raise ValueError(kind)
    T = np.stack(out, axis=1)                                       # (nq, M, K)
    return T.transpose(0, 2, 1) if transpose else T


TABLES_TRANSPOSED = "the tables are transposed: shape (nq, M, K), tables[j, m, k] for query j, subspace m, prototype k"


def tables_wrong() -> list:
    other = ("the other metric: 'ip' tables hold the inner products q^(m) . c_{m,k}, 'l2' tables the squared "
             "distances ||q^(m) - c_{m,k}||^2")
    return [
        (TRAIN_STRIDED, lambda **kw: _tables(**kw, strided=True)),
        (TABLES_TRANSPOSED, lambda **kw: _tables(**kw, transpose=True)),
        ("the distance tables hold ||q - c||, not its square: the scan adds squared distances, "
         "||q - x_hat||^2 = sum_m ||q^(m) - c_{m,code_m}||^2 (the square root does not add up)",
         lambda **kw: _tables(**kw, how="sqrt")),
        ("the ||q^(m)||^2 term is missing from the distance tables: it does not change a nearest prototype, but "
         "the tables' sums must be the squared distances", lambda **kw: _tables(**kw, how="no_q_norm")),
        (other, lambda **kw: _tables(**kw, how="l2" if kw.get("metric", "ip") == "ip" else "ip")),
    ]


def tables_extra() -> list:
    def transposed(got, args, expected):
        shape = _shape(got)
        return shape is not None and expected.shape[1] != expected.shape[2] and \
            shape == (expected.shape[0], expected.shape[2], expected.shape[1])

    def squeezed(got, args, expected):
        shape = _shape(got)
        return shape is not None and expected.shape[0] == 1 and shape == expected.shape[1:]

    return [Mistake(TABLES_TRANSPOSED, transposed),
            Mistake("one query lost its axis: return shape (nq, M, K) even when nq = 1", squeezed)]


# -- exercise 4: aggregation ---------------------------------------------------------------------------------

def _aggregate(tables, codes, *, acc_dtype=None, mean=False, swap=False, transpose=False):
    T = np.asarray(tables)
    codes = np.asarray(codes).astype(np.int64)
    nq, M, K = T.shape
    wide = np.float64 if np.issubdtype(T.dtype, np.floating) else np.int64
    acc = np.zeros((nq, codes.shape[0]), dtype=acc_dtype or wide)
    for m in range(M):
        acc += T[:, codes[:, m], m] if swap else T[:, m, codes[:, m]]
    if mean:
        acc = acc / M
    return acc.T if transpose else acc


AGG_TRANSPOSED = "the result is transposed: return shape (nq, N), result[j, i] for query j and database row i"


def aggregate_wrong() -> list:
    return [
        ("the sum was accumulated in uint8 and wrapped around above 255: accumulate uint8 tables in int32 or int64 "
         "(e.g. np.zeros(..., dtype=np.int64)), so that the sums are exact",
         lambda **kw: _aggregate(**kw, acc_dtype=np.asarray(kw["tables"]).dtype)),
        ("the entries were averaged over the subspaces; the scan adds them: sum_m T[j, m, codes[i, m]]",
         lambda **kw: _aggregate(**kw, mean=True)),
        ("the table was indexed as T[j, k, m]: the tables are (nq, M, K), so subspace m's entry for row i is "
         "T[j, m, codes[i, m]]", lambda **kw: _aggregate(**kw, swap=True)),
        (AGG_TRANSPOSED, lambda **kw: _aggregate(**kw, transpose=True)),
    ]


def aggregate_extra() -> list:
    def transposed(got, args, expected):
        shape = _shape(got)
        return shape is not None and expected.shape[0] != expected.shape[1] and shape == expected.shape[::-1]

    return [Mistake(AGG_TRANSPOSED, transposed)]


# -- exercise 5: uint8 tables -----------------------------------------------------------------------------------

def _quantize(tables, *, offsets="codebook", scale="power", rnd=np.rint, spread_over="query", ceil=False,
              subtract=True):
    t = np.asarray(tables, dtype=np.float64)
    nq, M, K = t.shape
    if offsets == "codebook":
        o = t.min(axis=2)
    elif offsets == "query":
        o = np.repeat(t.min(axis=(1, 2))[:, None], M, axis=1)
    spread = (t.max(axis=2) - o).max(axis=1)
    if spread_over == "batch":
        spread = np.full(nq, spread.max())
    elif spread_over == "codebook":
        spread = t.max(axis=2) - o                                  # (nq, M): one scale per codebook
    with np.errstate(all="ignore"):
        ratio = 255.0 / spread
        if scale == "power":
            e = np.ceil(np.log2(ratio)) if ceil else np.floor(np.log2(ratio))
            s = np.where(spread > 0, np.exp2(np.clip(e, -120, 120)), 1.0)
        else:
            s = np.where(spread > 0, ratio, 1.0)
        full = s[:, :, None] if s.ndim == 2 else s[:, None, None]
        q = rnd((t - o[:, :, None] if subtract else t) * full)
    return np.clip(np.nan_to_num(q), 0, 255).astype(np.uint8), o, s


def _half_up(v):
    return np.floor(v + 0.5)


def quantize_wrong() -> list:
    return [
        ("one offset for all codebooks of a query: each codebook m has its own offset o_m = min_k T[m, k]",
         lambda tables: _quantize(tables, offsets="query")),
        ("forgot the per-codebook offset: subtract o_m = min_k T[m, k] before scaling (the uint8 entries start at 0)",
         lambda tables: _quantize(tables, subtract=False)),
        ("one scale per codebook: the scale is shared by all codebooks of a query, so that the integer sum stays in "
         "one unit", lambda tables: _quantize(tables, spread_over="codebook")),
        ("one scale for all queries: each query has its own scale, from its own largest spread",
         lambda tables: _quantize(tables, spread_over="batch")),
        ("the scale is not a power of two: s = 2^floor(log2(255 / spread)), so that dividing by it is exact",
         lambda tables: _quantize(tables, scale="ratio")),
        ("the exponent was rounded up (ceil): s = 2^floor(log2(255 / spread)) keeps the largest entry within 255",
         lambda tables: _quantize(tables, ceil=True)),
        ("ties were rounded up (floor(x + 0.5)); np.rint rounds half to even", lambda tables: _quantize(tables,
                                                                                                        rnd=_half_up)),
        ("the entries were truncated (floor or astype without rounding); round to nearest with np.rint first",
         lambda tables: _quantize(tables, rnd=np.floor)),
    ]


def quantize_extra() -> list:
    def constant_query(got, args, expected):
        t = np.asarray(args["tables"], dtype=np.float64)
        flat = (t.max(axis=2) - t.min(axis=2)).max(axis=1) == 0
        try:
            s = np.asarray(got[2], dtype=np.float64).reshape(-1)
            return bool(flat.any()) and s.shape == flat.shape and not np.all(s[flat] == 1.0)
        except Exception:  # noqa: BLE001
            return False

    return [Mistake("a query whose tables are all equal (spread 0) gets the scale 1 and all-zero entries "
                    "(255 / 0 is infinite)", constant_query)]


#: The wrong implementations of each exercise (the tests run every one through its check).
WRONG = {"train_prototypes": train_wrong, "encode": encode_wrong, "build_tables": tables_wrong,
         "aggregate": aggregate_wrong, "quantize_tables": quantize_wrong}

#: Mistakes that usually show as a shape error or an exception (the check reports it) and are named
#: only on inputs whose shapes happen to agree.
SHAPE_ERRORS = {TABLES_TRANSPOSED, AGG_TRANSPOSED,
                "the table was indexed as T[j, k, m]: the tables are (nq, M, K), so subspace m's entry for row i is "
                "T[j, m, codes[i, m]]"}


# -- exercise 6: the MADDNESS hash-tree encoder ----------------------------------------------------------

def _maddness(A, split_dims, thresholds, *, compare=np.greater, node="path", code="msb_first"):
    A = np.asarray(A, dtype=np.float64)
    dims = np.asarray(split_dims)
    thr = np.asarray(thresholds, dtype=np.float64)
    n, C = len(A), dims.shape[0]
    codes = np.zeros((n, C), dtype=np.int64)
    for c in range(C):
        g = np.zeros(n, dtype=np.int64)
        for level in range(4):
            t = thr[c, level, g if node == "path" else 0]
            bit = compare(A[:, dims[c, level]], t).astype(np.int64)
            g = 2 * g + bit if code == "msb_first" else g + (bit << level)
        codes[:, c] = g
    return codes.astype(np.uint8)


def maddness_wrong() -> list:
    return [
        ("a >= t instead of a > t: a value equal to the threshold must go left (bit 0)",
         lambda **kw: _maddness(**kw, compare=np.greater_equal)),
        ("the bits were put in reverse order (g + 2^level * bit): the first level's bit is the highest, "
         "g <- 2g + bit, and the node of the next level is that g",
         lambda **kw: _maddness(**kw, code="lsb_first")),
        ("the first threshold of each level for every node: level l has 2^l nodes, and the row's node g "
         "(its bits so far) selects thresholds[c, l, g]",
         lambda **kw: _maddness(**kw, node="first")),
    ]


# -- exercise 7: the 4-bit fast-scan layout --------------------------------------------------------------

def _pack(codes, *, rows="interleaved", nibbles="even_low", pad=True):
    codes = np.asarray(codes).astype(np.uint8)
    n, M = codes.shape
    nblocks = -(-n // 32) if pad else n // 32
    out = np.zeros((nblocks, -(-M // 2), 32), dtype=np.uint8)
    r = np.arange(n) % 32
    if rows == "interleaved":
        byte = np.where(r < 16, 2 * r, 2 * (r - 16) + 1)
    elif rows == "halves_swapped":
        byte = np.where(r < 16, 2 * r + 1, 2 * (r - 16))
    else:
        byte = r
    for m in range(M):
        shift = 4 * (m % 2) if nibbles == "even_low" else 4 * (1 - m % 2)
        keep = np.arange(n) // 32 < nblocks
        out[np.arange(n)[keep] // 32, m // 2, byte[keep]] |= (codes[keep, m] << shift).astype(np.uint8)
    return out


def pack_wrong() -> list:
    return [
        ("rows in order within a block (byte j holds row j): byte 2j holds row j and byte 2j + 1 row 16 + j",
         lambda codes: _pack(codes, rows="in_order")),
        ("the two halves of the block swapped: byte 2j holds row j (the first half), byte 2j + 1 row 16 + j",
         lambda codes: _pack(codes, rows="halves_swapped")),
        ("the nibbles swapped: the even subspace 2p goes in the low nibble, the odd one 2p + 1 in the high nibble",
         lambda codes: _pack(codes, nibbles="even_high")),
        ("the rows were not padded to whole blocks of 32: ceil(n / 32) blocks, the missing rows with code 0",
         lambda codes: _pack(codes, pad=False)),
    ]
