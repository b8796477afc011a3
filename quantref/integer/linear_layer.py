r"""A fully connected layer that runs on integers only (the TFLite int8 scheme).

For float weights :math:`W` (``out x in``), bias :math:`b`, and input codes :math:`x_q` with
scale :math:`s_x` and zero point :math:`z_x`, the layer stores, once, offline:

* int8 weights, symmetric per output channel on the narrow grid [-127, 127]:
  :math:`s_{w,c} = \max_k |W_{ck}| / 127`, :math:`W_q = \mathrm{round}(W / s_w)`, zero point 0;
* the bias in int32 with scale :math:`s_x s_{w,c}` and zero point 0:
  :math:`b_q = \mathrm{round}(b_c / (s_x s_{w,c}))`;
* the folded bias, which absorbs the only zero-point term that depends on the weights alone:
  :math:`b_{fold,c} = b_{q,c} - z_x \sum_k W_{q,ck}`;
* per-channel fixed-point multipliers :math:`M_c = s_x s_{w,c} / s_{out} = M_{0,c} 2^{-31} 2^{-n_c}`.

At run time (everything integer)

.. math::

    acc_{ic} = \sum_k x_{q,ik} W_{q,ck} + b_{fold,c} = \sum_k (x_{q,ik} - z_x) W_{q,ck} + b_{q,c},
    \qquad y_{q,ic} = \mathrm{clamp}(\mathrm{MBQM}(acc_{ic}, M_{0,c}, n_c) + z_{out}, q_{lo}, q_{max}).

Of the zero-point expansion :math:`\sum_k (x - z_x)(W - z_w) = \sum_k xW - z_x \sum_k W - z_w \sum_k x + K z_x z_w`
(:mod:`quantref.kernels.int_matmul`), the row-sum term :math:`z_w \sum_k x` and :math:`K z_x z_w`
vanish because the weights are symmetric (:math:`z_w = 0`), and :math:`z_x \sum_k W` is folded
into the bias; so the only per-input work is the core product, done by
:func:`quantref.kernels.int_matmul` with zero points 0 on the weights packed once for the kernel
(:func:`quantref.kernels.pack_weights`, attribute ``weight_packed``).
"""
from __future__ import annotations

import numpy as np

from .. import _checks as qchecks
from ..kernels import int_matmul, pack_weights
from ..linear import quantize, symmetric_qparams
from ._checks import INT32_MAX, INT32_MIN, as_int, as_integer_array, check_activation_dtype
from .fixedpoint import quantize_multiplier
from .requantize import requantize

#: int8 weights use the narrow, symmetric grid (TFLite): -128 never occurs.
WEIGHT_QMIN, WEIGHT_QMAX = -127, 127


def _check_weight_codes(weight_q, name: str = "weight_q") -> np.ndarray:
    if not isinstance(weight_q, np.ndarray) or weight_q.dtype != np.int8:
        got = f"dtype {weight_q.dtype}" if isinstance(weight_q, np.ndarray) else type(weight_q).__name__
        raise TypeError(f"{name} must be an int8 array of weight codes, got {got}; quantize float weights first "
                        f"(quantize_weights_per_channel, or QuantizedLinear.from_float).")
    if weight_q.ndim != 2:
        raise ValueError(f"{name} must be 2-D (out_features, in_features), got shape {weight_q.shape}.")
    return weight_q


