r"""A ConvNet that runs end to end on integers: fold, calibrate, quantize the input once, then integers only.

:meth:`IntegerConvNet.from_float` converts a float :class:`quantref.zoo.ConvNet` (post-training
quantization):

1. fold every batch norm into its convolution (:func:`quantref.conv.bn_folding.fold_batch_norm`);
2. run the folded float model on calibration inputs and give each tensor between two layers
   (the input, each convolution's ReLU output, the logits) per-tensor asymmetric uint8 qparams
   from its min/max (:func:`quantref.qparams`, the range widened to contain 0);
3. make each convolution a :class:`~quantref.conv.integer_conv.QuantizedConv2d` (ReLU fused) and
   the classifier a :class:`~quantref.integer.QuantizedLinear`, each layer's output qparams the
   next layer's input qparams.

Max pooling runs on the codes (the qparams pass through: :mod:`~quantref.conv.pooling`), and the
pooled codes are flattened in NCHW order, as the float model flattens.  The prediction is the
argmax of the classifier's uint8 output codes (one scale for all classes).
"""
from __future__ import annotations

import numpy as np

from .._checks import as_float_array
from ..integer.linear_layer import QuantizedLinear
from ..integer.mlp import INPUT_QPARAMS_BYTES, ZERO_POINT_BYTES
from ..linear import qparams, quantize
from .integer_conv import QuantizedConv2d
from .pooling import max_pool2d


def calibrate_activations(folded_cnn, calibration_inputs) -> list:
    r"""Per-tensor uint8 qparams ``[(s, z), ...]`` of the input, each convolution's output, and the logits.

    Min/max calibration of the folded float model:
    :math:`s = (\max(r_{max}, 0) - \min(r_{min}, 0)) / 255`, :math:`z = \mathrm{round}(-\min(r_{min}, 0) / s)`
    (:func:`quantref.qparams`, asymmetric, 8 bits).
    """
    x = folded_cnn.images(calibration_inputs)
    if len(x) == 0:
        raise ValueError("calibration_inputs is empty; pass at least one representative input, e.g. the training split.")
    return [tuple(qparams(float(a.min()), float(a.max()), bits=8)) for a in folded_cnn.activations(x)]


