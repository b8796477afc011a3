"""The numbers a lecture's prose quotes are the numbers the lecture computes.

A lecture's text says "the error drops from 53 % to 96 %" about a table its code prints. If a
change to quantref, to a seed or to the code moves the table, the sentence must move with it.
Each claim below pairs a pattern on the lecture's Markdown, which captures the numbers as written,
with a pattern on the executed lecture's outputs, which captures the numbers computed, and a rule
saying how they must agree (by default: the computed number, rounded to the digits the prose
shows, is the prose's number).

The fast test checks that every claim still finds its sentence in the committed lecture; the slow
test runs each lecture once per test run (the session fixture ``executed_notebook``, shared with
tests/test_notebooks.py) and compares. Arithmetic written out in the prose (``$0.99^{41} \\approx
66\\,\\%$``) is checked too. When you change a sentence or an output format, change its claim here.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Callable

import nbformat
import pytest

from course_helpers import ROOT

LECTURES = ROOT / "lectures"
_NUMBER = r"-?\d[\d,]*(?:\.\d+)?(?:e[+-]?\d+)?"


def _value(text: str) -> float:
    return float(text.replace("{,}", "").replace(",", ""))


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def markdown_of(nb) -> str:
    """A lecture's Markdown, whitespace collapsed (a sentence may wrap anywhere)."""
    return " ".join(" ".join(c.source.split()) for c in nb.cells if c.cell_type == "markdown")


def outputs_of(nb) -> str:
    """Everything an executed lecture printed or displayed as text (streams, Markdown tables, reprs)."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "stream" and out.get("name") == "stdout":
                parts.append(out.get("text", ""))
            data = out.get("data", {})
            parts.append(data.get("text/markdown", "") or data.get("text/plain", ""))
    return "\n".join(parts)


# -- how a prose number and a computed one must agree ---------------------------------------------

def rounds_to(prose: list[str], computed: list[float]) -> bool:
    """Each computed number, rounded to the decimals the prose shows, is the prose's number."""
    return len(prose) == len(computed) and all(
        round(c, _decimals(p)) == _value(p) for p, c in zip(prose, computed))


def within(rel: float) -> Callable:
    """Each computed number is within ``rel`` (relative) of the prose's: for "about" and "roughly"."""
    def agree(prose, computed):
        return len(prose) == len(computed) and all(
            abs(c - _value(p)) <= rel * abs(_value(p)) for p, c in zip(prose, computed))
    agree.__name__ = f"within {rel:.0%}"
    return agree


def spans(prose: list[str], computed: list[float]) -> bool:
    """The prose gives a range "a to b" (or "a- to b-fold"): every computed number lies in it, up to rounding."""
    low, high = _value(prose[0]), _value(prose[1])
    return all(low - 0.5 <= c < high + 0.5 for c in computed)


@dataclass
class Claim:
    """A sentence of a lecture and the outputs it quotes.

    ``prose``: a regular expression on the lecture's Markdown, one group per number quoted.
    ``printed``: a regular expression on the executed lecture's outputs, whose groups (over all
    matches, in order) are the computed numbers; or a function of the outputs returning them.
    ``agree``: how the two lists must agree.
    """

    prose: str
    printed: str | Callable[[str], list[float]]
    agree: Callable[[list[str], list[float]], bool] = rounds_to
    note: str = ""

    def quoted(self, markdown: str) -> list[str]:
        found = re.search(self.prose, markdown)
        assert found, f"the lecture no longer says {self.prose!r}; update this claim"
        return [g for g in found.groups() if g is not None]

    def computed(self, outputs: str) -> list[float]:
        if callable(self.printed):
            return list(self.printed(outputs))
        values = [_value(g) for m in re.finditer(self.printed, outputs) for g in m.groups() if g is not None]
        assert values, f"the lecture's outputs no longer show {self.printed!r}; update this claim"
        return values


def ratio(numerator: str, denominator: str) -> Callable[[str], list[float]]:
    """The ratio of the first numbers printed after two patterns (for "4x fewer", "cuts by 4")."""
    def compute(outputs):
        a = re.search(numerator, outputs)
        b = re.search(denominator, outputs)
        assert a and b, (numerator, denominator)
        return [_value(a.group(1)) / _value(b.group(1))]
    return compute


def table_column(row_pattern: str, column: int) -> Callable[[str], list[float]]:
    """Column ``column`` (0 = first) of the Markdown table rows matching ``row_pattern``, as numbers."""
    def compute(outputs):
        values = []
        for line in outputs.splitlines():
            if line.startswith("|") and re.search(row_pattern, line):
                cell = [c.strip() for c in line.strip("|").split("|")][column]
                values.append(_value(re.search(_NUMBER, cell).group()))
        assert values, f"no table row matches {row_pattern!r}"
        return values
    return compute


def _row(outputs: str, row_pattern: str) -> list[str]:
    for line in outputs.splitlines():
        if line.startswith("|") and re.search(row_pattern, line):
            return [c.strip() for c in line.strip("|").split("|")]
    raise AssertionError(f"no table row matches {row_pattern!r}")


