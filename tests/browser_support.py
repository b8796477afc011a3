"""What the browser tests share: the headless Chromium they drive, its flags, where screenshots go."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: where every browser test writes its screenshots (``make test`` prints it at the end)
SHOTS = Path(os.environ.get("BROWSER_SCREENSHOTS", Path(__file__).parent / "artifacts" / "browser"))
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]


def require_browser():
    """Playwright's sync API; skips the calling test module when playwright or Chromium is missing.

    Call it at module level: the skip covers the whole module.
    """
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)
    return sync_api
