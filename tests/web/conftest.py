"""The browser of the browser tests: Debian's Chromium driven by Playwright, one per test module.

Chromium resolves no host name but 127.0.0.1 and localhost (``--host-resolver-rules``), so a page that
tries to fetch from outside fails instead of reaching the network. Without Chromium or Playwright,
the tests that ask for ``browser`` are skipped with the command that installs it.
``server_with_reports`` serves the real app over the corpus index plus a test's own small reports.
"""

from __future__ import annotations

import shutil
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


@pytest.fixture(scope="module")
def server_with_reports(web_server, corpus_settings, tmp_path_factory):
    """Factory: ``server_with_reports({name: text})`` → the app with its UI over a copy of the corpus
    index plus those small reports (uploaded as ``name.txt`` through the app's own ingest)."""

    def start(reports: dict[str, str]):
        index = tmp_path_factory.mktemp("reports-index") / "index"
        shutil.copytree(corpus_settings.index_dir, index)
        uploads = index.parent / "uploads"
        server = web_server(ui=True, index_dir=index, uploads_dir=uploads, rate_limit_per_minute=100_000)
        uploads.mkdir(exist_ok=True)
        files = []
        for name, text in reports.items():
            (uploads / f"{name}.txt").write_text(text, encoding="utf-8")
            files.append(uploads / f"{name}.txt")
        report = server.assistant.add_files(files)
        assert sorted(report.added) == sorted(reports), report
        return server

    return start
