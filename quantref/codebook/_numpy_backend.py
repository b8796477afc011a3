"""Pure-NumPy twin of :mod:`quantref.codebook._lut`: the same lookups, the same results, slower."""
import numpy as np

SIMD_AVAILABLE = False
HAVE_OPENMP = False


def _codes(codes: np.ndarray, bits: int, n: int) -> np.ndarray:
    if bits == 8:
        return codes[:n]
    per = 8 // bits
    shifts = (np.arange(per, dtype=np.uint8) * bits)[None, :]
    return ((codes[:, None] >> shifts) & np.uint8((1 << bits) - 1)).ravel()[:n]


def lut_reference(codes, bits, table, out):
    """``out[i] = table[code_i]``."""
    out[...] = table[_codes(codes, bits, len(out))]


def lut(codes, bits, table, out, num_threads, simd, stream):
    """Same as :func:`lut_reference` (the threading and store options have no NumPy counterpart)."""
    lut_reference(codes, bits, table, out)