def quantize_weights_per_channel(weight) -> tuple[np.ndarray, np.ndarray]:
    r"""Symmetric int8 per-output-channel weights on the narrow grid.

    .. math::

        s_{w,c} = \max\!\left(\frac{\max_k |W_{ck}|}{127}, \varepsilon\right), \qquad
        W_{q,ck} = \mathrm{clip}(\mathrm{round}(W_{ck} / s_{w,c}), -127, 127)

    (round half to even, :math:`\varepsilon` = float32 eps, as :func:`quantref.linear.symmetric_qparams`).

    Parameters
    ----------
    weight : array_like of float, shape (out_features, in_features)

    Returns
    -------
    weight_q : ndarray of int8, shape (out_features, in_features)
    weight_scale : ndarray of float64, shape (out_features,)

    Examples
    --------
    >>> w_q, s_w = quantize_weights_per_channel([[0.5, -1.27], [2.54, 0.01]])
    >>> w_q                          # row 0: s = 0.01; row 1: s = 0.02, 0.01 / 0.02 = 0.5 -> 0 (to even)
    array([[  50, -127],
           [ 127,    0]], dtype=int8)
    """
    w = np.asarray(weight)
    if w.dtype == np.bool_ or np.issubdtype(w.dtype, np.integer):
        raise TypeError(f"weight holds integers (dtype {w.dtype}); it must hold the float weights. To use int8 "
                        f"codes you already have, build QuantizedLinear(weight_q, weight_scale, ...) directly.")
    w = qchecks.as_float_array(w, "weight")
    if w.ndim != 2:
        raise ValueError(f"weight must be 2-D (out_features, in_features), got shape {w.shape}; "
                         f"a layer y = W x + b takes W[out, in].")
    amax = np.abs(w).max(axis=1) if w.shape[1] else np.zeros(w.shape[0])
    scale, _ = symmetric_qparams(-amax, amax, bits=8, signed=True, narrow_range=True)
    weight_q = quantize(w, scale, np.zeros(w.shape[0], dtype=np.int64), bits=8, signed=True,
                        narrow_range=True, axis=0)
    return weight_q, scale


def quantize_bias(bias, input_scale, weight_scale) -> np.ndarray:
    r"""The int32 bias with scale :math:`s_x s_{w,c}` and zero point 0: :math:`b_q = \mathrm{round}(b_c / (s_x s_{w,c}))`.

    Rounds half to even; raises ``ValueError`` if a rounded value leaves the int32 range (the
    bias would saturate: the scales are far too small for it).

    Examples
    --------
    >>> quantize_bias([0.5, -0.25], 0.1, np.array([0.5, 0.01]))   # 0.5/0.05 = 10, -0.25/0.001 = -250
    array([  10, -250], dtype=int32)
    """
    b = qchecks.as_float_array(bias, "bias")
    s_x = float(qchecks.check_scale(input_scale))
    s_w = qchecks.check_scale(weight_scale)
    if b.shape != s_w.shape:
        raise ValueError(f"bias has shape {b.shape} but weight_scale has shape {s_w.shape}; there is one bias "
                         f"per output channel.")
    q = np.rint(b / (s_x * s_w))
    if q.size and (q.min() < INT32_MIN or q.max() > INT32_MAX):
        c = int(np.argmax(np.abs(q)))
        raise ValueError(f"bias[{c}]={float(b[c])!r} is {q[c]:.3g} steps of s_x * s_w = {s_x * s_w[c]:.3g}, outside int32: "
                         f"the int32 bias would saturate. Check input_scale and the weights' scale.")
    return q.astype(np.int32)