def _cell(outputs: str, row_pattern: str, column: int, nth: int = 0) -> float:
    rows = [line for line in outputs.splitlines() if line.startswith("|") and re.search(row_pattern, line)]
    assert len(rows) > nth, f"no table row {nth} matches {row_pattern!r}"
    cell = [c.strip() for c in rows[nth].strip("|").split("|")][column]
    return _value(re.search(_NUMBER, cell).group())


# -- the claims, lecture by lecture -----------------------------------------------------------------

CLAIMS: dict[str, list[Claim]] = {
    "01_linear_quantization": [
        Claim(r"A 7-billion-parameter model needs (\d+) GB in fp32 .* and (\d+\.\d) GB in int4",
              table_column(r"^\| (fp32|int4 \(2 per byte\)) \| \d+ \|", 4)),
        Claim(r"An 8-bit integer multiply costs about (\d+)× less energy than a 32-bit float multiply",
              lambda out: [_cell(out, r"^\| 32-bit float mult \|", 1) / _cell(out, r"^\| 8-bit int mult \|", 1)],
              within(0.05)),
        Claim(r"and an 8-bit add (\d+)× less than a float add",
              lambda out: [_cell(out, r"^\| 32-bit float add \|", 1) / _cell(out, r"^\| 8-bit int add \|", 1)]),
        Claim(r"reading 32 bits from DRAM costs more than a (hundred) float multiplies",
              lambda out: [_cell(out, r"^\| 32-bit DRAM read \|", 1) / _cell(out, r"^\| 32-bit float mult \|", 1)],
              lambda prose, computed: computed[0] > 100),
        Claim(r"Even in fp32 the arithmetic is under (\d+) % of the energy",
              lambda out: [100 * _cell(out, r"^\| fp32 \| [\d.]+ \| [\d,]+ \| [\d,]+ \|$", 1) / _cell(out, r"^\| fp32 \| [\d.]+ \| [\d,]+ \| [\d,]+ \|$", 3)],
              lambda prose, computed: computed[0] < _value(prose[0])),
        Claim(r"and so nearly the whole bill, by (\d+)×",
              lambda out: [_cell(out, r"^\| fp32 \| [\d.]+ \| [\d,]+ \| [\d,]+ \|$", 3) / _cell(out, r"^\| int8 \| [\d.]+ \| [\d,]+ \| [\d,]+ \|$", 3)],
              within(0.02)),
        Claim(r"which is why int4 per channel loses about a (third) of each row",
              lambda out: [_cell(out, r"^\| 4 \| per channel \| 64 \|", 3)],
              lambda prose, computed: abs(computed[0] - 1 / 3) < 0.05),
        Claim(r"only the groups that contain an outlier input pay for it, and the error roughly (halves) again",
              lambda out: [_cell(out, r"^\| 4 \| per channel \| 64 \|", 3) / _cell(out, r"^\| 4 \| per group", 3)],
              lambda prose, computed: 1.7 <= computed[0] <= 2.5),
        Claim(r"Per-channel scales are essentially free \(one per (\d+) weights\)",
              lambda out: [_cell(out, r"^\| 8 \| per channel \| 16,384 \|", 2)      # int8 code bytes = weights
                           / _cell(out, r"^\| 8 \| per channel \| 64 \|", 2)]),       # number of scales
        Claim(r"so its step is about (twice) as large \(twice the rounding error\) for the same 3 bits",
              r"asymmetric, unsigned \[0, 7\] +s = ([\d.]+) .*\nsymmetric, signed \[-4, 3\] +s = ([\d.]+)",
              lambda prose, computed: abs(computed[1] / computed[0] - 2) < 0.15),
        Claim(r"int4 with \$G = 32\$ really costs (\d\.\d) bits per weight",
              lambda out: [_cell(out, r"^\| 4 \| per group \(G = 32\) \| 8,192 \|", 4)]),
        Claim(r"the smallest channels fall below half a step and are quantized to all zeros \(relative error (1)\)",
              lambda out: [_cell(out, r"^\| 8 \| per tensor \| 1 \|", 4)], lambda prose, computed: computed == [1.0]),
    ],
    "02_integer_arithmetic": [
        Claim(r"\$\|q_a q_b\| \\le 255 \\cdot 128 = (32\{,\}640)\$ for uint8 × int8, \$128 \\cdot 128 = (16\{,\}384)\$ "
              r"for int8 × int8, \$255\^2 = (65\{,\}025)\$ for uint8 × uint8",
              lambda out: [_cell(out, rf"^\| {ops} \| 0 \| 0 \|", 3) for ops in ("uint8 x int8", "int8 x int8", "uint8 x uint8")]),
        Claim(r"int32 is exact up to \$K\$ of about (65,000) \(uint8 × int8\)",
              lambda out: [_cell(out, r"^\| uint8 x int8 \| 0 \| 0 \|", 4)], within(0.02)),
        Claim(r"typically \$n \\ge (6)\$\), so fewer than (1) % of the outputs move",
              lambda out: [_value(row[3].rstrip("%")) for row in
                           ([c.strip() for c in line.strip("|").split("|")] for line in out.splitlines()
                            if re.match(r"^\| 0\.\d+ \| \d+ \| \d+ \|", line)) if int(row[2]) >= 6],
              lambda prose, computed: computed and all(c < _value(prose[1]) for c in computed)),
        Claim(r"that happens for about a fraction \$2\^\{-\(n\+1\)\}\$ of (them)",
              lambda out: [_cell(out, r"^\| 0\.\d+ \| \d+ \| \d+ \|", 3, i) / _cell(out, r"^\| 0\.\d+ \| \d+ \| \d+ \|", 4, i)
                           for i in range(4)],
              lambda prose, computed: all(0.9 <= c <= 1.1 for c in computed)),
        Claim(r"The weights shrink exactly (4)×", r"weights alone: ([\d,]+) B float32 -> ([\d,]+) B int8",
              lambda prose, computed: computed[0] / computed[1] == _value(prose[0])),
        Claim(r"Accuracy is (unchanged) on this task", r"float accuracy ([\d.]+)%, integer accuracy ([\d.]+)%",
              lambda prose, computed: computed[0] == computed[1]),
        Claim(r"Each layer is a \$450 \\times 64 \\times 64\$ product, about (\d\.\d) million operations",
              r"layer 1 core work: ([\d.]+) MOP"),
    ],
    "03_calibration_and_ptq": [
        Claim(r"by up to (\d\.\d)x on the Student-\$t\$ tensor and (\d\.\d)x on the activations \(held-out\)",
              lambda out: [_cell(out, r"^\| min/max \|", 6, 0) / _cell(out, r"^\| MSE \|", 6, 0),
                           _cell(out, r"^\| min/max \|", 6, 1) / _cell(out, r"^\| MSE \|", 6, 1)]),
        Claim(r"the observers that clip a little \(99\.99 %, MSE, the moving average\) gain (\d+) to (\d+) % over min/max",
              lambda out: [100 * (_cell(out, r"^\| min/max \|", 3, 1) / _cell(out, row, 3, 1) - 1)
                           for row in (r"^\| percentile 99\.99 \|", r"^\| MSE \|", r"^\| moving average")],
              spans),
        Claim(r"those that clip a lot \(99\.9 %, entropy\) lose a factor of (\d+) to (\d+)",
              lambda out: [_cell(out, row, 3, 1) / _cell(out, r"^\| min/max \|", 3, 1)
                           for row in (r"^\| percentile 99\.9 \|", r"^\| entropy \|")],
              spans),
        Claim(r"the held-out sample reaches \$\|x\| \\approx (\d+)\$", r"held-out (\d+)\.\d", within(0.01)),
        Claim(r"at 8 bits it over-clips the activations \((\d+)x the MSE of min/max\)",
              lambda out: [_cell(out, r"^\| entropy \|", 3, 1) / _cell(out, r"^\| min/max \|", 3, 1)], within(0.05)),
        Claim(r"At 8 bits almost nothing should be clipped \(best p = (\d+\.\d+)\); at 4 and 3 bits the best percentiles "
              r"are (\d+\.\d+) and (\d+\.\d+)\.",
              lambda out: [_cell(out, r"^\| 8 \| \d+\.\d+ \| [\d.]+ % \|", 1), _cell(out, r"^\| 4 \| \d+\.\d+ \| [\d.]+ % \|", 1),
                           _cell(out, r"^\| 3 \| \d+\.\d+ \| [\d.]+ % \|", 1)]),
        Claim(r"MSE ranges per tensor already beat min/max per channel by (\d\.\d)x",
              lambda out: [_cell(out, r"^\| 2 \| min/max \|", 3) / _cell(out, r"^\| 2 \| MSE \|", 2)]),
        Claim(r"the channels of \$W_1\$ span a factor of (three) in range",
              r"max\|W_c\| over output channels from ([\d.]+) to ([\d.]+)",
              lambda prose, computed: round(computed[1] / computed[0]) == 3),
        Claim(r"and accuracy falls by about (ten) points \*at 8 bits\*",
              lambda out: [_cell(out, r"^\| 128 random training images \(default\)", 3)
                           - _cell(out, r"^\| 128 random images at 30 % brightness", 3)],
              lambda prose, computed: round(computed[0]) == 10),
        Claim(r"MSE-calibrated weights rescue W2A8 \(from about (\d+) % to nearly (\d+) %\)",
              lambda out: [_cell(out, r"^\| W2A8 \|", 4, 1), _cell(out, r"^\| W2A8 \|", 7, 1)]),
        Claim(r"after all (\d+) batches the first batch still carries", r"(\d+) mini-batches of 32",
              lambda prose, computed: computed[0] == _value(prose[0])),
        Claim(r"Clipping a weight of (0\.\d\d) down to (0\.\d+) costs", r"a_max = ([\d.]+) \(max\|w\| = ([\d.]+)\)",
              lambda prose, computed: [round(computed[1], 2), round(computed[0], 3)] == [_value(p) for p in prose]),
        Claim(r"With 64 values in 2048 bins this, or something close to it, happens to more than (half) of the channels",
              r"searching from i = L, (\d+) of (\d+) channels would be clipped",
              lambda prose, computed: computed[0] > computed[1] / 2),
    ],
    "04_quantization_aware_training": [
        Claim(r"the two rules disagree on about one weight in (six) of the digits MLP",
              lambda out: [_cell(out, r"^\| 2 \| [\d.]+ % \| [\d.]+ % \|", 2) - _cell(out, r"^\| 2 \| [\d.]+ % \| [\d.]+ % \|", 1)],
              lambda prose, computed: abs(computed[0] - 100 / 6) < 3),
        Claim(r"the latent weight walks to the rounding threshold \$(0\.375)\$",
              lambda out: [_cell(out, rf"^\| {w0} \| [\d.]+ \|", 1) for w0 in ("-0.7", "0.05", "0.6")],
              lambda prose, computed: all(c == _value(prose[0]) for c in computed)),
        Claim(r"the \*time average\* of \$\\operatorname\{fq\}\(w\)\$ is exactly \$w\^\\star\$",
              lambda out: [_cell(out, rf"^\| {w0} \| [\d.]+ \|", 3) for w0 in ("-0.7", "0.05", "0.6")],
              lambda prose, computed: all(c == 0.3 for c in computed)),
        Claim(r"One test image is (0\.22) points", r"one test image = ([\d.]+)%"),
        Claim(r"\(`qat_finetune`'s docstring reports (\d+)–(\d+) % versus (\d+)–(\d+) % over three seeds\)",
              lambda out: [_cell(out, r"^\| W2A2, minmax weight ranges \| [\d.]+ % \|", 3),
                           _cell(out, r"^\| W2A2, mse weight ranges \| [\d.]+ % \|", 3)],
              lambda prose, computed: spans(prose[:2], computed[:1]) and spans(prose[2:], computed[1:])),
        Claim(r"\*\*8 bits:\*\* nothing to gain\. PTQ (matches) the float model; QAT is within a test image or (two) of it",
              lambda out: [_cell(out, r"^\| 8 \| [\d.]+ \| [\d.]+ \|", c) for c in (1, 2, 4)],
              lambda prose, computed: computed[1] == computed[0] and abs(computed[2] - computed[0]) <= 2 * 0.23),
        Claim(r"\*\*4 bits:\*\* PTQ with min/max ranges loses well under a (point)",
              lambda out: [_cell(out, r"^\| 4 \| [\d.]+ \| [\d.]+ \|", 1) - _cell(out, r"^\| 4 \| [\d.]+ \| [\d.]+ \|", 2)],
              lambda prose, computed: 0 <= computed[0] < 0.75),
        Claim(r"QAT recovers to within about (half) a point of the float model, (one) to (two) points above the better PTQ",
              lambda out: [_cell(out, r"^\| 3 \| [\d.]+ \| [\d.]+ \|", 1) - _cell(out, r"^\| W3A3 \|", 3),
                           _cell(out, r"^\| W3A3 \|", 3) - max(_cell(out, r"^\| W3A3 \|", 1), _cell(out, r"^\| W3A3 \|", 2))],
              lambda prose, computed: computed[0] <= 0.75 and 0.75 <= computed[1] < 2.5),
        Claim(r"QAT gains another (six) to (eight) points on top",
              lambda out: [_cell(out, r"^\| W2A2 \|", 3) - _cell(out, r"^\| W2A2 \|", 2),
                           _cell(out, r"^\| 2 \| [\d.]+ \| [\d.]+ \|", 4) - _cell(out, r"^\| 2 \| [\d.]+ \| [\d.]+ \|", 3)],
              lambda prose, computed: all(5.5 <= c < 8.5 for c in computed)),
        Claim(r"The full table computes in well under the (two)-minute budget", r"computed in ([\d.]+) s",
              lambda prose, computed: computed[0] < 120),
    ],
    "05_adaptive_rounding": [
        Claim(r"Their correlation is a moderate (\d\.\d\d)", r"correlation (\d\.\d\d);"),
        Claim(r"for most neurons only a (few percent) of the 4096 roundings beat it",
              r"median share of roundings that beat it ([\d.]+)%", lambda prose, computed: 0.5 <= computed[0] < 10),
        Claim(r"it is optimal for only a (handful) of the 64 neurons",
              r"nearest is the best rounding for (\d+) of 64 neurons", lambda prose, computed: 1 <= computed[0] <= 12),
        Claim(r"the best rounding typically has less than (half) its output error",
              r"median gain of the best rounding ([\d.]+)x", lambda prose, computed: computed[0] > 2),
        Claim(r"AdaRound cuts the output error of the layer roughly (five)- to (seven)fold at every bit width",
              lambda out: [_cell(out, rf"^\| {b} \| [\d.]+ \| [\d.]+ \| [\d.]+x \|", col)
                           for b in (4, 3, 2) for col in (3, 6)],
              lambda prose, computed: all(4.5 <= c < 7.5 for c in computed)),
        Claim(r"It flips only about one weight in (eight)",
              lambda out: [_cell(out, rf"^\| {b} \| [\d.]+ \| [\d.]+ \| [\d.]+x \|", 8) for b in (4, 3, 2)],
              lambda prose, computed: all(abs(c - 100 / 8) < 2.5 for c in computed)),
        Claim(r"it brings the network back above (\d+) %", lambda out: [_cell(out, r"^\| W2A8 \|", 3)],
              lambda prose, computed: computed[0] > _value(prose[0])),
        Claim(r"the whole network goes from (\d+) % to (\d+) % at W3A8 and from (\d+) % to (\d+) % at W2A8",
              lambda out: [_cell(out, r"^\| W3A8 \|", 2), _cell(out, r"^\| W3A8 \|", 3),
                           _cell(out, r"^\| W2A8 \|", 2), _cell(out, r"^\| W2A8 \|", 3)]),
        Claim(r"where round-to-nearest PTQ loses almost (half) the test images",
              lambda out: [_cell(out, r"^\| W2A8 \|", 2)], lambda prose, computed: 50 <= computed[0] < 60),
    ],
    "06_llm_outliers": [
        Claim(r"They are few but not rare: (almost every) token has an outlier in at least one of them",
              r"tokens with at least one: (\d+)%", lambda prose, computed: computed[0] >= 95),
        Claim(r"because they are so large they carry (most) of the output's energy",
              r"share of \|\|Y\|\|\^2 from the 6 outlier channels \([\d.]+% of the inputs\): ([\d.]+)%",
              lambda prose, computed: computed[0] > 50),
        Claim(r"the ordinary part of \$X\$ is reproduced with about (\d+) % error",
              r"relative error of X on the ordinary channels: ([\d.]+)%", within(0.15)),
        Claim(r"Half of the ordinary values are rounded to 0 and the rest share a (dozen) codes",
              r"ordinary values use (\d+) of 255 codes \(-?\d+ to \d+\); (\d+)% of them become 0",
              lambda prose, computed: computed[0] - 1 in (11, 12, 13) and 40 <= computed[1] <= 60),
        Claim(r"the contribution of the other (\d+) channels", r"max \|X\| over the (\d+) ordinary channels"),
        Claim(r"the error drops by more than an (order of magnitude)",
              r"output error: ([\d.]+)%  \(vector-wise int8 alone: ([\d.]+)%\)",
              lambda prose, computed: computed[1] / computed[0] > 10),
        Claim(r"The cost is not in the arithmetic \((\d+\.\d+) % of it is still int8\)",
              r"done in int8: \(K - \|O\|\) / K = ([\d.]+)%"),
        Claim(r"Below the largest ordinary value \(about (\d\.\d) here\)",
              r"max \|X\| over the \d+ ordinary channels: ([\d.]+)"),
        Claim(r"above the smallest outlier magnitude \(about (\d+) here\)",
              lambda out: [min(_value(v) for v in re.search(r"max \|X_j\| of the outlier channels: \[([^\]]+)\]", out)
                               .group(1).split(","))], within(0.05)),
        Claim(r"\(at (\d\.\d), nearly (half) of the columns\)",
              lambda out: [_cell(out, r"^\| 2 \| \d+ \| [\d.]+ % \|", 0), _cell(out, r"^\| 2 \| \d+ \| [\d.]+ % \|", 1) / 4096],
              lambda prose, computed: computed[0] == _value(prose[0]) and 0.4 <= computed[1] < 0.5),
        Claim(r"A per-tensor scale is now set by a range about (\d+) times the median channel's, instead of (\d+) times",
              lambda out: [_cell(out, r"^\| X / s after \|", 3), _cell(out, r"^\| X before \|", 3)]),
        Claim(r"the optimum sits where the two spreads cross — at \$\\alpha = (0\.5)\$ for this layer",
              r"best alpha \(per tensor\): ([\d.]+) with"),
        Claim(r"\*\*vector-wise\*\* int8 are ruined by the outliers \(about (\d+) % output error",
              lambda out: [_cell(out, r"^\| per-tensor int8 \| none \|", 3),
                           _cell(out, r"^\| vector-wise int8 \(per token x per output channel\) \| none \|", 3)],
              lambda prose, computed: all(abs(c - _value(prose[0])) <= 0.25 * _value(prose[0]) for c in computed)),
        Claim(r"\*\*SmoothQuant\*\* is (several) times less accurate than LLM\.int8\(\) here",
              lambda out: [_cell(out, r"^\| SmoothQuant alpha = 0\.5, per-tensor X and W \|", 3)
                           / _cell(out, r"^\| LLM\.int8\(\) \(threshold 6\.0\) \|", 3)],
              lambda prose, computed: 3 <= computed[0] < 10),
        Claim(r"here (\d+\.\d+) % of the multiply-accumulates stay int8 and the error falls (twenty)fold",
              lambda out: [_cell(out, r"^\| LLM\.int8\(\) \(threshold 6\.0\) \|", 2),
                           _cell(out, r"^\| vector-wise int8 \(per token x per output channel\) \| none \|", 3)
                           / _cell(out, r"^\| LLM\.int8\(\) \(threshold 6\.0\) \|", 3)],
              lambda prose, computed: round(computed[0], 2) == _value(prose[0]) and 17 <= computed[1] < 23),
        Claim(r"\$\\alpha = 0\.5\$ is best here", r"best alpha \(per tensor\): ([\d.]+) with",
              lambda prose, computed: computed == [0.5]),
    ],
    "07_kmeans_quantization": [
        Claim(r"(three) of its eight codes stand for fewer than 1 % of the weights each",
              r"linear levels used by fewer than 1 % of the weights: (\d+) of 8",
              lambda prose, computed: computed == [3]),
        Claim(r"With the same 3-bit codes, the squared error drops by a factor of about (three)",
              r"k-means is ([\d.]+)x lower at the same 3 bits", lambda prose, computed: 2.5 <= computed[0] < 3.5),
        Claim(r"The outermost clusters hold only a handful of weights \((\d+) and (\d+)\)",
              lambda out: [_cell(out, r"^\| 0 \| [-+][\d.]+ \| \d+ \|", 2), _cell(out, r"^\| 7 \| [-+][\d.]+ \| \d+ \|", 2)]),
        Claim(r"pulls their centroids in from the extremes towards the mass of the distribution, by about (0\.1)",
              lambda out: [abs(_cell(out, rf"^\| {j} \| [-+][\d.]+ \| \d+ \|", 3) - _cell(out, rf"^\| {j} \| [-+][\d.]+ \| \d+ \|", 1))
                           for j in (0, 7)], lambda prose, computed: all(abs(c - 0.1) <= 0.015 for c in computed)),
        Claim(r"layer 2 has only \$n = (640)\$ weights", r"weights per layer: \[\d+, (\d+)\]"),
        Claim(r"k-means weight sharing alone is within a (point) of the float model \(at 4 bits, a compression of (\d\.\d)×\)",
              lambda out: [max(_value(re.search(r"float test accuracy: ([\d.]+)%", out).group(1)) - _cell(out, rf"^\| {b} \| {2 ** b} \| [\d.]+ % \|", 2)
                               for b in (4, 5, 6, 8)),
                           _cell(out, r"^\| 4 \| 16 \| [\d.]+ % \|", 6)],
              lambda prose, computed: computed[0] <= 1 and round(computed[1], 1) == _value(prose[1])),
        Claim(r"fine-tuning gains about (twelve) points but stays far below",
              lambda out: [_cell(out, r"^\| 1 \| 2 \| [\d.]+ % \|", 3) - _cell(out, r"^\| 1 \| 2 \| [\d.]+ % \|", 2)],
              lambda prose, computed: abs(computed[0] - 12) <= 1.5),
        Claim(r"after fine-tuning their accuracies lie within (two) test images of each other, with the (density) start slightly ahead",
              lambda out: [_cell(out, rf"^\| {init} \| {b} \| [\d.]+ \|", 4) for b in (2, 3) for init in ("linear", "density", "kmeans\\+\\+")],
              lambda prose, computed: all(max(g) - min(g) <= 2 * 0.223 + 0.1 and g[1] == max(g)      # printed to 0.1
                                          for g in (computed[:3], computed[3:]))),
        Claim(r"divides the error by about three, between (\d\.\d) and (\d\.\d) here",
              lambda out: [min(table_column(r"^\| \d+ \| \d \| [\d.e+-]+ \| [\d.]+ \|$", 3)(out)),
                           max(table_column(r"^\| \d+ \| \d \| [\d.e+-]+ \| [\d.]+ \|$", 3)(out))]),
    ],
    "08_product_quantization": [
        Claim(r"and with \$K = 16\$ prototypes \(4-bit codes\) an image is stored in (\d+) bits",
              r"a row costs (\d+) bits of codes"),
        Claim(r"each extra bit removes a factor \$2\^\{-2/d\}\$ of the squared error, about (\d+) % for \$d = 8\$",
              lambda out: [100 * (1 - 2 ** (-2 / 8))]),
        Claim(r"at 4 bits PQ still leaves more than (half) of their variance",
              lambda out: [_cell(out, r"^\| i\.i\.d\. Gaussian \|", 4)], lambda prose, computed: computed[0] > 0.5),
        Claim(r"at 4 bits PQ leaves about a (fifth), a (third) of what it leaves on noise",
              lambda out: [_cell(out, r"^\| digits \|", 4),
                           _cell(out, r"^\| digits \|", 4) / _cell(out, r"^\| i\.i\.d\. Gaussian \|", 4)],
              lambda prose, computed: abs(computed[0] - 1 / 5) < 0.03 and abs(computed[1] - 1 / 3) < 0.05),
        Claim(r"Rounding the tables to 8 bits is nearly free .* the product's relative error (barely) moves",
              r"relative error of the product: float tables ([\d.]+), uint8 tables ([\d.]+)",
              lambda prose, computed: abs(computed[1] - computed[0]) < 0.01 * computed[0]),
        Claim(r"Relative errors of (\d+)–(\d+) % sound large",
              lambda out: [100 * v for v in table_column(r"^\| [48]-bit \| \d+ \| \d+ \|", 6)(out)], spans),
        Claim(r"Part of MADDNESS' time is simply reading the (\d+) MiB of input", r"float32 = (\d+) MiB"),
        Claim(r"ridge refinement gives that accuracy back, and with (16) or more codebooks more than that",
              lambda out: [v for c in (8, 16, 32) for v in (_cell(out, rf"^\| {c} \| [\d.]+ \| [\d.]+ \| [\d.]+x \|", 4),
                                                         _cell(out, rf"^\| {c} \| [\d.]+ \| [\d.]+ \| [\d.]+x \|", 6))],
              lambda prose, computed: abs(computed[1] - computed[0]) < 0.01 and computed[3] < computed[2]
              and computed[5] < computed[4]),
        Claim(r"and with 16 \(64 bits\) it is within (one) to (two) points of exact",
              lambda out: [_value(re.search(r"exact ([\d.]+)%", out).group(1)) - _cell(out, r"^\| 16 \| 64 \|", c) for c in (4, 5)],
              lambda prose, computed: all(0.5 <= c < 2.5 for c in computed)),
        Claim(r"On these small images MADDNESS' trees are a (little) less accurate than PQ's k-means",
              lambda out: [_cell(out, rf"^\| {c} \| {4 * c} \|", 4) - _cell(out, rf"^\| {c} \| {4 * c} \|", 5) for c in (4, 8, 16)],
              lambda prose, computed: all(0 < c < 3 for c in computed)),
    ],
}


