"""Build the Cython kernels of quantref.

The extensions are optional: where no C compiler is at hand the install still succeeds and
quantref falls back to its NumPy backend (same results, slower).  Set
``QUANTREF_NO_EXTENSION=1`` to skip the build on purpose (used by the no-compiler tests).

What is built, from which sources and with which flags, comes from the one registry of compiled
extensions, ``quantref/extensions.py``.  Everything is compiled with ``-O3`` for any x86-64 CPU:
the fast kernels carry function target attributes (AVX2, AVX-VNNI, AVX-512 VNNI, AMX) and are
chosen at run time by CPU feature.  ``QUANTREF_NATIVE=1`` opts in to ``-march=native`` as well
(the binary then only runs on CPUs like the build machine).  The kernels use OpenMP when the
compiler supports ``-fopenmp`` and run single-threaded otherwise.
"""
import os
import shutil
import tempfile

import numpy as np
from setuptools import Extension, setup


def _truthy(name: str) -> bool:
    return os.environ.get(name, "") in ("1", "true", "yes")


def _compiler_accepts(compile_args, link_args, source: str) -> bool:
    """Try to compile and link a tiny C program with these flags; False on any failure."""
    try:
        from setuptools._distutils.ccompiler import new_compiler
        from setuptools._distutils.sysconfig import customize_compiler
    except ImportError:  # very old setuptools
        from distutils.ccompiler import new_compiler
        from distutils.sysconfig import customize_compiler
    tmp = tempfile.mkdtemp(prefix="quantref-flags-")
    try:
        compiler = new_compiler()
        customize_compiler(compiler)
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as fh:
            fh.write(source)
        objects = compiler.compile([src], output_dir=tmp, extra_postargs=list(compile_args))
        compiler.link_executable(objects, os.path.join(tmp, "probe"), extra_postargs=list(link_args))
        return True
    except Exception:  # CompileError, LinkError, missing compiler, ...
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _gemm_flags():
    compile_args = ["-O3"]
    link_args = []
    if _truthy("QUANTREF_NATIVE") and _compiler_accepts(["-march=native"], [], "int main(void){return 0;}\n"):
        compile_args.append("-march=native")
    openmp_probe = "#include <omp.h>\nint main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n"
    if _compiler_accepts(["-fopenmp"], ["-fopenmp"], openmp_probe):
        compile_args.append("-fopenmp")
        link_args.append("-fopenmp")
    return compile_args, link_args


extensions = []
if not _truthy("QUANTREF_NO_EXTENSION"):
    from Cython.Build import cythonize

    macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
    gemm_compile, gemm_link = _gemm_flags()
    # what to build: the one registry of compiled extensions (quantref/extensions.py), loaded by path
    registry = {}
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "quantref", "extensions.py")) as fh:
        exec(compile(fh.read(), "quantref/extensions.py", "exec"), registry)
    flags = {
        "plain": (["-O3"], []),
        "openmp": (gemm_compile, gemm_link),
        # portable on purpose (no -march): SIMD loops carry target attributes, chosen at run time
        "openmp-portable": ([a for a in gemm_compile if not a.startswith("-march")], gemm_link),
        # no fused multiply-add: float sums follow the source order, like the NumPy twin
        "openmp-no-fma": (gemm_compile + ["-ffp-contract=off"], gemm_link),
    }
    extensions = cythonize(
        [
            Extension(
                ext.module,
                list(ext.sources),
                depends=list(ext.depends),
                include_dirs=[np.get_include()],
                extra_compile_args=flags[ext.flags][0],
                extra_link_args=flags[ext.flags][1],
                define_macros=macros,
                optional=True,
            )
            for ext in registry["EXTENSIONS"]
        ],
        compiler_directives={"language_level": "3"},
    )

setup(ext_modules=extensions)