def fold_bias(bias_q, weight_q, input_zero_point) -> np.ndarray:
    r"""Fold the input zero point's weight-only term into the int32 bias.

    .. math::

        b_{fold,c} = b_{q,c} - z_x \sum_k W_{q,ck}

    so that :math:`\sum_k x_{q,k} W_{q,ck} + b_{fold,c} = \sum_k (x_{q,k} - z_x) W_{q,ck} + b_{q,c}`.
    The sums :math:`\sum_k W_{q,ck}` are the column sums of :math:`W_q^T`, the ``b`` operand of
    :func:`quantref.kernels.int_matmul`.  Computed in int64; the result must fit int32.

    Parameters
    ----------
    bias_q : array_like of int, shape (out_features,)
        The int32 bias (scale :math:`s_x s_{w,c}`).
    weight_q : ndarray of int8, shape (out_features, in_features)
        Symmetric weight codes (zero point 0).
    input_zero_point : int
        :math:`z_x`, in [-128, 255] (int8 or uint8 activations).

    Returns
    -------
    ndarray of int32, shape (out_features,)

    Examples
    --------
    >>> w_q = np.array([[1, -2, 3], [-127, 0, 5]], dtype=np.int8)   # row sums 2 and -122
    >>> fold_bias(np.array([100, -7], dtype=np.int32), w_q, 128)    # 100 - 128*2, -7 + 128*122
    array([ -156, 15609], dtype=int32)
    """
    w = _check_weight_codes(weight_q)
    b = as_integer_array(bias_q, "bias_q")
    if b.shape != (w.shape[0],):
        raise ValueError(f"bias_q has shape {b.shape}, but weight_q has {w.shape[0]} output channels; "
                         f"pass one int32 bias per row of weight_q, shape ({w.shape[0]},).")
    z = as_int(input_zero_point, "input_zero_point", -128, 255)
    folded = b - z * w.sum(axis=1, dtype=np.int64)
    return as_integer_array(folded, "the folded bias bias_q - input_zero_point * weight_q.sum(axis=1)").astype(np.int32)


