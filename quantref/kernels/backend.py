"""Choose between the compiled (Cython) kernels and their pure-NumPy twins: one rule for all of quantref.

Every kernel of quantref exists twice, as a Cython extension and as a pure-NumPy twin that gives
the same results bit for bit:

* ``quantref.kernels._gemm`` (else the plain loop ``quantref.kernels._int_matmul``) and
  ``quantref.kernels._numpy_backend``: ``int_matmul`` and ``int_matmul_terms``;
* ``quantref.codebook._lut`` and ``quantref.codebook._numpy_backend``: ``lut_dequantize``;
* ``quantref.pq._pq`` and ``quantref.pq._numpy_backend``: ``scan``, ``pack_codes_4bit``,
  ``ProductQuantizer.compute_codes`` and the MADDNESS encoder;
* ``quantref.lowbit._w4a16`` and ``quantref.lowbit._numpy_backend``: ``w4a16_matmul`` (the one
  exception to "bit for bit": the same float32 weights, but float32 sums in another order, both
  within the error bound stated in :mod:`quantref.lowbit.w4a16`).

The ``backend=`` argument of a kernel, or else the environment variable ``QUANTREF_BACKEND``,
chooses, with the same rule for every kernel:

* ``"auto"`` (the default): the compiled extension when it is built; otherwise the NumPy twin,
  and the first such fallback in the process emits one :class:`BackendWarning` that names every
  missing extension and says how to build them.  No later fallback warns again, whichever
  kernel it concerns.
* ``"cython"``: the compiled extension; an :class:`ImportError` naming the fix when it is missing.
* ``"numpy"``: the NumPy twin, silently.

The extensions are optional: ``pip install -e .`` builds them when a C compiler is at hand and
installs quantref without them otherwise (or when ``QUANTREF_NO_EXTENSION=1``).  To run anything
as if they had never been built, put ``tests/no_extension`` on ``PYTHONPATH`` (see the docstring
of ``tests/no_extension/sitecustomize.py``).

Examples
--------
>>> from quantref.kernels import backend
>>> backend.get_backend("numpy").__name__
'quantref.kernels._numpy_backend'
>>> backend.resolve("numpy", "quantref.pq._pq", "quantref.pq._numpy_backend").__name__
'quantref.pq._numpy_backend'
"""
from __future__ import annotations

import functools
import importlib
import numbers
import os
import sys
import warnings
from types import ModuleType
from typing import Callable

from ..extensions import NAMES

BACKENDS = ("auto", "cython", "numpy")

#: every compiled extension of quantref; each has a pure-NumPy twin (the registry: quantref.extensions)
EXTENSIONS = NAMES
KERNELS = ("quantref.kernels._gemm", "quantref.kernels._int_matmul")
KERNELS_TWIN = "quantref.kernels._numpy_backend"

FIX = ("install a C compiler (Debian/Ubuntu: `sudo apt-get install build-essential`; macOS: "
       "`xcode-select --install` for the Xcode command-line tools; Windows: the Microsoft C++ Build "
       "Tools), then run `pip install -e .` (or `make install`) from the repository root and restart "
       "Python or the Jupyter kernel")


class BackendWarning(UserWarning):
    """The compiled extensions are missing; quantref runs on NumPy (identical results, slower)."""


#: whether this process has already been told that the compiled kernels are missing
_warned = False

#: the environment variable that chooses the backend when no ``backend=`` is given
BACKEND_ENV = "QUANTREF_BACKEND"


@functools.cache
def compiled_gemm() -> ModuleType | None:
    """The compiled GEMM (``quantref.kernels._gemm``), or None when it is not built; looked up once.

    The absence is remembered too: a failed import is not cached by Python, and retrying it cost
    every kernel call ~8 us through :func:`environ_get` (measured without the extension).
    """
    try:
        return importlib.import_module("quantref.kernels._gemm")
    except ImportError:
        return None


def environ_get(name: str, default: str) -> str:
    """``os.environ.get(name, default)``, read through the C library's ``getenv`` where the compiled
    GEMM is built (``_gemm.environ_get``): the same value, one C call instead of ``os.environ``'s
    Python mapping, which costs ~9 us with the caches cold, as they are on every int8 matmul whose
    weights stream from memory (measured).  The matmul reads two variables per call.
    """
    g = compiled_gemm()
    if g is None:
        return os.environ.get(name, default)
    value = g.environ_get(name.encode())
    return default if value is None else value


def requested_backend(name: str | None = None) -> str:
    """The backend asked for: ``name``, else ``QUANTREF_BACKEND``, else ``"auto"``; checked."""
    name = name or environ_get(BACKEND_ENV, "auto") or "auto"
    if name not in BACKENDS:
        raise ValueError(f"backend={name!r} is unknown; use one of {BACKENDS} "
                         f"(or set QUANTREF_BACKEND to one of them).")
    return name


def _why_missing(module: str) -> str | None:
    """``None`` when ``module`` imports; otherwise why not (``"not built"`` or the import error)."""
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return "not built"
        return f"cannot be imported: {exc}"
    except ImportError as exc:          # built, but broken (another NumPy, a missing symbol, ...)
        return f"cannot be imported: {exc}"
    return None


