"""Known mistakes of problem set 5, each a small wrong implementation or a test on the output.

The checks compare a failing answer with each of these; a match names the mistake in the
feedback.  Each wrong implementation differs from the exercise in exactly one way.  They are
written with NumPy alone: the reference answers come from :mod:`quantref.codebook`, these only
need to reproduce a wrong answer.
"""
from __future__ import annotations

import math

import numpy as np

from ..checking import Mistake


def build(pairs, compare) -> list:
    """Mistakes from ``(name, wrong implementation)`` pairs, matched with the exercise's comparison.

    The student's answer matches a wrong implementation's when the comparison finds no
    difference, the same inf or NaN in both at the same places counting as equal
    (:meth:`~autograder.checking.Mistake.from_function`).
    """
    return [Mistake.from_function(name, wrong, compare) for name, wrong in pairs]


# -- exercise 1: nearest centroid ---------------------------------------------------------------------

def _assign(w, centroids, *, ties="low", how="nearest"):
    w = np.asarray(w, dtype=np.float64)
    c = np.asarray(centroids, dtype=np.float64)
    if how == "even":                       # as if the centroids were a linear grid
        step = (c[-1] - c[0]) / max(len(c) - 1, 1) or 1.0
        return np.clip(np.rint((w - c[0]) / step), 0, len(c) - 1).astype(np.int64)
    if how == "above":
        return np.minimum(np.searchsorted(c, w, side="left"), len(c) - 1)
    if how == "below":
        return np.maximum(np.searchsorted(c, w, side="right") - 1, 0)
    d = w[..., None] - c
    if how == "signed":
        return np.argmin(d, axis=-1)
    if how == "farthest":
        return np.argmax(np.abs(d), axis=-1)
    if ties == "high":
        return len(c) - 1 - np.argmin(np.abs(d)[..., ::-1], axis=-1)
    if ties == "midpoints_right":           # a weight on a midpoint goes to the centroid above it
        return np.searchsorted((c[:-1] + c[1:]) / 2, w, side="right")
    return np.argmin(np.abs(d), axis=-1)


TIES_HIGH = "ties went to the higher index; a weight exactly halfway between two centroids goes to the lower one"


def assign_wrong() -> list:
    return [
        (TIES_HIGH + " (np.argmin does this; searchsorted on the midpoints needs side='left')",
         lambda w, centroids: _assign(w, centroids, ties="high")),
        # the same mistake made with searchsorted: it differs from the last argmin only where two
        # centroids are equal (the midpoint between them is the centroid itself)
        (TIES_HIGH + " (np.argmin does this; searchsorted on the midpoints needs side='left')",
         lambda w, centroids: _assign(w, centroids, ties="midpoints_right")),
        ("the centroids were treated as evenly spaced (rounding to a grid); they are not: compare the distance "
         "to every centroid", lambda w, centroids: _assign(w, centroids, how="even")),
        ("the first centroid at or above the weight, not the nearest one (searchsorted on the centroids; search "
         "the midpoints between neighbours instead, or take argmin |w - c|)",
         lambda w, centroids: _assign(w, centroids, how="above")),
        ("the last centroid at or below the weight, not the nearest one",
         lambda w, centroids: _assign(w, centroids, how="below")),
        ("the distance has no absolute value: argmin of w - c picks the largest centroid; use argmin |w - c|",
         lambda w, centroids: _assign(w, centroids, how="signed")),
        ("argmax instead of argmin: that is the farthest centroid", lambda w, centroids: _assign(w, centroids, how="farthest")),
    ]


def assign_extra() -> list:
    def values(got, args, expected):
        try:
            return np.array_equal(np.asarray(got, dtype=np.float64), np.asarray(args["centroids"])[expected])
        except Exception:  # noqa: BLE001
            return False

    def flattened(got, args, expected):
        arr = np.asarray(got)
        return arr.shape != expected.shape and arr.size == expected.size and np.array_equal(arr.ravel(), expected.ravel())

    return [Mistake("returned the centroid values; return their indices (the codes)", values),
            Mistake("the codes were flattened: return them in the shape of w", flattened)]


# -- exercise 2: Lloyd's k-means ------------------------------------------------------------------------

