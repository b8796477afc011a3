r"""The reference payoff table of problem set 9, computed with :mod:`quantref`.

One row per way of shrinking the digits ConvNet; each row has the test accuracy, the model's
bytes and a latency.  The rows and how their bytes are counted (``n_l`` weights and ``c_l``
output channels in layer ``l``; three layers: two convolutions and the classifier):

``float32``
    The folded network in float32 (:meth:`ConvNet.fold_batch_norm`): :math:`4 \sum_l (n_l + c_l)`.
``ptq_int8_minmax``
    Integer-only inference (:class:`quantref.conv.integer_convnet.IntegerConvNet`): int8 weights
    per output channel, uint8 activations with min/max ranges on the calibration images, int32
    bias, Q31 multiplier and shift per output channel, a zero point per layer and the input's
    scale and zero point: :math:`\sum_l (n_l + 12 c_l + 4) + 8` (``IntegerConvNet.nbytes``).
``ptq_int8_percentile``
    The same with each activation range from the :data:`PERCENTILE`-th percentile of
    :math:`|x|` (:class:`quantref.calibration.PercentileObserver`, exact); the same bytes.
``ptq_int4_weights``
    Weight-only: every weight rounded to symmetric 4 bits per output channel
    (:math:`s_c = \max|W_c|/7`, codes in [-7, 7]), activations in float32; codes packed two to a
    byte, a float32 scale and a float32 bias per channel: :math:`\sum_l (\lceil n_l / 2 \rceil + 8 c_l)`.
``qat_int4_weights``
    The same on the network fine-tuned with 4-bit weights in the loop (an input of the case).
``kmeans_4bit_weights``
    Weight-only: each layer's weights shared among 16 values by k-means
    (:func:`quantref.codebook.kmeans_1d`, linear initialisation, :data:`KMEANS_ITERS` iterations),
    4-bit codes packed two to a byte, a float32 codebook of 16 values and float32 biases:
    :math:`\sum_l (\lceil n_l / 2 \rceil + 64 + 4 c_l)`.
``pq_classifier``
    The convolutions in float32; the classifier's product replaced by product quantization
    (:class:`quantref.pq.ProductQuantizer`: the 256 pooled features in :data:`PQ_M` subspaces,
    16 prototypes each, trained on the calibration images' features, :data:`PQ_NITER` k-means
    iterations, random initialisation with seed :data:`PQ_SEED`), logits = the sum of the tables'
    entries of the codes + the bias: the convolutions' float32 bytes, plus the prototypes
    (:math:`16 \cdot 256` float32), the tables (:math:`10 \cdot M \cdot 16` float32) and the bias
    (10 float32).

Latency: milliseconds for the whole test batch, measured once per row (quantref's integer kernels
for the int8 rows, float32 NumPy for the others); only its sign is graded.
"""
from __future__ import annotations

import time

import numpy as np

from quantref import qparams
from quantref.calibration import PercentileObserver
from quantref.codebook import kmeans_1d, pack_codes
from quantref.conv.integer_conv import QuantizedConv2d
from quantref.conv.integer_convnet import IntegerConvNet, calibrate_activations
from quantref.conv.pooling import max_pool2d
from quantref.integer import QuantizedLinear
from quantref.pq import ProductQuantizer
from quantref.pq.scan import scan
from quantref.zoo.cnn import PADDING, ConvNet

from .models import convnet, fake_quantize_per_channel

#: The rows, in the table's order.
ROWS = ("float32", "ptq_int8_minmax", "ptq_int8_percentile", "ptq_int4_weights", "qat_int4_weights",
        "kmeans_4bit_weights", "pq_classifier")
#: The entries of every row.
COLUMNS = ("accuracy", "bytes", "latency_ms")
#: The percentile calibrator's p (of |x|, per tensor).
PERCENTILE = 99.99
#: Bits of the weight-only rows, and k-means' clusters and iterations.
WEIGHT_BITS, KMEANS_CLUSTERS, KMEANS_ITERS = 4, 16, 20
#: Product quantization of the classifier: subspaces, prototypes per subspace, k-means iterations, seed.
PQ_M, PQ_K, PQ_NITER, PQ_SEED = 16, 16, 10, 0


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, 1e3 * max(time.perf_counter() - t0, 1e-9)


def _float_bytes(cnn: ConvNet) -> int:
    return 4 * (sum(w.size + b.size for w, b in cnn.convs) + cnn.classifier[0].size + cnn.classifier[1].size)


def _layers(cnn: ConvNet) -> list:
    return list(cnn.convs) + [cnn.classifier]


def _with_weights(cnn: ConvNet, transform) -> ConvNet:
    convs = [(transform(w), b) for w, b in cnn.convs]
    wc, bc = cnn.classifier
    return ConvNet(convs, [None] * len(convs), (transform(wc), bc), cnn.input_shape, cnn.pool, dtype=np.float32)


def _accuracy_row(cnn: ConvNet, x, y, nbytes: int) -> dict:
    pred, ms = _timed(lambda: cnn.predict(x))
    return dict(accuracy=float(np.mean(pred == y)), bytes=int(nbytes), latency_ms=ms)


