"""The assistant as a long-lived service: one loaded index, answers, search and library management.

The CLI, the app and the API talk only to :class:`Assistant`, never to the index directly. After
an upload or a delete the new index generation is swapped in atomically; questions already running
finish on the generation they started with. A generation made live by another process (``python -m
rag ingest`` into the app's index) is noticed within :data:`FOLLOW_SECONDS`: each request looks at
the live pointer at most that often (one small file read) and a background thread swaps it in.

With :meth:`Assistant.start_workers` (the app, ``serve_workers``) extractive answers and searches run
in answer worker processes (:mod:`rag.answer_workers`), each its own ``Assistant`` over the same
memory-mapped index; this process keeps HTTP, the UI, security, writes and the LLM stage. Each
request carries the generation this process answers from: a worker on an older one loads the live
generation before answering, so after a write here every worker answers from the new generation.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.answer.llm import llm_health
from rag.answer_workers import AnswerWorkers
from rag.backend import clean_orphans, delete_any, index_exists, ingest_any, live_marker, load_retriever, open_library
from rag.config import Settings
from rag.ingest.report import IngestReport
from rag.retrieval.filters import SearchFilter
from rag.retrieval.hybrid import HybridRetriever, Mode, SearchResult

log = logging.getLogger(__name__)
FOLLOW_SECONDS = 1.0  # how often a request may look for a generation written by another process
# in each answer worker: native libraries sized for one request at a time (the workers are the parallelism)
WORKER_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


@dataclass(frozen=True)
class DocumentInfo:
    """A row of the library list."""

    doc_id: str
    title: str
    n_chunks: int
    dates: list[str]
    source: str
    ocr_pages: int = 0
    legacy_encoding: str | None = None


class Assistant:
    """Loads lazily, answers concurrently, serialises writes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._retriever: HybridRetriever | None = None
        self._chain = None
        self._other_modes: dict[str, HybridRetriever] = {}
        self._load_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._marker: str | None = None  # the live generation the loaded chain answers from
        self._next_look = 0.0
        self._following = threading.Lock()  # held by the one background reload at a time
        self._workers: AnswerWorkers | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def ensure_index(self, progress: bool = True) -> IngestReport | None:
        """Build the index from ``settings.corpus_dir`` when none exists yet."""
        if index_exists(self.settings):
            return None
        return ingest_any([self.settings.corpus_dir], self.settings, progress=progress)

    def start_workers(self, count: int | None = None) -> int:
        """Serve extractive answers and searches from ``count`` worker processes (default the
        ``serve_workers`` setting; 0 = in this process). Milvus stays in-process. How many started."""
        count = self.settings.serve_workers if count is None else count
        if count <= 0 or self.settings.store != "faiss" or self._workers is not None:
            return 0 if self._workers is None else self._workers.size
        self.chain  # noqa: B018 - this process answers the LLM stage and the library: loaded, its generation known
        self._workers = AnswerWorkers(count, "rag.service:worker_handler", (self.settings,), env=WORKER_ENV)
        return count

    def stop_workers(self) -> None:
        """Back to answering in this process (the workers exit)."""
        workers, self._workers = self._workers, None
        if workers is not None:
            workers.close()

    @property
    def workers(self) -> AnswerWorkers | None:
        """The answer worker processes, when started."""
        return self._workers

    def _catch_up(self, generation: str | None) -> None:
        """In a worker: answer from ``generation`` or a newer live one, loading it now when it is not loaded
        (a worker serves one request at a time: the request waits for the load, never gets the old index)."""
        self.chain  # noqa: B018 - loads on first use
        if generation is not None and generation != self._marker and live_marker(self.settings) != self._marker:
            with self._write_lock:
                if live_marker(self.settings) != self._marker:
                    self.reload()

    @property
    def chain(self):
        """The answer chain over the live index (loaded on first use)."""
        if self._chain is None:
            with self._load_lock:
                if self._chain is None:
                    self._retriever, self._chain, self._marker = self._load()
        else:
            self._follow()
        return self._chain

    def _follow(self) -> None:
        """Swap in a generation another process made live (checked at most every FOLLOW_SECONDS)."""
        now = time.monotonic()
        if now < self._next_look:
            return
        self._next_look = now + FOLLOW_SECONDS
        marker = live_marker(self.settings)
        if marker is None or marker == self._marker or not self._following.acquire(blocking=False):
            return

        def swap() -> None:
            try:
                with self._write_lock:  # not while this process writes: it reloads by itself after
                    if live_marker(self.settings) != self._marker:
                        self.reload()
            except Exception:  # a half-written or corrupt generation: keep answering from the loaded one
                log.exception("could not load the new index generation %s", marker)
            finally:
                self._following.release()

        threading.Thread(target=swap, name="hdyt-follow", daemon=True).start()

    @property
    def generation(self) -> str | None:
        """The live generation the loaded chain answers from (None for Milvus or before loading)."""
        return self._marker

    @property
    def retriever(self) -> HybridRetriever:
        """The hybrid retriever over the live index (the one the chain answers from)."""
        self.chain  # noqa: B018 - loads both
        assert self._retriever is not None
        return self._retriever

    def _load(self):
        from rag.answer.chain import build_answer_chain

        marker = live_marker(self.settings)  # read first: a newer one arriving meanwhile is seen next time
        retriever = load_retriever(self.settings)
        return retriever, build_answer_chain(self.settings, retriever), marker

    def reload(self) -> None:
        """Swap in the live generation (after a write)."""
        loaded = self._load()
        with self._load_lock:
            (self._retriever, self._chain, self._marker), self._other_modes = loaded, {}
        # the old store stays open for requests still using it; its files were unlinked already

    # -- questions ------------------------------------------------------------------------------

    def ask(
        self,
        question: str,
        history: Sequence[Sequence[str]] = (),
        wait_for_llm: bool = True,
        search_filter: SearchFilter | None = None,
    ):
        """The answer; ``wait_for_llm=False`` returns the extractive answer without asking the LLM.

        ``search_filter`` restricts the passages searched (and so cited) to some documents
        (:class:`~rag.retrieval.filters.SearchFilter`; a ``FilterError`` when it names an unknown one).
        """
        if self._pooled(wait_for_llm):
            from rag.answer.chain import Answer

            data = self._pool_call("ask", question, [list(t) for t in history], wait_for_llm, search_filter)
            return Answer.model_validate(data)
        chain = self._restricted(self.chain, search_filter)
        chain = chain if wait_for_llm else chain.without_llm()
        return chain.answer(question, list(history))

    def stream(self, question: str, history: Sequence[Sequence[str]] = (), search_filter: SearchFilter | None = None) -> Iterator[Any]:
        """Text deltas, then the :class:`~rag.answer.chain.Answer` (see ``AnswerChain.stream``)."""
        if self._pooled(wait_for_llm=True):  # extractive only: the whole answer, then its words (as the chain does)
            return self._stream_pooled(question, history, search_filter)
        return self._restricted(self.chain, search_filter).stream({"question": question, "history": list(history)})

    def _stream_pooled(self, question: str, history: Sequence[Sequence[str]], search_filter: SearchFilter | None) -> Iterator[Any]:
        answer = self.ask(question, history, search_filter=search_filter)
        yield from (m.group() for m in _DELTA.finditer(answer.answer))
        yield answer

    def _pooled(self, wait_for_llm: bool) -> bool:
        """Whether this request goes to the workers: not when an LLM is asked (its stage is I/O: it stays here)."""
        return self._workers is not None and (not wait_for_llm or self.settings.answer_backend == "extractive")

    def _pool_call(self, op: str, *args: Any) -> Any:
        assert self._workers is not None
        self.chain  # noqa: B018 - follows another process's new generation, as in-process answers do
        return self._workers.call(op, self._marker, *args)

    def _restricted(self, chain, search_filter: SearchFilter | None):
        """``chain`` answering from the documents ``search_filter`` allows (validated here, before any search)."""
        if search_filter is None:
            return chain
        retriever = chain.retriever
        retriever.allowed_documents(search_filter)  # an unknown document: the FilterError now, not mid-answer
        return chain.model_copy(update={"retriever": retriever.restricted(search_filter)})

    def search(
        self, query: str, k: int | None = None, mode: Mode = "hybrid", search_filter: SearchFilter | None = None
    ) -> SearchResult:
        """Ranked passages; ``mode`` "dense" or "bm25" searches with one retriever alone; ``search_filter``
        restricts them to some documents."""
        if mode == "hybrid":
            return self.retriever.search(query, k, search_filter)
        if mode not in self._other_modes:
            with self._load_lock:
                self._other_modes.setdefault(mode, load_retriever(self.settings, mode, store=self.retriever.store))
        return self._other_modes[mode].search(query, k, search_filter)

    def search_json(
        self, query: str, k: int | None = None, mode: Mode = "hybrid", search_filter: SearchFilter | None = None
    ) -> dict[str, Any]:
        """The public ``search --json`` shape: ``{"query", "results": [{"rank", "doc_id", "title",
        "text", "start", "end", "score"}]}`` (the CLI, the API and the MCP server)."""
        if self._workers is not None:
            return self._pool_call("search_json", query, k, mode, search_filter)
        results = [
            {
                "rank": h.rank,
                "doc_id": h.chunk.doc_id,
                "title": h.chunk.title,
                "text": h.chunk.text,
                "start": h.chunk.start,
                "end": h.chunk.end,
                "score": round(h.score, 6),
            }
            for h in self.search(query, k, mode, search_filter).hits
        ]
        return {"query": query, "results": results}

    # -- library --------------------------------------------------------------------------------

    def documents_json(self) -> dict[str, Any]:
        """The public ``docs --json`` shape: ``{"model_id", "n_chunks", "documents": [{"doc_id",
        "title", "n_chunks", "dates", "source", "ocr_pages", "legacy_encoding"}]}`` (the CLI and ``/api/documents``)."""
        manifest = self.library()  # read once: Milvus reads it live
        docs = [
            {
                "doc_id": d,
                "title": e.title,
                "n_chunks": e.n_chunks,
                "dates": e.dates,
                "source": e.source,
                "ocr_pages": e.ocr_pages,
                "legacy_encoding": e.legacy_encoding,
            }
            for d, e in sorted(manifest.documents.items())
        ]
        return {"model_id": manifest.model_id, "n_chunks": manifest.n_chunks, "documents": docs}

    @property
    def store(self):
        """The live index (FAISS store or Milvus index)."""
        return self.retriever.store

    def library(self):
        """The live index's manifest (documents, model id, chunk count): from the loaded index, or read
        without loading the model when none is loaded (the CLI's ``docs``)."""
        return self.store.manifest if self._chain is not None else open_library(self.settings).manifest

    def documents(self) -> list[DocumentInfo]:
        """The library list."""
        manifest = self.library()
        return [
            DocumentInfo(doc_id, e.title, e.n_chunks, list(e.dates), e.source, e.ocr_pages, e.legacy_encoding)
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
            "llm": llm_health(self.settings),
        }

    def add_files(
        self,
        paths: Sequence[str | Path],
        rebuild: bool = False,
        progress: bool = False,
        ray: bool = False,
        ray_address: str | None = None,
    ) -> IngestReport:
        """Add or update documents from files and directories; a bad file leaves the index untouched.

        With FAISS, files are parsed (in the bounded sandbox) before any lock is taken: the index's
        own write lock serialises the write itself, across threads and processes, so a slow upload
        never blocks another one while it is still parsing. Milvus writes in place: held throughout.
        """
        run = lambda: ingest_any(  # noqa: E731
            list(paths), self.settings, rebuild=rebuild, progress=progress, ray=ray, ray_address=ray_address
        )
        if self.settings.store == "faiss" and not ray:
            report = run()
            with self._write_lock:
                if report.changed and self._chain is not None:
                    self.reload()
            return report
        with self._write_lock:
            report = run()
            if report.changed and self._chain is not None:
                self.reload()
            return report

    def clean_orphans(self) -> list[str]:
        """At start-up: remove temporary generations of interrupted writes, and settle the uploads
        folder after an upload was killed midway (see :meth:`_settle_uploads`). What was removed."""
        removed = clean_orphans(self.settings)
        try:
            documents = open_library(self.settings).manifest.documents if index_exists(self.settings) else None
        except Exception:  # an unreadable index: leave the uploads alone, the app reports the index
            return removed
        if documents is not None:
            removed += self._settle_uploads(documents)
        return removed

    def _settle_uploads(self, documents) -> list[str]:
        """Uploaded files no indexed document comes from are removed; a backup left by a replaced
        upload is restored when it is the indexed version, else dropped."""
        folder = Path(self.settings.uploads_dir)
        if not folder.is_dir():
            return []
        indexed = {Path(e.source).resolve(): e.content_hash for e in documents.values()}
        removed: list[str] = []
        for path in sorted(folder.iterdir()):
            if not path.is_file() or not path.name.startswith(".") or ".bak-" not in path.name:
                continue
            original = folder / path.name[1 : path.name.rindex(".bak-")]
            wanted = indexed.get(original.resolve())
            if wanted is not None and (not original.is_file() or _sha256(original) != wanted) and _sha256(path) == wanted:
                os.replace(path, original)  # the kill came after the copy, before the ingest committed
            else:
                path.unlink(missing_ok=True)
            removed.append(path.name)
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.name.startswith(".") and path.resolve() not in indexed:
                path.unlink(missing_ok=True)
                removed.append(path.name)
        return removed

    def delete(self, doc_ids: Sequence[str]) -> IngestReport:
        with self._write_lock:
            report = delete_any(doc_ids, self.settings)
            if self._chain is not None:
                self.reload()
            return report


