"""OCP Microscaling (MX v1.0) block formats: MXFP8 and MXFP4.

A block of ``k = 32`` consecutive values ``V_1 ... V_k`` is stored as one shared E8M0 scale
``X = 2^s`` (:mod:`~quantref.formats.e8m0`) and ``k`` small floats ``P_i``, the value being
``V_i ~ X * P_i``.  The spec's conversion (section 6.3) chooses

    s   = floor(log2(max_i |V_i|)) - emax_elem
    P_i = quantize_to_element_format(V_i / 2^s)     (round to nearest even, clamped to +-max)

where ``emax_elem`` is the exponent of the element format's largest normal value, so that the
block's largest value lands in the element format's top binade (it may exceed the element max and
be clamped: with E4M3, ``|V| / 2^s`` lies in [256, 512) and [448, 512) saturates to 448).

=======  ==============  =========  ===========  =====================================
format   element         emax_elem  element max  bits per value (k = 32)
=======  ==============  =========  ===========  =====================================
MXFP8    E4M3 (fn)       8          448          8 + 8/32 = 8.25
MXFP8    E5M2            15         57344        8.25
MXFP4    E2M1            2          6            4 + 8/32 = 4.25
=======  ==============  =========  ===========  =====================================

Edge cases (stated here, as the spec leaves some to the implementation): an all-zero block gets
the smallest scale, ``s = -127``, and zero elements; ``s`` is clamped below at -127; a block holding
NaN or +-inf, or whose ``s`` would exceed 127 (float64 input only), gets the NaN scale 0xFF and
zero element codes, and decodes to NaN.  Blocks run along the last axis.

>>> x = np.array([[0.1, -0.25, 3.0, 0.0]])
>>> mx = encode_mx(x, "e2m1", block_size=4)
>>> mx.scales, mx.elements
(array([[126]], dtype=uint8), array([[0, 9, 7, 0]], dtype=uint8))
>>> decode_mx(mx)
array([[ 0.  , -0.25,  3.  ,  0.  ]], dtype=float32)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import as_codes, as_float64, check_block_size
from .e8m0 import BIAS, MAX_EXPONENT, MIN_EXPONENT, NAN_CODE, decode_e8m0
from .minifloat import MiniFloat, as_format, decode, encode

BLOCK_SIZE = 32
ELEMENT_FORMATS = ("e4m3", "e5m2", "e2m1")


def element_emax(fmt) -> int:
    """``emax_elem``: the exponent of the largest normal value of an element format (E4M3 8, E5M2 15, E2M1 2)."""
    fmt = as_format(fmt)
    return (fmt.max_code >> fmt.mantissa_bits) - fmt.bias


def _element_format(element) -> MiniFloat:
    name = element.name if isinstance(element, MiniFloat) else element
    if not isinstance(name, str) or name.lower() not in ELEMENT_FORMATS:
        raise ValueError(f"element={element!r} is not an MX element format; use one of "
                         f"{', '.join(map(repr, ELEMENT_FORMATS))} ('e4m3': MXFP8, 'e2m1': MXFP4).")
    return as_format(name.lower())


@dataclass(frozen=True)
class MXTensor:
    """An MX-encoded array: element codes, one E8M0 scale code per block of the last axis.

    Attributes
    ----------
    elements : numpy.ndarray of uint8, shape ``(..., n)``
        Element codes (E2M1 codes in the low 4 bits, one per byte).
    scales : numpy.ndarray of uint8, shape ``(..., n // block_size)``
        E8M0 codes of the shared scales ``2^s``.
    element : str
        ``"e4m3"``, ``"e5m2"`` or ``"e2m1"``.
    block_size : int
    """

    elements: np.ndarray
    scales: np.ndarray
    element: str
    block_size: int

    def __post_init__(self):
        fmt = _element_format(self.element)
        as_codes(self.elements, fmt.bits, "elements")
        as_codes(self.scales, 8, "scales")
        n = self.elements.shape[-1] if self.elements.ndim else 0
        check_block_size(self.block_size, n, what="elements.shape[-1]")
        want = self.elements.shape[:-1] + (n // self.block_size,)
        if self.scales.shape != want:
            raise ValueError(f"scales must have shape {want} (one per block of {self.block_size} along the "
                             f"last axis of elements {self.elements.shape}), got {self.scales.shape}.")

    @property
    def bits_per_value(self) -> float:
        """Storage cost: element bits plus 8 scale bits shared by ``block_size`` values."""
        return as_format(self.element).bits + 8 / self.block_size


def encode_mx(x, element: str = "e4m3", block_size: int = BLOCK_SIZE) -> MXTensor:
    """Encode ``x`` in an MX format, blocks of ``block_size`` along the last axis (MX v1.0, section 6.3).

    Parameters
    ----------
    x : array_like of float16, float32 or float64, at least 1-D
        The last axis length must be a multiple of ``block_size``.
    element : {"e4m3", "e5m2", "e2m1"}
        Element format: ``"e4m3"`` for MXFP8 (the common one), ``"e2m1"`` for MXFP4.
    block_size : int, default 32
        The spec's ``k`` is 32; other sizes are allowed for experiments.

    Returns
    -------
    MXTensor
        ``scales[..., j] = s_j + 127`` with ``s_j = max(floor(log2(amax_j)) - emax_elem, -127)``;
        ``elements = encode(V / 2^s_j, element, saturate=True)``.

    Notes
    -----
    ``floor(log2(amax))`` is read exactly from the exponent of ``amax`` (``np.frexp``), and
    ``V / 2^s`` is an exact power-of-two scaling in float64, so the only rounding is the element
    format's (round to nearest, ties to even, clamped to +-max).
    """
    fmt = _element_format(element)
    x = as_float64(x, "x")
    if x.ndim == 0:
        raise ValueError("x must have at least one axis (blocks run along the last one); "
                         "pass np.atleast_1d(x).")
    block_size = check_block_size(block_size, x.shape[-1], what="x.shape[-1]")
    blocks = x.reshape(x.shape[:-1] + (x.shape[-1] // block_size, block_size))
    with np.errstate(invalid="ignore"):
        amax = np.max(np.abs(blocks), axis=-1)
    _, exponent = np.frexp(np.where(np.isfinite(amax) & (amax > 0), amax, 1.0))
    floor_log2 = exponent.astype(np.int64) - 1                   # amax = m 2^exponent, m in [0.5, 1)
    s = np.where(amax > 0, floor_log2 - element_emax(fmt), MIN_EXPONENT)
    s = np.maximum(s, MIN_EXPONENT)
    nan_scale = ~np.isfinite(amax) | (s > MAX_EXPONENT)
    s = np.where(nan_scale, 0, s)
    scaled = np.ldexp(np.where(nan_scale[..., None], 0.0, blocks), -s[..., None])
    elements = encode(scaled, fmt, saturate=True).reshape(x.shape)
    scales = np.where(nan_scale, NAN_CODE, s + BIAS).astype(np.uint8)
    return MXTensor(elements, scales, fmt.name, block_size)


def decode_mx(mx: MXTensor) -> np.ndarray:
    """float32 values ``2^s_j * P_i`` of an :class:`MXTensor`; a NaN scale (0xFF) gives NaN for its block.

    The product is formed in float64 (exact) and rounded once to float32; it is exact for every
    tensor :func:`encode_mx` makes from float32 data (an element has at most 4 significant bits and
    ``2^s P`` stays within float32's range and precision), and overflows to inf only for a
    hand-made scale near 2^127.
    """
    if not isinstance(mx, MXTensor):
        raise TypeError(f"mx must be an MXTensor (from encode_mx), got {type(mx).__name__}; build one with "
                        f"MXTensor(elements, scales, element, block_size).")
    values = decode(mx.elements, mx.element).astype(np.float64)
    scale = decode_e8m0(mx.scales).astype(np.float64)
    blocks = values.reshape(mx.scales.shape + (mx.block_size,)) * scale[..., None]
    return blocks.reshape(mx.elements.shape).astype(np.float32)


def encode_mxfp8(x, block_size: int = BLOCK_SIZE) -> MXTensor:
    """MXFP8: :func:`encode_mx` with E4M3 elements and one E8M0 scale per 32 values."""
    return encode_mx(x, "e4m3", block_size)


def encode_mxfp4(x, block_size: int = BLOCK_SIZE) -> MXTensor:
    """MXFP4: :func:`encode_mx` with E2M1 elements (+-{0, 0.5, 1, 1.5, 2, 3, 4, 6}) and one E8M0 scale per 32."""
    return encode_mx(x, "e2m1", block_size)
