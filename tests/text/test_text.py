"""Vietnamese normalisation, folding, tokenisation, sentence splitting and date finding."""

from __future__ import annotations

import unicodedata

import pytest

from rag.text import (
    collapse_whitespace,
    find_dates,
    fold,
    has_diacritics,
    normalize,
    split_sentences,
    tokenize,
    tokenize_folded,
)


def test_normalize_nfc_and_whitespace():
    decomposed = unicodedata.normalize("NFD", "Bệnh viện")
    raw = f"  {decomposed}\u00a0\u00a0Bãi\tCháy \r\n\r\n\r\n\r\nDòng\u2009hai  "
    assert normalize(raw) == "Bệnh viện Bãi Cháy\n\nDòng hai"
    assert unicodedata.is_normalized("NFC", normalize(raw))


def test_normalize_is_idempotent():
    text = "A\u00a0 b\n\n\n c\r\nd"
    assert normalize(normalize(text)) == normalize(text)


def test_collapse_whitespace():
    assert collapse_whitespace("a\u00a0\n b\t c") == "a b c"


@pytest.mark.parametrize(
    ("text", "folded"),
    [("Bãi Cháy", "Bai Chay"), ("đồng Đà Nẵng", "dong Da Nang"), ("Bệnh viện ở xã", "Benh vien o xa"), ("ASCII 123", "ASCII 123")],
)
def test_fold(text, folded):
    assert fold(text) == folded
    assert len(fold(text)) == len(text)


def _fold_reference(text: str) -> str:
    """Folding as the Unicode definition reads: decompose, drop every combining mark, recompose."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


VIETNAMESE_LETTERS = "aàáảãạăằắẳẵặâầấẩẫậeèéẻẽẹêềếểễệiìíỉĩịoòóỏõọôồốổỗộơờớởỡợuùúủũụưừứửữựyỳýỷỹỵđ"


@pytest.mark.parametrize(
    "text",
    [
        VIETNAMESE_LETTERS + VIETNAMESE_LETTERS.upper(),
        unicodedata.normalize("NFD", "Trạm y tế xã Hòa Khánh, quý IV/2024"),  # decomposed input: marks dropped
        "Ç ñ ø ß — 東京 ε\u0301",  # other scripts: the same rule, letter by letter
        "\u1100\u1161 \u1112\u1161\u11ab",  # Hangul jamo compose across the joins, as NFC does
        "",
    ],
)
def test_fold_equals_the_reference_definition(text):
    assert fold(text) == _fold_reference(text)


def test_has_diacritics():
    assert has_diacritics("bệnh viện")
    assert not has_diacritics("benh vien bai chay")


def test_tokenize_keeps_numbers_and_one_letter_syllables():
    tokens = tokenize("Y tế ở xã khám 383.605 lượt, tỷ lệ 95,25% ngày 5/1/2024 theo 28/2023/NQ-HĐND.")
    for expected in ["y", "tế", "ở", "383.605", "95,25%", "5/1/2024", "28/2023", "nq", "hđnd"]:
        assert expected in tokens
    assert "383605" in tokens  # the bare-digit form of a thousands-separated figure
    assert "." not in tokens and "," not in tokens


def test_tokenize_lowercases_and_drops_punctuation():
    assert tokenize("Bệnh Viện: (Bãi Cháy)!") == ["bệnh", "viện", "bãi", "cháy"]


def test_tokenize_folded_matches_unaccented_question():
    assert tokenize_folded("Bệnh viện Bãi Cháy") == tokenize("benh vien bai chay")


@pytest.mark.parametrize(
    "sentence",
    [
        "Bệnh viện đã khám cho trên 383.605 lượt người.",
        "Tỷ lệ hài lòng đạt 95,25%.",
        "Ngày 5/1/2024, Sở Y tế tổ chức hội nghị.",
        "Thực hiện Nghị quyết số 28/2023/NQ-HĐND của HĐND tỉnh.",
        "TS. Lê Hồng Trung – TUV. Giám đốc Sở Y tế phát biểu.",
        "BS CKII. Nguyễn Văn An trình bày báo cáo.",
    ],
)
def test_sentence_split_does_not_break_inside(sentence):
    text = f"Câu mở đầu. {sentence} Câu kết thúc."
    assert split_sentences(text) == ["Câu mở đầu.", sentence, "Câu kết thúc."]


def test_sentence_split_on_lines_and_marks():
    text = "Tiêu đề\nCâu một? Câu hai! Câu ba… Câu bốn"
    assert split_sentences(text) == ["Tiêu đề", "Câu một?", "Câu hai!", "Câu ba…", "Câu bốn"]


def test_sentence_split_keeps_lowercase_continuation():
    assert split_sentences("Gồm 3 khoa, v.v. và các phòng.") == ["Gồm 3 khoa, v.v. và các phòng."]


def test_find_dates():
    text = "Ngày 5/1/2024 họp; ngày 27 tháng 10 năm 2023 sơ kết; tháng 12/2023 báo cáo; số 28/2023/NQ-HĐND."
    assert find_dates(text) == ["2024-01-05", "2023-10-27", "2023-12"]
