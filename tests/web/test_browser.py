"""The product in a real browser: Debian's Chromium driven by Playwright against a real server.

Covers the chat page (answer, [n] links, highlighted quote, follow-up, start over, not found), a
report full of XSS payloads shown as text with no dialog fired, the widget on a second origin,
the library tab (admin upload: good and bad files; read-only without a token), and that the
page fetches nothing from outside. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.helpers import ROOT, serve_page

playwright_sync = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")

ARTIFACTS = ROOT / "tests" / "artifacts"
ADMIN_TOKEN = "admin-test-token"
DIRECTOR_Q = "Giám đốc Bệnh viện Bãi Cháy là ai?"
XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_SCRIPT = "<script>alert(1)</script>"
XSS_DOC = "\n".join(
    [
        f"Trạm Y tế Xê Xê {XSS_IMG} báo cáo tổng kết năm 2023",
        f"Ngày 12/1/2024, Trạm Y tế Xê Xê tổ chức hội nghị tổng kết công tác năm 2023. {XSS_SCRIPT}",
        f"Năm 2023, Trạm Y tế Xê Xê đã khám bệnh cho 4.321 lượt người {XSS_IMG}, tăng 12% so với năm 2022.",
        f"Trưởng trạm là Y sĩ Hoàng Văn Thử {XSS_SCRIPT} cho biết trạm sẽ tiếp tục nâng cao chất lượng khám bệnh.",
    ]
)
XSS_QUESTION = "Năm 2023 Trạm Y tế Xê Xê đã khám bệnh cho bao nhiêu lượt người?"
FINAL_BOT = "#hdyt-chat .hdyt-msg.hdyt-bot:not(.hdyt-streaming):not(.hdyt-pending)"


# -- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ui_server(web_server, corpus_settings, tmp_path_factory, widget_origin_port):
    """The app over a private copy of the corpus index plus a report full of XSS payloads."""
    index = tmp_path_factory.mktemp("ui-index") / "index"
    shutil.copytree(corpus_settings.index_dir, index)
    server = web_server(
        ui=True,
        index_dir=index,
        uploads_dir=index.parent / "uploads",
        admin_token=SecretStr(ADMIN_TOKEN),
        allowed_origins=[f"http://127.0.0.1:{widget_origin_port}"],
        rate_limit_per_minute=100_000,
        max_file_mb=2,  # the too-large upload test then sends 2 MB, not 50
    )
    uploads = index.parent / "uploads"
    uploads.mkdir()
    xss = uploads / "tram_y_te_xe_xe.txt"
    xss.write_text(XSS_DOC, encoding="utf-8")
    report = server.assistant.add_files([xss])
    assert report.added == ["tram_y_te_xe_xe"], report
    return server


@pytest.fixture(scope="module")
def widget_host(ui_server, widget_origin_port):
    """A page on a second origin (another port) that embeds the widget from the app's origin."""
    page = f"""<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>Trang đối tác</title>
<style>* {{ font-family: Georgia, serif !important; }} button {{ background: rgb(185, 28, 28) !important; }}
div {{ letter-spacing: 3px; }} body {{ background: #f4f1ea; }}</style></head>
<body><h1>Trang của một đơn vị khác</h1><p>Widget bên dưới gọi API của máy chủ Hỏi Đáp Y Tế.</p>
<button id="host-button">Nút của trang</button>
<script src="{ui_server.url}/widget.js" data-title="Trợ lý Y Tế" data-position="right" defer></script>
</body></html>""".encode()

    with serve_page(page, widget_origin_port) as url:
        yield url


class Watch:
    """What a page did that it must not: dialogs, requests leaving 127.0.0.1, script errors."""

    def __init__(self, page) -> None:
        self.dialogs: list[str] = []
        self.external: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on("request", self._request)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _request(self, request) -> None:
        if not re.match(r"^(https?://(127\.0\.0\.1|localhost)(:\d+)?/|data:|blob:)", request.url):
            self.external.append(request.url)

    def check(self) -> None:
        assert self.dialogs == [], f"a dialog fired: {self.dialogs}"
        assert self.external == [], f"requests left the machine: {self.external}"
        assert self.errors == [], f"page errors: {self.errors}"


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="vi-VN")
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    pg.watch = Watch(pg)
    yield pg
    context.close()


def shot(page, name: str, full_page: bool = False) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def open_chat(page, url: str) -> None:
    page.goto(url, wait_until="load")
    page.wait_for_selector("#hdyt-question textarea")


def ask(page, question: str, n_answers: int) -> None:
    """Type a question, send it with Enter, wait for the n-th complete answer."""
    page.fill("#hdyt-question textarea", question)
    page.press("#hdyt-question textarea", "Enter")
    page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel).length >= n", arg=[FINAL_BOT, n_answers], timeout=90_000
    )
    page.wait_for_timeout(300)  # let the sources panel update land


# -- chat -------------------------------------------------------------------------------------------


