r"""A small byte-level transformer language model in NumPy: forward pass, loss, gradients, perplexity.

The model reads bytes (a vocabulary of 256) and predicts the next byte.  With context :math:`T`,
width :math:`d`, :math:`H` heads of width :math:`d_h = d / H` and :math:`L` pre-norm blocks:

.. math::

    h_0 &= E[x_t] + P_t \\
    a &= \mathrm{LN}_1(h), \quad [q, k, v] = a W_{qkv}^T, \quad
        A = \mathrm{softmax}\Big(\frac{q k^T}{\sqrt{d_h}} + M\Big)\ \text{per head}, \quad
        h \leftarrow h + (A v) W_{o}^T \\
    m &= \mathrm{LN}_2(h), \quad h \leftarrow h + \mathrm{GELU}(m W_{1}^T) W_{2}^T \\
    \text{logits} &= \mathrm{LN}_f(h) W_{head}^T

where :math:`M_{ts} = -\infty` for :math:`s > t` (causal: a byte sees only earlier bytes),
:math:`\mathrm{LN}(x) = \gamma \odot (x - \mu) / \sqrt{\sigma^2 + 10^{-5}} + \beta` over the
feature axis, and GELU is the tanh approximation
:math:`\tfrac12 u\,(1 + \tanh(\sqrt{2/\pi}\,(u + 0.044715\,u^3)))`.  The loss is the mean
cross-entropy of the next byte, :math:`\mathcal L = -\frac1N \sum \log p(x_{t+1} \mid x_{\le t})`
in nats; held-out **perplexity** is :math:`e^{\mathcal L}` and **bits per byte**
:math:`\mathcal L / \ln 2`.

The linear layers have no bias and are plain float32 matrices ``W`` of shape ``(out, in)``
(:math:`y = x W^T`): per block ``attn_qkv`` (:math:`3d \times d`), ``attn_out``
(:math:`d \times d`), ``mlp_in`` (:math:`d_{mlp} \times d`), ``mlp_out``
(:math:`d \times d_{mlp}`), and the output ``head`` (:math:`256 \times d`).  Weight-only
quantization works on them one at a time: :attr:`ByteTransformer.linear_names` lists them,
:meth:`ByteTransformer.with_linear_weights` swaps in new ones, and
:meth:`ByteTransformer.linear_inputs` returns the activations :math:`X` (rows are tokens)
entering each layer, the calibration data of GPTQ and AWQ.  The embeddings :math:`E, P` and
the layer-norm parameters stay in float.

Backpropagation (:meth:`ByteTransformer.loss_and_gradients`), for :math:`y = xW^T`:
:math:`\partial W = \delta_y^T x`, :math:`\delta_x = \delta_y W`; softmax:
:math:`\delta_s = A \odot (\delta_A - \textstyle\sum_s \delta_A \odot A)`; layer norm with
:math:`\hat x = (x-\mu)/\sigma`, :math:`g = \delta_y \odot \gamma`:
:math:`\delta_x = \frac{1}{\sigma}\big(g - \overline{g} - \hat x\, \overline{g \odot \hat x}\big)`
(bars are means over the feature axis).
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .._checks import check_positive_int

#: Bytes: the vocabulary of the model.
VOCAB = 256
#: The epsilon inside the layer norm's square root.
LN_EPS = 1e-5
_GELU_C = float(np.sqrt(2.0 / np.pi))
_GELU_A = 0.044715


class ByteLMConfig(NamedTuple):
    """Shape of a :class:`ByteTransformer`."""

    context: int = 64    #: bytes of context T (the longest input)
    d_model: int = 64    #: width d of the residual stream
    n_heads: int = 4     #: attention heads H; d_model must be a multiple of it
    n_layers: int = 2    #: transformer blocks L
    d_mlp: int = 256     #: hidden width of each block's MLP

    def checked(self) -> ByteLMConfig:
        """This config with every field checked (positive integers, ``d_model % n_heads == 0``)."""
        values = {name: check_positive_int(getattr(self, name), name) for name in self._fields}
        if values["d_model"] % values["n_heads"]:
            raise ValueError(f"d_model={values['d_model']} is not a multiple of n_heads={values['n_heads']}; "
                             f"each head gets d_model / n_heads features, e.g. d_model=64, n_heads=4.")
        return ByteLMConfig(**values)


def param_shapes(config: ByteLMConfig) -> dict:
    """Name and shape of every parameter, in a fixed order (linear weights are ``(out, in)``)."""
    c = config.checked()
    shapes = {"embed": (VOCAB, c.d_model), "pos": (c.context, c.d_model)}
    for i in range(c.n_layers):
        p = f"blocks.{i}."
        shapes.update({p + "ln1.gain": (c.d_model,), p + "ln1.bias": (c.d_model,),
                       p + "attn_qkv": (3 * c.d_model, c.d_model), p + "attn_out": (c.d_model, c.d_model),
                       p + "ln2.gain": (c.d_model,), p + "ln2.bias": (c.d_model,),
                       p + "mlp_in": (c.d_mlp, c.d_model), p + "mlp_out": (c.d_model, c.d_mlp)})
    shapes.update({"ln_f.gain": (c.d_model,), "ln_f.bias": (c.d_model,), "head": (VOCAB, c.d_model)})
    return shapes


def linear_layer_names(config: ByteLMConfig) -> tuple:
    """Names of the linear layers in the order the data flows through them."""
    names = []
    for i in range(config.n_layers):
        names += [f"blocks.{i}.{n}" for n in ("attn_qkv", "attn_out", "mlp_in", "mlp_out")]
    return tuple(names) + ("head",)


def _layer_norm(x, gain, bias):
    mu = x.mean(axis=-1, keepdims=True)
    xc = x - mu
    rstd = 1.0 / np.sqrt((xc * xc).mean(axis=-1, keepdims=True) + LN_EPS)
    xhat = xc * rstd
    return xhat * gain + bias, (xhat, rstd)


def _layer_norm_backward(dy, gain, cache):
    xhat, rstd = cache
    dgain = (dy * xhat).reshape(-1, xhat.shape[-1]).sum(axis=0)
    dbias = dy.reshape(-1, dy.shape[-1]).sum(axis=0)
    g = dy * gain
    dx = rstd * (g - g.mean(axis=-1, keepdims=True) - xhat * (g * xhat).mean(axis=-1, keepdims=True))
    return dx, dgain, dbias


def _gelu(u):
    """GELU (tanh form) and the tanh it used (kept for the backward pass)."""
    t = np.tanh(_GELU_C * (u + _GELU_A * u * u * u))
    return 0.5 * u * (1.0 + t), t


def _gelu_grad(u, t):
    return 0.5 * (1.0 + t) + 0.5 * u * (1.0 - t * t) * _GELU_C * (1.0 + 3.0 * _GELU_A * u * u)


def _linear_grad(dy, x):
    """dW = dy^T x with rows of every leading axis stacked: shape (out, in)."""
    return dy.reshape(-1, dy.shape[-1]).T @ x.reshape(-1, x.shape[-1])


def _as_tokens(tokens, context: int) -> np.ndarray:
    """Tokens as a 2-D int64 array (batch, T) with 1 <= T <= context and values 0..255."""
    if isinstance(tokens, (bytes, bytearray)):
        tokens = np.frombuffer(bytes(tokens), dtype=np.uint8)
    arr = np.asarray(tokens)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"tokens must be integer bytes (a uint8 array or bytes), got dtype {arr.dtype}; "
                        f"e.g. np.frombuffer(text.encode(), dtype=np.uint8).")
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] == 0 or arr.shape[0] == 0:
        raise ValueError(f"tokens must have shape (batch, T) or (T,) with T >= 1, got shape {np.shape(tokens)}.")
    if arr.shape[1] > context:
        raise ValueError(f"tokens have length {arr.shape[1]}, longer than the model's context of {context} bytes; "
                         f"cut them into windows of at most {context} (see quantref.zoo.byte_lm.windows).")
    if arr.min() < 0 or arr.max() >= VOCAB:
        raise ValueError(f"tokens hold values from {arr.min()} to {arr.max()}; bytes lie in [0, 255].")
    return arr.astype(np.int64)


class ByteTransformer:
    """A causal transformer over bytes (see the module docstring for the equations).

    Parameters
    ----------
    params : dict of str -> ndarray
        Every parameter named by :func:`param_shapes`, with those shapes, finite.
    config : ByteLMConfig
        The shape of the model.
    dtype : NumPy float dtype
        Storage and compute dtype (float32 by default; float64 for gradient checks).

    Examples
    --------
    >>> from quantref.zoo.byte_lm_training import init_byte_lm
    >>> model = init_byte_lm(ByteLMConfig(context=8, d_model=16, n_heads=2, n_layers=1, d_mlp=32), seed=0)
    >>> model.forward(b"import").shape          # (batch, T, 256): a distribution per position
    (1, 6, 256)
    >>> model.linear_names
    ('blocks.0.attn_qkv', 'blocks.0.attn_out', 'blocks.0.mlp_in', 'blocks.0.mlp_out', 'head')
    """

    def __init__(self, params: dict, config: ByteLMConfig = ByteLMConfig(), dtype=np.float32):
        if not isinstance(config, ByteLMConfig):
            raise TypeError(f"config must be a ByteLMConfig, got {type(config).__name__}.")
        self.config = config.checked()
        self.dtype = np.dtype(dtype)
        if not np.issubdtype(self.dtype, np.floating):
            raise TypeError(f"dtype must be a float dtype such as np.float32, got {dtype!r}.")
        if not isinstance(params, dict):
            raise TypeError(f"params must be a dict of name -> array, got {type(params).__name__}.")
        shapes = param_shapes(self.config)
        missing, extra = set(shapes) - set(params), set(params) - set(shapes)
        if missing or extra:
            raise ValueError(f"params do not match the config {self.config}: missing {sorted(missing)}, "
                             f"unexpected {sorted(extra)}.")
        self.params = {}
        for name, shape in shapes.items():
            self.params[name] = self._checked_array(params[name], name, shape)
        self._mask = np.tril(np.ones((self.config.context, self.config.context), dtype=bool))

    def _checked_array(self, value, name: str, shape: tuple) -> np.ndarray:
        arr = np.asarray(value)
        if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
            raise TypeError(f"{name} must be a float array, got dtype {arr.dtype}.")
        if arr.shape != shape:
            raise ValueError(f"{name} has shape {arr.shape}; this model needs {shape}"
                             + (" (out, in)." if len(shape) == 2 and name not in ("embed", "pos") else "."))
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or inf; every weight must be finite.")
        return np.array(arr, dtype=self.dtype)

    # ------------------------------------------------------------------ linear layers
    @property
    def linear_names(self) -> tuple:
        """Names of the linear layers, in data-flow order (block by block, then ``head``)."""
        return linear_layer_names(self.config)

    def linear_weight(self, name: str) -> np.ndarray:
        """A copy of the weight ``W`` (out, in) of linear layer ``name``."""
        if name not in self.linear_names:
            raise KeyError(f"{name!r} is not a linear layer of this model; the linear layers are {self.linear_names}.")
        return self.params[name].copy()

    def linear_weights(self) -> dict:
        """``{name: W}`` for every linear layer (copies), in data-flow order."""
        return {name: self.params[name].copy() for name in self.linear_names}

    def with_linear_weights(self, weights: dict) -> ByteTransformer:
        """A new model with the linear layers in ``weights`` (``{name: W}``) replaced; ``self`` is unchanged.

        Each ``W`` must have the shape of the weight it replaces; it is cast to the model's dtype.
        """
        if not isinstance(weights, dict):
            raise TypeError(f"weights must be a dict of linear-layer name -> W, got {type(weights).__name__}.")
        params = dict(self.params)
        for name, w in weights.items():
            if name not in self.linear_names:
                raise KeyError(f"{name!r} is not a linear layer of this model; the linear layers are "
                               f"{self.linear_names}.")
            params[name] = self._checked_array(w, name, self.params[name].shape)
        return ByteTransformer(params, self.config, self.dtype)

    @property
    def n_params(self) -> int:
        """Number of parameters."""
        return int(sum(p.size for p in self.params.values()))

    # ------------------------------------------------------------------ forward and backward
    def _forward(self, x: np.ndarray, keep: bool):
        """Logits and, if ``keep``, everything the backward pass and :meth:`linear_inputs` need."""
        c, p = self.config, self.params
        b, t = x.shape
        hd = c.d_model // c.n_heads
        h = p["embed"][x] + p["pos"][:t]
        mask = self._mask[:t, :t]
        caches = []
        for i in range(c.n_layers):
            pre = f"blocks.{i}."
            a, ln1 = _layer_norm(h, p[pre + "ln1.gain"], p[pre + "ln1.bias"])
            qkv = (a @ p[pre + "attn_qkv"].T).reshape(b, t, 3, c.n_heads, hd).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]                          # (b, H, t, hd) each
            s = (q @ k.transpose(0, 1, 3, 2)) * self.dtype.type(1.0 / np.sqrt(hd))
            s = np.where(mask, s, -np.inf)
            s -= s.max(axis=-1, keepdims=True)
            att = np.exp(s)
            att /= att.sum(axis=-1, keepdims=True)
            o = (att @ v).transpose(0, 2, 1, 3).reshape(b, t, c.d_model)
            h = h + o @ p[pre + "attn_out"].T
            m, ln2 = _layer_norm(h, p[pre + "ln2.gain"], p[pre + "ln2.bias"])
            u = m @ p[pre + "mlp_in"].T
            g, tanh = _gelu(u)
            h = h + g @ p[pre + "mlp_out"].T
            if keep:
                caches.append(dict(a=a, ln1=ln1, q=q, k=k, v=v, att=att, o=o, m=m, ln2=ln2, u=u, g=g, tanh=tanh))
        f, lnf = _layer_norm(h, p["ln_f.gain"], p["ln_f.bias"])
        logits = f @ p["head"].T
        return logits, (caches, f, lnf)

    def forward(self, tokens) -> np.ndarray:
        """Logits of the next byte, shape (batch, T, 256), for tokens of shape (batch, T) or (T,)."""
        return self._forward(_as_tokens(tokens, self.config.context), keep=False)[0]

    def linear_inputs(self, tokens) -> dict:
        """The activations entering each linear layer: ``{name: X}`` with ``X`` of shape (batch * T, in).

        Row ``r`` of ``X`` is the input of token ``r`` (batch-major), so the layer's output on these
        tokens is ``X @ W.T``.  These are the calibration inputs of GPTQ (:math:`H = 2X^TX`) and AWQ
        (per-channel mean of :math:`|X|`).  The inputs are those of *this* model: to quantize layer
        by layer with the errors of the earlier layers in view, call it again on the model returned
        by :meth:`with_linear_weights`.

        Examples
        --------
        >>> from quantref.zoo.byte_lm_training import init_byte_lm
        >>> model = init_byte_lm(ByteLMConfig(context=16, d_model=32, n_heads=2, n_layers=1, d_mlp=64), seed=0)
        >>> inputs, _ = windows(b"def f(x):\\n    return x + 1\\n" * 4, context=16)   # 6 windows of 16 bytes
        >>> {name: x.shape for name, x in model.linear_inputs(inputs).items()}["blocks.0.mlp_out"]
        (96, 64)
        """
        x = _as_tokens(tokens, self.config.context)
        _, (caches, f, _) = self._forward(x, keep=True)
        out = {}
        for i, cache in enumerate(caches):
            pre = f"blocks.{i}."
            out[pre + "attn_qkv"] = cache["a"].reshape(-1, self.config.d_model)
            out[pre + "attn_out"] = cache["o"].reshape(-1, self.config.d_model)
            out[pre + "mlp_in"] = cache["m"].reshape(-1, self.config.d_model)
            out[pre + "mlp_out"] = cache["g"].reshape(-1, self.config.d_mlp)
        out["head"] = f.reshape(-1, self.config.d_model)
        return out

    def _check_targets(self, targets, shape) -> np.ndarray:
        y = _as_tokens(targets, self.config.context)
        if y.shape != shape:
            raise ValueError(f"targets have shape {y.shape}; they must match the inputs' shape {shape} "
                             f"(targets[:, t] is the byte that follows inputs[:, t]).")
        return y

    @staticmethod
    def _cross_entropy(logits, y):
        """Mean next-byte cross-entropy in nats (accumulated in float64) and its gradient wrt the logits."""
        shifted = logits - logits.max(axis=-1, keepdims=True)
        log_z = np.log(np.exp(shifted).sum(axis=-1))
        picked = np.take_along_axis(shifted, y[..., None], axis=-1)[..., 0]
        n = y.size
        loss = float(np.sum(log_z - picked, dtype=np.float64) / n)
        dlogits = np.exp(shifted - log_z[..., None])
        flat = dlogits.reshape(-1, VOCAB)
        flat[np.arange(n), y.reshape(-1)] -= 1
        return loss, dlogits / dlogits.dtype.type(n)

    def loss(self, inputs, targets) -> float:
        """Mean cross-entropy (nats) of ``targets`` (the next bytes) given ``inputs``, both (batch, T)."""
        x = _as_tokens(inputs, self.config.context)
        logits = self._forward(x, keep=False)[0]
        return self._cross_entropy(logits, self._check_targets(targets, x.shape))[0]

    def loss_and_gradients(self, inputs, targets) -> tuple[float, dict]:
        """The loss and ``{name: gradient}`` for every parameter (see the module docstring)."""
        c, p = self.config, self.params
        x = _as_tokens(inputs, c.context)
        y = self._check_targets(targets, x.shape)
        b, t = x.shape
        hd = c.d_model // c.n_heads
        logits, (caches, f, lnf) = self._forward(x, keep=True)
        loss, dlogits = self._cross_entropy(logits, y)
        grads = {}
        grads["head"] = _linear_grad(dlogits, f)
        dh, grads["ln_f.gain"], grads["ln_f.bias"] = _layer_norm_backward(dlogits @ p["head"], p["ln_f.gain"], lnf)
        scale = self.dtype.type(1.0 / np.sqrt(hd))
        for i in range(c.n_layers - 1, -1, -1):
            pre, k = f"blocks.{i}.", caches[i]
            # MLP: h += gelu(m W1^T) W2^T
            grads[pre + "mlp_out"] = _linear_grad(dh, k["g"])
            du = (dh @ p[pre + "mlp_out"]) * _gelu_grad(k["u"], k["tanh"])
            grads[pre + "mlp_in"] = _linear_grad(du, k["m"])
            dm, grads[pre + "ln2.gain"], grads[pre + "ln2.bias"] = _layer_norm_backward(
                du @ p[pre + "mlp_in"], p[pre + "ln2.gain"], k["ln2"])
            dh = dh + dm
            # attention: h += (A v) Wo^T
            grads[pre + "attn_out"] = _linear_grad(dh, k["o"])
            do = (dh @ p[pre + "attn_out"]).reshape(b, t, c.n_heads, hd).transpose(0, 2, 1, 3)
            att = k["att"]
            datt = do @ k["v"].transpose(0, 1, 3, 2)
            dv = att.transpose(0, 1, 3, 2) @ do
            ds = att * (datt - (datt * att).sum(axis=-1, keepdims=True)) * scale
            dq = ds @ k["k"]
            dk = ds.transpose(0, 1, 3, 2) @ k["q"]
            dqkv = np.stack([dq, dk, dv]).transpose(1, 3, 0, 2, 4).reshape(b, t, 3 * c.d_model)
            grads[pre + "attn_qkv"] = _linear_grad(dqkv, k["a"])
            da, grads[pre + "ln1.gain"], grads[pre + "ln1.bias"] = _layer_norm_backward(
                dqkv @ p[pre + "attn_qkv"], p[pre + "ln1.gain"], k["ln1"])
            dh = dh + da
        onehot = np.zeros((b * t, VOCAB), dtype=self.dtype)
        onehot[np.arange(b * t), x.reshape(-1)] = 1
        grads["embed"] = onehot.T @ dh.reshape(-1, c.d_model)
        dpos = np.zeros_like(p["pos"])
        dpos[:t] = dh.sum(axis=0)
        grads["pos"] = dpos
        return loss, {name: grads[name] for name in p}

    # ------------------------------------------------------------------ files
    def save(self, path, **metadata) -> None:
        """Write the parameters, the config and ``metadata`` (numbers or strings) to an ``.npz`` file."""
        arrays = {f"param/{k}": v for k, v in self.params.items()}
        arrays["config"] = np.array(self.config, dtype=np.int64)
        for key, value in metadata.items():
            arrays[f"meta/{key}"] = np.array(value)
        np.savez(Path(path), **arrays)

    @classmethod
    def load(cls, path, dtype=np.float32) -> ByteTransformer:
        """Read a model written by :meth:`save` (the metadata is read by :func:`load_metadata`)."""
        with np.load(Path(path), allow_pickle=False) as data:
            config = ByteLMConfig(*(int(v) for v in data["config"]))
            params = {k[len("param/"):]: data[k] for k in data.files if k.startswith("param/")}
        return cls(params, config, dtype=dtype)

    def __repr__(self) -> str:
        c = self.config
        return (f"ByteTransformer(context={c.context}, d_model={c.d_model}, n_heads={c.n_heads}, "
                f"n_layers={c.n_layers}, d_mlp={c.d_mlp}, {self.n_params} parameters, dtype={self.dtype.name})")


def load_metadata(path) -> dict:
    """The metadata stored by :meth:`ByteTransformer.save`: ``{key: Python str, int or float}``."""
    with np.load(Path(path), allow_pickle=False) as data:
        return {k[len("meta/"):]: data[k].item() for k in data.files if k.startswith("meta/")}


# ---------------------------------------------------------------------- evaluation
def _as_byte_data(data, name: str = "data") -> np.ndarray:
    if isinstance(data, (bytes, bytearray)):
        return np.frombuffer(bytes(data), dtype=np.uint8)
    arr = np.asarray(data)
    if arr.dtype != np.uint8:
        raise TypeError(f"{name} must be bytes or a uint8 array of bytes, got dtype {arr.dtype}; "
                        f"e.g. np.frombuffer(text.encode(), dtype=np.uint8).")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (a stream of bytes), got shape {arr.shape}.")
    return arr


def windows(data, context: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut a byte stream into non-overlapping (input, target) windows of ``context`` bytes.

    Window ``i`` has inputs ``data[i*T : (i+1)*T]`` and targets ``data[i*T + 1 : (i+1)*T + 1]``
    (``T = context``); a tail shorter than ``T + 1`` bytes is dropped.  Every byte from
    ``data[1]`` to ``data[n*T]`` is a target exactly once.

    Returns
    -------
    inputs, targets : ndarray of uint8, shape (n, T)
    """
    arr = _as_byte_data(data)
    context = check_positive_int(context, "context")
    n = (len(arr) - 1) // context
    if n < 1:
        raise ValueError(f"data has {len(arr)} bytes; at least context + 1 = {context + 1} are needed for one window.")
    return arr[:n * context].reshape(n, context), arr[1:n * context + 1].reshape(n, context)


