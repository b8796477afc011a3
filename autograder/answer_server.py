"""Inside the grading sandbox: run a submission's code, then answer the grader's calls with data.

``python answer_server.py CELLS.json [UID NPROC]`` (started by :mod:`autograder.grading.answers`
inside bubblewrap; never imported by the grader).  It

1. takes the protocol's two pipes (its standard input and output) for itself and points file
   descriptors 0, 1 and 2 at ``/dev/null``, so that nothing the student prints reaches the grader;
2. when given a uid (grading as root), drops to it and bounds its processes;
3. runs the notebook's code cells (the test cells are not among them) in one namespace, as a
   kernel would (a cell stops at its first exception, the next cell runs), and says which cell it starts (a cell that ends
   the process or does not finish is left out by the grader, which starts this server again);
4. answers each request ``{"id", "function", "args"}`` with ``{"id", "value"}``, ``{"id", "error":
   {"type", "message"}}`` or ``{"id", "missing": why}``, every value through :mod:`wire`.

Nothing here is trusted: the student's code shares this process and may change any of it.  The
grader only ever reads data from it, decodes it with fresh base types, and compares it with the
reference in its own process, where this code cannot reach.  The reference library is not in
this sandbox at all.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import json
import os
import re
import struct
import sys
import traceback
import types
import warnings

import numpy as np

import wire

_MAGIC = re.compile(r"^(\s*)([%!].*)$", re.M)


class _StandIns(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Stand-ins for the two packages that are not in this sandbox, so that a notebook's imports behave as
    in the student's kernel:

    * ``quantref``: importing works, but every function raises: an answer that calls the reference
      library is told so in words (the grader reads the error);
    * ``autograder``: the checks a cell may call (``check(...)``, ``check_quantize(...)``) do nothing
      here; grading happens outside.
    """

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("quantref", "autograder"):
            return importlib.util.spec_from_loader(name, self, is_package=True)
        return None

    def create_module(self, spec):
        return (_AbsentReference if spec.name.startswith("quantref") else _QuietChecks)(spec.name)

    def exec_module(self, module):
        pass


class _AbsentReference(types.ModuleType):
    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        where = f"{self.__name__}.{attr}"

        def absent(*args, **kwargs):
            raise ModuleNotFoundError(f"{where}: quantref, the reference library, is not available while your "
                                      f"notebook is graded")
        return absent


class _QuietChecks(types.ModuleType):
    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        if attr[:1].isupper():           # CheckFailed and other classes a cell may catch
            return type(attr, (AssertionError,), {})
        return lambda *args, **kwargs: None


def _take_pipes() -> tuple[int, int]:
    fd_in, fd_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    return fd_in, fd_out


def _drop(uid: int, nproc: int) -> None:
    import resource
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))


def _read_exact(fd: int, n: int) -> bytes:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _run_cells(cells: list, namespace: dict, fd_out: int) -> None:
    for i, source in enumerate(cells):
        wire.write_message(fd_out, {"cell": i})   # the grader's clock for this cell starts now
        # IPython magics and shell escapes are not Python: leave them out, as comments
        source = _MAGIC.sub(lambda m: m.group(1) + "# " + m.group(2), source)
        try:
            exec(compile(source, "<notebook cell>", "exec"), namespace)  # noqa: S102 - running it is the point
        except BaseException:  # noqa: BLE001 - a cell that fails stops there, and the next cell runs (a kernel's rule)
            traceback.print_exc()


def _answer(namespace: dict, request: dict) -> dict:
    rid = request.get("id")
    name = request.get("function")
    func = namespace.get(name) if isinstance(name, str) else None
    if func is None:
        return {"id": rid, "missing": f"no function named {name} is defined"}
    if not callable(func):
        return {"id": rid, "missing": f"{name} is a {type(func).__name__}, not a function"}
    try:
        args = wire.decode(request.get("args"))
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            value = func(**args)
        return {"id": rid, "value": wire.encode(value)}
    except BaseException as exc:  # noqa: BLE001 - SystemExit too: it is an answer like any other
        return {"id": rid, "error": {"type": type(exc).__name__, "message": str(exc)[:2000],
                                     "mro": [c.__name__ for c in type(exc).__mro__][:20]}}


def main(argv: list[str]) -> None:
    fd_in, fd_out = _take_pipes()
    try:
        if len(argv) >= 3 and argv[1] != "-":
            _drop(int(argv[1]), int(argv[2]))
        with open(argv[0]) as f:
            cells = json.load(f)
    except BaseException as exc:  # noqa: BLE001 - the grader's set-up failed: say why, for its log
        wire.write_message(fd_out, {"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        return
    sys.meta_path.insert(0, _StandIns())
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    _run_cells(cells, namespace, fd_out)
    wire.write_message(fd_out, {"ready": True})
    while True:
        try:
            (size,) = struct.unpack(">Q", _read_exact(fd_in, 8))
            request = wire.loads(_read_exact(fd_in, size))
        except EOFError:
            return
        try:
            reply = _answer(namespace, request)
            data = wire.dumps(reply)
        except BaseException as exc:  # noqa: BLE001 - an answer too large or not encodable
            data = wire.dumps({"id": request.get("id"),
                               "error": {"type": "EncodeError", "message": str(exc)[:2000]}})
        view = memoryview(data)
        while view:
            view = view[os.write(fd_out, view):]


if __name__ == "__main__":
    main(sys.argv[1:])
