"""Filters by date and document on the real index: FAISS (base + delta + deleted rows), the Assistant, the CLI.

A library of yearly reports that all speak of the same things, so that an unfiltered search mixes
years; a filtered one must return only allowed documents, and still ``k`` passages when they hold ``k``.
"""

from __future__ import annotations

import json

import pytest

from rag.config import get_settings
from rag.retrieval.filters import FilterError, SearchFilter
from tests.helpers import run_cli

YEARS = {
    "bc_2021": ("Hà Giang, ngày 20 tháng 12 năm 2021", 2021, "1.105.000", "61"),
    "bc_2022": ("Hà Giang, ngày 20 tháng 12 năm 2022", 2022, "1.214.000", "64"),
    "bc_2023": ("Hà Giang, ngày 20 tháng 12 năm 2023", 2023, "1.336.000", "67"),
    "sk_2024": ("Hà Giang, tháng 6 năm 2024", 2024, "702.000", "69"),
}


def report_text(header: str, year: int, visits: str, doctors: str) -> str:
    return "\n".join(
        [
            f"Báo cáo tổng kết công tác y tế năm {year}",
            header,
            f"Năm {year}, các cơ sở y tế trong tỉnh đã khám bệnh cho {visits} lượt người.",
            f"Tỷ lệ trẻ em dưới 1 tuổi được tiêm chủng đầy đủ năm {year} đạt {doctors},5%.",
            f"Số bác sĩ trên một vạn dân năm {year} là {doctors[0]},{doctors[1]} bác sĩ.",
            f"Trong năm {year}, tỉnh tổ chức {doctors} lớp tập huấn phòng chống dịch bệnh cho cán bộ y tế cơ sở.",
            f"Công suất sử dụng giường bệnh của bệnh viện tuyến tỉnh năm {year} đạt {doctors}0 phần trăm kế hoạch.",
            f"Kế hoạch năm {year + 1} là nâng cao chất lượng khám chữa bệnh và y tế dự phòng.",
        ]
    )


def build_yearly(root, embeddings, extra=None):
    """The yearly reports (three, then a fourth added and one changed: a delta segment with deleted
    base rows) and an undated notice, in a FAISS index under ``root``; ``extra(folder)`` adds files
    first. Returns (settings, folder)."""
    from rag.ingest.local import ingest

    folder = root / "docs"
    folder.mkdir()
    for doc_id, parts in list(YEARS.items())[:3]:
        (folder / f"{doc_id}.txt").write_text(report_text(*parts), encoding="utf-8")
    (folder / "khong_ngay.txt").write_text(
        "Thông báo về khám bệnh\nCác cơ sở y tế đã khám bệnh cho nhiều lượt người trong tỉnh.", encoding="utf-8"
    )
    if extra is not None:
        extra(folder)
    settings = get_settings(index_dir=root / "index", uploads_dir=root / "uploads", chunk_chars=160, overlap_chars=0)
    assert not ingest([folder], settings, embeddings=embeddings).errors
    (folder / "sk_2024.txt").write_text(report_text(*YEARS["sk_2024"]), encoding="utf-8")
    text = (folder / "bc_2021.txt").read_text(encoding="utf-8")
    (folder / "bc_2021.txt").write_text(text + "\nTỉnh có 12 bệnh viện tuyến huyện.", encoding="utf-8")
    report = ingest([folder], settings, embeddings=embeddings)
    assert report.writer == "write_delta_generation" and report.added == ["sk_2024"] and report.updated == ["bc_2021"]
    return settings, folder


@pytest.fixture(scope="module")
def yearly(tmp_path_factory, embeddings):
    return build_yearly(tmp_path_factory.mktemp("yearly"), embeddings)


@pytest.fixture(scope="module")
def assistant(yearly):
    from rag.service import Assistant

    return Assistant(yearly[0])


QUESTION = "Năm 2024 các cơ sở y tế khám bệnh cho bao nhiêu lượt người?"


