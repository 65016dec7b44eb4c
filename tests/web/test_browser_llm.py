"""The LLM path in a real browser: extractive answer first, the verified LLM answer after, and "Dừng".

The app runs with ``answer_backend = "openai"`` against the scripted OpenAI-compatible server
(tests/llm_server.py, real sockets on 127.0.0.1) told to take its time, as a model on a CPU does.
Debian's Chromium, driven by Playwright, checks that the chat page and the widget show the
extractive answer while the LLM is still writing, then replace it with the verified LLM answer,
or keep it with a visible note when the LLM's answer is rejected or times out; and that the stop
button ends the wait for good (no later answer overwrites it) and leaves the input usable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from tests.helpers import free_port, serve_page
from tests.llm_server import ScriptedLLM
from tests.web.test_browser import Watch, open_chat, playwright_sync, shot

QUESTION = "Bệnh viện Bãi Cháy đã khám cho bao nhiêu lượt người năm 2023?"
OTHER_Q = "Giám đốc Bệnh viện Bãi Cháy là ai?"
LLM_TIMEOUT = 6.0  # the server's llm_timeout: a hung LLM falls back after this
LAST_BOT = "#hdyt-chat .hdyt-msg.hdyt-bot"
SHADOW = "document.querySelector('#hdyt-widget').shadowRoot"
FAILED = "#hdyt-chat [data-testid=status-tracker] .error"  # Gradio's "Lỗi" badge over a component


# -- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def llm():
    with ScriptedLLM() as server:
        yield server


@pytest.fixture(scope="module")
def widget_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def llm_app(web_server, llm, widget_port):
    return web_server(
        ui=True,
        answer_backend="openai",
        llm_base_url=llm.url,
        llm_model="scripted",
        llm_timeout=LLM_TIMEOUT,
        allowed_origins=[f"http://127.0.0.1:{widget_port}"],
        rate_limit_per_minute=100_000,
    )


@pytest.fixture(scope="module")
def faithful(llm_app) -> str:
    """An answer the verifier accepts, worded unlike the extractive one, citing the passage the app retrieves."""
    from rag.answer.verify import verify

    passages = llm_app.assistant.retriever.invoke(QUESTION)
    k = next(i for i, d in enumerate(passages, start=1) if "383.605" in d.page_content)
    text = f"Năm 2023, Bệnh viện Bãi Cháy đã khám cho trên 383.605 lượt người [{k}]."
    verdict = verify(text, passages)
    assert verdict.ok, verdict.problems  # a precondition of every test here, checked without the browser
    return text


@pytest.fixture
def page(browser, llm):
    llm.script.clear()
    llm.answered.clear()
    llm.closed.clear()
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="vi-VN")
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    pg.watch = Watch(pg)
    yield pg
    context.close()
    wait_until(lambda: slot_free(llm), 30)  # the next test starts with the LLM's one slot free


def slot_free(llm: ScriptedLLM) -> bool:
    if not llm.slot.acquire(timeout=0):
        return False
    llm.slot.release()
    return True


@pytest.fixture(scope="module")
def widget_host(llm_app, widget_port):
    """A page on a second origin that embeds the widget from the app's origin."""
    body = (
        '<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>Trang đối tác</title></head><body>'
        f'<h1>Trang của một đơn vị khác</h1><script src="{llm_app.url}/widget.js" data-open="true" defer></script></body></html>'
    ).encode()

    with serve_page(body, widget_port) as url:
        yield url


def wait_until(condition: Callable[[], bool], seconds: float) -> None:
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "timed out waiting"
        time.sleep(0.05)


def send(page, question: str) -> None:
    page.fill("#hdyt-question textarea", question)
    page.press("#hdyt-question textarea", "Enter")


def bot(page):
    return page.locator(LAST_BOT).last


# -- the chat page ----------------------------------------------------------------------------------


