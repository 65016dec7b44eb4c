"""BM25 over our Vietnamese syllable tokens: build, persist, query (bm25s's on-disk format).

Two indexes are kept: one on accented tokens (precise) and one on diacritic-folded tokens (so a
question typed without accents still matches). Files are bm25s's own (numpy ``.npy`` + JSON, no
pickle), loadable with ``bm25s.BM25.load``, plus three of ours beside them:

``doc_token_ids.npy`` / ``doc_token_offsets.npy``
    every chunk's token ids (in this index's vocabulary) end to end, and where each chunk starts:
    the next generation rebuilds BM25 from these without re-tokenising the chunks it keeps.
``col_max.npy``
    the largest score of each term, the upper bound that lets a query skip the long posting lists
    of very common terms (see :func:`bm25_top_k`).

Queries read the files with :class:`BM25Index` (numpy + JSON), so bm25s and scipy are imported
only when an index is built, not when the app starts.

The index is built with numpy in a few vectorised passes (sort by (term, chunk), count, score)
instead of bm25s's per-document Python loop; scores equal bm25s's "lucene" BM25 (k1=1.5, b=0.75),
which tests/test_dense.py checks against ``bm25s.BM25().index``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .text import tokenize, tokenize_folded

TOKENIZERS: dict[str, Callable[[str], list[str]]] = {"bm25": tokenize, "bm25_folded": tokenize_folded}
K1, B = 1.5, 0.75
TOKEN_IDS = "doc_token_ids.npy"
TOKEN_OFFSETS = "doc_token_offsets.npy"
COL_MAX = "col_max.npy"
VOCAB = "vocab.index.json"


@dataclass
class TokenizedCorpus:
    """Token ids of every chunk end to end: chunk ``i`` is ``ids[offsets[i]:offsets[i + 1]]``."""

    vocab: list[str]  # id -> token
    ids: np.ndarray  # int32
    offsets: np.ndarray  # int64, n_chunks + 1

    @property
    def n_docs(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def from_tokens(cls, token_lists: Sequence[Sequence[str]], vocab: list[str] | None = None) -> TokenizedCorpus:
        """Encode token lists, extending ``vocab`` (a copy) with tokens it lacks."""
        vocab = list(vocab) if vocab is not None else []
        index = {t: i for i, t in enumerate(vocab)}
        lengths = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=len(token_lists))
        offsets = np.zeros(len(token_lists) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flat: list[int] = []
        for tokens in token_lists:
            for token in tokens:
                tid = index.get(token)
                if tid is None:
                    tid = index[token] = len(vocab)
                    vocab.append(token)
                flat.append(tid)
        return cls(vocab, np.asarray(flat, dtype=np.int32), offsets)

    def take(self, rows: np.ndarray) -> TokenizedCorpus:
        """The chunks at positions ``rows``, in that order (vectorised gather)."""
        rows = np.asarray(rows, dtype=np.int64)
        starts, ends = self.offsets[rows], self.offsets[rows + 1]
        lengths = ends - starts
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        if len(rows) == 0 or offsets[-1] == 0:
            return TokenizedCorpus(self.vocab, np.zeros(0, dtype=np.int32), offsets)
        # position j of the output reads ids[starts[row(j)] + (j - offsets[row(j)])]
        src = np.arange(offsets[-1], dtype=np.int64) + np.repeat(starts - offsets[:-1], lengths)
        return TokenizedCorpus(self.vocab, np.asarray(self.ids[src], dtype=np.int32), offsets)

    def extend(self, token_lists: Sequence[Sequence[str]]) -> TokenizedCorpus:
        """These chunks followed by new ones given as token lists."""
        new = TokenizedCorpus.from_tokens(token_lists, self.vocab)
        offsets = np.concatenate([self.offsets, self.offsets[-1] + new.offsets[1:]])
        return TokenizedCorpus(new.vocab, np.concatenate([np.asarray(self.ids, dtype=np.int32), new.ids]), offsets)


def tokenize_corpus(texts: Sequence[str], tokenizer: Callable[[str], list[str]]) -> TokenizedCorpus:
    return TokenizedCorpus.from_tokens([tokenizer(t) for t in texts])


def build_bm25(texts: Sequence[str] | TokenizedCorpus, tokenizer: Callable[[str], list[str]] | None = None):  # -> bm25s.BM25
    """Index chunks (texts in chunk-id order, tokenised with ``tokenizer``, or already tokenised)."""
    corpus = texts if isinstance(texts, TokenizedCorpus) else tokenize_corpus(texts, tokenizer or tokenize)
    return build_bm25_from_ids(corpus)


def build_bm25_from_ids(corpus: TokenizedCorpus):  # -> bm25s.BM25
    """A bm25s model (lucene BM25, k1=1.5, b=0.75) from token ids, in a few numpy passes.

    The vocabulary is compacted to the tokens that occur (ids of dropped chunks disappear); the
    compacted ids and offsets stay on the model (``model.hdyt_tokens``) for :func:`save_bm25`.
    """
    import bm25s

    n = corpus.n_docs
    ids = np.asarray(corpus.ids, dtype=np.int64)
    doc_len = np.diff(corpus.offsets)
    # compact the vocabulary to the tokens present, keeping their relative order
    present = np.bincount(ids, minlength=len(corpus.vocab)) > 0 if len(ids) else np.zeros(len(corpus.vocab), bool)
    remap = np.cumsum(present) - 1
    vocab = [t for t, p in zip(corpus.vocab, present.tolist()) if p]
    ids = remap[ids] if len(ids) else ids
    n_vocab = len(vocab)

    # one entry per (term, chunk) pair, sorted by term then chunk: exactly the CSC order
    doc_of = np.repeat(np.arange(n, dtype=np.int64), doc_len)
    keys, tf = np.unique(ids * max(n, 1) + doc_of, return_counts=True)
    term, doc = np.divmod(keys, max(n, 1))
    df = np.bincount(term, minlength=n_vocab)
    idf = np.log(1 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)  # bm25s "lucene" idf, float32 like bm25s
    avg_len = doc_len.mean() if n else 1.0
    tfc = tf / (K1 * ((1 - B) + B * doc_len[doc] / avg_len) + tf)
    data = (idf[term] * tfc).astype(np.float32)
    indptr = np.zeros(n_vocab + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])

    model = bm25s.BM25(k1=K1, b=B, method="lucene")
    model.scores = {"data": data, "indices": doc.astype(np.int32), "indptr": indptr, "num_docs": n}
    model.vocab_dict = {t: i for i, t in enumerate(vocab)}
    model.vocab_dict[""] = n_vocab  # bm25s's empty token, for parity with BM25.index()
    model.unique_token_ids_set = set(model.vocab_dict.values())
    model.nonoccurrence_array = None
    model.hdyt_tokens = TokenizedCorpus(vocab, ids.astype(np.int32), np.asarray(corpus.offsets, dtype=np.int64))
    model.hdyt_col_max = _col_max(data, indptr)
    return model


def _col_max(data: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    out = np.zeros(len(indptr) - 1, dtype=np.float32)
    nonempty = np.flatnonzero(np.diff(indptr) > 0)
    if len(nonempty):
        out[nonempty] = np.maximum.reduceat(np.asarray(data), indptr[:-1][nonempty])
    return out


def save_bm25(model, directory: Path) -> None:
    model.save(str(directory), show_progress=False)
    tokens = getattr(model, "hdyt_tokens", None)
    if tokens is not None:
        np.save(directory / TOKEN_IDS, np.asarray(tokens.ids, dtype=np.int32))
        np.save(directory / TOKEN_OFFSETS, np.asarray(tokens.offsets, dtype=np.int64))
    col_max = getattr(model, "hdyt_col_max", None)
    if col_max is not None:
        np.save(directory / COL_MAX, col_max)


class BM25Index:
    """A saved bm25s index read without importing bm25s (and scipy): its numpy arrays and JSON vocab.

    Has what queries need, with bm25s's names: ``scores`` (the CSC arrays), ``vocab_dict`` and
    ``get_scores``. Loading is the app's cold-start path, and bm25s's import costs more than the
    arrays themselves when they are memory-mapped.
    """

    def __init__(self, directory: Path, mmap: bool = False) -> None:
        params = json.loads((directory / "params.index.json").read_text(encoding="utf-8"))
        if params.get("method", "lucene") not in ("lucene", "robertson", "atire"):
            raise ValueError(f"BM25 method {params.get('method')!r} needs bm25s to load")
        mode = "r" if mmap else None
        self.scores = {
            "data": np.load(directory / "data.csc.index.npy", mmap_mode=mode, allow_pickle=False),
            "indices": np.load(directory / "indices.csc.index.npy", mmap_mode=mode, allow_pickle=False),
            "indptr": np.load(directory / "indptr.csc.index.npy", mmap_mode=mode, allow_pickle=False),
            "num_docs": int(params["num_docs"]),
        }
        self.vocab_dict: dict[str, int] = json.loads((directory / VOCAB).read_text(encoding="utf-8"))
        self.params = params
        path = directory / COL_MAX
        self.hdyt_col_max = np.load(path) if path.is_file() else _col_max(self.scores["data"], self.scores["indptr"])

    def get_scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every chunk for the tokens (repeats count, unknown tokens are ignored)."""
        n = self.scores["num_docs"]
        counts: dict[int, int] = {}
        for token in query_tokens:
            tid = self.vocab_dict.get(token)
            if tid is not None and token:
                counts[tid] = counts.get(tid, 0) + 1
        if not counts:
            return np.zeros(n, dtype=np.float32)
        terms = np.fromiter(counts, dtype=np.int64, count=len(counts))
        indptr = self.scores["indptr"]
        weight = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        return _accumulate(self.scores["data"], self.scores["indices"], indptr[terms], indptr[terms + 1], weight, n).astype(np.float32)


