"""BM25 over our Vietnamese syllable tokens: build, persist, query (bm25s's on-disk format).

Two indexes are kept: one on accented tokens (precise) and one on diacritic-folded tokens (so a
question typed without accents still matches). Files are bm25s's own (numpy ``.npy`` + JSON, no
pickle), loadable with ``bm25s.BM25.load``, plus ours beside them:

``doc_token_ids.npy`` / ``doc_token_offsets.npy``
    every chunk's token ids (in this index's vocabulary) end to end, and where each chunk starts:
    the next generation rebuilds BM25 from these without re-tokenising the chunks it keeps.
``vocab.*``
    the vocabulary as memory-mapped arrays (:mod:`rag.index.faiss.vocab`), read instead of the
    JSON one; an index written before them is read through its JSON vocabulary.
``impacts.*``
    a base segment's postings again, compact (uint8 codes + uint32 chunk ids, common terms as
    dense rows: :mod:`rag.index.faiss.impacts`): queries read these instead of the CSC arrays
    and get the same top k; an index without them (older, or a delta segment) reads the CSC ones.

Queries read the files with :class:`BM25Index` (numpy memory maps), so bm25s and scipy are
imported only when an index is built, not when the app starts.

The index is built with numpy in a few vectorised passes (sort by (term, chunk), count, score)
instead of bm25s's per-document Python loop; scores equal bm25s's "lucene" BM25 (k1=1.5, b=0.75),
which tests/test_dense.py checks against ``bm25s.BM25().index``.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.index.faiss.impacts import Impacts, Query, best_of, has_impacts, write_impacts
from rag.index.faiss.vocab import Vocabulary, has_vocabulary, save_vocabulary
from rag.text import tokenize, tokenize_folded

TOKENIZERS: dict[str, Callable[[str], list[str]]] = {"bm25": tokenize, "bm25_folded": tokenize_folded}
K1, B = 1.5, 0.75
TOKEN_IDS = "doc_token_ids.npy"
TOKEN_OFFSETS = "doc_token_offsets.npy"
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
    def from_tokens(cls, token_lists: Iterable[Sequence[str]], vocab: list[str] | None = None) -> TokenizedCorpus:
        """Encode token lists (any iterable: a generator keeps memory flat), extending a copy of ``vocab``.

        Ids go straight into a C int array: a million chunks hold ~10^8 tokens, which as Python
        lists of strings or ints would need tens of gigabytes.
        """
        vocab = list(vocab) if vocab is not None else []
        index = {t: i for i, t in enumerate(vocab)}
        flat = array("i")
        lengths = array("q")
        for tokens in token_lists:
            for token in tokens:
                tid = index.get(token)
                if tid is None:
                    tid = index[token] = len(vocab)
                    vocab.append(token)
                flat.append(tid)
            lengths.append(len(tokens))
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(np.frombuffer(lengths, dtype=np.int64), out=offsets[1:])
        ids = np.frombuffer(flat, dtype=np.int32).copy() if len(flat) else np.zeros(0, dtype=np.int32)
        return cls(vocab, ids, offsets)

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


def tokenize_corpus(texts: Iterable[str], tokenizer: Callable[[str], list[str]]) -> TokenizedCorpus:
    """Token ids of every text, tokenised one at a time (never all token lists at once)."""
    return TokenizedCorpus.from_tokens(tokenizer(t) for t in texts)


def idf(num_docs: int | np.ndarray, df: np.ndarray) -> np.ndarray:
    """bm25s's "lucene" idf."""
    return np.log(1 + (num_docs - df + 0.5) / (df + 0.5))


