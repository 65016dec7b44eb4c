"""The question's keyword groups and a unit's topic coverage: idf-weighted share of the question's
topic words (folded, so accent-less questions match) found in the unit, its sentence or its
document's title/lead; paraphrases ("nằm viện" ≈ "nội trú") and two-syllable words the reports also
write together ("chuyển tuyến" is not "trực tuyến") count as one group.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.answer.candidates import Unit, contains_run
from rag.lang import load_lexicon
from rag.query.analysis import ABBREVIATIONS, QuestionType, canon, match_tokens, words

MIN_TOPIC_WEIGHT = 0.5  # below this total topic weight the question is all entities: rely on them
SENTENCE_CONTEXT_WEIGHT = 0.4  # a keyword found only in another clause of the unit's sentence
TITLE_CONTEXT_WEIGHT = 0.5  # a keyword found only in the document title / lead


# Paraphrases common in questions: a keyword run → alternatives that count as the same words.
SYNONYMS: dict[tuple[str, ...], tuple[tuple[str, ...], ...]] = load_lexicon().synonyms  # rag/lang/vi/synonyms.toml


@dataclass
class KeywordGroup:
    alts: tuple[tuple[str, ...], ...]
    weight: float
    entity: bool = False
    compound: bool = False  # a two-syllable word: weighs as both syllables


def _question_tokens(question: str, qt: QuestionType, exclude: set[str] = frozenset()) -> list[str]:
    """The question's canonical tokens in order; "" for the head nouns of its entities ("Bệnh
    viện" of "Bệnh viện Bãi Cháy") and for ``exclude``d words, so they never form a compound."""
    spans = [(e.head_start, e.start) for e in qt.entities if 0 <= e.head_start < e.start]
    out: list[str] = []
    for t, s, e in words(question):
        masked = any(a <= s and e <= b for a, b in spans)
        for c in ABBREVIATIONS.get(canon(t), (canon(t),)):
            out.append("" if masked or c in exclude else c)
    return out


def keyword_groups(qt: QuestionType, question: str, units: Sequence[Unit] = (), exclude: set[str] = frozenset()) -> list[KeywordGroup]:
    """Keyword groups of a question: paraphrases ("nằm viện" ≈ "nội trú"), then two-syllable words
    the reports also write as one word ("chuyển tuyến" must not be matched by "trực tuyến"), then
    the remaining single syllables."""
    entity_tokens = {t for e in qt.entities for t in e.tokens}
    q_tokens = _question_tokens(question, qt, exclude)
    weight = dict(zip(qt.keywords_folded, qt.weights))
    phrases = [(run, alts) for run, alts in SYNONYMS.items() if contains_run(match_tokens(question), run)]
    used = {t for run, _ in phrases for t in run}  # tokens that are part of a phrase or compound
    groups = [KeywordGroup((run,) + alts, 1.0) for run, alts in phrases]
    # how often each syllable pair is written together in the candidate sentences and titles
    pair_count: dict[tuple[str, str], int] = {}
    seen_sentences: set[tuple[str, int]] = set()
    for u in units:
        if (u.passage.doc_id, u.passage.start + u.sent_start) in seen_sentences:
            continue
        seen_sentences.add((u.passage.doc_id, u.passage.start + u.sent_start))
        for pair in zip(u.sent_tokens, u.sent_tokens[1:]):
            pair_count[pair] = pair_count.get(pair, 0) + 1

    def pair_value(i: int) -> int:
        a, b = q_tokens[i], q_tokens[i + 1]
        if not a or not b or a not in weight or b not in weight or a == b or a in entity_tokens or b in entity_tokens:
            return 0
        if a[:1].isdigit() or b[:1].isdigit() or any(contains_run(list(run), (a, b)) for run, _ in phrases):
            return 0
        return pair_count.get((a, b), 0)

    # non-overlapping pairs with the largest total count ("sở | y tế | yêu cầu", not "sở y | tế yêu")
    n = len(q_tokens)
    best = [0] * (n + 2)
    take = [False] * (n + 1)
    for i in range(n - 2, -1, -1):
        with_pair = pair_value(i) + best[i + 2] if pair_value(i) else -1
        if with_pair > best[i + 1]:
            best[i], take[i] = with_pair, True
        else:
            best[i] = best[i + 1]
    seen_pairs: set[tuple[str, str]] = set()
    i = 0
    while i < n - 1:
        if take[i]:
            a, b = q_tokens[i], q_tokens[i + 1]
            if (a, b) not in seen_pairs:
                groups.append(KeywordGroup(((a, b),), max(weight[a], weight[b]), compound=True))
                seen_pairs.add((a, b))
                used.update((a, b))
            i += 2
            continue
        i += 1
    groups.extend(
        KeywordGroup((tuple(k.split()),), w, k in entity_tokens)
        for k, w in zip(qt.keywords_folded, qt.weights)
        if k not in used
    )
    return groups


def make_idf(units: list[Unit]) -> Callable[[tuple[str, ...]], float]:
    sentences: dict[tuple[str, int, int], set[str]] = {}
    for u in units:
        sentences[(u.passage.doc_id, u.passage.start + u.sent_start, u.passage.start + u.sent_end)] = set(u.sent_tokens)
    n = max(1, len(sentences))
    df: dict[str, int] = {}
    for toks in sentences.values():
        for t in toks:
            df[t] = df.get(t, 0) + 1

    def idf(run: tuple[str, ...]) -> float:
        value = max(math.log(1 + (n - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5)) for t in run)
        return max(0.15, value)

    return idf


def topic_coverage(topic: list[KeywordGroup], idf: Callable[[tuple[str, ...]], float], u: Unit) -> tuple[float, float]:
    """(topic coverage with context, coverage by the unit's own words): idf-weighted shares of the
    question's topic words; a word found only in another clause or in the title/lead counts less."""
    p = u.passage
    unit_set, sent_set = set(u.tokens), set(u.sent_tokens)
    ctx_set = set(p.title_tokens) | set(p.lead_tokens)
    total = got = own = 0.0
    for g in topic:
        best_w = best_level = best_own = 0.0
        for alt in g.alts:
            w = g.weight * (sum(idf((t,)) for t in alt) if g.compound else idf(alt))
            best_w = max(best_w, w)
            if (len(alt) == 1 and alt[0] in unit_set) or (len(alt) > 1 and contains_run(u.tokens, alt)):
                level = 1.0
                best_own = max(best_own, w)
            elif (len(alt) == 1 and alt[0] in sent_set) or (len(alt) > 1 and contains_run(u.sent_tokens, alt)):
                level = SENTENCE_CONTEXT_WEIGHT
            elif (len(alt) == 1 and alt[0] in ctx_set) or (
                len(alt) > 1 and (contains_run(p.title_tokens, alt) or contains_run(p.lead_tokens, alt))
            ):
                level = TITLE_CONTEXT_WEIGHT
            else:
                level = 0.0
            best_level = max(best_level, level * w)
        total += best_w
        got += best_level
        own += best_own
    if total < MIN_TOPIC_WEIGHT:  # the question is all entities: rely on them
        return 1.0, 1.0
    return got / total, own / total