def load_bm25(directory: Path, mmap: bool = False):
    """A saved index for querying (:class:`BM25Index`; bm25s itself only for methods it alone knows)."""
    try:
        return BM25Index(directory, mmap=mmap)
    except ValueError:
        import bm25s

        model = bm25s.BM25.load(str(directory), mmap=mmap, show_progress=False, verbosity=0)
        model.hdyt_col_max = _col_max(model.scores["data"], model.scores["indptr"])
        return model


def load_tokens(directory: Path) -> TokenizedCorpus | None:
    """The cached token ids of a saved index (memory-mapped), or None for an index without them."""
    ids_path, offsets_path = directory / TOKEN_IDS, directory / TOKEN_OFFSETS
    if not (ids_path.is_file() and offsets_path.is_file()):
        return None
    vocab_dict = json.loads((directory / VOCAB).read_text(encoding="utf-8"))
    vocab = [""] * len(vocab_dict)
    for token, i in vocab_dict.items():
        vocab[i] = token
    if vocab and vocab[-1] == "" and vocab_dict.get("") == len(vocab) - 1:
        vocab.pop()  # bm25s's empty token, not a real one
    return TokenizedCorpus(vocab, np.load(ids_path, mmap_mode="r"), np.load(offsets_path))


# ---------------------------------------------------------------------------------------------
# Query