def _init(flat, k, init):
    lo, hi = flat.min(), flat.max()
    if init == "linear":
        return np.linspace(lo, hi, k)
    if init == "density":
        return np.quantile(flat, (np.arange(k) + 0.5) / k)
    if init == "bins":                      # the centres of k equal bins
        return lo + (np.arange(k) + 0.5) * (hi - lo) / k
    if init == "open":                      # linspace without its end point
        return np.linspace(lo, hi, k, endpoint=False)
    raise ValueError(init)


def _lloyd(w, k, iters, *, init="linear", ties="low", update="mean", codes="final"):
    x = np.asarray(w, dtype=np.float64)
    flat = x.ravel()
    c = _init(flat, k, init)
    code = _assign(flat, c, ties=ties)
    for _ in range(iters):
        code = _assign(flat, c, ties=ties)
        c = c.copy()
        for j in range(k):
            members = flat[code == j]
            if members.size:
                c[j] = np.median(members) if update == "median" else members.mean()
    if codes == "final":
        code = _assign(flat, c, ties=ties)
    return c, code.reshape(x.shape)


def kmeans_wrong() -> list:
    return [
        ("one iteration too many: run exactly `iters` updates (assign, update) and then assign once more",
         lambda w, k, iters: _lloyd(w, k, iters + 1)),
        ("one iteration too few: run exactly `iters` updates (assign, update) and then assign once more",
         lambda w, k, iters: _lloyd(w, k, max(iters - 1, 0))),
        ("the centroids were never updated: each iteration moves every centroid to the mean of its weights",
         lambda w, k, iters: _lloyd(w, k, 0)),
        ("the codes belong to the previous centroids: assign the weights once more after the last update",
         lambda w, k, iters: _lloyd(w, k, iters, codes="previous")),
        ("initialised at quantiles of the weights (density initialisation); Deep Compression's linear "
         "initialisation spaces the centroids evenly from min to max, np.linspace(w.min(), w.max(), k)",
         lambda w, k, iters: _lloyd(w, k, iters, init="density")),
        ("initialised at the centres of k equal bins; the linear initialisation puts the first and last centroids "
         "on the smallest and largest weight, np.linspace(w.min(), w.max(), k)",
         lambda w, k, iters: _lloyd(w, k, iters, init="bins")),
        ("np.linspace(..., endpoint=False) leaves out the largest weight; the last centroid starts at w.max()",
         lambda w, k, iters: _lloyd(w, k, iters, init="open")),
        ("the median of each cluster instead of its mean", lambda w, k, iters: _lloyd(w, k, iters, update="median")),
        (TIES_HIGH, lambda w, k, iters: _lloyd(w, k, iters, ties="high")),
    ]


def kmeans_extra() -> list:
    def picked_from_weights(got, args, expected):
        """Centroids that are weights themselves after 0 iterations: a random (Forgy) initialisation."""
        try:
            c = np.asarray(got[0], dtype=np.float64)
        except Exception:  # noqa: BLE001
            return False
        return (args["iters"] == 0 and c.shape == expected[0].shape
                and bool(np.all(np.isin(c, np.asarray(args["w"], dtype=np.float64))))
                and not np.array_equal(c, expected[0]))

    def lloyd_from_another_start(got, args, expected):
        """A Lloyd run from a start that none of the deterministic ones (right or wrong) gives.

        After at least one update each centroid is the mean of its last cluster, and in 1-D a
        nearest-centroid cluster is a run of consecutive sorted weights (a centroid whose cluster
        emptied keeps its start, a weight, a run of one); the codes are nearest centroids.  A random
        (Forgy) start leaves exactly this, sorted or not; it is named only when neither the linear
        start nor any other known mistake gives the same answer.
        """
        try:
            c = np.asarray(got[0], dtype=np.float64)
            codes = np.asarray(got[1])
        except Exception:  # noqa: BLE001
            return False
        w = np.asarray(args["w"], dtype=np.float64)
        if (args["iters"] < 1 or c.shape != expected[0].shape or codes.shape != w.shape
                or not np.issubdtype(codes.dtype, np.integer) or not np.all(np.isfinite(c))
                or codes.min(initial=0) < 0 or codes.max(initial=0) >= c.size):
            return False
        tol = 1e-9 * max(float(np.abs(w).max()), 1e-300)
        distance = np.abs(w[..., None] - c)
        if not np.all(np.take_along_axis(distance, codes[..., None], axis=-1)[..., 0] <= distance.min(axis=-1) + tol):
            return False
        s = np.sort(w.ravel())
        prefix = np.concatenate([[0.0], np.cumsum(s)])
        length = np.arange(s.size + 1)[None, :] - np.arange(s.size + 1)[:, None]
        with np.errstate(all="ignore"):
            runs = (prefix[None, :] - prefix[:, None]) / length
        runs = runs[length > 0]
        if not all(np.any(np.abs(runs - cj) <= tol + 1e-9 * abs(cj)) for cj in c):
            return False
        for _, wrong in [("the linear start", _lloyd)] + kmeans_wrong():
            other_c, other_codes = wrong(args["w"], args["k"], args["iters"])
            if np.allclose(c, other_c, rtol=1e-9, atol=tol) and np.array_equal(codes, other_codes):
                return False
        return True

    def unsorted(got, args, expected):
        try:
            c = np.asarray(got[0], dtype=np.float64)
        except Exception:  # noqa: BLE001
            return False
        return c.ndim == 1 and c.size > 1 and bool(np.any(np.diff(c) < 0))

    random_start = ("random initialisation (centroids picked among the weights); Deep Compression's linear "
                    "initialisation is deterministic: np.linspace(w.min(), w.max(), k)")
    return [Mistake(random_start, picked_from_weights),
            Mistake(random_start, lloyd_from_another_start),
            Mistake("the centroids are not in ascending order (a random initialisation?); the linear "
                    "initialisation starts them sorted, and the means of sorted clusters stay sorted", unsorted)]


