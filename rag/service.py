"""The assistant as a long-lived service: one loaded index, answers, and library management.

The app and the API talk only to :class:`Assistant`, never to the index directly. After an upload
or a delete the new index generation is swapped in atomically; questions already running finish
on the generation they started with.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Settings
from .backends import delete_any, index_exists, ingest_any
from .ingest import IngestReport


@dataclass(frozen=True)
class DocumentInfo:
    """A row of the library list."""

    doc_id: str
    title: str
    n_chunks: int
    dates: list[str]
    source: str


class Assistant:
    """Loads lazily, answers concurrently, serialises writes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._chain = None
        self._load_lock = threading.Lock()
        self._write_lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------------------

    def ensure_index(self, progress: bool = True) -> IngestReport | None:
        """Build the index from ``settings.corpus_dir`` when none exists yet."""
        if index_exists(self.settings):
            return None
        return ingest_any([self.settings.corpus_dir], self.settings, progress=progress)

    @property
    def chain(self):
        """The answer chain over the live index (loaded on first use)."""
        if self._chain is None:
            with self._load_lock:
                if self._chain is None:
                    self._chain = self._build_chain()
        return self._chain

    def _build_chain(self):
        from .answer import build_answer_chain

        return build_answer_chain(self.settings)

    def reload(self) -> None:
        """Swap in the live generation (after a write)."""
        chain = self._build_chain()
        with self._load_lock:
            old, self._chain = self._chain, chain
        # the old store stays open for requests still using it; its files were unlinked already

    # -- questions ------------------------------------------------------------------------------

    def ask(self, question: str, history: Sequence[Sequence[str]] = ()):
        return self.chain.answer(question, list(history))

    def stream(self, question: str, history: Sequence[Sequence[str]] = ()) -> Iterator[Any]:
        return self.chain.stream({"question": question, "history": list(history)})

    # -- library --------------------------------------------------------------------------------

    @property
    def store(self):
        return self.chain.retriever.store

    def documents(self) -> list[DocumentInfo]:
        manifest = self.store.manifest
        return [
            DocumentInfo(doc_id, e.title, e.n_chunks, list(e.dates), e.source)
            for doc_id, e in sorted(manifest.documents.items())
        ]

    def health(self) -> dict[str, Any]:
        store = self.store
        return {
            "status": "ok",
            "index_loaded": True,
            "documents": len(store.manifest.documents),
            "chunks": store.n_chunks,
            "model_id": store.manifest.model_id,
            "dense_index": store.manifest.dense_kind,
            "answer_backend": self.settings.answer_backend,
        }

    def add_files(self, paths: Sequence[str | Path]) -> IngestReport:
        """Add or update documents from files; a bad file leaves the index untouched."""
        with self._write_lock:
            report = ingest_any(list(paths), self.settings)
            if report.changed:
                self.reload()
            return report

    def delete(self, doc_ids: Sequence[str]) -> IngestReport:
        with self._write_lock:
            report = delete_any(doc_ids, self.settings)
            self.reload()
            return report
