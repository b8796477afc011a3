"""Known mistakes of problem set 3, each a small wrong implementation or a test on the output.

The checks compare a failing answer with each of these; a match names the mistake in the
feedback.  Each wrong implementation differs from the reference in exactly one way.  They are
written with NumPy alone: the reference answers come from :mod:`quantref`, these only need to
reproduce a wrong answer.
"""
from __future__ import annotations

import numpy as np

from ..checking import Mistake


def _extremes(batch):
    b = np.asarray(batch, dtype=np.float64)
    return float(b.min()), float(b.max())


# -- exercise 1: the running min/max ------------------------------------------------------------------

def update_minmax_wrong() -> list:
    def f(name, wrong):
        return name, wrong

    def rule(combine):
        def wrong(state, batch):
            lo, hi = _extremes(batch)
            if state is None:
                return lo, hi
            return combine(state, lo, hi)
        return wrong

    def widened(state, batch):
        lo, hi = _extremes(batch)
        if state is not None:
            lo, hi = min(state[0], lo), max(state[1], hi)
        return min(lo, 0.0), max(hi, 0.0)

    def symmetric(state, batch):
        lo, hi = _extremes(batch)
        if state is not None:
            lo, hi = min(state[0], lo), max(state[1], hi)
        a = max(-lo, hi)
        return -a, a

    return [
        f("the state is ignored: the range is only the last batch's min and max; keep the running extremes, "
          "min(rmin, batch.min()) and max(rmax, batch.max())", rule(lambda st, lo, hi: (lo, hi))),
        f("the range never changes after the first batch: combine the state with every new batch",
          rule(lambda st, lo, hi: tuple(st))),
        f("the range shrinks to the overlap of the state and the batch: the running minimum takes the smaller "
          "value, min(rmin, batch.min()), and the maximum the larger",
          rule(lambda st, lo, hi: (max(st[0], lo), min(st[1], hi)))),
        f("the batch extremes were averaged with the state (that is the moving-average observer of Exercise 2); "
          "the min/max observer keeps the extremes", rule(lambda st, lo, hi: ((st[0] + lo) / 2, (st[1] + hi) / 2))),
        f("the range was widened to contain 0; the observer reports the data's own range, and the qparams widen it",
          widened),
        f("the range is symmetric (-max|x|, max|x|); the min/max observer keeps the signed extremes", symmetric,
          ),
    ]


# -- exercise 2: the moving average -------------------------------------------------------------------

def moving_average_wrong() -> list:
    def f(name, wrong):
        return name, wrong

    def rule(update, first=None):
        def wrong(rmin, rmax, batch, c):
            lo, hi = _extremes(batch)
            if rmin is None:
                return (lo, hi) if first is None else first(lo, hi, c)
            return update(rmin, lo, c), update(rmax, hi, c)
        return wrong

    def running(rmin, rmax, batch, c):
        lo, hi = _extremes(batch)
        if rmin is None:
            return lo, hi
        lo, hi = min(rmin, lo), max(rmax, hi)
        return rmin + c * (lo - rmin), rmax + c * (hi - rmax)

    return [
        f("wrong sign: the update moves the range away from the batch; it is rmin + c * (batch_min - rmin)",
          rule(lambda r, v, c: r - c * (v - r))),
        f("c is applied to the wrong term: the newest batch gets the weight c and the old range 1 - c, "
          "rmin + c * (batch_min - rmin) = (1 - c) * rmin + c * batch_min",
          rule(lambda r, v, c: r + (1 - c) * (v - r))),
        f("the first batch must set the range (rmin = batch_min, rmax = batch_max); averaging it with 0 "
          "starts from a range that was never observed",
          rule(lambda r, v, c: r + c * (v - r), first=lambda lo, hi, c: (c * lo, c * hi))),
        f("the old range is ignored: only the last batch counts (that is c = 1)", rule(lambda r, v, c: v)),
        f("the running extremes min(rmin, batch_min) were averaged in; the moving average uses the batch's own "
          "min and max", running),
    ]


# -- exercise 3: percentile calibration ---------------------------------------------------------------

