"""The Gradio interface: a chat page with a sources panel, and a library tab for the operator.

Every piece of text that comes from a user or a report goes through :mod:`rag.web.render`, which
escapes it; the Chatbot's own sanitiser stays on as a second line of defence.
"""

from __future__ import annotations

import hmac
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import gradio as gr

from ..config import Settings
from ..errors import QueryError, RagError
from ..loaders import SUPPORTED_EXTENSIONS
from . import render

log = logging.getLogger(__name__)

EXAMPLES: list[dict[str, str]] = [
    {
        "text": "Năm 2023, tổng số lượt khám bệnh của các đơn vị y tế tỉnh Quảng Ninh là bao nhiêu?",
        "display_text": "Số liệu · Năm 2023, tổng số lượt khám bệnh của các đơn vị y tế tỉnh Quảng Ninh là bao nhiêu?",
    },
    {"text": "Giám đốc Bệnh viện Bãi Cháy là ai?", "display_text": "Lãnh đạo · Giám đốc Bệnh viện Bãi Cháy là ai?"},
    {
        "text": "Bệnh viện Chấn thương Chỉnh hình được xếp hạng mấy và thuộc tuyến nào?",
        "display_text": "Cơ sở y tế · Bệnh viện Chấn thương Chỉnh hình được xếp hạng mấy và thuộc tuyến nào?",
    },
    {
        "text": "benh vien bai chay kham bao nhieu luot nguoi nam 2023",
        "display_text": "Gõ không dấu · benh vien bai chay kham bao nhieu luot nguoi nam 2023",
    },
]

MAX_HISTORY_SENT = 10  # earlier turns sent with a question (the answerer uses the last few)
DOC_HEADERS = ["Mã tài liệu", "Tiêu đề", "Số đoạn", "Ngày", "Tệp"]
REJECTED_ALL = "Không có tệp nào được thêm: thư viện giữ nguyên"

PLACEHOLDER = (
    '<div class="hdyt-placeholder"><div class="hdyt-placeholder-icon">' + render.ICON_DOC + "</div>"
    "<h2>Hỏi về các báo cáo của ngành y tế</h2>"
    "<p>Mỗi câu trả lời đều dẫn nguồn: bấm vào <b>[1]</b>, <b>[2]</b>… để xem đoạn văn gốc và câu làm căn cứ.</p></div>"
)


def _admin_token(settings: Settings) -> str:
    return settings.admin_token.get_secret_value() if settings.admin_token else ""


def uploads_dir(settings: Settings) -> Path:
    return Path(settings.index_dir) / "uploads"


def _status(kind: str, title: str, items: list[str] = ()) -> str:
    """A status box: a title line and an optional list; all plain text (escaped here)."""
    body = "".join(f"<li>{render.esc(item)}</li>" for item in items)
    return (
        f'<div class="hdyt-status hdyt-status-{kind}" role="status">'
        f'<div class="hdyt-status-title">{render.esc(title)}</div>'
        + (f"<ul>{body}</ul>" if body else "")
        + "</div>"
    )


def _safe_name(name: str) -> str | None:
    """The file's own name (no directory part); ``None`` for names that cannot be stored."""
    name = Path(name.replace("\\", "/")).name.strip()
    if not name or name.startswith(".") or "\x00" in name or len(name.encode()) > 200:
        return None
    return name


