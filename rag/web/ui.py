"""The Gradio interface: a chat page with a sources panel, and a library tab for the operator.

Every piece of text that comes from a user or a report goes through :mod:`rag.web.render`, which
escapes it; the Chatbot's own sanitiser stays on as a second line of defence.
"""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import ThreadPoolExecutor

import gradio as gr

from rag.config import Settings
from rag.errors import QueryError, RagError
from rag.retrieval.filters import SearchFilter
from rag.web import render
from rag.web import sources as cards
from rag.web.assets import LOGO_SVG
from rag.web.library import DOC_HEADERS, Library, status_box
from rag.web.security import ADMIN_LOGIN_JS, FailureThrottle, SlidingWindowLimiter

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

# the question box while an answer is on its way (a stop button instead of "Gửi") and after
def busy() -> dict:
    return gr.update(value="", submit_btn=False, stop_btn="Dừng")


def idle() -> dict:
    return gr.update(submit_btn="Gửi", stop_btn=False)

MAX_HISTORY_SENT = 10  # earlier turns sent with a question (the answerer uses the last few)

# Answers are computed on these threads and awaited beside the session's stop event, so that "Dừng"
# ends the wait at once and the answering event then returns normally. (Cancelling it with Gradio's
# ``cancels`` instead lets a cancel that lands between two of Gradio's steps mark the chat as failed,
# "Lỗi", over the stopped answer.) An abandoned thread finishes its call; its result is dropped.
_ANSWER_THREADS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="hdyt-answer")
_END = object()
_STOPPED = object()


async def _unless_stopped(stop: asyncio.Event, fn, *args):
    """``fn(*args)`` on an answer thread, or :data:`_STOPPED` as soon as ``stop`` is set."""
    work = asyncio.get_running_loop().run_in_executor(_ANSWER_THREADS, fn, *args)
    halt = asyncio.ensure_future(stop.wait())
    await asyncio.wait({work, halt}, return_when=asyncio.FIRST_COMPLETED)
    halt.cancel()
    if stop.is_set() or not work.done():  # a result that came with the stop is dropped too
        work.add_done_callback(lambda f: f.cancelled() or f.exception())  # an abandoned call's error is not news
        return _STOPPED
    return work.result()

PLACEHOLDER = (
    '<div class="hdyt-placeholder"><div class="hdyt-placeholder-icon">' + cards.ICON_DOC + "</div>"
    "<h2>Hỏi về các báo cáo của ngành y tế</h2>"
    "<p>Mỗi câu trả lời đều dẫn nguồn: bấm vào <b>[1]</b>, <b>[2]</b>… để xem đoạn văn gốc và câu làm căn cứ.</p></div>"
)


def _turn_data(answer) -> dict:
    """An answer as a turn keeps it: model_dump, not to_json_dict (the page also shows ``related``
    passages, and ``provisional`` tells a stop what it ends), without the timings."""
    data = answer.model_dump() if hasattr(answer, "model_dump") else dict(answer)
    data.pop("timings_ms", None)
    return data


def document_list(label: str, elem_id: str, **options) -> gr.Dropdown:
    """A searchable list of the library's documents (the filter's and the delete list), empty until the
    page loads: its choices are ``Library.delete_choices`` (title · date · file → doc id)."""
    return gr.Dropdown(label=label, choices=[], filterable=True, scale=3, elem_id=elem_id, **options)


