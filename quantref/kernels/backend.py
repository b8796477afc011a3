"""Choose between the compiled (Cython) kernels and the pure-NumPy ones.

``QUANTREF_BACKEND=numpy`` forces NumPy, ``QUANTREF_BACKEND=cython`` insists on the compiled
extension (an error if it is missing); the default, ``auto``, uses the extension when it is
built and otherwise warns once and falls back to NumPy.  Both give bit-identical results.
"""
from __future__ import annotations

import importlib
import os
import warnings
from types import ModuleType

BACKENDS = ("auto", "cython", "numpy")

FIX = ("build it with a C compiler: `pip install -e .` from the repository root "
       "(or `make lab`), then restart the kernel")


class BackendWarning(UserWarning):
    """The compiled extension is missing; quantref runs on NumPy (same results, slower)."""


_warned = False


def _compiled() -> ModuleType:
    # the blocked, threaded kernel (_gemm.pyx) when built; the plain loop (_int_matmul.pyx),
    # the readable reference, otherwise
    try:
        return importlib.import_module("quantref.kernels._gemm")
    except ImportError:
        return importlib.import_module("quantref.kernels._int_matmul")


def compiled_available() -> bool:
    """True when the Cython extension is built and importable."""
    try:
        _compiled()
    except ImportError:
        return False
    return True


def get_backend(name: str | None = None) -> ModuleType:
    """Return the module that provides ``matmul_core`` for backend ``name``."""
    global _warned
    name = name or os.environ.get("QUANTREF_BACKEND", "auto") or "auto"
    if name not in BACKENDS:
        raise ValueError(f"backend={name!r} is unknown; use one of {BACKENDS} "
                         f"(or set QUANTREF_BACKEND to one of them).")
    if name == "numpy":
        return importlib.import_module("quantref.kernels._numpy_backend")
    try:
        return _compiled()
    except ImportError as exc:
        if name == "cython":
            raise ImportError(f"the compiled extensions quantref.kernels._gemm / _int_matmul are not built; {FIX}.") from exc
        if not _warned:
            _warned = True
            warnings.warn(f"quantref's compiled kernels are not built, so it runs on the NumPy backend "
                          f"(same results, slower). For the fast path, {FIX}.", BackendWarning, stacklevel=3)
        return importlib.import_module("quantref.kernels._numpy_backend")


def backend_name(name: str | None = None) -> str:
    """``"cython"`` or ``"numpy"``: which backend ``name`` resolves to on this machine."""
    return "numpy" if get_backend(name).__name__.endswith("_numpy_backend") else "cython"
