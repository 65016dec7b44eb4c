"""A computed comparison in a real browser: each part of the answer is its own block (Debian's
Chromium driven by Playwright against the real app over the corpus index plus two small reports)."""

from __future__ import annotations

import re

import pytest

from tests.helpers import ROOT

playwright_sync = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")

REPORTS = {
    "bv_cay_gao": "Bệnh viện Đa khoa huyện Cây Gạo tổng kết năm 2024\n"
    "Năm 2024, Bệnh viện Đa khoa huyện Cây Gạo đã khám cho 250.000 lượt người bệnh, điều trị nội trú 31.000 lượt.",
    "bv_doi_thong": "Bệnh viện Đa khoa huyện Đồi Thông tổng kết năm 2024\n"
    "Năm 2024, Bệnh viện Đa khoa huyện Đồi Thông đã khám cho 212.480 lượt người bệnh, điều trị nội trú 20.500 lượt.",
}
QUESTION = "Số lượt khám năm 2024 của Bệnh viện Đa khoa huyện Cây Gạo cao hơn Bệnh viện Đa khoa huyện Đồi Thông bao nhiêu lượt?"
FINAL_BOT = "#hdyt-chat .hdyt-msg.hdyt-bot:not(.hdyt-streaming):not(.hdyt-pending)"


@pytest.fixture(scope="module")
def parts_server(server_with_reports):
    return server_with_reports(REPORTS)


def test_a_computed_comparison_shows_each_part_as_its_own_block(parts_server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="vi-VN")
    try:
        page.set_default_timeout(60_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(parts_server.url, wait_until="load")
        page.wait_for_selector("#hdyt-question textarea")
        page.fill("#hdyt-question textarea", QUESTION)
        page.press("#hdyt-question textarea", "Enter")
        page.wait_for_selector(f"{FINAL_BOT} .hdyt-parts", timeout=90_000)
        bot = page.locator(FINAL_BOT).last
        blocks = bot.locator(".hdyt-parts > .hdyt-part")
        playwright_sync.expect(blocks).to_have_count(3)
        computed = blocks.nth(0)
        assert "hdyt-part-computed" in (computed.get_attribute("class") or "")
        playwright_sync.expect(computed.locator(".hdyt-part-badge")).to_have_text("đã tính")
        playwright_sync.expect(computed.locator(".hdyt-part-expr")).to_have_text("250.000 − 212.480 = 37.520")
        playwright_sync.expect(computed.locator("strong")).to_have_text("37.520")
        assert computed.locator("a.hdyt-cite").count() == 2
        texts = [blocks.nth(i).inner_text() for i in (1, 2)]
        assert "250.000" in texts[0] and "212.480" in texts[1]
        for i in (1, 2):  # each operand its own question and its own citation link
            block = blocks.nth(i)
            assert block.locator(".hdyt-part-q").inner_text().strip()
            assert block.locator("a.hdyt-cite").count() == 1 and block.locator(".hdyt-part-badge").count() == 0
        link = blocks.nth(2).locator("a.hdyt-cite").first
        n = re.search(r"\d+", link.inner_text()).group()
        link.click()
        card = page.locator(f"#hdyt-src-1-{n}")
        playwright_sync.expect(card).to_be_visible()
        assert "212.480" in card.locator("mark.hdyt-quote").inner_text()
        (ROOT / "tests" / "artifacts").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ROOT / "tests" / "artifacts" / "parts_blocks.png"))
        assert errors == []
    finally:
        page.close()
