"""Check an LLM-written answer against the passages it cites before anyone sees it.

Rules (each broken rule is one entry in ``problems``; any problem means ``ok=False`` and the
caller keeps the extractive answer):

* the answer must say something: at least one content word besides ``[n]`` markers;
* a citation ``[n]`` must name one of the passages given (out-of-range markers are removed from
  the returned text and reported); every sentence that states something must cite a passage;
* every quantity must occur in a passage the sentence cites (or its document title), compared by
  value: "383.605" = "383605" = "383,605"; "95,25%" = "95.25%"; "05/01/2024" = "5/1/2024";
  "46 nghìn" = "46.000"; numbers in words ("ba trăm ba mươi sáu nghìn bảy trăm lẻ chín" = 336.709);
  ordinals ("thứ hai" = "thứ 2") and Roman numerals ("hạng II") only equal themselves;
* each quantity's *claim*: the words the answer puts next to it (measure, unit, subject) must be
  next to that value in the passage, and not more so next to another number ("336.709" copied
  from "điều trị nội trú" cannot be the number of "lượt khám");
* a computed figure ("250.000 − 212.480 = 37.520") counts only when its arithmetic holds; its
  operands are quantities like any other (in a cited passage);
* every content word must occur in a cited passage or title (a claim with no number or name,
  "Công suất giảm mạnh", is checked this way);
* every capitalised name, of any length, and every acronym must occur in a cited passage or
  title: a one-syllable name with its case ("Bình" is not "trung bình").

The word lists (number words, function words) are in ``data/verify_words.json``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from langchain_core.documents import Document

from rag.answer.compute import computations
from rag.text import collapse_whitespace, sentence_spans

_WORDS = json.loads((Path(__file__).resolve().parent / "data" / "verify_words.json").read_text(encoding="utf-8"))
_DIGITS: dict[str, int] = _WORDS["digits"]
_SCALES: dict[str, int] = _WORDS["scales"]
_NUMBER_WORDS = set(_DIGITS) | set(_SCALES) | set(_WORDS["ten"]) | set(_WORDS["tens"]) | set(_WORDS["hundred"]) | set(_WORDS["filler"])
_AMBIGUOUS_ALONE = frozenset(_WORDS["ambiguous_alone"])
_ORDINAL_PREFIX = frozenset(_WORDS["ordinal_prefix"])
_ORDINAL_WORDS: dict[str, int] = _WORDS["ordinal_words"]
_ROMAN_HEADS = frozenset(_WORDS["roman_heads"])
_COUNTERS = frozenset(_WORDS["counters"])  # "tháng 3": the word before the number is its measure
_STOP = frozenset(_WORDS["stopwords"])
_COMPUTATION_WORDS = frozenset(_WORDS["computation_words"])  # how a computed line is worded, not a claim about a passage

_CITATION = re.compile(r"\[(\d+(?:\s*[,;–-]\s*\d+)*)\]")
_SCALE_RE = "|".join(sorted(_SCALES, key=len, reverse=True))
_NUMBER = re.compile(rf"(?<![\w.,/])\d+(?:[.,]\d+)*(?:/\d+)*%?(?:\s+(?:{_SCALE_RE}))?(?![\w/])", re.IGNORECASE)
_TOKEN = re.compile(rf"(?P<num>{_NUMBER.pattern})|(?P<word>[^\W\d_]+)|(?P<hard>[.;!?\n])|(?P<soft>[,:()–])", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+")
_MARKDOWN = re.compile(r"[*_`#>]+")
_NOT_LETTER_BEFORE, _NOT_LETTER_AFTER = r"(?<![^\W\d_])", r"(?![^\W\d_])"  # "CK" in "CK2", "S" in "5S"
_ROMAN = re.compile(r"^(?=[IVXL])L?X{0,3}(?:IX|IV|V?I{0,3})$")


@dataclass
class VerifiedAnswer:
    """The verdict: ``text`` is the answer with out-of-range citations removed."""

    ok: bool
    text: str
    problems: list[str] = field(default_factory=list)


@dataclass
class _Tok:
    kind: str  # "q" quantity, "w" word, "hard" sentence/clause end, "soft" comma-like
    text: str
    values: frozenset[object] = frozenset()

    @property
    def measure(self) -> str:
        """What sort of quantity: a number can only be "moved" onto a claim of the same sort."""
        first = next(iter(self.values), None)
        if isinstance(first, tuple):
            return str(first[0]) if isinstance(first[0], str) else "date"
        if self.text.endswith("%"):
            return "percent"
        if re.fullmatch(r"(19|20)\d\d", self.text):
            return "year"
        return "count"


def number_values(token: str) -> set[object]:
    """Every value a written number can mean, so different spellings of one figure compare equal.

    "383.605" → {383605, 383.605}; "95,25%" → {95.25}; "5/1/2024" → {(5, 1, 2024)};
    "46 nghìn" → {46, 46000}.
    """
    token = token.strip()
    multiplier = 1
    parts = token.split()
    if len(parts) == 2 and parts[1].lower() in _SCALES:
        multiplier = _SCALES[parts[1].lower()]
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


def words_value(words: Sequence[str]) -> int | None:
    """The value of Vietnamese number words ("ba trăm lẻ chín" → 309), ``None`` if not a number."""
    total = group = 0
    pending: int | None = None
    for w in words:
        if w in _DIGITS:
            if pending is not None:
                return None
            pending = _DIGITS[w]
        elif w in _WORDS["hundred"]:
            group += (1 if pending is None else pending) * 100
            pending = None
        elif w in _WORDS["tens"]:
            if pending is None:
                return None
            group += pending * 10
            pending = None
        elif w in _WORDS["ten"]:
            group += 10
            pending = None
        elif w in _SCALES:
            group += pending or 0
            pending = None
            total += (group or 1) * _SCALES[w]
            group = 0
        elif w not in _WORDS["filler"]:
            return None
    return total + group + (pending or 0)


def _scan(text: str) -> list[_Tok]:
    """Words, quantities (digits, number words, ordinals, Roman numerals) and boundaries."""
    raw: list[_Tok] = []
    for m in _TOKEN.finditer(_CITATION.sub("\n", text)):  # a marker ends a claim
        if m.group("num"):
            raw.append(_Tok("q", m.group(), frozenset(number_values(m.group()))))
        elif m.group("word"):
            raw.append(_Tok("w", m.group()))
        else:
            raw.append(_Tok("hard" if m.group("hard") else "soft", m.group()))
    out: list[_Tok] = []
    i = 0
    while i < len(raw):
        tok = raw[i]
        low = tok.text.lower()
        if tok.kind == "w" and low in _NUMBER_WORDS:
            k = i
            while k < len(raw) and raw[k].kind == "w" and raw[k].text.lower() in _NUMBER_WORDS:
                k += 1
            run = [t.text.lower() for t in raw[i:k]]
            value = words_value(run)
            alone = len(run) == 1 and run[0] in _AMBIGUOUS_ALONE
            if value is not None and not alone and (run[0] in _DIGITS or run[0] in _WORDS["ten"] or run[0] in _WORDS["hundred"]):
                out.append(_Tok("q", " ".join(t.text for t in raw[i:k]), frozenset({Decimal(value)})))
                i = k
                continue
        if tok.kind == "w" and low in _ORDINAL_PREFIX and i + 1 < len(raw):
            nxt = raw[i + 1]
            n = _ORDINAL_WORDS.get(nxt.text.lower()) if nxt.kind == "w" else None
            if n is None and nxt.kind == "q" and len(nxt.values) == 1:
                n = next(iter(nxt.values))
            if n is None and nxt.kind == "w" and nxt.text.lower() in _DIGITS:
                n = _DIGITS[nxt.text.lower()]
            if n is not None:
                out.append(_Tok("q", f"{tok.text} {nxt.text}", frozenset({("ordinal", int(n))})))
                i += 2
                continue
        if tok.kind == "w" and _ROMAN.match(tok.text) and (len(tok.text) > 1 or (out and out[-1].text.lower() in _ROMAN_HEADS)):
            out.append(_Tok("q", tok.text, frozenset({("roman", _roman(tok.text))})))
            i += 1
            continue
        out.append(tok)
        i += 1
    return out


def _roman(text: str) -> int:
    values = {"I": 1, "V": 5, "X": 10, "L": 50}
    total = 0
    for a, b in zip(text, text[1:] + " "):
        total += -values[a] if values.get(b, 0) > values[a] else values[a]
    return total


def numbers_in(text: str) -> list[tuple[str, set[object]]]:
    """(quantity as written, its values) for every quantity in ``text`` outside citation markers."""
    return [(t.text, set(t.values)) for t in _scan(text) if t.kind == "q"]


def names_in(sentence: str) -> list[str]:
    """Runs of capitalised syllables ("Lê Ngọc Dũng", "Bình") and acronyms ("TTYT"), of any length.

    The sentence's first word is not a name by its capital alone (a run that starts the sentence
    loses it); Roman numerals are quantities, not names.
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
        start = i + 1 if sentence[: toks[i][1]].strip(" \t\n-–•“”\"'(") == "" else i
        if k > start:
            runs.append(sentence[toks[start][1] : toks[k - 1][2]])
        i = k
    return runs