#: The problem sets' ungraded closing cells describe what they print; the worked solutions (solutions/,
#: generated from course/source) run them with correct answers, so their outputs are checked there.
SOLUTION_CLAIMS: dict[str, list[Claim]] = {
    "ps4_llm_outliers": [
        Claim(r"The next cell draws a layer with (six) outlier channels among (1024)",
              r"\((\d+) of (\d+) columns in float\)", lambda prose, computed: computed == [6, 1024]),
    ],
    "ps5_kmeans": [
        Claim(r"the first layer of the course's digits MLP \(`quantref\.zoo\.pretrained_mlp`, (64) × (64) weights\)",
              r"first layer: (\d+) weights", lambda prose, computed: computed == [64 * 64]),
    ],
    "ps6_product_quantization": [
        Claim(r"encode the rows \((\d+) bytes each instead of (\d+) in float32\)",
              lambda out: [_value(v) / 2000 for v in re.search(r"\(2000, 8\) uint8, (\d+) bytes instead of (\d+)", out).groups()]),
        Claim(r"a (few tens of percent) on these correlated Gaussian rows",
              r"float tables, relative error of Q X\^T: ([\d.]+)", lambda prose, computed: 0.1 <= computed[0] < 0.7),
        Claim(r"and the uint8 tables add (almost nothing) to it",
              r"(?:float|uint8) tables, relative error of Q X\^T: ([\d.]+)",
              lambda prose, computed: abs(computed[1] - computed[0]) < 0.01 * computed[0]),
    ],
    # the written answers' model answers quote the payoff table that the worked solution prints
    "ps9_capstone": [
        Claim(r"costs a couple of test images \(([\d.]+) %\), and fine-tuning with the 4-bit weights in the loop "
              r"recovers them \(([\d.]+) %\)",
              lambda out: [_value(re.search(rf"^{row}\s+([\d.]+)%", out, re.M).group(1))
                           for row in ("ptq_int4_weights", "qat_int4_weights")]),
        Claim(r"The 4-bit weight rows are the smallest \(([\d,]+) bytes for int4 codes with per-channel scales; "
              r"([\d,]+) with k-means codebooks\), about 7× below float32's ([\d,]+); int8 integer-only is ([\d,]+) bytes",
              lambda out: [_value(re.search(rf"^{row}\s+[\d.]+%\s+([\d,]+)", out, re.M).group(1))
                           for row in ("ptq_int4_weights", "kmeans_4bit_weights", "float32", "ptq_int8_minmax")]),
    ],
}


