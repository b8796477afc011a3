r"""An MLP that runs end to end on integers: quantize the input once, then int8 layers only.

:meth:`IntegerMLP.from_float` converts a float :class:`quantref.zoo.MLP` (post-training
quantization): it runs the float model on calibration inputs, takes each activation's range
with min/max, and gives every tensor between two layers per-tensor 8-bit qparams
(:func:`quantref.qparams`, asymmetric).  Layer :math:`l` becomes a
:class:`~quantref.integer.linear_layer.QuantizedLinear` whose output qparams are layer
:math:`l+1`'s input qparams, with the hidden layers' ReLU fused into the requantization.

After the input is quantized nothing but integer arithmetic runs: int8 x uint8 products in
int32, an int32 bias add, and the fixed-point requantization.  The prediction is the argmax of
the last layer's 8-bit output codes: they share one scale and zero point, so their order is
the order of the (requantized) logits.  The int32 accumulators would *not* do here: with
per-channel weight scales, accumulator :math:`c` is in units of :math:`s_x s_{w,c}`, different
for every class.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import as_float_array
from ..linear import qparams, quantize
from ._checks import check_activation_dtype
from .linear_layer import QuantizedLinear

#: Bytes kept per layer besides its arrays: the output zero point (int32).
ZERO_POINT_BYTES = 4
#: Bytes of the input quantizer: its scale (float32) and zero point (int32).
INPUT_QPARAMS_BYTES = 8


class IntegerMLP:
    """A chain of :class:`QuantizedLinear` layers with a float input quantizer in front.

    Parameters
    ----------
    layers : list of QuantizedLinear
        Consecutive layers: each layer's output qparams and dtype are the next one's input qparams.
    input_scale, input_zero_point : float, int
        Quantization of the float input (per tensor).

    Use :meth:`from_float` to build one from a float MLP.
    """

    def __init__(self, layers, input_scale, input_zero_point):
        if not isinstance(layers, (list, tuple)) or not layers or \
                not all(isinstance(layer, QuantizedLinear) for layer in layers):
            raise TypeError("layers must be a non-empty list of QuantizedLinear layers.")
        for i, (a, b) in enumerate(zip(layers[:-1], layers[1:])):
            if a.out_features != b.in_features:
                raise ValueError(f"mismatched layer shapes: layers[{i}] has {a.out_features} outputs but "
                                 f"layers[{i + 1}] takes {b.in_features} inputs.")
            if (a.output_scale, a.output_zero_point, a.activation_dtype) != \
                    (b.input_scale, b.input_zero_point, b.activation_dtype):
                raise ValueError(f"layers[{i}]'s output qparams ({a.output_scale!r}, {a.output_zero_point}, "
                                 f"{a.activation_dtype}) differ from layers[{i + 1}]'s input qparams "
                                 f"({b.input_scale!r}, {b.input_zero_point}, {b.activation_dtype}); they must be equal.")
        first = layers[0]
        if (float(input_scale), int(input_zero_point)) != (first.input_scale, first.input_zero_point):
            raise ValueError("input_scale and input_zero_point must be the first layer's input qparams.")
        self.layers = list(layers)
        self.input_scale = float(input_scale)
        self.input_zero_point = int(input_zero_point)
        self.activation_dtype = first.activation_dtype

    @classmethod
    def from_float(cls, mlp, calibration_inputs, *, activation_dtype=np.uint8) -> "IntegerMLP":
        """Quantize a float MLP, calibrating every activation range with min/max on ``calibration_inputs``.

        Parameters
        ----------
        mlp : quantref.zoo.MLP
            The float model (ReLU hidden layers).
        calibration_inputs : array_like of float, shape (n, in_features)
            Representative inputs (e.g. the training set); ``n >= 1``.
        activation_dtype : np.uint8 or np.int8
            Grid of every activation: [0, 255] or [-128, 127], asymmetric per tensor.

        Examples
        --------
        >>> from quantref.zoo import load_digits_split, pretrained_mlp
        >>> data = load_digits_split()
        >>> model = IntegerMLP.from_float(pretrained_mlp(), data.x_train)
        >>> model
        IntegerMLP(64 -> 64 -> 10, activations=uint8)
        >>> model.accuracy(data.x_test, data.y_test) >= 0.96
        True
        """
        from ..zoo.mlp import MLP

        if not isinstance(mlp, MLP):
            raise TypeError(f"mlp must be a quantref.zoo.MLP, got {type(mlp).__name__}.")
        dtype = check_activation_dtype(activation_dtype)
        x = as_float_array(calibration_inputs, "calibration_inputs")
        if x.ndim != 2 or x.shape[1] != mlp.in_features or len(x) == 0:
            raise ValueError(f"calibration_inputs has shape {x.shape}; it must be (n, {mlp.in_features}) with "
                             f"n >= 1 representative inputs.")
        signed = dtype == np.int8
        ranges = [qparams(float(a.min()), float(a.max()), bits=8, signed=signed) for a in mlp.activations(x)]
        last = len(mlp.layers) - 1
        layers = [QuantizedLinear.from_float(w, b, *ranges[i], *ranges[i + 1], relu=i < last,
                                             activation_dtype=dtype)
                  for i, (w, b) in enumerate(mlp.layers)]
        return cls(layers, *ranges[0])

    @property
    def in_features(self) -> int:
        return self.layers[0].in_features

    def quantize_input(self, x) -> np.ndarray:
        """The input codes: ``clip(round(x / s_x) + z_x)`` on the activation grid (the only float step)."""
        arr = as_float_array(x, "x")
        if arr.ndim != 2 or arr.shape[1] != self.in_features:
            raise ValueError(f"x has shape {arr.shape}; the model takes (n_samples, {self.in_features}).")
        return quantize(arr, self.input_scale, self.input_zero_point, bits=8,
                        signed=self.activation_dtype == np.int8)

    def forward_codes(self, x_q) -> np.ndarray:
        """Run every layer on integer codes; return the last layer's output codes."""
        for layer in self.layers:
            x_q = layer.forward_int(x_q)
        return x_q

    def forward_int(self, x) -> np.ndarray:
        """Quantize the float input once, then run on integers; the output codes (n, n_classes)."""
        return self.forward_codes(self.quantize_input(x))

    def logits(self, x) -> np.ndarray:
        """The output codes dequantized, :math:`s_{out}(q - z_{out})` (float64), for comparison with the float model."""
        last = self.layers[-1]
        return last.output_scale * (self.forward_int(x).astype(np.int64) - last.output_zero_point)

    def predict(self, x) -> np.ndarray:
        """Classes: argmax of the output codes (ties go to the lowest class index)."""
        return np.argmax(self.forward_int(x), axis=1)

    def accuracy(self, x, y) -> float:
        """Fraction of samples classified correctly."""
        pred = self.predict(x)
        labels = np.asarray(y)
        if labels.shape != pred.shape:
            raise ValueError(f"y has shape {labels.shape}; it must have shape {pred.shape}, one label per sample.")
        return float(np.mean(pred == labels))

    @property
    def nbytes(self) -> int:
        """Bytes integer inference stores: per layer int8 weights, int32 folded bias, int32 ``m0`` and
        ``shift`` per channel and the output zero point; plus the input quantizer's scale and zero point."""
        return int(sum(layer.nbytes + ZERO_POINT_BYTES for layer in self.layers) + INPUT_QPARAMS_BYTES)

    def __repr__(self) -> str:
        sizes = [self.in_features] + [layer.out_features for layer in self.layers]
        return f"IntegerMLP({' -> '.join(map(str, sizes))}, activations={self.activation_dtype.name})"


class IntegerReport(NamedTuple):
    """Float model versus its integer-only version on one labelled data set."""

    float_accuracy: float
    integer_accuracy: float
    float_bytes: int
    integer_bytes: int
    agreement: float  #: fraction of samples where both predict the same class

    def __str__(self) -> str:
        return (f"float accuracy {self.float_accuracy:.2%}, integer accuracy {self.integer_accuracy:.2%} "
                f"(same prediction on {self.agreement:.2%}); size {self.float_bytes} bytes in float32, "
                f"{self.integer_bytes} bytes in integers ({self.float_bytes / self.integer_bytes:.1f}x smaller)")


def compare_with_float(mlp, integer_mlp: IntegerMLP, x, y) -> IntegerReport:
    """Accuracy of both models on ``(x, y)``, how often they agree, and their sizes in bytes."""
    float_pred, int_pred = mlp.predict(x), integer_mlp.predict(x)
    y = np.asarray(y)
    return IntegerReport(float(np.mean(float_pred == y)), float(np.mean(int_pred == y)), mlp.nbytes,
                         integer_mlp.nbytes, float(np.mean(float_pred == int_pred)))
