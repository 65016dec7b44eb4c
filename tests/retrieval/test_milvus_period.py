"""The period boost on a real Milvus Lite, with the server's fusion and with ours: the library and
questions of tests/retrieval/test_period.py, the same outcomes as on FAISS."""

from __future__ import annotations

import pytest

pytest.importorskip("pymilvus", reason="the Milvus backend needs the 'milvus' extra: pip install -e '.[milvus]'")
pytest.importorskip("milvus_lite", reason="Milvus Lite needs the 'milvus' extra: pip install -e '.[milvus]'")

from rag.config import get_settings  # noqa: E402
from tests.retrieval.test_filters import YEARS, report_text  # noqa: E402
from tests.retrieval.test_period import notices  # noqa: E402


@pytest.fixture(scope="module")
def milvus_period(tmp_path_factory, embeddings):
    from rag.backend import load_retriever
    from rag.ingest.milvus import ingest_milvus

    root = tmp_path_factory.mktemp("milvus-period")
    folder = root / "docs"
    folder.mkdir()
    for doc_id, parts in YEARS.items():
        (folder / f"{doc_id}.txt").write_text(report_text(*parts), encoding="utf-8")
    (folder / "khong_ngay.txt").write_text(
        "Thông báo về khám bệnh\nCác cơ sở y tế đã khám bệnh cho nhiều lượt người trong tỉnh.", encoding="utf-8"
    )
    notices(folder)
    settings = get_settings(store="milvus", milvus_uri=str(root / "p.db"), index_dir=root / "unused", chunk_chars=160, overlap_chars=0)
    assert not ingest_milvus([folder], settings, embeddings=embeddings).errors
    return load_retriever(settings)


def _docs(retriever, fusion, question, boost, k=5):
    hits = retriever.model_copy(update={"fusion": fusion, "period_boost": boost}).search(question, k).hits
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1)) and all(a.score >= b.score for a, b in zip(hits, hits[1:]))
    return [h.chunk.doc_id for h in hits]


@pytest.mark.parametrize("fusion", ["server", "client"])
def test_milvus_prefers_the_named_period(milvus_period, fusion):
    boost = milvus_period.period_boost
    for year in ("2022", "2023"):
        assert _docs(milvus_period, fusion, f"Năm {year} các trạm y tế xã tiêm vắc xin sởi cho bao nhiêu trẻ em?", boost)[0] == f"tb_{year}"
    assert _docs(milvus_period, fusion, "Năm ngoái các cơ sở y tế trong tỉnh đã khám bệnh cho bao nhiêu lượt người?", boost)[0] == "bc_2023"
    question = "Thông báo về khám bệnh năm 2022: các cơ sở y tế đã khám bệnh cho nhiều lượt người trong tỉnh"
    docs = _docs(milvus_period, fusion, question, boost, k=8)
    assert len(docs) == 8 and "khong_ngay" in docs  # undated: still returned
