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
