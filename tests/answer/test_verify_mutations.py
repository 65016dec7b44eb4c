"""Mutation tests of the verifier: correct answers pass; the same answers made wrong are rejected.

Mutations: a digit changed, a name (or one syllable of it) swapped, a real number of the passage
moved onto another claim, a Roman numeral changed (hạng I ↔ II). Hypothesis draws the mutations
(property-based); :func:`mutants` enumerates every mutant of a kind, which the exhaustive tests
(and the report in the issue) count. A mutant that is still true by accident (the new figure is
the same claim's figure elsewhere in the passage) is not a mutant and is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rag.answer.verify import names_in, number_values, numbers_in, verify
from tests.answer.test_verify import _passage

PASSAGES = [
    _passage("001", "Bệnh viện đã khám cho trên 383.605 lượt người", after=450),
    _passage("001", "TTND.BSCKII Lê Ngọc Dũng"),
    _passage("001", "Tỷ lệ dân số tham gia bảo hiểm y tế đạt trên 95,25%", after=40),
    _passage("001", "Ngày 5/1/2024, Sở Y tế Quảng Ninh"),
    _passage("001", "Tổng số lượt khám bệnh: 2.617.843 lượt", after=180),
    _passage("001", "Là bệnh viện đa khoa hạng I", after=60),
    _passage("000", "Bệnh viện Chấn thương Chỉnh hình là bệnh viện chuyên khoa, hạng II", after=40),
]

CORRECT = [
    "Bệnh viện đã khám cho trên 383.605 lượt người [1].",
    "Khám chữa bệnh ngoại trú cho trên 363.000 lượt bệnh nhân, tăng 106% so với năm 2022 [1].",
    "Khám chữa bệnh nội trú đạt trên 48.000 lượt bệnh nhân, tăng 103% so với năm 2022 [1].",
    "Công suất sử dụng giường bệnh đạt 100,4% [1].",
    "Tổng số phẫu thuật các loại trên 14 nghìn ca, tăng 109% so với năm 2022 [1].",
    "Tỷ lệ dân số tham gia bảo hiểm y tế đạt trên 95,25% [3].",
    "Tổng số lượt khám bệnh là 2.617.843 lượt, bằng 110% so với cùng kỳ năm 2022 [5].",
    "Số lượt điều trị nội trú là 336.709 lượt, bằng 114% so với cùng kỳ năm 2022 [5].",
    "Tỷ lệ chuyển tuyến tỉnh lên tuyến trung ương là 3% [5].",
    "Giám đốc Bệnh viện Bãi Cháy là Lê Ngọc Dũng [2].",
    "Phó Giám đốc Bệnh viện là Đinh Thị Lan Oanh [2].",
    "Ngày 5/1/2024, Sở Y tế Quảng Ninh tổ chức Hội nghị trực tuyến tổng kết [4].",
    "Bệnh viện Bãi Cháy là bệnh viện đa khoa hạng I [6].",
    "Bệnh viện Chấn thương Chỉnh hình là bệnh viện chuyên khoa hạng II [7].",
]

SYLLABLES = ["Văn", "Thị", "Minh", "Hùng", "Bình", "An", "Hà", "Nam", "Tiên", "Sơn", "Lan", "Dũng"]
PEOPLE = ["Nguyễn Hoài Nam", "Nguyễn Trọng Diện", "Đinh Thị Lan Oanh", "Lê Ngọc Dũng", "Trần Văn Bình"]
ROMANS = ["I", "II", "III", "IV"]
_DIGIT_NUMBER = re.compile(r"(?<![\w.,/])\d+(?:[.,]\d+)*(?:/\d+)*%?(?![\w/])")


def cited(answer: str) -> list[int]:
    return [int(n) for n in re.findall(r"\[(\d+)\]", answer)]


def cited_text(answer: str) -> str:
    return " ".join(PASSAGES[n - 1].page_content + "\n" + PASSAGES[n - 1].metadata["title"] for n in cited(answer))


def is_rejected(answer: str) -> bool:
    return not verify(answer, PASSAGES).ok


# -- the mutations ------------------------------------------------------------------------------


def digit_mutant(answer: str, which: int, position: int, digit: str) -> str | None:
    """The answer with one digit of its ``which``-th number changed, or None if not a new figure."""
    found = list(_DIGIT_NUMBER.finditer(answer.split("[")[0]))
    if not found:
        return None
    m = found[which % len(found)]
    digits = [i for i in range(m.start(), m.end()) if answer[i].isdigit()]
    i = digits[position % len(digits)]
    if answer[i] == digit:
        return None
    new = m.group()[: i - m.start()] + digit + m.group()[i - m.start() + 1 :]
    known = set().union(*(v for _, v in numbers_in(cited_text(answer))))
    if number_values(new) & known:
        return None  # the passage has that figure too: a "move", counted below
    return answer[:i] + digit + answer[i + 1 :]


def name_mutants(answer: str) -> Iterator[str]:
    """Each name with one syllable swapped, and each person swapped for another person."""
    text = cited_text(answer).casefold()
    for name in names_in(answer):
        parts = name.split()
        for k in range(len(parts)):
            for syllable in SYLLABLES:
                new = " ".join(parts[:k] + [syllable] + parts[k + 1 :])
                if syllable != parts[k] and new.casefold() not in text:
                    yield answer.replace(name, new, 1)
        for person in PEOPLE:
            if len(parts) == 3 and person != name and person.casefold() not in text:
                yield answer.replace(name, person, 1)


def move_mutants(answer: str) -> Iterator[str]:
    """Each count or percentage replaced by another count or percentage of the cited passage."""
    text = cited_text(answer)
    for m in _DIGIT_NUMBER.finditer(answer.split("[")[0]):
        mine = number_values(m.group())
        if re.fullmatch(r"(19|20)\d\d|\d+/\d+/\d+", m.group()):
            continue  # years and dates are not claims' figures
        pct = m.group().endswith("%")
        for other in dict.fromkeys(t for t, v in numbers_in(text) if not v & mine and t.endswith("%") == pct):
            if not re.fullmatch(r"(19|20)\d\d|\d+/\d+/\d+|[IVX]+|thứ .*", other) and any(c.isdigit() for c in other):
                yield answer[: m.start()] + other + answer[m.end() :]


def roman_mutants(answer: str) -> Iterator[str]:
    for m in re.finditer(r"(?<=hạng )[IV]+\b", answer):
        for r in ROMANS:
            if r != m.group():
                yield answer[: m.start()] + r + answer[m.end() :]


def mutants(kind: str) -> list[str]:
    """Every mutant of ``kind`` of every correct answer."""
    out: list[str] = []
    for answer in CORRECT:
        if kind == "digit":
            n = len(_DIGIT_NUMBER.findall(answer.split("[")[0]))
            for which in range(n):
                for position in range(12):
                    for digit in "0123456789":
                        mutant = digit_mutant(answer, which, position, digit)
                        if mutant:
                            out.append(mutant)
        else:
            out.extend({"name": name_mutants, "move": move_mutants, "roman": roman_mutants}[kind](answer))
    return list(dict.fromkeys(out))


# -- the tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", CORRECT)
def test_every_correct_answer_is_accepted(answer):
    verdict = verify(answer, PASSAGES)
    assert verdict.ok, verdict.problems


@pytest.mark.parametrize(
    "answer",
    [  # paraphrases, as an instruct model writes them: connectives, a dating year, "theo báo cáo"
        "Năm 2023, Bệnh viện Bãi Cháy khám bệnh cho hơn 383.605 lượt người [1].",
        "Bệnh viện Bãi Cháy có tổng cộng 383.605 lượt khám trong năm 2023 [1].",
        "Trong năm 2023, bệnh viện đã thực hiện trên 14 nghìn ca phẫu thuật [1].",
        "Theo báo cáo, tỷ lệ dân số tham gia bảo hiểm y tế đạt trên 95,25% [3].",
        "Có 2.617.843 lượt khám bệnh trong năm 2023 [5].",
        "Ông Lê Ngọc Dũng là Giám đốc Bệnh viện Bãi Cháy [2].",
        "Bệnh viện Bãi Cháy khám 383.605 lượt người, tăng 106,5% so với năm 2022 [1].",
    ],
)
def test_faithful_paraphrases_are_accepted(answer):
    verdict = verify(answer, PASSAGES)
    assert verdict.ok, verdict.problems


@pytest.mark.parametrize("kind", ["digit", "name", "move", "roman"])
def test_every_mutant_is_rejected(kind):
    found = mutants(kind)
    assert len(found) >= 6, kind  # the enumeration itself works
    accepted = [m for m in found if not is_rejected(m)]
    assert accepted == [], f"{len(accepted)}/{len(found)} {kind} mutants accepted"


_FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FAST
@given(st.sampled_from(CORRECT), st.integers(0, 3), st.integers(0, 11), st.sampled_from("0123456789"))
def test_a_changed_digit_is_rejected(answer, which, position, digit):
    mutant = digit_mutant(answer, which, position, digit)
    assume(mutant is not None)
    assert is_rejected(mutant), mutant


@_FAST
@given(st.sampled_from([a for a in CORRECT if names_in(a)]), st.data())
def test_a_swapped_name_is_rejected(answer, data):
    options = list(name_mutants(answer))
    assume(options)
    mutant = data.draw(st.sampled_from(options))
    assert is_rejected(mutant), mutant


@_FAST
@given(st.sampled_from(CORRECT), st.data())
def test_a_number_moved_to_another_claim_is_rejected(answer, data):
    options = list(move_mutants(answer))
    assume(options)
    mutant = data.draw(st.sampled_from(options))
    assert is_rejected(mutant), mutant


@_FAST
@given(st.sampled_from([a for a in CORRECT if "hạng" in a]), st.sampled_from(ROMANS))
def test_a_changed_roman_numeral_is_rejected(answer, roman):
    mutant = re.sub(r"(?<=hạng )[IV]+\b", roman, answer)
    assume(mutant != answer)
    assert is_rejected(mutant), mutant
