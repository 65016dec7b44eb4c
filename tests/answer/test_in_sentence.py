"""Both figures of a change in one sentence, paired with their periods and computed; a change asked
never bolds a level.

Every sentence is written for these tests (no corpus or gold wording); expected figures are
worked out by hand: 401.220 − 383.605 = 17.615; (401.220 − 383.605) : 383.605 × 100 = 4,592… →
4,59; 95,25 − 93,8 = 1,45; 14 nghìn − 11 nghìn = 3.000; 1.980 : 1.240 = 1,596… → 1,6 (2 decimals: 1,60).
"""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

from rag.answer import compute, in_sentence
from rag.answer.compose import answer_extractive
from rag.answer.verify import verify


def _pairs(sentence: str) -> list[tuple[str, str]]:
    return [(d.span.text, d.period.text) for d in in_sentence.dated_figures(sentence, 0, len(sentence))]


@pytest.mark.parametrize(
    ("sentence", "pairs"),
    [
        ("Số ca sốt xuất huyết tăng từ 1.240 ca năm 2022 lên 1.980 ca năm 2023.", [("1.240 ca", "năm 2022"), ("1.980 ca", "năm 2023")]),
        ("Năm 2023, Trạm Y tế xã Bình Lộc tiêm 14 nghìn mũi (cùng kỳ năm 2022: 11 nghìn mũi).",
         [("14 nghìn mũi", "Năm 2023"), ("11 nghìn mũi", "cùng kỳ năm 2022")]),
        ("Tỷ lệ tiêm chủng đầy đủ năm 2023 là 95,25%, năm 2022 là 93,8%.", [("95,25%", "năm 2023"), ("93,8%", "năm 2022")]),
        ("Số lượt khám ngoại trú — Năm 2022: 383.605; Năm 2023: 401.220", [("383.605", "Năm 2022"), ("401.220", "Năm 2023")]),
        ("Số lượt khám ngoại trú — 2022: 383.605; 2023: 401.220", [("383.605", "2022"), ("401.220", "2023")]),
        # a bracket closes its period off: "30 ca nặng" is of 2023, not of the bracketed 2022
        ("Năm 2023 huyện ghi nhận 120 ca (năm 2022: 95 ca), trong đó 30 ca nặng.", [("120 ca", "Năm 2023"), ("95 ca", "năm 2022"), ("30 ca nặng", "Năm 2023")]),
        # a stated change is no level, and "so với năm 2022" is its baseline, no figure's period
        ("Năm 2023, bệnh viện khám 401.220 lượt, tăng 4,6% so với năm 2022.", [("401.220 lượt", "Năm 2023")]),
    ],
)
def test_each_figure_is_paired_with_the_period_it_is_of(sentence, pairs):
    assert _pairs(sentence) == pairs


def test_a_part_year_period_is_marked_and_the_same_months_of_another_year_too():
    (a, b) = in_sentence.periods("6 tháng đầu năm 2023 và cùng kỳ năm 2022", 0, 40)
    assert (a.text, a.part_year, a.same_months) == ("6 tháng đầu năm 2023", True, False)
    assert (b.text, b.years, b.same_months) == ("cùng kỳ năm 2022", frozenset({"2022"}), True)


def _asked(question: str) -> in_sentence.Asked | None:
    p = compute.plan(question)
    return in_sentence.asked_periods(p) if p else None


def test_the_asked_periods_of_a_change_and_of_a_difference_between_two_years():
    assert _asked("Số ca mắc năm 2023 tăng bao nhiêu so với năm 2022?") == in_sentence.Asked(frozenset({"2023"}), frozenset({"2022"}))
    assert _asked("Số ca mắc năm 2023 cao hơn năm 2022 bao nhiêu ca?") == in_sentence.Asked(frozenset({"2023"}), frozenset({"2022"}))
    assert _asked("Số ca mắc năm 2023 tăng bao nhiêu so với cùng kỳ?") == in_sentence.Asked(frozenset({"2023"}), frozenset())
    # two units compared: each is an operand of its own, not a sentence's two periods
    assert _asked("Số ca mắc của huyện Bình Lộc cao hơn huyện Đông Hà bao nhiêu ca năm 2023?") is None