class IntegerConvNet:
    """Integer convolutions, integer max pooling, an integer classifier, and a float input quantizer in front.

    Parameters
    ----------
    convs : list of QuantizedConv2d
    classifier : QuantizedLinear
    input_shape : (c, h, w)
    pool : int

    Use :meth:`from_float` to build one from a float ConvNet.
    """

    def __init__(self, convs, classifier, input_shape, pool: int = 2):
        if not isinstance(convs, (list, tuple)) or not convs or not all(isinstance(c, QuantizedConv2d) for c in convs):
            raise TypeError("convs must be a non-empty list of QuantizedConv2d layers.")
        if not isinstance(classifier, QuantizedLinear):
            raise TypeError(f"classifier must be a QuantizedLinear, got {type(classifier).__name__}.")
        chain = list(convs) + [classifier]
        for i, (a, b) in enumerate(zip(chain[:-1], chain[1:])):
            if (a.output_scale, a.output_zero_point) != (b.input_scale, b.input_zero_point):
                raise ValueError(f"layer {i}'s output qparams ({a.output_scale!r}, {a.output_zero_point}) differ "
                                 f"from layer {i + 1}'s input qparams ({b.input_scale!r}, {b.input_zero_point}).")
        self.convs, self.classifier = list(convs), classifier
        self.input_shape, self.pool = tuple(input_shape), int(pool)

    @classmethod
    def from_float(cls, cnn, calibration_inputs) -> "IntegerConvNet":
        """Fold, calibrate with min/max on ``calibration_inputs`` (module docstring), quantize.

        Examples
        --------
        >>> from quantref.zoo import load_digits_split, pretrained_cnn
        >>> data = load_digits_split()
        >>> model = IntegerConvNet.from_float(pretrained_cnn(), data.x_train)
        >>> model
        IntegerConvNet(1x8x8 -> conv 8 -> conv 16 -> maxpool 2 -> 10, uint8 activations)
        >>> model.accuracy(data.x_test, data.y_test) >= 0.97
        True
        """
        from ..zoo.cnn import PADDING, ConvNet

        if not isinstance(cnn, ConvNet):
            raise TypeError(f"cnn must be a quantref.zoo.ConvNet, got {type(cnn).__name__}.")
        folded = cnn.fold_batch_norm()
        ranges = calibrate_activations(folded, calibration_inputs)
        convs = [QuantizedConv2d.from_float(w, b, *ranges[i], *ranges[i + 1], padding=PADDING, relu=True)
                 for i, (w, b) in enumerate(folded.convs)]
        classifier = QuantizedLinear.from_float(*folded.classifier, *ranges[-2], *ranges[-1], relu=False)
        return cls(convs, classifier, folded.input_shape, folded.pool)

    @property
    def activation_qparams(self) -> list:
        """``[(s, z), ...]`` of the input, each convolution's output, and the logits."""
        return [(layer.input_scale, layer.input_zero_point) for layer in self.convs] + \
            [(self.classifier.input_scale, self.classifier.input_zero_point),
             (self.classifier.output_scale, self.classifier.output_zero_point)]

    def quantize_input(self, x) -> np.ndarray:
        """Input codes ``clip(round(x / s_x) + z_x, 0, 255)`` as images (n, c, h, w): the only float step."""
        arr = as_float_array(x, "x")
        size = int(np.prod(self.input_shape))
        if arr.ndim == 2 and arr.shape[1] == size:
            arr = arr.reshape((len(arr),) + self.input_shape)
        if arr.ndim != 4 or arr.shape[1:] != self.input_shape:
            raise ValueError(f"x has shape {arr.shape}; the network takes (n, {size}) or "
                             f"(n, {', '.join(map(str, self.input_shape))}).")
        first = self.convs[0]
        return quantize(arr, first.input_scale, first.input_zero_point, bits=8)

    def layer_codes(self, x) -> list:
        """The codes of every tensor: ``[input, conv_1 out, ..., conv_L out, pooled, logits]``."""
        codes = [self.quantize_input(x)]
        for layer in self.convs:
            codes.append(layer.forward_int(codes[-1]))
        codes.append(max_pool2d(codes[-1], self.pool))
        codes.append(self.classifier.forward_int(codes[-1].reshape(len(codes[-1]), -1)))
        return codes

    def forward_int(self, x) -> np.ndarray:
        """The classifier's uint8 output codes, (n, n_classes)."""
        return self.layer_codes(x)[-1]

    def logits(self, x) -> np.ndarray:
        """The output codes dequantized, :math:`s_{out}(q - z_{out})` (float64)."""
        c = self.classifier
        return c.output_scale * (self.forward_int(x).astype(np.int64) - c.output_zero_point)

    def predict(self, x) -> np.ndarray:
        """Classes: argmax of the output codes (ties go to the lowest class index)."""
        return np.argmax(self.forward_int(x), axis=1)

    def accuracy(self, x, y) -> float:
        pred = self.predict(x)
        labels = np.asarray(y)
        if labels.shape != pred.shape:
            raise ValueError(f"y has shape {labels.shape}; it must have shape {pred.shape}, one label per image.")
        return float(np.mean(pred == labels))

    @property
    def nbytes(self) -> int:
        """Bytes integer inference stores: per layer int8 weights, int32 folded bias, int32 ``m0`` and
        ``shift`` per channel and the output zero point; plus the input quantizer's scale and zero point."""
        layers = self.convs + [self.classifier]
        return int(sum(layer.nbytes + ZERO_POINT_BYTES for layer in layers) + INPUT_QPARAMS_BYTES)

    def __repr__(self) -> str:
        parts = ["x".join(map(str, self.input_shape))] + [f"conv {c.out_channels}" for c in self.convs]
        parts += [f"maxpool {self.pool}", str(self.classifier.out_features)]
        return f"IntegerConvNet({' -> '.join(parts)}, {self.classifier.activation_dtype.name} activations)"
