"""Vietnamese text handling: normalisation, diacritic folding, sentence splitting, BM25 tokens.

Hand-written because no library does these well for Vietnamese: tokens must keep one-letter
syllables ("y", "ở") and numbers with their separators ("383.605", "95,25%", "5/1/2024"), and
sentence splitting must not break on those numbers or on academic titles ("TS.", "BS CKII.").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

# Every horizontal whitespace character (NBSP, thin spaces, tabs…) becomes one ASCII space.
_HSPACE = re.compile(r"[^\S\n]+")
_MANY_NEWLINES = re.compile(r"\n{3,}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def normalize(text: str) -> str:
    """NFC, unified line ends, one space for any run of horizontal whitespace, ≤1 blank line.

    Every offset in the index refers to this form of a document, so it must be deterministic.
    """
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    text = _CONTROL.sub(" ", text)
    text = _HSPACE.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _MANY_NEWLINES.sub("\n\n", text).strip()


def collapse_whitespace(text: str) -> str:
    """NFC and every whitespace run (newlines included) → one space; for comparing spans."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def fold(text: str) -> str:
    """Remove Vietnamese diacritics: "Bãi Cháy" → "Bai Chay", "Đ" → "D" (case is kept).

    Length-preserving for NFC input (each precomposed letter maps to one base letter), so
    offsets computed on the folded form are valid on the original.
    """
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", stripped)


def has_diacritics(text: str) -> bool:
    """True when the text carries any Vietnamese accent or đ."""
    return fold(text) != text


# A number keeps its inner separators: 383.605, 95,25%, 5/1/2024, 28/2023; a word is a run of
# letters (any script), so one-letter syllables such as "y" and "ở" survive.
_TOKEN = re.compile(r"\d+(?:[.,/]\d+)*%?|[^\W\d_]+")


def tokenize(text: str) -> list[str]:
    """Lower-cased syllable and number tokens, accents kept.

    A number written with thousands dots ("383.605") also yields its bare digits ("383605"),
    so a user who types the figure without separators still matches.
    """
    tokens: list[str] = []
    for match in _TOKEN.finditer(unicodedata.normalize("NFC", text).lower()):
        token = match.group()
        tokens.append(token)
        if token[0].isdigit() and "." in token and re.fullmatch(r"\d{1,3}(?:\.\d{3})+", token):
            tokens.append(token.replace(".", ""))
    return tokens


def tokenize_folded(text: str) -> list[str]:
    """Tokens of the diacritic-folded text, so accent-less questions match accented reports."""
    return tokenize(fold(text))


_ENGLISH_WORDS = frozenset(
    "the how what many much did does do of in is was were which who whom whose when where why and to an "
    "for at by with from on are has have had its their that this these those percentage rate "
    # common words of questions about health reports, so short English questions are recognised
    "health hospital hospitals center centre centers department director deputy province provincial "
    "district commune station staff patients patient visits number year years month months first two "
    "according should asked work worked people beds bed".split()
)


def looks_english(text: str) -> bool:
    """A question in English: at least two and a quarter of its words are common English words."""
    words = tokenize(text)
    hits = sum(w in _ENGLISH_WORDS for w in words)
    return hits >= max(2, len(words) / 4)


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


_DMY = re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})/((?:19|20)\d{2})(?![\d/])")
_NGAY = re.compile(r"ngày\s+(\d{1,2})\s+tháng\s+(\d{1,2})\s+năm\s+((?:19|20)\d{2})", re.IGNORECASE)
_MY = re.compile(r"tháng\s+(\d{1,2})[/\s]+(?:năm\s+)?((?:19|20)\d{2})", re.IGNORECASE)


def find_dates(text: str) -> list[str]:
    """ISO dates ("2024-01-05") and months ("2023-10") mentioned in ``text``, in order, unique."""
    found: list[str] = []

    def add(value: str) -> None:
        if value not in found:
            found.append(value)

    hits: list[tuple[int, str]] = []
    full_spans: list[tuple[int, int]] = []
    for pattern in (_DMY, _NGAY):
        for m in pattern.finditer(text):
            day, month, year = int(m.group(1)), int(m.group(2)), m.group(3)
            if 1 <= day <= 31 and 1 <= month <= 12:
                hits.append((m.start(), f"{year}-{month:02d}-{day:02d}"))
                full_spans.append(m.span())
    for m in _MY.finditer(text):
        month, year = int(m.group(1)), m.group(2)
        inside_full_date = any(s <= m.start() < e for s, e in full_spans)
        if 1 <= month <= 12 and not inside_full_date:
            hits.append((m.start(), f"{year}-{month:02d}"))
    for _, value in sorted(hits):
        add(value)
    return found