def test_chat_answer_links_to_highlighted_source(page, ui_server):
    open_chat(page, ui_server.url)
    shot(page, "01_chat_empty")
    assert page.locator("#hdyt-chat").get_by_text("Giám đốc Bệnh viện Bãi Cháy là ai?").count() >= 1  # examples
    ask(page, DIRECTOR_Q, 1)
    bot = page.locator(FINAL_BOT).last
    assert "Lê Ngọc Dũng" in bot.inner_text()
    link = bot.locator("a.hdyt-cite", has_text="[1]").first
    assert link.is_visible()
    card = page.locator("#hdyt-src-1-1")
    assert card.is_visible()
    assert "Bãi Cháy" in card.locator(".hdyt-src-title").inner_text()
    assert re.search(r"\d{2}/\d{2}/\d{4}", card.locator(".hdyt-src-meta").inner_text())  # document date
    mark = card.locator("mark.hdyt-quote")
    assert "Lê Ngọc Dũng" in mark.inner_text()
    link.click()
    page.wait_for_function("() => document.querySelector('#hdyt-src-1-1').classList.contains('hdyt-flash')")
    playwright_sync.expect(card).to_be_in_viewport(ratio=0.5)  # really on screen, not laid out off to a side
    playwright_sync.expect(mark).to_be_in_viewport()
    shot(page, "02_chat_answer_sources")
    page.watch.check()


def test_follow_up_and_start_over(page, ui_server):
    open_chat(page, ui_server.url)
    ask(page, DIRECTOR_Q, 1)
    ask(page, "Còn số ca phẫu thuật của bệnh viện đó thì sao?", 2)
    second = page.locator(FINAL_BOT).nth(1)
    playwright_sync.expect(page.locator("#hdyt-sources-panel section.hdyt-turn-latest")).to_be_in_viewport()
    rewritten = second.locator(".hdyt-rewritten")
    assert rewritten.count() == 1 and "Bãi Cháy" in rewritten.inner_text()
    panel = page.locator("#hdyt-sources-panel")
    assert panel.locator("section.hdyt-turn-latest .hdyt-rewritten").count() == 1
    assert panel.locator("details.hdyt-turn-old").count() == 1  # the first turn, folded
    if second.locator("a.hdyt-cite").count():
        second.locator("a.hdyt-cite").first.click()
        page.wait_for_timeout(400)
    # a citation of the first answer opens its folded turn
    page.locator(FINAL_BOT).first.locator("a.hdyt-cite").first.click()
    page.wait_for_function("() => document.querySelector('details.hdyt-turn-old').open")
    shot(page, "03_chat_follow_up")
    page.click("#hdyt-new-chat")
    page.wait_for_function("(sel) => document.querySelectorAll(sel).length === 0", arg=FINAL_BOT)
    assert page.locator("#hdyt-sources-panel .hdyt-sources-empty").count() == 1
    page.watch.check()


def test_not_found_shows_related_as_such(page, ui_server):
    open_chat(page, ui_server.url)
    ask(page, "Bệnh viện Đa khoa tỉnh Nghệ An có bao nhiêu giường bệnh năm 2023?", 1)
    bot = page.locator(FINAL_BOT).last
    assert "Không tìm thấy" in bot.inner_text()
    assert bot.locator("a.hdyt-cite").count() == 0
    panel = page.locator("#hdyt-sources-panel")
    assert "Không tìm thấy" in panel.inner_text()
    playwright_sync.expect(panel.locator(".hdyt-notfound-panel")).to_be_in_viewport()
    assert panel.locator("[id^='hdyt-src-']").count() == 0  # nothing shown as a citation
    if panel.locator(".hdyt-related").count():
        assert "Có thể liên quan" in panel.text_content()
        assert panel.locator(".hdyt-related mark").count() == 0
    shot(page, "04_chat_not_found")
    page.watch.check()


def test_xss_report_is_displayed_as_text(page, ui_server):
    # counts alert() calls even if one slipped past the dialog listener (installed before any page script)
    page.add_init_script("window.__xss = 0; window.alert = function () { window.__xss += 1; };")
    open_chat(page, ui_server.url)
    ask(page, XSS_QUESTION, 1)
    bot = page.locator(FINAL_BOT).last
    assert "4.321" in bot.inner_text()
    panel = page.locator("#hdyt-sources-panel")
    card = panel.locator("#hdyt-src-1-1")
    assert card.get_attribute("data-doc") == "tram_y_te_xe_xe"
    text = panel.inner_text()
    assert XSS_IMG in text and XSS_SCRIPT in text  # shown literally
    assert XSS_IMG in card.locator(".hdyt-src-title").inner_text()
    # the question itself is user input too
    ask(page, f"Trạm Y tế Xê Xê {XSS_IMG} có trưởng trạm là ai?", 2)
    assert XSS_IMG in page.locator("#hdyt-chat [data-testid='user']").last.inner_text()
    page.wait_for_timeout(500)
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("#hdyt-chat script, #hdyt-sources-panel script").count() == 0
    assert page.evaluate("window.__xss") == 0
    shot(page, "05_xss_as_text")
    # the library list shows the title as text too
    page.get_by_role("tab", name="Thư viện tài liệu").click()
    page.wait_for_selector("#hdyt-docs")
    page.locator("#hdyt-docs").get_by_text("tram_y_te_xe_xe").first.wait_for()
    assert XSS_IMG in page.locator("#hdyt-docs").inner_text()
    assert page.locator("img[src='x']").count() == 0
    page.watch.check()