def _caller_stacklevel() -> int:
    """``stacklevel`` for a warning issued by this module's caller that points at the first frame
    outside quantref (the user's line), however deep inside quantref the kernel was chosen."""
    level, frame = 1, sys._getframe(1)       # level 1: the caller, which calls warnings.warn
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] == "quantref":
        frame = frame.f_back
        level += 1
    return level


def _warn_missing(trigger: tuple[str, ...]) -> None:
    """Emit the one :class:`BackendWarning` of this process (nothing after the first call)."""
    global _warned
    if _warned:
        return
    _warned = True
    why = {m: _why_missing(m) for m in EXTENSIONS}
    for m in trigger:                       # the extension that just failed, even if it imports now
        why[m] = why.get(m) or "not built"
    missing = [m if w == "not built" else f"{m} ({w})" for m, w in why.items() if w]
    warnings.warn(f"quantref's compiled kernels are not built (missing: {', '.join(missing)}), so quantref "
                  f"runs on its pure-NumPy kernels instead: the results are identical, only slower. "
                  f"For the fast path, {FIX}. (This message is shown once per process.)",
                  BackendWarning, stacklevel=_caller_stacklevel())


def _choose(name: str | None, load: Callable[[], ModuleType], label: str, trigger: tuple[str, ...],
            twin: str) -> ModuleType:
    """The one rule: ``load()`` the compiled module or import ``twin``, as ``name`` asks."""
    name = requested_backend(name)
    if name == "numpy":
        return importlib.import_module(twin)
    try:
        return load()
    except ImportError as exc:
        if name == "cython":
            raise ImportError(f"the compiled extension {label} is not built; {FIX}.") from exc
        _warn_missing(trigger)
        return importlib.import_module(twin)


def _compiled() -> ModuleType:
    # the blocked, threaded kernel (_gemm.pyx) when built; the plain loop (_int_matmul.pyx),
    # the readable reference, otherwise
    try:
        return importlib.import_module("quantref.kernels._gemm")
    except ImportError:
        return importlib.import_module("quantref.kernels._int_matmul")


def compiled_available(module: str | None = None) -> bool:
    """True when a compiled extension is built and importable.

    Parameters
    ----------
    module : str, optional
        Dotted name of the extension (one of :data:`EXTENSIONS`); by default the integer matmul
        kernel (``quantref.kernels._gemm`` or ``quantref.kernels._int_matmul``).

    Returns
    -------
    bool
    """
    if module is not None and not isinstance(module, str):
        raise TypeError(f"module must be a dotted module name (str), got {type(module).__name__}.")
    try:
        _compiled() if module is None else importlib.import_module(module)
    except ImportError:
        return False
    return True


def get_backend(name: str | None = None) -> ModuleType:
    """Return the module that provides ``matmul_core`` for backend ``name``.

    Parameters
    ----------
    name : {"auto", "cython", "numpy"} or None
        ``None`` reads ``QUANTREF_BACKEND`` (default ``"auto"``).

    Raises
    ------
    ValueError
        For an unknown backend name.
    ImportError
        For ``"cython"`` when the extension is not built.
    """
    return _choose(name, _compiled, "quantref.kernels._gemm / _int_matmul", KERNELS, KERNELS_TWIN)


def backend_name(name: str | None = None) -> str:
    """``"cython"`` or ``"numpy"``: which backend ``name`` resolves to on this machine."""
    return "numpy" if get_backend(name).__name__.endswith("_numpy_backend") else "cython"


def resolve(name: str | None, compiled: str, twin: str) -> ModuleType:
    """Return the module ``compiled`` (a Cython extension) or ``twin`` (NumPy) for backend ``name``.

    The rule of :func:`get_backend`, applied to another pair of modules (``quantref.codebook`` and
    ``quantref.pq`` choose their kernels with it).

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
    return _choose(name, lambda: importlib.import_module(compiled), compiled, (compiled,), twin)


def check_num_threads(num_threads) -> int:
    """``None`` -> 0 (the OpenMP default: every core); otherwise a positive int.

    Raises
    ------
    ValueError
        For anything else (zero, a negative number, a bool, a float, a string).
    """
    import numpy as np

    if num_threads is None:
        return 0
    if isinstance(num_threads, (bool, np.bool_)) or not isinstance(num_threads, numbers.Integral) \
            or int(num_threads) < 1:
        raise ValueError(f"num_threads must be a positive integer or None (every core), got {num_threads!r}.")
    return int(num_threads)


def kernel_threads(num_threads) -> int:
    """The thread count a compiled kernel gets: ``None`` -> every core this process may run on
    (its CPU affinity), else the positive int given; the GEMM, LUT and PQ kernels all call it,
    so that ``num_threads`` means the same in each.

    Raises
    ------
    ValueError
        As :func:`check_num_threads`.
    """
    n = check_num_threads(num_threads)
    if n:
        return n
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):      # no affinity API (macOS, Windows)
        return max(1, os.cpu_count() or 1)
