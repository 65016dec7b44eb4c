"""The answer-span detectors on sentences of our own (none from corpus/ or an evaluation set).

Expected spans are written by hand from the sentences, never produced by the code under test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.span_quality import DATA, load, measure
from rag.text import spans as generic
from rag.answer.extractive import find_spans
from tests.lang.test_lexicon import evaluation_texts


def texts(kind: str, sentence: str, years: bool = True) -> list[str]:
    return [s.text for s in find_spans(kind, sentence, years=years)]


# ---------------------------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Ngày 16/9, đoàn kiểm tra đến xã.", "Ngày 16/9"),
        ("Hạn nộp hồ sơ là 16/9/2024.", "16/9/2024"),
        ("Kết quả được công bố ngày 3-11-2023.", "ngày 3-11-2023"),
        ("Ngày 8 tháng 3, hội phụ nữ tặng hoa.", "Ngày 8 tháng 3"),
        ("Dự kiến hoàn thành trong tháng 6/2025.", "tháng 6/2025"),
        ("Dự kiến hoàn thành trong tháng 6 năm 2025.", "tháng 6 năm 2025"),
        ("Số liệu quý IV/2024 cho thấy xu hướng giảm.", "quý IV/2024"),
        ("Trong 6 tháng đầu năm 2024 có 12 ca mắc.", "6 tháng đầu năm 2024"),
        ("Tòa tháp được dựng vào thế kỷ 11.", "thế kỷ 11"),
        ("Trạm được xây dựng năm 1990.", "năm 1990"),
        ("Chiến lược giai đoạn 2021–2025 đã được phê duyệt.", "giai đoạn 2021–2025"),
        ("Từ năm 2019 đến năm 2022, số ca giảm dần.", "Từ năm 2019 đến năm 2022"),
    ],
)
def test_dates(sentence, expected):
    assert expected in texts("date", sentence)


@pytest.mark.parametrize(
    "sentence",
    ["Khoa có 14/14 giường đã kín.", "Chỉ 1/3 số hộ có nước sạch.", "Tỷ lệ đạt 2/5 chỉ tiêu.", "Ông sống ở số nhà 25."],
)
def test_fractions_and_numbers_are_not_dates(sentence):
    assert texts("date", sentence) == []


def test_periods_count_as_dates_only_when_a_period_is_asked():
    sentence = "Trong 6 tháng đầu năm 2024, ngày 5/3 có đợt tiêm lớn."
    assert texts("date", sentence, years=False) == ["ngày 5/3"]
    assert texts("date", sentence, years=True) == ["6 tháng đầu năm 2024", "ngày 5/3"]


# ---------------------------------------------------------------------------------------------
# Persons
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Ông John Smith đã đến thăm trạm.", "John Smith"),
        ("Takeshi Yamamoto là chuyên gia về gây mê.", "Takeshi Yamamoto"),
        ("Thời vua Louis XIV, y học phát triển.", "Louis XIV"),
        ("TS.BS Nguyễn Văn A phụ trách ca mổ.", "Nguyễn Văn A"),
        ("Theo chuyên gia WHO Maria Lopez, cần tăng tiêm chủng.", "Maria Lopez"),
        ("Điều dưỡng Hà Thị Bích chăm sóc bệnh nhân suốt đêm.", "Hà Thị Bích"),
    ],
)
def test_persons(sentence, expected):
    assert expected in texts("person", sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "Đoàn công tác đến Hà Nội và Đà Nẵng.",
        "Bệnh viện Bạch Mai tiếp nhận bệnh nhân.",
        "Harvard Medical School công bố nghiên cứu mới.",
        "Hội nghị lần thứ IX kết thúc.",
        "Quỹ Nhi đồng Liên hợp quốc tài trợ thiết bị.",
    ],
)
def test_places_organisations_and_ordinals_are_not_persons(sentence):
    assert texts("person", sentence) == []


# ---------------------------------------------------------------------------------------------
# Organisations and places
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("WHO khuyến cáo rửa tay thường xuyên.", "WHO"),
        ("Viện Pasteur đã giải trình tự gen.", "Viện Pasteur"),
        ("Tổ chức Y tế Thế giới, UNICEF và các đối tác.", "Tổ chức Y tế Thế giới"),
        ("Hội nghị được tổ chức tại Đà Lạt.", "Đà Lạt"),
        ("Chị làm việc ở Geneva nhiều năm.", "Geneva"),
        ("Người dân Nghệ An hưởng ứng.", "Nghệ An"),
        ("Trung tâm Y tế huyện Bình Liêu nhận quà.", "Trung tâm Y tế huyện Bình Liêu"),
        ("Bệnh viện Đa khoa tỉnh Lào Cai tiếp nhận ca bệnh.", "Bệnh viện Đa khoa tỉnh Lào Cai"),
    ],
)
def test_places(sentence, expected):
    assert expected in texts("place", sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "Bệnh nhân được chụp CT và MRI.",
        "Các trạm y tế xã đều có bác sĩ.",
        "Xét nghiệm PCR cho kết quả âm tính với HIV.",
        "TS. Trần Văn Bình ký quyết định.",
    ],
)
def test_techniques_titles_and_kinds_of_units_are_not_places(sentence):
    assert texts("place", sentence) == []


# ---------------------------------------------------------------------------------------------
# Quantities: numbers with units, in words, ordinals, ranges
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Phòng khám phục vụ 383.605 lượt người.", "383.605 lượt người"),
        ("Tỷ lệ bao phủ đạt 95,25%.", "95,25%"),
        ("Bình quân có 55 giường bệnh/1 vạn dân.", "55 giường bệnh/1 vạn dân"),
        ("Có trên 2.000 người tham gia.", "trên 2.000 người"),
        ("Gần 40% số hộ nghèo có thẻ.", "Gần 40%"),
        ("Xã có khoảng 300 hộ.", "khoảng 300 hộ"),
        ("Có hai người bị thương.", "hai người"),
        ("Đội có ba mươi người tình nguyện.", "ba mươi người"),
        ("Kho nhận một trăm hai mươi thùng thuốc.", "một trăm hai mươi thùng"),
        ("Dự án hỗ trợ mười lăm nghìn hộ.", "mười lăm nghìn hộ"),
        ("Tỉnh đứng thứ 3 toàn quốc.", "thứ 3"),
        ("Đội về thứ ba chung cuộc.", "thứ ba"),
        ("Bệnh viện hạng II của tỉnh.", "hạng II"),
        ("Đây là lần thứ hai đoàn đến.", "lần thứ hai"),
        ("Mỗi lớp có từ 15 đến 20 học viên.", "từ 15 đến 20 học viên"),
        ("Tỷ lệ tái khám 15–20%.", "15–20%"),
    ],
)
def test_quantities(sentence, expected):
    assert expected in texts("quantity", sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "Ba mẹ đưa bé đi khám.",
        "Năm nay thời tiết lạnh.",
        "Một số trạm còn thiếu thuốc.",
        "Sáng thứ Ba, đoàn đến xã.",
        "Thực hiện Nghị quyết 20 của Trung ương.",
        "Dịch Covid-19 đã được kiểm soát.",
        "Trong 6 tháng đầu năm 2024 trời ít mưa.",
        "Chương trình giai đoạn 2021-2025.",
    ],
)
def test_not_quantities(sentence):
    assert texts("quantity", sentence) == []


@pytest.mark.parametrize(
    ("words", "value"),
    [("hai", 2), ("ba mươi", 30), ("hai mươi mốt", 21), ("một trăm hai mươi", 120), ("một trăm linh năm", 105),
     ("mười lăm nghìn", 15000), ("hai triệu ba trăm nghìn", 2_300_000), ("mười", 10)],
)
def test_word_values(words, value):
    assert generic.word_value(words.split()) == value


def test_word_numbers_report_their_value():
    found = generic.word_numbers("Trạm tiếp nhận một trăm hai mươi người.")
    assert [(f.kind, f.value) for f in found] == [("number", 120)]


# ---------------------------------------------------------------------------------------------
# Precision and recall on the annotated sentences
# ---------------------------------------------------------------------------------------------


def test_annotated_sentences_are_enough_and_well_formed():
    rows = load()
    assert len(rows) >= 60
    assert len({r["text"] for r in rows}) == len(rows)
    for r in rows:
        assert set(r["spans"]) <= {"date", "person", "place", "quantity"}, r["id"]
        for spans in r["spans"].values():
            assert all(s in r["text"] for s in spans), r["id"]


def test_annotated_sentences_are_not_from_the_corpus_or_the_evaluation_sets():
    texts = evaluation_texts()
    assert texts
    copied = [r["id"] for r in load() if any(r["text"].rstrip(".") in t for t in texts)]
    assert not copied, copied


def test_precision_and_recall_per_type():
    result = measure(load())
    # floors below the measured values (dev + held-out, see python -m eval.span_quality)
    for kind in ("date", "person", "place", "quantity"):
        exact, overlap = result[kind]["exact"], result[kind]["overlap"]
        assert exact.precision >= 0.75 and exact.recall >= 0.75, (kind, exact)
        assert overlap.precision >= 0.9 and overlap.recall >= 0.9, (kind, overlap)


def test_a_malformed_annotation_line_is_named(tmp_path: Path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"text": "x", "spans": {}}) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.jsonl:2"):
        load(path)
    assert DATA.is_file()
