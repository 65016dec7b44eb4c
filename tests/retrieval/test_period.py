"""A question naming a year or a period prefers passages of that period: the parsing, and the boost on a real index.

The library is the yearly reports of tests/retrieval/test_filters.py (the same sentences every year,
FAISS base + delta) plus passages chosen so that only the period tells them apart.
"""

from __future__ import annotations

import pytest

from rag.index.records import DocumentEntry
from rag.retrieval.period import PassagePeriods, asked_years, boosted, date_years, newest_year, span_years


@pytest.mark.parametrize(
    ("question", "years"),
    [
        ("Năm 2023, tổng số lượt khám bệnh là bao nhiêu?", {2023}),
        ("Quý I/2024 tỉnh tiêm được bao nhiêu liều vắc xin?", {2024}),
        ("6 tháng đầu năm 2024 có bao nhiêu ca sốt xuất huyết?", {2024}),
        ("Đến tháng 12/2023 có mấy bệnh viện làm bệnh án điện tử?", {2023}),
        ("so ca sot xuat huyet nam 2022", {2022}),  # typed without accents: the bare year
        ("How many dengue cases were there in 2021?", {2021}),
        ("Giai đoạn 2021–2025 tỉnh xây bao nhiêu trạm y tế?", {2021, 2022, 2023, 2024, 2025}),
        ("Từ năm 2019 đến năm 2021 có bao nhiêu ca?", {2019, 2020, 2021}),
        ("Năm 2023 tăng bao nhiêu so với năm 2022?", {2022, 2023}),
        ("Bệnh viện khám cho 1.234 lượt người?", set()),  # a number, not a year
        ("Nghị quyết số 28/2023/NQ-HĐND quy định gì?", set()),  # a document number
        ("Có bao nhiêu bác sĩ?", set()),
    ],
)
def test_the_years_a_question_names(question, years):
    assert asked_years(question, 2030) == years


def test_this_year_and_last_year_are_relative_to_the_newest_document():
    assert asked_years("Năm nay có bao nhiêu ca mắc?", 2024) == {2024}
    assert asked_years("Năm ngoái tỉnh khám bao nhiêu lượt?", 2024) == {2023}
    assert asked_years("nam ngoai tinh kham bao nhieu luot", lambda: 2024) == {2023}
    assert asked_years("Năm nay có bao nhiêu ca mắc?", None) == set()  # nothing dated: not resolved
    assert asked_years("Năm nay, so với năm 2022?", 2024) == {2022}  # a named year wins
    asked = []
    assert asked_years("Có bao nhiêu ca?", lambda: asked.append(1) or 2024) == set() and not asked  # not computed


def test_the_years_of_documents_and_passages():
    assert date_years(["2024-06", "2023-12-20", "2021", "không rõ"]) == {2021, 2023, 2024}
    assert span_years("Báo cáo sơ kết 6 tháng đầu năm 2024, ngày 5/7/2024; kế hoạch giai đoạn 2026-2030") == {2024, *range(2026, 2031)}
    assert span_years("Khám cho 2.024 lượt, 2023 người") == set()  # no date span
    library = {
        "a": DocumentEntry(title="A", source="a", content_hash="h", dates=["2023-12-20"], n_chunks=1),
        "b": DocumentEntry(title="B", source="b", content_hash="h", dates=["2024-06"], n_chunks=1),
        "c": DocumentEntry(title="C", source="c", content_hash="h", dates=[], n_chunks=1),
    }
    assert newest_year(library) == 2024 and newest_year({"c": library["c"]}) is None
    periods = PassagePeriods()
    periods.use(library, lambda: newest_year(library))
    assert periods.newest() == 2024
    assert periods.of(1, "a", "Báo cáo năm 2022", "Số ca mắc tháng 6/2021.", ["2023-12-20"]) == {2021, 2022, 2023}
    assert periods.of(2, "c", "Thông báo", "Không ghi ngày.", []) == set()


def test_the_boost_reorders_and_removes_nothing():
    fused = [(1, 0.050), (2, 0.045), (3, 0.020), (4, 0.010)]
    out = boosted(fused, {2: True, 4: True}, 0.008)
    assert [cid for cid, _ in out] == [2, 1, 3, 4]
    assert dict(out)[2] == pytest.approx(0.053) and dict(out)[1] == 0.050  # bounded: added once, others unchanged
    assert sorted(cid for cid, _ in boosted(fused, {}, 0.008)) == [1, 2, 3, 4]


NOTICES = {  # the same notice in two years: only its date tells them apart (one token "3/3/2022", not "2022")
    "tb_2022": ("Hà Giang, 3/3/2022", "5.120"),
    "tb_2023": ("Hà Giang, 3/3/2023", "4.870"),
}


def notices(folder):
    for doc_id, (header, children) in NOTICES.items():
        (folder / f"{doc_id}.txt").write_text(
            f"Thông báo kết quả tiêm chủng\n{header}\nCác trạm y tế xã đã tiêm vắc xin sởi cho {children} trẻ em.", encoding="utf-8"
        )


@pytest.fixture(scope="module")
def retriever(tmp_path_factory, embeddings):
    from rag.backend import load_retriever
    from tests.retrieval.test_filters import build_yearly

    settings, _ = build_yearly(tmp_path_factory.mktemp("period"), embeddings, notices)
    return load_retriever(settings)


def _docs(retriever, question, boost, k=5):
    return [h.chunk.doc_id for h in retriever.model_copy(update={"period_boost": boost}).search(question, k).hits]


def test_the_named_year_wins_where_only_the_date_differs(retriever):
    assert retriever.period_boost > 0
    for year in ("2022", "2023"):
        question = f"Năm {year} các trạm y tế xã tiêm vắc xin sởi cho bao nhiêu trẻ em?"
        assert _docs(retriever, question, retriever.period_boost)[0] == f"tb_{year}"
    # without a period the order is the retrievers' own, and both notices are there
    assert {"tb_2022", "tb_2023"} <= set(_docs(retriever, "Các trạm y tế xã tiêm vắc xin sởi cho bao nhiêu trẻ em?", retriever.period_boost))


def test_last_year_is_the_year_before_the_newest_document(retriever):
    question = "Năm ngoái các cơ sở y tế trong tỉnh đã khám bệnh cho bao nhiêu lượt người?"  # newest: sk_2024 (2024-06)
    assert _docs(retriever, question, retriever.period_boost)[0] == "bc_2023"
    assert _docs(retriever, "Năm nay các cơ sở y tế trong tỉnh đã khám bệnh cho bao nhiêu lượt người?", retriever.period_boost)[0] == "sk_2024"


def test_the_boost_is_a_preference_not_a_filter(retriever):
    question = "Thông báo về khám bệnh năm 2022: các cơ sở y tế đã khám bệnh cho nhiều lượt người trong tỉnh"
    docs = _docs(retriever, question, retriever.period_boost, k=8)
    assert "khong_ngay" in docs  # undated, and the best match of the words: still returned
    hits = retriever.search(question, 8).hits
    assert [h.rank for h in hits] == list(range(1, 9)) and all(a.score >= b.score for a, b in zip(hits, hits[1:]))
    assert _docs(retriever, question, 0.0, k=8) != [] and len(docs) == 8
