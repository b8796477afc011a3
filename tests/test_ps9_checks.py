"""Checks peculiar to problem set 9 (what every problem set shares is tested in tests/test_checks.py).

The correct solution is the one in the instructor's source notebook (extracted from its
solution cells), so the checks are tested against exactly what students are graded on.
Here: every named mistake is caught by the hidden cases; the worked solution's integer network
equals quantref's fake-quantized float pass and its integer network code for code (computed
independently: quantref's path never calls the notebook's functions); the payoff table's
comparison rejects what it must (an accuracy one image beyond its tolerance, a byte off by one,
a latency of 0, a missing row) and names its mistakes; the int32 overflow of a bias must raise.
"""
from __future__ import annotations

import contextlib
import copy
import io

import numpy as np
import pytest

from autograder import CheckFailed, ps9
from autograder.ps9 import cases, mistakes, payoff
from course_helpers import solution_namespace


@pytest.fixture(scope="module")
def solution():
    with contextlib.redirect_stdout(io.StringIO()):
        return solution_namespace("ps9_capstone")


@pytest.fixture(scope="module")
def visible_table(solution):
    case = cases.payoff_cases("visible", 0)[0]
    return case.args, solution["payoff_table"](**copy.deepcopy(case.args))


@pytest.mark.parametrize("exercise", sorted(mistakes.WRONG))
def test_every_named_mistake_is_caught_by_the_hidden_cases(exercise):
    for label, wrong in mistakes.WRONG[exercise]():
        with pytest.raises(CheckFailed) as info:
            ps9.PROBLEM_SET.check(exercise, wrong, "hidden")
        assert label in str(info.value), (exercise, label, str(info.value))


def test_the_integer_network_matches_the_fake_quantized_pass_code_for_code(solution):
    from quantref.conv.fake_quant_convnet import FakeQuantConvNet
    from quantref.conv.integer_convnet import IntegerConvNet, calibrate_activations
    from quantref.zoo import load_digits_split, pretrained_cnn

    data = load_digits_split()
    cnn = pretrained_cnn()
    folded = cnn.fold_batch_norm()
    qparams = calibrate_activations(folded, data.x_train)
    convs = list(folded.convs)
    net = solution["integer_network"](convs, folded.classifier, qparams)
    mine = solution["integer_codes"](net, qparams, data.x_test)
    fake = FakeQuantConvNet(folded, qparams).layer_codes(data.x_test)
    integer = IntegerConvNet.from_float(cnn, data.x_train).layer_codes(data.x_test)
    assert len(mine) == len(fake) == len(integer) == 5
    for a, f, i in zip(mine, fake, integer):
        assert np.array_equal(a.astype(np.int64), f) and np.array_equal(a, i)


