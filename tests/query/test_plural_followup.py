"""Follow-ups that lean on the previous answer's list: "mỗi xã đó", "các đơn vị này", "người thứ hai".

The conversations are written for these tests (no corpus or gold wording).
"""

from __future__ import annotations

import pytest

from rag.answer.compose import sub_questions
from rag.query.followup import needs_rewrite, rewrite

HOSPITALS = [["Ở tỉnh Bến Lạc những bệnh viện nào đang điều trị bệnh nhân sởi?", "Bệnh viện Đa khoa tỉnh Bến Lạc, Bệnh viện Nhi Bến Lạc và Bệnh viện Đa khoa huyện Cây Gạo."]]
COMMUNES = [["Dịch sởi tập trung ở những xã nào của huyện Cây Gạo?", "Dịch tập trung ở các xã Tân Hòa, An Phú và Bình Minh."]]
PEOPLE = [["Bệnh viện Nhi Bến Lạc có những ai được khen thưởng?", "Có 2 người: BSCKII Trần Văn Khải – Trưởng khoa Nội và ThS.BS Lê Thị Hoa."]]
BULLETS = [["Những đơn vị nào nhận máy thở?", "- **Trung tâm Y tế huyện Cây Gạo** — “Trung tâm Y tế huyện Cây Gạo nhận 2 máy thở.” [1]\n- **Trung tâm Y tế huyện Đồi Thông** — “Trung tâm Y tế huyện Đồi Thông nhận 3 máy thở.” [2]"]]


@pytest.mark.parametrize(
    ("question", "history", "names"),
    [
        ("mỗi bệnh viện đó đang điều trị bao nhiêu người?", HOSPITALS, ["Bệnh viện Đa khoa tỉnh Bến Lạc", "Bệnh viện Nhi Bến Lạc", "Bệnh viện Đa khoa huyện Cây Gạo"]),
        ("mỗi xã đó có bao nhiêu ca mắc?", COMMUNES, ["xã Tân Hòa", "xã An Phú", "xã Bình Minh"]),
        ("các đơn vị này được cấp bao nhiêu máy thở?", BULLETS, ["Trung tâm Y tế huyện Cây Gạo", "Trung tâm Y tế huyện Đồi Thông"]),
        ("moi xa do co bao nhieu ca mac?", COMMUNES, ["Tân Hòa", "An Phú", "Bình Minh"]),
    ],
)
def test_a_plural_reference_becomes_one_part_per_listed_item(question, history, names):
    text = rewrite(question, history)
    assert text is not None
    parts = sub_questions(text)
    assert len(parts) == len(names)
    for part, name in zip(parts, names, strict=True):
        assert name in part  # in the order the answer listed them
        assert "bao nhiêu" in part or "bao nhieu" in part  # each part still asks the figure


@pytest.mark.parametrize(
    ("question", "history", "expected", "not_expected"),
    [
        ("người thứ hai làm trưởng khoa gì?", PEOPLE, "Lê Thị Hoa", "Trần Văn Khải"),
        ("người thứ nhất làm trưởng khoa gì?", PEOPLE, "Trần Văn Khải", "Lê Thị Hoa"),
        ("người cuối cùng làm trưởng khoa gì?", PEOPLE, "Lê Thị Hoa", "Trần Văn Khải"),
        ("đơn vị thứ hai nhận thêm gì?", BULLETS, "Đồi Thông", "Cây Gạo"),
    ],
)
def test_an_ordinal_reference_picks_that_item(question, history, expected, not_expected):
    text = rewrite(question, history)
    assert text is not None and expected in text and not_expected not in text


def test_an_ordinal_past_the_list_or_a_single_answer_is_not_guessed():
    text = rewrite("người thứ ba làm trưởng khoa gì?", PEOPLE)
    assert text is None or ("Trần Văn Khải" not in text and "Lê Thị Hoa" not in text)
    single = rewrite("bệnh viện đó có bao nhiêu giường?", [["Giám đốc Bệnh viện Nhi Bến Lạc là ai?", "Ông Trần Văn Khải."]])
    assert single == "Bệnh viện Nhi Bến Lạc có bao nhiêu giường?"  # the singular rewrite is unchanged


def test_plural_references_need_a_rewrite():
    assert needs_rewrite("Mỗi xã đó có bao nhiêu ca mắc trong tháng qua vậy?")
    assert needs_rewrite("Người thứ hai làm trưởng khoa gì ở bệnh viện?")
    assert not needs_rewrite("Các xã của huyện Cây Gạo có bao nhiêu trạm y tế đạt chuẩn quốc gia?")
