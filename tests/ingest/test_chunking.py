"""Chunk offsets round-trip exactly, overlap works, long sentences are cut."""

from __future__ import annotations

import pytest

from rag.ingest.chunking import MAX_GROWTH, chunk_document
from rag.index.records import indexed_text
from rag.ingest.loaders import load_document
from rag.text import split_sentences

from tests.helpers import CORPUS


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.txt")), ids=lambda p: p.stem[:3])
def test_every_corpus_chunk_round_trips(path):
    doc = load_document(path)
    chunks = chunk_document(doc.doc_id, doc.title, doc.text, max_chars=500, overlap_chars=120)
    assert chunks
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert chunk.doc_id == path.stem
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    # every non-space character of the document is in some chunk
    assert all(i in covered for i, ch in enumerate(doc.text) if not ch.isspace())


def test_chunks_follow_sentence_boundaries_and_overlap():
    sentences = [f"Câu số {i} nói về bệnh viện thứ {i} với nhiều chi tiết." for i in range(30)]
    text = " ".join(sentences)
    chunks = chunk_document("d", "T", text, max_chars=200, overlap_chars=60)
    assert len(chunks) > 3
    for chunk in chunks:
        assert split_sentences(chunk.text)[0] in sentences  # starts on a sentence
        assert chunk.text.endswith(".")
    for a, b in zip(chunks, chunks[1:]):
        assert b.start < a.end  # overlap
        assert b.start > a.start  # progress


def test_long_sentence_is_cut_with_exact_offsets():
    text = "Mở đầu. " + ", ".join(f"hạng mục {i}" for i in range(200)) + "."
    chunks = chunk_document("d", "T", text, max_chars=150, overlap_chars=30)
    assert all(len(c.text) <= 150 * MAX_GROWTH for c in chunks)
    assert all(text[c.start : c.end] == c.text for c in chunks)


def test_indexed_text_has_title_prefix():
    assert indexed_text("Bệnh viện Bãi Cháy", "Bệnh viện đã khám") == "Bệnh viện Bãi Cháy\nBệnh viện đã khám"
    assert indexed_text("T", "x", with_title=False) == "x"


def test_bad_chunk_sizes_rejected():
    with pytest.raises(ValueError):
        chunk_document("d", "T", "x", max_chars=100, overlap_chars=100)
