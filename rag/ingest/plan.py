"""Planning an ingest, shared by every backend (local FAISS, Milvus, Ray): what to load, keep, add, drop.

Documents are keyed by file stem. A document whose content hash is unchanged keeps its chunks and
vectors; a changed one is re-chunked and re-embedded; a document whose source lies under a given
directory but is gone from it is dropped. A file that fails to load is reported and, if it was
indexed before, keeps its previous version: bad input never loses data. :func:`parse_ahead` loads
the same way in a background thread, so that the caller embeds what is parsed while the next files
are parsed.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from rag.config import Settings
from rag.errors import DocumentError, IndexStoreError, UnsupportedFormatError
from rag.index.records import DocumentEntry
from rag.ingest.loaders import LoadedDocument
from rag.ingest.report import IngestReport
from rag.ingest.sandbox import ParseLimits, Sandbox

log = logging.getLogger(__name__)

PARSE_AHEAD = 32  # parsed files waiting for the embedder at most: bounds memory, and a group of passages fits
_DONE = object()


def load_all(
    files: list[Path], report: IngestReport, progress: bool, settings: Settings | None = None
) -> dict[str, LoadedDocument]:
    """Load every file in a bounded worker (:mod:`rag.ingest.sandbox`, limits from ``settings``);
    failures, limit breaches included, go to the report (skipped or errors), duplicate ids are errors."""
    from tqdm import tqdm

    loaded: dict[str, LoadedDocument] = {}
    limits = ParseLimits.from_settings(settings) if settings is not None else ParseLimits()
    with Sandbox(limits) as sandbox:
        for path in tqdm(files, desc="Đọc tài liệu", unit="file", disable=not progress):
            _load_one(sandbox, path, report, loaded)
    return loaded


def parse_ahead(
    files: list[Path], report: IngestReport, progress: bool, settings: Settings | None = None, depth: int | None = None
) -> Iterator[LoadedDocument]:
    """:func:`load_all` in a background thread: yields each loaded document, in file order, while the
    next files are parsed (at most ``depth``, default :data:`PARSE_AHEAD`, waiting). Parsing starts at once, before the first ``next``.

    The thread drives one :class:`Sandbox` (the parse itself runs in its child process, so it
    truly overlaps the caller's embedding) and fills ``report`` as :func:`load_all` does; the
    report is complete once the iterator is exhausted. An error of the parser thread itself (not
    of a file: those are reported) is raised by the iterator. Closing the iterator early stops the
    parser after its current file.
    """
    from tqdm import tqdm

    limits = ParseLimits.from_settings(settings) if settings is not None else ParseLimits()
    ready: queue.Queue[object] = queue.Queue(maxsize=max(1, PARSE_AHEAD if depth is None else depth))
    stop = threading.Event()

    def hand_over(item: object) -> bool:
        while not stop.is_set():  # a bounded put that gives up once the consumer has gone
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def parse() -> None:
        loaded: dict[str, LoadedDocument] = {}
        try:
            with Sandbox(limits) as sandbox:
                for path in tqdm(files, desc="Đọc tài liệu", unit="file", disable=not progress):
                    doc = _load_one(sandbox, path, report, loaded)
                    if stop.is_set() or (doc is not None and not hand_over(doc)):
                        return
        except BaseException as exc:  # reaches the consumer, which raises it
            hand_over(exc)
            return
        hand_over(_DONE)

    thread = threading.Thread(target=parse, name="ingest-parse", daemon=True)
    thread.start()

    def documents() -> Iterator[LoadedDocument]:
        try:
            while (item := ready.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                yield item  # type: ignore[misc]
        finally:
            stop.set()
            thread.join()

    return documents()


def _load_one(sandbox: Sandbox, path: Path, report: IngestReport, loaded: dict[str, LoadedDocument]) -> LoadedDocument | None:
    """Load ``path`` into ``loaded`` (and return it), or report why not (and return None)."""
    try:
        doc = sandbox.load(path)
    except UnsupportedFormatError as exc:
        log.warning("skipped %s", exc)
        report.skipped.append((exc.path, exc.reason))
        return None
    except DocumentError as exc:
        report.errors.append((exc.path, exc.reason))
        return None
    if doc.doc_id in loaded:
        report.errors.append(
            (str(path), f"duplicate document id '{doc.doc_id}' (also {loaded[doc.doc_id].source}); rename one file")
        )
        return None
    loaded[doc.doc_id] = doc
    return doc


def with_flags(
    entries: Mapping[str, DocumentEntry], plan: Mapping[str, LoadedDocument | None], known: Mapping[str, DocumentEntry]
) -> dict[str, DocumentEntry]:
    """Manifest entries with each document's OCR and legacy-encoding flags: from its fresh load, else the live index's entry."""
    out: dict[str, DocumentEntry] = {}
    for doc_id, entry in entries.items():
        doc, old = plan.get(doc_id), known.get(doc_id)
        if doc is not None:
            flags = {"ocr_pages": getattr(doc, "ocr_pages", 0), "legacy_encoding": getattr(doc, "encoding", None)}
        else:
            flags = {"ocr_pages": old.ocr_pages, "legacy_encoding": old.legacy_encoding} if old is not None else {}
        out[doc_id] = entry.model_copy(update=flags)
    return out


def same_chunking(manifest: Any, settings: Settings) -> bool:
    """Whether an index (its manifest or Milvus meta) cut its chunks as ``settings`` would."""
    return (manifest.chunk_chars, manifest.overlap_chars, manifest.title_prefix) == (
        settings.chunk_chars,
        settings.overlap_chars,
        settings.title_prefix,
    )


def plan_changes(
    known: Mapping[str, DocumentEntry],
    loaded: dict[str, LoadedDocument],
    scanned_dirs: list[Path],
    report: IngestReport,
    reuse: bool,
) -> dict[str, LoadedDocument | None]:
    """Map each document of the next generation to a fresh load, or None to keep the stored one.

    ``known`` are the live index's documents (empty for a new index); ``reuse`` is False when the
    stored chunks were cut differently (every document is then re-chunked).
    """
    plan: dict[str, LoadedDocument | None] = {}
    failed_paths = {Path(p).resolve() for p, _ in report.errors}
    for doc_id, entry in known.items():
        if doc_id in loaded:
            continue
        if scanned_dirs and _gone(Path(entry.source).resolve(), scanned_dirs, failed_paths):
            report.removed.append(doc_id)
        else:
            plan[doc_id] = None
    for doc_id, doc in loaded.items():
        if doc_id not in known:
            report.added.append(doc_id)
            plan[doc_id] = doc
        elif known[doc_id].content_hash != doc.content_hash or not reuse:
            report.updated.append(doc_id)
            plan[doc_id] = doc
        else:
            plan[doc_id] = None
    return plan


def _gone(source: Path, scanned_dirs: list[Path], failed_paths: set[Path]) -> bool:
    """Whether a stored document's file lay under a scanned directory and is no longer there."""
    return any(source.is_relative_to(d) for d in scanned_dirs) and source not in failed_paths


def scanned_dirs(paths: Sequence[str | Path]) -> list[Path]:
    """The directories among ``paths``: documents that lived under one and are gone from it are dropped."""
    return [Path(p).resolve() for p in paths if Path(p).is_dir()]


def check_model(manifest_model_id: str | None, model_id: str, where: object) -> None:
    """Refuse to mix vectors of two embedding models in one index."""
    if manifest_model_id is not None and manifest_model_id != model_id:
        raise IndexStoreError(
            f"index at {where} was built with model '{manifest_model_id}', not "
            f"'{model_id}'; vectors of two models cannot be mixed: rerun with --rebuild"
        )
