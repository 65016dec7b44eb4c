"""Sentence splitting that does not break on numbers ("383.605") or academic titles ("TS.", "BS CKII.")."""

from __future__ import annotations

import re
from collections.abc import Iterator

# Titles and initials that end in a period without ending the sentence.
ABBREVIATIONS = frozenset(
    {
        "ts", "ths", "bs", "bsck", "bscki", "bsckii", "ck", "cki", "ckii", "ck1", "ck2",
        "pgs", "gs", "tuv", "ks", "cn", "ds", "đd", "tp", "th", "v.v", "nxb", "tt", "mr", "dr",
        "ms", "st", "no", "số", "ubnd.tp",
    }
)
_SENTENCE_END = re.compile(r"(?:\.{3}|…|[.!?])[\"'”’)\]]*(?=\s)")
_WORD_BEFORE = re.compile(r"([^\s(]+)$")


def _is_abbreviation(text: str, dot: int) -> bool:
    """Whether the period at ``dot`` closes an abbreviation such as "TS." or an initial "N."."""
    match = _WORD_BEFORE.search(text, 0, dot)
    if not match:
        return False
    word = match.group(1)
    return word.lower() in ABBREVIATIONS or (len(word) == 1 and word.isupper())


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Half-open ``(start, end)`` spans of sentences in ``text`` (whitespace trimmed).

    A sentence ends at a line break, or at ``.``/``!``/``?``/``…`` followed by whitespace and
    then a capital letter, digit, quote or bullet. Numbers never contain whitespace after their
    separators, so "383.605" and "5/1/2024" are safe; titles like "TS." are skipped.
    """
    spans: list[tuple[int, int]] = []
    for line_start, line_end in _line_spans(text):
        start = line_start
        for match in _SENTENCE_END.finditer(text, line_start, line_end):
            end = match.end()
            nxt = _next_non_space(text, end, line_end)
            if nxt is None:
                break
            if not (text[nxt].isupper() or text[nxt].isdigit() or text[nxt] in "\"'“‘(-–•*"):
                continue
            if text[match.start()] == "." and match.group() == "." and _is_abbreviation(text, match.start()):
                continue
            spans.append((start, end))
            start = nxt
        if start < line_end:
            spans.append((start, line_end))
    return spans


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` as strings (see :func:`sentence_spans`)."""
    return [text[s:e] for s, e in sentence_spans(text)]


def _line_spans(text: str) -> Iterator[tuple[int, int]]:
    """Spans of non-blank lines, trimmed of surrounding whitespace."""
    for match in re.finditer(r"[^\n]+", text):
        s, e = match.span()
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s < e:
            yield s, e


def _next_non_space(text: str, pos: int, limit: int) -> int | None:
    while pos < limit and text[pos].isspace():
        pos += 1
    return pos if pos < limit else None