def build_ui(assistant, settings: Settings, throttle: FailureThrottle, writes: SlidingWindowLimiter) -> gr.Blocks:
    library = Library(assistant, settings, throttle, writes)
    admin_enabled = bool(library.token)

    def doc_meta() -> tuple[dict[str, list[str]], dict[str, str], set[str]]:
        """doc_id → dates, doc_id → file name, the ids of OCR'd documents (for the source cards)."""
        try:
            docs = assistant.documents()
        except Exception:  # pragma: no cover - the panel still renders without them
            return {}, {}, set()
        names = cards.source_names({d.doc_id: d.source for d in docs})
        return {d.doc_id: d.dates for d in docs}, names, {d.doc_id for d in docs if d.ocr_pages}

    def panel(turns: list) -> str:
        return cards.render_sources(turns, *doc_meta()) if turns else cards.EMPTY_SOURCES_HTML

    # -- chat ----------------------------------------------------------------------------------

    stops: dict[str, asyncio.Event] = {}  # session → the stop event of its answer on the way

    async def respond(
        question: str,
        chat: list,
        pairs: list,
        turns: list,
        docs: list | None = None,
        since: str = "",
        until: str = "",
        request: gr.Request | None = None,
    ):
        """Outputs: question box, chat, pairs, turns, sources panel, conversation JSON (saved by the page).

        ``docs``, ``since``, ``until``: the filter controls (documents, a date range), applied inside retrieval.
        "Dừng" (:func:`stopped`) sets the session's stop event: the answer then ends here without a word
        more, and the stop handler shows what was stopped."""
        question = (question or "").strip()
        if not question:
            yield (gr.skip(),) * 6
            return
        session = getattr(request, "session_hash", None) or ""
        stop = stops[session] = asyncio.Event()
        try:
            async for update in _answer(question, chat, pairs, turns, docs, since, until, stop):
                yield update
        finally:
            if stops.get(session) is stop:
                del stops[session]

    async def _answer(question: str, chat: list, pairs: list, turns: list, docs, since: str, until: str, stop: asyncio.Event):
        chat = list(chat or []) + [
            {"role": "user", "content": render.render_user_message(question)},
            {"role": "assistant", "content": render.render_pending_message()},
        ]
        # an answer is complete before any of it is streamed, so it is sent in one update (word-by-word
        # updates only made the browser wait longer for the same text); a provisional one is shown at once
        yield busy(), chat, gr.skip(), gr.skip(), gr.skip(), gr.skip()
        history = pairs[-MAX_HISTORY_SENT:]
        try:
            search_filter = SearchFilter.parse(docs, since, until)  # a bad date: its message in the chat
            final = None
            parts = await _unless_stopped(stop, lambda: iter(assistant.stream(question, history, search_filter=search_filter)))
            if parts is _STOPPED:
                return
            while (part := await _unless_stopped(stop, next, parts, _END)) is not _END:
                if part is _STOPPED:
                    return
                if isinstance(part, str):
                    continue  # word deltas of an answer that is already complete: it is shown whole
                if getattr(part, "provisional", False):  # extractive first; a verified LLM answer may follow
                    # shown with its sources; kept as the turn if "Dừng" ends the wait (the final one replaces it)
                    data = _turn_data(part)
                    chat[-1] = {"role": "assistant", "content": render.render_answer_message(data, len(turns) + 1, doc_meta()[0])}
                    waiting = list(turns) + [
                        {"turn": len(turns) + 1, "question": question, "answer": data, "history": [list(p) for p in history]}
                    ]
                    yield gr.skip(), chat, pairs, waiting, panel(waiting), gr.skip()  # pairs: "Hỏi lại" trimmed them
                else:
                    final = part
            if final is None:
                final = await _unless_stopped(stop, lambda: assistant.ask(question, history, search_filter=search_filter))
                if final is _STOPPED:
                    return
        except QueryError as exc:
            chat[-1] = {"role": "assistant", "content": render.render_error_message(str(exc))}
            yield idle(), chat, pairs, turns, panel(turns), gr.skip()
            return
        except Exception as exc:  # keep the page alive; the log has the trace
            log.exception("answer failed")
            msg = str(exc) if isinstance(exc, RagError) else "Đã có lỗi khi tạo câu trả lời, vui lòng thử lại."
            chat[-1] = {"role": "assistant", "content": render.render_error_message(msg)}
            yield idle(), chat, pairs, turns, panel(turns), gr.skip()
            return
        turn = len(turns) + 1
        data = _turn_data(final)
        dates = doc_meta()[0]
        chat[-1] = {"role": "assistant", "content": render.render_answer_message(data, turn, dates)}
        turns = list(turns) + [{"turn": turn, "question": question, "answer": data, "history": [list(p) for p in history]}]
        pairs = list(pairs) + [[question, data.get("answer", "")]]
        yield idle(), chat, pairs, turns, panel(turns), json.dumps(turns, ensure_ascii=False)

    async def regenerate(
        chat: list, pairs: list, turns: list, docs: list | None = None, since: str = "", until: str = "", request: gr.Request | None = None
    ):
        """Ask the last question again ("Hỏi lại"), replacing its answer (under the current filter)."""
        if not turns:
            yield (gr.skip(),) * 6
            return
        question = turns[-1]["question"]
        async for update in respond(question, list(chat)[:-2], list(pairs)[:-1], list(turns)[:-1], docs, since, until, request):
            yield update

    async def stopped(chat: list, pairs: list, turns: list, request: gr.Request | None = None):
        """The stop button: a pending answer becomes a short note (the question can be asked again); an
        extractive answer shown while the LLM's was awaited stays, as the turn's answer, saying it was stopped."""
        stop = stops.get(getattr(request, "session_hash", None) or "")
        if stop is not None:
            stop.set()  # the answering event returns without another update
        chat, turns = list(chat or []), list(turns or [])
        if chat and chat[-1].get("role") == "assistant" and "hdyt-pending" in str(chat[-1].get("content", "")):
            chat[-1] = {"role": "assistant", "content": render.render_error_message("Đã dừng. Bấm “Hỏi lại” để hỏi lại.")}
            return chat, pairs, turns, gr.skip(), idle()
        if not (turns and turns[-1]["answer"].get("provisional")):
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), idle()  # the final answer came first: nothing to stop
        last = {**turns[-1], "answer": {**turns[-1]["answer"], "provisional": False, "fallback_reason": render.STOPPED_REASON}}
        turns[-1] = last
        chat[-1] = {"role": "assistant", "content": render.render_answer_message(last["answer"], last["turn"], doc_meta()[0])}
        pairs = list(pairs) + [[last["question"], last["answer"].get("answer", "")]]
        return chat, pairs, turns, json.dumps(turns, ensure_ascii=False), idle()

    def restore(saved: str):
        """A conversation saved in the browser (localStorage) shown again after a reload or picked from the list."""
        try:
            turns = [t for t in json.loads(saved or "[]") if isinstance(t, dict) and "question" in t and "answer" in t]
        except (ValueError, TypeError):
            turns = []
        if not turns:  # nothing saved, or the user already asked on this page: leave the page as it is
            return (gr.skip(),) * 5
        dates = doc_meta()[0]
        chat, pairs = [], []
        for i, t in enumerate(turns, start=1):
            t["turn"] = i
            chat += [
                {"role": "user", "content": render.render_user_message(str(t["question"]))},
                {"role": "assistant", "content": render.render_answer_message(t["answer"], i, dates)},
            ]
            pairs.append([str(t["question"]), str(t["answer"].get("answer", ""))])
        return chat, pairs, turns, panel(turns), gr.skip()

    def start_over():
        return [], [], [], cards.EMPTY_SOURCES_HTML, ""

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
            '<h1 class="hdyt-brand">Hỏi Đáp Y Tế</h1>'
            '<p class="hdyt-tagline">Trợ lý tra cứu báo cáo ngành y tế: mỗi câu trả lời đều kèm đoạn trích nguồn</p>'
            "</div></header>",
            elem_id="hdyt-header",
        )
        with gr.Tabs(elem_id="hdyt-tabs"):
            with gr.Tab("Hỏi đáp", id="chat", elem_id="hdyt-tab-chat"):
                with gr.Row(equal_height=False, elem_id="hdyt-main"):
                    with gr.Column(scale=3, min_width=320, elem_id="hdyt-chat-col"):
                        chatbot = gr.Chatbot(
                            label="Hội thoại",
                            show_label=False,
                            elem_id="hdyt-chat",
                            height="64vh",
                            min_height=360,
                            layout="bubble",
                            placeholder=PLACEHOLDER,
                            examples=EXAMPLES,
                            feedback_options=None,
                            latex_delimiters=[],
                            buttons=["copy"],
                            autoscroll=True,
                        )
                        question = gr.Textbox(
                            label="Câu hỏi",
                            placeholder="Nhập câu hỏi… (Enter để gửi)",
                            show_label=False,
                            lines=1,
                            max_lines=6,
                            max_length=settings.max_question_chars,
                            elem_id="hdyt-question",
                            submit_btn="Gửi",
                            stop_btn=False,  # shown while an answer is on its way (busy())
                            autofocus=True,
                        )
                        with gr.Row(elem_id="hdyt-actions"):
                            new_chat = gr.Button(
                                "Cuộc trò chuyện mới", variant="secondary", size="sm", elem_id="hdyt-new-chat"
                            )
                            again = gr.Button("Hỏi lại", variant="secondary", size="sm", elem_id="hdyt-regenerate")
                            gr.HTML(
                                '<div class="hdyt-disclaimer">Câu trả lời chỉ dựa trên các báo cáo trong thư viện. '
                                "Hãy kiểm tra đoạn trích nguồn trước khi sử dụng.</div>"
                            )
                        with gr.Accordion("Lọc theo tài liệu và ngày", open=False, elem_id="hdyt-filter"):
                            with gr.Row(equal_height=False):
                                filter_docs = document_list("Chỉ tìm trong các tài liệu", "hdyt-filter-docs", multiselect=True)
                                filter_from = gr.Textbox(
                                    label="Từ ngày", placeholder="YYYY-MM-DD", max_length=10, scale=1, min_width=120, elem_id="hdyt-filter-from"
                                )
                                filter_to = gr.Textbox(
                                    label="Đến ngày", placeholder="YYYY-MM-DD", max_length=10, scale=1, min_width=120, elem_id="hdyt-filter-to"
                                )
                        gr.HTML('<div id="hdyt-convs" aria-label="Các cuộc trò chuyện"></div>', elem_id="hdyt-convs-box")
                        # the bridge to the page's localStorage: the turns as JSON, and a button that reloads them
                        conv_json = gr.Textbox(visible="hidden", elem_id="hdyt-conv-json", label="conversation")
                        restore_btn = gr.Button("restore", visible="hidden", elem_id="hdyt-restore")
                    with gr.Column(scale=2, min_width=300, elem_id="hdyt-sources-col"):
                        gr.HTML('<h2 class="hdyt-panel-title">Nguồn trích dẫn</h2>')
                        sources = gr.HTML(cards.EMPTY_SOURCES_HTML, elem_id="hdyt-sources-panel")

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
                        gr.HTML('<h2 class="hdyt-card-title">Thêm hoặc cập nhật báo cáo</h2>')
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
                            # no file_types: Gradio would refuse other files with an English toast; the
                            # library checks every file itself and says why in Vietnamese
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
                        gr.HTML('<h2 class="hdyt-card-title hdyt-danger-title">Xoá tài liệu</h2>')
                        with gr.Row(equal_height=False, elem_id="hdyt-delete-row"):
                            to_delete = document_list("Tài liệu", "hdyt-delete-choice", interactive=admin_enabled)
                            delete_btn = gr.Button(
                                "Xoá…", variant="stop", interactive=admin_enabled, scale=1, min_width=80, elem_id="hdyt-delete-btn"
                            )
                        confirm_btn = gr.Button("Xác nhận xoá", variant="stop", visible=False, elem_id="hdyt-delete-confirm")
                        status = gr.HTML(elem_id="hdyt-lib-status")
                    with gr.Column(scale=5, min_width=420, elem_classes=["hdyt-card"]):
                        with gr.Row():
                            gr.HTML('<h2 class="hdyt-card-title">Tài liệu đã lập chỉ mục</h2>')
                            refresh = gr.Button("Làm mới", size="sm", scale=0, min_width=100, elem_id="hdyt-refresh")
                        table = gr.Dataframe(
                            headers=DOC_HEADERS,
                            datatype=["str", "str", "number", "str", "str", "str"],
                            interactive=False,
                            wrap=True,
                            elem_id="hdyt-docs",
                            column_widths=["38%", "12%", "8%", "16%", "12%", "14%"],
                            max_height=720,
                            show_search="filter",  # the header sorts; the search box filters
                        )

        chat_out = [question, chatbot, pairs, turns, sources, conv_json]
        filters = [filter_docs, filter_from, filter_to]
        chat_io = dict(inputs=[question, chatbot, pairs, turns, *filters], outputs=chat_out)
        save = dict(fn=None, inputs=[conv_json], outputs=None, js="(j) => { window.hdytSave && window.hdytSave(j); }")
        quiet = dict(api_visibility="private", show_progress="hidden")
        asked = question.submit(respond, **chat_io, **quiet)
        asked.then(**save)
        picked = chatbot.example_select(use_example, None, question, api_visibility="private")
        answered = picked.then(respond, **chat_io, **quiet)
        answered.then(**save)
        redo = again.click(regenerate, [chatbot, pairs, turns, *filters], chat_out, **quiet)
        redo.then(**save)
        halted = question.stop(stopped, [chatbot, pairs, turns], [chatbot, pairs, turns, conv_json, question], api_visibility="private")
        halted.then(**save)
        pick_js = "() => (window.hdytLoad ? window.hdytLoad() : '[]')"
        # on load, a question asked before the saved conversation arrived wins over it
        load_js = "() => (document.querySelector('#hdyt-chat [data-testid=user]') || !window.hdytLoad ? '[]' : window.hdytLoad())"
        restore_io = dict(inputs=[conv_json], outputs=[chatbot, pairs, turns, sources, conv_json], **quiet)
        restore_btn.click(restore, js=pick_js, **restore_io)
        demo.load(restore, js=load_js, **restore_io)
        fresh = [chatbot, pairs, turns, sources, question]
        new_chat.click(start_over, None, fresh, api_visibility="private", js="() => { window.hdytNew && window.hdytNew(); }")
        chatbot.clear(start_over, None, fresh, api_visibility="private", js="() => { window.hdytNew && window.hdytNew(); }")

        lib_out = [status, table, to_delete, stats]
        # the upload route needs an admin session (rag.web.security): a correct token sets its cookie
        token.change(
            lambda t: gr.update(interactive=library.check_token(t) is None),
            [token],
            files,
            js=ADMIN_LOGIN_JS,
            api_visibility="private",
        )
        # the filter lists the library's documents by title · date · file, like the delete list
        filter_choices = dict(fn=lambda: gr.update(choices=library.delete_choices()), inputs=None, outputs=filter_docs, api_visibility="private")
        uploaded = upload_btn.click(library.upload, [files, token], [*lib_out, files], api_visibility="private", show_progress="hidden")
        uploaded.then(**filter_choices)
        delete_btn.click(library.ask_delete, [to_delete, token], [status, confirm_btn], api_visibility="private")
        deleted = confirm_btn.click(
            library.delete, [to_delete, token], [*lib_out, confirm_btn], api_visibility="private", show_progress="hidden"
        )
        deleted.then(**filter_choices)
        refresh.click(lambda: library.refreshed(""), None, lib_out, api_visibility="private").then(**filter_choices)
        demo.load(lambda: library.refreshed(""), None, lib_out, api_visibility="private")
        demo.load(**filter_choices)
    demo.queue(default_concurrency_limit=16)
    return demo


