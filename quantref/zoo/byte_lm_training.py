r"""Train a :class:`~quantref.zoo.byte_lm.ByteTransformer` on bytes with Adam, in NumPy.

Initialisation (GPT-2's): every weight matrix and embedding :math:`\sim \mathcal N(0, 0.02^2)`,
the two projections that write into the residual stream (``attn_out``, ``mlp_out``) with standard
deviation :math:`0.02 / \sqrt{2L}`; layer-norm gains 1, biases 0.

Each step draws ``batch_size`` windows of ``context + 1`` bytes at seeded random offsets of the
training bytes, computes the next-byte cross-entropy and its gradients, clips the gradients to a
global norm of at most :data:`CLIP_NORM` (:math:`g \leftarrow g \min(1, c / \lVert g \rVert_2)`) and
takes an Adam step (:class:`quantref.qat.adam.Adam`) with the learning rate

.. math::

    \eta_t = \eta \cdot \min\Big(1, \frac{t}{t_w}\Big) \cdot
             \Big(r + (1 - r)\,\tfrac12\big(1 + \cos \tfrac{\pi t}{t_{max}}\big)\Big)

(linear warm-up over :math:`t_w` steps, then cosine decay to the fraction :math:`r =` :data:`LR_FLOOR`).
"""
from __future__ import annotations

import numbers

import numpy as np

from ..qat.adam import Adam
from .._checks import check_positive_int
from .byte_lm import ByteLMConfig, ByteTransformer, _as_byte_data, blas_threads, param_shapes

#: Standard deviation of the initial weights.
INIT_STD = 0.02
#: Largest global gradient norm; larger gradients are scaled down to it.
CLIP_NORM = 1.0
#: The learning rate decays to this fraction of its peak.
LR_FLOOR = 0.1


def init_byte_lm(config: ByteLMConfig = ByteLMConfig(), seed: int = 0, dtype=np.float32) -> ByteTransformer:
    """A freshly initialised model (see the module docstring), seeded."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an integer, got {seed!r}.")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}; e.g. seed=0.")
    if not isinstance(config, ByteLMConfig):
        raise TypeError(f"config must be a ByteLMConfig, got {type(config).__name__}.")
    rng = np.random.default_rng(seed)
    residual_std = INIT_STD / np.sqrt(2 * config.checked().n_layers)
    params = {}
    for name, shape in param_shapes(config).items():
        if name.endswith(".gain"):
            params[name] = np.ones(shape)
        elif name.endswith(".bias"):
            params[name] = np.zeros(shape)
        else:
            std = residual_std if name.endswith(("attn_out", "mlp_out")) else INIT_STD
            params[name] = rng.normal(0.0, std, size=shape)
    return ByteTransformer(params, config, dtype=dtype)


def learning_rate(step: int, lr: float, warmup: int, steps: int) -> float:
    """The learning rate at step ``step`` (1-based) of ``steps``; see the module docstring."""
    ramp = min(1.0, step / warmup) if warmup else 1.0
    return float(lr * ramp * (LR_FLOOR + (1 - LR_FLOOR) * 0.5 * (1 + np.cos(np.pi * step / steps))))


def train_byte_lm(train_bytes, config: ByteLMConfig = ByteLMConfig(), steps: int = 1000, batch_size: int = 32,
                  lr: float = 3e-3, warmup: int = 100, seed: int = 0, progress: bool = True,
                  threads: int | None = 1) -> ByteTransformer:
    """Train a byte-level transformer on ``train_bytes`` with Adam on the next-byte cross-entropy.

    Parameters
    ----------
    train_bytes : bytes or 1-D uint8 array
        The training text, at least ``context + 1`` bytes.
    config : ByteLMConfig
        Shape of the model.
    steps : int
        Adam steps.
    batch_size : int
        Windows per step (each of ``context`` predicted bytes).
    lr : float
        Peak learning rate.
    warmup : int
        Steps of linear warm-up (0 for none).
    seed : int
        Seeds the initial weights and the windows drawn.
    progress : bool
        Show a tqdm progress bar over the steps (the running loss in bits per byte as its postfix).
    threads : int or None
        BLAS threads during training (:func:`~quantref.zoo.byte_lm.blas_threads`); ``None``
        leaves NumPy's setting.

    Returns
    -------
    ByteTransformer
        float32 weights.
    """
    data = _as_byte_data(train_bytes, "train_bytes")
    config = config.checked() if isinstance(config, ByteLMConfig) else config
    steps = check_positive_int(steps, "steps")
    batch_size = check_positive_int(batch_size, "batch_size")
    if isinstance(warmup, (bool, np.bool_)) or not isinstance(warmup, numbers.Integral) or warmup < 0:
        raise ValueError(f"warmup must be a non-negative integer number of steps, got {warmup!r}.")
    if isinstance(lr, (bool, np.bool_)) or not isinstance(lr, numbers.Real) or not np.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a positive number, got {lr!r}; e.g. lr=3e-3.")
    model = init_byte_lm(config, seed)
    t = model.config.context
    if len(data) < t + 1:
        raise ValueError(f"train_bytes has {len(data)} bytes; at least context + 1 = {t + 1} are needed.")
    with blas_threads(threads):
        return _train_loop(model, data, steps, batch_size, float(lr), int(warmup), seed, progress)


def _train_loop(model: ByteTransformer, data: np.ndarray, steps: int, batch_size: int, lr: float, warmup: int,
                seed: int, progress: bool) -> ByteTransformer:
    t = model.config.context
    rng = np.random.default_rng([seed, 1])
    names = list(model.params)
    opt = Adam([model.params[n] for n in names], lr=lr)
    offsets = np.arange(t + 1)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=steps, desc="training byte LM", unit="step")
    running = None
    for step in range(1, steps + 1):
        starts = rng.integers(0, len(data) - t, size=batch_size)
        chunk = data[starts[:, None] + offsets]
        loss, grads = model.loss_and_gradients(chunk[:, :-1], chunk[:, 1:])
        norm = np.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads.values()))
        factor = min(1.0, CLIP_NORM / (norm + 1e-12))
        opt.lr = learning_rate(step, lr, warmup, steps)
        opt.step([grads[n] * np.float32(factor) if factor < 1.0 else grads[n] for n in names])
        running = loss if running is None else 0.98 * running + 0.02 * loss
        if bar is not None:
            bar.update(1)
            if step % 25 == 0 or step == steps:
                bar.set_postfix(bits_per_byte=f"{running / np.log(2):.3f}")
    if bar is not None:
        bar.close()
    return model
