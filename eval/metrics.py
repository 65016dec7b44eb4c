"""Evaluation metrics: small pure functions, one per metric, no model or index needed.

Conventions shared by every function here:

* Texts are compared after :func:`norm` (NFC + every whitespace run → one space), so a passage
  whose evidence is split over two lines still contains it.
* Ranks are 1-based; ``None`` means "not retrieved".
* A ratio whose denominator is zero (no abstentions, no citations…) is ``None``, never 0 or 1:
  a table shows it as "–" instead of a misleading score.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from rag.text import collapse_whitespace

__all__ = [
    "abstention_precision_recall",
    "all_evidence_rank",
    "answer_correct",
    "citation_precision",
    "citation_recall",
    "contains_answer",
    "evidence_ranks",
    "evidence_recall_at_k",
    "first_evidence_rank",
    "hit_at_k",
    "mean",
    "norm",
    "passage_has_evidence",
    "percentile",
    "reciprocal_rank",
    "safe_ratio",
]

#: Characters that separate groups inside a number: 383.605, 95,25%, 5/1/2024.
DIGIT_SEPARATORS = ".,/"


def norm(text: str) -> str:
    """NFC-normalise and collapse every whitespace run (newlines included) to one space."""
    return collapse_whitespace(text)


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


# --------------------------------------------------------------------------- retrieval


def passage_has_evidence(passage: str, evidence: str | Sequence[str] | None) -> bool:
    """Whether ``passage`` contains at least one of the evidence strings (whitespace-normalised)."""
    text = norm(passage)
    return any(norm(e) in text for e in _as_list(evidence))


def evidence_ranks(passages: Sequence[str], evidence: str | Sequence[str] | None) -> list[int | None]:
    """For each evidence string, the rank of the first passage that contains it (None: none does)."""
    texts = [norm(p) for p in passages]
    out: list[int | None] = []
    for e in _as_list(evidence):
        needle = norm(e)
        out.append(next((rank for rank, t in enumerate(texts, start=1) if needle in t), None))
    return out


def first_evidence_rank(passages: Sequence[str], evidence: str | Sequence[str] | None) -> int | None:
    """Rank of the first passage containing *any* evidence string (the rank MRR uses)."""
    found = [r for r in evidence_ranks(passages, evidence) if r is not None]
    return min(found) if found else None


def all_evidence_rank(passages: Sequence[str], evidence: str | Sequence[str] | None) -> int | None:
    """Smallest k such that the top-k passages cover *every* evidence string (None: never)."""
    ranks = evidence_ranks(passages, evidence)
    if not ranks or any(r is None for r in ranks):
        return None
    return max(r for r in ranks if r is not None)


def hit_at_k(passages: Sequence[str], evidence: str | Sequence[str] | None, k: int) -> bool:
    """True when every evidence string is contained in some passage of the top ``k``.

    With one evidence string this is the usual hit@k; with several (a multi-passage answer) the
    question only counts as a hit when all of them were retrieved.
    """
    rank = all_evidence_rank(passages[:k], evidence)
    return rank is not None and rank <= k


def evidence_recall_at_k(passages: Sequence[str], evidence: str | Sequence[str] | None, k: int) -> float | None:
    """Fraction of the evidence strings found in the top ``k`` passages (None without evidence)."""
    ranks = evidence_ranks(passages[:k], evidence)
    if not ranks:
        return None
    return sum(r is not None for r in ranks) / len(ranks)


def reciprocal_rank(rank: int | None, cutoff: int = 10) -> float:
    """1/rank when the evidence was found at ``rank`` ≤ ``cutoff``, else 0 (the term of MRR@cutoff)."""
    if rank is None or rank > cutoff:
        return 0.0
    if rank < 1:
        raise ValueError(f"ranks are 1-based, got {rank}")
    return 1.0 / rank


# --------------------------------------------------------------------------- answers


def _edge_ok(haystack: str, start: int, end: int, needle: str) -> bool:
    """Boundary check for one occurrence ``haystack[start:end] == needle``.

    Numbers must match whole: when the needle starts (ends) with a digit, the occurrence must not
    be glued to more digits on that side, neither directly nor through a separator, so
    "383.605" is not found in "1.383.605" or "383.6051", and "3.605" is not found in "383.605";
    "5/1/2024." at the end of a sentence is fine. Words must match whole too: a needle that
    starts (ends) with a letter or digit must not continue a longer word there, so "hạng I" is
    not found in "hạng II".
    """
    if needle[0].isalnum() and start > 0:
        before = haystack[start - 1]
        if before.isalnum():
            return False
        if needle[0].isdigit() and before in DIGIT_SEPARATORS and start > 1 and haystack[start - 2].isdigit():
            return False
    if needle[-1].isalnum() and end < len(haystack):
        after = haystack[end]
        if after.isalnum():
            return False
        if needle[-1].isdigit() and after in DIGIT_SEPARATORS and end + 1 < len(haystack) and haystack[end + 1].isdigit():
            return False
    return True


def contains_answer(answer: str, needle: str, case_sensitive: bool = False) -> bool:
    """Whether ``needle`` (a must_contain string) appears in ``answer``.

    Both are NFC- and whitespace-normalised; letters are compared case-insensitively by default
    (a sentence-initial capital is not a wrong answer). Numbers and words must match whole (see
    :func:`_edge_ok`): ``383.605`` matches "383.605 lượt" but not "1.383.605" or "383.6051",
    ``3.605`` does not match "383.605", and ``hạng I`` does not match "hạng II".
    """
    hay, pin = norm(answer), norm(needle)
    if not pin:
        return True
    if not case_sensitive:
        # casefold can change lengths (ß → ss); lower() keeps offsets of Vietnamese text aligned.
        hay, pin = hay.lower(), pin.lower()
    start = hay.find(pin)
    while start != -1:
        if _edge_ok(hay, start, start + len(pin), pin):
            return True
        start = hay.find(pin, start + 1)
    return False


def answer_correct(answer: str, must_contain: Sequence[str], abstained: bool, answerable: bool = True) -> bool:
    """Accuracy term: every must_contain string is in the answer, and it did not abstain.

    For an unanswerable question (``answerable=False``) the correct behaviour is to abstain.
    """
    if not answerable:
        return abstained
    if abstained:
        return False
    return all(contains_answer(answer, needle) for needle in must_contain)


# --------------------------------------------------------------------------- abstention


def abstention_precision_recall(answerable: Sequence[bool], abstained: Sequence[bool]) -> tuple[float | None, float | None]:
    """Precision and recall of "not found", the positive class being *abstained*.

    A true positive is an abstention on an unanswerable question. Precision = TP / abstentions
    (how often "not found" was right); recall = TP / unanswerable questions (how many of those the
    assistant declined). Either is None when its denominator is zero.
    """
    if len(answerable) != len(abstained):
        raise ValueError("answerable and abstained must have the same length")
    tp = sum(1 for a, x in zip(answerable, abstained) if x and not a)
    n_abstained = sum(1 for x in abstained if x)
    n_unanswerable = sum(1 for a in answerable if not a)
    return safe_ratio(tp, n_abstained), safe_ratio(tp, n_unanswerable)


# --------------------------------------------------------------------------- citations


def citation_precision(cited: Sequence[str], evidence: str | Sequence[str] | None) -> tuple[int, int]:
    """(relevant, total): how many cited passages contain some evidence string of the item.

    Returned as counts so that callers can pool them over questions (micro average); use
    :func:`safe_ratio` for one item's precision.
    """
    relevant = sum(1 for passage in cited if passage_has_evidence(passage, evidence))
    return relevant, len(cited)


def citation_recall(cited: Sequence[str], evidence: str | Sequence[str] | None) -> tuple[int, int]:
    """(covered, total): how many evidence strings are contained in at least one cited passage."""
    ranks = evidence_ranks(cited, evidence)
    return sum(r is not None for r in ranks), len(ranks)


# --------------------------------------------------------------------------- aggregation helpers


def safe_ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when the denominator is zero."""
    return numerator / denominator if denominator else None


def mean(values: Iterable[float | bool | None]) -> float | None:
    """Mean of the non-None values (booleans count as 0/1); None when there are none."""
    kept = [float(v) for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def percentile(values: Iterable[float], q: float) -> float | None:
    """The ``q``-th percentile (0–100) with linear interpolation (numpy's default); None if empty."""
    data = sorted(float(v) for v in values)
    if not data:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within [0, 100], got {q}")
    pos = (len(data) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)

