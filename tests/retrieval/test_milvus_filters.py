"""Filters by date and document on a real Milvus Lite: the doc_id expression inside every search request."""

from __future__ import annotations

import pytest

pytest.importorskip("pymilvus", reason="the Milvus backend needs the 'milvus' extra: pip install -e '.[milvus]'")
pytest.importorskip("milvus_lite", reason="Milvus Lite needs the 'milvus' extra: pip install -e '.[milvus]'")

from rag.config import get_settings  # noqa: E402
from rag.retrieval.filters import FilterError, SearchFilter  # noqa: E402
from tests.retrieval.test_filters import QUESTION, YEARS, report_text  # noqa: E402


@pytest.fixture(scope="module")
def milvus_yearly(tmp_path_factory, embeddings):
    from rag.ingest.milvus import ingest_milvus

    root = tmp_path_factory.mktemp("milvus-yearly")
    folder = root / "docs"
    folder.mkdir()
    for doc_id, parts in YEARS.items():
        (folder / f"{doc_id}.txt").write_text(report_text(*parts), encoding="utf-8")
    settings = get_settings(
        store="milvus", milvus_uri=str(root / "yearly.db"), index_dir=root / "unused", chunk_chars=160, overlap_chars=0
    )
    assert not ingest_milvus([folder], settings, embeddings=embeddings).errors
    return settings


@pytest.mark.parametrize("fusion", ["server", "client"])
@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_milvus_filtered_search_returns_k_allowed_passages(milvus_yearly, fusion, mode):
    from rag.backend import load_retriever

    retriever = load_retriever(milvus_yearly, mode).model_copy(update={"fusion": fusion})
    unfiltered = {h.chunk.doc_id for h in retriever.search(QUESTION, 5).hits}
    assert unfiltered - {"bc_2021", "bc_2022"}
    hits = retriever.search(QUESTION, 5, SearchFilter.parse(until="2022-12-31")).hits
    assert len(hits) == 5 and {h.chunk.doc_id for h in hits} <= {"bc_2021", "bc_2022"}
    by_doc = retriever.search(QUESTION, 3, SearchFilter.parse(["sk_2024"])).hits
    assert by_doc and {h.chunk.doc_id for h in by_doc} == {"sk_2024"}
    assert retriever.search(QUESTION, 5, SearchFilter.parse(since="2030-01-01")).hits == []
    with pytest.raises(FilterError, match="no such document"):
        retriever.search(QUESTION, 5, SearchFilter.parse(["bc_1999"]))


def test_milvus_answer_cites_only_allowed_documents(milvus_yearly):
    from rag.service import Assistant

    answer = Assistant(milvus_yearly).ask(
        "Các cơ sở y tế khám bệnh cho bao nhiêu lượt người?", search_filter=SearchFilter.parse(["bc_2022"])
    )
    assert answer.citations and {c.doc_id for c in answer.citations} == {"bc_2022"}
    assert "1.214.000" in answer.answer
