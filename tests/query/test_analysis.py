"""Question-type detection: Vietnamese with and without diacritics, and English."""

from __future__ import annotations

import pytest

from rag.query.analysis import analyze, canon, extract_entities, split_question
from rag.text import fold


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        # quantity
        ("Bệnh viện Bãi Cháy đã khám cho bao nhiêu lượt người năm 2023?", "quantity"),
        ("benh vien bai chay kham bao nhieu luot nguoi nam 2023", "quantity"),
        ("Bệnh viện Chấn thương Chỉnh hình có mấy khoa?", "quantity"),
        ("Tỷ lệ dân số tham gia bảo hiểm y tế của Quảng Ninh là bao nhiêu?", "quantity"),
        ("ty le tham gia bhyt quang ninh", "quantity"),
        ("Số lượng bác sĩ trên 1 vạn dân?", "quantity"),
        ("How many beds does Bai Chay hospital have?", "quantity"),
        ("How much did the hospital save?", "quantity"),
        ("What percentage of the population has health insurance in Quang Ninh?", "quantity"),
        ("Ngành Y tế Bắc Kạn đã trải qua bao lâu phòng, chống dịch?", "quantity"),
        # person
        ("Giám đốc Bệnh viện Bãi Cháy là ai?", "person"),
        ("giam doc benh vien bai chay la ai", "person"),
        ("Ai chủ trì hội nghị tổng kết?", "person"),
        ("Người nào chủ trì hội nghị?", "person"),
        ("Vị nào phát biểu kết luận?", "person"),
        ("Lãnh đạo Sở Y tế nào về dự hội nghị sơ kết?", "person"),
        ("Giám đốc Sở Y tế làm việc với Trung tâm Y tế khu vực Lạc Thủy tên là gì?", "person"),
        ("Who is the director of Bai Chay Hospital?", "person"),
        # date
        ("Hội nghị tổng kết diễn ra ngày nào?", "date"),
        ("hoi nghi so ket dien ra khi nao", "date"),
        ("Kế hoạch được phê duyệt bao giờ?", "date"),
        ("Phó Chủ tịch làm việc với Sở Y tế vào thời gian nào?", "date"),
        ("Bệnh viện phấn đấu đạt mức 4.0 vào năm nào?", "date"),
        ("When was the conference held?", "date"),
        ("What date was the plan approved?", "date"),
        # place / unit
        ("Lê Ngọc Dũng dự hội nghị ở đâu?", "place"),
        ("le ngoc dung du hoi nghi o dau", "place"),
        ("Đơn vị nào được nhận Cờ Thi đua?", "place"),
        ("Bệnh viện Bãi Cháy hỗ trợ toàn diện cho trung tâm y tế huyện nào?", "place"),
        ("Giám đốc Sở Y tế đã đến thăm trạm y tế nào?", "place"),
        ("Bệnh viện sẽ trở thành bệnh viện chuyên khoa của khu vực nào?", "place"),
        ("Where did the director attend the conference?", "place"),
        ("Which hospital had a bed occupancy of 100.4%?", "place"),
        # list
        ("Bệnh viện Chấn thương Chỉnh hình thực hiện những kỹ thuật cao nào?", "list"),
        ("Phương hướng nhiệm vụ 3 tháng cuối năm gồm những gì?", "list"),
        ("Kể tên các kỹ thuật mới của Trung tâm Y tế huyện Tiên Du", "list"),
        ("What are the difficulties of the Bac Kan health sector?", "list"),
        # yes / no
        ("Tỉnh Quảng Ninh có thực hiện bệnh án điện tử không?", "yesno"),
        ("Bệnh viện đã triển khai đặt lịch khám trực tuyến chưa?", "yesno"),
        ("Does Bai Chay Hospital offer online booking?", "yesno"),
        # other
        ("Giám đốc Sở nhận xét thế nào về Trạm Y tế Pà Cò?", "other"),
        ("Nguyễn Trọng Diện giữ chức vụ gì?", "other"),
    ],
)
def test_kind(question, kind):
    assert analyze(question).kind == kind


@pytest.mark.parametrize(
    "question",
    [
        "Bệnh viện Bãi Cháy đã khám cho bao nhiêu lượt người năm 2023?",
        "Giám đốc Bệnh viện Bãi Cháy là ai?",
        "Hội nghị tổng kết diễn ra ngày nào?",
        "Lê Ngọc Dũng dự hội nghị ở đâu?",
        "Bệnh viện Chấn thương Chỉnh hình thực hiện những kỹ thuật cao nào?",
        "Bệnh viện Bãi Cháy có bao nhiêu giường bệnh?",
    ],
)
def test_kind_is_the_same_without_diacritics(question):
    assert analyze(fold(question)).kind == analyze(question).kind
    assert analyze(fold(question).lower()).kind == analyze(question).kind