def build_ui(assistant, settings: Settings) -> gr.Blocks:
    admin_enabled = bool(_admin_token(settings))

    def dates_by_doc() -> dict[str, list[str]]:
        try:
            return {d.doc_id: d.dates for d in assistant.documents()}
        except Exception:  # pragma: no cover - the panel still renders without dates
            return {}

    def doc_rows() -> list[list[Any]]:
        uploads = uploads_dir(settings).resolve()

        def origin(source: str) -> str:
            kind = Path(source).suffix.lstrip(".").upper() or "?"
            return f"{kind} · {'tải lên' if Path(source).resolve().parent == uploads else 'kho gốc'}"

        return [
            [d.doc_id, d.title, d.n_chunks, ", ".join(render.format_date(x) for x in d.dates[:2]) or "–", origin(d.source)]
            for d in assistant.documents()
        ]

    def library_summary() -> str:
        try:
            h = assistant.health()
        except Exception as exc:
            return _status("error", f"Chưa nạp được chỉ mục: {exc}")
        return (
            f'<div class="hdyt-libstats"><div><b>{int(h.get("documents", 0))}</b><span>tài liệu</span></div>'
            f'<div><b>{int(h.get("chunks", 0))}</b><span>đoạn văn</span></div>'
            f'<div><b class="hdyt-small">{render.esc(h.get("model_id", ""))}</b><span>mô hình nhúng</span></div></div>'
        )

    # -- chat ----------------------------------------------------------------------------------

    def respond(question: str, chat: list, pairs: list, turns: list):
        question = (question or "").strip()
        if not question:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        chat = list(chat or []) + [
            {"role": "user", "content": render.render_user_message(question)},
            {"role": "assistant", "content": render.render_streaming_message("")},
        ]
        sources_now = render.render_sources(turns, dates_by_doc()) if turns else render.EMPTY_SOURCES_HTML
        yield "", chat, pairs, turns, gr.skip()
        final = None
        text = ""
        try:
            history = pairs[-MAX_HISTORY_SENT:]
            for part in assistant.stream(question, history):
                if isinstance(part, str):
                    text += part
                    chat[-1] = {"role": "assistant", "content": render.render_streaming_message(text)}
                    yield gr.skip(), chat, gr.skip(), gr.skip(), gr.skip()
                else:
                    final = part
            if final is None:
                final = assistant.ask(question, history)
        except QueryError as exc:
            chat[-1] = {"role": "assistant", "content": render.render_error_message(str(exc))}
            yield gr.skip(), chat, pairs, turns, sources_now
            return
        except Exception as exc:  # keep the page alive; the log has the trace
            log.exception("answer failed")
            msg = str(exc) if isinstance(exc, RagError) else "Đã có lỗi khi tạo câu trả lời, vui lòng thử lại."
            chat[-1] = {"role": "assistant", "content": render.render_error_message(msg)}
            yield gr.skip(), chat, pairs, turns, sources_now
            return
        turn = len(turns) + 1
        # model_dump, not to_json_dict: the page also shows ``related`` ("có thể liên quan") passages
        data = final.model_dump() if hasattr(final, "model_dump") else dict(final)
        chat[-1] = {"role": "assistant", "content": render.render_answer_message(data, turn)}
        pairs = list(pairs) + [[question, data.get("answer", "")]]
        turns = list(turns) + [{"turn": turn, "question": question, "answer": data}]
        yield gr.skip(), chat, pairs, turns, render.render_sources(turns, dates_by_doc())

    def start_over():
        return [], [], [], render.EMPTY_SOURCES_HTML, ""

    def use_example(evt: gr.SelectData):
        value = evt.value
        return value.get("text", "") if isinstance(value, dict) else str(value)

    # -- library -------------------------------------------------------------------------------

    def _check(token: str) -> str | None:
        if not admin_enabled:
            return "Chức năng quản trị đang tắt: máy chủ chưa đặt mã quản trị (HDYT_ADMIN_TOKEN)."
        if not token or not hmac.compare_digest(token.encode(), _admin_token(settings).encode()):
            return "Mã quản trị không đúng."
        return None

    def refreshed(status_html: str):
        rows = doc_rows()
        ids = [r[0] for r in rows]
        return status_html, rows, gr.update(choices=ids, value=None), library_summary()

    def upload(files, token: str):
        problem = _check(token)
        if problem:
            return refreshed(_status("error", problem))
        paths = [Path(f if isinstance(f, str) else getattr(f, "name", "")) for f in (files or [])]
        if not paths:
            return refreshed(_status("warn", "Chưa chọn tệp nào để tải lên."))
        errors: list[str] = []
        accepted: list[tuple[Path, str]] = []
        limit = settings.max_upload_mb * 1024 * 1024
        for p in paths:
            name = _safe_name(p.name)
            if name is None:
                errors.append(f"{p.name}: tên tệp không hợp lệ")
            elif Path(name).suffix.lower() not in SUPPORTED_EXTENSIONS:
                errors.append(f"{name}: định dạng không hỗ trợ (chỉ nhận {', '.join(SUPPORTED_EXTENSIONS)})")
            elif p.stat().st_size > limit:
                errors.append(f"{name}: tệp lớn hơn giới hạn {settings.max_upload_mb} MB")
            else:
                accepted.append((p, name))
        if not accepted:
            return refreshed(_status("error", REJECTED_ALL, errors))
        target = uploads_dir(settings)
        target.mkdir(parents=True, exist_ok=True)
        placed: list[tuple[Path, Path | None]] = []  # (file in uploads/, backup of what it replaced)
        for src, name in accepted:
            dest = target / name
            backup = None
            if dest.exists():
                backup = target / f".{name}.bak-{uuid.uuid4().hex[:8]}"
                os.replace(dest, backup)
            shutil.copyfile(src, dest)
            placed.append((dest, backup))

        def restore(dest: Path, backup: Path | None) -> None:
            dest.unlink(missing_ok=True)
            if backup is not None:
                os.replace(backup, dest)

        try:
            report = assistant.add_files([dest for dest, _ in placed])
        except RagError as exc:
            for dest, backup in placed:
                restore(dest, backup)
            return refreshed(_status("error", REJECTED_ALL, errors + [str(exc)]))
        except Exception as exc:
            log.exception("upload failed")
            for dest, backup in placed:
                restore(dest, backup)
            return refreshed(_status("error", REJECTED_ALL, errors + [f"lỗi khi lập chỉ mục: {exc}"]))
        failed = {str(Path(p).resolve()): reason for p, reason in [*report.errors, *report.skipped]}
        for dest, backup in placed:
            reason = failed.get(str(dest.resolve()))
            if reason is not None:
                restore(dest, backup)
                errors.append(f"{dest.name}: {reason}")
            elif backup is not None:
                backup.unlink(missing_ok=True)
        lines = []
        if report.added:
            lines.append("Đã thêm: " + ", ".join(report.added))
        if report.updated:
            lines.append("Đã cập nhật: " + ", ".join(report.updated))
        ok_names = {dest.stem for dest, _ in placed} - set(report.added) - set(report.updated)
        unchanged = sorted(ok_names & set(report.unchanged))
        if unchanged:
            lines.append("Không thay đổi (nội dung giống bản đã có): " + ", ".join(unchanged))
        total = f"Thư viện hiện có {report.n_documents} tài liệu, {report.n_chunks} đoạn văn."
        if errors and not lines:
            return refreshed(_status("error", REJECTED_ALL, errors))
        if errors:
            return refreshed(_status("warn", "Một số tệp bị từ chối", lines + [f"Bị từ chối: {e}" for e in errors] + [total]))
        return refreshed(_status("ok", "Đã cập nhật thư viện" if lines else "Không có thay đổi", lines + [total]))

    def delete(doc_id: str | None, token: str):
        problem = _check(token)
        if problem:
            return refreshed(_status("error", problem))
        if not doc_id:
            return refreshed(_status("warn", "Chọn một tài liệu để xoá."))
        source = next((d.source for d in assistant.documents() if d.doc_id == doc_id), None)
        try:
            assistant.delete([doc_id])
        except RagError as exc:
            return refreshed(_status("error", f"Không xoá được {doc_id}", [str(exc)]))
        if source:
            src = Path(source).resolve()
            if src.parent == uploads_dir(settings).resolve():
                src.unlink(missing_ok=True)
        return refreshed(_status("ok", f"Đã xoá tài liệu {doc_id}."))

    # -- layout --------------------------------------------------------------------------------

    with gr.Blocks(title="Hỏi Đáp Y Tế", analytics_enabled=False) as demo:
        pairs = gr.State([])
        turns = gr.State([])
        gr.HTML(
            '<header class="hdyt-header"><div class="hdyt-logo">' + LOGO_SVG + "</div><div>"
            '<div class="hdyt-brand">Hỏi Đáp Y Tế</div>'
            '<div class="hdyt-tagline">Trợ lý tra cứu báo cáo ngành y tế: mỗi câu trả lời đều kèm đoạn trích nguồn</div>'
            "</div></header>",
            elem_id="hdyt-header",
        )
        with gr.Tabs(elem_id="hdyt-tabs"):
            with gr.Tab("Hỏi đáp", id="chat", elem_id="hdyt-tab-chat"):
                with gr.Row(equal_height=False, elem_id="hdyt-main"):
                    with gr.Column(scale=3, min_width=420, elem_id="hdyt-chat-col"):
                        chatbot = gr.Chatbot(
                            label="Hội thoại",
                            show_label=False,
                            elem_id="hdyt-chat",
                            height="64vh",
                            min_height=420,
                            layout="bubble",
                            placeholder=PLACEHOLDER,
                            examples=EXAMPLES,
                            feedback_options=None,
                            latex_delimiters=[],
                            buttons=["copy"],
                            autoscroll=True,
                        )
                        question = gr.Textbox(
                            placeholder="Nhập câu hỏi về các báo cáo y tế… (Enter để gửi, Shift+Enter xuống dòng)",
                            show_label=False,
                            lines=1,
                            max_lines=6,
                            max_length=settings.max_question_chars,
                            elem_id="hdyt-question",
                            submit_btn="Gửi",
                            autofocus=True,
                        )
                        with gr.Row(elem_id="hdyt-actions"):
                            new_chat = gr.Button(
                                "Cuộc trò chuyện mới", variant="secondary", size="sm", elem_id="hdyt-new-chat"
                            )
                            gr.HTML(
                                '<div class="hdyt-disclaimer">Câu trả lời chỉ dựa trên các báo cáo trong thư viện. '
                                "Hãy kiểm tra đoạn trích nguồn trước khi sử dụng.</div>"
                            )
                    with gr.Column(scale=2, min_width=340, elem_id="hdyt-sources-col"):
                        gr.HTML('<div class="hdyt-panel-title">Nguồn trích dẫn</div>')
                        sources = gr.HTML(render.EMPTY_SOURCES_HTML, elem_id="hdyt-sources-panel")

            with gr.Tab("Thư viện tài liệu", id="library", elem_id="hdyt-tab-library"):
                stats = gr.HTML(elem_id="hdyt-libstats")
                if not admin_enabled:
                    gr.HTML(
                        _status(
                            "info",
                            "Chế độ chỉ xem: tải lên và xoá tài liệu đang tắt vì máy chủ chưa đặt mã quản trị "
                            "(biến môi trường HDYT_ADMIN_TOKEN hoặc admin_token trong hdyt.toml).",
                        ),
                        elem_id="hdyt-admin-off",
                    )
                with gr.Row(equal_height=False):
                    with gr.Column(scale=2, min_width=320, elem_classes=["hdyt-card"]):
                        gr.HTML('<div class="hdyt-card-title">Thêm hoặc cập nhật báo cáo</div>')
                        token = gr.Textbox(
                            label="Mã quản trị",
                            type="password",
                            placeholder="Nhập mã quản trị" if admin_enabled else "Chưa cấu hình",
                            interactive=admin_enabled,
                            elem_id="hdyt-admin-token",
                        )
                        files = gr.File(
                            label="Tệp báo cáo (.txt .md .html .pdf .docx)",
                            file_count="multiple",
                            file_types=list(SUPPORTED_EXTENSIONS),
                            type="filepath",
                            interactive=admin_enabled,
                            visible=admin_enabled,  # a disabled drop zone is just an empty box
                            elem_id="hdyt-upload",
                            height=150,
                        )
                        gr.HTML(
                            '<div class="hdyt-hint">Tên tệp (bỏ phần mở rộng) là mã tài liệu: tải lên tệp trùng tên để '
                            f"cập nhật. Tối đa {settings.max_upload_mb} MB mỗi tệp. Tệp lỗi không làm thay đổi thư viện.</div>"
                        )
                        upload_btn = gr.Button(
                            "Tải lên và lập chỉ mục", variant="primary", interactive=admin_enabled, elem_id="hdyt-upload-btn"
                        )
                        gr.HTML('<div class="hdyt-card-title hdyt-danger-title">Xoá tài liệu</div>')
                        with gr.Row(equal_height=False, elem_id="hdyt-delete-row"):
                            to_delete = gr.Dropdown(
                                label="Tài liệu",
                                choices=[],
                                interactive=admin_enabled,
                                scale=3,
                                elem_id="hdyt-delete-choice",
                            )
                            delete_btn = gr.Button(
                                "Xoá", variant="stop", interactive=admin_enabled, scale=1, min_width=80, elem_id="hdyt-delete-btn"
                            )
                        status = gr.HTML(elem_id="hdyt-lib-status")
                    with gr.Column(scale=5, min_width=420, elem_classes=["hdyt-card"]):
                        with gr.Row():
                            gr.HTML('<div class="hdyt-card-title">Tài liệu đã lập chỉ mục</div>')
                            refresh = gr.Button("Làm mới", size="sm", scale=0, min_width=100, elem_id="hdyt-refresh")
                        table = gr.Dataframe(
                            headers=DOC_HEADERS,
                            datatype=["str", "str", "number", "str", "str"],
                            interactive=False,
                            wrap=True,
                            elem_id="hdyt-docs",
                            column_widths=["20%", "46%", "8%", "14%", "12%"],
                            max_height=720,
                        )

        chat_io = dict(inputs=[question, chatbot, pairs, turns], outputs=[question, chatbot, pairs, turns, sources])
        question.submit(respond, **chat_io, api_visibility="private", show_progress="hidden")
        chatbot.example_select(use_example, None, question, api_visibility="private").then(
            respond, **chat_io, api_visibility="private", show_progress="hidden"
        )
        new_chat.click(start_over, None, [chatbot, pairs, turns, sources, question], api_visibility="private")
        chatbot.clear(start_over, None, [chatbot, pairs, turns, sources, question], api_visibility="private")

        lib_out = [status, table, to_delete, stats]
        upload_btn.click(upload, [files, token], lib_out, api_visibility="private").then(
            lambda: None, None, files, api_visibility="private"
        )
        delete_btn.click(delete, [to_delete, token], lib_out, api_visibility="private")
        refresh.click(lambda: refreshed(""), None, lib_out, api_visibility="private")
        demo.load(lambda: refreshed(""), None, lib_out, api_visibility="private")
    demo.queue(default_concurrency_limit=16)
    return demo


