"""The evaluation metrics on hand-made cases (no model, no index)."""

from __future__ import annotations

import pytest

from eval import metrics as M

# --------------------------------------------------------------------------- evidence in passages


def test_passage_has_evidence_normalises_whitespace_and_nfc():
    passage = "Bệnh viện đã khám\ncho  trên 383.605\u00a0lượt người."
    assert M.passage_has_evidence(passage, "đã khám cho trên 383.605 lượt")
    decomposed = "Be\u0302\u0323nh vie\u0302\u0323n"  # NFD "Bệnh viện"
    assert M.passage_has_evidence(passage, decomposed)
    assert not M.passage_has_evidence(passage, "157.627 lượt")
    assert not M.passage_has_evidence(passage, None)
    assert M.passage_has_evidence(passage, ["không có", "383.605"])


def test_single_evidence_ranks_hits_and_mrr():
    passages = ["không liên quan", "cũng không", "Tổng số lượt khám bệnh: 2.617.843 lượt", "lặp lại 2.617.843 lượt"]
    evidence = "2.617.843 lượt"
    assert M.evidence_ranks(passages, evidence) == [3]
    assert M.first_evidence_rank(passages, evidence) == 3
    assert not M.hit_at_k(passages, evidence, 1)
    assert not M.hit_at_k(passages, evidence, 2)
    assert M.hit_at_k(passages, evidence, 3)
    assert M.hit_at_k(passages, evidence, 5)
    assert M.reciprocal_rank(3) == pytest.approx(1 / 3)
    assert M.reciprocal_rank(None) == 0.0
    assert M.reciprocal_rank(11, cutoff=10) == 0.0
    assert M.reciprocal_rank(10, cutoff=10) == pytest.approx(0.1)
    with pytest.raises(ValueError):
        M.reciprocal_rank(0)


def test_mrr_over_questions():
    ranks = [1, 2, None, 4, 12]
    mrr = M.mean(M.reciprocal_rank(r, 10) for r in ranks)
    assert mrr == pytest.approx((1 + 0.5 + 0 + 0.25 + 0) / 5)


def test_multi_passage_evidence_needs_all_strings_for_a_hit():
    evidence = ["Bệnh viện Bãi Cháy đạt 3 giải", "22/28 giải pháp đạt giải"]
    passages = [
        "mở đầu",
        "Năm nay Bệnh viện Bãi Cháy đạt 3 giải với 1 giải Nhất",
        "khác",
        "khác nữa",
        "chưa",
        "Toàn ngành có 22/28 giải pháp đạt giải",
    ]
    assert M.evidence_ranks(passages, evidence) == [2, 6]
    assert M.first_evidence_rank(passages, evidence) == 2  # MRR uses the first passage with any evidence
    assert M.all_evidence_rank(passages, evidence) == 6
    assert not M.hit_at_k(passages, evidence, 5)  # only half the evidence is in the top 5
    assert M.hit_at_k(passages, evidence, 6)
    assert M.evidence_recall_at_k(passages, evidence, 5) == pytest.approx(0.5)
    assert M.evidence_recall_at_k(passages, evidence, 6) == pytest.approx(1.0)
    assert M.evidence_recall_at_k(passages, evidence, 1) == pytest.approx(0.0)
    assert M.evidence_recall_at_k(passages, None, 5) is None
    # a single passage that holds both strings is a hit at its rank
    assert M.hit_at_k(["x", "Bệnh viện Bãi Cháy đạt 3 giải; 22/28 giải pháp đạt giải"], evidence, 2)


def test_no_evidence_is_never_a_hit():
    assert not M.hit_at_k(["a", "b"], None, 5)
    assert M.first_evidence_rank(["a"], None) is None
    assert M.all_evidence_rank(["a"], []) is None


# --------------------------------------------------------------------------- answers and numbers