def blas_threads(threads):
    """A context manager limiting NumPy's BLAS to ``threads`` threads (``None``: leave it as it is).

    The matrices of this model are small; one thread is as fast as several on an idle machine and
    much faster on a busy one, where spinning BLAS threads compete for the cores.
    """
    if threads is None:
        return contextlib.nullcontext()
    threads = check_positive_int(threads, "threads")
    from threadpoolctl import threadpool_limits
    return threadpool_limits(threads, user_api="blas")


def mean_nll(model: ByteTransformer, data, batch_size: int = 32, threads: int | None = 1) -> float:
    r"""Mean negative log-likelihood (nats per byte) of the bytes of ``data`` under ``model``.

    :math:`\frac1N \sum_t -\log p(x_{t+1} \mid \text{the previous bytes of its window})` over the
    targets of :func:`windows` (each window starts with an empty context), summed in float64.
    ``batch_size`` windows go through the model at a time with ``threads`` BLAS threads
    (:func:`blas_threads`); neither changes the result beyond float32 summation order.
    """
    if not isinstance(model, ByteTransformer):
        raise TypeError(f"model must be a ByteTransformer, got {type(model).__name__}.")
    batch_size = check_positive_int(batch_size, "batch_size")
    inputs, targets = windows(data, model.config.context)
    total = 0.0
    with blas_threads(threads):
        for start in range(0, len(inputs), batch_size):
            x, y = inputs[start:start + batch_size], targets[start:start + batch_size]
            total += model.loss(x, y) * y.size
    return total / targets.size


def perplexity(model: ByteTransformer, data, batch_size: int = 32, threads: int | None = 1) -> float:
    r"""Perplexity :math:`e^{\text{mean NLL}}` of ``data`` (bytes) under ``model``; see :func:`mean_nll`.

    256 would be a uniform guess over bytes; 1 is a perfect prediction.
    """
    return float(np.exp(mean_nll(model, data, batch_size, threads)))


def bits_per_byte(model: ByteTransformer, data, batch_size: int = 32, threads: int | None = 1) -> float:
    r"""Bits per byte :math:`\text{mean NLL} / \ln 2 = \log_2 \text{perplexity}`; 8 is a uniform guess."""
    return mean_nll(model, data, batch_size, threads) / float(np.log(2.0))