def _is_cap(word: str) -> bool:
    return word[:1].isupper() and not (len(word) <= 4 and _ROMAN.match(word))


def _norm(text: str) -> str:
    return collapse_whitespace(unicodedata.normalize("NFC", text))


def _content(words: Sequence[str]) -> set[str]:
    return {w.casefold() for w in words if w.casefold() not in _STOP and w.casefold() not in _NUMBER_WORDS}


@dataclass
class _Passage:
    text: str  # passage + "\n" + title, NFC
    folded: str
    words: set[str]  # casefolded syllables
    title_words: set[str]  # content words of the document title (the subject, often)
    body_words: set[str]  # content words of the passage itself
    quantities: list[_Quantity]


@dataclass
class _Quantity:
    values: frozenset[object]
    measure: str
    window: set[str]  # content words of its claim: up to 10 before it in its sentence, its unit after
    sentence: set[str]  # content words of its sentence
    after: list[str]  # the words right after it (its unit)
    prev: str  # the word right before it, if nothing stands between


def _window(toks: list[_Tok], i: int, left: int, right: int, stops: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Words before and after quantity ``toks[i]`` up to a token of a kind in ``stops``."""
    def walk(step: int, limit: int) -> list[str]:
        got: list[str] = []
        j = i + step
        while 0 <= j < len(toks) and len(got) < limit:
            t = toks[j]
            if t.kind in stops:
                break
            if t.kind == "w":
                got.append(t.text)
            j += step
        return got

    return walk(-1, left), walk(1, right)


def _prepare(doc: Document) -> _Passage:
    title = str((doc.metadata or {}).get("title", ""))
    text = _norm(doc.page_content + "\n" + title)
    toks = _scan(doc.page_content) + [_Tok("hard", "\n")] + _scan(title)
    quantities = []
    for i, t in enumerate(toks):
        if t.kind == "q":
            before, _ = _window(toks, i, 10, 0, stops=("hard",))
            _, after = _window(toks, i, 0, 4, stops=("hard", "q"))
            whole = _window(toks, i, 60, 60, stops=("hard",))
            prev = toks[i - 1].text.casefold() if i and toks[i - 1].kind == "w" else ""
            quantities.append(_Quantity(t.values, t.measure, _content(before + after), _content(whole[0] + whole[1]), [w.casefold() for w in after[:3]], prev))
    words = {w.casefold() for w in _WORD.findall(text)}
    return _Passage(text, text.casefold(), words, _content(_WORD.findall(title)), _content(_WORD.findall(doc.page_content)), quantities)


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
    if not _content(_WORD.findall(_CITATION.sub(" ", text))):
        problems.append("the answer says nothing beyond citation markers")
        return VerifiedAnswer(False, text, problems)
    prepared = [_prepare(p) for p in passages]
    for sentence in _sentences(text):
        cited = sorted({int(x) for m in _CITATION.finditer(sentence) for x in re.split(r"\s*,\s*", m.group(1))})
        body = _CITATION.sub(" ", sentence)
        toks = _scan(sentence)
        names = names_in(body)
        if not cited:
            if any(t.kind == "q" for t in toks) or names or len(_WORD.findall(body)) > 3:
                problems.append(f"sentence without citation: “{_short(body)}”")
            continue
        sources = [prepared[n - 1] for n in cited]
        refs = _refs(cited)
        derived, operands, wrong = _computed_results(body)
        problems.extend(wrong)
        framing = _COMPUTATION_WORDS if derived else frozenset()  # "Tính từ hai số liệu trích dẫn: …" is the answer's own wording
        for i, tok in enumerate(toks):
            if tok.kind != "q" or tok.values & derived:
                continue
            if tok.values & operands:  # an operand of a checked computation: its value must be cited
                if not any(tok.values & q.values for p in sources for q in p.quantities):
                    problems.append(f"number {tok.text} not in cited passage {refs}")
                continue
            problems.extend(_check_quantity(toks, i, sources, refs))
        for name in names:
            if not any(_has_name(name, p) for p in sources):
                problems.append(f"name “{name}” not in cited passage {refs}")
        known = set().union(*(p.words for p in sources))
        missing = [
            w for w in dict.fromkeys(t.text for t in toks if t.kind == "w")
            if w.casefold() in _content([w]) and w.casefold() not in known and w.casefold() not in framing
        ]
        if missing:
            problems.append(f"words “{' '.join(missing[:5])}” not in cited passage {refs}")
    return VerifiedAnswer(not problems, text, problems)


def _computed_results(sentence: str) -> tuple[set[object], set[object], list[str]]:
    """Values of the results and of the operands of the "a − b = r" in ``sentence`` whose arithmetic
    holds (each operand must still be in a cited passage), and a problem for each that does not."""
    derived: set[object] = set()
    operands: set[object] = set()
    wrong: list[str] = []
    for c in computations(sentence):
        if c.holds:
            derived |= number_values(c.result) | {v for k in c.constants for v in number_values(k)}
            operands |= {v for o in c.operands for v in number_values(o)}
        else:
            wrong.append(f"computed number {c.result} does not follow from {', '.join(c.operands)}")
    return derived, operands, wrong


def _check_quantity(toks: list[_Tok], i: int, sources: list[_Passage], refs: str) -> list[str]:
    """The quantity's value is in a cited passage, next to the words the answer puts next to it."""
    tok = toks[i]
    own = [q for p in sources for q in p.quantities if tok.values & q.values]
    if not tok.values or not own:
        return [f"number {tok.text} not in cited passage {refs}"]
    prev = toks[i - 1].text.casefold() if i and toks[i - 1].kind == "w" else ""
    if prev in _COUNTERS and not any(q.prev == prev for q in own):
        return [f"number {tok.text} is not a “{prev}” in cited passage {refs}"]
    if tok.measure == "year":
        return []  # "năm 2023" dates the claim; it is not the claim's figure
    before, _ = _window(toks, i, 8, 0, stops=("hard",))
    _, after = _window(toks, i, 0, 3, stops=("hard", "soft", "q"))
    # words only the document titles hold name the subject, not the measure
    claim = _content(before + after) - (set().union(*(p.title_words for p in sources)) - set().union(*(p.body_words for p in sources)))
    if claim:
        support = max(len(claim & q.window) for q in own)
        rival = max(
            (len(claim & q.window) for p in sources for q in p.quantities if q.measure == tok.measure and not tok.values & q.values),
            default=0,
        )
        if rival > support or not any(claim & q.sentence for q in own):
            return [f"number {tok.text} is not about “{' '.join(sorted(claim))}” in cited passage {refs}"]
    unit = after[0].casefold() if after else ""
    if unit and (unit not in _STOP or unit in _COUNTERS) and any(q.after for q in own) and not any(unit in q.after for q in own):
        return [f"number {tok.text} is not counted in “{after[0]}” in cited passage {refs}"]
    return []


def _has_name(name: str, passage: _Passage) -> bool:
    """Multi-syllable names compare without case; a single syllable or acronym keeps its case."""
    name = _norm(name)
    if " " in name:
        return re.search(rf"{_NOT_LETTER_BEFORE}{re.escape(name.casefold())}{_NOT_LETTER_AFTER}", passage.folded) is not None
    return any(re.search(rf"{_NOT_LETTER_BEFORE}{re.escape(form)}{_NOT_LETTER_AFTER}", passage.text) for form in (name, name.upper()))


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
        m = re.match(r"^((?:\[\d+(?:\s*,\s*\d+)*\]\s*)+)(.*)$", piece, re.DOTALL)
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