def test_mấy_is_not_máy():
    assert analyze("Bệnh viện có mấy khoa?").kind == "quantity"
    assert analyze("Bệnh viện mua máy gì?").kind == "other"


def test_don_vi_nao_asks_for_a_unit_not_a_person():
    assert analyze("Đơn vị nào dẫn đầu phong trào thi đua?").kind == "place"


def test_a_named_person_makes_the_question_about_what_they_did():
    # the person is given: the answer is a sentence about them, not another name
    assert analyze("Phạm Duy Hưng tặng Bằng khen cho những ai?").kind == "list"
    assert analyze("Lê Ngọc Dũng là ai?").kind == "other"


@pytest.mark.parametrize(
    ("question", "two"),
    [
        ("Số lượt khám bệnh và số lượt điều trị nội trú của Quảng Ninh năm 2023 là bao nhiêu?", True),
        ("So sánh công suất sử dụng giường bệnh của Bệnh viện Bãi Cháy và Trung tâm Y tế huyện Tiên Du.", True),
        ("Số lượt khám bệnh năm 2023 tăng bao nhiêu so với năm 2022?", True),
        ("Số giường bệnh của Quảng Ninh nhiều hơn toàn quốc bao nhiêu?", True),
        ("Compare the bed occupancy of Bai Chay and Tien Du", True),
        ("Công tác chăm sóc và bảo vệ sức khỏe nhân dân năm 2023 đạt kết quả gì?", False),
        ("Giám đốc Bệnh viện Bãi Cháy là ai?", False),
        ("Bệnh viện Bãi Cháy đã nội soi chẩn đoán và can thiệp cho bao nhiêu bệnh nhân?", False),
    ],
)
def test_two_facts(question, two):
    assert analyze(question).two_facts is two


@pytest.mark.parametrize(
    ("question", "halves"),
    [
        (
            "Số lượt khám bệnh và số lượt điều trị nội trú của Quảng Ninh năm 2023 là bao nhiêu?",
            ["Số lượt khám bệnh", "số lượt điều trị nội trú của Quảng Ninh năm 2023 là bao nhiêu?"],
        ),
        (
            "Bệnh viện Chấn thương Chỉnh hình và Bệnh viện Bãi Cháy lần lượt được xếp hạng mấy?",
            ["Bệnh viện Chấn thương Chỉnh hình", "Bệnh viện Bãi Cháy lần lượt được xếp hạng mấy?"],
        ),
        (
            "Ngành Y tế Bắc Kạn chưa triển khai được kỹ thuật nội soi nào, trong khi Trung tâm Y tế huyện Tiên Du đã triển khai những kỹ thuật nội soi nào?",
            ["Ngành Y tế Bắc Kạn chưa triển khai được kỹ thuật nội soi nào", "Trung tâm Y tế huyện Tiên Du đã triển khai những kỹ thuật nội soi nào?"],
        ),
        ("Công tác chăm sóc và bảo vệ sức khỏe nhân dân năm 2023 đạt kết quả gì?", None),
        ("Số lượt khám bệnh năm 2023 tăng bao nhiêu so với năm 2022?", None),  # one figure: the change
        ("Quảng Ninh có bao nhiêu dược sĩ trên 1 vạn dân, so với mức toàn quốc?", None),
    ],
)
def test_split_question(question, halves):
    assert split_question(question) == (halves or [question])


def test_keywords_drop_question_words_and_keep_content_folded_and_unfolded():
    qt = analyze("Tỷ lệ dân số tham gia bảo hiểm y tế của Quảng Ninh là bao nhiêu?")
    assert "bao" not in qt.keywords and "nhiêu" not in qt.keywords  # "bảo" (hiểm) stays
    assert "nhieu" not in qt.keywords_folded
    assert "là" not in qt.keywords and "của" not in qt.keywords
    for word in ("tham", "gia", "bảo", "hiểm"):
        assert word in qt.keywords
    assert len(qt.keywords) == len(qt.keywords_folded) == len(qt.weights)
    assert all(fold(k) == f or k == f for k, f in zip(qt.keywords, qt.keywords_folded))


