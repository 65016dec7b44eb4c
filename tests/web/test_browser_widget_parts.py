"""The embeddable widget shows a compound question's parts, each its own block, in the order asked
(Debian's Chromium driven by Playwright against the real app over the corpus index plus two small
reports written for this test)."""

from __future__ import annotations

import httpx
import pytest

playwright_sync = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")

REPORTS = {
    "bv_phoi_ben_lac": "Bệnh viện Phổi tỉnh Bến Lạc tổng kết năm 2024\n"
    "Năm 2024, Bệnh viện Phổi tỉnh Bến Lạc có 86 bác sĩ và 240 giường bệnh kế hoạch.",
    "bv_phoi_ben_lac_nhan_luc": "Bệnh viện Phổi tỉnh Bến Lạc: nhân lực năm 2024\n"
    "Năm 2024, Bệnh viện Phổi tỉnh Bến Lạc có 190 điều dưỡng <b>chính thức</b>.",
}
QUESTION = "Bệnh viện Phổi tỉnh Bến Lạc có bao nhiêu bác sĩ và bao nhiêu điều dưỡng?"
WITH_A_MISSING_PART = "Bệnh viện Phổi tỉnh Bến Lạc có bao nhiêu bác sĩ và Trạm Y tế xã Khe Nước Vàng có mấy nữ hộ sinh?"


@pytest.fixture(scope="module")
def widget_parts_server(server_with_reports):
    return server_with_reports(REPORTS)


def _ask_widget(page, question: str, turn: int):
    page.locator("#hdyt-widget textarea").fill(question)
    page.locator("#hdyt-widget textarea").press("Enter")
    bubble = page.locator("#hdyt-widget .msg.bot").nth(turn)  # the greeting is bubble 0
    bubble.locator(".fb-btn").first.wait_for(timeout=90_000)  # the final answer carries the 👍/👎 row
    return bubble


def test_widget_shows_each_part_in_order_and_marks_the_missing_one(widget_parts_server, browser):
    api = httpx.post(widget_parts_server.url + "/api/ask", json={"question": QUESTION}, timeout=90).json()
    assert len(api["parts"]) == 2 and not any(p["abstained"] for p in api["parts"]), api
    missing = httpx.post(widget_parts_server.url + "/api/ask", json={"question": WITH_A_MISSING_PART}, timeout=90).json()
    assert len(missing["parts"]) == 2 and missing["parts"][1]["abstained"] and missing["parts"][1]["not_found"], missing
    assert [p["not_found"] for p in api["parts"]] == [False, False]
    page = browser.new_page(viewport={"width": 1200, "height": 900}, locale="vi-VN")
    try:
        page.set_default_timeout(60_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(widget_parts_server.url + "/widget-demo", wait_until="load")
        page.locator("#hdyt-widget .fab").click()
        bubble = _ask_widget(page, QUESTION, 1)
        blocks = bubble.locator(".parts > .part")
        playwright_sync.expect(blocks).to_have_count(2)
        doctors, nurses = blocks.nth(0), blocks.nth(1)
        assert doctors.locator(".part-q").inner_text() == api["parts"][0]["question"]
        assert nurses.locator(".part-q").inner_text() == api["parts"][1]["question"]
        assert "86" in doctors.locator(".part-a").inner_text() and "190" not in doctors.inner_text()
        assert "190" in nurses.locator(".part-a").inner_text()
        for block in (doctors, nurses):  # each part its own [n] button, opening a cited passage
            assert "notfound" not in (block.get_attribute("class") or "")
            assert block.locator("button.cite").count() >= 1
        nurses.locator("button.cite").first.click()
        n = nurses.locator("button.cite").first.get_attribute("data-n")
        opened = bubble.locator("details.src").nth(int(n) - 1)
        playwright_sync.expect(opened).to_have_attribute("open", "")
        assert "190" in opened.locator("mark").inner_text()
        assert "<b>chính thức</b>" in opened.inner_text() and page.locator("#hdyt-widget .passage b").count() == 0

        bubble = _ask_widget(page, WITH_A_MISSING_PART, 2)
        blocks = bubble.locator(".parts > .part")
        playwright_sync.expect(blocks).to_have_count(2)
        for i, part in enumerate(missing["parts"]):  # a part the reports do not answer: marked, never dropped
            block = blocks.nth(i)
            assert block.locator(".part-q").inner_text() == part["question"]
            marked = "notfound" in (block.get_attribute("class") or "")
            assert marked == part["abstained"] == part["not_found"]
            if marked:
                assert block.locator(".part-a").inner_text() == "không tìm thấy" and block.locator("button.cite").count() == 0
        assert "86" in blocks.nth(0).inner_text()
        assert errors == []
    finally:
        page.close()