def _docs(*passages: tuple[str, str]) -> list[Document]:
    return [
        Document(page_content=text, metadata={"doc_id": f"d{i}", "title": title, "start": 0, "end": len(text), "ranks": {"dense": i + 1}})
        for i, (title, text) in enumerate(passages)
    ]


OTHER = ("Trung tâm Y tế huyện Đông Hà năm 2023", "Năm 2023, Trung tâm Y tế huyện Đông Hà có 120 giường bệnh.")
VISITS = "Số lượt khám ngoại trú tại Bệnh viện Đa khoa huyện Bình Lộc tăng từ 383.605 lượt năm 2022 lên 401.220 lượt năm 2023."


def _ask(question: str, sentence: str, title: str = "Bệnh viện Đa khoa huyện Bình Lộc năm 2023"):
    return answer_extractive(question, docs=_docs((title, sentence), OTHER))


def test_a_change_is_computed_from_one_sentence_and_shown_with_its_computation():
    result = _ask("Số lượt khám ngoại trú của Bệnh viện Đa khoa huyện Bình Lộc năm 2023 tăng bao nhiêu so với năm 2022?", VISITS)
    assert not result.abstained
    quote, computed = result.parts
    assert computed.computed == "401.220 − 383.605 = 17.615"
    assert result.text.splitlines()[0] == "- Tính từ số liệu trích dẫn (năm 2023, năm 2022): 401.220 − 383.605 = **17.615** lượt [1]"
    assert quote.citations == computed.citations == [1] and "**" not in quote.text  # the levels quoted, not bolded
    cited = result.citations[0]
    assert cited.doc.page_content[cited.quote_start : cited.quote_end] == VISITS


def test_a_change_in_per_cent_over_the_earlier_figure():
    result = _ask("Số lượt khám ngoại trú của Bệnh viện Đa khoa huyện Bình Lộc năm 2023 tăng bao nhiêu phần trăm so với năm 2022?", VISITS)
    assert result.parts[-1].computed == "(401.220 − 383.605) : 383.605 × 100 = 4,59"
    assert "= **4,59**% [1]" in result.text


@pytest.mark.parametrize(
    ("question", "sentence", "computed"),
    [
        ("Tỷ lệ tiêm chủng đầy đủ của huyện Bình Lộc năm 2023 cao hơn năm 2022 bao nhiêu?",
         "Tỷ lệ tiêm chủng đầy đủ của huyện Bình Lộc năm 2023 là 95,25%, năm 2022 là 93,8%.", "95,25% − 93,8% = 1,45"),
        ("Số mũi vắc xin Trạm Y tế xã Bình Lộc tiêm năm 2023 tăng bao nhiêu so với năm 2022?",
         "Năm 2023, Trạm Y tế xã Bình Lộc tiêm 14 nghìn mũi vắc xin (cùng kỳ năm 2022: 11 nghìn mũi).", "14 nghìn − 11 nghìn = 3.000"),
        ("Số ca sốt xuất huyết của huyện Bình Lộc năm 2023 gấp bao nhiêu lần năm 2022?",
         "Số ca sốt xuất huyết của huyện Bình Lộc tăng từ 1.240 ca năm 2022 lên 1.980 ca năm 2023.", "1.980 : 1.240 = 1,6"),
        ("Số lượt khám ngoại trú của huyện Bình Lộc năm 2023 tăng bao nhiêu so với năm 2022?",
         "Số lượt khám ngoại trú của huyện Bình Lộc — Năm 2022: 383.605; Năm 2023: 401.220", "401.220 − 383.605 = 17.615"),
    ],
)
def test_differences_ratios_rates_and_table_rows_of_two_periods(question, sentence, computed):
    result = _ask(question, sentence)
    assert result.parts[-1].computed == computed and not result.abstained


