"""The language data of the assistant, read once from ``rag/lang/<language>/*.toml``.

Word lists (question words, units, stop words, abbreviations, provinces, surnames, titles …) are
data, not code: each TOML file holds its lists and the example sentences that exercise every
entry (checked by ``tests/lang/test_lexicon.py``). :func:`load_lexicon` parses them into one
frozen :class:`Lexicon`; folded forms (``rag.text.fold``) are computed here so the modules that
match folded tokens get them ready.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from rag.text import fold

DATA_DIR = Path(__file__).parent


class LexiconError(ValueError):
    """A lexicon file is missing, malformed, or lacks a required list."""


def _folded(phrase: str) -> str:
    return " ".join(fold(phrase).lower().split())


@dataclass(frozen=True)
class Lexicon:
    """Every word list, as the matching code uses it (folded where matched folded)."""

    # question words
    qwords: dict[str, tuple[str, ...]]
    kind_priority: tuple[str, ...]
    content_qwords: frozenset[str]
    filler_qwords: tuple[str, ...]
    english_only_qwords: frozenset[str]
    keep_first_qwords: frozenset[str]
    qword_accented: dict[str, frozenset[str]]
    cues: dict[str, tuple[str, ...]]
    # stop words
    stop_accented: frozenset[str]
    stop_folded: frozenset[str]
    ambiguous_folded: frozenset[str]
    not_measure_noun: frozenset[str]
    # units and numbers
    measure_units: dict[str, tuple[str, ...]]
    unit_heads: tuple[str, ...]
    unit_continuations: frozenset[str]
    multipliers: tuple[str, ...]
    ordinal_heads: tuple[str, ...]
    measure_accented: dict[str, str]
    qualifiers: tuple[str, ...]
    changes: tuple[str, ...]
    document_types: tuple[str, ...]
    vague_amounts: tuple[str, ...]
    number_words: dict[str, int]
    number_scales: dict[str, int]
    # abbreviations, synonyms, English
    abbreviations: dict[str, tuple[str, ...]]
    synonyms: dict[tuple[str, ...], tuple[tuple[str, ...], ...]]
    glossary: dict[str, str]
    english_markers: frozenset[str]
    english_function_words: frozenset[str]
    english_facility_heads: frozenset[str]  # English head nouns written after a name ("… Hospital")
    # places and people
    provinces: tuple[tuple[str, ...], ...]
    facility_heads: tuple[str, ...]
    facility_heads_written: tuple[str, ...]
    specific_heads: tuple[str, ...]
    facility_qualifiers: tuple[str, ...]
    place_stop: frozenset[str]
    place_stop_folded: frozenset[str]
    aggregate_scopes: tuple[str, ...]
    surnames: frozenset[str]
    titles: tuple[str, ...]
    title_abbreviations: tuple[str, ...]
    roles: tuple[str, ...]
    role_orgs: tuple[str, ...]
    org_starts: tuple[str, ...]
    role_org_canonical: dict[str, str]
    place_markers: tuple[str, ...]
    not_given_names: frozenset[str]
    name_stop: frozenset[str]
    # generic span detectors (spans.toml)
    spans: dict[str, tuple[str, ...]]


def read_file(path: Path) -> dict[str, Any]:
    """One lexicon file, parsed; a clear error names the file when it is missing or malformed."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise LexiconError(f"lexicon file missing: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise LexiconError(f"lexicon file {path} is not valid TOML: {exc}") from exc


def _get(data: dict[str, Any], path: Path, *keys: str) -> Any:
    node: Any = data
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            raise LexiconError(f"{path.name}: missing [{'.'.join(keys)}]")
        node = node[key]
    return node


def _words(phrases: list[str]) -> tuple[str, ...]:
    """Folded phrases; a folded list of phrases may also be given as single syllables."""
    return tuple(_folded(p) for p in phrases)


def _run(phrase: str) -> tuple[str, ...]:
    return tuple(_folded(phrase).split())


