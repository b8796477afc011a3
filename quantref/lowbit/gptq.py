r"""GPTQ (Frantar, Ashkboos, Hoefler & Alistarh, ICLR 2023): one-shot weight quantization with second-order error feedback.

GPTQ quantizes a linear layer's weight :math:`W` (``N x K``, ``y = x W^T``) column by column, in
order, and lets the columns not yet quantized absorb each column's rounding error so that the
layer's output on calibration inputs changes as little as possible.  It computes exactly what the
OBQ loop of :mod:`quantref.lowbit.obq` computes, reorganised for speed:

1. :math:`H = 2 X^T X` from calibration inputs, dead inputs repaired and dampened
   (:mod:`quantref.lowbit.hessian`).
2. **Cholesky form.**  The rows of the successive inverses that OBQ needs,
   :math:`[H^{-1}_{(j)}]_{j, j:}` (:math:`H^{-1}` restricted to columns :math:`\ge j`), are the rows
   of the upper Cholesky factor :math:`U` of :math:`H^{-1} = U^T U` up to a factor:
   :math:`U_{j,c} / U_{jj} = [H^{-1}_{(j)}]_{jc} / [H^{-1}_{(j)}]_{jj}`.  One factorisation replaces
   :math:`K` Schur-complement updates.
3. **The column update.**  With :math:`d = U_{jj}`:

   .. math::

       e = \frac{w_{:,j} - \operatorname{quant}(w_{:,j})}{d}, \qquad
       w_{:,c} \leftarrow w_{:,c} - e\, U_{jc} \quad (c > j).

4. **Lazy batch updates.**  Columns are processed in blocks of ``blocksize`` (128); inside a block
   the update is applied to the block's columns only, and the errors :math:`E` of the block's
   columns are applied to all later columns at once, :math:`W_{:, i_2:} \mathrel{-}= E\,
   U_{i_1:i_2,\, i_2:}` (a matrix product instead of ``blocksize`` rank-one updates).
5. **Group-wise scales.**  When column ``j`` starts a group, the group's scale and zero point are
   computed (:func:`quantref.linear.qparams`) from its columns as they are at that moment.  Where the
   group reaches past the current block, its later columns receive the block's pending updates
   first, so the result does not depend on ``blocksize``: it equals the OBQ loop to float64
   rounding.  (The reference code reads the weights as they were when the block started, which
   differs when a group starts inside a block, e.g. ``G = 32`` with blocks of 128.)

"Equal to float64 rounding" has one caveat: a weight that lands exactly on a rounding tie may round
either way in the two computations.  A symmetric grid places a group's largest :math:`|w|` at
exactly :math:`\pm(2^b - 1)/2` steps; when that weight is the group's first column and negative,
GPTQ and OBQ (whose values differ by ~1e-16) can pick different codes, and the columns after it
then differ too.

Not included: the reference code's ``act_order`` (columns sorted by :math:`H_{jj}`) and static
groups.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..linear import dequantize, minmax, qparams, quantize
from .groupwise import GroupQuantized, check_group_size, check_lowbit_bits, check_symmetric, check_weight
from .hessian import PERCDAMP, check_calibration_inputs, layer_hessian, prepare_hessian

#: the reference code's block size for lazy batch updates
BLOCKSIZE = 128


def inverse_cholesky_upper(h) -> np.ndarray:
    r"""The upper triangular :math:`U` with :math:`H^{-1} = U^T U` (``h`` symmetric positive definite).

    Computed as the reference code does: :math:`H = L L^T`, :math:`H^{-1} = L^{-T} L^{-1}`, then the
    Cholesky factor of :math:`H^{-1}`, transposed to upper form.

    Raises
    ------
    ValueError
        ``h`` is not positive definite (more dampening, ``percdamp``, is the usual fix).
    """
    try:
        L = np.linalg.cholesky(h)
        Linv = np.linalg.inv(L)
        hinv = Linv.T @ Linv
        return np.linalg.cholesky(hinv).T
    except np.linalg.LinAlgError as exc:
        raise ValueError("the dampened Hessian is not positive definite (Cholesky failed); raise percdamp "
                         "(e.g. 0.1) or use more calibration samples.") from exc


def _check_blocksize(blocksize) -> int:
    if isinstance(blocksize, (bool, np.bool_)) or not isinstance(blocksize, numbers.Integral) or blocksize < 1:
        raise ValueError(f"blocksize must be a positive integer (128 in GPTQ), got {blocksize!r}.")
    return int(blocksize)


def gptq_from_hessian(w, hessian, bits: int = 4, group_size: int | None = 128, *, symmetric: bool = False,
                      percdamp: float = PERCDAMP, blocksize: int = BLOCKSIZE) -> GroupQuantized:
    """GPTQ on a weight ``w`` ``(N, K)`` given the layer Hessian :math:`2 X^T X` ``(K, K)``.

    Parameters are those of :func:`gptq_quantize`, with ``hessian`` in place of the inputs.
    """
    w = check_weight(w)
    bits = check_lowbit_bits(bits)
    N, K = w.shape
    G = K if group_size is None else check_group_size(group_size, K)
    symmetric = check_symmetric(symmetric)
    B = _check_blocksize(blocksize)
    h, W = prepare_hessian(hessian, w, percdamp)
    U = inverse_cholesky_upper(h)
    codes = np.zeros((N, K), dtype=np.uint8)
    scales = np.zeros((N, K // G))
    zeros = np.zeros((N, K // G), dtype=np.int64)
    for i1 in range(0, K, B):
        i2 = min(i1 + B, K)
        W1 = W[:, i1:i2].copy()
        E1 = np.zeros((N, i2 - i1))
        U1 = U[i1:i2, i1:i2]
        for i in range(i2 - i1):
            j = i1 + i
            if j % G == 0:
                g_end = j + G
                current = W1[:, i:min(g_end, i2) - i1]
                if g_end > i2:   # the group's columns past the block, with the block's pending updates
                    later = W[:, i2:g_end] - E1[:, :i] @ U[i1:j, i2:g_end]
                    current = np.concatenate([current, later], axis=1)
                s, z = qparams(*minmax(current, axis=0), bits, symmetric=symmetric, signed=False)
                scales[:, j // G], zeros[:, j // G] = s, z
            q = quantize(W1[:, i], s, z, bits, signed=False, axis=0)
            codes[:, j] = q
            err = (W1[:, i] - dequantize(q, s, z, axis=0)) / U1[i, i]
            W1[:, i:] -= np.outer(err, U1[i, i:])
            E1[:, i] = err
        W[:, i2:] -= E1 @ U[i1:i2, i2:]
    return GroupQuantized(codes, scales, zeros, bits, G, symmetric)


def gptq_quantize(w, x, bits: int = 4, group_size: int | None = 128, *, symmetric: bool = False,
                  percdamp: float = PERCDAMP, blocksize: int = BLOCKSIZE) -> GroupQuantized:
    """Quantize a linear layer's weight with GPTQ, from calibration inputs.

    Parameters
    ----------
    w : array_like, shape (N, K)
        The weight, ``y = x @ w.T``.
    x : array_like, shape (n, K)
        The layer's inputs on calibration data (leading axes are flattened).
    bits : int
        2 to 8.
    group_size : int or None
        Inputs per group (divides ``K``); None: one group per row.
    symmetric : bool
        Symmetric or asymmetric groups (:mod:`quantref.lowbit.groupwise`).
    percdamp : float
        Dampening, a fraction of the mean diagonal of :math:`H` (0.01).
    blocksize : int
        Columns per lazy batch (128); does not change the result.

    Returns
    -------
    GroupQuantized
        Codes, scales and zero points; ``.dequantize()`` is the quantized weight.

    Raises
    ------
    TypeError, ValueError
        Bad dtypes, NaN/inf, shape mismatch between ``w`` and ``x``, ``bits`` out of range,
        ``group_size`` not dividing ``K``, a Hessian that cannot be factorised.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> w, x = rng.standard_normal((8, 64)), rng.standard_normal((256, 64))
    >>> gq = gptq_quantize(w, x, bits=4, group_size=32)
    >>> gq.codes.shape, gq.scales.shape
    ((8, 64), (8, 2))
    """
    w = check_weight(w)
    x = check_calibration_inputs(x, w.shape[1])
    return gptq_from_hessian(w, layer_hessian(x), bits, group_size, symmetric=symmetric, percdamp=percdamp,
                             blocksize=blocksize)
