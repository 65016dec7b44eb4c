"""Hybrid retrieval on the real corpus with the real model: diacritics, no diacritics, English."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

from rag.errors import QueryError
from rag.retrieval.hybrid import HybridRetriever, reciprocal_rank_fusion
from rag.text import collapse_whitespace

# (question, document id, a verbatim piece of the passage that answers it)
QUESTIONS = [
    ("Bệnh viện Bãi Cháy khám bao nhiêu lượt người năm 2023?", "001_74a51137ac984768", "383.605 lượt người"),
    ("benh vien bai chay kham bao nhieu luot nguoi nam 2023", "001_74a51137ac984768", "383.605 lượt người"),
    ("Bệnh viện Chấn thương Chỉnh hình có bao nhiêu cán bộ công nhân viên?", "000_b4cc5c523bac1daf", "161 CBCNV"),
    ("Ai là Phó Chủ tịch UBND tỉnh Bắc Kạn làm việc với Sở Y tế?", "003_5faf7327e2f34ea6", "Phạm Duy Hưng"),
    ("Trung tam y te huyen Tien Du so ket 9 thang dau nam", "002_3c259da17feec9a5", "Tiên Du"),
    ("Giám đốc Sở Y tế đến thăm trạm y tế nào?", "004_deafa303e7a50af3", "Trạm Y tế Pà Cò"),
    ("How many patient visits did Bai Chay Hospital handle in 2023?", "001_74a51137ac984768", "383.605"),
]


@pytest.mark.parametrize(("question", "doc_id", "evidence"), QUESTIONS, ids=[q[0][:30] for q in QUESTIONS])
def test_hybrid_finds_the_passage_in_top5(retriever, question, doc_id, evidence):
    hits = retriever.search(question, k=5).hits
    assert any(h.chunk.doc_id == doc_id and evidence in collapse_whitespace(h.chunk.text) for h in hits)


def test_modes_all_return_ranked_passages(retriever):
    for mode in ("dense", "bm25", "hybrid"):
        single = HybridRetriever(store=retriever.store, embeddings=retriever.embeddings, mode=mode)
        hits = single.search("Tiên Du tiêm chủng", k=5).hits
        assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
        assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))


def test_langchain_documents_carry_exact_offsets(retriever):
    docs = retriever.invoke("Bệnh viện Bãi Cháy khám bao nhiêu lượt người?")
    assert docs and all(isinstance(d, Document) for d in docs)
    for d in docs:
        full = retriever.store.document(d.metadata["doc_id"]).text
        assert full[d.metadata["start"] : d.metadata["end"]] == d.page_content
        assert {"doc_id", "title", "start", "end", "score", "rank", "dates", "source"} <= set(d.metadata)


def test_empty_and_too_long_queries_are_refused(retriever):
    with pytest.raises(QueryError, match="empty"):
        retriever.search("  \n ")
    with pytest.raises(QueryError, match="longer than"):
        retriever.search("a" * (retriever.max_query_chars + 1))


def test_reciprocal_rank_fusion_by_hand():
    fused = dict(reciprocal_rank_fusion({"a": [1, 2, 3], "b": [3, 1]}, k=60))
    assert fused[1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[3] == pytest.approx(1 / 63 + 1 / 61)
    assert fused[2] == pytest.approx(1 / 62)
    assert [cid for cid, _ in reciprocal_rank_fusion({"a": [1, 2, 3], "b": [3, 1]}, k=60)] == [1, 3, 2]


def test_accentless_question_leans_on_folded_bm25(retriever):
    """The e5 vector of an accent-less question is weak; the folded BM25 list carries it."""
    from rag.retrieval.hybrid import retriever_weights

    weights = retriever_weights("Benh vien Bai Chay kham bao nhieu luot nguoi?")
    assert weights["bm25"] == 0 and weights["bm25_folded"] > weights["dense"] > 0
    unrestored = retriever.model_copy(update={"restore": False})  # restoration on: tests/query/test_restore.py
    hits = unrestored.search("Benh vien Bai Chay kham bao nhieu luot nguoi?", k=5).hits
    assert any("383.605 lượt người" in h.chunk.text for h in hits)
    assert all(h.ranks["bm25"] is None for h in hits)  # the accented list is not even computed
    assert any("383.605 lượt người" in h.chunk.text for h in retriever.search("Benh vien Bai Chay kham bao nhieu luot nguoi?", k=5).hits)


def test_an_english_question_is_matched_by_its_report_words(retriever):
    """Accented BM25 is off for English; folded BM25 reads the glossary's Vietnamese words and the names."""
    from rag.retrieval.hybrid import report_words, retriever_weights

    question = "Who is the director of Bai Chay Hospital?"
    weights = retriever_weights(question)
    assert weights["bm25"] == 0 and weights["bm25_folded"] > 0 and weights["dense"] > 0
    words = report_words(question).split()
    assert {"bai", "chay", "giam", "doc"} <= set(" ".join(words).split()) and "director" not in words
    assert report_words("Ai là giám đốc Bệnh viện Bãi Cháy?") == "Ai là giám đốc Bệnh viện Bãi Cháy?"
    lexical_only = retriever.model_copy(update={"mode": "bm25"})
    hits = lexical_only.search(question, k=5).hits
    assert any("Lê Ngọc Dũng - Giám đốc Bệnh viện Bãi Cháy" in h.chunk.text for h in hits)
    assert all(h.ranks["bm25_folded"] is not None for h in hits)
