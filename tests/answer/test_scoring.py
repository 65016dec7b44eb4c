"""The calibrated scorer: weights round-trip through JSON, features on hand-made cases, the bold-lead rule.

Every passage here is written for the test (not from corpus/ or any gold file).
"""

from __future__ import annotations

import json

import pytest
from langchain_core.documents import Document

from rag.answer.compose import answer_extractive
from rag.answer.extractive import best_fact
from rag.answer.scoring import ANSWER_FEATURES, FEATURES, WEIGHTS, Logistic, Scorer, default_scorer


def _docs(*passages: tuple[str, str]) -> list[Document]:
    return [
        Document(page_content=text, metadata={"doc_id": f"d{i}", "title": title, "start": 0, "end": len(text), "ranks": {"dense": i + 1}})
        for i, (title, text) in enumerate(passages)
    ]


def test_shipped_weights_load_and_name_every_feature():
    scorer = default_scorer()
    assert scorer.unit.features == FEATURES and scorer.answer.features == ANSWER_FEATURES
    assert 0.0 < scorer.threshold < 1.0
    assert scorer.meta["fitted_on"] and "eval/extra" not in json.dumps(scorer.meta)


def test_weights_round_trip_through_json_and_reproduce_scores(tmp_path):
    scorer = default_scorer()
    path = tmp_path / "scorer.json"
    scorer.save(path)
    again = Scorer.load(path)
    rows = [{f: (i * 0.37 + j * 0.11) % 1.3 for j, f in enumerate(FEATURES)} for i in range(5)]
    assert [again.probability(r) for r in rows] == pytest.approx([scorer.probability(r) for r in rows], abs=1e-12)
    assert again.confidence(rows[0], 0.8, 0.3) == pytest.approx(scorer.confidence(rows[0], 0.8, 0.3), abs=1e-12)
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(WEIGHTS.read_text(encoding="utf-8"))


def test_logistic_is_a_standardised_sigmoid():
    model = Logistic(("a", "b"), (1.0, 0.0), (2.0, 1.0), (2.0, -1.0), 0.5)
    # z = 0.5 + 2*(3-1)/2 - 1*(1-0)/1 = 1.5
    assert model.probability({"a": 3.0, "b": 1.0}) == pytest.approx(1 / (1 + 2.718281828459045 ** -1.5))
    # an unknown feature (missing or None) sits at its mean and moves nothing
    assert model.probability({}) == pytest.approx(1 / (1 + 2.718281828459045 ** -0.5))
    assert model.probability({"a": None, "b": 1.0}) == pytest.approx(1 / (1 + 2.718281828459045 ** -(0.5 - 1.0)))
    with pytest.raises(ValueError):
        Logistic.from_json({"features": ["a"], "mean": [0], "scale": [0], "coef": [1], "intercept": 0})


def test_a_retriever_without_ranks_leaves_those_features_unknown_not_zero():
    docs = [Document(page_content="Bệnh viện Đa khoa Hồ Lam đã khám cho 52.310 lượt người.", metadata={"doc_id": "d0", "title": "Hồ Lam", "start": 0})]
    _, scored = best_fact("Bệnh viện Đa khoa Hồ Lam khám bao nhiêu lượt người?", docs, scorer=Scorer.neutral())
    assert scored[0].features["dense_rr"] is None and scored[0].features["similarity"] is None
    _, ranked = best_fact("Bệnh viện Đa khoa Hồ Lam khám bao nhiêu lượt người?", _docs(("Hồ Lam", docs[0].page_content)), scorer=Scorer.neutral())
    assert ranked[0].features["dense_rr"] == 1.0 and ranked[0].features["lexical_rr"] == 0.0


def test_a_sentence_about_another_year_is_ruled_out_not_just_scored_down():
    docs = _docs(("Trung tâm Y tế huyện Sông Mây tổng kết", "Năm 2022, Trung tâm Y tế huyện Sông Mây khám cho 41.250 lượt người."))
    fact, scored = best_fact("Năm 2024 Trung tâm Y tế huyện Sông Mây khám bao nhiêu lượt người?", docs)
    assert fact is None
    assert scored and scored[0].rejected and "2022" in scored[0].rejected


def test_features_see_coverage_entities_and_a_unit_that_only_repeats_the_question():
    docs = _docs(
        (
            "Bệnh viện Đa khoa Hồ Lam sơ kết 6 tháng",
            "Bệnh viện Đa khoa Hồ Lam khám bao nhiêu lượt người là câu hỏi của nhiều phóng viên. "
            "Trong 6 tháng, Bệnh viện Đa khoa Hồ Lam đã khám cho 52.310 lượt người.",
        )
    )
    _, scored = best_fact("Bệnh viện Đa khoa Hồ Lam khám bao nhiêu lượt người?", docs, scorer=Scorer.neutral())
    by_text = {s.unit.text[:20]: s for s in scored}
    repeat = next(s for t, s in by_text.items() if t.startswith("Bệnh viện Đa khoa"))
    answer = next(s for t, s in by_text.items() if t.startswith("Trong 6 tháng"))
    assert answer.features["span"] == 1.0 and repeat.features["no_span"] == 1.0
    assert answer.features["novelty"] > repeat.features["novelty"]
    assert answer.features["entity_missing"] == 0.0
    assert answer.features["entities_in_sentence"] == answer.features["entities"] >= 1.0


def test_a_named_place_missing_from_the_context_counts_against_the_unit():
    docs = _docs(("Sở Y tế tỉnh Bến Lạc họp báo", "Toàn tỉnh ghi nhận 315 ca sốt xuất huyết trong quý III."))
    _, scored = best_fact("Huyện Cây Gạo có bao nhiêu ca sốt xuất huyết?", docs, scorer=Scorer.neutral())
    assert scored[0].features["entity_missing"] == 1.0


def test_the_bold_lead_is_the_asked_measure_never_another_figure_of_the_sentence():
    docs = _docs(
        (
            "Trung tâm Y tế huyện Đồi Thông tiêm chủng năm 2024",
            "Năm 2024, Trung tâm Y tế huyện Đồi Thông tiêm chủng cho 7.412 trẻ em dưới 1 tuổi, đạt 98,2% kế hoạch.",
        )
    )
    neutral = Scorer.neutral()  # P = 0.5 everywhere, threshold 0: the rule, not the weights, is tested
    count = answer_extractive("Năm 2024 Trung tâm Y tế huyện Đồi Thông tiêm chủng cho bao nhiêu trẻ em?", docs=docs, scorer=neutral)
    rate = answer_extractive("Năm 2024 Trung tâm Y tế huyện Đồi Thông tiêm chủng đạt bao nhiêu phần trăm kế hoạch?", docs=docs, scorer=neutral)
    assert rate.text.startswith("**98,2%**")
    # the count: 7.412 in bold, or no bold at all (the quote alone) — never another figure
    assert count.text.startswith("**7.412") or not count.text.startswith("**")
    assert "7.412" in count.text and "**dưới 1" not in count.text


def test_superscript_digits_are_not_numbers_to_compare():
    docs = _docs(("Báo cáo", "Năm 2024 khám 100.000 lượt người."))
    fact, scored = best_fact("Số ¹ khám bao nhiêu lượt?", docs, scorer=Scorer.neutral())
    assert scored  # no crash on "¹", which str.isdigit() accepts and int() refuses