_DELTA = re.compile(r"\S+\s*|\s+")  # AnswerChain.stream's word pieces: joined, they give the text back


def worker_handler(settings: Settings) -> Callable[..., Any]:
    """Run in each answer worker (:mod:`rag.answer_workers`): an in-process ``Assistant`` over the live index,
    loaded now, and the handler of the requests :meth:`Assistant.ask` and ``search_json`` send it."""
    from rag.embeddings import get_embeddings

    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    if cpus:  # ONNX Runtime sizes its intra-op pool by the CPUs allowed when the model loads: one thread
        os.sched_setaffinity(0, {sorted(cpus)[os.getpid() % len(cpus)]})
    try:
        get_embeddings(settings.model, backend=settings.embed_backend)  # loaded once per process: the index reuses it
    finally:
        if cpus:
            os.sched_setaffinity(0, cpus)
    assistant = Assistant(settings)
    assistant.chain  # noqa: B018 - the index, loaded before the first request

    def handle(op: str, generation: str | None, *args: Any) -> Any:
        assistant._catch_up(generation)
        if op == "ask":
            return assistant.ask(*args).model_dump()
        if op == "search_json":
            return assistant.search_json(*args)
        if op == "generation":
            return assistant.generation
        raise ValueError(f"unknown answer worker request {op!r}")

    return handle


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
