"""The lexicon data files: every entry is exercised by an example sentence written for it.

The example sentences are our own (none is copied from corpus/ or an evaluation file), so the
word lists state general facts of Vietnamese and of health administration, not test answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rag.lang import LexiconError, load_lexicon
from rag.lang.lexicon import DATA_DIR, parse, read_file
from rag.query.analysis import canon_tokens, words
from rag.text import has_diacritics
from tests.helpers import ROOT

FILES = sorted((DATA_DIR / "vi").glob("*.toml"))
LIST_FILES = [p for p in FILES if p.name != "synonyms.toml"]  # synonyms: one pair of sentences each
# tables whose entries are checked pairwise below, not against the file's examples; "priority"
# lists kind names
PAIRED = ("pairs", "synonym", "meta", "priority")
# tables whose keys name lists, not words ("terms": the glossary, whose values are checked on pairs)
CONTAINERS = ("words", "phrases", "kinds", "cues")


def _terms(node: Any) -> list[str]:
    """Every string of a list/table (keys included)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [t for x in node for t in _terms(x)]
    if isinstance(node, dict):
        return [t for k, v in node.items() for t in [k, *_terms(v)]]
    return []


def _has_run(tokens: list[str], run: list[str]) -> bool:
    return bool(run) and any(tokens[i : i + len(run)] == run for i in range(len(tokens) - len(run) + 1))


def _exercised(term: str, sentences: list[str]) -> bool:
    """``term`` occurs as a token run in a sentence: folded, and as written when it has accents."""
    folded = canon_tokens(term)
    for s in sentences:
        if not _has_run(canon_tokens(s), folded):
            continue
        if not has_diacritics(term) or _has_run([t.lower() for t, _, _ in words(s)], [t.lower() for t, _, _ in words(term)]):
            return True
    return False


@pytest.mark.parametrize("path", LIST_FILES, ids=lambda p: p.name)
def test_every_entry_has_an_example_that_uses_it(path: Path):
    data = read_file(path)
    examples = [e for key in data if key.startswith("meta") for e in data[key].get("examples", [])]
    examples += [p["en"] for p in data.get("pairs", [])]
    terms = [
        t
        for key, node in data.items()
        if key not in PAIRED and not key.startswith("meta")
        for t in (_terms(list(node.values())) if key in CONTAINERS else list(node) if key == "terms" else _terms(node))
    ]
    assert terms and examples, f"{path.name} lists no entries or no examples"
    missing = sorted({t for t in terms if not _exercised(t, examples)})
    assert not missing, f"{path.name}: entries no example sentence uses: {missing}"


def test_every_glossary_term_has_a_translated_pair():
    data = read_file(DATA_DIR / "vi" / "glossary.toml")
    pairs = data["pairs"]
    missing = []
    for en, vi in data["terms"].items():
        if not any(_exercised(en, [p["en"]]) and _exercised(vi, [p["vi"]]) for p in pairs):
            missing.append(f"{en}={vi}")
    assert not missing, missing


def test_every_synonym_has_both_sentences():
    for entry in read_file(DATA_DIR / "vi" / "synonyms.toml")["synonym"]:
        assert _exercised(entry["phrase"], [entry["example"]]), entry
        assert any(_exercised(alt, [entry["example_same"]]) for alt in entry["same_as"]), entry
        assert not _exercised(entry["phrase"], [entry["example_same"]]), f"{entry['phrase']}: the paraphrase must not repeat it"


def evaluation_texts() -> list[str]:
    """The corpus, the gold files and the benchmarks (shared/ next to or above the checkout)."""
    paths = [*ROOT.glob("corpus/**/*.txt"), ROOT / "eval" / "gold.jsonl"]
    paths += [p for p in (ROOT / "eval").glob("*/**/*") if p.is_file() and p.suffix in (".txt", ".jsonl", ".json", ".md")]
    for shared in (ROOT / "shared", ROOT.parent / "shared", ROOT.parent.parent / "shared"):
        paths += [p for p in (shared / "benchmarks").glob("**/*") if p.is_file() and p.suffix in (".txt", ".jsonl", ".json")]
    return [p.read_text(encoding="utf-8", errors="ignore") for p in paths if p.is_file()]


def test_examples_are_not_taken_from_the_corpus_or_the_evaluation_sets():
    sentences = []
    for path in FILES:
        data = read_file(path)
        sentences += [e for key in data if key.startswith("meta") for e in data[key].get("examples", [])]
        sentences += [p[k] for p in data.get("pairs", []) for k in ("en", "vi") if p[k]]
        sentences += [e[k] for e in data.get("synonym", []) for k in ("example", "example_same")]
    texts = evaluation_texts()
    assert texts, "the corpus should be readable here"
    copied = [s for s in sentences if len(s) > 30 and any(s.rstrip(".?!") in t for t in texts)]
    assert not copied, copied


def test_lexicon_values_used_by_the_code():
    lex = load_lexicon()
    assert lex is load_lexicon()  # parsed once
    assert lex.abbreviations["ttyt"] == ("trung", "tam", "y", "te")
    assert ("quang", "ninh") in lex.provinces and ("ba", "ria", "vung", "tau") in lex.provinces
    assert "nguyen" in lex.surnames and "dang" in lex.surnames
    assert lex.measure_units["giuong benh"] == ("giuong",)
    assert lex.synonyms[("nam", "vien")] == (("noi", "tru"),)
    assert lex.glossary["hospital"] == "benh vien"
    assert lex.filler_qwords.index("la bao nhieu") < lex.filler_qwords.index("la")  # longest first
    assert "ty le" in lex.content_qwords and "ty le" not in lex.filler_qwords


def test_gold_worded_entries_are_gone():
    lex = load_lexicon()
    for run in [("dung", "dau"), ("khen",), ("bot",), ("chup",), ("khuyen",), ("nhan", "xet"), ("vat", "chat"), ("cap", "cuu")]:
        assert run not in lex.synonyms
    for word in ["keep", "workplace", "first", "average", "coverage", "members", "apply"]:
        assert word not in lex.glossary


def test_bad_lexicon_files_give_clear_errors(tmp_path: Path):
    with pytest.raises(LexiconError, match="missing"):
        parse(tmp_path)
    with pytest.raises(LexiconError, match="no lexicon for language 'xx'"):
        load_lexicon("xx")
    for path in FILES:
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "units.toml").write_text("[measure_units\n", encoding="utf-8")
    with pytest.raises(LexiconError, match="units.toml is not valid TOML"):
        parse(tmp_path)
    (tmp_path / "units.toml").write_text("[measure_units]\n", encoding="utf-8")
    with pytest.raises(LexiconError, match=r"units.toml: missing \[words.unit_heads\]"):
        parse(tmp_path)
