"""The LLM answer verifier: numbers, names and citations must come from the cited passages."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

from rag.answer.verify import names_in, number_values, verify
from rag.ingest.loaders import load_document
from tests.helpers import CORPUS


def _passage(doc_id_prefix: str, needle: str, before: int = 0, after: int = 200) -> Document:
    """A real passage of the corpus around ``needle`` (exact text of the normalised document)."""
    doc = load_document(next(CORPUS.glob(f"{doc_id_prefix}_*.txt")))
    i = doc.text.index(needle)
    start, end = max(0, i - before), min(len(doc.text), i + len(needle) + after)
    return Document(
        page_content=doc.text[start:end],
        metadata={"doc_id": doc.doc_id, "title": doc.title, "start": start, "end": end},
    )


@pytest.fixture(scope="module")
def passages() -> list[Document]:
    return [
        _passage("001", "Bệnh viện đã khám cho trên 383.605 lượt người", after=450),
        _passage("001", "TTND.BSCKII Lê Ngọc Dũng"),
        _passage("001", "Tỷ lệ dân số tham gia bảo hiểm y tế đạt trên 95,25%", after=40),
        _passage("001", "Ngày 5/1/2024, Sở Y tế Quảng Ninh"),
    ]


@pytest.mark.parametrize(
    "answer",
    [
        "Bệnh viện Bãi Cháy đã khám cho trên 383.605 lượt người [1].",
        "Bệnh viện đã khám 383605 lượt người [1].",  # without separators
        "Bệnh viện đã khám 383,605 lượt người [1].",  # English thousands separator
        "Tỷ lệ tham gia bảo hiểm y tế đạt trên 95.25% [3].",  # decimal point instead of comma
        "Sở Y tế tổ chức hội nghị ngày 05/01/2024 [4].",  # zero-padded date
        "Nội soi cho trên 46.000 lượt bệnh nhân [1].",  # "46 nghìn" written out
        "Giám đốc Bệnh viện Bãi Cháy là Lê Ngọc Dũng [2].",
        "- **383.605** lượt [1]\n- **Lê Ngọc Dũng** [2]",  # bullets and markdown
        "Bệnh viện đã khám cho trên 383.605 lượt người. [1]",  # marker after the period
        "Bệnh viện đã khám 383.605 lượt [1], tỷ lệ bảo hiểm y tế 95,25% [3].",
        "Bệnh viện khám 383.605 lượt người [1, 3].",
    ],
)
def test_accepts_faithful_answers(passages, answer):
    verdict = verify(answer, passages)
    assert verdict.ok, verdict.problems
    assert verdict.text == answer


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("Bệnh viện đã khám cho trên 383.606 lượt người [1].", "number 383.606 not in cited passage [1]"),
        ("Bệnh viện đã khám cho trên 383.605 lượt người [3].", "number 383.605 not in cited passage [3]"),
        ("Tỷ lệ tham gia bảo hiểm y tế đạt 95,3% [3].", "number 95,3% not in cited passage [3]"),
        ("Hội nghị diễn ra ngày 6/1/2024 [4].", "number 6/1/2024 not in cited passage [4]"),
        ("Giám đốc Bệnh viện Bãi Cháy là Lê Văn Dũng [2].", "name “Lê Văn Dũng” not in cited passage [2]"),
        ("Giám đốc là Nguyễn Văn An [1].", "name “Nguyễn Văn An” not in cited passage [1]"),
        ("Bệnh viện đã khám cho trên 383.605 lượt người.", "sentence without citation"),
    ],
)
def test_rejects_unfaithful_answers(passages, answer, problem):
    verdict = verify(answer, passages)
    assert not verdict.ok
    assert any(p.startswith(problem) for p in verdict.problems), verdict.problems


def test_out_of_range_citation_is_removed_and_reported(passages):
    verdict = verify("Bệnh viện đã khám cho trên 383.605 lượt người [1][7].", passages)
    assert not verdict.ok
    assert "citation [7] is out of range (only 4 passages)" in verdict.problems
    assert "[7]" not in verdict.text and "[1]" in verdict.text


def test_only_out_of_range_citation_leaves_the_sentence_uncited(passages):
    verdict = verify("Bệnh viện đã khám cho trên 383.605 lượt người [9].", passages)
    assert not verdict.ok
    assert "[9]" not in verdict.text
    assert any(p.startswith("sentence without citation") for p in verdict.problems)
    assert verdict.text == "Bệnh viện đã khám cho trên 383.605 lượt người."


def test_every_sentence_is_checked_not_just_the_first(passages):
    answer = "Bệnh viện đã khám cho trên 383.605 lượt người [1]. Giám đốc là Lê Ngọc Dũng [2]. Tỷ lệ bảo hiểm y tế là 99% [3]."
    verdict = verify(answer, passages)
    assert verdict.problems == ["number 99% not in cited passage [3]"]


def test_a_number_must_be_in_the_passage_the_sentence_cites_not_just_any(passages):
    # 95,25% is in passage 3 but the sentence cites passage 1 only
    verdict = verify("Tỷ lệ bảo hiểm y tế đạt 95,25% [1].", passages)
    assert not verdict.ok


def test_names_from_the_cited_document_title_are_allowed(passages):
    # passage 1 never says "Bãi Cháy"; its document title does
    assert "Bãi Cháy" not in passages[0].page_content
    assert verify("Bệnh viện Bãi Cháy đã khám cho trên 383.605 lượt người [1].", passages).ok
    assert not verify("Bệnh viện Tiên Du đã khám cho trên 383.605 lượt người [1].", passages).ok


def test_short_connective_sentences_need_no_citation(passages):
    assert verify("Theo báo cáo:\n- 383.605 lượt [1]", passages).ok


def test_number_values_normalise_spellings():
    assert number_values("383.605") & number_values("383605")
    assert number_values("383.605") & number_values("383,605")
    assert number_values("95,25%") == number_values("95.25")
    assert number_values("5/1/2024") == number_values("05/01/2024")
    assert number_values("46 nghìn") & number_values("46.000")
    assert not number_values("383.605") & number_values("383.606")
    assert not number_values("95,25") & number_values("9525")


def test_names_in_keeps_names_of_any_length_and_acronyms():
    assert names_in("Giám đốc Bệnh viện Bãi Cháy là Lê Ngọc Dũng.") == ["Bệnh", "Bãi Cháy", "Lê Ngọc Dũng"]
    assert names_in("Bệnh Viện đã khám.") == ["Viện"]  # a capitalised sentence start alone is not a name
    assert names_in("Ông Bình là giám đốc.") == ["Bình"]
    assert names_in("TTYT và CBCNV đạt chỉ tiêu.") == ["CBCNV"]
    assert names_in("Bệnh viện hạng II.") == []  # a Roman numeral is a quantity


# ---------------------------------------------------------------------------------------------
# Holes found against a real llama.cpp server (issue 20)
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def more() -> list[Document]:
    return [
        _passage("001", "Tổng số lượt khám bệnh: 2.617.843 lượt", after=180),
        _passage("001", "Là bệnh viện đa khoa hạng I", after=60),
        _passage("000", "Bệnh viện Chấn thương Chỉnh hình là bệnh viện chuyên khoa, hạng II", after=40),
        _passage("001", "Bệnh viện đã khám cho trên 383.605 lượt người", after=450),
    ]


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("Ông Bình là giám đốc bệnh viện [1].", "name “Bình”"),  # one syllable, not in the passage
        ("Bệnh viện Bãi Cháy là bệnh viện đa khoa hạng II [2].", "number II not in cited passage [2]"),
        ("Bệnh viện Chấn thương Chỉnh hình là bệnh viện hạng I [3].", "number I not in cited passage [3]"),
        ("Bệnh viện đã khám cho trên ba trăm nghìn lượt người [1].", "number ba trăm nghìn not in cited passage"),
        ("Tổng số lượt khám bệnh là 336.709 lượt [1].", "number 336.709 is not about"),  # a real number, another claim
        ("Công suất giảm mạnh [4].", "words “giảm mạnh”"),  # no number, no name
        ("Bệnh viện tổ chức hội nghị lần thứ hai [1].", "number thứ hai not in cited passage"),
    ],
)
def test_rejects_the_holes_seen_with_a_small_model(more, answer, problem):
    verdict = verify(answer, more)
    assert not verdict.ok
    assert any(p.startswith(problem) for p in verdict.problems), verdict.problems


@pytest.mark.parametrize("answer", ["[1] [2]", "[1][2].", "**[1]**", " \n[1]\n"])
def test_rejects_answers_that_say_nothing(more, answer):
    verdict = verify(answer, more)
    assert verdict.problems == ["the answer says nothing beyond citation markers"]


@pytest.mark.parametrize(
    "answer",
    [
        "Tổng số lượt khám bệnh là 2.617.843 lượt [1].",
        "Số lượt điều trị nội trú là 336.709 lượt, bằng 114% so với cùng kỳ năm 2022 [1].",
        "Bệnh viện Bãi Cháy là bệnh viện đa khoa hạng I [2].",
        "Bệnh viện Chấn thương Chỉnh hình là bệnh viện chuyên khoa hạng II [3].",
        "Số lượt điều trị nội trú là ba trăm ba mươi sáu nghìn bảy trăm lẻ chín lượt [1].",  # number in words
    ],
)
def test_accepts_faithful_answers_to_those_passages(more, answer):
    verdict = verify(answer, more)
    assert verdict.ok, verdict.problems


def test_words_value_reads_vietnamese_numbers():
    from rag.answer.verify import words_value

    assert words_value(["ba", "trăm", "ba", "mươi", "sáu", "nghìn", "bảy", "trăm", "lẻ", "chín"]) == 336709
    assert words_value(["hai", "mươi", "mốt"]) == 21
    assert words_value(["mười", "lăm"]) == 15
    assert words_value(["một", "triệu", "hai", "trăm", "nghìn"]) == 1_200_000
    assert words_value(["hai", "ba"]) is None  # two digits in a row are not one number


def test_counters_before_and_after_a_number_must_match():
    text = "Năm 2024, bệnh viện khám 1.200 lượt trong 6 tháng đầu năm; tháng 9 đã tổ chức 3 đợt tập huấn."
    passage = [Document(page_content=text, metadata={"title": "Báo cáo 2024"})]
    assert verify("Bệnh viện khám 1.200 lượt trong 6 tháng đầu năm [1].", passage).ok
    assert not verify("Bệnh viện khám 1.200 lượt trong 3 tháng đầu năm [1].", passage).ok  # 3 counts đợt
    assert not verify("Bệnh viện đã tổ chức tập huấn vào tháng 6 [1].", passage).ok  # 6 counts months, not "tháng 6"
    assert verify("Tháng 9, bệnh viện đã tổ chức 3 đợt tập huấn [1].", passage).ok