def percentile_wrong() -> list:
    def f(name, wrong):
        return name, wrong

    def cut(amax_of):
        def wrong(x, p):
            x = np.asarray(x, dtype=np.float64)
            amax = float(amax_of(x, p))
            return max(-amax, float(x.min())), min(amax, float(x.max()))
        return wrong

    def uncut(x, p):
        amax = float(np.percentile(np.abs(np.asarray(x, dtype=np.float64)), p))
        return -amax, amax

    def two_sided(x, p):
        x = np.asarray(x, dtype=np.float64)
        return float(np.percentile(x, 100 - p)), float(np.percentile(x, p))

    mistakes = [
        f("the percentiles were taken of x, one per side (percentile(x, 100 - p), percentile(x, p)); TensorRT "
          "clips at the p-th percentile of |x|", two_sided),
        f("p was used as a fraction: np.percentile takes p in [0, 100] (np.quantile takes p / 100)",
          cut(lambda x, p: np.percentile(np.abs(x), p / 100))),
        f("the range is symmetric (-amax, amax); cut it to the data: (max(-amax, x.min()), min(amax, x.max())), "
          "so that post-ReLU data gets (0, amax)", uncut),
        f("the range is (x.min(), x.max()): nothing was clipped at the percentile",
          cut(lambda x, p: np.abs(x).max())),
    ]
    for method in ("lower", "higher", "nearest", "inverted_cdf"):
        mistakes.append(f("the percentile is an order statistic (one of the values: a nearest rank, or "
                          "method='lower'/'higher'/'nearest'); use NumPy's default, linear interpolation between the "
                          "two neighbouring values",
                          cut(lambda x, p, m=method: np.percentile(np.abs(x), p, method=m))))
    return mistakes


# -- exercise 4: fake quantization --------------------------------------------------------------------

def _round_half_up(v):
    return np.floor(v + 0.5)


def _round_half_away(v):
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def _fq(x, scale, zero_point, qmin, qmax, *, rnd=np.round, zp_in=True, zp_out=True, zp_before=False, clip=True,
        codes=False):
    x = np.asarray(x, dtype=np.float64)
    z = np.asarray(zero_point)
    v = x / scale
    q = rnd(v + z) if zp_before else rnd(v) + (z if zp_in else 0)
    if clip:
        q = np.clip(q, qmin, qmax)
    if codes:
        return q
    return (q - (z if zp_out else 0)) * scale


def fake_quantize_wrong() -> list:
    def f(name, wrong):
        return name, wrong
    return [
        f("the zero point was left out: x~ = s * (clip(round(x / s) + z, qmin, qmax) - z)",
          lambda **kw: _fq(**kw, zp_in=False, zp_out=False)),
        f("the zero point was added but not subtracted again: dequantize with s * (q - z)",
          lambda **kw: _fq(**kw, zp_out=False)),
        f("the zero point was added before rounding, round(x / s + z): with an odd zero point ties round the "
          "other way; add it after rounding", lambda **kw: _fq(**kw, zp_before=True)),
        f("ties were rounded up (floor(v + 0.5)); np.round rounds half to even, as PyTorch does",
          lambda **kw: _fq(**kw, rnd=_round_half_up)),
        f("ties were rounded away from zero; np.round rounds half to even, as PyTorch does",
          lambda **kw: _fq(**kw, rnd=_round_half_away)),
        f("rounded by truncation (astype(int) or np.trunc); round to nearest with np.round",
          lambda **kw: _fq(**kw, rnd=np.trunc)),
        f("no clipping: codes outside [qmin, qmax] must saturate (np.clip) before dequantizing",
          lambda **kw: _fq(**kw, clip=False)),
        f("returned the integer codes q; fake quantization returns the dequantized values s * (q - z)",
          lambda **kw: _fq(**kw, codes=True)),
    ]


# -- exercise 5: the straight-through backward --------------------------------------------------------

def _ste(grad, x, scale, zero_point, qmin, qmax, *, rule="rounded", rnd=np.round, strict=False, zp=True,
         invert=False, return_mask=False):
    x = np.asarray(x, dtype=np.float64)
    z = np.asarray(zero_point) if zp else 0
    if rule == "real":
        mask = (x >= scale * (qmin - z)) & (x <= scale * (qmax - z))
    else:
        q = rnd(x / scale) + z
        mask = ((q > qmin) & (q < qmax)) if strict else ((q >= qmin) & (q <= qmax))
    if invert:
        mask = ~mask
    if return_mask:
        return mask.astype(np.float64)
    return np.asarray(grad, dtype=np.float64) * mask


