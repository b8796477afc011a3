r"""The fake-quantized float pass that an integer ConvNet must match code for code.

Every tensor is kept as the real number its code stands for, :math:`\tilde t = s (q - z)`, and
every layer computes in float64 on such values (the gemmlowp / TFLite way of testing integer
kernels against a float model that simulates the quantization):

* the input: :math:`\tilde x = \mathrm{fq}(x; s_x, z_x)` on [0, 255]
  (:func:`quantref.qat.fake_quantize_forward`);
* weights: :math:`\tilde W_c = \mathrm{fq}(W_c; s_{w,c}, 0)` on the narrow grid [-127, 127],
  :math:`s_{w,c} = \max|W_c| / 127` per output channel;
* the bias on the int32 grid of step :math:`s_x s_{w,c}`:
  :math:`\tilde b_c = s_x s_{w,c}\,\mathrm{round}(b_c / (s_x s_{w,c}))`;
* the layer in float: :math:`y = \tilde W * \tilde x + \tilde b` (:func:`quantref.conv.im2col.conv2d`,
  padding with real 0), or :math:`y = \tilde x \tilde W^T + \tilde b` for the classifier;
* the output quantizer.  Here "fake quantization" must round exactly as the integer kernel
  does, or the codes differ by one now and then.  :math:`y / (s_x s_{w,c})` is the integer
  accumulator up to float64 rounding (below :math:`10^{-6}` of a step for these layer sizes: at
  most :math:`K \cdot 255 \cdot 127` in size, with a relative error of a few hundred units of
  :math:`2^{-53}`), so ``requantization="fixed_point"`` (the default) rounds it to that integer
  and puts it on the output grid with the fixed-point multiplier
  :math:`M_c = s_x s_{w,c} / s_{out}` and gemmlowp's rounding (:func:`quantref.integer.requantize`,
  the one implementation), then :math:`\tilde y = s_{out}(q - z_{out})`.
  ``requantization="round"`` is the textbook fake quantization instead,
  :math:`\tilde y = \mathrm{fq}(y; s_{out}, z_{out})` (round half to even of :math:`y / s_{out}`),
  which differs from the integer kernel by one code wherever the two roundings disagree;
* ReLU is the lower clamp at real 0; max pooling acts on the real values (and so on the codes).

What the comparison with :class:`~quantref.conv.integer_convnet.IntegerConvNet` checks, then, is
everything the integer path adds: the zero-point padding of im2col, the weight-sum folding of the
input zero point into the bias, the int8 matmul kernel, integer max pooling and the flattening order.
"""
from __future__ import annotations

import numpy as np

from ..integer.linear_layer import WEIGHT_QMAX, WEIGHT_QMIN, quantize_bias
from ..integer.requantize import requantize
from ..linear import symmetric_qparams
from ..qat.fake_quant import fake_quantize_forward
from .im2col import conv2d
from .pooling import max_pool2d

#: Activation grid (uint8).
QMIN, QMAX = 0, 255
#: A layer output divided by its accumulator step must lie this close to an integer.
ACCUMULATOR_TOLERANCE = 1e-3
REQUANTIZATION_MODES = ("fixed_point", "round")


def fake_quantize_weights(weight) -> tuple[np.ndarray, np.ndarray]:
    r"""Per-output-channel symmetric int8 fake quantization: :math:`(\tilde W, s_w)`, output channel first."""
    w = np.asarray(weight, dtype=np.float64)
    flat = w.reshape(w.shape[0], -1)
    amax = np.abs(flat).max(axis=1)
    scale, _ = symmetric_qparams(-amax, amax, bits=8, signed=True, narrow_range=True)
    w_tilde = fake_quantize_forward(flat, scale, np.zeros(len(scale), dtype=np.int64), WEIGHT_QMIN, WEIGHT_QMAX,
                                    axis=0)
    return w_tilde.reshape(w.shape), scale


