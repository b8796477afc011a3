"""Pick the compiled or the NumPy implementation of a kernel module, as :mod:`quantref.kernels.backend` does.

The rule is the one of :func:`quantref.kernels.backend.get_backend` (``QUANTREF_BACKEND`` or the
``backend=`` argument: ``"auto"``, ``"cython"`` or ``"numpy"``), applied to another pair of modules:
a Cython extension and its pure-NumPy twin, which give the same results.
"""
from __future__ import annotations

import importlib
import os
import warnings
from types import ModuleType

from quantref.kernels.backend import BACKENDS, FIX, BackendWarning

_warned: set = set()


def resolve(name: str | None, compiled: str, twin: str) -> ModuleType:
    """Return the module ``compiled`` (a Cython extension) or ``twin`` (NumPy) for backend ``name``.

    Parameters
    ----------
    name : {"auto", "cython", "numpy"} or None
        ``None`` reads ``QUANTREF_BACKEND`` (default ``"auto"``).
    compiled, twin : str
        Dotted module names.

    Raises
    ------
    ValueError
        For an unknown backend name.
    ImportError
        For ``"cython"`` when the extension is not built.
    """
    name = name or os.environ.get("QUANTREF_BACKEND", "auto") or "auto"
    if name not in BACKENDS:
        raise ValueError(f"backend={name!r} is unknown; use one of {BACKENDS} "
                         f"(or set QUANTREF_BACKEND to one of them).")
    if name == "numpy":
        return importlib.import_module(twin)
    try:
        return importlib.import_module(compiled)
    except ImportError as exc:
        if name == "cython":
            raise ImportError(f"the compiled extension {compiled} is not built; {FIX}.") from exc
        if compiled not in _warned:
            _warned.add(compiled)
            warnings.warn(f"{compiled} is not built, so it runs on the NumPy backend (same results, slower). "
                          f"For the fast path, {FIX}.", BackendWarning, stacklevel=3)
        return importlib.import_module(twin)


def available(compiled: str) -> bool:
    """True when the extension ``compiled`` is built and importable."""
    try:
        importlib.import_module(compiled)
    except ImportError:
        return False
    return True


def check_num_threads(num_threads) -> int:
    """``None`` -> 0 (the OpenMP default: every core); otherwise a positive int."""
    import numbers

    import numpy as np

    if num_threads is None:
        return 0
    if isinstance(num_threads, (bool, np.bool_)) or not isinstance(num_threads, numbers.Integral) \
            or int(num_threads) < 1:
        raise ValueError(f"num_threads must be a positive integer or None (every core), got {num_threads!r}.")
    return int(num_threads)
