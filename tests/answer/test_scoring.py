"""The calibrated scorer: weights round-trip through JSON, features on hand-made cases, the bold-lead rule.

Every passage here is written for the test (not from corpus/ or any gold file).
"""

from __future__ import annotations

import json

import pytest
from langchain_core.documents import Document

from rag.answer.compose import answer_extractive
from rag.answer.extractive import add_similarity, best_fact, unit_context
from rag.answer.scoring import ANSWER_FEATURES, BASE_FEATURES, FEATURES, SEMANTIC_FEATURES, WEIGHTS, Logistic, Scorer, default_scorer
from rag.answer.similarity import UnitEmbedder, scorer_for


def _docs(*passages: tuple[str, str]) -> list[Document]:
    return [
        Document(page_content=text, metadata={"doc_id": f"d{i}", "title": title, "start": 0, "end": len(text), "ranks": {"dense": i + 1}})
        for i, (title, text) in enumerate(passages)
    ]


def test_shipped_weights_load_and_name_every_feature():
    scorer = default_scorer()
    assert scorer.unit.features == FEATURES and scorer.answer.features == ANSWER_FEATURES
    assert scorer.prescore is not None and scorer.prescore.features == BASE_FEATURES  # what picks the units to embed
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


# -- semantic features (dense similarity of the question to each unit) ------------------------

_REPORT = (
    "Sở Y tế tỉnh Bến Lạc sơ kết năm 2024",
    "Năm 2024, Bệnh viện Đa khoa Hồ Lam điều trị nội trú cho 18.240 người bệnh; khám ngoại trú 96.500 lượt. "
    "Bệnh viện tổ chức 12 lớp tập huấn về kiểm soát nhiễm khuẩn. "
    "Trung tâm Y tế huyện Cây Gạo tiêm chủng cho 3.105 trẻ em. "
    "Ngành y tế tỉnh tiếp nhận 40 bác sĩ mới.",
)


def test_without_an_embedder_the_semantic_features_are_unknown():
    _, scored = best_fact("Bệnh viện Đa khoa Hồ Lam điều trị nội trú cho bao nhiêu người bệnh?", _docs(_REPORT))
    assert scored and all(s.features[f] is None for s in scored for f in SEMANTIC_FEATURES)
    assert scorer_for(lambda q: []) is default_scorer()  # a plain callable retriever has no model to lend


def test_the_best_prescored_units_are_embedded_once_per_sentence():
    calls: list[list[str]] = []

    def embed(question, texts):  # cosines by position: the first text is the most similar
        calls.append(list(texts))
        return [0.9 - 0.1 * i for i in range(len(texts))]

    _, scored = best_fact("Bệnh viện Đa khoa Hồ Lam điều trị nội trú cho bao nhiêu người bệnh?", _docs(_REPORT), scorer=Scorer.neutral())
    prescore = default_scorer().prescore
    add_similarity("câu hỏi", scored, embed, prescore, k=2)
    assert len(calls) == 1 and len(calls[0]) == len(set(calls[0])) == 2  # one batch, distinct contexts
    embedded = [s for s in scored if s.features["unit_similarity"] is not None]
    # the two clauses of the first sentence share its context, so both are embedded
    assert {unit_context(s.unit) for s in embedded} == set(calls[0])
    assert len(embedded) > 2
    ranked = sorted((s for s in scored if s.rejected is None), key=lambda s: -prescore.probability(s.features))
    assert unit_context(ranked[0].unit) == calls[0][0]  # the pre-score's best goes first
    assert all(s.features["unit_similarity"] == pytest.approx(0.9) for s in embedded if unit_context(s.unit) == calls[0][0])
    assert all(s.features["unit_similarity"] is None for s in scored if unit_context(s.unit) not in calls[0])


def test_a_scorer_with_an_embedder_moves_scores_and_one_without_does_not():
    docs = _docs(_REPORT)
    question = "Bệnh viện Đa khoa Hồ Lam điều trị nội trú cho bao nhiêu người bệnh?"
    plain = {s.unit.text: s.score for s in best_fact(question, docs)[1]}
    same = {s.unit.text: s.score for s in best_fact(question, docs, scorer=default_scorer().with_embedder(None))[1]}
    assert same == plain
    low = default_scorer().with_embedder(lambda q, texts: [0.70] * len(texts))
    scored = best_fact(question, docs, scorer=low)[1]
    assert any(s.features["unit_similarity"] == 0.70 for s in scored)
    assert {s.unit.text: s.score for s in scored} != plain


def test_unit_similarity_with_the_real_model_sees_a_paraphrase_and_caches_vectors(embeddings):
    embedder = UnitEmbedder(embeddings)
    title = "Bệnh viện Đa khoa Hồ Lam tổng kết năm 2024"
    texts = [
        f"{title}\nNăm 2024, bệnh viện điều trị nội trú cho 18.240 người bệnh.",
        f"{title}\nBệnh viện tổ chức 12 lớp tập huấn về kiểm soát nhiễm khuẩn.",
    ]
    question = "Bao nhiêu bệnh nhân đã nằm viện ở Hồ Lam năm 2024?"  # "nằm viện" for "nội trú"
    first = embedder.similarities(question, texts)
    assert first[0] > first[1] and all(0.0 < x <= 1.0 for x in first)
    assert embedder.encoded == 2
    again = embedder.similarities(question, [texts[1], texts[0], texts[0]])
    assert embedder.encoded == 2  # every vector came from the cache
    assert again == pytest.approx([first[1], first[0], first[0]], abs=1e-6)
