"""The library tab's actions for an operator: list, upload (admin token), delete; plain Python, escaped HTML out.

Uploaded files are kept in ``settings.uploads_dir`` (not inside the index); a file whose ingest fails
is removed again and a file it replaced is restored, so a bad upload changes nothing.
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

from rag.config import Settings
from rag.errors import RagError
from rag.ingest.loaders import SUPPORTED_EXTENSIONS
from rag.web import render

log = logging.getLogger(__name__)

DOC_HEADERS = ["Mã tài liệu", "Tiêu đề", "Số đoạn", "Ngày", "Tệp"]
REJECTED_ALL = "Không có tệp nào được thêm: thư viện giữ nguyên"


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

    def __init__(self, assistant, settings: Settings) -> None:
        self.assistant = assistant
        self.settings = settings
        self.token = settings.admin_token.get_secret_value() if settings.admin_token else ""

    def doc_rows(self) -> list[list[Any]]:
        """The table's rows: id, title, chunks, dates, format and origin (uploaded or shipped)."""
        uploads = self.settings.uploads_dir.resolve()

        def origin(source: str) -> str:
            kind = Path(source).suffix.lstrip(".").upper() or "?"
            return f"{kind} · {'tải lên' if Path(source).resolve().parent == uploads else 'kho gốc'}"

        return [
            [d.doc_id, d.title, d.n_chunks, ", ".join(render.format_date(x) for x in d.dates[:2]) or "–", origin(d.source)]
            for d in self.assistant.documents()
        ]

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
        if not token or not hmac.compare_digest(token.encode(), self.token.encode()):
            return "Mã quản trị không đúng."
        return None

    def refreshed(self, status_html: str):
        """The tab's outputs after an action: status, table, delete choices, counts."""
        rows = self.doc_rows()
        ids = [r[0] for r in rows]
        return status_html, rows, gr.update(choices=ids, value=None), self.library_summary()

    def upload(self, files, token: str):
        """Copy uploaded files into ``uploads_dir`` and ingest them; rejected or failing files change nothing."""
        problem = self.check_token(token)
        if problem:
            return self.refreshed(status_box("error", problem))
        paths = [Path(f if isinstance(f, str) else getattr(f, "name", "")) for f in (files or [])]
        if not paths:
            return self.refreshed(status_box("warn", "Chưa chọn tệp nào để tải lên."))
        errors: list[str] = []
        accepted: list[tuple[Path, str]] = []
        limit = self.settings.max_file_mb * 1024 * 1024
        for p in paths:
            name = safe_name(p.name)
            if name is None:
                errors.append(f"{p.name}: tên tệp không hợp lệ")
            elif Path(name).suffix.lower() not in SUPPORTED_EXTENSIONS:
                errors.append(f"{name}: định dạng không hỗ trợ (chỉ nhận {', '.join(SUPPORTED_EXTENSIONS)})")
            elif p.stat().st_size > limit:
                errors.append(f"{name}: tệp lớn hơn giới hạn {self.settings.max_file_mb:g} MB")
            else:
                accepted.append((p, name))
        if not accepted:
            return self.refreshed(status_box("error", REJECTED_ALL, errors))
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
            return self.refreshed(status_box("error", REJECTED_ALL, errors + [str(exc)]))
        except Exception as exc:
            log.exception("upload failed")
            for dest, backup in placed:
                restore(dest, backup)
            return self.refreshed(status_box("error", REJECTED_ALL, errors + [f"lỗi khi lập chỉ mục: {exc}"]))
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
            return self.refreshed(status_box("error", REJECTED_ALL, errors))
        if errors:
            return self.refreshed(status_box("warn", "Một số tệp bị từ chối", lines + [f"Bị từ chối: {e}" for e in errors] + [total]))
        return self.refreshed(status_box("ok", "Đã cập nhật thư viện" if lines else "Không có thay đổi", lines + [total]))

    def delete(self, doc_id: str | None, token: str):
        """Delete a document (and its uploaded file)."""
        problem = self.check_token(token)
        if problem:
            return self.refreshed(status_box("error", problem))
        if not doc_id:
            return self.refreshed(status_box("warn", "Chọn một tài liệu để xoá."))
        source = next((d.source for d in self.assistant.documents() if d.doc_id == doc_id), None)
        try:
            self.assistant.delete([doc_id])
        except RagError as exc:
            return self.refreshed(status_box("error", f"Không xoá được {doc_id}", [str(exc)]))
        if source:
            src = Path(source).resolve()
            if src.parent == self.settings.uploads_dir.resolve():
                src.unlink(missing_ok=True)
        return self.refreshed(status_box("ok", f"Đã xoá tài liệu {doc_id}."))