def ste_wrong() -> list:
    def f(name, wrong):
        return name, wrong
    return [
        f("no mask: the gradient passes everywhere; the straight-through estimator blocks it where the value was "
          "clipped", lambda grad, **kw: np.asarray(grad, dtype=np.float64)),
        f("the gradient is zero everywhere (the true derivative of rounding): the straight-through estimator passes "
          "it unchanged where the value was not clipped", lambda grad, **kw: np.zeros(np.shape(grad))),
        f("the mask tests the real range s(qmin - z) <= x <= s(qmax - z) (NVIDIA's |x| <= amax rule); this "
          "assignment uses PyTorch's rule on the rounded value: qmin <= z + round(x / s) <= qmax",
          lambda **kw: _ste(**kw, rule="real")),
        f("strict inequalities: the gradient also passes at qmin and qmax themselves (qmin <= q <= qmax)",
          lambda **kw: _ste(**kw, strict=True)),
        f("the zero point was left out of the mask: test z + round(x / s) against [qmin, qmax]",
          lambda **kw: _ste(**kw, zp=False)),
        f("the mask rounds ties up or away from zero; round as the forward pass does (np.round, half to even)",
          lambda **kw: _ste(**kw, rnd=_round_half_up)),
        f("the mask rounds ties up or away from zero; round as the forward pass does (np.round, half to even)",
          lambda **kw: _ste(**kw, rnd=_round_half_away)),
        f("the mask is inverted: the gradient passes where the value was clipped, and is blocked elsewhere",
          lambda **kw: _ste(**kw, invert=True)),
        f("returned the mask itself; the backward returns grad * mask", lambda **kw: _ste(**kw, return_mask=True),
          ),
    ]


# -- exercise 6: one QAT step ----------------------------------------------------------------------------

_EPS = float(np.finfo(np.float32).eps)


def _act_qparams(rmin, rmax, bits):
    qmax = 2 ** bits - 1
    rmin, rmax = min(rmin, 0.0), max(rmax, 0.0)
    scale = max((rmax - rmin) / qmax, _EPS)
    return scale, int(np.clip(np.round(-rmin / scale), 0, qmax))


def _softmax_xent(logits, y):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_z = np.log(np.exp(shifted).sum(axis=1))
    n = len(y)
    delta = np.exp(shifted - log_z[:, None])
    delta[np.arange(n), y] -= 1
    return float(np.mean(log_z - shifted[np.arange(n), y])), delta / n


def _moving(r, batch, c):
    lo, hi = _extremes(batch)
    if r[0] is None:
        return lo, hi
    return r[0] + c * (lo - r[0]), r[1] + c * (hi - r[1])


def qat_step_variant(layers, act_ranges, x, y, w_bits, a_bits, c, *, act_mask=True, relu_mask=True, zero=False,
                     latent_w=False, float_a=False, observe_after=False, fq_act=True, fq_w=True, relu_last=False,
                     old_ranges=False):
    """The QAT step of the reference, written out, with one switch per known mistake."""
    qa = 2 ** a_bits - 1
    qw = 2 ** (w_bits - 1) - 1
    ranges, cache = [], []
    a = np.asarray(x, dtype=np.float64)
    for i, (w, b) in enumerate(layers):
        r = tuple(act_ranges[i])
        new = _moving(r, a, c)
        use = (r if r[0] is not None else new) if observe_after else new
        ranges.append(new)
        sa, za = _act_qparams(*use, a_bits)
        aq = _fq(a, sa, za, 0, qa) if fq_act else a
        sw = np.maximum(np.abs(w).max(axis=1, keepdims=True) / qw, _EPS)
        wq = _fq(w, sw, 0, -qw, qw) if fq_w else w
        z = aq @ wq.T + b
        cache.append((a, aq, sa, za, wq, sw, z))
        a = np.maximum(z, 0.0) if (i < len(layers) - 1 or relu_last) else z
    loss, delta = _softmax_xent(a, y)
    if relu_last:
        delta = delta * (cache[-1][6] > 0)
    grads = [None] * len(layers)
    for i in range(len(layers) - 1, -1, -1):
        a, aq, sa, za, wq, sw, _ = cache[i]
        w = layers[i][0]
        dw = _ste(delta.T @ (a if float_a else aq), w, sw, 0, -qw, qw)
        grads[i] = (dw, delta.sum(axis=0))
        if i:
            g = delta @ (w if latent_w else wq)
            da = _ste(g, a, sa, za, 0, qa) if act_mask else g
            delta = da * (cache[i - 1][6] > 0) if relu_mask else da
    if zero:
        grads = [(np.zeros_like(dw), np.zeros_like(db)) for dw, db in grads]
    return loss, grads, (list(act_ranges) if old_ranges else ranges)


