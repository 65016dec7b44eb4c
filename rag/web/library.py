"""The library tab's actions for an operator: list, upload (admin token), delete; plain Python, escaped HTML out.

Uploaded files are kept in ``settings.uploads_dir`` (not inside the index); a file whose ingest fails
is removed again and a file it replaced is restored, so a bad upload changes nothing. Writes are
guarded as the API's are (:mod:`rag.web.security`): wrong admin tokens count in the app's shared
failed-credential throttle (so the tab is no way around the API's 429), and each client gets at
most ``UPLOADS_PER_MINUTE`` uploads and deletes a minute.
"""

from __future__ import annotations

import hmac
import logging
import math
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import gradio as gr

from rag.config import Settings
from rag.errors import RagError
from rag.ingest.loaders import SUPPORTED_EXTENSIONS
from rag.web import render
from rag.web.security import FailureThrottle, SlidingWindowLimiter

log = logging.getLogger(__name__)

DOC_HEADERS = ["Tiêu đề", "Ngày", "Số đoạn", "Tệp nguồn", "Nguồn gốc", "Mã tài liệu"]
REJECTED_ALL = "Không có tệp nào được thêm: thư viện giữ nguyên"

# The loaders' reasons (English, for the CLI) as the operator reads them in the library tab
_REASONS_VI: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"file is empty"), "tệp rỗng, không có nội dung"),
    (re.compile(r"no text found"), "không tìm thấy chữ nào trong tệp"),
    (re.compile(r"encrypted"), "PDF có mật khẩu bảo vệ: hãy lưu một bản không đặt mật khẩu rồi tải lại"),
    (re.compile(r"no extractable text"), "PDF không có lớp chữ (bản scan?): hãy nhận dạng chữ (OCR) trước khi tải lên"),
    (re.compile(r"no text, and OCR found none"), "PDF không có lớp chữ (bản scan?) và nhận dạng chữ (OCR) không tìm thấy chữ nào"),
    (re.compile(r"OCR found no text in the image"), "ảnh không có chữ nào nhận dạng được (OCR)"),
    (re.compile(r"OCR of a page took over"), "nhận dạng chữ (OCR) một trang quá lâu: hãy tách bản scan hoặc giảm độ phân giải"),
    (re.compile(r"Tesseract failed"), "nhận dạng chữ (OCR) bị lỗi trên một trang"),
    (re.compile(r"needs OCR but Tesseract"), "tệp cần nhận dạng chữ (OCR) nhưng máy chủ chưa cài Tesseract tiếng Việt"),
    (re.compile(r"cannot render the scanned PDF"), "không dựng được trang của PDF bản scan để nhận dạng chữ"),
    (re.compile(r"corrupt or unreadable \.xlsx"), "tệp Excel (.xlsx) bị hỏng hoặc không đọc được"),
    (re.compile(r"corrupt or unreadable image"), "tệp ảnh bị hỏng hoặc không đọc được"),
    (re.compile(r"corrupt or unreadable PDF"), "tệp PDF bị hỏng hoặc không đọc được"),
    (re.compile(r"corrupt or unreadable \.docx"), "tệp Word (.docx) bị hỏng hoặc không đọc được"),
    (re.compile(r"legacy Vietnamese font encoding"), "văn bản gõ bằng bảng mã cũ (TCVN3/ABC hoặc VNI): hãy chuyển sang Unicode "
     "(ví dụ công cụ chuyển mã của UniKey, TCVN3 → Unicode) và lưu dạng UTF-8"),
    (re.compile(r"not valid UTF-8"), "tệp văn bản không ở dạng UTF-8: hãy lưu lại với bảng mã UTF-8"),
    (re.compile(r"unsupported file type"), "định dạng không hỗ trợ"),
    (re.compile(r"duplicate document id"), "trùng mã tài liệu với một tệp khác: hãy đổi tên một tệp"),
]
# What a file of each kind starts with; a file whose bytes do not match its name is refused before ingest
_MAGIC = {".pdf": (b"%PDF-",), ".docx": (b"PK\x03\x04",)}
_TEXT_KINDS = {".txt", ".md", ".html", ".htm", ".csv"}