def test_the_index_has_a_delta_and_deleted_rows(assistant):
    store = assistant.store
    assert store.delta is not None and len(store.deleted) > 0
    assert store.manifest.documents["sk_2024"].dates[0] == "2024-06"


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_a_filtered_search_returns_k_allowed_passages(assistant, mode):
    unfiltered = {h.chunk.doc_id for h in assistant.search(QUESTION, 5, mode).hits}
    assert "sk_2024" in unfiltered or "bc_2023" in unfiltered
    f = SearchFilter.parse(until="2022-12-31")
    hits = assistant.search(QUESTION, 5, mode, f).hits
    assert len(hits) == 5  # the two allowed reports hold more than 5 passages
    assert {h.chunk.doc_id for h in hits} <= {"bc_2021", "bc_2022"}
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    for h in hits:  # a changed document's live text, never its deleted base rows
        assert assistant.store.document(h.chunk.doc_id).text[h.chunk.start : h.chunk.end] == h.chunk.text


def test_documents_from_the_delta_and_by_title(assistant):
    only_new = assistant.search(QUESTION, 5, search_filter=SearchFilter.parse(["sk_2024"])).hits
    assert only_new and {h.chunk.doc_id for h in only_new} == {"sk_2024"}
    by_title = SearchFilter.parse(["Báo cáo tổng kết công tác y tế năm 2022", "bc_2021.txt"])
    assert {h.chunk.doc_id for h in assistant.search(QUESTION, 8, search_filter=by_title).hits} == {"bc_2021", "bc_2022"}
    none = SearchFilter.parse(since="2025-01-01")
    assert assistant.search(QUESTION, 5, search_filter=none).hits == []


def test_an_answer_under_a_filter_cites_only_allowed_documents(assistant):
    free = assistant.ask(QUESTION)
    assert not free.abstained and "702.000" in free.answer
    f = SearchFilter.parse(["bc_2023"])
    answer = assistant.ask("Các cơ sở y tế khám bệnh cho bao nhiêu lượt người?", search_filter=f)
    assert answer.citations and {c.doc_id for c in answer.citations} == {"bc_2023"}
    assert "1.336.000" in answer.answer and "702.000" not in answer.answer
    streamed = list(assistant.stream("Các cơ sở y tế khám bệnh cho bao nhiêu lượt người?", search_filter=f))
    assert {c.doc_id for c in streamed[-1].citations} == {"bc_2023"}
    with pytest.raises(FilterError, match="no such document"):
        assistant.ask(QUESTION, search_filter=SearchFilter.parse(["bc_1999"]))


def test_the_langchain_retriever_keeps_its_filter(assistant):
    restricted = assistant.retriever.restricted(SearchFilter.parse(since="2023-01-01"))
    docs = restricted.invoke(QUESTION)
    assert docs and {d.metadata["doc_id"] for d in docs} <= {"bc_2023", "sk_2024"}
    assert assistant.retriever.search_filter is None  # the shared retriever is unchanged


def test_cli_filters(yearly):
    settings, _ = yearly
    index = str(settings.index_dir)
    result = run_cli("search", QUESTION, "--json", "--k", "4", "--index", index, "--from", "2022-01-01", "--to", "2023-12-31")
    assert result.returncode == 0, result.stderr
    docs = [r["doc_id"] for r in json.loads(result.stdout)["results"]]
    assert len(docs) == 4 and set(docs) <= {"bc_2022", "bc_2023"}
    result = run_cli("ask", "Các cơ sở y tế khám bệnh cho bao nhiêu lượt người?", "--json", "--index", index, "--doc", "bc_2022")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert {c["doc_id"] for c in answer["citations"]} == {"bc_2022"} and "1.214.000" in answer["answer"]
    for args, message in (
        (["--doc", "bc_1999"], "no such document in the library: 'bc_1999'"),
        (["--since", "2024-02-30"], "from must be a date YYYY-MM-DD"),
        (["--from", "2024-05-01", "--until", "2024-01-01"], "from is after to"),
    ):
        result = run_cli("search", QUESTION, "--index", index, *args)
        assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
