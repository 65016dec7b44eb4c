"""The fixed dev/test split of a gold file: dev is fitted and tuned on, test is only reported.

The rule (documented in ``eval/README.md``): stratified by category; within each category, in
id order, the items alternate dev, test, dev, test… with the first item of every category in
dev. It depends only on the ids and categories of the file, so the same file always splits the
same way, and adding an item to one category never moves an item of another category.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal, Protocol, TypeVar

__all__ = ["SPLITS", "Split", "id_key", "split_items"]

Split = Literal["dev", "test"]
SPLITS: tuple[str, ...] = ("dev", "test")

_DIGITS = re.compile(r"(\d+)")


class _Labelled(Protocol):
    id: str
    category: str


T = TypeVar("T", bound=_Labelled)


def id_key(item_id: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key giving natural id order: "q9" before "q10" (digit runs compare as numbers)."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in _DIGITS.split(item_id) if part)


def split_items(items: Sequence[T], split: str) -> list[T]:
    """The items of ``split`` ("dev" or "test"), in the order they appear in ``items``."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: expected one of {', '.join(SPLITS)}")
    chosen: set[int] = set()
    by_category: dict[str, list[int]] = {}
    for pos, item in enumerate(items):
        by_category.setdefault(item.category, []).append(pos)
    for positions in by_category.values():
        ordered = sorted(positions, key=lambda p: id_key(items[p].id))
        parity = 0 if split == "dev" else 1
        chosen.update(p for i, p in enumerate(ordered) if i % 2 == parity)
    return [item for pos, item in enumerate(items) if pos in chosen]
