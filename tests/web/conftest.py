"""The browser of the browser tests: Debian's Chromium driven by Playwright, one per test module.

Chromium resolves no host name but 127.0.0.1 and localhost (``--host-resolver-rules``), so a page that
tries to fetch from outside fails instead of reaching the network. Without Chromium or Playwright,
the tests that ask for ``browser`` are skipped with the command that installs it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost",
]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's Chromium is not installed ({CHROMIUM}): apt-get install -y chromium")
    playwright_sync = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()
