"""Integer kernels: the zero-point-corrected int8 matmul.

The arithmetic lives in Cython extensions with a pure-NumPy twin (``_numpy_backend.py``):
``_int_matmul.pyx`` is the readable triple loop, ``_gemm.pyx`` the optimisation ladder (naive,
packed, register-blocked, cache-blocked, threaded) whose top rung ``int_matmul`` uses when it is
built.  :mod:`~quantref.kernels.int_matmul` checks every argument and picks the backend
(:mod:`~quantref.kernels.backend`); :mod:`~quantref.kernels.packed` packs weights once and
:mod:`~quantref.kernels.tiers` reports which int8 instructions (AVX2, AVX-VNNI, AVX-512 VNNI,
AMX) this CPU lets the kernel use.
"""
from .backend import BackendWarning, backend_name, compiled_available, get_backend
from .int_matmul import IntMatmulTerms, int_matmul, int_matmul_terms, max_safe_k
from .packed import PackedWeights, pack_weights
from .tiers import available_tiers, cpu_features, gemm_tier

__all__ = ["BackendWarning", "IntMatmulTerms", "PackedWeights", "available_tiers", "backend_name",
           "compiled_available", "cpu_features", "gemm_tier", "get_backend", "int_matmul", "int_matmul_terms",
           "max_safe_k", "pack_weights"]
