"""The networks problem set 9 hands to the students' functions, as plain dicts of arrays.

* :func:`model_dict` -- the shipped digits ConvNet (:func:`quantref.zoo.pretrained_cnn`) with its
  batch norms, keys as in ``ConvNet.save``: ``conv{i}_W``, ``conv{i}_b``, ``bn{i}_gamma``,
  ``bn{i}_beta``, ``bn{i}_mean``, ``bn{i}_var``, ``bn{i}_eps``, ``classifier_W``, ``classifier_b``;
* :func:`qat_model_dict` -- the same network folded and fine-tuned with 4-bit weights in the
  loop (quantization-aware training), keys ``conv{i}_W``, ``conv{i}_b``, ``classifier_W``,
  ``classifier_b`` and no batch norms (they are folded).

The fine-tuning is input data, not something a case computes: it runs once per process
(:func:`functools.lru_cache`, about a second) and is deterministic (seeded).  What it does,
with :math:`\\mathrm{fq}_4` the per-output-channel symmetric 4-bit fake quantizer
(:math:`s_c = \\max|W_c| / 7`, codes in [-7, 7]):

.. math::

    \\text{loss}(\\mathrm{fq}_4(W_1), b_1, \\mathrm{fq}_4(W_2), b_2, \\mathrm{fq}_4(W_c), b_c), \\qquad
    \\frac{\\partial\\,\\text{loss}}{\\partial W} \\approx
    \\frac{\\partial\\,\\text{loss}}{\\partial\\,\\mathrm{fq}_4(W)} \\quad\\text{(straight-through estimator)},

Adam on the float weights ("latent" weights), for :data:`QAT_SETTINGS` epochs over the
training split.  (With max-abs scales no weight is clipped, so the straight-through mask is all
ones.)
"""
from __future__ import annotations

import functools

import numpy as np

from quantref.linear import symmetric_qparams
from quantref.qat.adam import Adam
from quantref.qat.fake_quant import fake_quantize_forward
from quantref.zoo import load_digits_split, pretrained_cnn
from quantref.zoo.cnn import BatchNorm, ConvNet

#: The quantization-aware fine-tuning of the 4-bit row (seeded; about a second on one core).
QAT_SETTINGS = dict(bits=4, epochs=3, lr=1e-3, batch_size=32, seed=0)


def model_dict(cnn=None) -> dict:
    """A ConvNet as the plain dict the exercises take (``ConvNet.save``'s keys, float32 arrays)."""
    cnn = pretrained_cnn() if cnn is None else cnn
    out = {}
    for i, ((w, b), bn) in enumerate(zip(cnn.convs, cnn.batch_norms)):
        out[f"conv{i}_W"], out[f"conv{i}_b"] = w.copy(), b.copy()
        if bn is not None:
            out.update({f"bn{i}_gamma": bn.gamma.copy(), f"bn{i}_beta": bn.beta.copy(),
                        f"bn{i}_mean": bn.running_mean.copy(), f"bn{i}_var": bn.running_var.copy(),
                        f"bn{i}_eps": float(bn.eps)})
    out["classifier_W"], out["classifier_b"] = cnn.classifier[0].copy(), cnn.classifier[1].copy()
    return out


def convnet(model: dict, dtype=np.float32) -> ConvNet:
    """The :class:`quantref.zoo.ConvNet` of a model dict (the inverse of :func:`model_dict`)."""
    n = sum(1 for k in model if k.startswith("conv") and k.endswith("_W"))
    convs = [(model[f"conv{i}_W"], model[f"conv{i}_b"]) for i in range(n)]
    bns = [BatchNorm(model[f"bn{i}_gamma"], model[f"bn{i}_beta"], model[f"bn{i}_mean"], model[f"bn{i}_var"],
                     float(model[f"bn{i}_eps"])) if f"bn{i}_gamma" in model else None for i in range(n)]
    return ConvNet(convs, bns, (model["classifier_W"], model["classifier_b"]), dtype=dtype)


def fake_quantize_per_channel(weight, bits: int) -> np.ndarray:
    """Symmetric per-output-channel fake quantization on the narrow grid ``[-(2^(b-1) - 1), 2^(b-1) - 1]``."""
    w = np.asarray(weight, dtype=np.float64)
    flat = w.reshape(len(w), -1)
    amax = np.abs(flat).max(axis=1)
    scale, _ = symmetric_qparams(-amax, amax, bits=bits, signed=True, narrow_range=True)
    qmax = 2 ** (bits - 1) - 1
    return fake_quantize_forward(flat, scale, np.zeros(len(scale), dtype=np.int64), -qmax, qmax,
                                 axis=0).reshape(w.shape)


@functools.lru_cache(maxsize=None)
def _qat_arrays() -> tuple:
    s = QAT_SETTINGS
    data = load_digits_split()
    folded = pretrained_cnn().fold_batch_norm().astype(np.float32)
    params = [p.copy() for p in folded.parameters()]          # W1, b1, W2, b2, Wc, bc (no batch norms)
    weights = list(range(0, len(params), 2))
    opt = Adam(params, lr=s["lr"])
    rng = np.random.default_rng(s["seed"])
    n = len(data.x_train)
    for _ in range(s["epochs"]):
        order = rng.permutation(n)
        for start in range(0, n, s["batch_size"]):
            batch = order[start:start + s["batch_size"]]
            quantized = [fake_quantize_per_channel(p, s["bits"]) if i in weights else p for i, p in enumerate(params)]
            net = ConvNet([(quantized[0], quantized[1]), (quantized[2], quantized[3])], [None, None],
                          (quantized[4], quantized[5]), dtype=np.float32)
            _, grads = net.loss_and_gradients(data.x_train[batch], data.y_train[batch])
            opt.step(grads)                                      # straight through: d/dW = d/d fq(W)
    return tuple(params)


def qat_model_dict() -> dict:
    """The folded network after 4-bit quantization-aware fine-tuning (module docstring); float32 arrays."""
    w1, b1, w2, b2, wc, bc = (p.copy() for p in _qat_arrays())
    return dict(conv0_W=w1, conv0_b=b1, conv1_W=w2, conv1_b=b2, classifier_W=wc, classifier_b=bc)
