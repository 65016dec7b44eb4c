"""The chat page's filter control in a real browser (Debian's Chromium, Playwright, a real server and index):
a question asked with one document chosen cites only it; a malformed date is a Vietnamese message."""

from __future__ import annotations

import re

import pytest

from tests.retrieval.test_filters import build_yearly
from tests.web.test_browser import FINAL_BOT, ask, open_chat, shot

QUESTION = "Các cơ sở y tế khám bệnh cho bao nhiêu lượt người?"


@pytest.fixture(scope="module")
def filter_server(tmp_path_factory, embeddings, web_server):
    settings, _ = build_yearly(tmp_path_factory.mktemp("ui-yearly"), embeddings)
    return web_server(ui=True, index_dir=settings.index_dir, chunk_chars=160, overlap_chars=0, rate_limit_per_minute=100_000)


@pytest.fixture
def chat(browser, filter_server):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(60_000)
    open_chat(page, filter_server.url)
    page.get_by_text("Lọc theo tài liệu và ngày").click()
    yield page
    context.close()


def source_titles(page) -> list[str]:
    return [t.strip() for t in page.locator("#hdyt-sources-panel .hdyt-src-title").all_inner_texts()]


def test_a_chosen_document_is_the_only_source(chat):
    chat.locator("#hdyt-filter-docs input").click()
    chat.get_by_role("option", name=re.compile("công tác y tế năm 2022")).click()
    chat.keyboard.press("Escape")
    ask(chat, QUESTION, 1)
    answer = chat.locator(FINAL_BOT).last.inner_text()
    assert "1.214.000" in answer and "1.336.000" not in answer
    titles = source_titles(chat)
    assert titles and all(t == "Báo cáo tổng kết công tác y tế năm 2022" for t in titles)
    shot(chat, "filter_one_document")


def test_a_date_range_and_a_bad_date(chat):
    chat.locator("#hdyt-filter-from input, #hdyt-filter-from textarea").fill("2024-01-01")
    ask(chat, QUESTION, 1)
    assert "702.000" in chat.locator(FINAL_BOT).last.inner_text()
    assert set(source_titles(chat)) == {"Báo cáo tổng kết công tác y tế năm 2024"}
    chat.locator("#hdyt-filter-to input, #hdyt-filter-to textarea").fill("2024-13-40")
    ask(chat, QUESTION, 2)
    assert "Ngày không hợp lệ" in chat.locator(FINAL_BOT).last.inner_text()
