"""Screenshots of the real app for the README: a cited table row, and a citation read by OCR from a scan.

Builds a small library (tests.docs_factory: the health-indicator table as HTML, a scanned page as PNG,
the text documents), serves ``app.py`` on it, asks one question of each with Debian's Chromium
(Playwright), and saves the chat with its sources panel as PNG (palette-quantised, small).

    python -m bench.ui_screenshots [--out docs/screenshots] [--port 7931]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests import docs_factory as f

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost"]
SHOTS = {
    "table_row_citation.png": "Bệnh viện Đa khoa tỉnh có bao nhiêu giường bệnh thực kê?",
    "ocr_citation.png": "Năm 2023 Bệnh viện Đa khoa Thử Nghiệm đã khám cho bao nhiêu lượt người?",
}
FINAL_BOT = "#hdyt-chat .hdyt-msg.hdyt-bot:not(.hdyt-streaming):not(.hdyt-pending)"


def build_library(folder: Path) -> None:
    folder.mkdir(parents=True)
    for doc_id, (title, body) in f.LIBRARY.items():
        f.write_txt(folder / f"{doc_id}.txt", title, body)
    f.write_table_html(folder / "bang_giuong_benh.html")
    f.render_scan([f.SAMPLE_TITLE, *f.SAMPLE_BODY], dpi=200).save(folder / "ban_quet_tong_ket.png")


def wait_up(url: str, seconds: float = 180.0) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(1.0)
    raise SystemExit(f"the app did not start at {url}")


def shoot(url: str, out: Path) -> None:
    from PIL import Image
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        for name, question in SHOTS.items():
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url, wait_until="load")
            box = page.get_by_label("Câu hỏi", exact=False).first
            box.fill(question)
            box.press("Enter")
            page.locator(FINAL_BOT).first.wait_for(timeout=120_000)
            page.locator(".hdyt-src").first.wait_for(timeout=30_000)
            time.sleep(1.0)
            raw = out / f"{name}.raw.png"
            page.screenshot(path=str(raw))
            Image.open(raw).convert("RGB").quantize(colors=64).save(out / name, optimize=True)
            raw.unlink()
            page.close()
            print(f"{out / name}: {(out / name).stat().st_size // 1024} KB")
        browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--port", type=int, default=7931)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        build_library(Path(tmp) / "docs")
        env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
               "HDYT_CORPUS_DIR": str(Path(tmp) / "docs"), "HDYT_INDEX_DIR": str(Path(tmp) / "index"),
               "HDYT_UPLOADS_DIR": str(Path(tmp) / "uploads")}
        server = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--host", "127.0.0.1", "--port", str(args.port)], cwd=ROOT, env=env)
        try:
            url = f"http://127.0.0.1:{args.port}"
            wait_up(url)
            shoot(url, out)
        finally:
            server.terminate()
            server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
