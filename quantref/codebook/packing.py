r"""Bit packing of small codes: several codes per byte.

A code of :math:`b \in \{1, 2, 4, 8\}` bits takes :math:`8/b` codes per byte.  Code number
:math:`i` of the flattened array goes to byte :math:`\lfloor i / (8/b) \rfloor`, at bit offset
:math:`b \cdot (i \bmod 8/b)` (the first code in the lowest bits, "little-endian" within a byte):

.. math::

    \text{byte}_j = \sum_{t=0}^{8/b - 1} \text{code}_{j \cdot 8/b + t} \cdot 2^{b t},
    \qquad
    \text{code}_i = \big\lfloor \text{byte}_{\lfloor i b / 8 \rfloor} / 2^{b (i \bmod 8/b)} \big\rfloor \bmod 2^b .

So two 4-bit codes share a byte as ``c0 | c1 << 4`` and four 2-bit codes as
``c0 | c1 << 2 | c2 << 4 | c3 << 6``.  The last byte is padded with zero codes.
"""
from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

PACK_BITS = (1, 2, 4, 8)


class PackedCodes(NamedTuple):
    """Codes packed ``8 // bits`` per byte (see the module docstring)."""

    data: np.ndarray  #: uint8, shape (ceil(count * bits / 8),)
    bits: int         #: bits per code: 1, 2, 4 or 8
    shape: tuple      #: shape of the unpacked codes

    @property
    def count(self) -> int:
        """Number of codes."""
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return int(self.data.nbytes)


def check_pack_bits(bits) -> int:
    if isinstance(bits, (bool, np.bool_)) or not isinstance(bits, numbers.Integral) or int(bits) not in PACK_BITS:
        raise ValueError(f"bits={bits!r} cannot be packed into whole bytes; use one of {PACK_BITS}.")
    return int(bits)


def check_uint8_codes(codes, name: str = "codes") -> np.ndarray:
    """Return ``codes`` if it is a uint8 ndarray, else raise a TypeError naming ``name``."""
    if not isinstance(codes, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array of uint8 codes, got {type(codes).__name__}.")
    if codes.dtype != np.uint8:
        raise TypeError(f"{name} has dtype {codes.dtype}, but codes are uint8; convert with "
                        f"{name}.astype(np.uint8) after checking they lie in [0, 255].")
    return codes


def pack_codes(codes, bits) -> PackedCodes:
    """Pack uint8 codes, each below ``2**bits``, ``8 // bits`` per byte.

    Parameters
    ----------
    codes : ndarray of uint8, any shape
    bits : {1, 2, 4, 8}

    Returns
    -------
    PackedCodes

    Raises
    ------
    TypeError
        ``codes`` is not a uint8 array.
    ValueError
        A code does not fit in ``bits`` bits, or ``bits`` is not 1, 2, 4 or 8.

    Examples
    --------
    >>> pack_codes(np.array([1, 2, 3], dtype=np.uint8), 4).data     # 1 | 2 << 4, then 3
    array([33,  3], dtype=uint8)
    """
    bits = check_pack_bits(bits)
    codes = check_uint8_codes(codes)
    if codes.size and int(codes.max()) >= 1 << bits:
        bad = int(np.argmax(codes.ravel() >= 1 << bits))
        raise ValueError(f"codes[{bad}] (flat index) = {int(codes.ravel()[bad])} does not fit in {bits} bits: "
                         f"codes must lie in [0, {(1 << bits) - 1}].")
    per = 8 // bits
    flat = codes.ravel()
    nbytes = -(-flat.size // per)
    padded = np.zeros(nbytes * per, dtype=np.uint8)
    padded[:flat.size] = flat
    groups = padded.reshape(nbytes, per)
    data = np.zeros(nbytes, dtype=np.uint8)
    for t in range(per):
        data |= groups[:, t] << np.uint8(bits * t)
    return PackedCodes(data, bits, tuple(codes.shape))


def unpack_codes(packed: PackedCodes) -> np.ndarray:
    """Inverse of :func:`pack_codes`: uint8 codes of shape ``packed.shape``.

    Examples
    --------
    >>> p = pack_codes(np.array([[3, 0], [1, 2]], dtype=np.uint8), 2)
    >>> p.data, unpack_codes(p)
    (array([147], dtype=uint8), array([[3, 0],
           [1, 2]], dtype=uint8))
    """
    packed = check_packed(packed)
    per = 8 // packed.bits
    shifts = (np.arange(per, dtype=np.uint8) * packed.bits)[None, :]
    mask = np.uint8((1 << packed.bits) - 1)
    codes = (packed.data[:, None] >> shifts) & mask
    return codes.ravel()[:packed.count].reshape(packed.shape)


def check_packed(packed, name: str = "codes") -> PackedCodes:
    """Validate a :class:`PackedCodes` (its buffer must hold exactly ``count`` codes)."""
    if not isinstance(packed, PackedCodes):
        raise TypeError(f"{name} must be PackedCodes from pack_codes, got {type(packed).__name__}.")
    bits = check_pack_bits(packed.bits)
    data = check_uint8_codes(packed.data, f"{name}.data")
    if data.ndim != 1:
        raise ValueError(f"{name}.data must be 1-D, got shape {data.shape}.")
    need = -(-packed.count * bits // 8)
    if data.size != need:
        raise ValueError(f"{name}.data holds {data.size} bytes, but {packed.count} codes of {bits} bits "
                         f"need exactly {need}; was it sliced or built by hand?")
    return packed
