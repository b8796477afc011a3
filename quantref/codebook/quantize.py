r"""Weight sharing by k-means (Deep Compression): a codebook of :math:`k = 2^b` values plus codes.

A weight tensor :math:`W` becomes a codebook :math:`c` (float32, :math:`k` values ascending, from
:func:`~quantref.codebook.kmeans.kmeans_1d`) and one :math:`b`-bit code per weight,

.. math::

    \text{code}_i = \arg\min_j |w_i - c_j|, \qquad \hat w_i = c_{\text{code}_i} ,

the nearest codebook value (ties to the lower index).  Unlike a linear grid, the values sit where
the weights are: k-means minimises :math:`\sum_i (w_i - \hat w_i)^2` over all codebooks.
"""
from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from .._checks import as_float_array
from .kmeans import assign_sorted_centroids, kmeans_1d
from .lut import lut_dequantize
from .packing import PACK_BITS, PackedCodes, pack_codes
from .storage import compression_ratio, storage_bits

MAX_BITS = 8


def check_codebook_bits(bits) -> int:
    if isinstance(bits, (bool, np.bool_)) or not isinstance(bits, numbers.Integral):
        raise TypeError(f"bits must be a whole number from 1 to {MAX_BITS}, got {bits!r}.")
    if not 1 <= int(bits) <= MAX_BITS:
        raise ValueError(f"bits={bits}: codebook codes are stored as uint8, so bits must be 1 to {MAX_BITS} "
                         f"(k = 2**bits shared values).")
    return int(bits)


class KMeansQuantized(NamedTuple):
    """A weight tensor as a codebook and codes."""

    codebook: np.ndarray  #: float32, shape (k,), ascending
    codes: np.ndarray     #: uint8, the weights' shape
    bits: int             #: bits per code; k = 2**bits

    @property
    def k(self) -> int:
        return int(self.codebook.size)

    @property
    def n(self) -> int:
        return int(self.codes.size)

    def dequantize(self, **kwargs) -> np.ndarray:
        """``codebook[codes]`` as float32, via :func:`~quantref.codebook.lut.lut_dequantize`."""
        return lut_dequantize(self.codes, self.codebook, **kwargs)

    def pack(self) -> PackedCodes:
        """The codes packed ``8 // bits`` per byte (bits 1, 2, 4 or 8 only)."""
        if self.bits not in PACK_BITS:
            raise ValueError(f"{self.bits}-bit codes do not pack into whole bytes; pack 1, 2, 4 or 8 bits.")
        return pack_codes(self.codes, self.bits)

    def storage_bits(self, b: int = 32) -> float:
        """:math:`n \\log_2 k + k b` (:func:`~quantref.codebook.storage.storage_bits`)."""
        return storage_bits(self.n, self.k, b)

    def compression_ratio(self, b: int = 32) -> float:
        """:math:`n b / (n \\log_2 k + k b)`."""
        return compression_ratio(self.n, self.k, b)


def kmeans_quantize(weights, bits, *, init: str = "linear", seed: int = 0, max_iter: int = 300) -> KMeansQuantized:
    """Share the weights among ``2**bits`` values found by 1-D k-means (Han et al. 2016).

    Parameters
    ----------
    weights : array_like of real numbers, any shape
    bits : int
        1 to 8; ``k = 2**bits`` must not exceed the number of weights.
    init : {"linear", "density", "random", "kmeans++"}
        See :func:`~quantref.codebook.kmeans.kmeans_1d`; ``"linear"`` is Deep Compression's.
    seed, max_iter
        Passed to :func:`~quantref.codebook.kmeans.kmeans_1d`.

    Returns
    -------
    KMeansQuantized
        The float32 codebook, and codes that are the nearest float32 codebook entry of every
        weight (recomputed after rounding the centroids to float32).

    Examples
    --------
    >>> q = kmeans_quantize([0.0, 0.1, 0.9, 1.0, 0.5], 1)
    >>> q.codebook, q.codes
    (array([0.2 , 0.95], dtype=float32), array([0, 0, 1, 1, 0], dtype=uint8))
    """
    bits = check_codebook_bits(bits)
    w = as_float_array(weights, "weights")
    result = kmeans_1d(w, 1 << bits, init=init, max_iter=max_iter, seed=seed)
    codebook = np.sort(result.centroids.astype(np.float32))
    codes = assign_sorted_centroids(w, codebook.astype(np.float64)).astype(np.uint8)
    return KMeansQuantized(codebook, codes.reshape(w.shape), bits)