# -- arithmetic written out in the prose ----------------------------------------------------------

def _prose_arithmetic(markdown: str) -> list[tuple[str, float, float, int]]:
    """Every ``$a \\approx b$`` (or ``=``) whose two sides are plain numbers: (formula, a, b, decimals of b)."""
    found = []
    inline = re.sub(r"\$\$.*?\$\$", " ", markdown)          # display math first, so that $ pairs stay in step
    for tex in re.findall(r"\$([^$]+)\$", inline):
        parts = re.split(r"\s*(=|\\approx)\s*", tex)
        if len(parts) != 3:
            continue
        left, _, right = parts
        right = right.replace(r"\,\%", "").replace(r"\%", "").strip()
        py = left.replace(r"\cdot", "*").replace(r"\times", "*").replace("^", "**").replace("{", "(").replace("}", ")")
        py = re.sub(r"\\sqrt\s*(\(?[\d.]+\)?)", r"sqrt(\1)", py).replace(r"\tfrac", "").replace(r"\frac", "")
        try:
            value = eval(py, {"__builtins__": {}}, {"sqrt": math.sqrt})
            shown = float(right)
        except Exception:
            continue
        if "%" in tex:
            value *= 100
        found.append((tex, float(value), shown, _decimals(right)))
    return found


# -- the tests -----------------------------------------------------------------------------------