def test_keywords_of_an_accentless_question_match_the_accented_one():
    accented = analyze("Bệnh viện Chấn thương Chỉnh hình có bao nhiêu cán bộ công nhân viên?")
    plain = analyze("benh vien chan thuong chinh hinh co bao nhieu can bo cong nhan vien")
    assert set(accented.keywords_folded) <= set(plain.keywords_folded)


def test_english_keywords_are_translated_for_matching():
    qt = analyze("How many surgeries did Tien Du District Health Center perform in 2023?")
    assert qt.english
    assert "phau thuat" in qt.keywords_folded
    assert "surgeries" not in qt.keywords_folded  # an untranslated English word can never match


def test_abbreviations_expand():
    qt = analyze("ty le tham gia bhyt quang ninh")
    assert {"bao", "hiem", "y", "te"} <= set(qt.keywords_folded)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Năm 2024 Bệnh viện Bãi Cháy khám được bao nhiêu lượt người?", {("year", "2024"), ("facility", "Bãi Cháy")}),
        ("benh vien bai chay kham bao nhieu luot nguoi nam 2023", {("year", "2023"), ("facility", "bai chay")}),
        ("Giám đốc Sở Y tế tỉnh Lào Cai là ai?", {("place", "Lào Cai")}),
        ("ty le tham gia bhyt cua tinh nghe an", {("place", "nghe an")}),
        ("Trung tâm Y tế khu vực Mai Châu được định hướng gì?", {("facility", "Mai Châu")}),
        ("Giám đốc Sở Y tế Lê Hồng Trung đã đến thăm trạm y tế nào?", {("person", "Lê Hồng Trung")}),
        ("Who is the director of Bai Chay Hospital?", {("facility", "Bai Chay")}),
        ("Nghị quyết 128 về thích ứng với dịch Covid-19 ban hành ngày nào?", {("number", "128")}),
        ("Tại Hội thi lần thứ IX bệnh viện đạt bao nhiêu giải?", {("number", "IX")}),
    ],
)
def test_entities(question, expected):
    found = {(e.kind, e.text) for e in extract_entities(question)}
    assert expected <= found
    # "Covid-19" and "5S" are codes, not numbers the answer must repeat
    assert ("number", "19") not in found


@pytest.mark.parametrize(
    ("question", "quantity_kind", "units"),
    [
        ("Bệnh viện Bãi Cháy có bao nhiêu giường bệnh?", "count", ("giuong",)),
        ("Bệnh viện có bao nhiêu CBCNV?", "count", ("cbcnv", "can bo")),
        ("Bệnh viện có mấy khoa?", "count", ("khoa",)),
        ("Tỷ lệ đặt lịch khám trực tuyến là bao nhiêu?", "percent", ()),
        ("Công suất sử dụng giường bệnh đạt bao nhiêu phần trăm?", "percent", ()),
        ("Số ca phẫu thuật tăng thêm bao nhiêu?", "change", ("ca", "luot")),
        ("Quảng Ninh có bao nhiêu bác sĩ trên 1 vạn dân?", "rate", ("bac si",)),
        ("Bình quân cứ mười nghìn dân có bao nhiêu bác sĩ?", "rate", ("bac si",)),
        ("Bệnh viện được xếp hạng mấy?", "count", ("hang",)),
        ("Quảng Ninh xếp thứ mấy cả nước?", "count", ("thu",)),
        ("Sở Y tế có bao nhiêu công chức?", "count", ("cong chuc",)),
        ("số ca phẫu thuật bao nhiêu (năm 2023)?", "count", ("ca", "luot")),  # no unit across "("
        ("How many beds does Bai Chay hospital have?", "count", ("giuong",)),
        ("What was the rate of patient transfers?", "percent", ()),
    ],
)
def test_quantity_kind_and_unit(question, quantity_kind, units):
    qt = analyze(question)
    assert qt.kind == "quantity"
    assert qt.quantity_kind == quantity_kind
    assert set(units) <= set(qt.units)
    if not units:
        assert qt.units == ()


def test_deputy():
    assert analyze("Phó giám đốc Sở Y tế dự hội nghị là ai?").deputy
    assert analyze("pho giam doc so y te la ai").deputy
    assert not analyze("Giám đốc Sở Y tế là ai?").deputy


def test_canon_numbers_and_roman_numerals():
    assert canon("95,25%") == canon("95.25%") == "95.25"
    assert canon("383.605") == canon("383605") == "383605"
    assert canon("04") == "4"
    assert canon("IV") == "4"
    assert canon("Quảng") == "quang"
