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
import re
from collections.abc import Iterable, Sequence

from rag.answer.numbers import parse_number
from rag.lang import alternation, load_lexicon
from rag.text import collapse_whitespace

__all__ = [
    "abstention_precision_recall",
    "all_evidence_rank",
    "answer_correct",
    "citation_precision",
    "citation_recall",
    "computation_result",
    "contains_answer",
    "evidence_ranks",
    "evidence_recall_at_k",
    "first_evidence_rank",
    "hit_at_k",
    "lead_correct",
    "lead_spans",
    "mean",
    "norm",
    "numbers_faithful",
    "numbers_in",
    "parse_vn_number",
    "passage_has_evidence",
    "percentile",
    "reciprocal_rank",
    "risk_coverage",
    "safe_ratio",
    "unsupported_numbers",
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


# --------------------------------------------------------------------------- lead and numbers

_QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"")
_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
_MARKER = re.compile(r"\[\d+\]")
# A number as written: digit groups joined by separators ("383.605", "95,25", "5/1/2024"), not
# glued to a letter on either side (so "H5N1" is a name, not two numbers).
_NUMBER = re.compile(r"(?<!\w)\d+(?:[.,/]\d+)*(?![^\W\d_])")
# an operand as the answerer writes it: "383.605", "95,25%", or scaled "14 nghìn", "1,1 triệu"
_SCALE_WORDS = alternation(tuple(load_lexicon().number_scales))
_OPERAND = rf"\d+(?:[.,]\d+)*(?:\s*%|\s+(?:{_SCALE_WORDS})(?![\w]))?"
_OPERATORS = {"+": "+", "-": "-", "−": "-", "–": "-", "×": "*", "x": "*", "*": "*", "/": "/", "÷": "/", ":": "/"}
_GROUPED = rf"\(?\s*{_OPERAND}\s*\)?"  # an operand, maybe opening or closing a group: "(100 + 8,7)"
_COMPUTATION = re.compile(
    rf"(?<![\w.,])({_GROUPED}(?:\s*[-+−–×x*/÷:]\s*{_GROUPED})+)\s*=\s*({_OPERAND})(?![\w])"
)
_GROUP = re.compile(r"\(([^()]*)\)")
_TERM = re.compile(rf"({_OPERAND})|([-+−–×x*/÷:])")


def lead_spans(answer: str) -> list[str]:
    """The lead of an answer: its bold ``**…**`` spans that lie outside quotes (“…” or "…")."""
    outside = _QUOTED.sub(" ", answer or "")
    return [norm(m.group(1)) for m in _BOLD.finditer(outside) if norm(m.group(1))]


def lead_correct(answer: str, must_contain: Sequence[str]) -> bool | None:
    """Whether the lead holds an expected ``must_contain`` string (None: the answer has no lead).

    The same whole-word / whole-number matching as :func:`contains_answer`; one expected string
    is enough. A lead "dưới 1" is a miss for 7.412 even when the quote after it holds 7.412.
    """
    lead = lead_spans(answer)
    if not lead:
        return None
    text = " · ".join(lead)
    return any(contains_answer(text, needle) for needle in must_contain)


def numbers_in(text: str) -> list[str]:
    """The numbers written in ``text``, as written, without the ``[n]`` citation markers."""
    return [m.group(0) for m in _NUMBER.finditer(norm(_MARKER.sub(" ", text or "")))]


def parse_vn_number(written: str) -> float:
    """The value of a number in Vietnamese format: "." groups thousands, "," is the decimal mark."""
    digits = written.strip().rstrip("%").strip().replace(".", "").replace(",", ".")
    try:
        return float(digits)
    except ValueError as exc:
        raise ValueError(f"not a number in Vietnamese format: {written!r}") from exc


def _value(operand: str) -> float:
    """An operand's value by the answerer's own reader (:func:`rag.answer.numbers.parse_number`:
    "14 nghìn" = 14000), so the metric checks exactly what the answer computed."""
    value = parse_number(operand)
    if value is None:
        raise ValueError(f"not a number in Vietnamese format: {operand!r}")
    return float(value)