def _lecture(stem: str):
    return nbformat.read(LECTURES / f"{stem}.ipynb", as_version=4)


@pytest.mark.parametrize("stem", sorted(CLAIMS))
def test_every_claim_finds_its_sentence(stem):
    markdown = markdown_of(_lecture(stem))
    for claim in CLAIMS[stem]:
        claim.quoted(markdown)


@pytest.mark.parametrize("stem", sorted(p.stem for p in LECTURES.glob("0*.ipynb")))
def test_arithmetic_in_the_prose_holds(stem):
    for tex, value, shown, decimals in _prose_arithmetic(markdown_of(_lecture(stem))):
        assert round(value, decimals) == shown, f"{stem}: ${tex}$ is {value}"


@pytest.mark.slow
@pytest.mark.parametrize("stem", sorted(CLAIMS))
def test_prose_numbers_are_what_the_lecture_computes(stem, executed_notebook):
    nb = executed_notebook(LECTURES / f"{stem}.ipynb")
    markdown, outputs = markdown_of(nb), outputs_of(nb)
    wrong = []
    for claim in CLAIMS[stem]:
        quoted, computed = claim.quoted(markdown), claim.computed(outputs)
        if not claim.agree(quoted, computed):
            wrong.append(f"the prose says {quoted} ({claim.prose!r}), the lecture computes "
                         f"{[round(c, 4) for c in computed]}")
    assert not wrong, f"{stem}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("assignment", sorted(SOLUTION_CLAIMS))