class FakeQuantConvNet:
    """The float64 fake-quantized forward pass of a folded ConvNet with given activation qparams.

    Parameters
    ----------
    folded_cnn : quantref.zoo.ConvNet
        A model without batch norms (:meth:`~quantref.zoo.ConvNet.fold_batch_norm`).
    activation_qparams : list of (scale, zero_point)
        Of the input, each convolution's output, and the logits (e.g.
        :attr:`IntegerConvNet.activation_qparams <quantref.conv.integer_convnet.IntegerConvNet.activation_qparams>`).
    requantization : {"fixed_point", "round"}
        How each layer's output is put on its grid (module docstring).
    """

    def __init__(self, folded_cnn, activation_qparams, requantization: str = "fixed_point"):
        from ..zoo.cnn import PADDING, ConvNet

        if not isinstance(folded_cnn, ConvNet) or any(bn is not None for bn in folded_cnn.batch_norms):
            raise TypeError("folded_cnn must be a quantref.zoo.ConvNet without batch norms; fold them first "
                            "with cnn.fold_batch_norm().")
        qp = list(activation_qparams)
        if len(qp) != len(folded_cnn.convs) + 2:
            raise ValueError(f"activation_qparams has {len(qp)} entries; it needs {len(folded_cnn.convs) + 2}: the "
                             f"input, each of the {len(folded_cnn.convs)} convolutions' outputs, and the logits.")
        if requantization not in REQUANTIZATION_MODES:
            raise ValueError(f"requantization must be one of {REQUANTIZATION_MODES}, got {requantization!r}.")
        self.cnn, self.padding = folded_cnn.astype(np.float64), PADDING
        self.qparams = [(float(s), int(z)) for s, z in qp]
        self.requantization = requantization

    def _output_quantizer(self, y, s_x, s_w, s_out, z_out, relu: bool) -> np.ndarray:
        """Put the float layer output ``y`` (channel axis last) on the output grid; return real values."""
        if self.requantization == "round":
            y_tilde = fake_quantize_forward(y, s_out, z_out, QMIN, QMAX)
            return np.maximum(y_tilde, 0.0) if relu else y_tilde
        step = s_x * s_w                        # the accumulator's step, per output channel
        acc_real = y / step
        acc = np.rint(acc_real)
        off = float(np.max(np.abs(acc_real - acc), initial=0.0))
        if off > ACCUMULATOR_TOLERANCE:
            raise RuntimeError(f"a layer output is {off:.3g} steps away from an integer accumulator; the "
                               f"fake-quantized values are not on their grids.")
        q = requantize(acc.astype(np.int64), s_x * s_w / s_out, z_out, QMIN, QMAX, relu=relu)
        return s_out * (q.astype(np.int64) - z_out)

    def layer_values(self, x) -> list:
        """Real values of every tensor: ``[input, conv_1 out, ..., conv_L out, pooled, logits]``."""
        s_x, z_x = self.qparams[0]
        a = fake_quantize_forward(self.cnn.images(x), s_x, z_x, QMIN, QMAX)
        values = [a]
        for i, (w, b) in enumerate(self.cnn.convs):
            s_out, z_out = self.qparams[i + 1]
            w_tilde, s_w = fake_quantize_weights(w)
            b_tilde = s_x * s_w * quantize_bias(b, s_x, s_w)
            y = conv2d(a, w_tilde, b_tilde, padding=self.padding).transpose(0, 2, 3, 1)   # channels last
            a = self._output_quantizer(y, s_x, s_w, s_out, z_out, relu=True).transpose(0, 3, 1, 2)
            values.append(a)
            s_x = s_out
        pooled = max_pool2d(a, self.cnn.pool)
        values.append(pooled)
        w, b = self.cnn.classifier
        w_tilde, s_w = fake_quantize_weights(w)
        b_tilde = s_x * s_w * quantize_bias(b, s_x, s_w)
        y = pooled.reshape(len(pooled), -1) @ w_tilde.T + b_tilde
        values.append(self._output_quantizer(y, s_x, s_w, *self.qparams[-1], relu=False))
        return values

    def layer_codes(self, x) -> list:
        r"""The codes the values stand for, :math:`q = \mathrm{round}(\tilde t / s) + z` (int64)."""
        values = self.layer_values(x)
        scales = self.qparams[:-1] + self.qparams[-2:]      # the pooled tensor keeps the last conv's qparams
        return [np.rint(v / s).astype(np.int64) + z for v, (s, z) in zip(values, scales)]

    def logits(self, x) -> np.ndarray:
        """The fake-quantized logits (float64)."""
        return self.layer_values(x)[-1]

    def predict(self, x) -> np.ndarray:
        return np.argmax(self.logits(x), axis=1)

    def accuracy(self, x, y) -> float:
        return float(np.mean(self.predict(x) == np.asarray(y)))
