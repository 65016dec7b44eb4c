"""BM25 over our Vietnamese syllable tokens, on bm25s: build, persist, query.

Two indexes are kept: one on accented tokens (precise) and one on diacritic-folded tokens (so a
question typed without accents still matches). bm25s stores plain numpy/JSON files, no pickle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .text import tokenize, tokenize_folded

TOKENIZERS: dict[str, Callable[[str], list[str]]] = {"bm25": tokenize, "bm25_folded": tokenize_folded}


def build_bm25(texts: Sequence[str], tokenizer: Callable[[str], list[str]]):  # -> bm25s.BM25
    """Index ``texts`` (one per chunk, in chunk-id order) with the given tokenizer."""
    import bm25s

    model = bm25s.BM25()
    model.index([tokenizer(t) for t in texts], show_progress=False)
    return model


def save_bm25(model, directory: Path) -> None:
    model.save(str(directory), show_progress=False)


def load_bm25(directory: Path, mmap: bool = False):
    import bm25s

    return bm25s.BM25.load(str(directory), mmap=mmap, show_progress=False, verbosity=0)


def bm25_top_k(model, query_tokens: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Chunk ids and scores of the ``k`` best-scoring chunks with a positive score."""
    if not query_tokens:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    scores = model.get_scores(query_tokens)
    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    top = top[np.argsort(-scores[top], kind="stable")]
    top = top[scores[top] > 0]
    return top.astype(np.int64), scores[top]