def reason_vi(reason: str) -> str:
    """An ingest reason in Vietnamese (the original kept in brackets when it is not one we know)."""
    for pattern, vi in _REASONS_VI:
        if pattern.search(reason):
            return vi
    return f"không lập chỉ mục được ({reason})"


def check_file(path: Path, name: str, limit_bytes: int, limit_mb: int) -> str | None:
    """Why the uploaded file cannot be added, in Vietnamese, or None; read before anything is copied."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        shown = suffix or "(không có đuôi)"
        return f"định dạng {shown} không được hỗ trợ (chỉ nhận {', '.join(SUPPORTED_EXTENSIONS)})"
    size = path.stat().st_size
    if size > limit_bytes:
        return f"tệp {size / 1024 / 1024:.1f} MB, lớn hơn giới hạn {limit_mb} MB"
    with path.open("rb") as fh:
        head = fh.read(65536)
    if not head.strip():
        return "tệp rỗng, không có nội dung"
    magic = _MAGIC.get(suffix)
    if magic and not head.startswith(magic):
        return f"nội dung không phải tệp {suffix.lstrip('.').upper()} thật (tệp bị hỏng hoặc bị đổi đuôi)"
    if suffix in _TEXT_KINDS and _binary(head):
        return "đây là tệp nhị phân, không phải văn bản (có thể bị đổi đuôi): không đọc được"
    return None


def _binary(head: bytes) -> bool:
    """NUL bytes or many control characters: no text encoding, legacy ones included, produces those."""
    if b"\x00" in head:
        return True
    control = sum(b < 0x20 and b not in (9, 10, 12, 13) for b in head)
    return control / len(head) > 0.05


def status_box(kind: str, title: str, items: list[str] = ()) -> str:
    """A status box: a title line and an optional list; all plain text (escaped here)."""
    body = "".join(f"<li>{render.esc(item)}</li>" for item in items)
    return (
        f'<div class="hdyt-status hdyt-status-{kind}" role="status">'
        f'<div class="hdyt-status-title">{render.esc(title)}</div>'
        + (f"<ul>{body}</ul>" if body else "")
        + "</div>"
    )


def safe_name(name: str) -> str | None:
    """The file's own name (no directory part); ``None`` for names that cannot be stored."""
    name = Path(name.replace("\\", "/")).name.strip()
    if not name or name.startswith(".") or "\x00" in name or len(name.encode()) > 200:
        return None
    return name


