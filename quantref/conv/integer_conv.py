r"""A stride-1 convolution on integers only: im2col onto the int8 matmul of :class:`QuantizedLinear`.

For uint8 input codes :math:`x_q` (scale :math:`s_x`, zero point :math:`z_x`, per tensor), int8
weights :math:`W_q` symmetric per output channel (:math:`s_{w,c}`, zero point 0, narrow grid
[-127, 127]) and the int32 bias :math:`b_{q,c} = \mathrm{round}(b_c / (s_x s_{w,c}))`:

1. **im2col with the zero point as padding**: ``cols = im2col(x_q, k, p, pad_value=z_x)``.  A
   padded pixel is real 0, whose code is :math:`z_x`, so :math:`x_q - z_x = 0` there exactly;
2. **the integer matmul**: one output pixel per row of ``cols``, one output channel per row of
   :math:`W_{q,mat} = W_q.\mathrm{reshape}(c_{out}, c_{in} k k)`:

   .. math::

       acc_{(b,i,j),c} = \sum_{m} \mathrm{cols}_{(b,i,j),m}\, W_{q,mat,cm} + b_{fold,c}
       = \sum_m (\mathrm{cols}_{(b,i,j),m} - z_x) W_{q,mat,cm} + b_{q,c},
       \qquad b_{fold,c} = b_{q,c} - z_x \sum_m W_{q,mat,cm},

   exactly the fully connected layer of :mod:`quantref.integer.linear_layer` with
   :math:`c_{in} k k` inputs (the zero-point term folded into the bias offline, the core product
   on :func:`quantref.kernels.int_matmul` with the weights packed once,
   :func:`quantref.kernels.pack_weights`);
3. **requantization** with per-channel fixed-point multipliers
   :math:`M_c = s_x s_{w,c} / s_{out} = M_{0,c} 2^{-31} 2^{-n_c}` and a fused ReLU
   (:func:`quantref.integer.requantize`):

   .. math::

       y_q = \mathrm{clamp}\big(\mathrm{MBQM}(acc, M_{0,c}, n_c) + z_{out},\ q_{lo},\ 255\big),
       \qquad q_{lo} = z_{out} \text{ with ReLU, else } 0,

   and the rows go back to NCHW images.

Everything after the input quantizer is integer arithmetic, and every formula above is computed
by the one implementation in :mod:`quantref.integer` (this module only arranges the pixels).
"""
from __future__ import annotations

import numbers

import numpy as np

from ..integer._checks import check_activation_dtype
from ..integer.linear_layer import QuantizedLinear, quantize_bias, quantize_weights_per_channel
from .im2col import im2col, output_size


