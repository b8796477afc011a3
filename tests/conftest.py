"""Suite-wide pytest hooks."""
import os
from pathlib import Path

SHOTS = Path(os.environ.get("BROWSER_SCREENSHOTS", Path(__file__).parent / "artifacts" / "browser"))


def pytest_terminal_summary(terminalreporter):
    shots = sorted(SHOTS.glob("*.png")) if SHOTS.exists() else []
    if shots:
        terminalreporter.write_line(f"browser screenshots ({len(shots)}): {SHOTS}")
