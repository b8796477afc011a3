"""NF4: the 4-bit NormalFloat code book of QLoRA (2023), with block-wise absmax.

NF4 is not a floating-point format but a table of 16 levels in [-1, 1], placed at quantiles of
the standard normal distribution, so that weights drawn from a normal distribution and divided by
their block's absolute maximum fill every level about equally often.  The table, as published
(the QLoRA paper's appendix and bitsandbytes), is :data:`NF4_LEVELS`; code ``i`` is level ``i``
(code 7 is exactly 0, code 15 is 1, code 0 is -1).

The levels come from the normal quantile function ``Q = Phi^-1`` with the offset
``delta = 0.9677083 ~ 1 - (1/30 + 1/32)/2`` (half-way between the quantile rules for 15 and 16
levels), taken asymmetrically so that zero is a level:

* 8 positive levels ``Q(p)`` for ``p`` on ``linspace(delta, 1/2, 9)`` without its last point,
* 7 negative levels ``-Q(p)`` for ``p`` on ``linspace(delta, 1/2, 8)`` without its last point,
* the level 0, and everything divided by the largest, ``Q(delta)``.

:func:`nf4_levels_from_quantiles` carries out this recipe in float64.

Encoding a tensor (:func:`encode_nf4`): blocks of ``block_size`` (64) consecutive elements in C
order; per block ``absmax = max |x|`` stored as float32; each ``x / absmax`` (in float64) goes to
the nearest level, **ties to the lower level** (the rule ``code = #{midpoints < x/absmax}``, as
bitsandbytes' comparison tree ``x > midpoint``).  Decoding: ``NF4_LEVELS[code] * absmax`` in float32.

>>> q = encode_nf4(np.array([0.5, -1.0, 0.04, 2.0]), block_size=4)
>>> q.codes, q.absmax
(array([10,  2,  7, 15], dtype=uint8), array([2.], dtype=float32))
>>> decode_nf4(q).tolist()
[0.4922246038913727, -1.0501461029052734, 0.0, 2.0]
"""
from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from ._checks import as_codes, as_float64, check_block_size

NF4_LEVELS = np.array([
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
], dtype=np.float32)
"""The 16 NF4 levels as published (float32 values, sorted; code ``i`` is level ``i``)."""

NF4_OFFSET = 0.9677083
"""The quantile offset ``delta`` of the published table (~ ``1 - (1/30 + 1/32) / 2``)."""

BLOCK_SIZE = 64

# decision thresholds: exact float64 midpoints between consecutive float32 levels
_MIDPOINTS = (NF4_LEVELS[:-1].astype(np.float64) + NF4_LEVELS[1:].astype(np.float64)) / 2


def nf4_levels_from_quantiles(offset: float = NF4_OFFSET) -> np.ndarray:
    """Derive the 16 NF4 levels from normal quantiles, as QLoRA describes (float64).

    ``levels = sort({Q(p_i)}_{i<8} U {0} U {-Q(r_j)}_{j<7}) / Q(offset)`` with
    ``p = linspace(offset, 1/2, 9)``, ``r = linspace(offset, 1/2, 8)`` and ``Q`` the standard
    normal quantile function (``statistics.NormalDist().inv_cdf``).

    Agrees with :data:`NF4_LEVELS` to within 2^-23 (about 1.2e-7): the published table was
    computed with float32 intermediate steps.
    """
    if not 0.5 < offset < 1:
        raise ValueError(f"offset must lie in (0.5, 1), got {offset!r}; the published table uses {NF4_OFFSET}.")
    q = np.vectorize(NormalDist().inv_cdf, otypes=[np.float64])
    positive = q(np.linspace(offset, 0.5, 9)[:-1])
    negative = -q(np.linspace(offset, 0.5, 8)[:-1])
    levels = np.sort(np.concatenate([positive, [0.0], negative]))
    return levels / levels.max()


@dataclass(frozen=True)
class NF4Quantized:
    """NF4 codes (one per byte, the shape of the input) and the float32 absmax of each block."""

    codes: np.ndarray
    absmax: np.ndarray
    block_size: int

    def __post_init__(self):
        as_codes(self.codes, 4, "codes")
        block_size = check_block_size(self.block_size, self.codes.size, what="codes.size")
        if self.absmax.dtype != np.float32 or self.absmax.shape != (self.codes.size // block_size,):
            raise ValueError(f"absmax must be float32 of shape ({self.codes.size // block_size},) (one per "
                             f"block), got {self.absmax.dtype} of shape {self.absmax.shape}.")


def encode_nf4(x, block_size: int = BLOCK_SIZE) -> NF4Quantized:
    """Block-wise NF4: ``absmax_b = max_{i in b} |x_i|`` (float32), ``code_i = nearest level to x_i / absmax_b``.

    Parameters
    ----------
    x : array_like of float16, float32 or float64, finite
        Blocks are ``block_size`` consecutive elements of ``x`` in C order; ``x.size`` must be a
        multiple of ``block_size`` (pad it otherwise).
    block_size : int, default 64

    Returns
    -------
    NF4Quantized
        ``codes`` (uint8 in [0, 15], shape of ``x``), ``absmax`` (float32, one per block).

    Notes
    -----
    ``code = #{k : m_k < x / absmax}`` with ``m_k`` the exact midpoints between consecutive levels:
    the nearest level, ties to the lower one.  A block of zeros has absmax 0 and codes 7 (level 0).
    """
    x = as_float64(x, "x")
    if not np.all(np.isfinite(x)):
        bad = int(x.size - np.count_nonzero(np.isfinite(x)))
        raise ValueError(f"x contains {bad} NaN or inf value(s); NF4 has no code for them. "
                         f"Replace them first, e.g. with np.nan_to_num(x).")
    block_size = check_block_size(block_size, x.size)
    blocks = x.reshape(-1, block_size)
    absmax = np.max(np.abs(blocks), axis=1).astype(np.float32)
    divisor = np.where(absmax > 0, absmax, 1.0).astype(np.float64)[:, None]
    codes = np.searchsorted(_MIDPOINTS, blocks / divisor, side="left")
    return NF4Quantized(codes.astype(np.uint8).reshape(x.shape), absmax, block_size)


def decode_nf4(q: NF4Quantized) -> np.ndarray:
    """float32 ``NF4_LEVELS[code] * absmax`` of each element (one float32 rounding of the exact product)."""
    if not isinstance(q, NF4Quantized):
        raise TypeError(f"q must be an NF4Quantized (from encode_nf4), got {type(q).__name__}; build one "
                        f"with NF4Quantized(codes, absmax, block_size).")
    levels = NF4_LEVELS[q.codes.reshape(-1, q.block_size)].astype(np.float64)
    return (levels * q.absmax.astype(np.float64)[:, None]).astype(np.float32).reshape(q.codes.shape)