GRADIO_STRINGS_VI = {
    "upload_text.click_to_upload": "Bấm để chọn tệp",
    "upload_text.drop_file": "Kéo thả tệp vào đây",
    "common.or": "hoặc",
    "common.clear": "Xoá",
    "common.loading": "Đang tải",
    "common.error": "Lỗi",
    "common.remove": "Bỏ",
    "common.empty": "Trống",
    "common.submit": "Gửi",
    "common.download": "Tải xuống",
    "chatbot.copy_message": "Chép câu trả lời",
    "chatbot.copied_message": "Đã chép",
    "chatbot.clear": "Xoá hội thoại",
    "chatbot.retry": "Thử lại",
    "chatbot.undo": "Hoàn tác",
    "chatbot.like": "Hữu ích",
    "chatbot.dislike": "Không hữu ích",
    "chat_interface.conversation": "Hội thoại",
    "dataframe.sort_column": "Sắp xếp cột",
    "dataframe.sort_ascending": "Tăng dần",
    "dataframe.sort_descending": "Giảm dần",
    "file.uploading": "Đang tải lên…",
}

LOGO_SVG = (
    '<svg viewBox="0 0 24 24" width="26" height="26" aria-hidden="true"><path fill="#fff" '
    'd="M9 3h6v6h6v6h-6v6H9v-6H3V9h6z"/></svg>'
)

