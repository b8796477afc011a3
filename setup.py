"""Build the Cython kernels of quantref.

The extension is optional: where no C compiler is at hand the install still succeeds and
quantref falls back to its NumPy backend (same results, slower).  Set
``QUANTREF_NO_EXTENSION=1`` to skip the build on purpose (used by the no-compiler tests).
"""
import os

import numpy as np
from setuptools import Extension, setup

extensions = []
if os.environ.get("QUANTREF_NO_EXTENSION", "") not in ("1", "true", "yes"):
    from Cython.Build import cythonize

    extensions = cythonize(
        [
            Extension(
                "quantref.kernels._int_matmul",
                ["quantref/kernels/_int_matmul.pyx"],
                include_dirs=[np.get_include()],
                extra_compile_args=["-O3"],
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
                optional=True,
            )
        ],
        compiler_directives={"language_level": "3"},
    )

setup(ext_modules=extensions)
