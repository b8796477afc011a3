"""Run Python as if quantref's compiled extensions had never been built.

Put this directory first on ``PYTHONPATH`` and start any Python program: a script, ``pytest``,
JupyterLab, a notebook kernel (kernels inherit the environment), ``python -m quantref.bench``::

    PYTHONPATH=tests/no_extension python -c "import quantref.kernels as k; print(k.compiled_available())"
    PYTHONPATH=tests/no_extension python -m pytest tests/test_int_matmul.py
    PYTHONPATH=tests/no_extension jupyter lab

How it works.  At start-up, after ``sys.path`` is set from ``PYTHONPATH``, Python's :mod:`site`
imports the first module named ``sitecustomize`` it finds: this file.  It puts a path hook in
front of ``sys.path_hooks`` that wraps every directory finder so that it does not see the
compiled extensions (:data:`BLOCKED`), and clears ``sys.path_importer_cache`` so that every
directory is looked at through the hook.  Their ``.so`` / ``.pyd`` files stay on disk but are
never found, so everything behaves as on a machine without a C compiler:

* ``import quantref.kernels._gemm`` raises ``ModuleNotFoundError: No module named
  'quantref.kernels._gemm'`` (with ``exc.name`` set), raised by the import system itself;
* ``importlib.util.find_spec("quantref.kernels._gemm")`` returns ``None``;
* ``pkgutil.iter_modules`` does not list them.

Child processes inherit ``PYTHONPATH``, and so the blocker.  It does not act under ``python -E``,
``-I`` or ``-S`` (which ignore ``PYTHONPATH`` or skip :mod:`site`), nor on code that loads an
extension from an explicit file path.  A ``sitecustomize`` this one shadows (one later on
``sys.path``, e.g. a distribution's) still runs, after the blocker is installed.

The blocker acts only when this file runs as ``sitecustomize`` with its directory on
``PYTHONPATH``; importing it any other way (e.g. pytest's doctest collection) changes nothing.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def _registry() -> tuple:
    """The compiled extensions named by quantref's registry (quantref/extensions.py), read by path."""
    namespace = {}
    with open(os.path.join(HERE, os.pardir, os.pardir, "quantref", "extensions.py")) as fh:
        exec(compile(fh.read(), "quantref/extensions.py", "exec"), namespace)
    return namespace["NAMES"]


#: the compiled extensions of quantref, made invisible
BLOCKED = frozenset(_registry())


class _BlindFinder:
    """A directory's finder that does not see the blocked modules (and forwards everything else)."""

    def __init__(self, finder, directory: str):
        self._finder = finder
        parts = os.path.normcase(os.path.abspath(directory)).split(os.sep)
        # the blocked modules that would live in this directory, by their last name
        self._hidden = {name.rpartition(".")[2] for name in BLOCKED
                        if parts[-name.count("."):] == [os.path.normcase(p) for p in name.split(".")[:-1]]}

    def find_spec(self, fullname, target=None):
        if fullname in BLOCKED:
            return None
        return self._finder.find_spec(fullname, target)

    def invalidate_caches(self):
        self._finder.invalidate_caches()

    def iter_modules(self, prefix=""):
        import pkgutil

        for name, ispkg in pkgutil.iter_importer_modules(self._finder, prefix):
            if name[len(prefix):] not in self._hidden:
                yield name, ispkg

    def __getattr__(self, attr):        # path, find_module, ... of the wrapped finder
        if attr == "_finder":
            raise AttributeError(attr)
        return getattr(self._finder, attr)

    def __repr__(self):
        return f"_BlindFinder({self._finder!r})"


def _blind_hook(path):
    """``sys.path_hooks`` entry: the finder the other hooks give ``path``, blind to :data:`BLOCKED`."""
    for hook in sys.path_hooks:
        if getattr(hook, "_quantref_blind", False):
            continue
        try:
            finder = hook(path)
        except ImportError:
            continue
        if isinstance(finder, importlib.machinery.FileFinder):
            return _BlindFinder(finder, path)
        return finder
    raise ImportError(f"no finder for {path!r}")


_blind_hook._quantref_blind = True


def install() -> None:
    """Hide the compiled extensions from this process from now on (idempotent).

    Raises
    ------
    RuntimeError
        When one of them is already imported: it can no longer be hidden.
    """
    loaded = sorted(BLOCKED & set(sys.modules))
    if loaded:
        raise RuntimeError(f"{', '.join(loaded)} already imported; hide the extensions before importing quantref.")
    if not any(getattr(h, "_quantref_blind", False) for h in sys.path_hooks):
        sys.path_hooks.insert(0, _blind_hook)
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()


def _on_pythonpath() -> bool:
    entries = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    here = os.path.normcase(HERE)
    return any(e and os.path.normcase(os.path.abspath(e)) == here for e in entries)


def _run_shadowed_sitecustomize() -> None:
    """Run the ``sitecustomize`` that Python would have run without this directory on the path."""
    rest = [p for p in sys.path if os.path.normcase(os.path.abspath(p or os.curdir)) != os.path.normcase(HERE)]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


if __name__ == "sitecustomize" and _on_pythonpath():
    install()
    _run_shadowed_sitecustomize()
