"""Each notebook executed once per test run, and the result shared by every test that reads it.

``tests/test_notebooks.py`` checks that a lecture runs; ``tests/test_lecture_numbers.py`` checks the
numbers its prose quotes against what it printed. Both ask the session fixture
``executed_notebook`` (``tests/conftest.py``), which calls :func:`execute_once`.

With pytest-xdist the workers are separate processes, so the executed notebook is also written to
a folder that all workers of the run share (the parent of each worker's base temporary folder),
under a lock: the first worker to ask executes it, and the others wait and read the result. The
key is the notebook's content, so an edited notebook is executed afresh.
"""
from __future__ import annotations

import copy
import fcntl
import hashlib
from pathlib import Path

import nbformat
from nbclient import NotebookClient

#: notebooks this process has already executed or read, by cache key
_MEMO: dict[str, nbformat.NotebookNode] = {}


def execute(path: Path, timeout: int = 300) -> nbformat.NotebookNode:
    """Run a notebook top to bottom in its own folder with a fresh kernel; a cell error raises."""
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def execute_once(path: Path, cache: Path, timeout: int = 300) -> nbformat.NotebookNode:
    """``path`` executed, at most once per ``cache`` folder (and per content); a copy each call."""
    path = Path(path)
    key = f"{path.stem}-{hashlib.sha256(path.read_bytes()).hexdigest()[:16]}"
    if key not in _MEMO:
        cache.mkdir(parents=True, exist_ok=True)
        done = cache / f"{key}.ipynb"
        with open(cache / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)           # another worker may be executing it right now
            if done.exists():
                nb = nbformat.read(done, as_version=4)
            else:
                nb = execute(path, timeout)            # raises on a cell error: nothing is cached
                partial = done.with_suffix(".partial")
                nbformat.write(nb, partial)
                partial.replace(done)
        _MEMO[key] = nb
    return copy.deepcopy(_MEMO[key])
