"""The Gradio interface: a chat page with a sources panel, and a library tab for the operator.

Every piece of text that comes from a user or a report goes through :mod:`rag.web.render`, which
escapes it; the Chatbot's own sanitiser stays on as a second line of defence.
"""

from __future__ import annotations

import logging

import gradio as gr

from rag.config import Settings
from rag.errors import QueryError, RagError
from rag.ingest.loaders import SUPPORTED_EXTENSIONS
from rag.web import render
from rag.web.assets import LOGO_SVG
from rag.web.library import DOC_HEADERS, Library, status_box
from rag.web.security import ADMIN_LOGIN_JS

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

PLACEHOLDER = (
    '<div class="hdyt-placeholder"><div class="hdyt-placeholder-icon">' + render.ICON_DOC + "</div>"
    "<h2>Hỏi về các báo cáo của ngành y tế</h2>"
    "<p>Mỗi câu trả lời đều dẫn nguồn: bấm vào <b>[1]</b>, <b>[2]</b>… để xem đoạn văn gốc và câu làm căn cứ.</p></div>"
)


def build_ui(assistant, settings: Settings) -> gr.Blocks:
    library = Library(assistant, settings)
    admin_enabled = bool(library.token)

    def dates_by_doc() -> dict[str, list[str]]:
        try:
            return {d.doc_id: d.dates for d in assistant.documents()}
        except Exception:  # pragma: no cover - the panel still renders without dates
            return {}

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

    # -- layout --------------------------------------------------------------------------------

    # delete_cache: Gradio's copies of uploaded files are removed within the hour
    with gr.Blocks(title="Hỏi Đáp Y Tế", analytics_enabled=False, delete_cache=(600, 3600)) as demo:
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
                        status_box(
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
                            interactive=False,  # unlocked by a correct admin token (see token.change below)
                            visible=admin_enabled,  # a disabled drop zone is just an empty box
                            elem_id="hdyt-upload",
                            height=150,
                        )
                        gr.HTML(
                            '<div class="hdyt-hint">Tên tệp (bỏ phần mở rộng) là mã tài liệu: tải lên tệp trùng tên để '
                            f"cập nhật. Tối đa {settings.max_file_mb:g} MB mỗi tệp. Tệp lỗi không làm thay đổi thư viện.</div>"
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
        # the upload route needs an admin session (rag.web.security): a correct token sets its cookie
        token.change(
            lambda t: gr.update(interactive=library.check_token(t) is None),
            [token],
            files,
            js=ADMIN_LOGIN_JS,
            api_visibility="private",
        )
        upload_btn.click(library.upload, [files, token], lib_out, api_visibility="private").then(
            lambda: None, None, files, api_visibility="private"
        )
        delete_btn.click(library.delete, [to_delete, token], lib_out, api_visibility="private")
        refresh.click(lambda: library.refreshed(""), None, lib_out, api_visibility="private")
        demo.load(lambda: library.refreshed(""), None, lib_out, api_visibility="private")
    demo.queue(default_concurrency_limit=16)
    return demo