# Terms whose posting lists hold more than this share of the chunks are scored only for the
# candidates the rarer terms found, as long as that provably cannot change the top k (below).
_COMMON_SHARE = 0.05
_MIN_DOCS_FOR_PRUNING = 20_000


def bm25_top_k(model, query_tokens: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Chunk ids and scores of the ``k`` best-scoring chunks with a positive score.

    Exact, like scoring every chunk (``model.get_scores``), but faster on large indexes: terms
    found in most chunks ("y", "tế", "bệnh", "năm"…) carry a tiny idf, so their long posting lists
    are first left out; the rare terms rank candidates, the common terms' contributions are then
    looked up for the best candidates only, and the result is kept only if no chunk outside the
    candidates could still reach the top k (its best possible score is its rare-term score plus
    the common terms' largest scores, ``col_max``). Otherwise more candidates are taken, and at
    last every chunk is scored.
    """
    empty = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    vocab = model.vocab_dict
    counts: dict[int, int] = {}
    for token in query_tokens:
        tid = vocab.get(token)
        if tid is not None and token:
            counts[tid] = counts.get(tid, 0) + 1
    if not counts or k <= 0:
        return empty
    scores_ = model.scores
    data, indices, indptr, n = scores_["data"], scores_["indices"], scores_["indptr"], int(scores_["num_docs"])
    terms = np.fromiter(counts, dtype=np.int64, count=len(counts))
    weight = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
    starts, ends = np.asarray(indptr[terms]), np.asarray(indptr[terms + 1])
    df = ends - starts

    common = (df > _COMMON_SHARE * n) if n >= _MIN_DOCS_FOR_PRUNING else np.zeros(len(terms), dtype=bool)
    if common.any() and not common.all():
        col_max = getattr(model, "hdyt_col_max", None)
        if col_max is not None:
            result = _top_k_pruned(data, indices, starts, ends, weight, common, col_max[terms], n, k)
            if result is not None:
                return result
    scores = _accumulate(data, indices, starts, ends, weight, n)
    return _best(scores, None, k)


def _accumulate(data, indices, starts, ends, weight, n: int) -> np.ndarray:
    """Dense float64 scores of every chunk over the given terms' posting lists."""
    if len(starts) == 1:
        s, e = int(starts[0]), int(ends[0])
        return np.bincount(indices[s:e], weights=np.asarray(data[s:e], dtype=np.float64) * weight[0], minlength=n)
    idx = np.concatenate([indices[int(s) : int(e)] for s, e in zip(starts, ends)])
    w = np.concatenate([np.asarray(data[int(s) : int(e)], dtype=np.float64) * c for s, e, c in zip(starts, ends, weight)])
    return np.bincount(idx, weights=w, minlength=n)


def _best(scores: np.ndarray, ids: np.ndarray | None, k: int) -> tuple[np.ndarray, np.ndarray]:
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


def _top_k_pruned(data, indices, starts, ends, weight, common, common_max, n: int, k: int):
    rare = ~common
    partial = _accumulate(data, indices, starts[rare], ends[rare], weight[rare], n)
    bound = float((common_max[common] * weight[common]).sum())  # most the common terms can add
    c_starts, c_ends, c_weight = starts[common], ends[common], weight[common]
    n_candidates = max(4 * k, 200)
    while n_candidates < n // 4:
        part = np.argpartition(-partial, n_candidates)
        cand, outside_best = part[:n_candidates], float(partial[part[n_candidates]])
        cand = cand[partial[cand] > 0]
        cand.sort()
        cand_key = cand.astype(indices.dtype)  # same dtype as the postings: searchsorted copies neither
        full = partial[cand].copy()
        for s, e, c in zip(c_starts, c_ends, c_weight):
            postings = indices[int(s) : int(e)]
            pos = np.searchsorted(postings, cand_key)
            pos_c = np.minimum(pos, len(postings) - 1)
            hit = postings[pos_c] == cand_key
            full[hit] += c * np.asarray(data[int(s) + pos_c[hit]], dtype=np.float64)
        if len(full) >= k:
            kth = float(np.partition(-full, k - 1)[k - 1]) * -1
            # a chunk outside the candidates scores at most outside_best + bound; strict, so ties
            # at the cut (broken by id) cannot involve a chunk we did not score
            if outside_best + bound < kth:
                return _best(full, cand, k)
        elif outside_best <= 0:
            return None  # fewer than k chunks match the rare terms: score everything
        n_candidates *= 8
    return None
