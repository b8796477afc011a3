"""Pure-NumPy twin of :mod:`quantref.lowbit._w4a16`: the same dequantized float32 weights, NumPy's matmul.

Each block of weight rows is dequantized to float32 exactly as the compiled kernel's tables do it,
``w = fl32(s * (c - z))`` with float32 ``s`` and the exact integer ``c - z``, and multiplied with
``x`` by NumPy's float32 matmul.  Only the order of the float32 sums differs from the compiled
kernel, so both meet the same error bound (:mod:`quantref.lowbit.w4a16`).
"""
import numpy as np

AVX2_AVAILABLE = False
AVX512_AVAILABLE = False
HAVE_OPENMP = False

#: weight rows dequantized at a time (bounds the float32 temporary to ROWS * K * 4 bytes)
ROWS = 1024


def _dequantize_rows(packed, scales, zeros, group_size):
    codes = np.empty((packed.shape[0], 2 * packed.shape[1]), dtype=np.float32)
    codes[:, 0::2] = packed & np.uint8(15)            # even index: low nibble
    codes[:, 1::2] = packed >> np.uint8(4)            # odd index: high nibble
    s = np.repeat(scales, group_size, axis=1)
    z = np.repeat(zeros.astype(np.float32), group_size, axis=1)
    return s * (codes - z)                             # float32: c - z exact, one rounding


def w4a16_reference(x, packed, scales, zeros, group_size, out):
    """``out = x @ w_hat.T`` with ``w_hat`` dequantized to float32 (see the module docstring)."""
    for n0 in range(0, packed.shape[0], ROWS):
        w = _dequantize_rows(packed[n0:n0 + ROWS], scales[n0:n0 + ROWS], zeros[n0:n0 + ROWS], group_size)
        out[:, n0:n0 + ROWS] = x @ w.T


def w4a16(x, packed, scales, zeros, group_size, out, num_threads, impl):
    """Same as :func:`w4a16_reference` (threads and SIMD choices have no NumPy counterpart)."""
    w4a16_reference(x, packed, scales, zeros, group_size, out)
