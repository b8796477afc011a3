r"""A small convolutional network in NumPy: forward pass, batch normalization, and backpropagation.

The architecture (for the 8x8 digits: ``1x8x8 -> 8x8x8 -> 16x8x8 -> 16x4x4 -> 10``):

.. math::

    a_0 = x, \qquad
    z_l = W_l * a_{l-1} + b_l, \qquad
    a_l = \max(\mathrm{BN}_l(z_l), 0) \quad (l = 1, 2), \qquad
    \text{logits} = \mathrm{flatten}(\mathrm{maxpool}_2(a_2))\, W_c^T + b_c,

with 3x3 convolutions of stride 1 and padding 1 (:func:`quantref.conv.im2col.conv2d`, computed
as ``im2col(a) @ W.reshape(c_out, -1).T``), and batch normalization per channel over the batch
and both image axes,

.. math::

    \mathrm{BN}(z)_c = \gamma_c \hat z_c + \beta_c, \qquad
    \hat z_c = \frac{z_c - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}},

with :math:`\mu_c, \sigma^2_c` the batch mean and (biased) variance while training, and the
running averages (momentum 0.1, the running variance from the unbiased batch variance, as in
PyTorch) at inference.  The loss is the mean softmax cross-entropy, as in
:mod:`quantref.zoo.mlp`.  Backpropagation, with :math:`\delta` the gradient of the loss with
respect to each quantity and :math:`N = n h w` values per channel:

.. math::

    \delta_{\hat z} = \delta_{u}\,\gamma, \qquad
    \delta_z = \frac{1}{N \sqrt{\sigma^2 + \epsilon}}
      \Big(N \delta_{\hat z} - \textstyle\sum \delta_{\hat z} - \hat z \sum \delta_{\hat z} \hat z\Big),
    \qquad \frac{\partial \mathcal L}{\partial \gamma} = \textstyle\sum \delta_u \hat z, \quad
    \frac{\partial \mathcal L}{\partial \beta} = \textstyle\sum \delta_u,

(sums over the :math:`N` values of a channel; :math:`u = \mathrm{BN}(z)`, :math:`\delta_u` is
:math:`\delta_a` masked by :math:`u > 0`), and through the convolution
:math:`\partial \mathcal L / \partial W_{mat} = \delta_z^T\,\mathrm{cols}`,
:math:`\delta_{a_{l-1}} = \mathrm{col2im}(\delta_z W_{mat})`; max pooling sends each window's
gradient to its maximum.

A convolution followed by a batch norm has no bias of its own here (its gradient would be
exactly 0: the batch mean removes it); :meth:`ConvNet.fold_batch_norm` gives the inference model
with the batch norms folded into the convolutions' weights and biases.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .._checks import as_float_array
from ..conv.bn_folding import fold_batch_norm
from ..conv.im2col import col2im, im2col, output_size
from ..conv.pooling import max_pool2d, max_pool2d_backward
from .mlp import MLP

#: Batch-norm epsilon and running-average momentum (PyTorch's defaults).
BN_EPS, BN_MOMENTUM = 1e-5, 0.1
#: Kernel size and padding of every convolution.
KERNEL_SIZE, PADDING = 3, 1


class BatchNorm:
    """Parameters and running statistics of one batch normalization over ``channels`` channels."""

    def __init__(self, gamma, beta, running_mean, running_var, eps: float = BN_EPS, dtype=np.float32):
        self.gamma = as_float_array(gamma, "gamma").astype(dtype)
        self.beta = as_float_array(beta, "beta").astype(dtype)
        self.running_mean = as_float_array(running_mean, "running_mean").astype(dtype)
        self.running_var = as_float_array(running_var, "running_var").astype(dtype)
        shapes = {a.shape for a in (self.gamma, self.beta, self.running_mean, self.running_var)}
        if len(shapes) != 1 or self.gamma.ndim != 1:
            raise ValueError(f"gamma, beta, running_mean, running_var must be 1-D of one length, got shapes "
                             f"{[a.shape for a in (self.gamma, self.beta, self.running_mean, self.running_var)]}.")
        if np.any(self.running_var < 0):
            raise ValueError("running_var must be >= 0.")
        self.eps = float(eps)

    @classmethod
    def identity(cls, channels: int, dtype=np.float32) -> "BatchNorm":
        """gamma 1, beta 0, running mean 0 and variance 1 (a fresh layer)."""
        return cls(np.ones(channels), np.zeros(channels), np.zeros(channels), np.ones(channels), dtype=dtype)


class ConvNet:
    """Convolutions (3x3, padding 1) with optional batch norm and ReLU, a max pool, a linear classifier.

    Parameters
    ----------
    convs : list of (W, b)
        ``W`` of shape (c_out, c_in, 3, 3), ``b`` of shape (c_out,); the first ``c_in`` is the
        input's channel count, each next one the previous ``c_out``.
    batch_norms : list of (BatchNorm or None)
        One per convolution; ``None`` for a convolution without batch norm (a folded model).
    classifier : (W, b)
        ``W`` of shape (n_classes, c_last * (h / pool) * (w / pool)), ``b`` of shape (n_classes,).
    input_shape : (c, h, w)
        Shape of one image; inputs may come flat, ``(n, c * h * w)``, as the digits split gives them.
    pool : int
        Size of the max-pooling windows after the last convolution.
    dtype : NumPy float dtype
        float32 by default; float64 for gradient checks and folding comparisons.

    Examples
    --------
    >>> from quantref.zoo import pretrained_cnn
    >>> pretrained_cnn()
    ConvNet(1x8x8 -> conv 8 + BN -> conv 16 + BN -> maxpool 2 -> 10, dtype=float32)
    """

    def __init__(self, convs, batch_norms, classifier, input_shape=(1, 8, 8), pool: int = 2, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        if not np.issubdtype(self.dtype, np.floating):
            raise TypeError(f"dtype must be a float dtype such as np.float32, got {dtype!r}.")
        if not isinstance(convs, (list, tuple)) or not convs:
            raise TypeError("convs must be a non-empty list of (W, b) pairs, W of shape (c_out, c_in, 3, 3).")
        if not isinstance(batch_norms, (list, tuple)) or len(batch_norms) != len(convs):
            raise ValueError(f"batch_norms must be a list with one entry (BatchNorm or None) per convolution, "
                             f"{len(convs)} here.")
        self.input_shape = tuple(int(s) for s in input_shape)
        if len(self.input_shape) != 3:
            raise ValueError(f"input_shape must be (c, h, w), got {input_shape!r}.")
        self.pool = int(pool)
        self.convs, self.batch_norms = [], []
        channels = self.input_shape[0]
        for i, ((w, b), bn) in enumerate(zip(convs, batch_norms)):
            w = as_float_array(w, f"convs[{i}] W").astype(self.dtype)
            b = as_float_array(b, f"convs[{i}] b").astype(self.dtype)
            if w.shape[1:] != (channels, KERNEL_SIZE, KERNEL_SIZE) or b.shape != (w.shape[0],):
                raise ValueError(f"convs[{i}] has W {w.shape} and b {b.shape}; they must be "
                                 f"(c_out, {channels}, {KERNEL_SIZE}, {KERNEL_SIZE}) and (c_out,).")
            if bn is not None:
                if not isinstance(bn, BatchNorm) or bn.gamma.shape != (w.shape[0],):
                    raise ValueError(f"batch_norms[{i}] must be a BatchNorm over {w.shape[0]} channels or None.")
                bn = BatchNorm(bn.gamma, bn.beta, bn.running_mean, bn.running_var, bn.eps, dtype=self.dtype)
            self.convs.append((w, b))
            self.batch_norms.append(bn)
            channels = w.shape[0]
        _, h, w_ = self.input_shape
        h, w_ = output_size(h, w_, KERNEL_SIZE, PADDING)   # padding 1 keeps the size
        if h % self.pool or w_ % self.pool:
            raise ValueError(f"the {h} x {w_} feature maps do not tile into {self.pool} x {self.pool} pooling windows.")
        self.feature_shape = (channels, h // self.pool, w_ // self.pool)
        wc = as_float_array(classifier[0], "classifier W").astype(self.dtype)
        bc = as_float_array(classifier[1], "classifier b").astype(self.dtype)
        if wc.ndim != 2 or wc.shape[1] != int(np.prod(self.feature_shape)) or bc.shape != (wc.shape[0],):
            raise ValueError(f"classifier has W {wc.shape} and b {bc.shape}; W must be (n_classes, "
                             f"{int(np.prod(self.feature_shape))}) (the pooled {self.feature_shape} features) "
                             f"and b (n_classes,).")
        self.classifier = (wc, bc)

    # ------------------------------------------------------------------ shape and size
    @property
    def channels(self) -> tuple:
        """Output channels of the convolutions."""
        return tuple(w.shape[0] for w, _ in self.convs)

    @property
    def n_classes(self) -> int:
        return self.classifier[0].shape[0]

    @property
    def nbytes(self) -> int:
        """Bytes of what inference reads: weights, biases, and the batch norms' four vectors (in ``dtype``)."""
        total = sum(w.nbytes + b.nbytes for w, b in self.convs) + sum(a.nbytes for a in self.classifier)
        for bn in self.batch_norms:
            if bn is not None:
                total += bn.gamma.nbytes + bn.beta.nbytes + bn.running_mean.nbytes + bn.running_var.nbytes
        return int(total)

    def parameters(self) -> list:
        """The trained arrays, in the order of :meth:`loss_and_gradients`'s gradients: per convolution
        ``W`` (and ``b`` if it has no batch norm, else ``gamma, beta``), then the classifier's ``W, b``."""
        params = []
        for (w, b), bn in zip(self.convs, self.batch_norms):
            params += [w, b] if bn is None else [w, bn.gamma, bn.beta]
        return params + list(self.classifier)

    # ------------------------------------------------------------------ forward
    def images(self, x) -> np.ndarray:
        """``x`` as images ``(n, c, h, w)`` in ``dtype``: flat rows ``(n, c*h*w)`` are reshaped."""
        arr = as_float_array(x, "x")
        size = int(np.prod(self.input_shape))
        if arr.ndim == 2 and arr.shape[1] == size:
            arr = arr.reshape((len(arr),) + self.input_shape)
        if arr.ndim != 4 or arr.shape[1:] != self.input_shape:
            raise ValueError(f"x has shape {arr.shape}; the network takes (n, {size}) or (n, "
                             f"{', '.join(map(str, self.input_shape))}).")
        return arr.astype(self.dtype)

    def _forward(self, x, train: bool):
        a = self.images(x)
        cache = []
        for (w, b), bn in zip(self.convs, self.batch_norms):
            n, _, h, w_ = a.shape
            c_out = w.shape[0]
            cols = im2col(a, KERNEL_SIZE, PADDING)
            z = cols @ w.reshape(c_out, -1).T + b          # (n*h*w, c_out): rows are pixels
            layer = dict(shape=a.shape, cols=cols)
            if bn is None:
                u = z
            else:
                if train:
                    mean, var = z.mean(axis=0), z.var(axis=0)
                else:
                    mean, var = bn.running_mean, bn.running_var
                inv_std = 1.0 / np.sqrt(var + bn.eps)
                z_hat = (z - mean) * inv_std
                u = bn.gamma * z_hat + bn.beta
                layer.update(z_hat=z_hat, inv_std=inv_std, mean=mean, var=var)
            layer["u"] = u
            cache.append(layer)
            a = np.maximum(u, 0).reshape(n, h, w_, c_out).transpose(0, 3, 1, 2)
        pooled = max_pool2d(a, self.pool)
        flat = pooled.reshape(len(pooled), -1)
        logits = flat @ self.classifier[0].T + self.classifier[1]
        return logits, dict(layers=cache, last=a, flat=flat)

    def activations(self, x) -> list:
        """Inference-mode tensors ``[x, a_1, ..., a_L, logits]``: the input images, each convolution's
        ReLU output (n, c, h, w), and the logits (pooling only selects values of ``a_L``)."""
        a = self.images(x)
        out = [a]
        for i in range(len(self.convs)):
            a = self._block(a, i)
            out.append(a)
        logits = max_pool2d(a, self.pool).reshape(len(a), -1) @ self.classifier[0].T + self.classifier[1]
        return out + [logits]

    def _block(self, a, i: int) -> np.ndarray:
        """Convolution ``i`` (+ batch norm in inference mode) and ReLU on images ``a``."""
        (w, b), bn = self.convs[i], self.batch_norms[i]
        n, _, h, w_ = a.shape
        z = im2col(a, KERNEL_SIZE, PADDING) @ w.reshape(w.shape[0], -1).T + b
        if bn is not None:
            z = bn.gamma * (z - bn.running_mean) / np.sqrt(bn.running_var + bn.eps) + bn.beta
        return np.maximum(z, 0).reshape(n, h, w_, w.shape[0]).transpose(0, 3, 1, 2)

    def forward(self, x) -> np.ndarray:
        """Logits in inference mode (batch norms use their running statistics), shape (n, n_classes)."""
        return self._forward(x, train=False)[0]

    def predict(self, x) -> np.ndarray:
        return np.argmax(self.forward(x), axis=1)

    def accuracy(self, x, y) -> float:
        pred = self.predict(x)
        labels = np.asarray(y)
        if labels.shape != pred.shape:
            raise ValueError(f"y has shape {labels.shape}; it must have shape {pred.shape}, one label per image.")
        return float(np.mean(pred == labels))

    # ------------------------------------------------------------------ training
    def _check_y(self, y, n: int) -> np.ndarray:
        labels = np.asarray(y)
        if labels.dtype == np.bool_ or not np.issubdtype(labels.dtype, np.integer):
            raise TypeError(f"y must hold integer class labels, got dtype {labels.dtype}.")
        if labels.shape != (n,):
            raise ValueError(f"y has shape {labels.shape}; it must have shape ({n},), one label per image.")
        if n and (labels.min() < 0 or labels.max() >= self.n_classes):
            raise ValueError(f"y holds labels from {labels.min()} to {labels.max()}; they must lie in "
                             f"[0, {self.n_classes - 1}].")
        return labels

    def loss(self, x, y, train: bool = True) -> float:
        """Mean softmax cross-entropy; ``train=True`` normalizes with the batch's statistics."""
        logits = self._forward(x, train)[0]
        return MLP._softmax_cross_entropy(logits, self._check_y(y, len(logits)))[0]

    def loss_and_gradients(self, x, y, update_running_stats: bool = False) -> tuple[float, list]:
        """Training-mode loss and its gradients, one per array of :meth:`parameters` (module docstring).

        ``update_running_stats=True`` also moves each batch norm's running mean and variance
        toward this batch's (momentum 0.1; the unbiased batch variance, as PyTorch does).
        """
        logits, cache = self._forward(x, train=True)
        labels = self._check_y(y, len(logits))
        loss, delta = MLP._softmax_cross_entropy(logits, labels)
        wc, _ = self.classifier
        grads_classifier = [delta.T @ cache["flat"], delta.sum(axis=0)]
        d_pooled = (delta @ wc).reshape((len(delta),) + self.feature_shape)
        d_a = max_pool2d_backward(d_pooled, cache["last"], self.pool)
        grads = []
        for i in range(len(self.convs) - 1, -1, -1):
            (w, _), bn, layer = self.convs[i], self.batch_norms[i], cache["layers"][i]
            c_out = w.shape[0]
            d_u = d_a.transpose(0, 2, 3, 1).reshape(-1, c_out) * (layer["u"] > 0)
            if bn is None:
                d_z, layer_grads = d_u, []
            else:
                z_hat = layer["z_hat"]
                d_zhat = d_u * bn.gamma
                count = len(d_u)
                d_z = layer["inv_std"] / count * (count * d_zhat - d_zhat.sum(axis=0)
                                                  - z_hat * (d_zhat * z_hat).sum(axis=0))
                layer_grads = [(d_u * z_hat).sum(axis=0), d_u.sum(axis=0)]
            d_w = (d_z.T @ layer["cols"]).reshape(w.shape)
            grads = [d_w] + ([d_z.sum(axis=0)] if bn is None else layer_grads) + grads
            if i:
                d_a = col2im(d_z @ w.reshape(c_out, -1), layer["shape"], KERNEL_SIZE, PADDING)
        if update_running_stats:
            count = len(cache["layers"][0]["u"])
            for bn, layer in zip(self.batch_norms, cache["layers"]):
                if bn is not None:
                    unbiased = layer["var"] * count / max(count - 1, 1)
                    bn.running_mean *= 1 - BN_MOMENTUM
                    bn.running_mean += (BN_MOMENTUM * layer["mean"]).astype(self.dtype)
                    bn.running_var *= 1 - BN_MOMENTUM
                    bn.running_var += (BN_MOMENTUM * unbiased).astype(self.dtype)
        return loss, [g.astype(self.dtype, copy=False) for g in grads + grads_classifier]

    # ------------------------------------------------------------------ conversions
    def astype(self, dtype) -> "ConvNet":
        """A copy in another float dtype."""
        return ConvNet(self.convs, self.batch_norms, self.classifier, self.input_shape, self.pool, dtype=dtype)

    def fold_batch_norm(self) -> "ConvNet":
        r"""The inference model with every batch norm folded into its convolution, in float64
        (:func:`quantref.conv.bn_folding.fold_batch_norm`: :math:`W' = W\gamma/\sqrt{\sigma^2+\epsilon}`,
        :math:`b' = (b - \mu)\gamma/\sqrt{\sigma^2+\epsilon} + \beta`)."""
        convs = []
        for (w, b), bn in zip(self.convs, self.batch_norms):
            if bn is None:
                convs.append((w.astype(np.float64), b.astype(np.float64)))
            else:
                convs.append(fold_batch_norm(w, b, bn.gamma, bn.beta, bn.running_mean, bn.running_var, bn.eps))
        return ConvNet(convs, [None] * len(convs), self.classifier, self.input_shape, self.pool, dtype=np.float64)

    def save(self, path) -> None:
        """Write the model to an ``.npz`` file."""
        arrays = dict(input_shape=np.array(self.input_shape), pool=np.array(self.pool),
                      classifier_W=self.classifier[0], classifier_b=self.classifier[1])
        for i, ((w, b), bn) in enumerate(zip(self.convs, self.batch_norms)):
            arrays[f"conv{i}_W"], arrays[f"conv{i}_b"] = w, b
            if bn is not None:
                arrays.update({f"bn{i}_gamma": bn.gamma, f"bn{i}_beta": bn.beta, f"bn{i}_mean": bn.running_mean,
                               f"bn{i}_var": bn.running_var, f"bn{i}_eps": np.array(bn.eps)})
        np.savez(Path(path), **arrays)

    @classmethod
    def load(cls, path, dtype=np.float32) -> "ConvNet":
        """Read a model written by :meth:`save`."""
        with np.load(Path(path)) as data:
            n = sum(1 for k in data.files if k.startswith("conv") and k.endswith("_W"))
            convs = [(data[f"conv{i}_W"], data[f"conv{i}_b"]) for i in range(n)]
            bns = [BatchNorm(data[f"bn{i}_gamma"], data[f"bn{i}_beta"], data[f"bn{i}_mean"], data[f"bn{i}_var"],
                             float(data[f"bn{i}_eps"])) if f"bn{i}_gamma" in data.files else None for i in range(n)]
            return cls(convs, bns, (data["classifier_W"], data["classifier_b"]),
                       tuple(int(s) for s in data["input_shape"]), int(data["pool"]), dtype=dtype)

    def __repr__(self) -> str:
        parts = ["x".join(map(str, self.input_shape))]
        parts += [f"conv {w.shape[0]}" + (" + BN" if bn is not None else "") for (w, _), bn in
                  zip(self.convs, self.batch_norms)]
        parts += [f"maxpool {self.pool}", str(self.n_classes)]
        return f"ConvNet({' -> '.join(parts)}, dtype={self.dtype.name})"

