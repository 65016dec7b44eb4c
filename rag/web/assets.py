"""What the Gradio page is dressed in: the theme, CSS and script (``static/``), and Gradio's own labels in Vietnamese."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

STATIC = Path(__file__).resolve().parent / "static"

CSS = (STATIC / "app.css").read_text(encoding="utf-8")
HEAD = (
    '<meta name="description" content="Hỏi Đáp Y Tế: trợ lý hỏi đáp về báo cáo ngành y tế, có trích dẫn nguồn">\n'
    + "<script>\n" + (STATIC / "app.js").read_text(encoding="utf-8") + "</script>\n"
)

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