def test_page_shows_the_extractive_answer_first_then_the_verified_llm_answer(page, llm_app, llm, faithful):
    gate = threading.Event()  # the LLM answers once the test has seen the extractive answer
    llm.script.append(("gated", (gate, faithful)))
    open_chat(page, llm_app.url)
    send(page, QUESTION)
    first = page.locator(f"{LAST_BOT} .hdyt-provisional")
    first.wait_for(timeout=60_000)
    assert llm.answered == []  # on screen while the LLM was still writing
    shown = bot(page).inner_text()
    assert "383.605" in shown and "đang chờ LLM" in shown
    page.locator("#hdyt-src-1-1").wait_for()  # its sources are in the panel already: [1] leads somewhere
    shot(page, "llm_01_extractive_first")
    gate.set()
    page.locator(f"{LAST_BOT} .hdyt-by-llm").wait_for(timeout=60_000)
    final = bot(page)
    assert llm.answered == [faithful]
    assert "Bệnh viện Bãi Cháy đã khám cho trên 383.605 lượt người" in final.inner_text()
    assert final.locator(".hdyt-provisional").count() == 0 and final.locator("a.hdyt-cite", has_text="[1]").count() >= 1
    assert page.locator(LAST_BOT).count() == 1  # replaced in place, not a second message
    assert "383.605" in page.locator("#hdyt-src-1-1 mark.hdyt-quote").inner_text()
    shot(page, "llm_02_llm_answer_replaces_it")
    page.watch.check()


@pytest.mark.parametrize(
    ("behaviour", "note"),
    [(("gated", "[1] [2]"), "câu trả lời của LLM không khớp với nguồn"), (("hang", None), "LLM không phản hồi kịp")],
    ids=["rejected", "timed-out"],
)
def test_page_keeps_the_extractive_answer_and_says_why(page, llm_app, llm, behaviour, note):
    gate = threading.Event()  # a scripted reply is sent once the test has read the extractive answer
    kind, text = behaviour
    llm.script.append((kind, (gate, text)) if kind == "gated" else behaviour)
    open_chat(page, llm_app.url)
    send(page, QUESTION)
    page.locator(f"{LAST_BOT} .hdyt-provisional").wait_for(timeout=60_000)
    provisional = bot(page).locator(".hdyt-p").first.inner_text()
    gate.set()
    fallback = page.locator(f"{LAST_BOT} .hdyt-fallback")
    fallback.wait_for(timeout=60_000)
    assert fallback.inner_text() == f"Trả lời trích xuất — {note}."
    assert bot(page).locator(".hdyt-p").first.inner_text() == provisional and "383.605" in provisional
    assert bot(page).locator(".hdyt-provisional").count() == 0
    if behaviour[0] == "hang":
        assert llm.closed.wait(10)  # the app closed the connection at its timeout: the server's slot is free
    shot(page, f"llm_03_kept_{behaviour[0]}")
    page.watch.check()


def test_stop_ends_the_wait_and_no_later_answer_overwrites_it(page, llm_app, llm, faithful):
    gate = threading.Event()  # the LLM answers only once the stop is on the page, however slow the machine
    llm.script.append(("gated", (gate, faithful)))
    open_chat(page, llm_app.url)
    send(page, QUESTION)
    page.locator(f"{LAST_BOT} .hdyt-provisional").wait_for(timeout=60_000)
    stop = page.locator("#hdyt-question button", has_text="Dừng")
    stop.wait_for(timeout=10_000)
    assert page.locator("#hdyt-question button", has_text="Gửi").count() == 0
    stop.click()
    stopped = page.locator(f"{LAST_BOT} .hdyt-fallback", has_text="đã dừng chờ LLM")
    stopped.wait_for(timeout=30_000)
    answer = bot(page).locator(".hdyt-p").first.inner_text()
    assert "383.605" in answer
    gate.set()
    wait_until(lambda: llm.answered == [faithful], 30)  # the LLM did answer, after the stop…
    page.wait_for_timeout(2000)
    assert page.locator(f"{LAST_BOT} .hdyt-by-llm").count() == 0  # …and that answer never reached the page
    assert bot(page).locator(".hdyt-p").first.inner_text() == answer and stopped.is_visible()
    assert page.locator(FAILED).count() == 0  # Gradio did not mark the stopped chat as failed ("Lỗi") over it
    assert page.locator(LAST_BOT).count() == 1
    shot(page, "llm_04_stopped")
    playwright_sync.expect(stopped).to_be_in_viewport()
    # the input works again: the next question is asked and answered
    assert page.locator("#hdyt-question button", has_text="Gửi").is_visible()
    send(page, OTHER_Q)
    second = page.locator(LAST_BOT).nth(1)
    second.locator(".hdyt-fallback").wait_for(timeout=60_000)  # the scripted LLM's default: "không tìm thấy"
    assert "Lê Ngọc Dũng" in second.inner_text()
    assert page.locator(f"{LAST_BOT} .hdyt-fallback", has_text="đã dừng chờ LLM").count() == 1  # the first turn still says so
    # the stopped answer is the conversation's first turn, saved in the browser like any other
    page.wait_for_function("() => (localStorage.getItem('hdyt.conversations.v1') || '').includes('Lê Ngọc Dũng')")
    page.reload(wait_until="load")
    page.wait_for_function("(sel) => document.querySelectorAll(sel).length === 2", arg=LAST_BOT)
    restored = page.locator(LAST_BOT).first
    assert "383.605" in restored.inner_text() and restored.locator(".hdyt-fallback", has_text="đã dừng chờ LLM").count() == 1
    assert restored.locator(".hdyt-provisional").count() == 0
    page.watch.check()