def parse(directory: Path) -> Lexicon:
    """Build a :class:`Lexicon` from the TOML files of one language directory."""
    files = {name: read_file(directory / f"{name}.toml") for name in
             ("question_words", "stopwords", "units", "quantity", "abbreviations", "synonyms", "glossary", "places", "names", "spans")}

    def get(name: str, *keys: str) -> Any:
        return _get(files[name], directory / f"{name}.toml", *keys)

    qw = "question_words"
    stop = "stopwords"
    synonyms: dict[tuple[str, ...], tuple[tuple[str, ...], ...]] = {}
    for entry in get("synonyms", "synonym"):
        synonyms[_run(entry["phrase"])] = tuple(_run(alt) for alt in entry["same_as"])
    filler = set(get(qw, "phrases", "filler")) | {p for ps in get(qw, "kinds").values() for p in ps}
    filler -= set(get(qw, "phrases", "content"))
    return Lexicon(
        qwords={kind: _words(ps) for kind, ps in get(qw, "kinds").items()},
        kind_priority=tuple(get(qw, "priority")),
        content_qwords=frozenset(_words(get(qw, "phrases", "content"))),
        # removed longest first, so "la bao nhieu" goes before "la"
        filler_qwords=tuple(sorted(_words(sorted(filler)), key=lambda p: -len(p.split()))),
        english_only_qwords=frozenset(get(qw, "phrases", "english_only")),
        keep_first_qwords=frozenset(get(qw, "phrases", "keep_first")),
        qword_accented={k: frozenset(v) for k, v in get(qw, "accented").items()},
        cues={k: tuple(v) for k, v in get(qw, "cues").items()},
        stop_accented=frozenset(get(stop, "words", "accented")),
        stop_folded=frozenset(_words(get(stop, "words", "folded"))),
        ambiguous_folded=frozenset(_words(get(stop, "words", "ambiguous"))),
        not_measure_noun=frozenset(_words(get(stop, "words", "not_measure_noun"))),
        measure_units={_folded(k): _words(v) for k, v in get("units", "measure_units").items()},
        unit_heads=_words(get("units", "words", "unit_heads")),
        unit_continuations=frozenset(_words(get("units", "words", "unit_continuations"))),
        multipliers=tuple(get("units", "words", "multipliers")),
        ordinal_heads=_words(get("units", "words", "ordinal_heads")),
        measure_accented=dict(get("units", "measure_accented")),
        qualifiers=tuple(get("quantity", "words", "qualifiers")),
        changes=tuple(get("quantity", "words", "changes")),
        document_types=tuple(get("quantity", "words", "document_types")),
        vague_amounts=tuple(get("quantity", "words", "vague")),
        number_words={k: int(v) for k, v in get("quantity", "number_words").items()},
        number_scales={k: int(v) for k, v in get("quantity", "number_scales").items()},
        abbreviations={k: _run(v) for k, v in get("abbreviations", "abbreviations").items()},
        synonyms=synonyms,
        glossary={k: _folded(v) for k, v in get("glossary", "terms").items()},
        english_markers=frozenset(get("glossary", "words", "markers")),
        english_function_words=frozenset(get("glossary", "words", "function_words")),
        english_facility_heads=frozenset(get("glossary", "words", "facility_heads")),
        provinces=tuple(_run(p) for p in get("places", "words", "provinces")),
        facility_heads=_words(get("places", "words", "heads")),
        facility_heads_written=tuple(get("places", "words", "heads_written")),
        specific_heads=tuple(get("places", "words", "specific_heads")),
        facility_qualifiers=tuple(get("places", "words", "qualifiers")),
        place_stop=frozenset(get("places", "words", "place_stop")),
        place_stop_folded=frozenset(_words(get("places", "words", "place_stop_folded"))),
        aggregate_scopes=_words(get("places", "words", "aggregate_scopes")),
        surnames=frozenset(_words(get("names", "words", "surnames"))),
        titles=tuple(get("names", "words", "titles")),
        title_abbreviations=tuple(get("names", "words", "title_abbreviations")),
        roles=_words(get("names", "words", "roles")),
        role_orgs=_words(get("names", "words", "role_orgs")),
        org_starts=_words(get("names", "words", "org_starts")),
        role_org_canonical={_folded(k): _folded(v) for k, v in get("names", "role_org_canonical").items()},
        place_markers=_words(get("names", "words", "place_markers")),
        not_given_names=frozenset(_words(get("names", "words", "not_given_names"))),
        name_stop=frozenset(_words(get("names", "words", "name_stop"))),
        spans={k: tuple(v) for k, v in get("spans", "words").items()},
    )


@lru_cache(maxsize=None)
def load_lexicon(language: str = "vi") -> Lexicon:
    """The lexicon of ``language`` (parsed once per process)."""
    directory = DATA_DIR / language
    if not directory.is_dir():
        raise LexiconError(f"no lexicon for language {language!r} (expected {directory})")
    return parse(directory)


def alternation(phrases: tuple[str, ...] | list[str], longest_first: bool = False) -> str:
    """A regex alternation of literal ``phrases`` (in the given order, or longest first)."""
    items = sorted(phrases, key=len, reverse=True) if longest_first else list(phrases)
    return "|".join(re.escape(p) for p in items)


def both_cases(phrases: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Each phrase as written and with its first letter upper-cased ("bác sĩ", "Bác sĩ")."""
    out: list[str] = []
    for p in phrases:
        for form in (p, p[:1].upper() + p[1:]):
            if form not in out:
                out.append(form)
    return tuple(out)