# -- widget on another origin -----------------------------------------------------------------------


def test_widget_on_second_origin(page, ui_server, widget_host):
    api_calls: list[str] = []
    page.on("request", lambda r: api_calls.append(r.url) if "/api/ask" in r.url else None)
    page.goto(widget_host, wait_until="load")
    fab = page.locator("#hdyt-widget .fab")  # Playwright's CSS pierces the open shadow root
    fab.wait_for()
    # host CSS does not leak into the widget
    styles = page.evaluate(
        """() => {
          const root = document.querySelector('#hdyt-widget').shadowRoot;
          const fab = root.querySelector('.fab');
          const panel = root.querySelector('.root');
          return [getComputedStyle(fab).backgroundImage, getComputedStyle(fab).backgroundColor,
                  getComputedStyle(panel).fontFamily, getComputedStyle(panel).letterSpacing];
        }"""
    )
    assert "gradient" in styles[0] and styles[1] != "rgb(185, 28, 28)"
    assert "Georgia" not in styles[2] and styles[3] in ("normal", "0px")
    fab.click()
    page.locator("#hdyt-widget textarea").fill(DIRECTOR_Q)
    page.locator("#hdyt-widget textarea").press("Enter")
    cite = page.locator("#hdyt-widget .msg.bot .cite", has_text="[1]").first
    cite.wait_for(timeout=90_000)
    assert api_calls and api_calls[0].startswith(ui_server.url + "/api/ask")
    bubble = page.locator("#hdyt-widget .msg.bot").last
    assert "Lê Ngọc Dũng" in bubble.inner_text()
    cite.click()
    details = bubble.locator("details.src").first
    page.wait_for_function(
        "() => document.querySelector('#hdyt-widget').shadowRoot.querySelector('.msg.bot:last-child details.src').open"
    )
    assert "Lê Ngọc Dũng" in details.locator("mark").inner_text()
    shot(page, "06_widget_cross_origin")
    # follow-up: the widget sends the history along
    page.locator("#hdyt-widget textarea").fill("Còn số ca phẫu thuật của bệnh viện đó thì sao?")
    with page.expect_request(lambda r: "/api/ask" in r.url and r.method == "POST") as req:
        page.locator("#hdyt-widget textarea").press("Enter")
    body = req.value.post_data_json
    assert body["history"] and body["history"][0][0] == DIRECTOR_Q
    page.wait_for_function(
        "() => document.querySelector('#hdyt-widget').shadowRoot.querySelectorAll('.msg.bot .cite, .msg.bot.notfound, .msg.bot.error').length > 1"
        " || document.querySelector('#hdyt-widget').shadowRoot.querySelectorAll('.msg.user').length === 2 &&"
        " !document.querySelector('#hdyt-widget').shadowRoot.querySelector('.typing')"
    )
    assert page.locator("#hdyt-widget .msg.error").count() == 0
    page.watch.check()


def test_widget_demo_page_same_origin(page, ui_server):
    page.goto(ui_server.url + "/widget-demo", wait_until="load")
    page.locator("#hdyt-widget .fab").click()
    page.locator("#hdyt-widget textarea").fill(XSS_QUESTION)
    page.locator("#hdyt-widget button[type=submit]").click()
    page.locator("#hdyt-widget .msg.bot .cite").first.wait_for(timeout=90_000)
    page.locator("#hdyt-widget .msg.bot .cite").first.click()
    page.wait_for_timeout(300)
    assert XSS_IMG in page.locator("#hdyt-widget .msg.bot").last.inner_text()
    assert page.locator("img[src='x']").count() == 0
    shot(page, "07_widget_demo_xss")
    page.watch.check()


# -- library ----------------------------------------------------------------------------------------


def _library(page, url: str) -> None:
    page.goto(url, wait_until="load")
    page.get_by_role("tab", name="Thư viện tài liệu").click()
    page.wait_for_selector("#hdyt-docs")
    page.locator("#hdyt-docs").get_by_text("001_74a51137ac984768").first.wait_for()


def _upload(page, path: Path) -> None:
    page.set_input_files("#hdyt-upload input[type=file]", str(path))
    page.locator("#hdyt-upload").get_by_text(path.name).first.wait_for()
    page.click("#hdyt-upload-btn")


def test_admin_upload_bad_file_shows_error_and_keeps_index(page, ui_server, tmp_path):
    before = ui_server.assistant.health()["documents"]
    _library(page, ui_server.url)
    page.fill("#hdyt-admin-token input", ADMIN_TOKEN)
    bad = tmp_path / "bao_cao_hong.pdf"
    bad.write_bytes(b"%PDF-1.4\nthis is not really a pdf\n")
    _upload(page, bad)
    status = page.locator("#hdyt-lib-status .hdyt-status-error")
    status.wait_for()
    text = status.inner_text()
    assert "bao_cao_hong.pdf" in text
    assert "giữ nguyên" in text
    shot(page, "08_library_bad_upload", full_page=True)
    assert ui_server.assistant.health()["documents"] == before
    assert not (Path(ui_server.settings.uploads_dir) / "bao_cao_hong.pdf").exists()
    page.watch.check()


