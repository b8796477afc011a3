"""Errata found in the course's text, each pinned so that it cannot come back.

Each test states the fact the text got wrong, checks the fact (against quantref or an independent
computation), and checks that the text now says it.
"""
from __future__ import annotations

import re

import nbformat
import numpy as np
import pytest

from course_helpers import ROOT

from quantref import llm


def _markdown_and_code(path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "\n".join(c.source for c in nb.cells)


def _sentences_about(text: str, *words: str) -> list[str]:
    """The sentences of ``text`` (comment lines joined) that contain every one of ``words``."""
    text = re.sub(r"\n\s*#:?\s*", " ", text)
    sentences = re.split(r"(?<=[.;])\s+", text)
    return [s for s in sentences if all(w.lower() in s.lower() for w in words)]


# -- SmoothQuant's clamps: its code clamps the weight maxima and the factors, not the activation maxima

def _smooth_py_factors(act_max, w, alpha):
    """The factors as SmoothQuant's ``smooth_ln_fcs`` computes them (``act_scales`` from calibration)."""
    weight_scales = np.maximum(np.abs(w).max(axis=0), 1e-5)
    return np.maximum(act_max ** alpha / weight_scales ** (1 - alpha), 1e-5)


def test_smoothquant_code_clamps_weight_maxima_and_factors_only():
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(8, 5)), rng.normal(size=(3, 5))
    w[:, 4] = 0.0                                            # an all-zero weight channel: both clamp it
    np.testing.assert_allclose(llm.smoothing_factors(x, w, 0.5), _smooth_py_factors(np.abs(x).max(axis=0), w, 0.5),
                               rtol=1e-12)
    x[:, 1] = 0.0                                            # an all-zero activation channel: only quantref clamps it
    ours = llm.smoothing_factors(x, w, 0.5)
    theirs = _smooth_py_factors(np.abs(x).max(axis=0), w, 0.5)
    assert theirs[1] == 1e-5
    assert ours[1] == np.sqrt(1e-5) / np.sqrt(np.abs(w[:, 1]).max())
    np.testing.assert_allclose(np.delete(ours, 1), np.delete(theirs, 1), rtol=1e-12)


def test_text_attributes_only_the_weight_and_factor_clamps_to_smoothquant():
    texts = {"quantref/llm/methods.py": (ROOT / "quantref/llm/methods.py").read_text(),
             "ps4": _markdown_and_code(ROOT / "course/source/ps4_llm_outliers/ps4_llm_outliers.ipynb")}
    for name, text in texts.items():
        about = _sentences_about(text, "SmoothQuant", "clamp") + _sentences_about(text, "reference code", "clamp")
        assert about, f"{name} should say what SmoothQuant's code clamps"
        for sentence in about:
            assert "weight maxima" in sentence and "both maxima" not in sentence, f"{name}: {sentence!r}"


# -- LLM.int8(): the analysis definition of an outlier feature is not the run-time decomposition rule

def _ps4_cell(cell_id: str) -> str:
    nb = nbformat.read(ROOT / "course/source/ps4_llm_outliers/ps4_llm_outliers.ipynb", as_version=4)
    return next(c.source for c in nb.cells if c.get("id") == cell_id)


def test_the_run_time_rule_needs_one_large_value_only():
    x = np.random.default_rng(0).uniform(-1, 1, size=(100, 4))
    x[37, 2] = 6.0                         # one token in 100 (1 %, under the analysis' 6 % of positions)
    np.testing.assert_array_equal(llm.outlier_columns(x), [2])


def test_ps4_keeps_the_analysis_definition_apart_from_the_run_time_rule():
    intro, task = _ps4_cell("intro"), _ps4_cell("outlier_columns_task")
    analysis = _sentences_about(intro, "25 %", "6 %", "layers")
    assert analysis, "the introduction states the paper's analysis definition (>= 6 in 25 % of layers, 6 % of positions)"
    assert "not what the method applies at run time" in intro
    rule = _sentences_about(task, "at least one token", "6.0")
    assert rule and all("run time" in s.lower() for s in rule), rule
    assert not _sentences_about(task, "25 %") and not _sentences_about(task, "6 % of")


