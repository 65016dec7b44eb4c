"""The one English detector (rag.lang.english): English questions, Vietnamese ones with and without accents.

Every question here is written for the test (not from corpus/ or any gold file).
"""

from __future__ import annotations

import pytest

from rag.lang.english import looks_english


@pytest.mark.parametrize(
    "question",
    [
        "How many doctors did the provincial hospital hire last year?",
        "Who is the director of Đức Giang General Hospital?",  # an accented name inside English
        "What was the vaccination rate in Cao Bằng in 2023?",
        "Which district opened a new health station?",
        "how many beds are there",  # lower case, no question mark
    ],
)
def test_english_questions_are_english(question):
    assert looks_english(question)


@pytest.mark.parametrize(
    "question",
    [
        "Bệnh viện tỉnh tuyển bao nhiêu bác sĩ năm ngoái?",
        "benh vien tinh tuyen bao nhieu bac si nam ngoai",  # accent-less
        "co the kham o tram y te xa khong",  # "the" = thể: one marker is not enough
        "Giám đốc Sở Y tế là ai?",
        "TTYT huyen co bao nhieu giuong benh",
        "",
    ],
)
def test_vietnamese_questions_are_not_english(question):
    assert not looks_english(question)


def test_an_accented_lower_case_word_makes_it_vietnamese():
    # two markers ("is", "the"), but a lower-case word with accents is Vietnamese text
    assert not looks_english("the hospital is ở đâu")