def test_admin_upload_and_delete(page, ui_server, tmp_path):
    _library(page, ui_server.url)
    page.fill("#hdyt-admin-token input", ADMIN_TOKEN)
    good = tmp_path / "bao_cao_moi.md"
    good.write_text(
        "# Bệnh viện Thử Nghiệm tổng kết năm 2023\n\nNăm 2023 bệnh viện khám 9.876 lượt người bệnh.\n",
        encoding="utf-8",
    )
    _upload(page, good)
    page.locator("#hdyt-lib-status .hdyt-status-ok").wait_for()
    assert "bao_cao_moi" in page.locator("#hdyt-lib-status").inner_text()
    page.locator("#hdyt-docs").get_by_text("Bệnh viện Thử Nghiệm tổng kết năm 2023").first.wait_for()
    assert (Path(ui_server.settings.uploads_dir) / "bao_cao_moi.md").exists()
    shot(page, "09_library_uploaded", full_page=True)
    # wrong token: refused
    title = "Bệnh viện Thử Nghiệm tổng kết năm 2023"
    page.fill("#hdyt-admin-token input", "wrong")
    page.locator("#hdyt-delete-choice input").click()
    page.get_by_role("option", name=re.compile(title)).click()
    page.click("#hdyt-delete-btn")
    page.locator("#hdyt-lib-status .hdyt-status-error").wait_for()
    assert "không đúng" in page.locator("#hdyt-lib-status").inner_text()
    # right token: asked to confirm by title, then deleted, and its uploaded file removed
    page.fill("#hdyt-admin-token input", ADMIN_TOKEN)
    page.locator("#hdyt-delete-choice input").click()
    page.get_by_role("option", name=re.compile(title)).click()
    page.click("#hdyt-delete-btn")
    page.locator("#hdyt-lib-status .hdyt-status-warn").wait_for()
    assert title in page.locator("#hdyt-lib-status").inner_text()
    assert "bao_cao_moi" in [d.doc_id for d in ui_server.assistant.documents()]  # nothing deleted yet
    shot(page, "21_library_confirm_delete", full_page=True)
    page.click("#hdyt-delete-confirm")
    page.locator("#hdyt-lib-status .hdyt-status-ok").wait_for()
    assert title in page.locator("#hdyt-lib-status").inner_text()
    assert "bao_cao_moi" not in [d.doc_id for d in ui_server.assistant.documents()]
    assert not (Path(ui_server.settings.uploads_dir) / "bao_cao_moi.md").exists()
    page.watch.check()


def test_library_read_only_without_admin_token(page, api_server):
    _library(page, api_server.url)
    assert "Chế độ chỉ xem" in page.locator("#hdyt-admin-off").inner_text()
    assert page.locator("#hdyt-upload-btn").is_disabled()
    assert page.locator("#hdyt-delete-btn").is_disabled()
    shot(page, "10_library_read_only", full_page=True)
    page.watch.check()


def test_mobile_layout(browser, ui_server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    watch = Watch(pg)
    open_chat(pg, ui_server.url)
    ask(pg, DIRECTOR_Q, 1)
    shot(pg, "11_mobile_chat", full_page=True)
    watch.check()
    context.close()


# -- latency (recorded, never asserted: speed is a figure, not a pass/fail) ----------------------------

LATENCY_QUESTIONS = [DIRECTOR_Q, "Năm 2023, tổng số lượt khám bệnh của các đơn vị y tế tỉnh Quảng Ninh là bao nhiêu?"]


def test_record_enter_to_answer_latency(page, ui_server):
    """Time from Enter to the first answer text and to the final answer, written to tests/artifacts/latency.json."""
    import json

    open_chat(page, ui_server.url)
    rows = []
    for i, q in enumerate(LATENCY_QUESTIONS * 3, start=1):
        page.fill("#hdyt-question textarea", q)
        page.evaluate(
            """([n]) => { window.__t = {}; const t0 = performance.now();
              const tick = () => { const bots = document.querySelectorAll('#hdyt-chat .hdyt-msg.hdyt-bot');
                const last = bots[n - 1];
                if (last && !window.__t.first && !last.classList.contains('hdyt-pending') && (last.innerText || '').trim())
                  window.__t.first = performance.now() - t0;
                if (last && !last.classList.contains('hdyt-streaming') && !last.classList.contains('hdyt-pending'))
                  { window.__t.final = performance.now() - t0; return; }
                requestAnimationFrame(tick); };
              window.__t0 = t0; requestAnimationFrame(tick); }""",
            [i],
        )
        page.press("#hdyt-question textarea", "Enter")
        page.wait_for_function("() => window.__t && window.__t.final", timeout=90_000)
        t = page.evaluate("window.__t")
        server = page.locator(FINAL_BOT).nth(i - 1).locator(".hdyt-latency").inner_text()  # "0.4 giây"
        rows.append({"question": q, "first_ms": round(t.get("first") or t["final"]), "final_ms": round(t["final"]),
                     "server_s": float(server.split()[0])})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "latency.json").write_text(json.dumps({"browser": rows}, ensure_ascii=False, indent=1))
    assert len(rows) == 6 and all(r["final_ms"] >= r["first_ms"] > 0 for r in rows)