def test_every_problem_set_claim_finds_its_sentence(assignment):
    source = nbformat.read(ROOT / "course" / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    for claim in SOLUTION_CLAIMS[assignment]:
        claim.quoted(markdown_of(source))


@pytest.mark.slow
@pytest.mark.parametrize("assignment", sorted(SOLUTION_CLAIMS))
def test_problem_set_text_numbers_are_what_the_worked_solution_prints(assignment, executed_notebook):
    nb = executed_notebook(ROOT / "solutions" / f"{assignment}.ipynb")
    markdown, outputs = markdown_of(nb), outputs_of(nb)
    wrong = [f"the text says {claim.quoted(markdown)} ({claim.prose!r}), the solution prints "
             f"{[round(c, 4) for c in claim.computed(outputs)]}"
             for claim in SOLUTION_CLAIMS[assignment] if not claim.agree(claim.quoted(markdown), claim.computed(outputs))]
    assert not wrong, f"{assignment}:\n" + "\n".join(wrong)


def test_the_rules_can_fail():
    assert rounds_to(["53"], [52.9]) and not rounds_to(["53"], [52.4])
    assert rounds_to(["99.76"], [99.763]) and not rounds_to(["99.76"], [99.77])
    assert within(0.05)(["18"], [18.5]) and not within(0.05)(["18"], [19.5])
    assert spans(["10", "20"], [10.2, 19.9]) and not spans(["10", "20"], [9.0, 19.9])
    claim = Claim(r"from (\d+) % to (\d+) %", r"\| W2A8 \| [\d.]+% \| ([\d.]+)% \| ([\d.]+)% \|")
    outputs = "| W2A8 | 98.2% | 52.9% | 96.2% |"
    assert claim.agree(claim.quoted("goes from 53 % to 96 % at W2A8"), claim.computed(outputs))
    assert not claim.agree(claim.quoted("goes from 53 % to 97 % at W2A8"), claim.computed(outputs))
    assert _prose_arithmetic(r"carries $0.99^{41} \approx 66\,\%$ and $1/\sqrt{12} \approx 0.289$") == [
        (r"0.99^{41} \approx 66\,\%", pytest.approx(66.2, abs=0.1), 66.0, 0),
        (r"1/\sqrt{12} \approx 0.289", pytest.approx(0.2887, abs=1e-4), 0.289, 3)]
