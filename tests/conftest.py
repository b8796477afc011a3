"""Suite-wide pytest hooks."""
import os
from pathlib import Path

import pytest

SHOTS = Path(os.environ.get("BROWSER_SCREENSHOTS", Path(__file__).parent / "artifacts" / "browser"))

# Modules whose tests are independent of each other (one notebook each): spread over xdist workers.
SPREAD = {"tests/test_notebooks.py", "tests/test_no_compiler.py"}
# Modules with a module-scoped fixture per parameter: one group per parameter value.
GROUP_BY_PARAM = {"tests/test_nbgrader_grading.py": "graded"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """With ``-n N --dist loadgroup``, keep each module on one worker (its module-scoped fixtures,
    such as a built site or a running JupyterLab, are then made once), except the modules in
    ``SPREAD``; nbgrader's end-to-end runs are grouped per assignment. Without xdist: no effect."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        path = item.nodeid.split("::")[0]
        if path in SPREAD:
            continue
        group = path
        param = GROUP_BY_PARAM.get(path)
        if param and hasattr(item, "callspec") and param in item.callspec.params:
            group += f"[{item.callspec.params[param]}]"
        item.add_marker(pytest.mark.xdist_group(group))


def pytest_terminal_summary(terminalreporter):
    shots = sorted(SHOTS.glob("*.png")) if SHOTS.exists() else []
    if shots:
        terminalreporter.write_line(f"browser screenshots ({len(shots)}): {SHOTS}")