# -- exercise 3: lookup-table dequantization -------------------------------------------------------------

def lut_wrong() -> list:
    def even(codes, codebook):
        step = codebook[1] - codebook[0] if codebook.size > 1 else np.float32(0)
        return (codebook[0] + codes.astype(np.float32) * step).astype(np.float32)

    def sorted_codes(codes, codebook):
        return codebook[np.sort(codes, axis=None)].reshape(codes.shape)

    return [
        ("the codebook was treated as evenly spaced (first value + code x step); k-means centroids are not: "
         "look every code up, codebook[codes]", even),
        ("the codes were sorted before the lookup; keep their order", sorted_codes),
    ]


def lut_extra() -> list:
    def flattened(got, args, expected):
        arr = np.asarray(got)
        return arr.shape != expected.shape and arr.size == expected.size and np.array_equal(arr.ravel(), expected.ravel())

    return [Mistake("the result was flattened: it has the shape of codes", flattened)]


#: What an implementation that does not raise on a code past the end of the codebook returned instead.
LUT_SILENT = [
    ("the out-of-range code was clipped to the last entry (np.take(..., mode='clip') or np.clip); a code with "
     "no entry is corrupted data and must raise", lambda codes, codebook: codebook[np.minimum(codes, codebook.size - 1)]),
    ("the out-of-range code wrapped around (mode='wrap' or codes % k); a code with no entry is corrupted data "
     "and must raise", lambda codes, codebook: codebook[codes % codebook.size]),
    ("the codebook was padded (with zeros) so that every code has an entry; a code with no entry is corrupted "
     "data and must raise", lambda codes, codebook: np.concatenate([codebook, np.zeros(256, np.float32)])[codes]),
]


# -- exercises 4 and 5: bit packing ----------------------------------------------------------------------