@dataclass
class Collection:
    """The generation a delta segment belongs to: its BM25 counts are the generation's, not its own.

    A generation may be a base segment, some of whose chunks are deleted, plus a small delta
    segment of chunks added since (:mod:`rag.store`). A fresh build would score with the document
    frequencies and chunk count of the live chunks; these give them without touching the base:
    a term's frequency is the base's, minus the deleted chunks' (``deleted_df``), plus the delta's.
    The average chunk length stays the base's until the next merge rewrites everything.
    """

    num_docs: int  # live chunks of the generation
    avg_len: float  # the base segment's average chunk length in tokens
    base: Any  # the base segment's BM25 (vocab_dict, scores["indptr"])
    deleted_df: dict[str, int]  # per term: deleted base chunks that hold it

    def df(self, tokens: Sequence[str], own: np.ndarray) -> np.ndarray:
        """Generation document frequencies of ``tokens`` whose frequencies in the delta are ``own``."""
        vocab, indptr = self.base.vocab_dict, self.base.scores["indptr"]
        base = np.array([_df(indptr, vocab.get(t)) - self.deleted_df.get(t, 0) for t in tokens], dtype=np.int64)
        return base + np.asarray(own, dtype=np.int64)


def _df(indptr, tid: int | None) -> int:
    return 0 if tid is None else int(indptr[tid + 1] - indptr[tid])


def build_bm25(
    texts: Sequence[str] | TokenizedCorpus,
    tokenizer: Callable[[str], list[str]] | None = None,
    collection: Collection | None = None,
):  # -> bm25s.BM25
    """Index chunks (texts in chunk-id order, tokenised with ``tokenizer``, or already tokenised)."""
    corpus = texts if isinstance(texts, TokenizedCorpus) else tokenize_corpus(texts, tokenizer or tokenize)
    return build_bm25_from_ids(corpus, collection)


