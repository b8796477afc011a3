"""Every worked example in a problem set's text is what the reference library computes.

An exercise's text often ends with "Example: `f(...)` gives `...`". A student checks their
understanding against it before any test runs, so a wrong number there costs more than a wrong
test. Each example paragraph of ``course/source/*/*.ipynb`` is listed below, word for word, with a
check that runs the call written in the text (the exercise's name bound to its ``quantref``
counterpart) and compares the result with the value written in the text.

If you edit an example, edit its entry here; if you add one, add an entry (the last test fails
until every "Example" paragraph is listed).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable

import nbformat
import numpy as np
import pytest

from course_helpers import ROOT

import quantref.adaround as ar
import quantref.codebook as cb
import quantref.integer as qi
import quantref.linear as ql
import quantref.llm as llm
import quantref.formats as formats
import quantref.lowbit as lowbit
from quantref.calibration import MinMaxObserver, MovingAverageMinMaxObserver, PercentileObserver
from quantref.kernels import int_matmul, int_matmul_terms
from quantref.pq import ProductQuantizer, quantize_tables, scan
from quantref.qat import fake_quantize_backward, fake_quantize_forward

SOURCE = ROOT / "course" / "source"
_DTYPES = {name: getattr(np, name) for name in ("uint8", "int8", "int32", "int64", "float32", "float64")}


# -- each problem set's exercises, in terms of quantref ------------------------------------------------

def _observe(observer, state, batch):
    if state is not None:
        observer.update(np.array(state, dtype=np.float64))   # the first update sets the range exactly
    return observer.update(batch).range()


def _pq(prototypes) -> ProductQuantizer:
    M, K, d = np.shape(prototypes)
    pq = ProductQuantizer(M * d, M, int(np.log2(K)))
    pq.centroids = np.asarray(prototypes, dtype=np.float32)
    return pq


def _train_prototypes(X, M, K, niter=10, seed=0):
    pq = ProductQuantizer(np.shape(X)[1], M, int(np.log2(K)))   # raises ValueError when M does not divide D
    pq.train(X, niter=niter, seed=seed, init="random", max_points_per_centroid=None, progress=False)
    return pq.centroids


REFERENCE = {
    "ps1_linear_quantization": dict(
        asymmetric_qparams=ql.asymmetric_qparams, quantize=ql.quantize, dequantize=ql.dequantize),
    "ps2_integer_matmul": dict(
        fold_bias=qi.fold_bias, quantize_multiplier=qi.quantize_multiplier,
        multiply_by_quantized_multiplier=qi.multiply_by_quantized_multiplier),
    "ps3_ptq_qat": dict(
        update_minmax=lambda state, batch: _observe(MinMaxObserver(), state, batch),
        moving_average_update=lambda rmin, rmax, batch, c: _observe(
            MovingAverageMinMaxObserver(averaging_constant=c), None if rmin is None else (rmin, rmax), batch),
        percentile_range=lambda x, p: PercentileObserver(percentile=p, method="exact").update(x).range(),
        fake_quantize=fake_quantize_forward),
    "ps4_llm_outliers": dict(
        outlier_columns=llm.outlier_columns,
        quantize_rows=lambda v: (llm.absmax_int8(v, "per_row").codes, llm.absmax_int8(v, "per_row").scale),
        smoothing_factors=llm.smoothing_factors),
    "ps5_kmeans": dict(
        kmeans_assign=cb.assign_sorted_centroids,
        kmeans_1d=lambda w, k, iters: (lambda r: (r.centroids, r.codes))(cb.kmeans_1d(w, k, init="linear", max_iter=iters)),
        lut_dequantize=cb.lut_dequantize,
        pack_codes=lambda codes, bits: cb.pack_codes(codes, bits).data,
        unpack_codes=lambda packed, bits, n: cb.unpack_codes(cb.PackedCodes(packed, bits, (n,))),
        storage_cost=lambda n, k, b=32: (cb.storage_bits(n, k, b), cb.compression_ratio(n, k, b))),
    "ps6_product_quantization": dict(
        train_prototypes=_train_prototypes,
        quantize_tables=lambda t: (lambda qt: (qt.tables, qt.offsets, qt.scale))(quantize_tables(t))),
    "ps7_adaptive_rounding": dict(
        rectified_sigmoid=ar.rectified_sigmoid, rectified_sigmoid_grad=ar.rectified_sigmoid_grad,
        initial_v=lambda w, scale: ar.initial_v(w / scale[:, None] - ar.floor_codes(w, scale)),
        rounding_regularizer=lambda v, beta: (ar.rounding_regularizer(ar.rectified_sigmoid(v), beta),
                                              ar.rounding_regularizer_grad(v, beta)),
        beta_schedule=lambda iters: [ar.beta_at(t, iters) for t in range(iters)],
        soft_weight=ar.soft_weight, hard_rounding=ar.hard_rounding),
    "ps8_low_bit_weights": dict(
        groupwise_quantize=lambda w, group_size, bits=4: (lambda q: (q.codes, q.scales, q.zero_points))(
            lowbit.quantize_groupwise(w, bits, group_size)),
        pack_nibbles=lowbit.pack_nibbles, unpack_nibbles=lowbit.unpack_nibbles,
        encode_e4m3=lambda x: formats.encode_e4m3(x, saturate=True), decode_e4m3=formats.decode_e4m3,
        encode_nf4=lambda x, block_size=64: (lambda q: (q.codes, q.absmax))(formats.encode_nf4(x, block_size))),
}


# -- reading an example --------------------------------------------------------------------------------

@dataclass
class Example:
    """One example paragraph of a problem set, and what its backticked pieces of code say."""

    notebook: str
    text: str

    @property
    def code(self) -> list[str]:
        """The backticked pieces of the paragraph, in order."""
        return re.findall(r"`([^`]+)`", self.text)

    def namespace(self) -> dict:
        return {"np": np, "array": np.array, **_DTYPES, **REFERENCE.get(self.notebook, {})}

    def run(self, i: int):
        """Evaluate piece ``i`` (a call written in the text) with the exercise names bound to quantref."""
        return eval(self.code[i], self.namespace())

    def value(self, i: int):
        """Piece ``i`` read as a Python value (``array([...], dtype=uint8)`` included)."""
        return eval(self.code[i], {"array": np.array, "nan": np.nan, **_DTYPES})

    def assignments(self) -> dict:
        """The pieces written as ``name = value``, evaluated."""
        ns = {}
        for piece in self.code:
            if re.fullmatch(r"\w+ = .+", piece):
                name, value = piece.split(" = ", 1)
                ns[name] = eval(value, {"np": np})
        return ns


def same(got, shown: str | object, *, decimals: int | None = None) -> None:
    """``got`` equals the value ``shown`` in the text: exactly, or to the ``decimals`` the text prints."""
    expected = shown
    if isinstance(got, tuple):
        assert isinstance(expected, tuple) and len(got) == len(expected), (got, expected)
        for g, e in zip(got, expected):
            same(g, e, decimals=decimals)
        return
    got_arr, exp_arr = np.asarray(got), np.asarray(expected)
    assert got_arr.shape == exp_arr.shape, (got, expected)
    if isinstance(expected, np.ndarray) and expected.dtype != np.float64 or np.issubdtype(got_arr.dtype, np.integer):
        assert got_arr.dtype == exp_arr.dtype or not isinstance(expected, np.ndarray), (got_arr.dtype, exp_arr.dtype)
    if decimals is None:
        np.testing.assert_array_equal(got_arr, exp_arr)
    else:
        np.testing.assert_allclose(got_arr, exp_arr, rtol=0, atol=0.5 * 10.0 ** -decimals)


def _latex_arithmetic(tex: str) -> str:
    """A formula of plain arithmetic in LaTeX as Python (``2^{31}``, ``\\cdot``, ``\\sqrt{31}``, ``\\lfloor\\log_2 x\\rfloor``)."""
    py = re.sub(r"\\,\s*\(", "*(", tex.replace(r"\cdot", "*")).replace(r"\,", "").replace(")(", ")*(")
    py = re.sub(r"\^\{([^}]*)\}", r"**(\1)", py)
    py = re.sub(r"\\sqrt\{([^}]*)\}", r"sqrt(\1)", py)
    py = re.sub(r"\\lfloor\s*\\log_2\s*([\d.]+)\s*\\rfloor", r"floor(log2(\1))", py)
    return py


def arithmetic_in(text: str) -> list[tuple[str, float, float, int | None]]:
    """Every ``$a = b$`` or ``$a \\approx b$`` of the text whose two sides are plain numbers and arithmetic.

    Returns ``(formula, left, right, decimals)``; ``decimals`` is how many the right side shows after
    ``\\approx`` (None for ``=``, which must hold exactly, up to float64 rounding).
    """
    found = []
    for tex in re.findall(r"\$([^$]+)\$", text):
        parts = re.split(r"\s*(=|\\approx)\s*", tex)
        if len(parts) != 3:
            continue
        left, relation, right = parts
        try:
            values = [eval(_latex_arithmetic(side), {"__builtins__": {}},
                           {"sqrt": np.sqrt, "floor": np.floor, "log2": np.log2}) for side in (left, right)]
        except (SyntaxError, NameError, TypeError):
            continue                      # a definition such as $M = 1/4$ or $z_{out} = 2$, not arithmetic
        if not all(isinstance(v, (int, float, np.floating)) for v in values):
            continue
        decimals = len(right.split(".")[1]) if relation != "=" and "." in right else None
        found.append((tex, float(values[0]), float(values[1]), decimals))
    return found


def _paragraphs(notebook: str) -> list[str]:
    nb = nbformat.read(SOURCE / notebook / f"{notebook}.ipynb", as_version=4)
    return [p.strip() for c in nb.cells if c.cell_type == "markdown" for p in c.source.split("\n\n")]


# -- the examples ----------------------------------------------------------------------------------------

CHECKS: list[tuple[Example, Callable[[Example], None]]] = []


def example(notebook: str, text: str):
    def register(check):
        CHECKS.append((Example(notebook, text), check))
        return check
    return register


# problem set 1

@example("ps1_linear_quantization",
         "Example: `asymmetric_qparams(-1.0, 3.0, 8)` gives `(0.01568627450980392, 64)`.")
def _(ex):
    same(tuple(float(v) if i == 0 else int(v) for i, v in enumerate(ex.run(0))), ex.value(1))


@example("ps1_linear_quantization",
         "Example: `quantize(np.array([-1.0, 0.0, 0.5, 3.0]), 1/64, 64, 8)` gives `array([0, 64, 96, 255], dtype=uint8)`.")
def _(ex):
    same(ex.run(0), ex.value(1))


@example("ps1_linear_quantization",
         "Example: `dequantize(np.array([0, 64, 96, 255], dtype=np.uint8), 1/64, 64)` gives `array([-1., 0., 0.5, 2.984375])`.")
def _(ex):
    same(ex.run(0), ex.value(1))


@example("ps1_linear_quantization",
         "Example: `symmetric_quantize(np.array([-2.54, -1.0, 0.5, 1.27]), 8, False)` gives "
         "`(array([-128, -50, 25, 64], dtype=int8), 0.01992156862745098)`; with `narrow_range=True` it gives "
         "`(array([-127, -50, 25, 64], dtype=int8), 0.02)`.")
def _(ex):
    def symmetric_quantize(x, bits, narrow_range):
        scale, _ = ql.symmetric_qparams(x.min(), x.max(), bits, narrow_range=narrow_range)
        return ql.quantize(x, scale, 0, bits, signed=True, narrow_range=narrow_range), scale
    x = np.array([-2.54, -1.0, 0.5, 1.27])
    for narrow, shown in ((False, 1), (True, 3)):
        q, scale = symmetric_quantize(x, 8, narrow)
        codes, shown_scale = ex.value(shown)
        same(q, codes)
        assert scale == shown_scale, (scale, shown_scale)     # 2.54 / 127.5 and 2.54 / 127, printed in full
    assert eval(ex.code[0], {"np": np, "symmetric_quantize": symmetric_quantize})[1] == ex.value(1)[1]


# problem set 2

@example("ps2_integer_matmul",
         "Example: `a = [[130, 128, 0], [255, 1, 128]]` (`uint8`), `b = [[1, -2], [3, 4], [-128, 127]]` (`int8`), "
         "`za = 128`, `zb = 0` give `([258, 384], [-124, 129], 0)`.")
def _(ex):
    v = ex.assignments()
    terms = int_matmul_terms(np.array(v["a"], np.uint8), np.array(v["b"], np.int8), v["za"], v["zb"])
    rows, cols, k_za_zb = ex.value(-1)
    same(terms.a_row_sums, np.array(rows, np.int64))
    same(terms.b_col_sums, np.array(cols, np.int64))
    assert int(terms.k_za_zb) == k_za_zb


@example("ps2_integer_matmul",
         r"Example, with the inputs of Exercise 1: `[[16386, -16260], [-254, -762]]` (for instance $(130 - 128) "
         r"\cdot 1 + 0 \cdot 3 + (0 - 128)(-128) = 16386$).")
def _(ex):
    first = next(e for e, _ in CHECKS if e.notebook == ex.notebook and "`a = " in e.text).assignments()
    got = int_matmul(np.array(first["a"], np.uint8), np.array(first["b"], np.int8), first["za"], first["zb"])
    same(got, np.array(ex.value(0), np.int32))
    assert (130 - 128) * 1 + 0 * 3 + (0 - 128) * (-128) == got[0, 0]


@example("ps2_integer_matmul",
         r"Example: `fold_bias(np.array([100, -7], dtype=np.int32), np.array([[1, -2, 3], [-127, 0, 5]], dtype=np.int8), "
         r"128)` gives `array([-156, 15609], dtype=int32)` ($100 - 128 \cdot 2$ and $-7 - 128 \cdot (-122)$).")
def _(ex):
    same(ex.run(0), ex.value(1))
    assert [100 - 128 * 2, -7 - 128 * (-122)] == ex.value(1).tolist()


@example("ps2_integer_matmul",
         r"Examples: `quantize_multiplier(0.75)` gives `(1610612736, 0)`; `quantize_multiplier(0.1)` gives "
         r"`(1717986918, 3)` ($0.1 = 0.8 \cdot 2^{-3}$ and $0.8 \cdot 2^{31} = 1717986918.4$).")
def _(ex):
    for call, shown in ((0, 1), (2, 3)):
        same(tuple(int(v) for v in ex.run(call)), ex.value(shown))


@example("ps2_integer_matmul",
         r"Example: `multiply_by_quantized_multiplier(np.array([10, -10, 6, -6, 7, 0], dtype=np.int32), 2 ** 30, 1)` "
         r"($M = 1/4$) gives `array([3, -3, 2, -2, 2, 0], dtype=int32)`: $\pm 2.5 \to \pm 3$ and $\pm 1.5 \to \pm 2$ "
         r"(ties away from zero), and $7$: the high multiply rounds $3.5 \to 4$, then $4 / 2 = 2$.")
def _(ex):
    same(ex.run(0), ex.value(1))


@example("ps2_integer_matmul",
         r"Example: with $M = 0.01$ (`M0 = 1374389535`, `shift = 6`), $z_{out} = 2$ and the grid $[0, 255]$, the "
         r"accumulators `[[-300, -1, 0, 99, 150, 1000, 40000]]` give `[[0, 2, 2, 3, 4, 12, 255]]` (`uint8`): "
         r"$-3 + 2 = -1$ is clamped to 0, $1.5$ rounds to 2, and $400 + 2$ is clamped to 255.")
def _(ex):
    v = ex.assignments()
    assert (v["M0"], v["shift"]) == tuple(int(x) for x in qi.quantize_multiplier(0.01))
    got = qi.requantize(np.array(ex.value(2), np.int32), (v["M0"], v["shift"]), 2, 0, 255)
    same(got, np.array(ex.value(3), np.uint8))


# problem set 3

@example("ps3_ptq_qat", "Example: feeding `[0.5, -1.0, 2.0]` and then `[0.0, 3.5, -0.5]`,")
def _(ex):
    shown = re.search(r"# (\(.*\)), then (\(.*\))", _code_after(ex)).groups()
    state = None
    for batch, after in zip((ex.value(0), ex.value(1)), shown):
        state = REFERENCE["ps3_ptq_qat"]["update_minmax"](state, np.array(batch))
        same(tuple(float(v) for v in state), eval(after))


def _code_after(ex: Example) -> str:
    """The fenced code block that follows an example paragraph (the example continues there)."""
    paragraphs = _paragraphs(ex.notebook)
    return paragraphs[paragraphs.index(ex.text) + 1]


@example("ps3_ptq_qat",
         r"Examples: `moving_average_update(None, None, np.array([0.0, 4.0]), 0.01)` gives `(0.0, 4.0)`; "
         r"`moving_average_update(0.0, 4.0, np.array([-2.0, 2.0]), 0.5)` gives `(-1.0, 3.0)` ($0 + 0.5\,(-2 - 0)$ "
         r"and $4 + 0.5\,(2 - 4)$).")
def _(ex):
    for call, shown in ((0, 1), (2, 3)):
        same(tuple(float(v) for v in ex.run(call)), ex.value(shown))
    assert (0 + 0.5 * (-2 - 0), 4 + 0.5 * (2 - 4)) == ex.value(3)


@example("ps3_ptq_qat",
         r"Example: `percentile_range(np.array([0.0, -1.0, 2.0, 3.0, -4.0]), 75.0)` gives `(-3.0, 3.0)`: $|x|$ sorted "
         r"is 0, 1, 2, 3, 4, and its 75th percentile is 3.")
def _(ex):
    same(tuple(float(v) for v in ex.run(0)), ex.value(1))


@example("ps3_ptq_qat",
         r"Example: `fake_quantize(np.array([0.26, 1.0, -0.3]), 0.1, 2, 0, 15)` gives `array([ 0.3,  1. , -0.2])`: "
         r"$-0.3 / 0.1 + 2 = -1$ is clipped to code 0, which is $0.1\,(0 - 2) = -0.2$.")
def _(ex):
    np.testing.assert_allclose(ex.run(0), ex.value(1), rtol=0, atol=1e-12)   # 0.1 (code - 2) in binary floating point


@example("ps3_ptq_qat",
         r"Example with $s = 1$, $z = 0$ and the grid $[-2, 1]$: $x = 1.4$ rounds to 1 (passes); $1.5$ rounds half to "
         r"even to 2 (blocked); $-2.5$ rounds to $-2$ (passes, although it lies outside $[-2, 1]$); $-2.6$ rounds to "
         r"$-3$ (blocked).")
def _(ex):
    x = np.array([1.4, 1.5, -2.5, -2.6])
    shown = re.findall(r"\((passes|blocked)", ex.text)
    got = fake_quantize_backward(np.ones_like(x), x, 1.0, 0, -2, 1)
    assert ["passes" if g == 1 else "blocked" for g in got] == shown
    assert np.rint(x).tolist() == [float(v) for v in re.findall(r"rounds (?:half to even )?to \$?(-?\d)", ex.text)]


# problem set 4

@example("ps4_llm_outliers",
         "Example: `outlier_columns(np.array([[1.0, 6.0, -5.9], [-6.1, 0.0, 2.0]]))` gives `array([0, 1])`.")
def _(ex):
    np.testing.assert_array_equal(ex.run(0), ex.value(1))


@example("ps4_llm_outliers",
         "Example: `quantize_rows(np.array([[0.5, -1.27], [2.54, 0.01]]))` gives "
         "`(array([[50, -127], [127, 0]], dtype=int8), array([0.01, 0.02]))`.")
def _(ex):
    codes, scale = ex.run(0)
    shown_codes, shown_scale = ex.value(1)
    same(codes, shown_codes)
    np.testing.assert_allclose(scale, shown_scale, rtol=1e-12)   # 1.27 / 127 in binary floating point


@example("ps4_llm_outliers",
         "Example: with `x = [[1, 7, -0.5, 0.25], [-2, 6.5, 0.75, 1.5], [0.5, -8, 1, -1]]` and "
         "`w = [[0.5, 0.1, -0.3, 0.2], [-0.25, 0.05, 0.4, -0.1]]`, column 1 is the outlier, `acc` is "
         "`[[22625, -19185], [-14932, 13089], [-8001, 15137]]` and `y` is about "
         "`[[1.40138, -0.12579], [-0.27579, 0.97422], [-1.04803, -0.02460]]`, against the exact `x @ w.T` = "
         "`[[1.4, -0.125], [-0.275, 0.975], [-1.05, -0.025]]`.")
def _(ex):
    v = ex.assignments()
    x, w = np.array(v["x"], float), np.array(v["w"], float)
    d = llm.llm_int8_decompose(x, w, 6.0)
    assert d.outlier_columns.tolist() == [int(re.search(r"column (\d) is the outlier", ex.text).group(1))]
    same(d.int_product, np.array(ex.value(3), np.int32))
    same(d.output, np.array(ex.value(5)), decimals=5)
    np.testing.assert_allclose(x @ w.T, ex.value(7), rtol=0, atol=1e-12)


@example("ps4_llm_outliers",
         r"Example: `smoothing_factors(np.array([[16.0, 1.0], [-4.0, 0.5]]), np.array([[1.0, 4.0], [-0.25, 1.0]]))` "
         r"gives `array([4. , 0.5])` ($\sqrt{16} / \sqrt{1}$ and $\sqrt{1} / \sqrt{4}$).")
def _(ex):
    same(ex.run(0), ex.value(1))


@example("ps4_llm_outliers",
         "Example: with the inputs of Exercise 4, `smooth` gives `x / s` = `[[4, 2], [-1, 1]]` and `w * s` = "
         "`[[4, 2], [-1, 0.5]]`.")
def _(ex):
    xs, ws, _ = llm.smooth(np.array([[16.0, 1.0], [-4.0, 0.5]]), np.array([[1.0, 4.0], [-0.25, 1.0]]))
    same(xs, np.array(ex.value(2), float))
    same(ws, np.array(ex.value(4), float))


@example("ps4_llm_outliers",
         r"Example: `x = [[1, 2], [0, -1]]` and `w = [[1, 0], [1, 1], [0, 2]]` give $XW^T$ = "
         r"`[[1, 3, 4], [0, -1, -2]]`, whose norm is $\sqrt{31}$; an output with 3.5 in place of the 3 has error "
         r"$0.5 / \sqrt{31} \approx 0.0898$.")
def _(ex):
    v = ex.assignments()
    y_ref = np.array(v["x"], float) @ np.array(v["w"], float).T
    same(y_ref, np.array(ex.value(2), float))
    assert np.sum(y_ref ** 2) == 31
    y = y_ref.copy()
    y[0, 1] = 3.5
    assert round(llm.relative_error(y, y_ref), 4) == 0.0898


# problem set 5

@example("ps5_kmeans",
         "Example: `kmeans_assign(np.array([-1.0, -0.2, 0.1, 0.6, 2.0]), np.array([-0.5, 0.0, 1.0]))` gives "
         "`array([0, 1, 1, 2, 2])`; with centroids `[0.0, 0.5, 1.5]`, the weights `[0.25, 0.75, 1.0]` get `[0, 1, 1]` "
         "(0.25 and 1.0 are ties).")
def _(ex):
    np.testing.assert_array_equal(ex.run(0), ex.value(1))
    np.testing.assert_array_equal(cb.assign_sorted_centroids(np.array(ex.value(3)), np.array(ex.value(2))), ex.value(4))


@example("ps5_kmeans",
         "Example: `kmeans_1d(np.array([0.0, 1.0, 2.0, 3.0, 4.0]), 2, 3)` starts from the centroids `[0, 4]`; 2.0 is a "
         "tie and joins cluster 0, so the first update gives `[1.0, 3.5]`, after which nothing changes: "
         "`(array([1. , 3.5]), array([0, 0, 0, 1, 1]))`.")
def _(ex):
    w = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    assert cb.kmeans_1d(w, 2, init="linear", max_iter=0).centroids.tolist() == ex.value(1)
    assert cb.kmeans_1d(w, 2, init="linear", max_iter=1).centroids.tolist() == ex.value(2)
    centroids, codes = ex.run(0)
    shown_centroids, shown_codes = ex.value(3)
    np.testing.assert_array_equal(centroids, shown_centroids)
    np.testing.assert_array_equal(codes, shown_codes)


@example("ps5_kmeans",
         "Example: `lut_dequantize(np.array([[2, 0], [1, 1]], dtype=np.uint8), np.array([-0.5, 0.0, 0.25], "
         "dtype=np.float32))` gives `array([[ 0.25, -0.5 ], [ 0.  ,  0.  ]], dtype=float32)`, and "
         "`lut_dequantize(np.array([0, 4, 1], dtype=np.uint8), np.array([-0.5, 0.0, 0.25, 1.0], dtype=np.float32))` "
         "raises.")
def _(ex):
    same(ex.run(0), ex.value(1))
    with pytest.raises((ValueError, IndexError)):
        ex.run(2)


@example("ps5_kmeans",
         r"Example: `pack_codes(np.array([1, 2, 3], dtype=np.uint8), 4)` gives `array([33, 3], dtype=uint8)` "
         r"($1 + 2 \cdot 16 = 33$, then 3 and a zero code), and `pack_codes(np.array([3, 0, 1, 2], dtype=np.uint8), 2)` "
         r"gives `array([147], dtype=uint8)` ($3 + 0 \cdot 4 + 1 \cdot 16 + 2 \cdot 64$).")
def _(ex):
    for call, shown in ((0, 1), (2, 3)):
        same(ex.run(call), ex.value(shown))
    assert [1 + 2 * 16, 3] == ex.value(1).tolist() and [3 + 0 * 4 + 1 * 16 + 2 * 64] == ex.value(3).tolist()


@example("ps5_kmeans",
         "Example: `unpack_codes(np.array([33, 3], dtype=np.uint8), 4, 3)` gives `array([1, 2, 3], dtype=uint8)`, and "
         "`unpack_codes(np.array([147], dtype=np.uint8), 2, 4)` gives `array([3, 0, 1, 2], dtype=uint8)`.")
def _(ex):
    for call, shown in ((0, 1), (2, 3)):
        same(ex.run(call), ex.value(shown))


@example("ps5_kmeans",
         r"Example: `storage_cost(1000, 16)` gives `(4512.0, 7.092198581560283)` ($1000 \cdot 4 + 16 \cdot 32$ bits, "
         r"and $32000 / 4512$).")
def _(ex):
    same(tuple(float(v) for v in ex.run(0)), ex.value(1))
    assert (1000 * 4 + 16 * 32, 32000 / 4512) == ex.value(1)


# problem set 6

@example("ps6_product_quantization",
         "Example: `train_prototypes(X, M=2, K=4)` for `X` of shape (100, 6) returns an array of shape (2, 4, 3); "
         "for `X` of shape (100, 5), it raises `ValueError`.")
def _(ex):
    shapes = [eval(s) for s in re.findall(r"shape (\(\d+, \d+(?:, \d+)?\))", ex.text)]
    X = np.random.default_rng(0).normal(size=shapes[0])
    assert np.shape(eval(ex.code[0], {**ex.namespace(), "X": X})) == shapes[1]
    with pytest.raises(ValueError):
        eval(ex.code[0], {**ex.namespace(), "X": np.zeros(shapes[2])})


@example("ps6_product_quantization",
         "Example: with `prototypes = np.array([[[0, 0], [1, 1]], [[0, 0], [2, 2]]])` ($M = 2$, $K = 2$, $d = 2$), the "
         "row `[0.875, 0.75, 0.125, 0.0]` has codes `[1, 0]`.")
def _(ex):
    pq = _pq(ex.assignments()["prototypes"])
    codes = pq.compute_codes(np.array([ex.value(1)], dtype=np.float32))
    same(codes, np.array([ex.value(2)], np.uint8))


@example("ps6_product_quantization",
         "Example: with `prototypes = np.array([[[0, 0], [1, 1]], [[0, 0], [2, -1]]])` (those of Exercise 2, except "
         "$c_{1,1} = [2, -1]$) and the query `[1.0, 2.0, 0.5, -1.0]`, the inner-product tables are `[[[0, 3], [0, 2]]]` "
         "and the squared-distance tables `[[[5, 1], [1.25, 2.25]]]`.")
def _(ex):
    pq = _pq(ex.assignments()["prototypes"])
    query = np.array([ex.value(1)])
    np.testing.assert_allclose(pq.tables(query, "ip"), ex.value(2), rtol=1e-6)
    np.testing.assert_allclose(pq.tables(query, "l2"), ex.value(3), rtol=1e-6)


@example("ps6_product_quantization",
         "Example: the tables `np.array([[[0.5, 1.5], [-1.0, 2.0]]], dtype=np.float32)` and codes "
         "`[[1, 0], [0, 1], [1, 1]]` give `[[0.5, 2.5, 3.5]]`.")
def _(ex):
    got = scan(np.array(ex.value(1), np.uint8), eval(ex.code[0], {"np": np}), backend="numpy")
    np.testing.assert_array_equal(got, ex.value(2))


@example("ps6_product_quantization",
         r"Example: `quantize_tables(np.array([[[0.0, 1.0, 2.0], [-1.0, -1.0, 0.5]]], dtype=np.float32))` gives "
         r"`q = [[[0, 64, 128], [0, 0, 96]]]`, offsets `[[0.0, -1.0]]` and scale `[64.0]` ($\Delta = 2$, "
         r"$\lfloor \log_2 127.5 \rfloor = 6$).")
def _(ex):
    q, offsets, scale = ex.run(0)
    same(q, np.array(ex.assignments()["q"], np.uint8))
    np.testing.assert_array_equal(offsets, ex.value(2))
    np.testing.assert_array_equal(scale, ex.value(3))
    assert 2.0 ** np.floor(np.log2(255 / 2)) == 2 ** 6 == scale[0]


@example("ps6_product_quantization",
         "Example: with one codebook, `split_dims = [[0, 1, 0, 1]]` and every threshold 0, the row $[1, -1]$ gets the "
         "bits 1, 0, 1, 0, that is the code $8 + 2 = 10$ (binary 1010), and the row $[-1, 1]$ the code $4 + 1 = 5$ (binary 0101); this is "
         "the first visible case.")
def _(ex):
    from autograder.ps6 import cases
    from quantref.pq import MaddnessEncoder
    dims = np.array(ex.assignments()["split_dims"])
    enc = MaddnessEncoder.from_trees(dims, np.zeros((1, 4, 8)), d=2)
    codes = enc.encode(np.array([[1.0, -1.0], [-1.0, 1.0]], dtype=np.float32))
    assert codes[:, 0].tolist() == [0b1010, 0b0101] == [10, 5]
    first = cases.maddness_cases("visible", 0)[0].args
    np.testing.assert_array_equal(first["split_dims"], dims)
    assert not first["thresholds"].any() and first["A"][:2].tolist() == [[1.0, -1.0], [-1.0, 1.0]]


@example("ps6_product_quantization",
         r"Example: the codes `[[1, 2], [3, 4]]` (two rows, two subspaces) give one block and one pair: byte 0 is "
         r"$1 + 16 \cdot 2 = 33$ (row 0), byte 2 is $3 + 16 \cdot 4 = 67$ (row 1), and the other 30 bytes are 0 (this "
         r"is the first visible case).")
def _(ex):
    from autograder.ps6 import cases
    from quantref.pq import pack_codes_4bit
    codes = np.array(ex.value(0), dtype=np.uint8)
    data = pack_codes_4bit(codes).data
    assert data.shape == (1, 1, 32)
    assert data[0, 0, 0] == 1 + 16 * 2 == 33 and data[0, 0, 2] == 3 + 16 * 4 == 67
    assert np.count_nonzero(data) == 2
    np.testing.assert_array_equal(cases.pack_cases("visible", 0)[0].args["codes"], codes)


# problem set 7

@example("ps7_adaptive_rounding",
         "Example: `rectified_sigmoid(np.array([-3.0, -1.0, 0.0, 1.0, 3.0]))` gives "
         "`array([0., 0.2227, 0.5, 0.7773, 1.])` (to 4 decimals).")
def _(ex):
    same(ex.run(0), ex.value(1), decimals=4)


@example("ps7_adaptive_rounding",
         r"Example: `rectified_sigmoid_grad(np.array([-3.0, -1.0, 0.0, 1.0, 3.0]))` gives "
         r"`array([0., 0.2359, 0.3, 0.2359, 0.])` (to 4 decimals): at $V = \pm 3$ the clip is active.")
def _(ex):
    same(ex.run(0), ex.value(1), decimals=4)
    assert ar.rectified_sigmoid_grad(np.array([-3.0, 3.0])).tolist() == [0.0, 0.0]     # exactly 0: clipped


@example("ps7_adaptive_rounding",
         r"Example: `initial_v(np.array([[0.35, -0.35, 0.1], [1.3, 0.05, -2.0]]), np.array([0.2, 0.5]))` gives "
         r"`array([[ 0.8873, -0.8873, 0.], [ 0.3365, -1.6094, -2.3979]])` (to 4 decimals; the last weight is $-4$ "
         r"steps exactly).")
def _(ex):
    same(ex.run(0), ex.value(1), decimals=4)
    assert -2.0 / 0.5 == -4 and ex.run(0)[1, 2] == -np.log(11.0)                      # rest 0: V = -log 11


@example("ps7_adaptive_rounding",
         r"Example: `rounding_regularizer(np.array([0.0, 1.0, 50.0]), 2.0)` gives `(1.6925, array([0., -0.5233, 0.]))` "
         r"(to 4 decimals): $h = 1/2$ contributes 1 and no gradient, $h(50) = 1$ contributes neither.")
def _(ex):
    same(ex.run(0), ex.value(1), decimals=4)


@example("ps7_adaptive_rounding",
         "Example: `beta_schedule(10)` gives `[None, None, 20.0, 17.75, 15.5, 13.25, 11.0, 8.75, 6.5, 4.25]`.")
def _(ex):
    assert ex.run(0) == ex.value(1)


@example("ps7_adaptive_rounding",
         r"Example: `soft_weight(np.array([[0.95, -0.95, 0.45]]), np.array([0.25]), np.array([[5.0, -5.0, 0.3]]), -3, 3)` "
         r"gives `array([[ 0.75, -0.75, 0.3973]])` (to 4 decimals): $W/s = 3.8$ and $-3.8$ lie beyond the 3-bit grid "
         r"and are clipped to $\pm 3$ steps.")
def _(ex):
    same(ex.run(0), ex.value(1), decimals=4)
    assert np.allclose(np.array([0.95, -0.95]) / 0.25, [3.8, -3.8])


@example("ps7_adaptive_rounding",
         "Example: `hard_rounding(np.array([[0.35, -0.35, 0.1]]), np.array([0.2]), np.array([[0.0, 50.0, -1.0]]), -3, 3)` "
         "gives `array([[ 2, -1,  0]])`.")
def _(ex):
    same(ex.run(0), ex.value(1))


# problem set 8

@example("ps8_low_bit_weights",
         "Example: `groupwise_quantize(np.array([[-1.0, 0.5, 2.0, 3.0]]), group_size=2)` gives codes `[[0, 15, 10, 15]]`, "
         "scales `[[0.1, 0.2]]` and zero points `[[10, 0]]`.")
def _(ex):
    codes, scales, zero_points = ex.run(0)
    same(codes, np.array(ex.value(1), np.uint8))
    np.testing.assert_allclose(scales, ex.value(2), rtol=1e-15)      # 1.5 / 15 and 3 / 15 in float64
    np.testing.assert_array_equal(zero_points, ex.value(3))


@example("ps8_low_bit_weights",
         "Example: `pack_nibbles(np.array([[1, 2, 15, 0]], dtype=np.uint8))` gives `array([[33, 15]], dtype=uint8)`.")
def _(ex):
    same(ex.run(0), ex.value(1))
    assert 1 + 16 * 2 == 33 and 15 + 16 * 0 == 15


@example("ps8_low_bit_weights",
         "Example: `unpack_nibbles(np.array([[33, 15]], dtype=np.uint8))` gives `array([[ 1,  2, 15,  0]], dtype=uint8)`.")
def _(ex):
    same(ex.run(0), ex.value(1))


@example("ps8_low_bit_weights",
         "Example: `encode_e4m3(np.array([0.1, -3.0, 1000.0], dtype=np.float32))` gives "
         "`array([ 29, 196, 126], dtype=uint8)`.")
def _(ex):
    same(ex.run(0), ex.value(1))


@example("ps8_low_bit_weights",
         "Example: `decode_e4m3(np.array([0x38, 0x01, 0x7E, 0xFE, 0x7F], dtype=np.uint8))` gives "
         "`[1.0, 0.001953125, 448.0, -448.0, nan]`.")
def _(ex):
    got = ex.run(0)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.array(ex.value(1)))      # NaN where NaN


@example("ps8_low_bit_weights",
         "Example: `encode_nf4(np.array([0.5, -1.0, 0.04, 2.0]), block_size=4)` gives codes `[10, 2, 7, 15]` and "
         "absmax `[2.0]`.")
def _(ex):
    codes, absmax = ex.run(0)
    same(codes, np.array(ex.value(1), np.uint8))
    same(absmax, np.array(ex.value(2), np.float32))


# problem set 9
@example("ps9_capstone",
         r"Example: `w = [[[[1.0]]]]`, `b = [1.0]`, `gamma = [2.0]`, `beta = [0.5]`, `mean = [3.0]`, "
         r"`var = [4.0 - 1e-5]`, `eps = 1e-5` gives the factor $2/2 = 1$, so `w_folded = [[[[1.0]]]]` and "
         r"`b_folded = [-1.5]` ($(1 - 3) \cdot 1 + 0.5 = -1.5$).")
def _(ex):
    from quantref.conv import fold_batch_norm
    v = ex.assignments()
    w, b = fold_batch_norm(np.array(v["w"]), v["b"], v["gamma"], v["beta"], v["mean"], v["var"], v["eps"])
    same(w, np.array(v["w_folded"]))
    same(b, np.array(v["b_folded"]))


@example("ps9_capstone",
         "Example: `w = [[[[1.27, -0.5], [0.02, 0.0]]], [[[2.54, 0.01], [-1.0, 0.3]]]]` has scales `[0.01, 0.02]` and "
         "codes `[[[[127, -50], [2, 0]]], [[[127, 0], [-50, 15]]]]` (0.01 / 0.02 = 0.5 rounds to 0, the even neighbour).")
def _(ex):
    w = np.array(ex.assignments()["w"])
    codes, scales = qi.quantize_weights_per_channel(w.reshape(len(w), -1))
    same(codes.reshape(w.shape), np.array(ex.value(2), np.int8))
    np.testing.assert_allclose(scales, ex.value(1), rtol=1e-12)       # 1.27 / 127 in binary floating point


@example("ps9_capstone",
         "Example: `quantize_conv_bias(np.array([0.5, -0.25]), 0.1, np.array([0.5, 0.01]))` gives "
         "`array([10, -250], dtype=int32)`.")
def _(ex):
    same(eval(ex.code[0], {"np": np, "quantize_conv_bias": qi.quantize_bias}), ex.value(1))


@example("ps9_capstone",
         r"Example: `layer_multipliers(0.5, np.array([0.06]), 0.1)` has $M = 0.3 = 0.6 \cdot 2^{-1}$ and gives "
         r"`(array([1288490189]), array([1]))`.")
def _(ex):
    def layer_multipliers(input_scale, weight_scales, output_scale):
        return qi.quantize_multiplier(input_scale * weight_scales / output_scale)
    m0, shift = eval(ex.code[0], {"np": np, "layer_multipliers": layer_multipliers})
    shown_m0, shown_shift = ex.value(1)
    same(m0.astype(np.int64), shown_m0)
    same(shift.astype(np.int64), shown_shift)
    assert math.isclose(0.6 * 2 ** -1, 0.5 * 0.06 / 0.1) and round(0.6 * 2 ** 31) == shown_m0[0]


@example("ps9_capstone",
         "Example (the first visible case): a 3 × 3 image `[[10, 20, 30], [40, 50, 60], [70, 80, 90]]`, $z_x = 0$, a "
         "kernel with 2 at its centre and −1 at its top-left corner, bias 100, $M_0 = 2^{30}$, shift 1 (so $M = 1/4$), "
         r"$z_{out} = 5$, no ReLU: the centre pixel's accumulator is $2 \cdot 50 - 10 + 100 = 190$, and $190/4 = 47.5$ "
         "rounds half away from zero to 48, so its code is $48 + 5 = 53$.")
def _(ex):
    from quantref.conv import im2col
    x = np.array(ex.value(0), np.uint8).reshape(1, 1, 3, 3)
    w = np.zeros((1, 9), np.int8)
    w[0, 4], w[0, 0] = 2, -1                                            # centre, top-left
    acc = int_matmul(im2col(x, 3, 1, pad_value=0), np.ascontiguousarray(w.T)) + 100
    assert acc.reshape(3, 3)[1, 1] == 190
    codes = qi.requantize(acc, (2 ** 30, 1), 5, 0, 255).reshape(3, 3)
    assert codes[1, 1] == 53


# -- the tests -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("ex, check", CHECKS, ids=[f"{e.notebook}:{e.code[0] if e.code else e.text[:30]}"[:80]
                                                   for e, _ in CHECKS])
def test_example_is_what_quantref_computes(ex, check):
    assert ex.text in _paragraphs(ex.notebook), (
        f"this example is no longer in {ex.notebook}'s text word for word; update its entry here:\n{ex.text}")
    check(ex)


@pytest.mark.parametrize("ex", [e for e, _ in CHECKS if arithmetic_in(e.text)],
                         ids=lambda e: f"{e.notebook}:{e.code[0] if e.code else e.text[:30]}"[:80])
def test_the_arithmetic_written_out_in_an_example_holds(ex):
    for tex, left, right, decimals in arithmetic_in(ex.text):
        if decimals is None:
            assert left == pytest.approx(right, rel=1e-12, abs=1e-12), f"${tex}$ is {left}"
        else:
            assert round(left, decimals) == right, f"${tex}$: the left side is {left}"


def test_the_arithmetic_reader_reads_what_it_should():
    found = [(tex, left) for tex, left, _, _ in arithmetic_in(
        r"$2^{31} = 2147483648$, $0.1\,(0 - 2) = -0.2$, $(1)(-2) = 3$, $M = 1/4$, $\sqrt{31} \approx 5.568$")]
    assert [tex for tex, _ in found] == ["2^{31} = 2147483648", r"0.1\,(0 - 2) = -0.2", "(1)(-2) = 3", r"\sqrt{31} \approx 5.568"]
    assert [left for _, left in found] == pytest.approx([2 ** 31, -0.2, -2, 31 ** 0.5])
    with pytest.raises(AssertionError):
        test_the_arithmetic_written_out_in_an_example_holds(Example("x", "Example: $1 + 2 \\cdot 16 = 34$."))


def test_every_example_in_the_problem_sets_is_checked():
    listed = {(e.notebook, e.text) for e, _ in CHECKS}
    unchecked = [(path.parent.name, p) for path in sorted(SOURCE.glob("*/*.ipynb"))
                 for p in _paragraphs(path.parent.name)
                 if re.match(r"Examples?\b", p) and (path.parent.name, p) not in listed]
    assert not unchecked, "examples in the problem sets' text that no test runs (add them to CHECKS):\n" + \
        "\n".join(f"{nb}: {p[:120]}" for nb, p in unchecked)