@pytest.mark.parametrize(
    ("answer", "needle", "expected"),
    [
        ("Bệnh viện đã khám cho trên 383.605 lượt người.", "383.605", True),
        ("đạt 383.605.", "383.605", True),  # sentence-final period is not a digit group
        ("(383.605)", "383.605", True),
        ("383.605", "383.605", True),
        ("đã khám cho trên 383.605 lượt người", "3.605", False),  # the trap: a tail of a bigger number
        ("khám 383.6051 lượt", "383.605", False),  # followed by a digit
        ("khám 1.383.605 lượt", "383.605", False),  # preceded by separator + digit
        ("khám 383.605,5 lượt", "383.605", False),  # followed by separator + digit
        ("3.605 ca và 383.605 lượt", "3.605", True),  # a second, whole occurrence counts
        ("tỷ lệ 13% dân số", "3%", False),
        ("tỷ lệ 3% dân số", "3%", True),
        ("ngày 15/1/2024", "5/1/2024", False),
        ("ngày 5/1/2024, Sở Y tế", "5/1/2024", True),
        ("đạt 100,4%", "100,4%", True),
        ("đạt 100,45%", "100,4%", False),
        ("đạt 22/28 giải pháp", "22/28", True),
        ("đạt 122/28", "22/28", False),
        ("trên 14 nghìn ca", "14 nghìn", True),
        ("trên 114 nghìn ca", "14 nghìn", False),
        ("năm 2021 và năm 20210", "năm 2021", True),
        ("năm 20210", "năm 2021", False),
        ("Phẫu thuật thay Khớp háng", "khớp háng", True),  # case-insensitive letters
        ("Lê Ngọc\nDũng", "Lê Ngọc Dũng", True),  # whitespace-normalised
        ("Le Ngoc Dung", "Lê Ngọc Dũng", False),  # diacritics matter
        ("cấp 07 bệnh viện", "07", True),
        ("năm 2007", "07", False),
        # words match whole as well: the Roman-numeral version of the number trap
        ("bệnh viện chuyên khoa, hạng II, tuyến tỉnh", "hạng I", False),
        ("hạng II; Bãi Cháy là bệnh viện đa khoa hạng I trực thuộc Sở", "hạng I", True),
        ("đạt mức “4.0” vào năm 2025", "4.0", True),
        ("duy trì phương pháp 5S", "5S", True),
        ("duy trì phương pháp 5S.", "5", False),
        ("tặng quàng", "tặng quà", False),
        ("Trung tâm Y tế khu vực **Lạc Thủy**", "Lạc Thủy", True),
    ],
)
def test_contains_answer_number_boundaries(answer, needle, expected):
    assert M.contains_answer(answer, needle) is expected


def test_contains_answer_nfc():
    assert M.contains_answer("Tra\u0323m Y te\u0302\u0301 Pa\u0300 Co\u0300", "Trạm Y tế Pà Cò")  # NFD answer
    assert M.contains_answer("Ba\u0303i Cha\u0301y", "Bãi Cháy")  # NFD answer, NFC needle


def test_contains_answer_case_sensitive_option():
    assert not M.contains_answer("Khớp háng", "khớp háng", case_sensitive=True)
    assert M.contains_answer("khớp háng", "khớp háng", case_sensitive=True)


def test_answer_correct():
    ans = "Bãi Cháy đạt 100,4%, Tiên Du đạt 91,4% kế hoạch."
    assert M.answer_correct(ans, ["100,4%", "91,4%"], abstained=False)
    assert not M.answer_correct(ans, ["100,4%", "91,5%"], abstained=False)  # every string is needed
    assert not M.answer_correct(ans, ["100,4%"], abstained=True)  # abstaining on an answerable item is wrong
    assert M.answer_correct("Không tìm thấy.", [], abstained=True, answerable=False)
    assert not M.answer_correct("Có: 12 bác sĩ", [], abstained=False, answerable=False)


# --------------------------------------------------------------------------- abstention


def test_abstention_precision_recall():
    # 3 unanswerable (False) and 5 answerable; abstained on 2 unanswerable + 1 answerable
    answerable = [False, False, False, True, True, True, True, True]
    abstained = [True, True, False, True, False, False, False, False]
    precision, recall = M.abstention_precision_recall(answerable, abstained)
    assert precision == pytest.approx(2 / 3)
    assert recall == pytest.approx(2 / 3)


def test_abstention_edge_cases():
    assert M.abstention_precision_recall([True, True], [False, False]) == (None, None)
    assert M.abstention_precision_recall([False, True], [False, False]) == (None, 0.0)
    assert M.abstention_precision_recall([True], [True]) == (0.0, None)
    assert M.abstention_precision_recall([False, False], [True, True]) == (1.0, 1.0)
    with pytest.raises(ValueError):
        M.abstention_precision_recall([True], [])


# --------------------------------------------------------------------------- citations


def test_citation_precision_and_recall():
    evidence = ["khám cho trên 383.605 lượt người", "157.627 lượt khám bệnh"]
    cited = [
        "Bệnh viện đã khám cho trên 383.605 lượt người, tăng 106,5%",
        "Trong 9 tháng, có 157.627 lượt khám bệnh",
        "Đoạn không liên quan",
        "Lặp lại: khám cho trên\n383.605 lượt người",
    ]
    assert M.citation_precision(cited, evidence) == (3, 4)
    assert M.citation_recall(cited, evidence) == (2, 2)
    assert M.citation_recall(cited[:1] + cited[2:3], evidence) == (1, 2)
    assert M.citation_precision([], evidence) == (0, 0)
    assert M.citation_recall([], evidence) == (0, 2)
    assert M.safe_ratio(*M.citation_precision(cited, evidence)) == pytest.approx(0.75)
    assert M.safe_ratio(*M.citation_precision([], evidence)) is None


# --------------------------------------------------------------------------- helpers


def test_mean_and_percentile():
    assert M.mean([True, False, None, True]) == pytest.approx(2 / 3)
    assert M.mean([None]) is None
    values = [10, 20, 30, 40, 50]
    assert M.percentile(values, 50) == 30
    assert M.percentile(values, 95) == pytest.approx(48.0)  # numpy.percentile's linear interpolation
    assert M.percentile([7], 95) == 7
    assert M.percentile([], 50) is None
    with pytest.raises(ValueError):
        M.percentile(values, 101)
