"""Build the Cython kernels of quantref.

The extensions are optional: where no C compiler is at hand the install still succeeds and
quantref falls back to its NumPy backend (same results, slower).  Set
``QUANTREF_NO_EXTENSION=1`` to skip the build on purpose (used by the no-compiler tests).

``quantref.kernels._gemm`` (the fast integer matmul ladder) is compiled with ``-O3`` for any
x86-64 CPU: its fast kernels carry function target attributes (AVX2, AVX-VNNI, AVX-512 VNNI,
AMX) and are chosen at run time by CPU feature.  ``QUANTREF_NATIVE=1`` opts in to
``-march=native`` as well (the binary then only runs on CPUs like the build machine); it uses OpenMP when the compiler supports ``-fopenmp`` and runs single-threaded
otherwise.
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
    extensions = cythonize(
        [
            Extension(
                "quantref.kernels._int_matmul",
                ["quantref/kernels/_int_matmul.pyx"],
                include_dirs=[np.get_include()],
                extra_compile_args=["-O3"],
                define_macros=macros,
                optional=True,
            ),
            Extension(
                "quantref.kernels._gemm",
                ["quantref/kernels/_gemm.pyx"],
                depends=["quantref/kernels/_gemm_tiers.h"],
                include_dirs=[np.get_include(), "quantref/kernels"],
                extra_compile_args=gemm_compile,
                extra_link_args=gemm_link,
                define_macros=macros,
                optional=True,
            ),
            Extension(
                "quantref.codebook._lut",
                ["quantref/codebook/_lut.pyx"],
                depends=["quantref/codebook/_lut_helper.h"],
                include_dirs=[np.get_include()],
                extra_compile_args=gemm_compile,
                extra_link_args=gemm_link,
                define_macros=macros,
                optional=True,
            ),
            Extension(
                # portable on purpose (no -march): AVX2 / AVX-512 loops carry target attributes and are
                # chosen at run time, so the binary runs on any x86-64
                "quantref.lowbit._w4a16",
                ["quantref/lowbit/_w4a16.pyx"],
                depends=["quantref/lowbit/_w4a16_helper.h"],
                include_dirs=[np.get_include()],
                extra_compile_args=[a for a in gemm_compile if not a.startswith("-march")],
                extra_link_args=gemm_link,
                define_macros=macros,
                optional=True,
            ),
            Extension(
                "quantref.pq._pq",
                ["quantref/pq/_pq.pyx"],
                depends=["quantref/pq/_fastscan_helper.h"],
                include_dirs=[np.get_include()],
                # no fused multiply-add: float sums follow the source order, like the NumPy twin
                extra_compile_args=gemm_compile + ["-ffp-contract=off"],
                extra_link_args=gemm_link,
                define_macros=macros,
                optional=True,
            ),
        ],
        compiler_directives={"language_level": "3"},
    )

setup(ext_modules=extensions)