class QuantizedLinear:
    r"""A fully connected layer ``y = W x + b`` on integers: int8 weights, 8-bit activations, int32 bias.

    Build it from float weights with :meth:`from_float`; the constructor takes the quantized parts.
    See the module docstring for the arithmetic.

    Parameters
    ----------
    weight_q : ndarray of int8, shape (out_features, in_features)
        Symmetric weight codes on the narrow grid [-127, 127] (zero point 0).
    weight_scale : array_like of float, shape (out_features,)
        :math:`s_{w,c}`, one per output channel.
    bias_q : array_like of int, shape (out_features,)
        The int32 bias with scale :math:`s_x s_{w,c}`.
    input_scale, input_zero_point : float, int
        Per-tensor quantization of the input codes.
    output_scale, output_zero_point : float, int
        Per-tensor quantization of the output codes.
    relu : bool
        Fuse a ReLU into the requantization (clamp at the output zero point).
    activation_dtype : np.uint8 or np.int8
        Dtype of the input and output codes (grid [0, 255] or [-128, 127]).

    Attributes
    ----------
    weight_sums : ndarray of int64, shape (out_features,)
        :math:`\sum_k W_{q,ck}`, computed once (offline).
    bias_folded : ndarray of int32, shape (out_features,)
        :math:`b_q - z_x \cdot` ``weight_sums``, computed once.
    weight_packed : PackedWeights
        :math:`W_q^T` packed once for :func:`quantref.kernels.int_matmul` (the kernel's layout).
    multiplier : ndarray of float64, shape (out_features,)
        The real multipliers :math:`M_c = s_x s_{w,c} / s_{out}`, in (0, 1).
    m0, shift : ndarray of int32, shape (out_features,)
        Their fixed-point form, :math:`M_c \approx M_{0,c} 2^{-31} 2^{-n_c}`.
    qmin, qmax : int
        The activation grid.

    Raises
    ------
    TypeError, ValueError
        For codes of the wrong dtype, shapes that do not match, a multiplier outside (0, 1)
        (``output_scale`` too small for the layer), or a layer whose int32 accumulator could
        overflow for some input.
    """

    def __init__(self, weight_q, weight_scale, bias_q, input_scale, input_zero_point, output_scale,
                 output_zero_point, *, relu: bool = False, activation_dtype=np.uint8):
        self.weight_q = _check_weight_codes(weight_q)
        if self.weight_q.size and self.weight_q.min() < WEIGHT_QMIN:
            raise ValueError(f"weight_q holds -128; symmetric int8 weights use the narrow grid "
                             f"[{WEIGHT_QMIN}, {WEIGHT_QMAX}] (TFLite), so that -w is representable: clip to it.")
        self.out_features, self.in_features = self.weight_q.shape
        self.weight_scale = qchecks.check_scale(weight_scale)
        if self.weight_scale.shape != (self.out_features,):
            raise ValueError(f"weight_scale has shape {self.weight_scale.shape}; it must have shape "
                             f"({self.out_features},), one scale per output channel (row of weight_q).")
        bias = as_integer_array(bias_q, "bias_q")
        if bias.shape != (self.out_features,):
            raise ValueError(f"bias_q has shape {bias.shape}; it must have shape ({self.out_features},), "
                             f"one int32 bias per output channel.")
        self.bias_q = bias.astype(np.int32)
        self.activation_dtype = check_activation_dtype(activation_dtype)
        info = np.iinfo(self.activation_dtype)
        self.qmin, self.qmax = int(info.min), int(info.max)
        self.input_scale = float(qchecks.check_scale(input_scale))
        self.output_scale = float(qchecks.check_scale(output_scale))
        self.input_zero_point = as_int(input_zero_point, "input_zero_point", self.qmin, self.qmax)
        self.output_zero_point = as_int(output_zero_point, "output_zero_point", self.qmin, self.qmax)
        if not isinstance(relu, (bool, np.bool_)):
            raise TypeError(f"relu must be True or False, got {relu!r}.")
        self.relu = bool(relu)

        self._check_accumulator_bound()
        self.weight_sums = self.weight_q.sum(axis=1, dtype=np.int64)
        # b = W^T (in_features x out_features), packed once in the kernel's layout
        self.weight_packed = pack_weights(self.weight_q.T)
        self.bias_folded = fold_bias(self.bias_q, self.weight_q, self.input_zero_point)
        self.multiplier = self.input_scale * self.weight_scale / self.output_scale
        bad = self.multiplier >= 1
        if np.any(bad):
            c = int(np.argmax(bad))
            raise ValueError(
                f"output_scale={self.output_scale!r} is too small: channel {c} has multiplier "
                f"s_x * s_w / s_out = {float(self.multiplier[c])!r} >= 1, and requantization multipliers must lie in "
                f"(0, 1). Calibrate the output range on the layer's real outputs (a wider range, a larger scale).")
        self.m0, self.shift = quantize_multiplier(self.multiplier)

    @classmethod
    def from_float(cls, weight, bias, input_scale, input_zero_point, output_scale, output_zero_point, *,
                   relu: bool = False, activation_dtype=np.uint8) -> "QuantizedLinear":
        """Quantize float weights ``W`` (out, in) and bias ``b`` (out,) (``None``: zeros) into a layer.

        Weights: :func:`quantize_weights_per_channel`; bias: :func:`quantize_bias`; the other
        arguments are as for the constructor.

        Examples
        --------
        >>> layer = QuantizedLinear.from_float(np.array([[1.0, -1.0]]), np.array([0.5]), input_scale=1 / 255,
        ...                                    input_zero_point=0, output_scale=1 / 255, output_zero_point=128)
        >>> layer.forward_int(np.array([[255, 0]], dtype=np.uint8))   # y = 1 + 0.5 -> clamped at 255
        array([[255]], dtype=uint8)
        """
        weight_q, weight_scale = quantize_weights_per_channel(weight)
        if bias is None:
            bias = np.zeros(weight_q.shape[0])
        b = qchecks.as_float_array(bias, "bias")
        if b.shape != (weight_q.shape[0],):
            raise ValueError(f"bias has shape {b.shape}, but weight has {weight_q.shape[0]} output channels; "
                             f"pass one bias per row of weight, shape ({weight_q.shape[0]},).")
        bias_q = quantize_bias(b, input_scale, weight_scale)
        return cls(weight_q, weight_scale, bias_q, input_scale, input_zero_point, output_scale, output_zero_point,
                   relu=relu, activation_dtype=activation_dtype)

    def _check_accumulator_bound(self) -> None:
        """Refuse a layer whose int32 accumulator could overflow for some input codes."""
        x_span = max(self.input_zero_point - self.qmin, self.qmax - self.input_zero_point)
        bound = self.in_features * x_span * WEIGHT_QMAX + int(np.max(np.abs(self.bias_q.astype(np.int64)), initial=0))
        if bound > INT32_MAX:
            raise ValueError(
                f"the int32 accumulator of this layer could overflow: in_features={self.in_features} times "
                f"|x - z_x| <= {x_span} times |w| <= {WEIGHT_QMAX}, plus |bias_q| up to "
                f"{int(np.max(np.abs(self.bias_q.astype(np.int64)), initial=0))}, reaches {bound} > 2^31 - 1. "
                f"Split the layer's input dimension, or check the bias scale (s_x * s_w).")

    def _check_input(self, x_q) -> np.ndarray:
        if not isinstance(x_q, np.ndarray) or x_q.dtype != self.activation_dtype:
            got = f"dtype {x_q.dtype}" if isinstance(x_q, np.ndarray) else type(x_q).__name__
            raise TypeError(f"x_q must be an array of {self.activation_dtype} codes, got {got}; quantize the input "
                            f"with the layer's input_scale and input_zero_point first.")
        if x_q.ndim not in (1, 2) or x_q.shape[-1] != self.in_features:
            raise ValueError(f"x_q has shape {x_q.shape}; the layer takes (batch, {self.in_features}) or "
                             f"({self.in_features},) codes: in_features is {self.in_features}.")
        return x_q

    def accumulators(self, x_q) -> np.ndarray:
        r"""The int32 accumulators :math:`\sum_k x_{q,k} W_{q,ck} + b_{fold,c}`, shape (batch, out) or (out,)."""
        x = self._check_input(x_q)
        x2 = x.reshape(-1, self.in_features)
        # zero points 0: the core product only; z_x's term is in bias_folded, z_w = 0 (symmetric weights)
        core = int_matmul(x2, self.weight_packed)
        acc = core.astype(np.int64) + self.bias_folded
        return acc.astype(np.int32).reshape(x.shape[:-1] + (self.out_features,))

    def forward_int(self, x_q) -> np.ndarray:
        """Output codes (``activation_dtype``): requantized accumulators, ReLU fused if ``relu``."""
        return requantize(self.accumulators(x_q), (self.m0, self.shift), self.output_zero_point,
                          self.qmin, self.qmax, relu=self.relu)

    def forward_float(self, x_q) -> np.ndarray:
        r"""Dequantized output :math:`s_{out} (y_q - z_{out})`, float64 (the integer path, then one float scale).

        Notes
        -----
        Against the float layer on the same quantized values, :math:`y = M_c \cdot acc` in output
        steps (clamped and ReLU'd alike), the error is only rounding: at most 1/2 step in
        RoundingDivideByPOT, :math:`2^{-n-1}` step in the high multiply (1/4 at most, since both
        roundings occur only for :math:`n \ge 1`), and :math:`|acc\,M_c|\,2^{-31}` step from the
        Q31 rounding of :math:`M_c`: below 3/4 of a step for accumulators far from :math:`2^{31}`,
        so always within one output step :math:`s_{out}` (checked in the test suite).
        """
        return self.output_scale * (self.forward_int(x_q).astype(np.int64) - self.output_zero_point)

    @property
    def nbytes(self) -> int:
        """Bytes of what inference stores: int8 weights, int32 folded bias, int32 ``m0`` and ``shift``."""
        return int(self.weight_q.nbytes + self.bias_folded.nbytes + self.m0.nbytes + self.shift.nbytes)

    def __repr__(self) -> str:
        return (f"QuantizedLinear(in_features={self.in_features}, out_features={self.out_features}, "
                f"activation_dtype={self.activation_dtype.name}, relu={self.relu})")