def _pack(codes, bits, *, order="low", pad=True, planar=False):
    per = 8 // bits
    flat = np.asarray(codes, dtype=np.uint8).ravel()
    n = flat.size
    nbytes = -(-n // per) if pad else n // per
    padded = np.zeros(max(nbytes, -(-n // per)) * per, dtype=np.uint8)
    padded[:n] = flat
    groups = padded.reshape(per, -1).T if planar else padded.reshape(-1, per)
    groups = groups[:nbytes]
    data = np.zeros(nbytes, dtype=np.uint8)
    for t in range(per):
        shift = bits * t if order == "low" else 8 - bits * (t + 1)
        data |= (groups[:, t] << np.uint8(shift)).astype(np.uint8)
    return data


BIT_ORDER = "the bit order is reversed: the first code goes in the lowest bits (c0 | c1 << 4 for 4 bits)"


def pack_wrong() -> list:
    return [
        (BIT_ORDER, lambda codes, bits: _pack(codes, bits, order="high")),
        ("the last, partly filled byte was dropped: n codes need ceil(n * bits / 8) bytes, the last one padded "
         "with zero codes", lambda codes, bits: _pack(codes, bits, pad=False)),
        ("codes i and i + n/2 share a byte (the array was split in halves); consecutive codes share a byte",
         lambda codes, bits: _pack(codes, bits, planar=True)),
        ("one code per byte: nothing was packed", lambda codes, bits: np.asarray(codes, dtype=np.uint8).copy()),
    ]


def _unpack(packed, bits, n, *, order="low", mask=True, trim=True):
    per = 8 // bits
    data = np.asarray(packed, dtype=np.uint8)
    out = []
    for t in range(per):
        shift = bits * t if order == "low" else 8 - bits * (t + 1)
        v = data >> np.uint8(shift)
        out.append(v & np.uint8((1 << bits) - 1) if mask else v)
    codes = np.stack(out, axis=1).ravel() if out else np.zeros(0, np.uint8)
    return codes[:n] if trim else codes


def unpack_wrong() -> list:
    return [
        (BIT_ORDER.replace("goes in", "comes from"), lambda packed, bits, n: _unpack(packed, bits, n, order="high")),
        ("the shifted bytes were not masked: keep the low `bits` bits with & (2**bits - 1)",
         lambda packed, bits, n: _unpack(packed, bits, n, mask=False)),
    ]


def unpack_extra() -> list:
    def padding_kept(got, args, expected):
        arr = np.asarray(got)
        return arr.ndim == 1 and arr.size > expected.size and np.array_equal(arr[:expected.size].astype(np.int64),
                                                                                expected.astype(np.int64))

    return [Mistake("the padding codes of the last byte were kept: return the first n codes only", padding_kept)]


# -- exercise 6: storage and compression ratio -------------------------------------------------------------

def _storage(n, k, b=32, *, code_bits=None, entry_bits=None, unit=1, invert=False):
    cb = math.log2(k) if code_bits is None else code_bits(k)
    eb = b if entry_bits is None else entry_bits(k, b)
    total = np.float64(n * cb + k * eb)            # NumPy division: n b / 0 is inf, as in a student's code
    bits = total / unit
    ratio = np.float64(n * b) / total
    return bits, (1 / ratio if invert else ratio)


def storage_wrong() -> list:
    return [
        ("the codebook is missing: besides n codes of log2(k) bits, the k shared values are stored too (k x b bits)",
         lambda n, k, b=32: _storage(n, k, b, entry_bits=lambda k, b: 0)),
        ("the codebook was counted as 8-bit values; its entries are b-bit floats like the weights (k x b bits)",
         lambda n, k, b=32: _storage(n, k, b, entry_bits=lambda k, b: 8)),
        ("the codebook was counted with 32-bit entries whatever b; its entries have b bits, like the weights",
         lambda n, k, b=32: _storage(n, k, b, entry_bits=lambda k, b: 32)),
        ("the codebook entries were counted with log2(k) bits like the codes; they are b-bit values",
         lambda n, k, b=32: _storage(n, k, b, entry_bits=lambda k, b: math.log2(k))),
        ("log2(k) was rounded up; Han et al.'s formula uses log2(k) exactly",
         lambda n, k, b=32: _storage(n, k, b, code_bits=lambda k: math.ceil(math.log2(k)))),
        ("the storage is in bytes; the exercise asks for bits (do not divide by 8)",
         lambda n, k, b=32: _storage(n, k, b, unit=8)),
        ("the ratio is upside down: original size over compressed size, n b / (n log2 k + k b)",
         lambda n, k, b=32: _storage(n, k, b, invert=True)),
        ("each code was counted with k bits (one-hot); a code of k values needs log2(k) bits",
         lambda n, k, b=32: _storage(n, k, b, code_bits=lambda k: k)),
    ]


#: The wrong implementations of each exercise (the tests run every one through its check).
WRONG = {"kmeans_assign": assign_wrong, "kmeans_1d": kmeans_wrong, "lut_dequantize": lut_wrong,
         "pack_codes": pack_wrong, "unpack_codes": unpack_wrong, "storage_cost": storage_wrong}
