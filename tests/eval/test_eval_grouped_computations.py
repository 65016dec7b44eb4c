"""Number faithfulness of a computed line with parentheses: a previous-year figure derived from a
stated change ("9.864.215 × 100 : (100 + 8,7) = 9.074.715"); the per-cent base 100 is no operand."""

from __future__ import annotations

from eval import metrics as M


def test_a_grouped_computation_holds_and_its_operands_leave_out_the_per_cent_base():
    assert M.computation_result("9.864.215 × 100 : (100 + 8,7) = 9.074.715") == (["9.864.215", "8,7"], "9.074.715")
    assert M.computation_result("1.245 × 100 : (100 − 18) = 1.518 lượt") == (["1.245", "18"], "1.518")
    assert M.computation_result("2 × (3 + 4) = 14") == (["2", "3", "4"], "14")
    assert M.computation_result("2 × (3 + 4) = 10") is None  # wrong arithmetic
    assert M.computation_result("(2 + 3 = 5") is None  # unbalanced


def test_a_derived_figure_is_supported_only_with_its_figure_and_change_cited():
    answer = "- Suy ra (năm 2022): 9.864.215 × 100 : (100 + 8,7) = **9.074.715** lượt [1]"
    line = ["9.864.215 × 100 : (100 + 8,7) = 9.074.715"]
    cited = ["năm 2023 đã khám 9.864.215 lượt người, tăng 8,7% so với năm 2022"]
    assert M.unsupported_numbers(answer, cited, line) == []
    assert M.unsupported_numbers(answer, ["năm 2023 đã khám 9.864.215 lượt người"], line) == ["2022", "100", "8,7", "9.074.715"]


def test_a_computation_over_scaled_operands_is_read_with_the_answerers_number_reader():
    assert M.computation_result("14 nghìn − 9,5 nghìn = 4.500 lượt") == (["14 nghìn", "9,5 nghìn"], "4.500")
    assert M.computation_result("1,1 triệu − 900 nghìn = 200 nghìn người") == (["1,1 triệu", "900 nghìn"], "200 nghìn")
    assert M.computation_result("1,1 triệu − 900 nghìn = 300 nghìn") is None  # wrong arithmetic
    assert M.computation_result("2,4 triệu + 1,35 triệu = 3,8 triệu") == (["2,4 triệu", "1,35 triệu"], "3,8 triệu")  # rounded in millions
    assert M.computation_result("2,4 triệu + 1,35 triệu = 3,9 triệu") is None
    assert M.computation_result("2,4 triệu + 1,3 triệu = 3,7 triệu") == (["2,4 triệu", "1,3 triệu"], "3,7 triệu")


def test_a_scaled_computation_is_supported_only_with_both_operands_cited():
    line = ["14 nghìn − 9,5 nghìn = 4.500"]
    answer = "- Tính từ hai số liệu trích dẫn: 14 nghìn − 9,5 nghìn = **4.500** lượt [1][2]"
    cited = ["Xã A tiếp đón 14 nghìn lượt khách trong tháng.", "Xã B tiếp đón 9,5 nghìn lượt khách."]
    assert M.unsupported_numbers(answer, cited, line) == []
    assert M.unsupported_numbers(answer, cited[:1], line) == ["9,5", "4.500"]


def test_a_year_or_count_inside_a_cited_date_or_ratio_is_supported():
    cited = ["Tính đến ngày 15/10/2025, huyện có 41/57 xã đạt chuẩn."]
    assert M.unsupported_numbers("Hai kỳ khác nhau (năm 2025 và năm 2019) [1]", cited) == ["2019"]
    assert M.unsupported_numbers("**41** xã [1]", cited) == []
    assert M.unsupported_numbers("**5/10** [1]", cited) == ["5/10"]  # a whole date must be written so
    assert M.unsupported_numbers("**410** xã [1]", cited) == ["410"]
