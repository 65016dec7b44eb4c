"""Gold question set for the Hỏi Đáp Y Tế RAG assistant: schema, loader and checker.

The gold set lives in ``eval/gold.jsonl``: one JSON object per line, each describing a
question over the health-department reports in ``corpus/`` together with a short
reference answer, the exact strings a correct answer must contain, the document(s)
that answer it and verbatim evidence from those documents.

Usage::

    python -m eval.gold eval/gold.jsonl [--corpus corpus]

prints every problem found and exits 1, or prints counts per category and per
document and exits 0.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = [
    "CATEGORIES",
    "Category",
    "GoldItem",
    "check_gold",
    "count_by_category",
    "count_by_document",
    "load_gold",
    "main",
    "normalize_ws",
]

Category = Literal[
    "fact_metric",
    "fact_person",
    "fact_facility",
    "date",
    "multi_hop",
    "cross_doc",
    "no_diacritics",
    "paraphrase",
    "unanswerable",
    "english",
    "follow_up",
    "computed",
]
CATEGORIES: tuple[str, ...] = get_args(Category)

#: Extensions whose files are read as UTF-8 text; other files are only checked to exist.
TEXT_EXTENSIONS: frozenset[str] = frozenset({".txt", ".md"})

#: Key used in per-document counts for items without a document (unanswerable).
NO_DOC = "(none)"

_WS_RE = re.compile(r"\s+")  # str patterns match Unicode whitespace, U+00A0 included

DEFAULT_CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def normalize_ws(text: str) -> str:
    """NFC-normalise ``text``, collapse every run of Unicode whitespace to one space, strip."""
    return _WS_RE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def _as_list(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


class GoldItem(BaseModel):
    """One gold question (one line of ``gold.jsonl``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    answer: str = Field(min_length=1)
    must_contain: list[str] = Field(min_length=0, max_length=3)
    doc: str | list[str] | None
    evidence: str | list[str] | None
    category: Category
    history: list[tuple[str, str]] = Field(default_factory=list)

    @field_validator("id", "question", "answer")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("must_contain")
    @classmethod
    def _must_contain_not_blank(cls, value: list[str]) -> list[str]:
        if any(not s.strip() for s in value):
            raise ValueError("must_contain strings must not be blank")
        return value

    @field_validator("doc", "evidence")
    @classmethod
    def _list_not_empty(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and not value:
            raise ValueError("use null instead of an empty list")
        if any(not s.strip() for s in _as_list(value)):
            raise ValueError("strings must not be blank")
        return value

    @model_validator(mode="after")
    def _history_only_for_follow_up(self) -> GoldItem:
        if self.category == "follow_up" and not self.history:
            raise ValueError("follow_up items need a non-empty history")
        if self.category != "follow_up" and self.history:
            raise ValueError("history is only allowed for follow_up items")
        return self

    @property
    def docs(self) -> list[str]:
        """Document ids as a list (empty for unanswerable items)."""
        return _as_list(self.doc)

    @property
    def evidences(self) -> list[str]:
        """Evidence strings as a list (empty for unanswerable items)."""
        return _as_list(self.evidence)


def load_gold(path: str | Path) -> list[GoldItem]:
    """Load and validate a gold JSONL file.

    Blank lines are skipped. Raises ``ValueError`` naming the file and the 1-based line
    number for invalid JSON, a line that is not an object, a schema violation (missing
    field, wrong category, ...) or a duplicate id.
    """
    path = Path(path)
    items: list[GoldItem] = []
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path.name}:{lineno}"
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{where}: invalid JSON: {exc.msg} (column {exc.colno})") from exc
            if not isinstance(data, dict):
                raise ValueError(f"{where}: expected a JSON object, got {type(data).__name__}")
            try:
                item = GoldItem.model_validate(data)
            except ValidationError as exc:
                details = "; ".join(
                    f"{'.'.join(str(p) for p in err['loc']) or '<item>'}: {err['msg']}"
                    for err in exc.errors()
                )
                raise ValueError(f"{where}: invalid item {data.get('id', '?')!r}: {details}") from exc
            if item.id in seen:
                raise ValueError(f"{where}: duplicate id {item.id!r} (first on line {seen[item.id]})")
            seen[item.id] = lineno
            items.append(item)
    return items


def _index_corpus(corpus_dir: Path) -> dict[str, Path]:
    """Map document id (file stem) to its file; text files win over other formats."""
    index: dict[str, Path] = {}
    if not corpus_dir.is_dir():
        return index
    for file in sorted(corpus_dir.iterdir()):
        if not file.is_file() or file.name.startswith("."):
            continue
        current = index.get(file.stem)
        if current is None or (
            file.suffix.lower() in TEXT_EXTENSIONS and current.suffix.lower() not in TEXT_EXTENSIONS
        ):
            index[file.stem] = file
    return index


def check_gold(items: Sequence[GoldItem], corpus_dir: str | Path) -> list[str]:
    """Return human-readable problems with ``items`` against the documents in ``corpus_dir``.

    Checks: doc ids have a file; evidence strings occur (after :func:`normalize_ws`) in the
    item's document(s), each in at least one of them; every ``must_contain`` string occurs
    in the evidence and in the document(s); answerable items have doc, evidence and
    ``must_contain``; unanswerable items have none of them; cross_doc items name at least
    two documents; ids are unique. Documents that are not .txt/.md are only checked to exist.
    A ``computed`` item's answer is derived from figures in the documents (a difference, a
    sum...), so its ``must_contain`` strings are not looked up in the documents or the
    evidence; it needs at least two evidence strings (the figures it is computed from).
    """
    corpus_dir = Path(corpus_dir)
    problems: list[str] = []
    if not corpus_dir.is_dir():
        return [f"corpus directory not found: {corpus_dir}"]
    files = _index_corpus(corpus_dir)
    texts: dict[str, str | None] = {}

    def text_of(doc_id: str) -> str | None:
        if doc_id not in texts:
            file = files[doc_id]
            texts[doc_id] = (
                normalize_ws(file.read_text(encoding="utf-8"))
                if file.suffix.lower() in TEXT_EXTENSIONS
                else None
            )
        return texts[doc_id]

    seen_ids: set[str] = set()
    for item in items:
        pid = item.id
        if pid in seen_ids:
            problems.append(f"{pid}: duplicate id")
        seen_ids.add(pid)

        docs = item.docs
        evidences = item.evidences

        if item.category == "unanswerable":
            if item.doc is not None:
                problems.append(f"{pid}: unanswerable item must have doc null, got {item.doc!r}")
            if item.evidence is not None:
                problems.append(f"{pid}: unanswerable item must have evidence null")
            if item.must_contain:
                problems.append(f"{pid}: unanswerable item must have empty must_contain")
            continue

        if not item.must_contain:
            problems.append(f"{pid}: answerable item has empty must_contain")
        if not docs:
            problems.append(f"{pid}: answerable item has no doc")
        if not evidences:
            problems.append(f"{pid}: answerable item has no evidence")
        if item.category == "cross_doc" and len(set(docs)) < 2:
            problems.append(f"{pid}: cross_doc item must list at least two different documents")
        if len(set(docs)) != len(docs):
            problems.append(f"{pid}: doc list repeats a document")
        if item.category == "computed" and len(evidences) < 2:
            problems.append(f"{pid}: computed item needs at least two evidence strings")

        known = [d for d in docs if d in files]
        for d in docs:
            if d not in files:
                problems.append(f"{pid}: unknown doc id {d!r} (no file {d}.* in {corpus_dir})")
        doc_texts = [t for t in (text_of(d) for d in known) if t is not None]
        # Only check text when every listed document could be read as text.
        can_check_text = bool(docs) and len(doc_texts) == len(docs)

        norm_evidences = [normalize_ws(e) for e in evidences]
        if can_check_text:
            for ev in norm_evidences:
                if not any(ev in t for t in doc_texts):
                    where = docs[0] if len(docs) == 1 else f"any of {docs}"
                    problems.append(f"{pid}: evidence not found in {where}: {ev[:80]!r}")

        if item.category == "computed":
            continue  # the result is derived, it need not occur in the documents
        for needle in item.must_contain:
            norm = normalize_ws(needle)
            in_evidence = any(norm in ev for ev in norm_evidences)
            if can_check_text and not any(norm in t for t in doc_texts):
                problems.append(f"{pid}: must_contain {needle!r} not found in document(s) {docs}")
            elif norm_evidences and not in_evidence:
                problems.append(f"{pid}: must_contain {needle!r} not found in the evidence")
    return problems


def count_by_category(items: Iterable[GoldItem]) -> Counter[str]:
    """Number of items per category."""
    return Counter(item.category for item in items)


def count_by_document(items: Iterable[GoldItem]) -> Counter[str]:
    """Number of items per document id (a cross_doc item counts for each of its documents).

    Items without a document are counted under :data:`NO_DOC`.
    """
    counts: Counter[str] = Counter()
    for item in items:
        for d in item.docs or [NO_DOC]:
            counts[d] += 1
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m eval.gold", description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="gold JSONL file")
    parser.add_argument(
        "--corpus", type=Path, default=DEFAULT_CORPUS, help=f"corpus directory (default: {DEFAULT_CORPUS})"
    )
    args = parser.parse_args(argv)

    try:
        items = load_gold(args.file)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    problems = check_gold(items, args.corpus)
    if problems:
        for problem in problems:
            print(problem)
        print(f"{len(problems)} problem(s) in {len(items)} item(s)", file=sys.stderr)
        return 1

    print(f"{len(items)} items, no problems")
    print("per category:")
    by_cat = count_by_category(items)
    for cat in CATEGORIES:
        print(f"  {cat:<14} {by_cat.get(cat, 0)}")
    print("per document (cross_doc items count for each document):")
    for doc, n in sorted(count_by_document(items).items()):
        print(f"  {doc:<24} {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
