"""The records every index backend stores and returns: chunks, documents and the manifest.

Invariant: ``doc_text[chunk.start:chunk.end] == chunk.text``. What gets embedded and BM25-indexed
for a passage is :func:`indexed_text`: the passage under its document title (many key sentences
never name their hospital, so the title carries that context).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel, field_serializer

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Chunk:
    """A passage of one document: ``text`` is ``doc_text[start:end]``."""

    doc_id: str
    title: str
    start: int
    end: int
    text: str
    index: int  # position of this chunk within its document


def indexed_text(title: str, text: str, with_title: bool = True) -> str:
    """The string embedded and BM25-indexed for a passage (contextual header = document title)."""
    return f"{title}\n{text}" if with_title and title else text


def sentence_context(title: str, sentence: str) -> str:
    """What a candidate sentence is embedded as, at ingest (stored sentence vectors) and by the
    answer scorer: the sentence under its document title (always, whatever ``title_prefix`` says
    for passages; a shortened title loses its "…")."""
    return indexed_text(title.rstrip("…"), sentence)


class DocumentEntry(BaseModel):
    """What the manifest records per document (its chunks live in the chunk store)."""

    title: str
    source: str
    content_hash: str
    dates: list[str] = []
    n_chunks: int
    ocr_pages: int = 0  # pages (or images) whose text was recognised by OCR: check figures against the scan
    legacy_encoding: str | None = None  # "tcvn3" or "vni" when the text was converted from a legacy font encoding


class Manifest(BaseModel):
    """Describes a generation; checked on load so vectors from two models never mix.

    ``documents`` is any mapping of doc id to entry: a dict, or (a FAISS generation read from
    disk) a table that looks entries up when asked, so opening a library of a million chunks
    does not parse every document's entry (:mod:`rag.index.faiss.generations`).
    """

    format_version: int = FORMAT_VERSION
    model_id: str
    dim: int
    dense_kind: str
    title_prefix: bool
    chunk_chars: int
    overlap_chars: int
    n_chunks: int  # live chunks
    built_at: float
    build_seconds: float = 0.0
    documents: Mapping[str, DocumentEntry]
    base_chunks: int | None = None  # rows of the base segment, deleted ones included (None: n_chunks)
    delta_chunks: int = 0
    deleted_chunks: int = 0

    @field_serializer("documents")
    def _entries(self, documents: Mapping[str, DocumentEntry]) -> dict[str, DocumentEntry]:
        return dict(documents.items())

    @property
    def base_rows(self) -> int:
        return self.n_chunks if self.base_chunks is None else self.base_chunks


@dataclass(frozen=True)
class ChunkRecord:
    """A stored passage with its document's title (``text == doc_text[start:end]``)."""

    chunk_id: int
    doc_id: str
    title: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class DocumentRecord:
    """A stored document: its normalised text and metadata."""

    doc_id: str
    title: str
    source: str
    content_hash: str
    dates: list[str]
    text: str
