"""Follow-up rewriting: pronouns, "đơn vị đó", "còn … thì sao?", missing subjects."""

from __future__ import annotations

import pytest

from rag.query.followup import needs_rewrite, rewrite
from rag.text import fold

BAI_CHAY = [["Bệnh viện Bãi Cháy khám bao nhiêu lượt người năm 2023?", "**trên 383.605 lượt người** — “Bệnh viện đã khám cho trên 383.605 lượt người…” [1]"]]
TIEN_DU = [["Trung tâm Y tế huyện Tiên Du có bao nhiêu lượt khám bệnh trong 9 tháng đầu năm 2023?", "157.627 lượt khám bệnh, tăng 16.324 lượt so với cùng kỳ."]]
DIRECTOR = [["Giám đốc Bệnh viện Bãi Cháy là ai?", "**Lê Ngọc Dũng** — “TTND.BSCKII Lê Ngọc Dũng - Giám đốc Bệnh viện Bãi Cháy dự hội nghị…” [1]"]]
CONFERENCE = [["Ai chủ trì hội nghị tổng kết ngành Y tế Quảng Ninh năm 2023?", "Đồng chí Nguyễn Trọng Diện, Giám đốc Sở Y tế Quảng Ninh, chủ trì hội nghị."]]
VICE_CHAIR = [["Chiều 20/6, ai làm việc với Sở Y tế Bắc Kạn?", "Đồng chí Phạm Duy Hưng, Phó Chủ tịch UBND tỉnh Bắc Kạn."]]
PA_CO = [["Giám đốc Sở Y tế Lê Hồng Trung đến thăm trạm y tế nào?", "Trạm Y tế Pà Cò."]]


@pytest.mark.parametrize(
    ("question", "history", "must_have", "must_not_have"),
    [
        # person pronouns
        ("Ông ấy dự hội nghị ở đâu?", DIRECTOR, ["Lê Ngọc Dũng"], ["Ông ấy"]),
        ("ong ay du hoi nghi o dau", DIRECTOR, ["Lê Ngọc Dũng"], ["ong ay"]),
        ("Ông ấy tặng Bằng khen cho những ai?", VICE_CHAIR, ["Phạm Duy Hưng", "Bắc Kạn"], ["Ông ấy"]),
        ("Where did he attend the conference?", DIRECTOR, ["Lê Ngọc Dũng"], [" he "]),
        # unit anaphora
        ("Bệnh viện đó có công suất giường bệnh bao nhiêu?", BAI_CHAY, ["Bệnh viện Bãi Cháy"], ["đó"]),
        ("benh vien do co cong suat giuong benh bao nhieu", BAI_CHAY, ["Bệnh viện Bãi Cháy"], []),
        ("Ngoài việc ghi nhận nỗ lực, ông ấy còn làm gì ở trạm đó?", PA_CO, ["Lê Hồng Trung", "Trạm Y tế Pà Cò"], ["ông ấy", "trạm đó"]),
        ("Hội nghị đó được tổ chức vào ngày nào?", CONFERENCE, ["hội nghị tổng kết ngành Y tế Quảng Ninh năm 2023"], ["Hội nghị đó"]),
        ("What is the bed occupancy of that hospital?", BAI_CHAY, ["Bệnh viện Bãi Cháy"], ["that hospital"]),
        # "còn … thì sao?"
        ("Còn số ca phẫu thuật của bệnh viện đó thì sao?", BAI_CHAY, ["số ca phẫu thuật", "Bệnh viện Bãi Cháy", "2023"], ["thì sao"]),
        # the previous question asked "là ai"; a count asks "bao nhiêu"
        ("Còn số ca phẫu thuật của bệnh viện đó thì sao?", DIRECTOR, ["số ca phẫu thuật", "Bệnh viện Bãi Cháy", "bao nhiêu"], ["là ai", "thì sao"]),
        ("Còn số lượt điều trị nội trú thì sao?", TIEN_DU, ["số lượt điều trị nội trú", "Tiên Du", "9 tháng", "2023"], ["thì sao"]),
        ("Còn Trung tâm Y tế huyện Tiên Du thì sao?", BAI_CHAY, ["Tiên Du", "khám bao nhiêu lượt"], ["Bãi Cháy", "thì sao"]),
        ("Còn năm 2022?", BAI_CHAY, ["Bệnh viện Bãi Cháy", "2022"], ["2023"]),
        ("con nam 2022 thi sao", BAI_CHAY, ["2022"], ["2023", "thi sao"]),
        ("What about Tien Du?", [["How many surgeries did Bai Chay Hospital perform in 2023?", "**14 nghìn ca**"]], ["Tien Du", "surgeries"], ["Bai Chay"]),
        # missing subject: a short question without a name
        ("Có bao nhiêu khoa?", [["Ai là Giám đốc Bệnh viện Chấn thương Chỉnh hình?", "Bác sĩ CK2 Nguyễn Hoài Nam."]], ["Chấn thương"], []),
    ],
)
def test_rewrites(question, history, must_have, must_not_have):
    out = rewrite(question, history)
    assert out is not None
    for piece in must_have:
        assert fold(piece).lower() in fold(out).lower(), out
    for piece in must_not_have:
        assert piece not in out, out


@pytest.mark.parametrize(
    ("question", "history"),
    [
        ("Giám đốc Bệnh viện Bãi Cháy là ai?", BAI_CHAY),  # standalone: has its own entity
        ("Tỷ lệ dân số tham gia bảo hiểm y tế của Quảng Ninh năm 2023 là bao nhiêu?", DIRECTOR),
        ("Ông ấy là ai?", []),  # nothing to resolve against
        ("Còn Tiên Du thì sao?", []),
    ],
)
def test_no_rewrite(question, history):
    assert rewrite(question, history) is None


def test_needs_rewrite_detects_dependence():
    assert needs_rewrite("Ông ấy làm gì?")
    assert needs_rewrite("bà ấy là ai")
    assert needs_rewrite("Đơn vị đó đạt bao nhiêu?")
    assert needs_rewrite("Thế còn Tiên Du?")
    assert needs_rewrite("What about 2022?")
    assert needs_rewrite("Bao nhiêu khoa?")  # short, no entity
    assert not needs_rewrite("Bệnh viện Bãi Cháy có bao nhiêu lượt khám bệnh trong năm 2023 theo báo cáo?")


def test_only_names_said_in_the_conversation_are_used():
    out = rewrite("Ông ấy dự hội nghị ở đâu?", DIRECTOR)
    assert out is not None
    # the substituted name is copied from the answer, never invented
    assert "Lê Ngọc Dũng" in DIRECTOR[0][1]
    assert "Lê Ngọc Dũng" in out


def test_most_recent_turn_wins():
    history = DIRECTOR + VICE_CHAIR
    out = rewrite("Ông ấy làm việc với đơn vị nào?", history)
    assert out is not None and "Phạm Duy Hưng" in out and "Lê Ngọc Dũng" not in out