# -- readable everywhere: contrast (computed styles, WCAG formula in the page), language, names --------

CONTRAST_JS = """(sel) => {
  const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const blend = (top, under) => [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3])).concat([1]);
  // the colours behind an element: its own and its ancestors' backgrounds, gradients as all their stops
  const backs = (el) => { const layers = [];
    for (let e = el; e; e = e.parentElement) { const cs = getComputedStyle(e);
      const stops = (cs.backgroundImage.match(/rgba?\\([^)]+\\)/g) || []).map(parse);
      if (stops.length) { layers.push(stops); break; }
      const bg = parse(cs.backgroundColor); if (bg && bg[3] > 0) { layers.push([bg]); if (bg[3] >= 1) break; } }
    let result = [[255, 255, 255, 1]];
    if (document.body.classList.contains('dark')) result = [parse(getComputedStyle(document.body).backgroundColor) || [11, 15, 25, 1]];
    for (const layer of layers.reverse()) result = layer.flatMap((c) => result.map((u) => blend(c, u)));
    return result; };
  const out = [];
  document.querySelectorAll(sel).forEach((el) => { if (!el.offsetParent && el.tagName !== 'BODY') return;
    const fg = parse(getComputedStyle(el).color);
    const worst = Math.min(...backs(el).map((b) => ratio(blend(fg, b), b)));
    out.push({ text: (el.innerText || '').trim().slice(0, 40), ratio: Math.round(worst * 100) / 100 }); });
  return out; }"""

CONTRAST_TARGETS = {
    "highlighted quote": "#hdyt-sources-panel mark.hdyt-quote",
    "answer text": "#hdyt-chat .hdyt-bot .hdyt-p",
    "passage text": "#hdyt-sources-panel blockquote.hdyt-passage",
    "card title": "#hdyt-sources-panel .hdyt-src-title",
    "card date and source": "#hdyt-sources-panel .hdyt-src-meta",
    "header title": "h1.hdyt-brand",
    "header tagline": ".hdyt-tagline",
    "send button": "#hdyt-question .submit-button",
    "disclaimer": ".hdyt-disclaimer",
    "latency": "#hdyt-chat .hdyt-latency",
    "tabs": "#hdyt-tabs button[role=tab]",
}


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_highlight_and_text_readable_in_light_and_dark(page, ui_server, theme):
    page.goto(f"{ui_server.url}/?__theme={theme}", wait_until="load")
    page.wait_for_selector("#hdyt-question textarea")
    assert page.evaluate("document.body.classList.contains('dark')") == (theme == "dark")
    assert page.evaluate("document.documentElement.lang") == "vi"
    assert page.locator("h1").inner_text() == "Hỏi Đáp Y Tế"
    assert page.get_by_role("textbox", name="Câu hỏi", exact=True).count() == 1
    ask(page, DIRECTOR_Q, 1)
    page.locator("#hdyt-sources-panel mark.hdyt-quote").first.wait_for()
    shot(page, f"12_contrast_{theme}")
    low = {}
    for what, sel in CONTRAST_TARGETS.items():
        found = page.evaluate(CONTRAST_JS, sel)
        assert found, f"nothing matched {what} ({sel})"
        worst = min(r["ratio"] for r in found)
        if worst < 4.5:
            low[what] = worst
    assert low == {}, f"contrast under 4.5:1 in {theme} mode: {low}"
    page.watch.check()


def test_focus_is_visible(page, ui_server):
    open_chat(page, ui_server.url)
    page.focus("#hdyt-new-chat")
    page.keyboard.press("Tab")
    page.keyboard.press("Shift+Tab")
    style = page.evaluate("() => { const cs = getComputedStyle(document.activeElement); return [cs.outlineStyle, cs.outlineWidth]; }")
    assert style[0] != "none" and style[1] != "0px", style


# -- phones ---------------------------------------------------------------------------------------------


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="vi-VN")
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    pg.watch = Watch(pg)
    yield pg
    context.close()


def test_phone_empty_state_and_input_reachable(phone, ui_server):
    open_chat(phone, ui_server.url)
    heading = phone.locator("#hdyt-chat .hdyt-placeholder h2")
    playwright_sync.expect(heading).to_be_in_viewport()
    clipped = heading.evaluate("(h) => h.scrollWidth > h.clientWidth + 1 || h.getBoundingClientRect().left < 0")
    assert not clipped
    playwright_sync.expect(phone.locator("#hdyt-question textarea")).to_be_in_viewport(ratio=1)
    shot(phone, "13_phone_empty")
    phone.watch.check()