def test_a_stated_change_is_the_answer_and_nothing_is_computed():
    sentence = "Năm 2023, bệnh viện huyện Bình Lộc khám 401.220 lượt (năm 2022: 383.605 lượt), tăng 17.615 lượt so với năm 2022."
    result = _ask("Số lượt khám của bệnh viện huyện Bình Lộc năm 2023 tăng bao nhiêu so với năm 2022?", sentence)
    assert result.text.startswith("**tăng 17.615 lượt** — ") and not any(p.computed for p in result.parts)


@pytest.mark.parametrize(
    ("sentence", "why"),
    [
        ("Năm 2023, huyện Bình Lộc khám 401.220 lượt, năm 2022 chỉ có 1.240 ca.", "khác đơn vị"),
        ("6 tháng đầu năm 2023, huyện Bình Lộc khám 401.220 lượt, cả năm 2022 là 383.605 lượt.", "một phần năm"),
        ("Năm 2023, huyện Bình Lộc có 401.220 lượt khám ngoại trú, năm 2022 có 383.605 lượt điều trị nội trú.", "không cùng chỉ tiêu"),
    ],
)
def test_figures_of_other_units_measures_or_period_kinds_are_declined_with_the_reason(sentence, why):
    result = _ask("Số lượt khám của huyện Bình Lộc năm 2023 tăng bao nhiêu so với năm 2022?", sentence)
    head = result.text.splitlines()[0]
    assert head.startswith("- Không tính: ") and why in head and result.abstained
    assert not any(p.computed for p in result.parts) and "**" not in result.text and result.citations


def test_the_verifier_and_the_faithfulness_metric_accept_the_line_and_reject_a_wrong_one():
    from eval import metrics as M

    docs = _docs(("Bệnh viện Đa khoa huyện Bình Lộc năm 2023", VISITS))
    result = answer_extractive("Số lượt khám ngoại trú của Bệnh viện Đa khoa huyện Bình Lộc năm 2023 tăng bao nhiêu so với năm 2022?", docs=docs)
    assert verify(result.text, docs).ok
    wrong = verify(result.text.replace("**17.615**", "**18.615**"), docs)
    assert not wrong.ok and any("does not follow" in p for p in wrong.problems)
    computed = [p.computed for p in result.parts if p.computed]
    assert M.unsupported_numbers(result.text, [VISITS], computed) == []
    assert M.unsupported_numbers(result.text.replace("17.615", "18.615"), [VISITS], ["401.220 − 383.605 = 18.615"]) == ["18.615"]


def test_the_verifier_checks_scaled_figures():
    passages = [Document(page_content="Năm 2023, xã tiêm 14 nghìn mũi (cùng kỳ năm 2022: 11 nghìn mũi).", metadata={"title": "Xã Bình Lộc"})]
    assert verify("14 nghìn − 11 nghìn = **3.000** mũi [1]", passages).ok
    assert not verify("14 nghìn − 11 nghìn = **4.000** mũi [1]", passages).ok


# -- a change asked never bolds a level -----------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("Số ca mắc năm 2023 tăng bao nhiêu?", True),
        ("Tỷ lệ bao phủ giảm bao nhiêu phần trăm?", True),
        ("Số ca mổ vượt kế hoạch bao nhiêu ca?", True),
        ("Bệnh viện có bao nhiêu giường?", False),
        ("UBND tỉnh tặng bằng khen cho bao nhiêu tập thể?", False),  # "tặng" (awards) folds to "tang" too
        ("Có bao nhiêu xã vượt chỉ tiêu?", False),
    ],
)
def test_a_change_asked(question, asks):
    assert compute.asks_change(question) is asks


LEVEL_AND_CHANGE = "Năm 2023, tỷ lệ bao phủ bảo hiểm y tế của huyện Bình Lộc đạt 95,25%, tăng 1,45% so với năm 2022."
LEVEL_ONLY = "Năm 2023, tỷ lệ bao phủ bảo hiểm y tế của huyện Bình Lộc đạt 95,25%."


def test_a_change_question_bolds_the_stated_change_not_the_level():
    result = _ask("Tỷ lệ bao phủ bảo hiểm y tế của huyện Bình Lộc năm 2023 tăng bao nhiêu phần trăm?", LEVEL_AND_CHANGE)
    assert result.text.startswith("**tăng 1,45%** — ")


