r"""The layer Hessian of GPTQ / OBQ: what a linear layer's output error costs, from calibration inputs.

For a layer ``y = x W^T`` and calibration inputs stacked as the rows of :math:`X \in
\mathbb{R}^{n \times K}`, the squared output error of a perturbed weight row :math:`w + \delta` is

.. math::

    \| X (w + \delta) - X w \|^2 = \delta^T (X^T X)\, \delta = \tfrac12\, \delta^T H \delta,
    \qquad H = 2 X^T X

(the paper writes :math:`H = 2 X X^T` with the samples as columns of :math:`X`).  ``H`` is the same
for every output row.  Before it is inverted, two repairs, as in the GPTQ reference code:

* dead inputs (:math:`H_{jj} = 0`: input ``j`` is always 0) get :math:`H_{jj} = 1` and their
  weights are set to 0 (they never influence the output);
* dampening: :math:`H \leftarrow H + \lambda I` with
  :math:`\lambda = \text{percdamp} \cdot \operatorname{mean}_j H_{jj}` (``percdamp = 0.01``), which
  keeps :math:`H` safely positive definite when ``n < K`` or inputs are correlated.

Neither the overall scale of ``H`` nor a common factor of the inputs changes GPTQ's result (every
update is a ratio of entries of :math:`H^{-1}`, and the dampening is relative).
"""
from __future__ import annotations

import numbers

import numpy as np

from .._checks import as_float_array

#: the reference code's default relative dampening
PERCDAMP = 0.01


def check_calibration_inputs(x, k: int, name: str = "x") -> np.ndarray:
    """Calibration inputs as a float64 matrix ``(n, K)`` (leading axes flattened); errors name the fix."""
    arr = as_float_array(x, name)
    if arr.ndim < 1 or arr.shape[-1] != k:
        raise ValueError(f"{name} must have the layer's K={k} inputs along its last axis, got shape {arr.shape}; "
                         f"pass the inputs of this layer, shape (n_samples, {k}).")
    arr = arr.reshape(-1, k)
    if arr.shape[0] == 0:
        raise ValueError(f"{name} holds no samples; pass at least one calibration input.")
    return arr


def layer_hessian(x) -> np.ndarray:
    """:math:`H = 2 X^T X` (float64, ``(K, K)``) from calibration inputs ``x`` of shape ``(n, K)``."""
    x = as_float_array(x, "x")
    if x.ndim != 2:
        raise ValueError(f"x must be a matrix (n_samples, K), got shape {x.shape}.")
    return 2.0 * (x.T @ x)


def check_percdamp(percdamp) -> float:
    if isinstance(percdamp, (bool, np.bool_)) or not isinstance(percdamp, numbers.Real) \
            or not np.isfinite(percdamp) or percdamp < 0:
        raise ValueError(f"percdamp must be a finite number >= 0 (0.01 in GPTQ), got {percdamp!r}.")
    return float(percdamp)


def check_hessian(h, k: int) -> np.ndarray:
    h = as_float_array(h, "hessian")
    if h.shape != (k, k):
        raise ValueError(f"hessian must be (K, K) = ({k}, {k}) for a weight with K={k} inputs, got {h.shape}.")
    if not np.allclose(h, h.T, rtol=1e-12, atol=0):
        raise ValueError("hessian must be symmetric (2 X^T X); build it with layer_hessian(x).")
    return h


def prepare_hessian(h, w, percdamp: float = PERCDAMP) -> tuple[np.ndarray, np.ndarray]:
    """Dead inputs repaired and :math:`H` dampened (see the module docstring).

    Returns
    -------
    h : ndarray (K, K)
        :math:`H` with :math:`H_{jj} = 1` on dead inputs, plus :math:`\\lambda I`.
    w : ndarray (N, K)
        A float64 copy of the weight with the dead inputs' columns set to 0.

    Raises
    ------
    numpy.linalg.LinAlgError
        Never for ``percdamp > 0`` and a valid ``2 X^T X``; the callers turn a failed Cholesky
        factorisation into a ValueError asking for more dampening.
    """
    percdamp = check_percdamp(percdamp)
    w = np.array(w, dtype=np.float64)
    h = check_hessian(h, w.shape[1]).copy()
    dead = np.diag(h) == 0
    h[dead, dead] = 1.0
    w[:, dead] = 0.0
    damp = percdamp * float(np.mean(np.diag(h)))
    h[np.diag_indices_from(h)] += damp
    return h, w
