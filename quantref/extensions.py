"""The one registry of quantref's compiled extensions: each module, its sources and its NumPy twin.

Every compiled kernel of quantref is optional and has a pure-NumPy twin that gives the same
results.  This list is read by

* ``setup.py``: what to build, from which sources, with which flags (:data:`FLAGS`);
* :mod:`quantref.kernels.backend`: which extensions to name when some are missing;
* ``tests/no_extension/sitecustomize.py`` and ``tests/test_no_compiler.py``: which modules to
  hide to run everything as if nothing had been compiled.

It imports nothing, so that ``setup.py`` and ``sitecustomize`` can load it by file path before
quantref (or NumPy) is importable.

Examples
--------
>>> from quantref.extensions import EXTENSIONS, twin_of
>>> twin_of("quantref.pq._pq")
'quantref.pq._numpy_backend'
"""
from typing import NamedTuple

#: How an extension is compiled (setup.py turns these into compiler flags):
#: ``"plain"`` -O3; ``"openmp"`` -O3 with OpenMP (and -march=native if QUANTREF_NATIVE=1);
#: ``"openmp-portable"`` the same but never -march=native; ``"openmp-no-fma"`` "openmp" plus
#: -ffp-contract=off (float sums follow the source order, like the NumPy twin).
FLAGS = ("plain", "openmp", "openmp-portable", "openmp-no-fma")


class CompiledExtension(NamedTuple):
    """One compiled extension of quantref."""

    module: str                 #: dotted module name
    sources: tuple              #: source files, relative to the repository root
    depends: tuple              #: C headers it includes (rebuild when they change)
    twin: str                   #: the pure-NumPy module with the same functions
    flags: str                  #: one of :data:`FLAGS`


EXTENSIONS = (
    CompiledExtension("quantref.kernels._int_matmul", ("quantref/kernels/_int_matmul.pyx",), (),
                      "quantref.kernels._numpy_backend", "plain"),
    CompiledExtension("quantref.kernels._gemm", ("quantref/kernels/_gemm.pyx",),
                      ("quantref/kernels/_gemm_tiers.h",), "quantref.kernels._numpy_backend", "openmp"),
    CompiledExtension("quantref.codebook._lut", ("quantref/codebook/_lut.pyx",),
                      ("quantref/codebook/_lut_helper.h",), "quantref.codebook._numpy_backend", "openmp"),
    CompiledExtension("quantref.lowbit._w4a16", ("quantref/lowbit/_w4a16.pyx",),
                      ("quantref/lowbit/_w4a16_helper.h",), "quantref.lowbit._numpy_backend", "openmp-portable"),
    CompiledExtension("quantref.pq._pq", ("quantref/pq/_pq.pyx",), ("quantref/pq/_fastscan_helper.h",),
                      "quantref.pq._numpy_backend", "openmp-no-fma"),
)

#: the dotted names alone
NAMES = tuple(e.module for e in EXTENSIONS)


def twin_of(module: str) -> str:
    """The NumPy twin of compiled ``module``; KeyError naming the known ones otherwise."""
    for ext in EXTENSIONS:
        if ext.module == module:
            return ext.twin
    raise KeyError(f"{module!r} is not a compiled extension of quantref; they are {', '.join(NAMES)}")
