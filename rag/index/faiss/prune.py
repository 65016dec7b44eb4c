"""Max-score pruning for BM25's top k: the long posting lists of common syllables are mostly skipped.

A Vietnamese question is mostly common syllables ("bệnh", "viện", "bao", "nhiêu", "năm") whose
posting lists cover much of the library, plus a few rare ones (a name, a place). Reading the
rare terms first bounds what the common ones can still add; once the k-th best score so far is
above that bound, only chunks already seen can make the top k. Exact: the ranking and scores
equal scoring every chunk (tests/index/test_bm25_pruning.py). Used by
:mod:`rag.index.faiss.sparse`; the bounds are each term's highest score, saved with the index.
"""

from __future__ import annotations

import numpy as np

MIN_CHUNKS = 50_000  # below this, scoring everything is already fast

_PRUNE_MAX_SHARE = 1 / 8  # give up pruning once the terms read cover this share of the chunks
_BOUND_SLACK = 1e-4  # relative: float32 sums of a query's terms stray from the real-valued ones by ~1e-6


def pruned_top_k(
    model, counts: dict[str, int], k: int, rescale: np.ndarray | None = None, deleted: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """The top ``k`` without reading the long posting lists of common terms (max-score pruning), or None.

    Terms are read in decreasing order of their bound (count x the term's highest score). Once
    the k-th best score so far exceeds the sum of the bounds of the terms not read, no chunk
    outside those read can reach the top k, and those within it need the remaining terms only
    where they occur: a binary search in each remaining list. The candidates' scores are then
    summed again in the query's term order, so they equal :func:`rag.index.faiss.sparse.bm25_top_k`'s full scoring to the bit and the
    ranking equals the unpruned one. None (score everything) when the index has no bounds or the
    bound is never reached before the lists read grow long. ``rescale`` and ``deleted``: a base
    segment's per-term factors and its deleted chunks (:class:`SegmentedBM25`).
    """
    bounds = getattr(model, "term_max", None)
    n = int(model.scores["num_docs"])
    if bounds is None or n < MIN_CHUNKS or len(counts) < 2:
        return None
    indptr, indices, data = model.scores["indptr"], model.scores["indices"], model.scores["data"]
    terms = np.array([model.vocab_dict[t] for t in counts], dtype=np.int64)
    weight64 = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
    weight = (weight64 if rescale is None else weight64 * rescale).astype(np.float32)  # as _scores weighs them
    starts, ends = np.asarray(indptr[terms], dtype=np.int64), np.asarray(indptr[terms + 1], dtype=np.int64)
    upper = weight.astype(np.float64) * np.asarray(bounds[terms], dtype=np.float64)
    order = np.argsort(-upper, kind="stable").tolist()
    remaining = float(upper.sum())
    scores = np.zeros(n, dtype=np.float32)
    read: list[np.ndarray] = []
    size = 0
    for j in order[:-1]:
        s, e, w = int(starts[j]), int(ends[j]), float(weight[j])
        remaining -= float(upper[j])
        size += e - s
        if size > n * _PRUNE_MAX_SHARE:
            return None
        if e > s:
            np.add.at(scores, indices[s:e], data[s:e] if w == 1 else np.asarray(data[s:e]) * np.float32(w))
            read.append(np.asarray(indices[s:e]))
            if deleted is not None and len(deleted):
                scores[deleted] = 0  # never candidates; their zeros only lower the bound below
        if not read:
            continue
        seen = np.unique(np.concatenate(read)) if len(read) > 1 else read[0]
        if len(seen) < k:
            continue
        theta = float(np.partition(scores[seen], len(seen) - k)[len(seen) - k])
        slack = remaining + _BOUND_SLACK * (theta + remaining) + 1e-6
        if theta > slack:
            candidates = seen[scores[seen] + slack >= theta].astype(np.int64)
            return best(_rescore(model, candidates, starts, ends, weight), candidates, k)
    return None


def _rescore(model, candidates: np.ndarray, starts, ends, weight: np.ndarray) -> np.ndarray:
    """Scores of sorted chunk ids ``candidates``, summed term by term in query order as :func:`rag.index.faiss.sparse.bm25_top_k`'s full scoring does."""
    indices, data = model.scores["indices"], model.scores["data"]
    out = np.zeros(len(candidates), dtype=np.float32)
    for s, e, w in zip(np.asarray(starts).tolist(), np.asarray(ends).tolist(), weight.tolist()):
        if e <= s:
            continue
        postings = indices[s:e]
        at = np.minimum(np.searchsorted(postings, candidates), e - s - 1)
        hit = np.asarray(postings[at]) == candidates
        values = np.asarray(data[s + at[hit]])
        out[hit] += values if w == 1 else values * np.float32(w)
    return out


def best(scores: np.ndarray, ids: np.ndarray | None, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` by score (ties by id, positive scores only) of ``scores`` for ``ids`` (None: 0..n-1)."""
    k = min(k, len(scores))
    if k == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    kth = scores[top].min()
    if kth > 0 and k < len(scores):  # argpartition picks arbitrary ones among ties at the cut
        tied = np.flatnonzero(scores == kth)
        if len(tied) > 1:
            top = np.union1d(top[scores[top] > kth], tied)
    top_ids = top if ids is None else ids[top]
    order = np.lexsort((top_ids, -scores[top]))[:k]
    top, top_ids = top[order], top_ids[order]
    keep = scores[top] > 0
    return top_ids[keep].astype(np.int64), scores[top][keep].astype(np.float32)
