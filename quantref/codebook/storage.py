r"""Storage of a weight-shared layer: the codes plus the codebook.

A layer of :math:`n` weights of :math:`b` bits each (:math:`b = 32` for float32), replaced by
:math:`k` shared values, stores :math:`n` codes of :math:`\log_2 k` bits and the codebook of
:math:`k` values of :math:`b` bits (Han et al. 2016, eq. 1):

.. math::

    \text{bits} = n \log_2 k + k b, \qquad
    r = \frac{n b}{n \log_2 k + k b} .

The codebook term matters for small layers: for :math:`n = 640`, :math:`k = 256`, it is 8,192
bits against 5,120 bits of codes, and :math:`r = 20480 / 13312 \approx 1.54` rather than :math:`32/8 = 4`.
"""
from __future__ import annotations

import math
import numbers

import numpy as np


def _check_positive_int(v, name: str) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral) or int(v) < 1:
        raise ValueError(f"{name} must be a positive integer, got {v!r}.")
    return int(v)


def storage_bits(n, k, b: int = 32) -> float:
    """:math:`n \\log_2 k + k b`: bits of ``n`` codes and a ``k``-entry codebook of ``b``-bit values.

    Examples
    --------
    >>> storage_bits(1000, 16)     # 1000 * 4 + 16 * 32
    4512.0
    """
    n, k, b = _check_positive_int(n, "n"), _check_positive_int(k, "k"), _check_positive_int(b, "b")
    return n * math.log2(k) + k * b


def compression_ratio(n, k, b: int = 32) -> float:
    """:math:`n b / (n \\log_2 k + k b)`, the ratio of Han et al. (2016, eq. 1).

    Examples
    --------
    >>> round(compression_ratio(1000, 16), 3)      # 32000 / 4512
    7.092
    """
    return _check_positive_int(n, "n") * _check_positive_int(b, "b") / storage_bits(n, k, b)


def packed_nbytes(n, bits: int, k: int | None = None, value_bytes: int = 4) -> int:
    """Bytes actually stored when ``n`` codes are packed ``8 // bits`` per byte, plus the codebook.

    Only whole-byte packings (``bits`` 1, 2, 4, 8) are counted this way; the codebook holds
    ``k`` (default ``2**bits``) values of ``value_bytes`` bytes.

    Examples
    --------
    >>> packed_nbytes(1001, 4)      # 501 bytes of codes + 16 float32
    565
    """
    from .packing import check_pack_bits

    n, bits = _check_positive_int(n, "n"), check_pack_bits(bits)
    k = 1 << bits if k is None else _check_positive_int(k, "k")
    return -(-n * bits // 8) + k * _check_positive_int(value_bytes, "value_bytes")