class QuantizedConv2d:
    r"""A convolution ``y = W * x + b`` (stride 1, square kernel) on integer codes (module docstring).

    Parameters
    ----------
    weight_q : ndarray of int8, shape (c_out, c_in, k, k)
        Symmetric per-output-channel weight codes on [-127, 127].
    weight_scale : array_like of float, shape (c_out,)
    bias_q : array_like of int, shape (c_out,)
        The int32 bias with scale :math:`s_x s_{w,c}`.
    input_scale, input_zero_point, output_scale, output_zero_point : float, int, float, int
        Per-tensor qparams of the input and output codes.
    padding : int
        Pixels of real 0 (code :math:`z_x`) around the input.
    relu : bool
        Fuse a ReLU (clamp at the output zero point).
    activation_dtype : np.uint8 or np.int8
        Dtype of the input and output codes.

    Attributes
    ----------
    matmul : QuantizedLinear
        The layer on im2col rows: its weights are ``weight_q.reshape(c_out, -1)``; it holds the
        folded bias, the fixed-point multipliers and the int32-overflow check.
    """

    def __init__(self, weight_q, weight_scale, bias_q, input_scale, input_zero_point, output_scale,
                 output_zero_point, *, padding: int = 1, relu: bool = False, activation_dtype=np.uint8):
        if not isinstance(weight_q, np.ndarray) or weight_q.dtype != np.int8 or weight_q.ndim != 4 \
                or weight_q.shape[2] != weight_q.shape[3]:
            got = f"dtype {weight_q.dtype}, shape {weight_q.shape}" if isinstance(weight_q, np.ndarray) \
                else type(weight_q).__name__
            raise TypeError(f"weight_q must be an int8 array of shape (c_out, c_in, k, k), got {got}; quantize "
                            f"float weights with QuantizedConv2d.from_float.")
        if isinstance(padding, (bool, np.bool_)) or not isinstance(padding, numbers.Integral) or padding < 0:
            raise ValueError(f"padding must be an integer >= 0, got {padding!r}.")
        self.weight_q = weight_q
        self.out_channels, self.in_channels, self.kernel_size, _ = weight_q.shape
        self.padding = int(padding)
        self.matmul = QuantizedLinear(weight_q.reshape(self.out_channels, -1), weight_scale, bias_q, input_scale,
                                      input_zero_point, output_scale, output_zero_point, relu=relu,
                                      activation_dtype=check_activation_dtype(activation_dtype))

    @classmethod
    def from_float(cls, weight, bias, input_scale, input_zero_point, output_scale, output_zero_point, *,
                   padding: int = 1, relu: bool = False, activation_dtype=np.uint8) -> "QuantizedConv2d":
        """Quantize float weights (c_out, c_in, k, k) and bias (c_out,) (``None``: zeros).

        Weights: :func:`quantref.integer.quantize_weights_per_channel` on ``weight.reshape(c_out, -1)``
        (one scale per output channel over its ``c_in k k`` weights); bias:
        :func:`quantref.integer.quantize_bias`.
        """
        w = np.asarray(weight)
        if w.ndim != 4 or w.shape[2] != w.shape[3]:
            raise ValueError(f"weight must have shape (c_out, c_in, k, k), got {w.shape}.")
        weight_q, weight_scale = quantize_weights_per_channel(w.reshape(w.shape[0], -1))
        bias = np.zeros(w.shape[0]) if bias is None else bias
        bias_q = quantize_bias(bias, input_scale, weight_scale)
        return cls(weight_q.reshape(w.shape), weight_scale, bias_q, input_scale, input_zero_point, output_scale,
                   output_zero_point, padding=padding, relu=relu, activation_dtype=activation_dtype)

    # the qparams live in the matmul layer (one copy)
    input_scale = property(lambda self: self.matmul.input_scale)
    input_zero_point = property(lambda self: self.matmul.input_zero_point)
    output_scale = property(lambda self: self.matmul.output_scale)
    output_zero_point = property(lambda self: self.matmul.output_zero_point)
    weight_scale = property(lambda self: self.matmul.weight_scale)
    bias_q = property(lambda self: self.matmul.bias_q)
    relu = property(lambda self: self.matmul.relu)
    activation_dtype = property(lambda self: self.matmul.activation_dtype)

    def _check_input(self, x_q) -> np.ndarray:
        if not isinstance(x_q, np.ndarray) or x_q.dtype != self.activation_dtype:
            got = f"dtype {x_q.dtype}" if isinstance(x_q, np.ndarray) else type(x_q).__name__
            raise TypeError(f"x_q must be an array of {self.activation_dtype} codes, got {got}; quantize the input "
                            f"with the layer's input_scale and input_zero_point first.")
        if x_q.ndim != 4 or x_q.shape[1] != self.in_channels:
            raise ValueError(f"x_q has shape {x_q.shape}; the layer takes images (n, {self.in_channels}, h, w).")
        return x_q

    def columns(self, x_q) -> np.ndarray:
        """``im2col(x_q, k, padding, pad_value=z_x)``: the receptive fields as rows of codes."""
        return im2col(self._check_input(x_q), self.kernel_size, self.padding, pad_value=self.input_zero_point)

    def _to_images(self, rows: np.ndarray, x_shape) -> np.ndarray:
        n, _, h, w = x_shape
        ho, wo = output_size(h, w, self.kernel_size, self.padding)
        return rows.reshape(n, ho, wo, self.out_channels).transpose(0, 3, 1, 2)

    def accumulators(self, x_q) -> np.ndarray:
        r"""The int32 accumulators :math:`\sum (x_q - z_x) W_q + b_q`, shape (n, c_out, h_o, w_o)."""
        return self._to_images(self.matmul.accumulators(self.columns(x_q)), x_q.shape)

    def forward_int(self, x_q) -> np.ndarray:
        """Output codes (n, c_out, h_o, w_o): requantized accumulators, ReLU fused if ``relu``."""
        return self._to_images(self.matmul.forward_int(self.columns(x_q)), x_q.shape)

    @property
    def nbytes(self) -> int:
        """Bytes inference stores: int8 weights, int32 folded bias, int32 ``m0`` and ``shift`` per channel."""
        return self.matmul.nbytes

    def __repr__(self) -> str:
        return (f"QuantizedConv2d({self.in_channels} -> {self.out_channels}, kernel_size={self.kernel_size}, "
                f"padding={self.padding}, relu={self.relu})")
