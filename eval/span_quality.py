"""Precision and recall of the answer-span detectors on hand-annotated sentences.

The sentences (``tests/answer/data/spans.jsonl``) are our own, news style, health and general
topics, none from corpus/ or an evaluation set; each lists the spans a reader expects per type
("date", "person", "place", "quantity"). A prediction is :func:`rag.answer.extractive.find_spans`
of that type (dates with ``years=True``: every date and period). Two matchings are reported:
``exact`` (same text) and ``overlap`` (a prediction overlapping an expected span of its type).
Sentences marked ``"split": "heldout"`` were written and annotated after the detectors were
frozen and never used to change them; the others ("dev") were.

    python -m eval.span_quality [PATH]
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.answer.extractive import find_spans

DATA = Path(__file__).resolve().parent.parent / "tests" / "answer" / "data" / "spans.jsonl"
KINDS = ("date", "person", "place", "quantity")


@dataclass
class Counts:
    """Matches, predictions and expected spans of one type under one matching."""

    tp: int = 0  # expected spans found
    tp_pred: int = 0  # predictions that match an expected span
    predicted: int = 0
    expected: int = 0

    @property
    def precision(self) -> float:
        return self.tp_pred / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.tp / self.expected if self.expected else 1.0


def load(path: Path = DATA) -> list[dict]:
    """The annotated sentences; a clear error names a malformed line."""
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            assert isinstance(row["text"], str) and isinstance(row["spans"], dict)
        except (ValueError, KeyError, AssertionError) as exc:
            raise ValueError(f"{path}:{n}: expected {{'text': str, 'spans': {{type: [str]}}}}") from exc
        rows.append(row)
    return rows


def _positions(text: str, spans: Sequence[str]) -> list[tuple[int, int]]:
    """Offsets of the expected span texts (successive occurrences for repeats)."""
    out, taken = [], set()
    for s in spans:
        pos = text.find(s)
        while pos >= 0 and pos in taken:
            pos = text.find(s, pos + 1)
        if pos < 0:
            raise ValueError(f"expected span {s!r} is not in {text!r}")
        taken.add(pos)
        out.append((pos, pos + len(s)))
    return out


def measure(rows: list[dict]) -> dict[str, dict[str, Counts]]:
    """``{kind: {"exact": Counts, "overlap": Counts}}`` over ``rows``."""
    result = {k: {"exact": Counts(), "overlap": Counts()} for k in KINDS}
    for row in rows:
        text = row["text"]
        for kind in KINDS:
            gold = _positions(text, row["spans"].get(kind, []))
            pred = [(s.start, s.end) for s in find_spans(kind, text, years=True)]
            exact, overlap = result[kind]["exact"], result[kind]["overlap"]
            for c in (exact, overlap):
                c.predicted += len(pred)
                c.expected += len(gold)
            exact.tp += len(set(gold) & set(pred))
            exact.tp_pred += len(set(pred) & set(gold))
            overlap.tp += sum(any(p[0] < g[1] and g[0] < p[1] for p in pred) for g in gold)
            overlap.tp_pred += sum(any(p[0] < g[1] and g[0] < p[1] for g in gold) for p in pred)
    return result


def report(result: dict[str, dict[str, Counts]]) -> str:
    lines = [f"{'type':<10}{'exact P':>9}{'exact R':>9}{'overlap P':>11}{'overlap R':>11}{'pred':>6}{'gold':>6}"]
    for kind, r in result.items():
        e, o = r["exact"], r["overlap"]
        lines.append(f"{kind:<10}{e.precision:>9.2f}{e.recall:>9.2f}{o.precision:>11.2f}{o.recall:>11.2f}{e.predicted:>6}{e.expected:>6}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    path = Path(args[0]) if args else DATA
    rows = load(path)
    for split in ("dev", "heldout"):
        part = [r for r in rows if r.get("split", "dev") == split]
        if part:
            print(f"{split}: {len(part)} sentences from {path}")
            print(report(measure(part)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
