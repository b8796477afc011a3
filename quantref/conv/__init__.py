"""Convolutional networks on integers: im2col, batch-norm folding, the integer convolution.

Modules, one idea each:

* :mod:`~quantref.conv.im2col` -- a stride-1 convolution as one matrix product (``im2col``,
  its adjoint ``col2im``, the float ``conv2d``);
* :mod:`~quantref.conv.pooling` -- max pooling, the same function on floats and integer codes;
* :mod:`~quantref.conv.bn_folding` -- ``fold_batch_norm``: a batch norm merged into its convolution;
* :mod:`~quantref.conv.integer_conv` -- ``QuantizedConv2d``: int8 per-channel weights, uint8
  activations padded with their zero point, im2col onto the int8 matmul, requantization with a
  fused ReLU;
* :mod:`~quantref.conv.integer_convnet` -- ``IntegerConvNet``: a float ConvNet folded, calibrated
  and run on integers only;
* :mod:`~quantref.conv.fake_quant_convnet` -- ``FakeQuantConvNet``: the float64 pass on
  fake-quantized tensors that the integer network must match code for code.
"""
from .bn_folding import fold_batch_norm
from .im2col import col2im, conv2d, im2col
from .pooling import max_pool2d, max_pool2d_backward

__all__ = ["col2im", "conv2d", "fold_batch_norm", "im2col", "max_pool2d", "max_pool2d_backward"]
