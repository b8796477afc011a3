"""Former second backend chooser, now a re-export: the one rule lives in :mod:`quantref.kernels.backend`.

``quantref.codebook`` and ``quantref.pq`` choose their kernels with
:func:`quantref.kernels.backend.resolve`; these names stay importable from here for code written
against the old module.  ``available`` is :func:`quantref.kernels.backend.compiled_available`.
"""
from quantref.kernels.backend import BACKENDS, FIX, BackendWarning, check_num_threads, resolve
from quantref.kernels.backend import compiled_available as available

__all__ = ["BACKENDS", "FIX", "BackendWarning", "available", "check_num_threads", "resolve"]
