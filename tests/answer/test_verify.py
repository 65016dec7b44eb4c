"""The LLM answer verifier: numbers, names and citations must come from the cited passages."""

from __future__ import annotations


import pytest

from tests.helpers import CORPUS
from langchain_core.documents import Document

from rag.ingest.loaders import load_document
from rag.answer.verify import names_in, number_values, verify



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
