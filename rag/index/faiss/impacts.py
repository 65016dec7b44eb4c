"""Compact BM25 postings for queries: quantised impacts, common terms as dense rows, exact top k.

bm25s's CSC arrays spend 8 bytes a posting (float32 score + int32 chunk id), and the syllables
every Vietnamese question has ("của", "bệnh", "năm" ...) occur in most chunks: at a million chunks
the postings a day of queries touches stay resident, about a gigabyte. Beside those arrays (which
stay: bm25s still loads the index, and a delta segment is scored from them) each base segment's
BM25 directory holds:

``impacts.indptr.npy``  int64, V + 1: term ``t``'s postings are ``[indptr[t], indptr[t + 1])``
``impacts.docs.npy``    uint32: the chunk ids of those postings
``impacts.codes.npy``   uint8: ``round(score / step[t])``, at least 1
``impacts.step.npy``    float32, V: a term's highest score / 255
``impacts.rows.npy``    uint8, R x n: the codes of every chunk (0: absent) of the R terms in at
                        least 1/4 of the chunks, whose postings are left out of the lists above
``impacts.row_of.npy``  int32, V: a term's row there, -1 for a term kept as postings
``impacts.idf.npy``     float32, V: each term's idf weight as the build computed it
``impacts.error.npy``   float32, V: the most a term's decoded score is off by (half a step, or
                        a whole one where a tiny score was rounded up to code 1)
``impacts.json``        chunk count and the average chunk length the scores were built with

A posting costs 5 bytes, a common term 1 byte a chunk whatever its frequency (5x less than its
postings at df = n). Scoring adds the codes times their step over the query's terms; each score
is then off by at most the sum over the query's terms of their error (times repeats): the *bound*. The top k is
made exact again: the best few candidates by approximate score are rescored exactly from their
token ids (``doc_token_ids.npy``, read with ``os.pread`` so they stay out of the process's resident
memory) with the build's own formula and float32 arithmetic in the same order, so their scores
equal the CSC ones bit for bit; the candidates suffice once the k-th exact score beats every
approximate score left out plus the bound, else the candidates double. Files are only written when
that formula reproduces a sample of the stored CSC scores exactly (an index bm25s built itself may
round differently): without them queries read the CSC arrays as before.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

K1, B = 1.5, 0.75  # bm25s "lucene", as rag.index.faiss.sparse builds
LEVELS = 255
DENSE_SHARE = 4  # a term in at least n / 4 chunks is stored as a row of n codes
MIN_CANDIDATES = 16
PARAMS = "impacts.json"
FILES = ("impacts.indptr.npy", "impacts.docs.npy", "impacts.codes.npy", "impacts.step.npy", "impacts.rows.npy", "impacts.row_of.npy", "impacts.idf.npy", "impacts.error.npy", PARAMS)
TOKEN_IDS = "doc_token_ids.npy"
TOKEN_OFFSETS = "doc_token_offsets.npy"
_CHECKED = 4096  # stored scores checked against the formula before the files are written
_BLOCK = 1 << 22  # postings quantised per pass (bounded temporary memory at a million chunks)


def has_impacts(directory: Path) -> bool:
    return all((directory / name).is_file() for name in FILES)


def term_scores(idf_t: np.float32, tf: np.ndarray, doc_len: np.ndarray, avg_len: float) -> np.ndarray:
    """float32 BM25 scores of one term for chunks with term frequencies ``tf`` and lengths ``doc_len``
    (int64), computed exactly as :func:`rag.index.faiss.sparse.build_bm25_from_ids` does."""
    tfc = tf / (K1 * ((1 - B) + B * doc_len / avg_len) + tf)
    return (idf_t * tfc).astype(np.float32)


class TokenRows:
    """Chunks' token ids from a segment's token cache, read with ``os.pread`` (offsets in memory)."""

    def __init__(self, directory: Path) -> None:
        path = directory / TOKEN_IDS
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(fh)
            self.offset = fh.tell()
        if dtype != np.int32 or len(shape) != 1:
            raise ValueError(f"{path}: expected int32 token ids, got {dtype} {shape}")
        # memory-mapped: opening reads nothing, a query touches two pages per candidate
        self.offsets = np.asarray(np.load(directory / TOKEN_OFFSETS, mmap_mode="r", allow_pickle=False))
        if self.offsets.dtype != np.int64 or int(self.offsets[-1]) != shape[0]:
            raise ValueError(f"{path}: {shape[0]} token ids, offsets announce {int(self.offsets[-1])}")
        self._file = open(path, "rb", buffering=0)  # a file object: closed when the index is dropped
        self._fd = self._file.fileno()

    @property
    def lengths(self) -> np.ndarray:
        """Every chunk's length in tokens."""
        return np.diff(self.offsets)

    def lengths_of(self, chunks: np.ndarray) -> np.ndarray:
        chunks = np.asarray(chunks, dtype=np.int64)
        return self.offsets[chunks + 1] - self.offsets[chunks]

    def read(self, chunks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(token ids of ``chunks`` end to end, the position in ``chunks`` each comes from)."""
        parts = []
        for c in np.asarray(chunks, dtype=np.int64).tolist():
            start, end = int(self.offsets[c]), int(self.offsets[c + 1])
            parts.append(np.frombuffer(os.pread(self._fd, 4 * (end - start), self.offset + 4 * start), dtype=np.int32))
        lengths = [len(p) for p in parts]
        ids = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
        return ids, np.repeat(np.arange(len(parts)), lengths)

    def close(self) -> None:
        self._file.close()


def write_impacts(directory: Path, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, weights: np.ndarray) -> bool:
    """Write the compact postings of a saved base segment's BM25 (its CSC arrays and token cache).

    ``weights`` are the float32 idf weights of the build (recomputed the same way for an index
    upgraded in place). False, and nothing written, when the directory has no token cache or the
    formula does not reproduce the stored scores.
    """
    if not ((directory / TOKEN_IDS).is_file() and (directory / TOKEN_OFFSETS).is_file()):
        return False
    tokens = TokenRows(directory)
    try:
        doc_len = tokens.lengths
        n = len(doc_len)
        n_terms = len(indptr) - 1
        df = np.diff(np.asarray(indptr, dtype=np.int64))
        avg_len = float(doc_len.mean()) if n else 1.0
        weights = np.asarray(weights, dtype=np.float32)
        if len(weights) != n_terms or not _formula_holds(tokens, data, indices, indptr, weights, avg_len):
            return False
    finally:
        tokens.close()
    step = np.zeros(n_terms, dtype=np.float32)
    present = np.flatnonzero(df > 0)
    if len(present):
        step[present] = np.maximum.reduceat(np.asarray(data), np.asarray(indptr[:-1])[present]) / np.float32(LEVELS)
    step[step <= 0] = np.float32(1.0)  # a term without postings (or only zero scores) is never scored
    error = np.zeros(n_terms, dtype=np.float32)  # per term, the most a decoded score is off by
    dense = np.flatnonzero(df * DENSE_SHARE >= max(n, 1)) if n else np.zeros(0, dtype=np.int64)
    row_of = np.full(n_terms, -1, dtype=np.int32)
    row_of[dense] = np.arange(len(dense), dtype=np.int32)
    kept_df = df.copy()
    kept_df[dense] = 0
    new_indptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(kept_df, out=new_indptr[1:])
    docs = np.lib.format.open_memmap(directory / "impacts.docs.npy", mode="w+", dtype=np.uint32, shape=(int(new_indptr[-1]),))
    codes = np.lib.format.open_memmap(directory / "impacts.codes.npy", mode="w+", dtype=np.uint8, shape=(int(new_indptr[-1]),))
    rows = np.lib.format.open_memmap(directory / "impacts.rows.npy", mode="w+", dtype=np.uint8, shape=(len(dense), n))
    rows[:] = 0
    # quantise block by block of whole terms: temporaries stay a few tens of MB
    start_term = 0
    while start_term < n_terms:
        end_term = int(np.searchsorted(indptr, indptr[start_term] + _BLOCK, side="right")) - 1
        end_term = min(n_terms, max(end_term, start_term + 1))
        lo, hi = int(indptr[start_term]), int(indptr[end_term])
        block_df = df[start_term:end_term]
        block_steps = np.repeat(step[start_term:end_term], block_df)
        block_data = np.asarray(data[lo:hi])
        block_codes = _quantise(block_data, block_steps)
        off = np.abs(block_codes * block_steps.astype(np.float64) - block_data)
        nonempty = np.flatnonzero(block_df > 0)
        if len(nonempty):
            error[start_term + nonempty] = np.maximum.reduceat(off, (indptr[start_term:end_term] - lo)[nonempty])
        block_docs = np.asarray(indices[lo:hi])
        sparse_mask = np.repeat(row_of[start_term:end_term] < 0, block_df)
        out_lo = int(new_indptr[start_term])
        out_hi = int(new_indptr[end_term])
        docs[out_lo:out_hi] = block_docs[sparse_mask]
        codes[out_lo:out_hi] = block_codes[sparse_mask]
        for t in range(start_term, end_term):
            if row_of[t] >= 0:
                s, e = int(indptr[t]) - lo, int(indptr[t + 1]) - lo
                rows[row_of[t], block_docs[s:e]] = block_codes[s:e]
        start_term = end_term
    for array in (docs, codes, rows):
        array.flush()
    del docs, codes, rows
    np.save(directory / "impacts.indptr.npy", new_indptr)
    np.save(directory / "impacts.step.npy", step)
    np.save(directory / "impacts.row_of.npy", row_of)
    np.save(directory / "impacts.idf.npy", weights)
    np.save(directory / "impacts.error.npy", error)
    (directory / PARAMS).write_text(json.dumps({"num_docs": n, "avg_len": avg_len, "levels": LEVELS}), encoding="utf-8")
    return True


def _quantise(scores: np.ndarray, step: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(scores / step), 1, LEVELS).astype(np.uint8)


def _formula_holds(tokens: TokenRows, data, indices, indptr, weights: np.ndarray, avg_len: float) -> bool:
    """Whether :func:`term_scores` gives the stored score of a deterministic sample of postings."""
    total = int(indptr[-1])
    if total == 0:
        return True
    picks = np.unique(np.random.default_rng(0).integers(0, total, min(_CHECKED, total)))
    terms = np.searchsorted(np.asarray(indptr), picks, side="right") - 1
    chunks = np.asarray(indices[picks]).astype(np.int64)
    ids, owner = tokens.read(chunks)
    tf = np.bincount(owner[ids == terms[owner]], minlength=len(picks)).astype(np.int64)
    lengths = tokens.lengths_of(chunks)
    expected = np.array([term_scores(weights[t], tf[i : i + 1], lengths[i : i + 1], avg_len)[0] for i, t in enumerate(terms.tolist())], dtype=np.float32)
    return bool(np.array_equal(expected, np.asarray(data[picks], dtype=np.float32)))


@dataclass
class Query:
    """A query's known terms (ids, in first-occurrence order) and their repeats."""

    terms: np.ndarray  # int64
    repeats: np.ndarray  # float32


class Impacts:
    """A segment's compact postings, memory-mapped, and its token cache for the exact last step."""

    def __init__(self, directory: Path) -> None:
        def load(name: str) -> np.ndarray:
            # plain ndarray views of the maps: numpy's memmap subclass costs microseconds per slice
            return np.asarray(np.load(directory / name, mmap_mode="r", allow_pickle=False))

        params = json.loads((directory / PARAMS).read_text(encoding="utf-8"))
        self.n, self.avg_len = int(params["num_docs"]), float(params["avg_len"])
        self.indptr, self.docs, self.codes = load("impacts.indptr.npy"), load("impacts.docs.npy"), load("impacts.codes.npy")
        self.step, self.rows, self.row_of = load("impacts.step.npy"), load("impacts.rows.npy"), load("impacts.row_of.npy")
        self.idf, self.error = load("impacts.idf.npy"), load("impacts.error.npy")
        self.tokens = TokenRows(directory)
        if len(self.tokens.offsets) != self.n + 1 or self.rows.shape[1:] != (self.n,):
            raise ValueError(f"impact files of {directory} disagree: {self.n} chunks, rows {self.rows.shape}, {len(self.tokens.offsets) - 1} token lists")

    def approximate(self, query: Query) -> tuple[np.ndarray, float]:
        """float32 approximate score of every chunk, and the most any of them is off by."""
        scores = np.zeros(self.n, dtype=np.float32)
        scratch = None
        bound = 0.0
        for t, r in zip(query.terms.tolist(), query.repeats.tolist()):
            scale = np.float32(self.step[t] * np.float32(r))
            bound += float(self.error[t]) * r
            row = int(self.row_of[t])
            if row >= 0:
                scratch = np.multiply(self.rows[row], scale, out=scratch, dtype=np.float32)
                scores += scratch
            else:
                s, e = int(self.indptr[t]), int(self.indptr[t + 1])
                if e > s:
                    np.add.at(scores, self.docs[s:e], self.codes[s:e] * scale)
        # float32 sums of up to a few dozen terms: allow their rounding too
        return scores, bound * (1 + 1e-5) + float(len(query.terms)) * 4e-7 * max(float(scores.max(initial=0.0)), 1.0)

    def exact(self, query: Query, chunks: np.ndarray) -> np.ndarray:
        """The CSC scores of ``chunks``, bit for bit: build formula, float32 sums in term order."""
        ids, owner = self.tokens.read(chunks)
        lengths = self.tokens.lengths_of(chunks)
        out = np.zeros(len(chunks), dtype=np.float32)
        n_terms = len(query.terms)
        if not n_terms or not len(chunks):
            return out
        # every candidate's frequency of every query term in one pass over their tokens
        order = np.argsort(query.terms)
        ranked = query.terms[order]
        at = np.minimum(np.searchsorted(ranked, ids), n_terms - 1)
        hit = ranked[at] == ids
        counts = np.bincount(owner[hit] * n_terms + order[at[hit]], minlength=len(chunks) * n_terms).reshape(len(chunks), n_terms)
        for j, (t, r) in enumerate(zip(query.terms.tolist(), query.repeats.tolist())):  # the CSC path's order
            tf = counts[:, j].astype(np.int64)
            contribution = term_scores(self.idf[t], tf, lengths, self.avg_len)
            contribution[tf == 0] = 0
            out += contribution if r == 1 else contribution * np.float32(r)
        return out

    def top_k(self, query: Query, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The exact top ``k`` (positive scores, ties by id), of ``allowed`` rows only when given."""
        scores, bound = self.approximate(query)
        ids = None
        if allowed is not None:
            ids = np.asarray(allowed, dtype=np.int64)
            scores = scores[ids]
        positive = int(np.count_nonzero(scores > 0))
        want = max(MIN_CANDIDATES, 2 * k)
        while True:
            if want >= positive:  # every scoring chunk is a candidate: exact by construction
                cand = np.flatnonzero(scores > 0)
                rows = cand if ids is None else ids[cand]
                return best_of(self.exact(query, rows), rows, k)
            cand = _largest(scores, want + 1)  # the best ``want`` and the next one
            order = np.argsort(-scores[cand], kind="stable")
            cand, left_out = cand[order[:want]], float(scores[cand[order[want]]])
            rows = cand if ids is None else ids[cand]
            exact = self.exact(query, rows)
            top_rows, top_scores = best_of(exact, rows, k)
            if len(top_scores) == k and float(top_scores[-1]) > left_out + bound:  # no chunk left out can reach it
                return top_rows, top_scores
            want *= 2


_SLICE = 16  # the m-th best of 1/16 of the chunks bounds the overall m-th best from below
_MIN_FOR_SLICE = 50_000


def _largest(scores: np.ndarray, m: int) -> np.ndarray:
    """Positions of the ``m`` largest scores (any order; ``m < len(scores)``), partitioning only
    the chunks at least as good as the ``m``-th best of a slice, not all of them."""
    pool = None
    n = len(scores)
    if n >= _MIN_FOR_SLICE and m < n // _SLICE:
        part = scores[: n // _SLICE]
        pool = np.flatnonzero(scores >= np.partition(part, len(part) - m)[len(part) - m])
    values = scores if pool is None else scores[pool]
    top = np.argpartition(-values, m - 1)[:m]
    return top if pool is None else pool[top]


def best_of(scores: np.ndarray, ids: np.ndarray | None, k: int) -> tuple[np.ndarray, np.ndarray]:
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
