"""Benchmarks of quantref's kernels: commands, not tests.

Run ``python -m quantref.bench gemm`` (``--quick`` for a smoke run, ``--threads 1,2``).
Needs ``threadpoolctl`` to pin NumPy's BLAS threads.

This package's ``__init__`` imports nothing heavy: :func:`reexec_without_blas_overrides` must run
before NumPy (and its OpenBLAS) is loaded in the process that measures.
"""
from __future__ import annotations

import os
import sys

#: Environment variables that make OpenBLAS pick another (often slower) kernel or cache size;
#: a fair comparison against NumPy removes them, for the benchmark's own process only.
BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def reexec_without_blas_overrides(module: str) -> None:
    """Re-execute ``python -m module <args>`` without :data:`BLAS_OVERRIDES`, if any is set.

    OpenBLAS reads them when it is loaded, so unsetting them in ``os.environ`` is too late once
    NumPy is imported (``python -m quantref.bench`` imports ``quantref`` and so NumPy first):
    the process replaces itself (``os.execve``) with a fresh one with a cleaned environment.
    The caller's shell environment is untouched.  Returns only when nothing needs removing.
    """
    present = [name for name in BLAS_OVERRIDES if name in os.environ]
    if not present:
        return
    env = {k: v for k, v in os.environ.items() if k not in BLAS_OVERRIDES}
    print(f"[quantref.bench] re-executing without {', '.join(present)} "
          f"(set to {', '.join(os.environ[n] for n in present)}) so NumPy uses its default BLAS kernel",
          file=sys.stderr, flush=True)
    os.execve(sys.executable, [sys.executable, "-m", module, *sys.argv[1:]], env)


def parse_threads(parser, text: str) -> tuple[int, ...]:
    """The ``--threads`` option, ``"1,2"`` -> ``(1, 2)``; ``parser.error`` on anything else."""
    try:
        threads = tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        parser.error(f"--threads takes comma-separated integers, got {text!r}")
    if not threads or min(threads) < 1:
        parser.error("--threads needs positive thread counts, e.g. 1,2")
    return threads
