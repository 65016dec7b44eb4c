"""Per-unit features for the calibrated scorer (:data:`rag.answer.scoring.FEATURES`) and the
probability it gives each candidate unit.

For each unit: topic coverage (:mod:`rag.answer.keywords`), retrieval ranks, the entity and period
checks (:mod:`rag.answer.checks`), and for a typed question (how many / who / when / where) its best
span of that type; the semantic feature (unit similarity) is filled for the best units of the
pre-score model in one embedding batch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from rag.answer.candidates import Unit, contains_run
from rag.answer.cells import missing_column, other_row
from rag.answer.checks import check_entities, check_period, is_conflict, places_unnamed, span_ok
from rag.answer.keywords import keyword_groups, make_idf, topic_coverage
from rag.answer.qualifiers import doubts
from rag.answer.scoring import SEMANTIC_FEATURES, SEMANTIC_UNITS, EmbedFn, Logistic, Scorer, default_scorer
from rag.answer.typed_spans import Span, find_spans, question_role
from rag.index.records import sentence_context
from rag.query.analysis import QuestionType, canon, match_tokens, words


@dataclass
class Scored:
    unit: Unit
    score: float  # P(this unit answers the question), from the calibrated scorer
    coverage: float
    span: Span | None
    rejected: str | None  # a named conflict that rules the unit out (another year, another unit)
    span_in_prev: bool = False  # the span is in the previous sentence (context)
    features: dict[str, float] = field(default_factory=dict)
    doubt: str | None = None  # the strongest reason against the unit (shown when it is below the threshold)
    confidence: float | None = None  # the answer model's P, for the best unit only


def score_units(qt: QuestionType, question: str, units: list[Unit], scorer: Scorer | None = None) -> list[Scored]:
    """Every unit with its features and calibrated probability, best first (vetoed units last)."""
    scorer = scorer or default_scorer()
    measure_tokens = (
        {t for t in (qt.measure or "").split() if any(t in u.split() for u in qt.units)}
        if qt.units and qt.measure != "ordinal"
        else set()
    )
    if qt.quantity_kind == "percent":
        measure_tokens |= {"ty", "ti", "le", "phan", "tram"}  # "tỷ lệ" is what the "%" answers
    groups = keyword_groups(qt, question, units, measure_tokens)
    idf = make_idf(units)
    # entity words are checked separately; the measure noun is enforced on the answer's unit
    topic = [g for g in groups if not g.entity and not (len(g.alts) == 1 and set(g.alts[0]) <= measure_tokens)]
    bigrams = list(zip(qt.keywords_folded, qt.keywords_folded[1:]))
    want_years = any(p in ("nam nao", "what year", "which year") for p in qt.qwords)
    q_role = question_role(question) or (question_role(" ".join(qt.keywords_folded)) if qt.english else None)
    q_tokens = set(match_tokens(question))
    typed = qt.kind in ("quantity", "person", "date", "place")
    # A retriever that reports no per-list ranks (Milvus's server-side fusion, a plain callable) or
    # no dense similarity leaves those features unknown (None: the scorer reads its fitted mean), not 0.
    metadata = [u.passage.doc.metadata or {} for u in units]
    known_ranks = any(any(v for v in (md.get("ranks") or {}).values()) for md in metadata)
    known_similarity = any(md.get("similarity") is not None for md in metadata)
    unnamed: dict[str, str | None] = {}  # per document: the asked places it never names
    out: list[Scored] = []
    for u in units:
        p = u.passage
        if p.doc_id not in unnamed:
            unnamed[p.doc_id] = places_unnamed(qt, p)
        coverage, coverage_unit = topic_coverage(topic, idf, u)
        bigram_cov = sum(1 for a, b in bigrams if contains_run(u.tokens, (a, b))) / len(bigrams) if bigrams else 0.0
        in_sentence = sum(1 for e in qt.entities if e.kind != "year" and contains_run(u.sent_tokens, list(e.tokens)))
        entity_issue = check_entities(qt, question, u)
        period_issue = check_period(question, u)
        rejected = unnamed[p.doc_id] or (entity_issue if entity_issue and is_conflict(entity_issue) else None)
        if rejected is None:  # a table row answers for its own label and its own columns only
            rejected = other_row([e.tokens for e in qt.entities if e.kind != "year"], u.sentence, p.text)
        if rejected is None and qt.kind == "quantity":
            rejected = missing_column(question, u.sentence, p.text)
        span: Span | None = None
        in_prev = False
        pref = 0.0
        if typed:
            best = _best_span(qt, question, u, find_spans(qt.kind, p.text, u.start, u.end, years=want_years), q_role)
            if best is None and qt.kind in ("place", "person") and u.prev_start is not None:
                # "Đối với Trung tâm Y tế khu vực Lạc Thủy. TS. Lê Hồng Trung … yêu cầu …"
                best = _best_span(qt, question, u, find_spans(qt.kind, p.text, u.prev_start, u.prev_end or u.prev_start), q_role)
                in_prev = best is not None
            if best is not None:
                pref, span = best
        ranks = (p.doc.metadata or {}).get("ranks") or {}
        lexical = [r for name, r in ranks.items() if name != "dense" and r]
        similarity = (p.doc.metadata or {}).get("similarity")
        unit_tokens = [t for t in u.tokens if t]
        features = {
            "coverage": coverage,
            "coverage_unit": coverage_unit,
            "bigram": bigram_cov,
            "passage_rr": 1.0 / (p.index + 1),
            "dense_rr": (1.0 / ranks["dense"] if ranks.get("dense") else 0.0) if known_ranks else None,
            "similarity": (float(similarity) if similarity is not None else 0.0) if known_similarity else None,
            "lexical_rr": (1.0 / min(lexical) if lexical else 0.0) if known_ranks else None,
            "first_passage": float(p.index == 0),
            "typed": float(typed),
            "span": float(span is not None and not in_prev),
            "span_prev": float(in_prev),
            "span_pref": max(-1.0, min(0.5, pref)),
            "no_span": float(typed and span is None),
            "entities": float(len(qt.entities)),
            "entities_in_sentence": float(in_sentence),
            "entity_missing": float(bool(entity_issue) and "not mentioned" in entity_issue and not entity_issue.startswith("year")),
            "year_missing": float(bool(entity_issue) and entity_issue.startswith("year")),
            "wider_scope": float(bool(entity_issue) and "wider scope" in entity_issue),
            "partial_period": float(period_issue is not None),
            **doubts(question, qt, span if not in_prev else None, u),
            "novelty": sum(1 for t in unit_tokens if t not in q_tokens) / max(1, len(unit_tokens)),
            "length": math.log1p(u.end - u.start) / 6.0,
            **{f"kind_{k}": float(qt.kind == k) for k in ("quantity", "person", "date", "place", "list", "other")},
        }
        features["coverage_x_span"] = coverage * features["span"]
        features["coverage_x_first"] = coverage * features["first_passage"]
        features["coverage_x_no_span"] = coverage * features["no_span"]
        features["coverage_x_entity_missing"] = coverage * features["entity_missing"]
        features["dense_x_lexical"] = features["dense_rr"] * features["lexical_rr"] if known_ranks else None
        features["span_x_first"] = features["span"] * features["first_passage"]
        features.update(dict.fromkeys(SEMANTIC_FEATURES))  # unknown unless embedded below
        doubt = entity_issue or period_issue or (f"no {qt.kind} span" if typed and span is None else None)
        out.append(Scored(u, 0.0, coverage, span, rejected, in_prev, features, doubt))
    if scorer.embed is not None:
        add_similarity(question, out, scorer.embed, scorer.prescore or scorer.unit)
    for s in out:
        s.score = scorer.probability(s.features)
    out.sort(key=lambda s: (s.rejected is not None, -s.score))
    return out


def unit_context(u: Unit) -> str:
    """What a unit is embedded as: its sentence under its document title (as stored at ingest)."""
    return sentence_context(u.passage.title, u.sentence)


def add_similarity(question: str, scored: Sequence[Scored], embed: EmbedFn, prescore: Logistic, k: int = SEMANTIC_UNITS) -> None:
    """Fill the semantic features of the open units ``prescore`` ranks best, up to ``k`` distinct
    contexts (one batch of the embedding model; clauses of one sentence share its vector); the
    other units' stay unknown."""
    chosen: list[tuple[Scored, str]] = []
    texts: dict[str, None] = {}
    for s in sorted((s for s in scored if s.rejected is None), key=lambda s: -prescore.probability(s.features)):
        text = unit_context(s.unit)
        if text not in texts and len(texts) == k:
            continue
        texts[text] = None
        chosen.append((s, text))
    if not chosen:
        return
    cosine = dict(zip(texts, embed(question, list(texts))))
    for s, text in chosen:
        s.features["unit_similarity"] = cosine[text]


def _best_span(qt: QuestionType, question: str, u: Unit, candidates: list[Span], q_role) -> tuple[float, Span] | None:
    best: tuple[float, Span] | None = None
    for sp in candidates:
        ok, pref = span_ok(qt, question, sp, u, q_role)
        if not ok:
            continue
        pref -= 0.002 * _distance_to_keywords(sp, u, qt)
        if best is None or pref > best[0]:
            best = (pref, sp)
    return best


def _distance_to_keywords(span: Span, unit: Unit, qt: QuestionType) -> float:
    """Characters between the span and the nearest question keyword in its clause."""
    text = unit.passage.text
    best = 200.0
    for t, s, e in words(text[unit.start : unit.end]):
        if canon(t) in qt.keywords_folded and len(canon(t)) > 1:
            s += unit.start
            e += unit.start
            d = span.start - e if e <= span.start else s - span.end if s >= span.end else 0
            best = min(best, float(d))
    return best