# -- the widget -------------------------------------------------------------------------------------


def test_widget_shows_the_extractive_answer_first_then_the_llm_answer_or_why_not(page, widget_host, llm, faithful):
    gate = threading.Event()  # the first LLM answer waits until the test has seen the extractive one
    llm.script.extend([("gated", (gate, faithful)), ("slow", (1.0, "[1] [2]"))])
    asks: list[dict] = []
    replies: list = []  # the responses, read after the fact
    page.on("request", lambda r: asks.append(r.post_data_json) if r.url.endswith("/api/ask") and r.method == "POST" else None)
    page.on("response", lambda r: replies.append(r) if r.url.endswith("/api/ask") and r.request.method == "POST" else None)
    page.goto(widget_host, wait_until="load")
    box = page.locator("#hdyt-widget textarea")
    box.wait_for()
    box.fill(QUESTION)
    box.press("Enter")
    page.locator("#hdyt-widget .msg.bot .prov.provisional").wait_for(timeout=60_000)
    assert llm.answered == []
    bubble = page.locator("#hdyt-widget .msg.bot").last
    assert "383.605" in bubble.inner_text() and "đang chờ LLM" in bubble.inner_text()
    shot(page, "llm_05_widget_extractive_first")
    gate.set()
    page.locator("#hdyt-widget .msg.bot .prov", has_text="đã đối chiếu").wait_for(timeout=60_000)
    assert "Bệnh viện Bãi Cháy đã khám cho trên 383.605 lượt người" in bubble.inner_text()
    assert bubble.locator(".prov.provisional").count() == 0 and bubble.locator(".cite").count() >= 1
    assert [a["wait_for_llm"] for a in asks] == [False, True]
    # the second call names the first answer, so the server runs only the LLM stage (tests/web/test_pending.py)
    assert "answer_id" not in asks[0] and asks[1]["answer_id"] == replies[0].json()["answer_id"]
    assert {k: asks[1][k] for k in ("question", "history")} == {k: asks[0][k] for k in ("question", "history")}
    shot(page, "llm_06_widget_llm_answer")
    # a rejected LLM answer: the extractive one stays, with the reason
    box.fill(QUESTION)
    box.press("Enter")
    page.locator("#hdyt-widget .msg.bot .prov", has_text="không khớp với nguồn").wait_for(timeout=60_000)
    assert page.evaluate(f"() => {SHADOW}.querySelectorAll('.msg.bot .prov.provisional').length") == 0
    assert "383.605" in page.locator("#hdyt-widget .msg.bot").last.inner_text()
    assert asks[2]["history"][0][0] == QUESTION  # the history carries the LLM's answer, the final one
    assert "trên 383.605" in asks[2]["history"][0][1]
    page.watch.check()