class Library:
    """The library tab's handlers over one :class:`~rag.service.Assistant`."""

    def __init__(self, assistant, settings: Settings, throttle: FailureThrottle, writes: SlidingWindowLimiter) -> None:
        self.assistant = assistant
        self.settings = settings
        self.token = settings.admin_token.get_secret_value() if settings.admin_token else ""
        self.throttle = throttle  # the API's: shared by every credential check of the app
        self.writes = writes

    def doc_rows(self) -> list[list[Any]]:
        """The table's rows: title, dates, chunks, source file, origin (format, uploaded or shipped, OCR, legacy encoding), id."""
        uploads = self.settings.uploads_dir.resolve()

        def origin(d) -> str:
            kind = Path(d.source).suffix.lstrip(".").upper() or "?"
            parts = [kind, "tải lên" if Path(d.source).resolve().parent == uploads else "kho gốc"]
            if d.ocr_pages:  # figures read from a scan may be misread: say so
                parts.append("nhận dạng ký tự (OCR)")
            if d.legacy_encoding:
                parts.append(f"chuyển mã {d.legacy_encoding.upper()}")
            return " · ".join(parts)

        return [
            [
                d.title,
                ", ".join(render.format_date(x) for x in d.dates[:2]) or "–",
                d.n_chunks,
                Path(d.source).name,
                origin(d),
                d.doc_id,
            ]
            for d in self.assistant.documents()
        ]

    def delete_choices(self) -> list[tuple[str, str]]:
        """(title · date, doc_id) for the delete list: titles, since ids mean nothing to a reader."""
        out = []
        for d in self.assistant.documents():
            date = render.format_date(d.dates[0]) if d.dates else ""
            out.append((" · ".join(x for x in (d.title, date, Path(d.source).name) if x), d.doc_id))
        return out

    def library_summary(self) -> str:
        """Counts of documents and passages and the model, as HTML."""
        try:
            h = self.assistant.health()
        except Exception as exc:
            return status_box("error", f"Chưa nạp được chỉ mục: {exc}")
        return (
            f'<div class="hdyt-libstats"><div><b>{int(h.get("documents", 0))}</b><span>tài liệu</span></div>'
            f'<div><b>{int(h.get("chunks", 0))}</b><span>đoạn văn</span></div>'
            f'<div><b class="hdyt-small">{render.esc(h.get("model_id", ""))}</b><span>mô hình nhúng</span></div></div>'
        )

    def check_token(self, token: str) -> str | None:
        """Why ``token`` may not write (admin off, wrong token), or None."""
        if not self.token:
            return "Chức năng quản trị đang tắt: máy chủ chưa đặt mã quản trị (HDYT_ADMIN_TOKEN)."
        if not (token or "").strip():
            return "Hãy nhập mã quản trị trước khi tải lên hoặc xoá (các tệp đã chọn vẫn được giữ)."
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            return "Mã quản trị không đúng (các tệp đã chọn vẫn được giữ)."
        return None

    def guard(self, token: str, request: gr.Request | None, write: bool = True) -> str | None:
        """Why this client may not act now (throttled, admin off, wrong token, too many writes), or None."""
        client = getattr(getattr(request, "client", None), "host", None) or "unknown"
        if self.token and (wait := self.throttle.retry_after(client)) is not None:
            return (
                f"Nhập sai mã quản trị quá nhiều lần: thử lại sau {max(1, math.ceil(wait))} giây "
                "(các tệp đã chọn vẫn được giữ)."
            )
        problem = self.check_token(token)
        if problem:
            if self.token and (token or "").strip():  # an empty box is a slip, not a guess
                self.throttle.fail(client)
            return problem
        if write and (retry := self.writes.hit(client)) is not None:
            return f"Quá nhiều lượt tải lên hoặc xoá: thử lại sau {max(1, math.ceil(retry))} giây."
        return None

    def refreshed(self, status_html: str):
        """The tab's outputs after an action: status, table, delete choices, counts."""
        return status_html, self.doc_rows(), gr.update(choices=self.delete_choices(), value=None), self.library_summary()

    def _title(self, doc_id: str) -> str:
        return next((d.title for d in self.assistant.documents() if d.doc_id == doc_id), doc_id)

    def upload(self, files, token: str, request: gr.Request | None = None):
        """Check, copy into ``uploads_dir`` and ingest the files, saying how far it got; a failing file changes nothing.

        Yields the tab's outputs plus the file box: kept on a token error (nothing to choose again),
        emptied once the files were handled.
        """
        keep = gr.skip()
        problem = self.guard(token, request)
        if problem:
            yield (*self.refreshed(status_box("error", problem)), keep)
            return
        paths = [Path(f if isinstance(f, str) else getattr(f, "name", "")) for f in (files or [])]
        if not paths:
            yield (*self.refreshed(status_box("warn", "Chưa chọn tệp nào để tải lên.")), keep)
            return
        errors: list[str] = []
        accepted: list[tuple[Path, str]] = []
        limit = self.settings.max_file_mb * 1024 * 1024
        for i, p in enumerate(paths, start=1):
            yield self._progress(f"Đang kiểm tra tệp {i}/{len(paths)}: {p.name}")
            name = safe_name(p.name)
            why = "tên tệp không hợp lệ" if name is None else check_file(p, name, limit, self.settings.max_file_mb)
            if why:
                errors.append(f"{name or p.name}: {why}")
            else:
                accepted.append((p, name))
        if not accepted:
            yield (*self.refreshed(status_box("error", REJECTED_ALL, errors)), None)
            return
        yield self._progress(f"Đang đọc và lập chỉ mục {len(accepted)} tệp: " + ", ".join(n for _, n in accepted))
        yield (*self._ingest(accepted, errors, len(paths)), None)

    def _progress(self, line: str) -> tuple:
        return (status_box("info", "Đang xử lý…", [line]), gr.skip(), gr.skip(), gr.skip(), gr.skip())

    def _ingest(self, accepted: list[tuple[Path, str]], errors: list[str], n_total: int):
        target = self.settings.uploads_dir
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
            report = self.assistant.add_files([dest for dest, _ in placed])
        except RagError as exc:
            for dest, backup in placed:
                restore(dest, backup)
            return self.refreshed(status_box("error", REJECTED_ALL, [*errors, reason_vi(str(exc))]))
        except Exception as exc:
            log.exception("upload failed")
            for dest, backup in placed:
                restore(dest, backup)
            return self.refreshed(status_box("error", REJECTED_ALL, [*errors, f"lỗi khi lập chỉ mục: {exc}"]))
        failed = {str(Path(p).resolve()): reason for p, reason in [*report.errors, *report.skipped]}
        for dest, backup in placed:
            reason = failed.get(str(dest.resolve()))
            if reason is not None:
                restore(dest, backup)
                errors.append(f"{dest.name}: {reason_vi(reason)}")
            elif backup is not None:
                backup.unlink(missing_ok=True)
        titles = {d.doc_id: d.title for d in self.assistant.documents()}

        def named(ids: list[str]) -> str:
            return ", ".join(f"{titles.get(i, i)} ({i})" for i in ids)

        lines = []
        if report.added:
            lines.append("Đã thêm: " + named(report.added))
        if report.updated:
            lines.append("Đã cập nhật: " + named(report.updated))
        ok_names = {dest.stem for dest, _ in placed} - set(report.added) - set(report.updated)
        unchanged = sorted(ok_names & set(report.unchanged))
        if unchanged:
            lines.append("Không thay đổi (nội dung giống bản đã có): " + named(unchanged))
        total = f"Thư viện hiện có {report.n_documents} tài liệu, {report.n_chunks} đoạn văn."
        summary = f"{n_total - len(errors)}/{n_total} tệp được nhận"
        if errors and not lines:
            return self.refreshed(status_box("error", REJECTED_ALL, errors))
        if errors:
            return self.refreshed(
                status_box("warn", f"Một số tệp bị từ chối ({summary})", lines + [f"Bị từ chối: {e}" for e in errors] + [total])
            )
        title = f"Đã cập nhật thư viện ({summary})" if lines else "Không có thay đổi"
        return self.refreshed(status_box("ok", title, lines + [total]))

    def ask_delete(self, doc_id: str | None, token: str, request: gr.Request | None = None):
        """First step of a delete: name the document and show the confirm button."""
        problem = self.guard(token, request, write=False)
        if problem:
            return status_box("error", problem), gr.update(visible=False)
        if not doc_id:
            return status_box("warn", "Chọn một tài liệu để xoá."), gr.update(visible=False)
        return (
            status_box("warn", f"Xoá “{self._title(doc_id)}” khỏi thư viện?", ["Bấm “Xác nhận xoá” để xoá; thao tác này không hoàn tác được."]),
            gr.update(visible=True),
        )

    def delete(self, doc_id: str | None, token: str, request: gr.Request | None = None):
        """Delete a document (and its uploaded file), once confirmed."""
        hide = gr.update(visible=False)
        problem = self.guard(token, request)
        if problem:
            return (*self.refreshed(status_box("error", problem)), hide)
        if not doc_id:
            return (*self.refreshed(status_box("warn", "Chọn một tài liệu để xoá.")), hide)
        title = self._title(doc_id)
        source = next((d.source for d in self.assistant.documents() if d.doc_id == doc_id), None)
        try:
            self.assistant.delete([doc_id])
        except RagError as exc:
            return (*self.refreshed(status_box("error", f"Không xoá được “{title}”", [reason_vi(str(exc))])), hide)
        if source:
            src = Path(source).resolve()
            if src.parent == self.settings.uploads_dir.resolve():
                src.unlink(missing_ok=True)
        return (*self.refreshed(status_box("ok", f"Đã xoá tài liệu “{title}” ({doc_id}).")), hide)