def test_a_change_question_with_only_a_level_shows_the_quote_without_a_bold_lead():
    result = _ask("Tỷ lệ bao phủ bảo hiểm y tế của huyện Bình Lộc năm 2023 giảm bao nhiêu phần trăm?", LEVEL_ONLY)
    assert "**" not in result.text and "95,25%" in result.text
    # the level question itself still bolds the level
    assert _ask("Tỷ lệ bao phủ bảo hiểm y tế của huyện Bình Lộc năm 2023 là bao nhiêu?", LEVEL_ONLY).text.startswith("**95,25%**")


def test_figures_of_other_periods_than_the_asked_ones_are_not_used():
    sentence = "Số lượt khám ngoại trú tại Bệnh viện Đa khoa huyện Bình Lộc tăng từ 352.900 lượt năm 2021 lên 401.220 lượt năm 2023."
    result = _ask("Số lượt khám ngoại trú của Bệnh viện Đa khoa huyện Bình Lộc năm 2023 tăng bao nhiêu so với năm 2022?", sentence)
    assert not any(p.computed for p in result.parts) and "352.900" not in " ".join(p.computed or "" for p in result.parts)


def test_a_change_against_the_same_period_takes_the_sentence_other_period():
    sentence = "6 tháng đầu năm 2023, Trạm Y tế xã Bình Lộc tiêm 1.350 mũi (cùng kỳ năm 2022: 1.180 mũi)."
    result = _ask("Số mũi tiêm của Trạm Y tế xã Bình Lộc 6 tháng đầu năm 2023 tăng bao nhiêu so với cùng kỳ?", sentence)
    assert result.parts[-1].computed == "1.350 − 1.180 = 170"


# -- end to end: a tiny library ingested, asked through the real answer chain ---------------------

LIBRARY = {
    "binhloc_kham.txt": (
        "Báo cáo hoạt động khám chữa bệnh năm 2023 của Bệnh viện Đa khoa huyện Bình Lộc",
        "Năm 2023, Bệnh viện Đa khoa huyện Bình Lộc duy trì 180 giường bệnh kế hoạch.\n"
        "Số lượt khám ngoại trú tại Bệnh viện Đa khoa huyện Bình Lộc tăng từ 383.605 lượt năm 2022 lên 401.220 lượt năm 2023.\n"
        "Bệnh viện đã triển khai bệnh án điện tử tại tất cả các khoa lâm sàng.",
    ),
    "tanhoa_tiem.txt": (
        "Tổng kết tiêm chủng mở rộng năm 2023 huyện Tân Hòa",
        "Năm 2023, tỷ lệ tiêm chủng đầy đủ của huyện Tân Hòa đạt 95,25%, tăng 1,45% so với năm 2022.\n"
        "Huyện Tân Hòa tổ chức 12 buổi truyền thông về tiêm chủng tại các xã vùng sâu.",
    ),
}
TABLE = """<html><head><title>Thống kê sốt xuất huyết huyện Sơn Khê 2022–2023</title></head><body>
<h1>Thống kê sốt xuất huyết huyện Sơn Khê 2022–2023</h1>
<table><tr><th>Chỉ tiêu</th><th>Năm 2022</th><th>Năm 2023</th></tr>
<tr><td>Số ca sốt xuất huyết huyện Sơn Khê</td><td>1.240</td><td>1.980</td></tr>
<tr><td>Số ổ dịch được xử lý</td><td>31</td><td>46</td></tr></table></body></html>"""


@pytest.fixture
def chain(tmp_path, make_settings, embeddings):
    from rag import build_answer_chain, load_retriever
    from rag.ingest.local import ingest

    folder = tmp_path / "library"
    folder.mkdir()
    for name, (title, body) in LIBRARY.items():
        (folder / name).write_text(f"{title}\n{body}", encoding="utf-8")
    (folder / "sonkhe_sxh.html").write_text(TABLE, encoding="utf-8")
    settings = make_settings()
    report = ingest([folder], settings, embeddings=embeddings)
    assert not report.errors, report.errors
    return build_answer_chain(settings, load_retriever(settings))


