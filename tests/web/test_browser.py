"""The product in a real browser: Debian's Chromium driven by Playwright against a real server.

Covers the chat page (answer, [n] links, highlighted quote, follow-up, start over, not found), a
report full of XSS payloads shown as text with no dialog fired, the widget on a second origin,
the library tab (admin upload: good and bad files; read-only without a token), and that the
page fetches nothing from outside. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import http.server
import re
import shutil
import threading
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.helpers import ROOT

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        "Debian's Chromium is not installed (/usr/bin/chromium): apt-get install -y chromium",
        allow_module_level=True,
    )
playwright_sync = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")

ARTIFACTS = ROOT / "tests" / "artifacts"
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
FINAL_BOT = "#hdyt-chat .hdyt-msg.hdyt-bot:not(.hdyt-streaming)"


# -- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


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

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", widget_origin_port), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{widget_origin_port}/"
    httpd.shutdown()


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
    page.locator("#hdyt-docs").get_by_text("bao_cao_moi").first.wait_for()
    assert (Path(ui_server.settings.uploads_dir) / "bao_cao_moi.md").exists()
    shot(page, "09_library_uploaded", full_page=True)
    # wrong token: refused
    page.fill("#hdyt-admin-token input", "wrong")
    page.locator("#hdyt-delete-choice input").click()
    page.get_by_role("option", name="bao_cao_moi").click()
    page.click("#hdyt-delete-btn")
    page.locator("#hdyt-lib-status .hdyt-status-error").wait_for()
    assert "không đúng" in page.locator("#hdyt-lib-status").inner_text()
    # right token: deleted, and its uploaded file removed
    page.fill("#hdyt-admin-token input", ADMIN_TOKEN)
    page.locator("#hdyt-delete-choice input").click()
    page.get_by_role("option", name="bao_cao_moi").click()
    page.click("#hdyt-delete-btn")
    page.locator("#hdyt-lib-status .hdyt-status-ok").wait_for()
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
