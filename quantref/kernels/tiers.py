"""Which int8 instructions the matmul uses on this CPU: the instruction-set tiers, chosen at run time.

The compiled kernel (``quantref.kernels._gemm``, rung 6) holds one micro-kernel per tier, each
compiled for its instructions only, and the same binary runs on any x86-64 CPU:

==============  ==========================================  ====================================
tier            inner instruction                           needs
==============  ==========================================  ====================================
``scalar``      plain C                                     nothing
``avx2``        ``vpmaddwd`` on bytes widened to 16 bits    AVX2
``avxvnni``     ``vpdpbusd``, 256-bit registers             AVX-VNNI
``avx512vnni``  ``vpdpbusd``, 512-bit registers             AVX-512 F, BW and VNNI (+ OS zmm state)
``amx``         ``tdpbusd`` on 16 x 64-byte tiles           AMX-TILE, AMX-INT8 (+ Linux permission)
==============  ==========================================  ====================================

The highest tier the CPU (and the operating system) supports runs, unless

* ``QUANTREF_GEMM_TIER=<tier>`` forces one (for tests and lectures); a tier this process cannot
  run is refused with a :class:`ValueError` at the first matmul, never a crash (SIGILL);
* ``QUANTREF_HIDE_CPU_FEATURES=amx,avx512vnni,...`` makes the named tiers look absent, as on an
  older CPU (read once, when the compiled kernel is imported).

Examples
--------
>>> from quantref.kernels import cpu_features
>>> info = cpu_features()
>>> info["tier"] in info["available_tiers"] or info["tier"] == "numpy"
True
"""
from __future__ import annotations

import os
import platform

from .backend import compiled_gemm, environ_get

TIERS = ("scalar", "avx2", "avxvnni", "avx512vnni", "amx")
TIER_ENV = "QUANTREF_GEMM_TIER"
HIDE_ENV = "QUANTREF_HIDE_CPU_FEATURES"
#: /proc/cpuinfo flags worth reporting
CPU_FLAGS = ("avx2", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "amx_tile", "amx_int8")

def _parse(text: str, what: str) -> list[str]:
    names = [t.strip().lower() for t in text.split(",") if t.strip()]
    for name in names:
        if name not in TIERS:
            raise ValueError(f"{what} names {name!r}, which is not a tier; the tiers are {', '.join(TIERS)}.")
    return names


def _apply_hidden(g) -> tuple[str, ...]:
    """The tiers ``QUANTREF_HIDE_CPU_FEATURES`` hid (the compiled module applies it at import)."""
    return g.HIDDEN


def available_tiers() -> tuple[str, ...]:
    """The tiers this process can run, lowest first (``()`` without the compiled kernels)."""
    g = compiled_gemm()
    if g is None:
        return ()
    _apply_hidden(g)
    return g.allowed_tiers()


def gemm_tier() -> str:
    """The tier the int8 matmul runs now: ``QUANTREF_GEMM_TIER`` if set, else the highest available.

    ``"numpy"`` when the compiled kernels are not built.

    Raises
    ------
    ValueError
        When ``QUANTREF_GEMM_TIER`` names an unknown tier or one this CPU (or process) cannot run.
    """
    forced = environ_get(TIER_ENV, "")
    cached = _resolved.get(forced)
    if cached is not None:
        return cached
    tiers = available_tiers()
    if not tiers:
        return "numpy"
    name = _resolve(forced.strip().lower(), tiers)
    _resolved[forced] = name
    return name


_resolved: dict[str, str] = {}       # QUANTREF_GEMM_TIER's value -> the tier (hiding is once per process)


def _resolve(forced: str, tiers: tuple[str, ...]) -> str:
    if not forced or forced == "auto":
        return tiers[-1]
    (name,) = _parse(forced, TIER_ENV) or ["auto"]
    if name not in tiers:
        g = compiled_gemm()
        why = ("hidden by " + HIDE_ENV if name in g.HIDDEN else
               "the Linux kernel refused the AMX tile permission" if name == "amx" and g.AMX_PERMISSION == "refused"
               else "this CPU (or its operating system) does not support it")
        raise ValueError(f"{TIER_ENV}={forced} cannot run here: {why}. This process can run "
                         f"{', '.join(tiers)}; unset {TIER_ENV} to use the best of them.")
    return name


def _cpuinfo() -> tuple[str, set[str]]:
    try:
        with open("/proc/cpuinfo") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return platform.processor() or "unknown CPU", set()
    model = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), "unknown CPU")
    flags = next((ln.split(":", 1)[1].split() for ln in lines if ln.startswith("flags")), [])
    return model, set(flags)


def cpu_features() -> dict:
    """What this CPU offers the int8 matmul and which tier runs.

    Returns
    -------
    dict
        ``cpu`` (model name), ``flags`` (the relevant /proc/cpuinfo flags, True/False),
        ``cpu_tiers`` (tiers the CPU and OS support, by CPUID/XGETBV), ``amx_permission``
        ("granted", "refused" or "no AMX"), ``hidden`` (tiers hidden by
        ``QUANTREF_HIDE_CPU_FEATURES``), ``available_tiers``, ``forced`` (``QUANTREF_GEMM_TIER`` or
        None) and ``tier`` (the one that runs, "numpy" without the compiled kernels).
    """
    model, flags = _cpuinfo()
    g = compiled_gemm()
    return {
        "cpu": model,
        "flags": {f: f in flags for f in CPU_FLAGS},
        "cpu_tiers": g.CPU_TIERS if g else (),
        "amx_permission": g.AMX_PERMISSION if g else "not built",
        "hidden": _apply_hidden(g) if g else (),
        "available_tiers": available_tiers(),
        "forced": os.environ.get(TIER_ENV) or None,
        "tier": gemm_tier(),
    }