def build_bm25_from_ids(corpus: TokenizedCorpus, collection: Collection | None = None):  # -> bm25s.BM25
    """A bm25s model (lucene BM25, k1=1.5, b=0.75) from token ids, in a few numpy passes.

    The vocabulary is compacted to the tokens that occur (ids of dropped chunks disappear); the
    compacted ids and offsets stay on the model (``model.hdyt_tokens``) for :func:`save_bm25`.
    With a ``collection`` (a delta segment), idf and length normalisation use its counts.
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
    keys = ids * max(n, 1) + doc_of
    compact_ids = ids.astype(np.int32)
    del ids, doc_of  # ~10^8 tokens at a million chunks: free what is no longer needed
    keys, tf = np.unique(keys, return_counts=True)
    term, doc = np.divmod(keys, max(n, 1))
    del keys
    df = np.bincount(term, minlength=n_vocab)
    if collection is None:
        weights = idf(n, df).astype(np.float32)  # float32 like bm25s
        avg_len = doc_len.mean() if n else 1.0
    else:
        weights = idf(collection.num_docs, collection.df(vocab, df)).astype(np.float32)
        avg_len = collection.avg_len
    tfc = tf / (K1 * ((1 - B) + B * doc_len[doc] / avg_len) + tf)
    data = (weights[term] * tfc).astype(np.float32)
    indptr = np.zeros(n_vocab + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])

    model = bm25s.BM25(k1=K1, b=B, method="lucene")
    model.scores = {"data": data, "indices": doc.astype(np.int32), "indptr": indptr, "num_docs": n}
    model.vocab_dict = {t: i for i, t in enumerate(vocab)}
    model.vocab_dict[""] = n_vocab  # bm25s's empty token, for parity with BM25.index()
    model.unique_token_ids_set = set(model.vocab_dict.values())
    model.nonoccurrence_array = None
    model.hdyt_tokens = TokenizedCorpus(vocab, compact_ids, np.asarray(corpus.offsets, dtype=np.int64))
    model.hdyt_idf = weights if collection is None else None  # a delta is scored from its CSC arrays
    return model


def save_bm25(model, directory: Path) -> None:
    model.save(str(directory), show_progress=False)
    save_vocabulary(model.vocab_dict, directory)
    tokens = getattr(model, "hdyt_tokens", None)
    if tokens is not None:
        np.save(directory / TOKEN_IDS, np.asarray(tokens.ids, dtype=np.int32))
        np.save(directory / TOKEN_OFFSETS, np.asarray(tokens.offsets, dtype=np.int64))
        weights = getattr(model, "hdyt_idf", None)
        if weights is not None:
            write_impacts(directory, model.scores["data"], model.scores["indices"], model.scores["indptr"], weights)


def add_impacts(directory: Path) -> bool:
    """Write the compact postings of a base segment saved before them (:mod:`rag.index.faiss.impacts`);
    False if it has them, or cannot have them (no token cache, scores not from our builder).

    ``directory`` must be the new generation's own (its other files may be links to the old).
    """
    if has_impacts(directory):
        return False
    params = json.loads((directory / "params.index.json").read_text(encoding="utf-8"))
    if params.get("method", "lucene") != "lucene":
        return False
    arrays = {name: np.load(directory / f"{name}.csc.index.npy", mmap_mode="r", allow_pickle=False) for name in ("data", "indices", "indptr")}
    indptr = np.asarray(arrays["indptr"], dtype=np.int64)
    weights = idf(int(params["num_docs"]), np.diff(indptr)).astype(np.float32)  # as the build computed them
    return write_impacts(directory, arrays["data"], arrays["indices"], indptr, weights)


class BM25Index:
    """A saved bm25s index read without importing bm25s (and scipy): its numpy arrays and vocabulary.

    Has what queries need, with bm25s's names: ``scores`` (the CSC arrays), ``vocab_dict`` (a
    :class:`~rag.index.faiss.vocab.Vocabulary`, or a dict for an index written before those
    files) and ``get_scores``. Loading is the app's cold-start path, and bm25s's import costs more
    than the arrays themselves when they are memory-mapped.
    """

    METHODS = ("lucene", "robertson", "atire")

    def __init__(self, directory: Path, params: dict[str, Any], mmap: bool = False) -> None:
        mode = "r" if mmap else None
        self.scores = {
            "data": np.load(directory / "data.csc.index.npy", mmap_mode=mode, allow_pickle=False),
            "indices": np.load(directory / "indices.csc.index.npy", mmap_mode=mode, allow_pickle=False),
            "indptr": np.load(directory / "indptr.csc.index.npy", mmap_mode=mode, allow_pickle=False),
            "num_docs": int(params["num_docs"]),
        }
        self.vocab_dict: Mapping[str, int] = read_vocabulary(directory)
        self.params = params
        # compact postings where the index has them (a base segment written or upgraded since)
        self.impacts = Impacts(directory) if params.get("method", "lucene") == "lucene" and has_impacts(directory) else None

    def get_scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every chunk for the tokens (repeats count, unknown tokens are ignored)."""
        return _scores(self, _term_counts(self.vocab_dict, query_tokens))


def _term_counts(vocab: Mapping[str, int], tokens: Sequence[str]) -> dict[str, int]:
    """How often each known token occurs in a query (bm25s counts repeats; "" is its padding)."""
    counts: dict[str, int] = {}
    for token in tokens:
        if token and token in vocab:
            counts[token] = counts.get(token, 0) + 1
    return counts


def _scores(model, counts: dict[str, int], weights: np.ndarray | None = None) -> np.ndarray:
    """float32 score of every chunk of ``model`` for the query terms ``counts`` (times ``weights``)."""
    n = int(model.scores["num_docs"])
    if not counts:
        return np.zeros(n, dtype=np.float32)
    terms = np.array([model.vocab_dict[t] for t in counts], dtype=np.int64)
    weight = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
    if weights is not None:
        weight = weight * weights
    indptr = model.scores["indptr"]
    return _accumulate(model.scores["data"], model.scores["indices"], indptr[terms], indptr[terms + 1], weight.astype(np.float32), n)