def test_the_solution_table_has_the_reference_bytes_and_close_accuracies(visible_table):
    args, table = visible_table
    ref = payoff.payoff_table(**copy.deepcopy(args))
    for row in payoff.ROWS:
        assert table[row]["bytes"] == ref[row]["bytes"], row
        assert round(abs(table[row]["accuracy"] - ref[row]["accuracy"]) * len(args["y_test"])) <= 1, row
    # the byte counts from their formulas, written out independently
    n = [8 * 1 * 9, 16 * 8 * 9, 10 * 256]
    c = [8, 16, 10]
    assert ref["float32"]["bytes"] == 4 * sum(ni + ci for ni, ci in zip(n, c)) == 15272
    assert ref["ptq_int8_minmax"]["bytes"] == sum(ni + 12 * ci + 4 for ni, ci in zip(n, c)) + 8 == 4212
    assert ref["ptq_int4_weights"]["bytes"] == sum(ni // 2 + 8 * ci for ni, ci in zip(n, c)) == 2164
    assert ref["kmeans_4bit_weights"]["bytes"] == sum(ni // 2 + 64 + 4 * ci for ni, ci in zip(n, c)) == 2220
    assert ref["pq_classifier"]["bytes"] == 4 * (72 + 8 + 1152 + 16 + 16 * 16 * 16 + 10 * 16 * 16 + 10) == 31656


def _check_visible(table_or_fn):
    func = table_or_fn if callable(table_or_fn) else (lambda **_: copy.deepcopy(table_or_fn))

    def payoff_table(model, qat_model, x_calibration, x_test, y_test):
        return func(model=model, qat_model=qat_model, x_calibration=x_calibration, x_test=x_test, y_test=y_test)
    ps9.check_payoff_table(payoff_table)


def test_the_table_comparison_rejects_what_it_must(visible_table):
    args, table = visible_table
    _check_visible(table)                                                  # as computed: passes
    n_test = len(args["y_test"])
    for row, tol in ps9.ACCURACY_TOLERANCE.items():
        for images, ok in ((tol, True), (tol + 1, False)):
            moved = copy.deepcopy(table)
            ref = payoff.payoff_table(**copy.deepcopy(args))[row]["accuracy"]
            moved[row]["accuracy"] = ref - images / n_test if ref - images / n_test >= 0 else ref + images / n_test
            if ok:
                _check_visible(moved)
            else:
                with pytest.raises(CheckFailed, match=f"row '{row}': accuracy"):
                    _check_visible(moved)
    for change, message in [(lambda t: t["ptq_int8_minmax"].update(bytes=t["ptq_int8_minmax"]["bytes"] + 1), "bytes"),
                            (lambda t: t["float32"].update(latency_ms=0.0), "latency_ms must be a positive"),
                            (lambda t: t.pop("pq_classifier"), "missing"),
                            (lambda t: t["float32"].update(bytes=float(t["float32"]["bytes"])), "must be an integer")]:
        broken = copy.deepcopy(table)
        change(broken)
        with pytest.raises(CheckFailed, match=message):
            _check_visible(broken)


@pytest.mark.parametrize("label, change", [
    ("the accuracies are percentages", lambda t, a: [r.update(accuracy=100 * r["accuracy"]) for r in t.values()]),
    ("8 bytes a value (float64)", lambda t, a: t["float32"].update(bytes=2 * t["float32"]["bytes"])),
    ("still counts its batch norms", lambda t, a: t["float32"].update(bytes=t["float32"]["bytes"] + 16 * 24)),
    ("4-bit codes were counted one to a byte",
     lambda t, a: t["ptq_int4_weights"].update(bytes=t["ptq_int4_weights"]["bytes"] + (72 + 1152 + 2560) // 2)),
    ("leaves out its codebooks", lambda t, a: t["kmeans_4bit_weights"].update(bytes=t["kmeans_4bit_weights"]["bytes"] - 192)),
    ("count only its weights", lambda t, a: t["ptq_int8_minmax"].update(bytes=72 + 1152 + 2560)),
])
def test_the_table_mistakes_are_named(visible_table, label, change):
    _, table = visible_table
    wrong = copy.deepcopy(table)
    change(wrong, None)
    with pytest.raises(CheckFailed) as info:
        _check_visible(wrong)
    assert label in str(info.value), str(info.value)


def test_a_bias_that_wraps_instead_of_raising_fails(solution):
    def quantize_conv_bias(b, input_scale, weight_scales):
        return np.round(np.asarray(b) / (input_scale * np.asarray(weight_scales))).astype(np.int64).astype(np.int32)
    for suite in ("visible", "hidden"):
        with pytest.raises(CheckFailed, match="must raise an error"):
            ps9.PROBLEM_SET.check("quantize_conv_bias", quantize_conv_bias, suite)


def test_conv_cases_reach_the_edges():
    """Padding with the zero point matters (z_x far from 0), the fused ReLU clamps (z_out > 0), codes saturate."""
    hidden = cases.conv_cases("hidden", 0)
    assert any(c.args["x_zero_point"] == 255 for c in hidden)
    outputs = [ps9.EXERCISES["integer_conv2d"].reference(**c.args) for c in hidden]
    relu_cases = [(c, o) for c, o in zip(hidden, outputs) if c.args["relu"] and c.args["out_zero_point"] > 0]
    assert relu_cases and all(np.any(o == c.args["out_zero_point"]) for c, o in relu_cases)
    assert any(np.any(o == 255) for o in outputs) or any(np.any(o == 0) for o in outputs)


def test_the_qat_model_is_deterministic_and_recovers_the_int4_loss():
    from autograder.ps9.models import qat_model_dict
    a, b = qat_model_dict(), qat_model_dict()
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    case = cases.payoff_cases("visible", 0)[0]
    ref = payoff.payoff_table(**copy.deepcopy(case.args))
    assert ref["qat_int4_weights"]["accuracy"] >= ref["ptq_int4_weights"]["accuracy"]


def test_tolerances_cover_every_row():
    assert set(ps9.ACCURACY_TOLERANCE) == set(payoff.ROWS)