THEME_KW = dict(
    primary_hue="teal",
    secondary_hue="sky",
    neutral_hue="slate",
    radius_size="md",
    font=["system-ui", "-apple-system", "Segoe UI", "Roboto", "Noto Sans", "Helvetica Neue", "Arial", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "DejaVu Sans Mono", "monospace"],
)


def theme() -> gr.themes.Base:
    """System fonts only: nothing is fetched from a font CDN."""
    return gr.themes.Soft(**THEME_KW)


HEAD = """
<meta name="description" content="Hỏi Đáp Y Tế: trợ lý hỏi đáp về báo cáo ngành y tế, có trích dẫn nguồn">
<script>
(function () {
  // [n] links in answers → the passage card in the sources panel (folded turns open on demand)
  function flash(el) {
    el.classList.remove("hdyt-flash");
    void el.offsetWidth;
    el.classList.add("hdyt-flash");
  }
  document.addEventListener("click", function (ev) {
    var t = ev.target;
    var a = t && t.closest ? t.closest("a.hdyt-cite, a.hdyt-rel-link") : null;
    if (!a) return;
    ev.preventDefault();
    ev.stopPropagation();
    var id = (a.getAttribute("href") || "").replace(/^#/, "");
    var el = id ? document.getElementById(id) : null;
    if (!el) return;
    var d = el.closest("details");
    if (d && !d.open) d.open = true;
    var col = el.closest("#hdyt-sources-col");
    if (col && getComputedStyle(col).position === "sticky") {
      // scroll the sticky sources column only, not the page
      var r = el.getBoundingClientRect(), c = col.getBoundingClientRect();
      var offset = r.top - c.top - Math.max(0, (c.height - r.height) / 2);
      col.scrollTo({ top: col.scrollTop + offset, behavior: "smooth" });
    } else {
      el.scrollIntoView({ behavior: "smooth", block: "center", inline: "nearest" });
    }
    flash(el);
  }, true);

  // Messages are HTML strings: give screen readers their text, and copy text rather than markup.
  function textOf(msg) {
    var c = msg.querySelector(".message-content") || msg;
    return (c.innerText || c.textContent || "").trim();
  }
  function fixLabels() {
    document.querySelectorAll('#hdyt-chat [data-testid="user"], #hdyt-chat [data-testid="bot"]').forEach(function (m) {
      var who = m.getAttribute("data-testid") === "user" ? "Câu hỏi: " : "Trả lời: ";
      var label = who + textOf(m).slice(0, 400);
      if (m.getAttribute("aria-label") !== label) m.setAttribute("aria-label", label);
    });
  }
  var pending = false;
  new MutationObserver(function () {
    if (pending) return;
    pending = true;
    setTimeout(function () { pending = false; fixLabels(); }, 250);
  }).observe(document.documentElement, { childList: true, subtree: true });
  document.addEventListener("click", function (ev) {
    var btn = ev.target && ev.target.closest
      ? ev.target.closest('#hdyt-chat button[aria-label="Copy message"], #hdyt-chat button[aria-label="Chép câu trả lời"]')
      : null;
    if (!btn || !navigator.clipboard) return;
    var row = btn.closest(".message-row") || btn.closest(".message-wrap");
    var prev = btn.closest(".message-buttons-right, .message-buttons-left, .message-buttons");
    var msg = (prev && prev.previousElementSibling && prev.previousElementSibling.querySelector('[data-testid]')) ||
      (row && row.querySelector('[data-testid="bot"], [data-testid="user"]'));
    if (!msg) return;
    ev.preventDefault();
    ev.stopPropagation();
    navigator.clipboard.writeText(textOf(msg)).catch(function () {});
  }, true);
})();
</script>
"""