# -- Lecture 6: SmoothQuant's O-levels, and what alpha = 0 does

LECTURE_06 = ROOT / "lectures" / "06_llm_outliers.ipynb"


def test_quantref_smoothquant_activation_scales_are_dynamic():
    """Scaling X by 4 leaves the error unchanged: the scale follows the tensor (O1/O2), it is not fixed (O3)."""
    layer = llm.synthetic_layer(tokens=64, in_features=256, out_features=32, n_outliers=2, seed=0)
    for granularity in ("per_tensor", "per_token"):
        base = llm.smoothquant(layer.x, layer.w, 0.5, act_granularity=granularity).rel_error
        assert llm.smoothquant(4 * layer.x, layer.w, 0.5, act_granularity=granularity).rel_error == \
            pytest.approx(base, rel=1e-9)


def test_lecture_06_calls_dynamic_per_tensor_activations_o2():
    code = _markdown_and_code(LECTURE_06)
    line = next(l for l in code.splitlines() if l.startswith("res_sq = llm.smoothquant(X, W, alpha)"))
    assert "(O2)" in line and "O3" not in line, line
    assert "O3" not in (ROOT / "quantref/llm/methods.py").read_text().replace("O3 is not modelled", "")


def test_alpha_zero_multiplies_each_activation_column_by_its_weight_maximum():
    layer = llm.synthetic_layer(tokens=32, in_features=128, out_features=16, n_outliers=2, seed=1)
    x_s, w_s, s = llm.smooth(layer.x, layer.w, 0.0)
    w_max = np.abs(layer.w).max(axis=0)
    np.testing.assert_allclose(s, 1 / w_max, rtol=1e-12)
    np.testing.assert_allclose(x_s, layer.x * w_max, rtol=1e-12)
    np.testing.assert_allclose(np.abs(w_s).max(axis=0), 1.0, rtol=1e-12)
    for name, text in (("lecture 6", _markdown_and_code(LECTURE_06)),
                       ("quantref.llm", (ROOT / "quantref/llm/methods.py").read_text())):
        assert "leaves the activations alone" not in text, name
        assert _sentences_about(text, "alpha", "multiplied", "max"), f"{name} should say what alpha = 0 does to X"


# -- Lecture 2 checks the Q31 multiplier with the rounding ps2 asks for: ties up, not Python's ties to even

def test_lecture_02_checks_the_multiplier_with_ties_up():
    from quantref.integer import quantize_multiplier
    tie = 0.5 + 2.0 ** -32                      # f * 2^31 = 2^30 + 1/2 exactly: a tie
    assert quantize_multiplier(tie) == (2 ** 30 + 1, 0)
    assert round(tie * 2 ** 31) == 2 ** 30      # Python's round (ties to even) disagrees on it
    code = _markdown_and_code(ROOT / "lectures" / "02_integer_arithmetic.ipynb")
    line = next(l for l in code.splitlines() if l.startswith("assert n == -exp and m0 =="))
    expression = line.split("m0 ==", 1)[1].split("#")[0]
    assert eval(expression, {"np": np, "frac": tie}) == 2 ** 30 + 1, f"the lecture checks M0 with {expression.strip()}"
    assert "ties **up**" in code


# -- Lecture 1: consumer graphics cards with 32 GB exist, so 28 GB is not "more than any" of them holds

def test_lecture_01_does_not_claim_no_consumer_card_holds_28_gb():
    text = _markdown_and_code(ROOT / "lectures" / "01_linear_quantization.ipynb")
    about = _sentences_about(text, "consumer", "GB")
    assert about, "lecture 1 compares the 7B model's size with consumer graphics cards"
    for sentence in about:
        assert not re.search(r"\bany consumer\b|\bno consumer\b", sentence), sentence
        assert "32 GB" in sentence, "name the largest consumer cards' memory, against which 28 GB is compared"