def test_phone_tap_citation_brings_passage_into_view(phone, ui_server):
    open_chat(phone, ui_server.url)
    ask(phone, DIRECTOR_Q, 1)
    mark = phone.locator("#hdyt-src-1-1 mark.hdyt-quote")
    playwright_sync.expect(mark).not_to_be_in_viewport()  # stacked below the chat, off screen
    phone.locator(FINAL_BOT).last.locator("a.hdyt-cite", has_text="[1]").first.tap()
    playwright_sync.expect(mark).to_be_in_viewport()
    assert "Lê Ngọc Dũng" in mark.inner_text()
    shot(phone, "14_phone_tapped_citation")
    phone.watch.check()


# -- sources one gesture away ---------------------------------------------------------------------------


def test_preview_and_document_view_from_citation(page, ui_server):
    open_chat(page, ui_server.url)
    ask(page, DIRECTOR_Q, 1)
    card = page.locator("#hdyt-src-1-1")
    meta = card.locator(".hdyt-src-meta").inner_text()
    assert re.search(r"\d{2}/\d{2}/\d{4}", meta)  # the report's date
    assert "ký tự" not in card.inner_text() and card.get_attribute("data-doc") not in card.inner_text()
    page.locator(FINAL_BOT).last.locator("a.hdyt-cite", has_text="[1]").first.hover()
    tip = page.locator(".hdyt-preview")
    tip.wait_for()
    assert "Bãi Cháy" in tip.locator(".hdyt-preview-title").inner_text()
    assert re.search(r"\d{2}/\d{2}/\d{4}", tip.inner_text()) and "Lê Ngọc Dũng" in tip.inner_text()
    shot(page, "15_citation_preview")
    with page.context.expect_page() as opened:
        card.locator("a.hdyt-src-open").click()
    doc = opened.value
    doc.wait_for_load_state("load")
    assert doc.evaluate("document.documentElement.lang") == "vi"
    quote = doc.locator("mark.quote")
    assert "Lê Ngọc Dũng" in quote.inner_text()
    playwright_sync.expect(quote).to_be_in_viewport()
    assert doc.locator("h1").inner_text() == card.locator(".hdyt-src-title").inner_text()
    shot(doc, "16_document_view")
    page.watch.check()


# -- conversations ----------------------------------------------------------------------------------------


def test_conversation_survives_reload_and_exports(page, ui_server):
    import json

    open_chat(page, ui_server.url)
    page.evaluate("localStorage.clear()")
    page.reload(wait_until="load")
    page.wait_for_selector("#hdyt-question textarea")
    ask(page, DIRECTOR_Q, 1)
    page.wait_for_function("() => (localStorage.getItem('hdyt.conversations.v1') || '').includes('Lê Ngọc Dũng')")
    page.reload(wait_until="load")
    page.wait_for_function("(sel) => document.querySelectorAll(sel).length === 1", arg=FINAL_BOT)
    assert "Lê Ngọc Dũng" in page.locator(FINAL_BOT).last.inner_text()
    playwright_sync.expect(page.locator("#hdyt-src-1-1 mark.hdyt-quote")).to_contain_text("Lê Ngọc Dũng")
    with page.expect_download() as md:
        page.click("#hdyt-export-md")
    text = Path(md.value.path()).read_text(encoding="utf-8")
    assert DIRECTOR_Q in text and "Lê Ngọc Dũng" in text and re.search(r"- \[1\] .*Bãi Cháy", text)
    with page.expect_download() as js:
        page.click("#hdyt-export-json")
    data = json.loads(Path(js.value.path()).read_text(encoding="utf-8"))
    first = data["turns"][0]
    assert first["question"] == DIRECTOR_Q and first["citations"][0]["n"] == 1 and "Lê Ngọc Dũng" in first["citations"][0]["quote"]
    # a new conversation; the old one stays in the list and comes back when picked
    page.click("#hdyt-new-chat")
    page.wait_for_function("(sel) => document.querySelectorAll(sel).length === 0", arg=FINAL_BOT)
    page.locator("#hdyt-convs summary").click()
    page.locator("#hdyt-convs .hdyt-conv-list button", has_text="Giám đốc Bệnh viện Bãi Cháy").click()
    page.wait_for_function("(sel) => document.querySelectorAll(sel).length === 1", arg=FINAL_BOT)
    shot(page, "17_conversation_restored")
    page.watch.check()


def test_regenerate_replaces_the_last_answer(page, ui_server):
    open_chat(page, ui_server.url)
    page.evaluate("localStorage.clear()")
    ask(page, DIRECTOR_Q, 1)
    page.click("#hdyt-regenerate")
    page.wait_for_timeout(1500)
    page.wait_for_function("(sel) => document.querySelectorAll(sel).length === 1", arg=FINAL_BOT)
    assert page.locator("#hdyt-chat [data-testid='user']").count() == 1
    assert "Lê Ngọc Dũng" in page.locator(FINAL_BOT).last.inner_text()
    page.watch.check()