CSS = """
.gradio-container { max-width: 1440px !important; margin: 0 auto !important; }
footer { display: none !important; }
#hdyt-header { padding: 0 !important; }
.hdyt-header { display: flex; align-items: center; gap: 14px; padding: 14px 18px; border-radius: 14px;
  background: linear-gradient(120deg, #0f766e 0%, #0e7490 55%, #1d4ed8 100%); color: #fff;
  box-shadow: 0 6px 20px rgba(15, 118, 110, .18); }
.hdyt-logo { width: 44px; height: 44px; border-radius: 12px; background: rgba(255,255,255,.16);
  display: flex; align-items: center; justify-content: center; font-size: 26px; }
.hdyt-brand { font-size: 1.35rem; font-weight: 700; letter-spacing: .2px; }
.hdyt-tagline { font-size: .92rem; opacity: .9; }

#hdyt-chat { border-radius: 14px !important; }
.hdyt-placeholder { text-align: center; color: var(--body-text-color-subdued); padding: 8px 12px; }
.hdyt-placeholder-icon { font-size: 40px; }
.hdyt-placeholder h2 { font-size: 1.2rem; margin: .3rem 0; color: var(--body-text-color); }
.hdyt-msg { line-height: 1.6; }
.hdyt-msg .hdyt-p { margin: 0 0 .5em 0; }
.hdyt-msg .hdyt-p:last-child { margin-bottom: 0; }
.hdyt-user { white-space: normal; }
a.hdyt-cite { display: inline-block; min-width: 1.6em; padding: 0 .35em; margin: 0 1px; border-radius: 999px;
  font-size: .78em; font-weight: 700; line-height: 1.5; text-align: center; vertical-align: super;
  background: #ccfbf1; color: #0f766e !important; text-decoration: none !important; cursor: pointer;
  border: 1px solid #99f6e4; }
a.hdyt-cite:hover { background: #0f766e; color: #fff !important; }
.hdyt-chips { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin-top: .7em; padding-top: .6em;
  border-top: 1px dashed var(--border-color-primary); }
.hdyt-chips-label { font-size: .8em; color: var(--body-text-color-subdued); margin-right: 2px; }
a.hdyt-chip { vertical-align: baseline; font-size: .8em; font-weight: 500; padding: 2px 10px 2px 3px;
  display: inline-flex; align-items: center; gap: 6px; max-width: 100%; border-radius: 999px; text-align: left; }
a.hdyt-chip .hdyt-chip-n { background: #0f766e; color: #fff; border-radius: 999px; min-width: 1.5em; height: 1.5em;
  display: inline-flex; align-items: center; justify-content: center; font-weight: 700; }
a.hdyt-chip:hover .hdyt-chip-n { background: #fff; color: #0f766e; }
a.hdyt-chip-related { background: #fef3c7 !important; color: #92400e !important; border-color: #fde68a !important;
  padding: 2px 10px !important; text-decoration: none !important; }
.hdyt-rewritten { font-size: .85em; color: var(--body-text-color-subdued); margin-bottom: .5em; }
.hdyt-latency { font-size: .72em; color: var(--body-text-color-subdued); margin-top: .4em; text-align: right; }
.hdyt-notfound { border: 1px solid #fcd34d; background: #fffbeb; color: #78350f; border-radius: 10px; padding: .6em .8em; }
.hdyt-notfound-title { font-weight: 700; margin-bottom: .2em; }
.hdyt-error .hdyt-p { color: #b91c1c; }
.hdyt-caret { display: inline-block; width: .5em; height: 1em; margin-left: 2px; vertical-align: text-bottom;
  background: currentColor; opacity: .5; animation: hdyt-blink 1s steps(2, start) infinite; }
@keyframes hdyt-blink { to { visibility: hidden; } }
#hdyt-actions { align-items: center; }
#hdyt-new-chat { flex: 0 0 auto !important; max-width: 240px; }
.hdyt-disclaimer { font-size: .8rem; color: var(--body-text-color-subdued); }

.hdyt-panel-title { font-weight: 700; font-size: 1.02rem; padding: 4px 2px; }
#hdyt-sources-panel { padding-right: 4px; }
.hdyt-sources-empty { text-align: center; color: var(--body-text-color-subdued); border: 1px dashed var(--border-color-primary);
  border-radius: 14px; padding: 28px 18px; }
.hdyt-empty-icon { font-size: 34px; }
.hdyt-turn-q { font-weight: 600; margin: 2px 0 6px; }
.hdyt-section-label { font-size: .78rem; text-transform: uppercase; letter-spacing: .04em; color: var(--body-text-color-subdued);
  margin: 10px 0 6px; font-weight: 700; }
.hdyt-section-related { color: #92400e; }
.hdyt-section-related small { text-transform: none; letter-spacing: 0; font-weight: 500; }
.hdyt-src { border: 1px solid var(--border-color-primary); border-radius: 12px; padding: 10px 12px; margin: 0 0 10px;
  background: var(--background-fill-primary); box-shadow: 0 1px 2px rgba(0,0,0,.04); scroll-margin: 80px;
  transition: box-shadow .3s, border-color .3s; }
.hdyt-src.hdyt-related { border-style: dashed; background: var(--background-fill-secondary); }
.hdyt-src-head { display: flex; gap: 10px; align-items: flex-start; }
.hdyt-badge { flex: 0 0 auto; width: 26px; height: 26px; border-radius: 999px; background: #0f766e; color: #fff;
  display: flex; align-items: center; justify-content: center; font-weight: 700; font-size: .85rem; }
.hdyt-badge-related { background: #f59e0b; }
.hdyt-src-title { font-weight: 650; line-height: 1.35; }
.hdyt-src-meta { font-size: .78rem; color: var(--body-text-color-subdued); margin-top: 2px; }
.hdyt-docid { font-family: var(--font-mono); }
blockquote.hdyt-passage { margin: 8px 0 0; padding: 8px 10px; border-left: 3px solid #5eead4; background: var(--background-fill-secondary);
  border-radius: 0 8px 8px 0; font-size: .9rem; line-height: 1.6; white-space: normal; overflow-wrap: anywhere; }
mark.hdyt-quote { background: #fef08a; color: inherit; padding: 1px 2px; border-radius: 3px; box-shadow: inset 0 -2px 0 #facc15; }
.hdyt-src.hdyt-flash { border-color: #0f766e; box-shadow: 0 0 0 3px rgba(13, 148, 136, .35); }
details.hdyt-turn-old { border-top: 1px solid var(--border-color-primary); padding: 8px 0; }
details.hdyt-turn-old > summary { cursor: pointer; color: var(--body-text-color-subdued); font-size: .9rem; }
.hdyt-notfound-panel { margin: 6px 0 4px; }
.hdyt-notfound-panel p { margin: 0; }

.hdyt-card { border: 1px solid var(--border-color-primary); border-radius: 14px; padding: 12px !important; }
.hdyt-card-title { font-weight: 700; font-size: 1rem; }
.hdyt-danger-title { margin-top: 10px; color: #b91c1c; }
.hdyt-hint { font-size: .8rem; color: var(--body-text-color-subdued); }
.hdyt-status { display: flex; gap: 8px; align-items: flex-start; border-radius: 10px; padding: 8px 12px; margin-top: 6px; font-size: .9rem; }
.hdyt-status ul { margin: 0; padding-left: 1.1em; }
.hdyt-status-ok { background: #ecfdf5; border: 1px solid #6ee7b7; color: #065f46; }
.hdyt-status-error { background: #fef2f2; border: 1px solid #fca5a5; color: #991b1b; }
.hdyt-status-warn { background: #fffbeb; border: 1px solid #fcd34d; color: #92400e; }
.hdyt-status-info { background: #eff6ff; border: 1px solid #93c5fd; color: #1e3a8a; }
.hdyt-libstats { display: flex; gap: 12px; flex-wrap: wrap; }
.hdyt-libstats > div { flex: 1 1 140px; border: 1px solid var(--border-color-primary); border-radius: 12px; padding: 10px 14px;
  display: flex; flex-direction: column; }
.hdyt-libstats b { font-size: 1.4rem; color: #0f766e; }
.hdyt-libstats b.hdyt-small { font-size: .95rem; font-family: var(--font-mono); word-break: break-all; }
.hdyt-libstats span { font-size: .8rem; color: var(--body-text-color-subdued); }
@media (max-width: 900px) { #hdyt-sources-col { position: static; max-height: none; overflow: visible; } }

#hdyt-sources-panel blockquote.hdyt-passage, .hdyt-sources blockquote.hdyt-passage { margin: 8px 0 0 !important; padding: 8px 10px !important;
  border-left: 3px solid #5eead4 !important; font-style: normal !important; quotes: none; color: var(--body-text-color) !important; }
.hdyt-ico { display: inline-block !important; vertical-align: -1px; margin: 0 3px 0 0 !important; }
#hdyt-question .submit-button { background: var(--button-primary-background-fill) !important; color: #fff !important;
  border-radius: 10px !important; padding: 0 18px !important; font-weight: 600; min-height: 38px; align-self: flex-end; }
#hdyt-question .submit-button:hover { background: var(--button-primary-background-fill-hover) !important; }
.hdyt-turn-q { display: flex; gap: 8px; align-items: baseline; }
.hdyt-turn-q-label { flex: 0 0 auto; font-size: .7rem; font-weight: 700; text-transform: uppercase; letter-spacing: .04em;
  background: #e0f2fe; color: #075985; border-radius: 6px; padding: 1px 6px; }
.hdyt-rewritten em { font-style: normal; font-weight: 600; color: var(--body-text-color); }
.hdyt-status { flex-direction: column; gap: 2px; }
.hdyt-status-title { font-weight: 700; }
#hdyt-docs, #hdyt-docs * { font-family: var(--font) !important; }
#hdyt-docs td:first-child, #hdyt-docs td:first-child * { font-family: var(--font-mono) !important; font-size: .85em; }
#hdyt-sources-col { position: sticky; top: 8px; align-self: flex-start; max-height: calc(100vh - 16px); overflow-y: auto;
  overflow-x: hidden; overscroll-behavior: contain; min-width: 0; flex-wrap: nowrap !important; }
#hdyt-sources-col > * { flex-shrink: 0; }
#hdyt-sources-col > :first-child { position: sticky; top: 0; z-index: 2; background: var(--body-background-fill); }
#hdyt-delete-btn { align-self: flex-end; max-height: 46px; min-height: 42px; }
.hdyt-user { color: var(--body-text-color); }
#hdyt-question { border-radius: 14px !important; box-shadow: 0 2px 10px rgba(15, 23, 42, .06); }
#hdyt-question textarea { font-size: 1rem !important; }
"""
