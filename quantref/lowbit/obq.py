r"""The slow, obviously correct OBQ-style loop that GPTQ must equal (the reference for tests and lectures).

Columns are quantized one at a time, left to right (GPTQ's fixed order), and after each one the
columns not yet quantized absorb its error, the optimal update of Optimal Brain Quantization
(Frantar & Alistarh 2022), with :math:`H^{-1}` restricted to the remaining columns:

.. math::

    e = w_{:,j} - \operatorname{quant}(w_{:,j}), \qquad
    w_{:,c} \leftarrow w_{:,c} - e\, \frac{[H^{-1}]_{jc}}{[H^{-1}]_{jj}} \quad (c > j),

    H^{-1} \leftarrow H^{-1} - \frac{H^{-1}_{:,j}\, H^{-1}_{j,:}}{[H^{-1}]_{jj}}
    \quad \text{(the Schur complement: } H^{-1} \text{ of the columns after } j\text{)}.

When column ``j`` starts a group, the group's scale and zero point are computed from its columns
``j .. j+G-1`` as they are at that moment (already updated by every earlier column).  Cost
:math:`O(K^3)` in NumPy; meant for layers of a few hundred inputs.
"""
from __future__ import annotations

import numpy as np

from ..linear import dequantize, minmax, qparams, quantize
from .groupwise import GroupQuantized, check_group_size, check_lowbit_bits, check_symmetric, check_weight
from .hessian import PERCDAMP, prepare_hessian


def obq_quantize(w, hessian, bits: int = 4, group_size: int | None = 128, *, symmetric: bool = False,
                 percdamp: float = PERCDAMP) -> GroupQuantized:
    """Quantize ``w`` column by column with the OBQ update (see the module docstring).

    Parameters
    ----------
    w : array_like, shape (N, K)
    hessian : array_like, shape (K, K)
        :math:`2 X^T X` (:func:`quantref.lowbit.hessian.layer_hessian`), before dampening.
    bits, group_size, symmetric
        As for :func:`quantref.lowbit.quantize_groupwise`; ``group_size=None`` is one group per row.
    percdamp : float
        Relative dampening (:func:`quantref.lowbit.hessian.prepare_hessian`).

    Returns
    -------
    GroupQuantized
    """
    w = check_weight(w)
    bits = check_lowbit_bits(bits)
    K = w.shape[1]
    G = K if group_size is None else check_group_size(group_size, K)
    symmetric = check_symmetric(symmetric)
    h, W = prepare_hessian(hessian, w, percdamp)
    hinv = np.linalg.inv(h)
    N = W.shape[0]
    codes = np.zeros((N, K), dtype=np.uint8)
    scales = np.zeros((N, K // G))
    zeros = np.zeros((N, K // G), dtype=np.int64)
    for j in range(K):
        if j % G == 0:                                   # a group starts: parameters from its current weights
            s, z = qparams(*minmax(W[:, j:j + G], axis=0), bits, symmetric=symmetric, signed=False)
            scales[:, j // G], zeros[:, j // G] = s, z
        q = quantize(W[:, j], s, z, bits, signed=False, axis=0)
        codes[:, j] = q
        err = W[:, j] - dequantize(q, s, z, axis=0)
        W[:, j + 1:] -= np.outer(err / hinv[j, j], hinv[j, j + 1:])
        hinv = hinv - np.outer(hinv[:, j], hinv[j, :]) / hinv[j, j]
    return GroupQuantized(codes, scales, zeros, bits, G, symmetric)