# -- feedback ---------------------------------------------------------------------------------------------


def test_feedback_is_stored_and_exported_as_gold(page, ui_server, tmp_path):
    import json
    import os
    import subprocess
    import sys

    from eval.gold import load_gold
    from rag.web.feedback import FeedbackStore, feedback_path

    open_chat(page, ui_server.url)
    page.evaluate("localStorage.clear()")
    ask(page, DIRECTOR_Q, 1)
    bot = page.locator(FINAL_BOT).last
    down = bot.locator("button.hdyt-fb-down")
    assert down.locator("svg").count() == 1  # an inline icon, no emoji font needed
    down.click()
    comment = page.locator("#hdyt-chat .hdyt-fb-form input")
    comment.fill("Thiếu chức danh đầy đủ")
    page.locator("#hdyt-chat .hdyt-fb-form button").click()
    page.locator("#hdyt-chat .hdyt-fb-done").last.wait_for()
    page.wait_for_timeout(300)
    shot(page, "18_feedback")
    db = feedback_path(ui_server.settings)
    assert db.parent == Path(ui_server.settings.index_dir).resolve().parent  # beside the index, not in a generation
    rows = [r for r in FeedbackStore(db).rows() if r["question"] == DIRECTOR_Q and r["origin"] == "page"]
    assert rows and rows[-1]["rating"] == "down" and rows[-1]["comment"] == "Thiếu chức danh đầy đủ"
    assert rows[-1]["citations"][0]["doc_id"] and "Lê Ngọc Dũng" in rows[-1]["answer"]
    out = tmp_path / "candidates.jsonl"
    env = {**os.environ, "HDYT_INDEX_DIR": str(ui_server.settings.index_dir), "HF_HUB_OFFLINE": "1"}
    cli = subprocess.run([sys.executable, "-m", "rag", "feedback", "export", "--out", str(out)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    items = load_gold(out)  # the gold schema accepts every line
    mine = [i for i in items if i.question == DIRECTOR_Q]
    assert mine and mine[-1].answer == "Thiếu chức danh đầy đủ" and mine[-1].docs == [rows[-1]["citations"][0]["doc_id"]]
    assert json.loads(out.read_text(encoding="utf-8").splitlines()[-1])["evidence"]
    page.watch.check()


# -- small talk ---------------------------------------------------------------------------------------------


def test_greeting_gets_help_not_not_found(page, ui_server):
    open_chat(page, ui_server.url)
    ask(page, "xin chào", 1)
    bot = page.locator(FINAL_BOT).last
    text = bot.inner_text()
    assert "Không tìm thấy" not in text and "Xin chào" in text
    assert "Giám đốc Bệnh viện Bãi Cháy là ai?" in text  # an example question
    assert bot.locator(".hdyt-help").count() == 1
    panel = page.locator("#hdyt-sources-panel")
    assert "Không tìm thấy" not in panel.inner_text() and panel.locator(".hdyt-related").count() == 0
    shot(page, "19_greeting_help")
    page.watch.check()


def test_accent_less_question_shows_the_restored_question(page, ui_server, widget_host):
    """Issue 14: the page and the widget say how an accent-less question was understood, as the API returns it."""
    import httpx

    folded = "benh vien bai chay kham bao nhieu luot nguoi nam 2023"
    api = httpx.post(ui_server.url + "/api/ask", json={"question": folded}, timeout=60).json()
    restored = api["restored_query"]
    assert restored and restored != folded and "bãi cháy" in restored.lower(), api
    open_chat(page, ui_server.url)
    ask(page, folded, 1)
    line = page.locator(FINAL_BOT).last.locator(".hdyt-rewritten")
    assert line.inner_text() == f"Đã hiểu câu hỏi là: {restored}"
    assert "383.605" in page.locator(FINAL_BOT).last.inner_text()
    assert restored in page.locator("#hdyt-sources-panel .hdyt-rewritten").inner_text()
    shot(page, "21_restored_question")
    page.goto(widget_host, wait_until="load")
    page.locator("#hdyt-widget .fab").click()
    page.locator("#hdyt-widget textarea").fill(folded)
    page.locator("#hdyt-widget textarea").press("Enter")
    shown = page.locator("#hdyt-widget .msg.bot .rewritten")
    shown.first.wait_for(timeout=90_000)
    assert shown.first.inner_text() == f"Đã hiểu câu hỏi là: {restored}"
    page.watch.check()


# -- the widget shows what the API returns ---------------------------------------------------------------------


def test_widget_shows_related_from_the_api_and_dates(page, ui_server, widget_host):
    import httpx

    unanswerable = "Bệnh viện Đa khoa tỉnh Nghệ An có bao nhiêu giường bệnh năm 2023?"
    api = httpx.post(ui_server.url + "/api/ask", json={"question": unanswerable}, timeout=60).json()
    assert api["abstained"] and api["related"], api
    page.goto(widget_host, wait_until="load")
    page.locator("#hdyt-widget .fab").click()
    page.locator("#hdyt-widget textarea").fill(unanswerable)
    page.locator("#hdyt-widget textarea").press("Enter")
    related = page.locator("#hdyt-widget .msg.bot details.src.related")
    related.first.wait_for(timeout=90_000)
    assert related.count() == len(api["related"])
    titles = [related.nth(i).locator(".src-title").inner_text() for i in range(related.count())]
    assert titles == [c["title"] for c in api["related"]]
    assert page.locator("#hdyt-widget .msg.bot .fb-btn svg").count() == 2
    # a cited answer: its source cards carry the report's date
    page.locator("#hdyt-widget textarea").fill(DIRECTOR_Q)
    page.locator("#hdyt-widget textarea").press("Enter")
    page.locator("#hdyt-widget .msg.bot details.src:not(.related) .src-meta").first.wait_for(timeout=90_000)
    meta = page.locator("#hdyt-widget .msg.bot details.src:not(.related) .src-meta").first.inner_text()
    assert re.search(r"\d{2}/\d{2}/\d{4}", meta), meta
    # 👍 from the widget (another origin) is stored with the answer's citations
    from rag.web.feedback import FeedbackStore, feedback_path

    page.locator("#hdyt-widget .msg.bot .fb-up").last.click()
    page.locator("#hdyt-widget .msg.bot .fb-done").last.wait_for()
    rows = [r for r in FeedbackStore(feedback_path(ui_server.settings)).rows("up") if r["origin"] == "widget"]
    assert rows and rows[-1]["question"] == DIRECTOR_Q and rows[-1]["citations"]
    shot(page, "20_widget_related_dates")
    page.watch.check()


# -- library errors, all in Vietnamese ---------------------------------------------------------------------


def _scanned_pdf(path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")  # a picture of a page: no text layer
    pdf.output(str(path))


def test_every_library_error_is_in_vietnamese(page, ui_server, tmp_path):
    before = ui_server.assistant.health()["documents"]
    bad = {
        "rong.txt": b"",
        "chuong_trinh.exe": b"MZ\x90\x00",
        "hong.pdf": b"%PDF-1.4\nthis is not really a pdf\n",
        "gia.docx": b"not a zip at all",
        "nhi_phan.txt": bytes(range(256)) * 64,
        "qua_lon.txt": b"a" * int((ui_server.settings.max_file_mb * 1024 + 100) * 1024),
    }
    paths = []
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
        paths.append(tmp_path / name)
    _scanned_pdf(tmp_path / "ban_scan.pdf")
    paths.append(tmp_path / "ban_scan.pdf")
    _library(page, ui_server.url)
    # no token: a Vietnamese message; files cannot be chosen before a correct token (Gradio uploads a file
    # as soon as it is chosen, and its upload route needs the admin session the token opens)
    page.click("#hdyt-upload-btn")
    page.locator("#hdyt-lib-status .hdyt-status-error").wait_for()
    assert "mã quản trị" in page.locator("#hdyt-lib-status").inner_text()
    page.fill("#hdyt-admin-token input", ADMIN_TOKEN)
    page.set_input_files("#hdyt-upload input[type=file]", [str(p) for p in paths])
    page.locator("#hdyt-upload").get_by_text("ban_scan").first.wait_for()  # several files: stem and suffix apart
    page.click("#hdyt-upload-btn")
    status = page.locator("#hdyt-lib-status .hdyt-status-error", has_text="giữ nguyên")
    status.wait_for(timeout=120_000)
    text = status.inner_text()
    expected = {
        "rong.txt": "tệp rỗng",
        "chuong_trinh.exe": "không được hỗ trợ",
        "hong.pdf": "PDF bị hỏng",
        "gia.docx": "không phải tệp DOCX thật",
        "nhi_phan.txt": "tệp nhị phân",
        "qua_lon.txt": "lớn hơn giới hạn",
        "ban_scan.pdf": "bản scan",
    }
    lines = {line.split(":", 1)[0].strip(): line for line in text.splitlines() if ":" in line}
    for name, phrase in expected.items():
        assert name in lines and phrase in lines[name], (name, text)
    english = re.findall(r"\b(file|empty|corrupt|unsupported|invalid|encoding)\b", text, re.I)
    assert english == [], text
    assert "giữ nguyên" in text
    shot(page, "22_library_errors_vi", full_page=True)
    assert ui_server.assistant.health()["documents"] == before
    page.watch.check()


def test_copy_answer_copies_the_answer_and_its_sources_only(browser, ui_server):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="vi-VN")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=ui_server.url)
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    open_chat(pg, ui_server.url)
    ask(pg, DIRECTOR_Q, 1)
    pg.locator(FINAL_BOT).last.hover()
    pg.locator('#hdyt-chat button[aria-label="Chép câu trả lời"]').last.click()  # the answer's (the question's is first)
    pg.wait_for_timeout(300)
    copied = pg.evaluate("navigator.clipboard.readText()")
    assert "Lê Ngọc Dũng" in copied and "[1]" in copied and "Nguồn:" in copied
    assert "giây" not in copied and "Hữu ích" not in copied and "Cuộc trò chuyện" not in copied
    context.close()