#: (name, switches) of the QAT-step mistakes; exercise 7's solution calls exercise 6's
QAT_STEP_VARIANTS = [
    ("the activation gradient skips the straight-through mask: block it where the layer input was clipped, "
     "ste_backward(delta @ fq(W), a, ...)", dict(act_mask=False)),
    ("the gradients are zero (the true derivative of rounding): use the straight-through estimator",
     dict(zero=True)),
    ("the ReLU derivative [z > 0] of the previous layer is missing from the backward pass", dict(relu_mask=False)),
    ("delta was propagated with the latent float weights W; the forward pass used fq(W), so the backward "
     "uses it too: delta @ fq(W)", dict(latent_w=True)),
    ("dW used the float layer input a; the forward pass multiplied fq(a): dW = delta^T fq(a), then the weight mask",
     dict(float_a=True)),
    ("each layer input was quantized with the range from before this batch; update the range with the batch "
     "first (observe, then quantize), as PyTorch's observers do", dict(observe_after=True)),
    ("the layer inputs were not fake-quantized (only the weights)", dict(fq_act=False)),
    ("the weights were not fake-quantized (only the layer inputs)", dict(fq_w=False)),
    ("the logits went through a ReLU: the last layer has none", dict(relu_last=True)),
    ("the returned act_ranges are the old ones; return the ranges updated with this batch", dict(old_ranges=True)),
]


def qat_step_wrong() -> list:
    return [(name, lambda _kw=kw, **args: qat_step_variant(**args, **_kw)) for name, kw in QAT_STEP_VARIANTS]


def _fill_shared_none(got, produced, fill=0.0):
    """``(got, produced)`` with ``fill`` wherever both hold None, at the same place in their tuples/lists.

    A wrong implementation can leave a value unset, as the student does: the QAT step that returns
    the old ranges returns (None, None) on a first batch.  The exercise's comparison reads None as a
    missing number (the reference never returns one), so the two outputs would not match; None in
    both at the same place is the same answer.
    """
    if got is None and produced is None:
        return fill, fill
    if isinstance(got, (tuple, list)) and isinstance(produced, (tuple, list)) and len(got) == len(produced):
        pairs = [_fill_shared_none(g, p, fill) for g, p in zip(got, produced)]
        rebuild = lambda seq, items: tuple(items) if isinstance(seq, tuple) else list(items)  # noqa: E731
        return rebuild(got, (g for g, _ in pairs)), rebuild(produced, (p for _, p in pairs))
    return got, produced


def build(pairs, compare) -> list:
    """Mistakes from ``(name, wrong implementation)`` pairs, matched with the exercise's comparison.

    The student's answer matches a wrong implementation's when the comparison finds no
    difference, a value that both leave unset (None) counting as equal.
    """
    def same(got, produced):
        return compare(*_fill_shared_none(got, produced))
    return [Mistake.from_function(name, wrong, same) for name, wrong in pairs]


# -- exercise 7: a short QAT run ----------------------------------------------------------------------

def _unchanged(got, args, expected):
    try:
        layers = got[0]
        return all(np.array_equal(np.asarray(w), w0) and np.array_equal(np.asarray(b), b0)
                   for (w, b), (w0, b0) in zip(layers, args["layers"], strict=True))
    except Exception:  # noqa: BLE001 - whatever the student returned
        return False


def qat_train_mistakes(accuracy_of):
    """``accuracy_of(layers, act_ranges, expected)``: test accuracy, or None if it cannot be computed."""

    def worse(got, args, expected):
        after = accuracy_of(got[0], got[1], expected)
        before = accuracy_of(args["layers"], got[1], expected)
        return after is not None and before is not None and after < before - 0.05

    return [
        Mistake("the weights never changed: the gradients are zero, or the optimiser updates arrays that are not "
                "the ones returned (update the layers' arrays in place, as Adam does, and return them)", _unchanged),
        Mistake("training made the network worse than where it started: the step goes uphill (p += lr * g) or "
                "the gradients have the wrong sign", worse),
    ]


#: The wrong implementations of each exercise (the tests run every one through its check).
WRONG = {"update_minmax": update_minmax_wrong, "moving_average_update": moving_average_wrong,
         "percentile_range": percentile_wrong, "fake_quantize": fake_quantize_wrong, "ste_backward": ste_wrong,
         "qat_step": qat_step_wrong}
