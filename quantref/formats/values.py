"""Value grids: every finite value of each format, sorted, for plots and error tables.

>>> sorted(all_values())
['e2m1', 'e4m3', 'e5m2', 'nf4']
>>> values("e2m1")[7:]
array([0. , 0.5, 1. , 1.5, 2. , 3. , 4. , 6. ])
>>> [len(values(name)) for name in ("e4m3", "e5m2", "e2m1", "nf4", "e8m0")]
[253, 247, 15, 16, 255]
"""
from __future__ import annotations

import numpy as np

from .e8m0 import e8m0_values
from .minifloat import finite_values
from .nf4 import NF4_LEVELS

ELEMENT_FORMATS = ("e4m3", "e5m2", "e2m1", "nf4")
FORMAT_NAMES = ELEMENT_FORMATS + ("e8m0",)


def values(fmt: str) -> np.ndarray:
    """Every finite value of ``fmt`` in increasing order, zero once, as float64.

    ``fmt``: ``"e4m3"`` (253 values, +-448), ``"e5m2"`` (247, +-57344), ``"e2m1"`` (15, +-6),
    ``"nf4"`` (the 16 levels in [-1, 1], before the block's absmax), ``"e8m0"`` (255 powers of
    two 2^-127 ... 2^127: the MX scale, no zero).
    """
    if fmt not in FORMAT_NAMES:
        raise ValueError(f"fmt={fmt!r} is not a format name; use one of {', '.join(map(repr, FORMAT_NAMES))}.")
    if fmt == "nf4":
        return NF4_LEVELS.astype(np.float64)
    if fmt == "e8m0":
        return e8m0_values()
    return finite_values(fmt)


def all_values() -> dict[str, np.ndarray]:
    """``{name: values(name)}`` for the element formats e4m3, e5m2, e2m1 and nf4."""
    return {name: values(name) for name in ELEMENT_FORMATS}