def _integer_row(net: IntegerConvNet, x, y) -> dict:
    pred, ms = _timed(lambda: net.predict(x))
    return dict(accuracy=float(np.mean(pred == y)), bytes=net.nbytes, latency_ms=ms)


def integer_network(folded: ConvNet, ranges: list) -> IntegerConvNet:
    """An :class:`IntegerConvNet` of a folded network with given activation qparams ``[(s, z), ...]``."""
    convs = [QuantizedConv2d.from_float(w, b, *ranges[i], *ranges[i + 1], padding=PADDING, relu=True)
             for i, (w, b) in enumerate(folded.convs)]
    classifier = QuantizedLinear.from_float(*folded.classifier, *ranges[-2], *ranges[-1], relu=False)
    return IntegerConvNet(convs, classifier, folded.input_shape, folded.pool)


def percentile_qparams(folded: ConvNet, x_calibration) -> list:
    """uint8 qparams of every tensor from the :data:`PERCENTILE`-th percentile of its ``|x|``."""
    out = []
    for a in folded.activations(folded.images(x_calibration)):
        lo, hi = PercentileObserver(percentile=PERCENTILE, method="exact").update(a).range()
        out.append(tuple(qparams(float(lo), float(hi), bits=8)))
    return out


def _int4_bytes(cnn: ConvNet) -> int:
    total = 0
    for w, b in _layers(cnn):
        codes = np.zeros(w.size, dtype=np.uint8)          # only the packed size matters here
        total += pack_codes(codes, WEIGHT_BITS).data.nbytes + 8 * len(b)
    return total


def kmeans_weights(w) -> np.ndarray:
    """Each weight replaced by its k-means centroid (16 shared values per layer)."""
    r = kmeans_1d(np.asarray(w, dtype=np.float64).ravel(), KMEANS_CLUSTERS, init="linear", max_iter=KMEANS_ITERS)
    return r.centroids[r.codes.astype(np.int64)].reshape(np.shape(w))


def _kmeans_bytes(cnn: ConvNet) -> int:
    return sum(pack_codes(np.zeros(w.size, dtype=np.uint8), WEIGHT_BITS).data.nbytes + 4 * KMEANS_CLUSTERS + 4 * len(b)
               for w, b in _layers(cnn))


def _pooled_features(cnn: ConvNet, x) -> np.ndarray:
    a = cnn.activations(x)[-2]                              # the last convolution's ReLU output
    return max_pool2d(a, cnn.pool).reshape(len(a), -1)


def _pq_row(folded32: ConvNet, x_calibration, x, y) -> dict:
    wc, bc = folded32.classifier
    pq = ProductQuantizer(wc.shape[1], PQ_M, nbits=int(np.log2(PQ_K)))
    pq.train(_pooled_features(folded32, x_calibration).astype(np.float32), niter=PQ_NITER, seed=PQ_SEED,
             init="random", max_points_per_centroid=None, progress=False)
    tables = pq.tables(wc.astype(np.float32), "ip")           # (n_classes, M, K)

    def predict():
        codes = pq.compute_codes(_pooled_features(folded32, x).astype(np.float32))
        logits = np.asarray(scan(codes, tables, backend="numpy")).T + bc
        return np.argmax(logits, axis=1)
    pred, ms = _timed(predict)
    conv_bytes = 4 * sum(w.size + b.size for w, b in folded32.convs)
    nbytes = conv_bytes + pq.centroids.nbytes + tables.astype(np.float32).nbytes + 4 * len(bc)
    return dict(accuracy=float(np.mean(pred == y)), bytes=int(nbytes), latency_ms=ms)


def payoff_table(model, qat_model, x_calibration, x_test, y_test) -> dict:
    """``{row: {"accuracy", "bytes", "latency_ms"}}`` for every row of :data:`ROWS` (module docstring)."""
    y = np.asarray(y_test)
    cnn = convnet(model)
    folded = cnn.fold_batch_norm()                            # float64
    folded32 = folded.astype(np.float32)
    table = {"float32": _accuracy_row(folded32, x_test, y, _float_bytes(folded32))}
    table["ptq_int8_minmax"] = _integer_row(integer_network(folded, calibrate_activations(folded, x_calibration)),
                                            x_test, y)
    table["ptq_int8_percentile"] = _integer_row(integer_network(folded, percentile_qparams(folded, x_calibration)),
                                                x_test, y)
    int4 = lambda w: fake_quantize_per_channel(w, WEIGHT_BITS)
    table["ptq_int4_weights"] = _accuracy_row(_with_weights(folded, int4), x_test, y, _int4_bytes(folded))
    qat = convnet(qat_model, dtype=np.float64)
    table["qat_int4_weights"] = _accuracy_row(_with_weights(qat, int4), x_test, y, _int4_bytes(qat))
    table["kmeans_4bit_weights"] = _accuracy_row(_with_weights(folded, kmeans_weights), x_test, y,
                                                 _kmeans_bytes(folded))
    table["pq_classifier"] = _pq_row(folded32, x_calibration, x_test, y)
    return table