def test_the_answer_chain_computes_a_change_from_one_sentence_and_a_table_row(chain):
    visits = chain.invoke({"question": "Số lượt khám ngoại trú của Bệnh viện Đa khoa huyện Bình Lộc năm 2023 tăng bao nhiêu so với năm 2022?"})
    assert not visits.abstained
    assert visits.answer.startswith("- Tính từ số liệu trích dẫn (năm 2023, năm 2022): 401.220 − 383.605 = **17.615** lượt [1]")
    assert [p.computed for p in visits.parts] == [None, "401.220 − 383.605 = 17.615"]
    assert "tăng từ 383.605 lượt năm 2022 lên 401.220 lượt năm 2023" in visits.citations[0].quote

    cases = chain.invoke({"question": "Số ca sốt xuất huyết huyện Sơn Khê năm 2023 tăng bao nhiêu phần trăm so với năm 2022?"})
    assert cases.parts[-1].computed == "(1.980 − 1.240) : 1.240 × 100 = 59,68"  # 740 / 1.240 = 0,5967…
    assert "1.980" in cases.citations[0].quote and "1.240" in cases.citations[0].quote

    stated = chain.invoke({"question": "Tỷ lệ tiêm chủng đầy đủ của huyện Tân Hòa năm 2023 tăng bao nhiêu phần trăm?"})
    assert stated.answer.startswith("**tăng 1,45%** — ") and not any(p.computed for p in stated.parts)


@pytest.mark.parametrize(
    ("question", "baseline"),
    [
        ("Số lượt khám ngoại trú năm 2023 của Bệnh viện Đa khoa huyện Bình Lộc tăng bao nhiêu lượt?", ""),
        ("Từ năm 2022 đến năm 2023, số lượt khám của huyện Bình Lộc tăng bao nhiêu?", "năm 2022"),
        ("Số ca mắc sởi của xã Hòa Bình giảm bao nhiêu ca?", ""),
    ],
)
def test_a_change_asked_without_so_voi_is_planned_as_a_change(question, baseline):
    p = compute.plan(question)
    assert p is not None and (p.op, p.baseline) == ("change", baseline)
    if baseline:
        assert "2022" not in p.left and "2023" in p.left  # the later year is the level's


@pytest.mark.parametrize(
    "question",
    [
        "ubnd tinh tang bang khen cho bao nhieu tap the",  # "tặng" typed bare, three words before "bao nhiêu"
        "So với cùng kỳ, số ca năm 2023 của xã Hòa Bình tăng thêm bao nhiêu?",  # the stated change answers it
    ],
)
def test_no_bare_change_is_planned_for_an_award_or_a_change_with_its_baseline_said_first(question):
    assert compute.plan(question) is None


def test_a_bare_change_is_computed_from_one_sentence_or_from_two_years_figures():
    result = _ask("Số lượt khám ngoại trú của Bệnh viện Đa khoa huyện Bình Lộc năm 2023 tăng bao nhiêu?", VISITS)
    assert not result.abstained and result.parts[-1].computed == "401.220 − 383.605 = 17.615"
    docs = _docs(
        ("Bệnh viện Đa khoa huyện Bình Lộc năm 2023", "Năm 2023, Bệnh viện Đa khoa huyện Bình Lộc khám ngoại trú 401.220 lượt người bệnh."),
        ("Bệnh viện Đa khoa huyện Bình Lộc năm 2022", "Năm 2022, Bệnh viện Đa khoa huyện Bình Lộc khám ngoại trú 383.605 lượt người bệnh."),
        OTHER,
    )
    result = answer_extractive("Từ năm 2022 đến năm 2023, số lượt khám ngoại trú của Bệnh viện Đa khoa huyện Bình Lộc tăng bao nhiêu lượt?", docs=docs)
    assert not result.abstained and result.parts[-1].computed == "401.220 − 383.605 = 17.615"