@dataclass
class SegmentedBM25:
    """A base segment's BM25, less its deleted chunks, plus a delta segment's: ranked as one index.

    Base scores were computed with the base's own idf; each query term's weight rescales them to
    the generation's (:class:`Collection`), which is what the delta was built with. Delta chunk
    ids follow the base's (``offset`` = the base's row count).
    """

    collection: Collection
    delta: Any | None  # the delta segment's BM25, or None when nothing was added since the base
    deleted: np.ndarray  # base chunk ids that no longer exist
    offset: int

    def get_scores(self, query_tokens: list[str]) -> np.ndarray:
        """Score of every chunk id, base then delta (deleted chunks score 0)."""
        base = self.collection.base
        counts = _term_counts(base.vocab_dict, query_tokens)
        tokens = list(counts)
        delta_df = np.zeros(len(tokens), dtype=np.int64)
        if self.delta is not None:
            delta_df[:] = [_df(self.delta.scores["indptr"], self.delta.vocab_dict.get(t)) for t in tokens]
        base_df = np.array([_df(base.scores["indptr"], base.vocab_dict[t]) for t in tokens], dtype=np.int64)
        rescale = idf(self.collection.num_docs, self.collection.df(tokens, delta_df)) / idf(int(base.scores["num_docs"]), base_df)
        scores = _scores(base, counts, rescale)
        scores[self.deleted] = 0
        if self.delta is None:
            return scores
        return np.concatenate([scores, _scores(self.delta, _term_counts(self.delta.vocab_dict, query_tokens))])


def read_vocabulary(directory: Path) -> Mapping[str, int]:
    """A saved index's token -> id map: the memory-mapped binary one, else (older indexes) its JSON."""
    if has_vocabulary(directory):
        return Vocabulary(directory)
    return json.loads((directory / VOCAB).read_text(encoding="utf-8"))


def add_binary_vocabulary(directory: Path) -> bool:
    """Write the binary vocabulary of an index saved before it (from its JSON); False if it had one.

    ``directory`` must be the new generation's own (its other files may be links to the old).
    """
    if has_vocabulary(directory):
        return False
    save_vocabulary(json.loads((directory / VOCAB).read_text(encoding="utf-8")), directory)
    return True


def load_bm25(directory: Path, mmap: bool = False):
    """A saved index for querying (:class:`BM25Index`; bm25s itself only for methods it alone knows)."""
    params = json.loads((directory / "params.index.json").read_text(encoding="utf-8"))
    if params.get("method", "lucene") in BM25Index.METHODS:
        return BM25Index(directory, params, mmap=mmap)
    import bm25s

    return bm25s.BM25.load(str(directory), mmap=mmap, show_progress=False, verbosity=0)