def _evaluate(expression: str) -> float | None:
    """Value of "a op b op c…" with × and / before + and −, groups in parentheses first; None
    for a division by zero or unbalanced parentheses."""
    while (group := _GROUP.search(expression)) is not None:
        inner = _evaluate(group.group(1))
        if inner is None:
            return None
        value = f"{inner:.12f}".rstrip("0").rstrip(".").replace(".", ",")  # back in Vietnamese format
        expression = f"{expression[: group.start()]} {value} {expression[group.end() :]}"
    if "(" in expression or ")" in expression:
        return None
    tokens = [(m.group(1), m.group(2)) for m in _TERM.finditer(expression)]
    terms: list[float] = []
    sign, value, op = 1.0, 0.0, None
    for operand, operator in tokens:
        if operand:
            x = _value(operand)
            if op is None:
                value = x
            elif op == "*":
                value *= x
            elif x == 0:
                return None
            else:
                value /= x
            op = None
        elif _OPERATORS[operator] in "+-":
            terms.append(sign * value)
            sign = 1.0 if _OPERATORS[operator] == "+" else -1.0
        else:
            op = _OPERATORS[operator]
    terms.append(sign * value)
    return sum(terms)


def computation_result(line: str) -> tuple[list[str], str] | None:
    """(operands, result) of the first "a − b = c" in ``line`` whose arithmetic holds, else None.

    Numbers are read in Vietnamese format by the answerer's reader, scaled ones too ("14 nghìn −
    9,5 nghìn = 4.500", "1,1 triệu − 900 nghìn = 200 nghìn"); the result must equal the computed
    value rounded to the decimals written in it, in its scale ("95,25% − 90,1% = 5,2" holds,
    "7.412 − 1.000 = 6.400" does not).
    """
    for m in _COMPUTATION.finditer(norm(line)):
        left, result = m.group(1), m.group(2)
        written = result.rstrip("%").strip()
        body, _, scale_word = written.partition(" ")
        try:
            value, stated = _evaluate(left), _value(written)
            unit = _value(f"1 {scale_word}") if scale_word else 1.0  # "4,5 nghìn" is rounded in thousands
        except ValueError:  # "12.34": no number the answerer writes
            continue
        decimals = len(body.split(",", 1)[1]) if "," in body else 0
        if value is not None and abs(value - stated) <= 0.5 * 10.0 ** -decimals * unit + 1e-9:
            # the per-cent factor and base ("× 100", a final "− 100", "(100 + 8,7)") are no operands
            factorless = re.sub(r"[×x*]\s*100(?![\d.,%])|[−-]\s*100\s*$|(?<=\()\s*100(?=\s*[-+−–])", " ", left)
            operands = [t.group(1).rstrip("%").strip() for t in _TERM.finditer(factorless) if t.group(1)]
            return operands, written
    return None


def unsupported_numbers(answer: str, cited: Sequence[str], computed: Sequence[str] = ()) -> list[str]:
    """Numbers of ``answer`` (each once) that no cited passage contains (as written, whole-number matching).

    A number is also supported when it is the result of one of the ``computed`` lines ("a − b =
    c", marked as computed by the answerer) whose operands all occur in the cited passages and
    whose arithmetic holds, or when it is a part of a date or ratio a cited passage writes (a
    year "2024" of "30/9/2024", "78" of "78/101"): the answer names that period or count.
    """
    parts = {piece for passage in cited for token in numbers_in(passage) if "/" in token for piece in token.split("/")}

    def cited_has(number: str) -> bool:
        return number in parts or any(contains_answer(passage, number) for passage in cited)

    derived: set[str] = set()
    for line in computed:
        found = computation_result(line)
        if found and all(cited_has(o) for o in found[0]):
            derived.add(found[1])
            derived |= set(numbers_in(line)) - set(found[0])  # the per-cent factor of a line that holds
    return [n for n in dict.fromkeys(numbers_in(answer)) if not cited_has(n) and n not in derived]


def numbers_faithful(answer: str, cited: Sequence[str], computed: Sequence[str] = ()) -> bool:
    """True when every number in ``answer`` occurs in a cited passage (or is a checked computation)."""
    return not unsupported_numbers(answer, cited, computed)


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



def risk_coverage(
    confidence: Sequence[float | None], answered: Sequence[bool], correct: Sequence[bool]
) -> list[tuple[float, float]]:
    """The risk–coverage curve: (coverage, accuracy among answered) as answers are kept by confidence.

    The answered questions are sorted by ``confidence`` (highest first; ties keep their order,
    a missing confidence sorts last); keeping the top m gives coverage m / (all questions) and
    accuracy = correct ones among those m. The last point is the operating point: every
    question the system answered. Empty when nothing was answered.
    """
    if not len(confidence) == len(answered) == len(correct):
        raise ValueError("confidence, answered and correct must have the same length")
    kept = sorted(
        (i for i, a in enumerate(answered) if a),
        key=lambda i: (confidence[i] is None, -(confidence[i] or 0.0)),
    )
    points, right = [], 0
    for m, i in enumerate(kept, start=1):
        right += bool(correct[i])
        points.append((m / len(answered), right / m))
    return points
