"""Suite-wide pytest hooks and fixtures."""
import os

import pytest

from browser_support import SHOTS


@pytest.fixture(scope="session")
def executed_notebook(tmp_path_factory):
    """``executed_notebook(path)``: the notebook run top to bottom, once per test run (see tests/executed_notebooks.py).

    The cache lives next to the xdist workers' own temporary folders, so all workers share it.
    """
    from executed_notebooks import execute_once

    base = tmp_path_factory.getbasetemp()
    cache = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "executed-notebooks"
    return lambda path, timeout=300: execute_once(path, cache, timeout)


def pytest_terminal_summary(terminalreporter):
    shots = sorted(SHOTS.glob("*.png")) if SHOTS.exists() else []
    if shots:
        terminalreporter.write_line(f"browser screenshots ({len(shots)}): {SHOTS}")
