"""Pure-NumPy backend of the integer kernels: the same answers as the compiled ones, slower.

NumPy's integer matmul never uses BLAS and wraps silently in narrow dtypes, so everything is
widened to int64 first; the int32 result is exact because the caller has checked the bound.
"""
import numpy as np


def matmul_core(a: np.ndarray, bt: np.ndarray, out: np.ndarray) -> None:
    """Write ``a @ bt.T`` into ``out`` (int32)."""
    out[...] = a.astype(np.int64) @ bt.astype(np.int64).T