def collection_after(base_dir: Path, base, deleted: np.ndarray, num_docs: int) -> Collection | None:
    """The :class:`Collection` of a generation keeping base segment ``base_dir`` (BM25 ``base``) less ``deleted``.

    Reads the base's cached token offsets (the average length) and, for the deleted chunks only,
    their token ids: the cost follows the change, not the library. None if the cache is missing.
    """
    ids_path, offsets_path = base_dir / TOKEN_IDS, base_dir / TOKEN_OFFSETS
    if not (ids_path.is_file() and offsets_path.is_file()):
        return None
    offsets = np.load(offsets_path)
    n = len(offsets) - 1
    deleted_df: dict[str, int] = {}
    if len(deleted):
        part = TokenizedCorpus([], np.load(ids_path, mmap_mode="r"), offsets).take(np.asarray(deleted, dtype=np.int64))
        rows = np.repeat(np.arange(part.n_docs, dtype=np.int64), np.diff(part.offsets))
        pairs = np.unique(part.ids.astype(np.int64) * part.n_docs + rows)  # each term once per chunk
        terms, counts = np.unique(pairs // part.n_docs, return_counts=True)
        vocab = base.vocab_dict
        if isinstance(vocab, Vocabulary):  # decode only the deleted chunks' tokens
            deleted_df = {vocab.token(tid): n for tid, n in zip(terms.tolist(), counts.tolist())}
        else:
            wanted = dict(zip(terms.tolist(), counts.tolist()))
            deleted_df = {token: wanted[tid] for token, tid in vocab.items() if tid in wanted}
        deleted_df.pop("", None)
    return Collection(num_docs, float(offsets[-1]) / max(n, 1), base, deleted_df)


def load_tokens(directory: Path) -> TokenizedCorpus | None:
    """The cached token ids of a saved index (memory-mapped), or None for an index without them."""
    ids_path, offsets_path = directory / TOKEN_IDS, directory / TOKEN_OFFSETS
    if not (ids_path.is_file() and offsets_path.is_file()):
        return None
    vocab_dict = read_vocabulary(directory)
    if isinstance(vocab_dict, Vocabulary):
        vocab = vocab_dict.tokens()
    else:
        vocab = [""] * len(vocab_dict)
        for token, i in vocab_dict.items():
            vocab[i] = token
    if vocab and vocab[-1] == "" and vocab_dict.get("") == len(vocab) - 1:
        vocab.pop()  # bm25s's empty token, not a real one
    return TokenizedCorpus(vocab, np.load(ids_path, mmap_mode="r"), np.load(offsets_path))


# ---------------------------------------------------------------------------------------------
# Query


def bm25_top_k(model, query_tokens: list[str], k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Chunk ids and scores of the ``k`` best-scoring chunks with a positive score (ties by id).

    ``allowed`` (chunk ids) restricts the ranking to those rows (a filtered search): the top ``k``
    is chosen among their scores, not cut from the whole index's.

    Exact, like ranking ``model.get_scores(query_tokens)``. A segment with compact postings
    ranks through them (:meth:`rag.index.faiss.impacts.Impacts.top_k`, the same ids and scores);
    otherwise scoring is a float32 scatter-add over
    the query terms' posting lists (``np.add.at``: 3x faster than ``np.bincount`` on the long
    lists of common syllables); the top k is then chosen among the chunks scoring at least the
    k-th best score of a 1/16 slice of the index, a bound that only a few chunks pass, instead of
    partitioning all of them.
    """
    if k <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    if isinstance(model, SegmentedBM25):
        scores = model.get_scores(query_tokens)
    else:
        counts = _term_counts(model.vocab_dict, query_tokens)
        if not counts:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        impacts = getattr(model, "impacts", None)
        if impacts is not None:
            terms = np.array([model.vocab_dict[t] for t in counts], dtype=np.int64)
            return impacts.top_k(Query(terms, np.fromiter(counts.values(), dtype=np.float32, count=len(counts))), k, allowed)
        scores = _scores(model, counts)
    if allowed is not None:
        allowed = np.asarray(allowed, dtype=np.int64)
        return best_of(scores[allowed], allowed, k)
    return _top_k(scores, k)


def _accumulate(data, indices, starts, ends, weight, n: int) -> np.ndarray:
    """float32 score of every chunk: the sum over the terms of their posting lists' scores."""
    scores = np.zeros(n, dtype=np.float32)
    for s, e, w in zip(np.asarray(starts).tolist(), np.asarray(ends).tolist(), np.asarray(weight).tolist()):
        if e > s:
            np.add.at(scores, indices[s:e], data[s:e] if w == 1 else np.asarray(data[s:e]) * np.float32(w))
    return scores


_SLICE = 16  # the top k of 1/16 of the chunks bounds the overall k-th score from below
_MIN_FOR_SLICE = 50_000


def _top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    n = len(scores)
    if n >= _MIN_FOR_SLICE and k < n // _SLICE:
        part = scores[: n // _SLICE]
        bound = np.partition(part, len(part) - k)[len(part) - k]  # k-th largest of the slice
        cand = np.flatnonzero(scores >= bound)
        return best_of(scores[cand], cand, k)
    return best_of(scores, None, k)
