"""Check an LLM-written answer against the passages it cites before anyone sees it.

Rules (each broken rule is one entry in ``problems``; any problem means ``ok=False`` and the
caller falls back to the extractive answer):

* a citation ``[n]`` must name one of the passages given (out-of-range markers are removed from
  the returned text and reported);
* every sentence that states something must cite at least one passage;
* every number in a sentence must occur in a passage that sentence cites (or in its document
  title), compared by value:
  "383.605" = "383605" = "383,605"; "95,25%" = "95.25%"; "05/01/2024" = "5/1/2024";
  "46 nghìn" = "46.000";
* every capitalised multi-syllable name ("Lê Ngọc Dũng", "Bãi Cháy") must occur in a cited passage
  (or its document title).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from langchain_core.documents import Document

from rag.text import collapse_whitespace, sentence_spans

_CITATION = re.compile(r"\[(\d+(?:\s*[,;–-]\s*\d+)*)\]")
_NUMBER = re.compile(r"(?<![\w.,/])\d+(?:[.,]\d+)*(?:/\d+)*%?(?:\s+(?:nghìn|ngàn|triệu|tỷ|tỉ|vạn))?(?![\w/])", re.IGNORECASE)
_MULTIPLIER = {"nghìn": 1000, "ngàn": 1000, "vạn": 10000, "triệu": 1_000_000, "tỷ": 1_000_000_000, "tỉ": 1_000_000_000}
_WORD = re.compile(r"[^\W\d_]+")
_MARKDOWN = re.compile(r"[*_`#>]+")


@dataclass
class VerifiedAnswer:
    """The verdict: ``text`` is the answer with out-of-range citations removed."""

    ok: bool
    text: str
    problems: list[str] = field(default_factory=list)


def number_values(token: str) -> set[object]:
    """Every value a written number can mean, so different spellings of one figure compare equal.

    "383.605" → {383605, 383.605}; "95,25%" → {95.25}; "5/1/2024" → {(5, 1, 2024)};
    "46 nghìn" → {46, 46000}.
    """
    token = token.strip()
    multiplier = 1
    parts = token.split()
    if len(parts) == 2 and parts[1].lower() in _MULTIPLIER:
        multiplier = _MULTIPLIER[parts[1].lower()]
        token = parts[0]
    token = token.rstrip("%")
    if "/" in token:
        try:
            return {tuple(int(x) for x in token.split("/"))}
        except ValueError:
            return set()
    values: set[object] = set()
    for thousands, decimal in ((".", ","), (",", ".")):
        body = token
        if thousands in body:
            groups = body.split(decimal)[0].split(thousands)
            if not all(len(g) == 3 for g in groups[1:]) or not groups[0] or len(groups[0]) > 3:
                continue
            body = body.replace(thousands, "")
        if body.count(decimal) > 1:
            continue
        try:
            values.add(Decimal(body.replace(decimal, ".")).normalize())
        except InvalidOperation:
            continue
    if multiplier != 1:
        values |= {(v * multiplier).normalize() for v in values if isinstance(v, Decimal)}
    return values


def numbers_in(text: str) -> list[tuple[str, set[object]]]:
    """(number as written, its values) for every number in ``text`` outside citation markers."""
    text = _CITATION.sub(" ", text)
    return [(m.group(), number_values(m.group())) for m in _NUMBER.finditer(text)]


def names_in(sentence: str) -> list[str]:
    """Runs of two or more capitalised syllables ("Lê Ngọc Dũng", "Bãi Cháy", "Sở Y").

    A run that starts the sentence loses its first word (a capitalised sentence start is not a
    name) and is kept only if two capitalised syllables remain. All-caps acronyms are not names.
    """
    sentence = _MARKDOWN.sub(" ", _CITATION.sub(" ", sentence))
    toks = [(m.group(), m.start(), m.end()) for m in _WORD.finditer(sentence)]
    runs: list[str] = []
    i = 0
    while i < len(toks):
        if not _is_cap(toks[i][0]):
            i += 1
            continue
        k = i + 1
        while k < len(toks) and _is_cap(toks[k][0]) and sentence[toks[k - 1][2] : toks[k][1]].strip() == "":
            k += 1
        start = i
        if sentence[: toks[i][1]].strip(" \t\n-–•“”\"'(") == "":
            start = i + 1  # sentence-initial capital
        if k - start >= 2:
            runs.append(sentence[toks[start][1] : toks[k - 1][2]])
        i = k
    return runs


def _is_cap(word: str) -> bool:
    return word[:1].isupper() and (len(word) == 1 or not word.isupper())


def _norm(text: str) -> str:
    return collapse_whitespace(unicodedata.normalize("NFC", text)).casefold()


def verify(answer_text: str, passages: Sequence[Document]) -> VerifiedAnswer:
    """Check ``answer_text`` (with ``[n]`` markers, 1-based into ``passages``)."""
    problems: list[str] = []
    n_passages = len(passages)

    def clean_marker(m: re.Match[str]) -> str:
        kept = []
        for raw in re.split(r"\s*[,;–-]\s*", m.group(1)):
            n = int(raw)
            if 1 <= n <= n_passages:
                kept.append(str(n))
            else:
                problems.append(f"citation [{n}] is out of range (only {n_passages} passages)")
        return f"[{', '.join(kept)}]" if kept else ""

    text = _CITATION.sub(clean_marker, answer_text)
    text = re.sub(r"[ \t]+([.,;:!?])", r"\1", text) if text != answer_text else text
    texts = [p.page_content for p in passages]
    titles = [str((p.metadata or {}).get("title", "")) for p in passages]
    # numbers and names may also come from the cited passage's document title (shown with it)
    values = [set().union(set(), *[v for _, v in numbers_in(t + "\n" + title)]) for t, title in zip(texts, titles)]
    normed = [_norm(t + "\n" + title) for t, title in zip(texts, titles)]

    for sentence in _sentences(text):
        cited = sorted({int(x) for m in _CITATION.finditer(sentence) for x in re.split(r"\s*,\s*", m.group(1))})
        body = _CITATION.sub(" ", sentence)
        nums = numbers_in(body)
        names = names_in(body)
        if not cited:
            if nums or names or len(_WORD.findall(body)) > 3:
                problems.append(f"sentence without citation: “{_short(body)}”")
            continue
        for written, vals in nums:
            if not vals or not any(vals & values[n - 1] for n in cited):
                problems.append(f"number {written} not in cited passage {_refs(cited)}")
        for name in names:
            if not any(_norm(name) in normed[n - 1] for n in cited):
                problems.append(f"name “{name}” not in cited passage {_refs(cited)}")
    return VerifiedAnswer(not problems, text, problems)


def _sentences(text: str) -> list[str]:
    """Sentences of the answer; a line of bare markers joins the sentence before it."""
    out: list[str] = []
    for s, e in sentence_spans(text):
        piece = text[s:e]
        if out and not _WORD.search(_CITATION.sub(" ", piece)) and _CITATION.search(piece):
            out[-1] += " " + piece
            continue
        out.append(piece)
    # a marker right after a sentence end ("… lượt. [1]") belongs to that sentence
    merged: list[str] = []
    for piece in out:
        m = re.match(r"^((?:\[\d+(?:\s*,\s*\d+)*\]\s*)+)(.*)$", piece, re.S)
        if merged and m and m.group(1):
            merged[-1] += " " + m.group(1).strip()
            piece = m.group(2)
            if not piece.strip():
                continue
        merged.append(piece)
    return merged


def _refs(cited: list[int]) -> str:
    return "".join(f"[{n}]" for n in cited)


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
