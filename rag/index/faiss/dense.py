"""The FAISS index over passage vectors: exact inner product below a size threshold, approximate above.

Vectors are L2-normalised, so inner product is cosine similarity. FAISS writes its own binary
format (``faiss.write_index``), never pickle.

Kinds (``Settings.dense_index``; "auto" picks with :func:`choose_kind`):

``flat``  exact search over every vector. Best below ``approx_threshold`` chunks; holds the
          vectors in memory (1.5 KB per chunk).
``ivf``   the chosen approximate index, three stages. (1) IVF with 4-bit product-quantised codes
          scanned with SIMD "fast-scan" (``IVF<nlist>,PQ<d/2>x4fs``, 96 B per chunk) proposes
          4,096 candidates from a quarter of its lists; (2) 6-bit scalar-quantised codes of every
          vector (``Refine(SQ6)``, 288 B per chunk) keep the best 64; (3) the exact stored vectors
          (``vectors.npy``, read row by row, :class:`rag.store.VectorRows`) order those. e5 vectors
          all lie in a narrow cone, so the true neighbours' scores differ in the third decimal:
          even 8-bit codes alone cap recall@10 near 0.94, while with the exact last step 6-bit
          codes do as well as 8-bit ones (0.97-0.99 at a million chunks, ~10 ms, ~400 MB in
          memory; bench/). Unlike HNSW it trains in about two
          minutes at a million chunks on 2 cores and supports removing and renumbering vectors, so
          a new generation updates the previous index instead of rebuilding it
          (:func:`update_dense_index`). Tiny indexes (under ``PQ_MIN_TRAIN`` vectors, too few to
          train the codebooks) use plain ``IVF<nlist>,Flat`` lists instead.
``hnsw``  HNSW graph (M=32) over full vectors; kept for those who ask for it. It searches fast
          (recall@10 0.97 at efSearch 256 on 100k synthetic chunks) but took ~10 minutes to
          build 100k chunks on our loaded 2-core machine (hours at a million), holds the full
          vectors plus the graph, and cannot delete, so any change but an append rebuilds it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

KINDS = ("flat", "ivf", "hnsw")
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256

# IVF: about 4·√n lists (a power of two, 64…8192), trained on at most 32 vectors a list (k-means
# on 131k vectors at a million chunks: about a minute on 2 cores), probing a quarter of them. On
# vectors that follow the real embeddings' distribution (bench/synthetic.py), at a million chunks
# (4,096 lists), with the exact last step, recall@10 is 0.873 at 256 probes, 0.952 at 512, 0.985
# at 768, 0.992 at 1,024 and 0.996 at 1,366 (a third), each step up costing a few ms a query: e5
# vectors all lie in a narrow cone, so a query's neighbours spread over many lists. A quarter
# keeps a margin over 0.95 for the real vectors' spread.
IVF_MIN_LISTS = 64
IVF_MAX_LISTS = 8192
IVF_TRAIN_PER_LIST = 32
IVF_PROBE_SHARE = 1 / 4
IVF_MIN_PROBES = 16
IVF_RETRAIN_FACTOR = 4  # retrain when the index outgrew (or shrank below) its lists by this factor
PQ_MIN_TRAIN = 1024  # fewer vectors than this cannot train 4-bit codebooks: plain IVF lists instead
FASTSCAN_CANDIDATES = 4096  # stage 1 -> 2: candidates the 4-bit codes propose
EXACT_RERANK = 64  # stage 2 -> 3: candidates whose stored vectors decide the final order
EXACT_ALLOWED = 1024  # a filtered approximate search scores up to this many allowed rows exactly (a few ms)


def choose_kind(n_vectors: int, requested: str, threshold: int) -> str:
    """``requested`` unless it is "auto": then exact "flat" below ``threshold`` vectors, else "ivf"."""
    if requested != "auto":
        if requested not in KINDS:
            raise ValueError(f"unknown dense index kind {requested!r} ({', '.join(KINDS)})")
        return requested
    return "flat" if n_vectors < threshold else "ivf"


def ivf_lists(n_vectors: int) -> int:
    """Number of IVF lists for ``n_vectors``: a power of two near 4·√n."""
    target = max(1.0, 4 * math.sqrt(max(n_vectors, 1)))
    return int(min(IVF_MAX_LISTS, max(IVF_MIN_LISTS, 2 ** round(math.log2(target)))))


def ivf_probes(nlist: int) -> int:
    return int(min(nlist, max(IVF_MIN_PROBES, math.ceil(nlist * IVF_PROBE_SHARE))))


def build_dense_index(vectors: np.ndarray, kind: str = "flat", seed: int = 1234):  # -> faiss.Index
    """A FAISS inner-product index of ``kind`` ("flat", "ivf" or "hnsw") holding ``vectors``."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = vectors.shape[1]
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    elif kind == "ivf":
        index = _trained_ivf(vectors, seed)
    else:
        raise ValueError(f"unknown dense index kind {kind!r} ({', '.join(KINDS)})")
    if len(vectors):
        if kind == "ivf":
            _add_to_ivf(index, vectors, np.arange(len(vectors), dtype=np.int64), vectors)
        else:
            index.add(vectors)
    return index


def _trained_ivf(vectors: np.ndarray, seed: int):
    import faiss

    dim = vectors.shape[1]
    nlist = _lists_to_train(len(vectors))
    n_train = min(len(vectors), IVF_TRAIN_PER_LIST * nlist)
    if n_train < len(vectors):
        sample = np.random.default_rng(seed).choice(len(vectors), n_train, replace=False)
        train = vectors[np.sort(sample)]
    else:
        train = vectors
    if len(train) == 0:
        train = np.zeros((1, dim), dtype=np.float32)
    if len(vectors) >= PQ_MIN_TRAIN and dim % 2 == 0:
        base = faiss.index_factory(dim, f"IVF{nlist},PQ{dim // 2}x4fs", faiss.METRIC_INNER_PRODUCT)
        refine = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_6bit, faiss.METRIC_INNER_PRODUCT)
        index = faiss.IndexRefine(base, refine)  # keeps Python references to both parts
    else:
        index = faiss.index_factory(dim, f"IVF{nlist},Flat", faiss.METRIC_INNER_PRODUCT)
    ivf = faiss.extract_index_ivf(index)
    ivf.cp.seed = seed
    index.train(train)
    ivf.nprobe = ivf_probes(nlist)
    return index


def _add_to_ivf(index, new_vectors: np.ndarray, ids: np.ndarray, all_vectors: np.ndarray) -> None:
    """Add ``new_vectors`` under ``ids`` to an IVF index, refreshing its refine codes if it has them.

    The refine codes are positional (code ``i`` is chunk ``i``), so they are re-encoded from
    ``all_vectors``, the whole next generation: scalar codes encode a million vectors in about a
    second, far less than the IVF's training and encoding that an update avoids.
    """
    import faiss

    ivf = faiss.extract_index_ivf(index)
    if len(new_vectors):
        ivf.add_with_ids(np.ascontiguousarray(new_vectors, dtype=np.float32), ids.astype(np.int64))
    if isinstance(index, faiss.IndexRefine):
        refine = faiss.downcast_index(index.refine_index)
        refine.reset()
        refine.add(np.ascontiguousarray(all_vectors, dtype=np.float32))
        index.ntotal = ivf.ntotal


def update_dense_index(index, kind: str, old_to_new: np.ndarray, vectors: np.ndarray, new_rows: np.ndarray):
    """The previous generation's ``index`` changed in place into the next one, or None to rebuild.

    ``old_to_new[i]`` is the new id of old vector ``i`` (-1: dropped); ``new_rows`` are the ids
    of vectors that are new, whose values are ``vectors[new_rows]``. An IVF index drops, renumbers
    and adds in time proportional to the change plus one pass over its ids; HNSW only appends;
    flat is always rebuilt (that is a copy of the vectors, as fast as any update).
    """
    import faiss

    n_new = len(old_to_new[old_to_new >= 0]) + len(new_rows)
    if index.ntotal != len(old_to_new) or index.d != vectors.shape[1]:
        return None
    if kind == "ivf" and _is_ivf(index):
        ivf = faiss.extract_index_ivf(index)
        if not _ivf_fits(ivf.nlist, n_new):
            return None
        dropped = np.flatnonzero(old_to_new < 0)
        if len(dropped):
            ivf.remove_ids(faiss.IDSelectorBatch(dropped.astype(np.int64)))
        if len(dropped) or not np.array_equal(old_to_new, np.arange(len(old_to_new))):
            _renumber_ivf(ivf, old_to_new)
        _add_to_ivf(index, vectors[new_rows], new_rows, vectors)
        ivf.nprobe = ivf_probes(ivf.nlist)
        return index
    if kind == "hnsw" and isinstance(index, faiss.IndexHNSW):
        appended = np.array_equal(old_to_new, np.arange(len(old_to_new)))
        if not appended or not np.array_equal(new_rows, np.arange(len(old_to_new), n_new)):
            return None
        if len(new_rows):
            index.add(np.ascontiguousarray(vectors[new_rows], dtype=np.float32))
        return index
    return None


def _is_ivf(index) -> bool:
    import faiss

    return isinstance(index, faiss.IndexIVF) or (
        isinstance(index, faiss.IndexRefine) and isinstance(faiss.downcast_index(index.base_index), faiss.IndexIVF)
    )


def _lists_to_train(n_vectors: int) -> int:
    """:func:`ivf_lists`, but at least 4 vectors a list for tiny indexes."""
    return max(1, min(ivf_lists(n_vectors), n_vectors // 4))


def _ivf_fits(nlist: int, n_vectors: int) -> bool:
    """Whether an IVF trained with ``nlist`` lists still suits ``n_vectors`` (else retrain)."""
    wanted = _lists_to_train(n_vectors)
    return wanted <= nlist * IVF_RETRAIN_FACTOR and nlist <= wanted * IVF_RETRAIN_FACTOR


def _renumber_ivf(index, old_to_new: np.ndarray) -> None:
    """Rewrite the ids stored in every inverted list of the IVF ``index`` through ``old_to_new``."""
    import faiss

    mapping = np.asarray(old_to_new, dtype=np.int64)
    invlists = index.invlists
    for list_no in range(invlists.nlist):
        size = invlists.list_size(list_no)
        if size == 0:
            continue
        ptr = invlists.get_ids(list_no)
        ids = faiss.rev_swig_ptr(ptr, size)
        ids[:] = mapping[ids]
        invlists.release_ids(list_no, ptr)


def save_dense(index, path: Path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def load_dense(path: Path):
    """Read a saved index into memory.

    Not memory-mapped: searches touch every vector of a flat index and a quarter of an IVF's lists
    plus scattered refine codes, so mapping saves little, and FAISS's mapped reader ended up
    holding more than a plain read (a million chunks: 505 vs 400 MB resident, bench/), with a
    slow first pass while pages come in.
    """
    import faiss

    index = faiss.read_index(str(path))
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    if _is_ivf(index):
        ivf = faiss.extract_index_ivf(index)
        ivf.nprobe = ivf_probes(ivf.nlist)
    return index


def dense_kind(index) -> str:
    """The kind name of a loaded index."""
    import faiss

    if _is_ivf(index):
        return "ivf"
    if isinstance(index, faiss.IndexHNSW):
        return "hnsw"
    return "flat"


def excluding(ids: np.ndarray):  # -> faiss.IDSelector
    """A FAISS selector of every id but ``ids`` (the deleted chunks of a base segment, rag.store)."""
    import faiss

    batch = faiss.IDSelectorBatch(np.ascontiguousarray(ids, dtype=np.int64))
    selector = faiss.IDSelectorNot(batch)
    selector.batch = batch  # the C++ selector holds a bare pointer: keep the Python object alive
    return selector


def including(ids: np.ndarray):  # -> faiss.IDSelector
    """A FAISS selector of ``ids`` only (the rows a filtered search may return, :mod:`rag.retrieval.filters`)."""
    import faiss

    return faiss.IDSelectorBatch(np.ascontiguousarray(ids, dtype=np.int64))


def _search_params(index, fetch: int, exclude):  # -> faiss.SearchParameters | None
    """Per-call parameters (so concurrent searches share nothing): refine depth and the selector."""
    import faiss

    if exclude is None:
        inner = None
    elif _is_ivf(index):
        inner = faiss.SearchParametersIVF(sel=exclude, nprobe=faiss.extract_index_ivf(index).nprobe)
    elif isinstance(index, faiss.IndexHNSW):
        inner = faiss.SearchParametersHNSW(sel=exclude, efSearch=index.hnsw.efSearch)
    else:
        inner = faiss.SearchParameters(sel=exclude)
    if isinstance(index, faiss.IndexRefine):
        k_factor = max(1.0, FASTSCAN_CANDIDATES / fetch)
        if inner is None:
            return faiss.IndexRefineSearchParameters(k_factor=k_factor)
        return faiss.IndexRefineSearchParameters(k_factor=k_factor, base_index_params=inner)
    return inner


def dense_top_k(
    index, query_vector: np.ndarray, k: int, vectors: Any = None, exclude=None, allowed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Chunk ids and cosine scores of the ``k`` nearest passages (never ids ``exclude`` leaves out).

    ``allowed`` (sorted ids, deleted ones already left out) restricts the search to those rows: a
    flat index searches with an ID selector; an approximate one scores a few allowed rows exactly
    from ``vectors`` (its lists may hold none of them near the query), many through a selector,
    and exactly as well when that finds fewer than ``k``: a filtered search returns ``k`` hits
    whenever ``k`` rows are allowed.

    ``vectors`` (the generation's stored vectors: an array, or :class:`rag.store.VectorRows`,
    anything where ``vectors[ids]`` gives their rows) lets an approximate index end with exact
    scores: it proposes ``EXACT_RERANK`` candidates, their stored vectors decide the order. One query runs on one OpenMP thread: FAISS would split a flat scan over all cores, and
    on a busy machine waiting for the slowest of them made it 3-4 times slower (bench/). The
    thread count is OpenMP's per-thread setting, restored afterwards, so concurrent builds keep
    theirs.
    """
    import faiss

    if index.ntotal == 0 or k <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    query = np.ascontiguousarray(query_vector.reshape(1, -1), dtype=np.float32)
    if allowed is not None:
        allowed = np.asarray(allowed, dtype=np.int64)
        exact = vectors is not None and dense_kind(index) != "flat"
        if not len(allowed) or (exact and len(allowed) <= EXACT_ALLOWED):
            return _exact_top_k(vectors, allowed, query[0], k)
        ids, scores = dense_top_k(index, query_vector, k, vectors, exclude=including(allowed))
        if exact and len(ids) < min(k, len(allowed)):
            return _exact_top_k(vectors, allowed, query[0], k)
        return ids, scores
    rerank = vectors is not None and isinstance(index, faiss.IndexRefine)
    fetch = min(max(k, EXACT_RERANK) if rerank else k, index.ntotal)
    params = _search_params(index, fetch, exclude)
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        scores, ids = index.search(query, fetch, params=params)
    finally:
        faiss.omp_set_num_threads(threads)
    ids, scores = ids[0][ids[0] >= 0].astype(np.int64), scores[0][ids[0] >= 0]
    if rerank and len(ids):
        rows = np.sort(ids)  # ascending offsets: reads in file order
        exact = np.asarray(vectors[rows], dtype=np.float32) @ query[0]
        order = np.lexsort((rows, -exact))[:k]
        return rows[order], exact[order]
    return ids[:k], scores[:k]


def _exact_top_k(vectors: Any, rows: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best of ``rows`` (sorted ids) by exact cosine with ``query``, ties by id."""
    if not len(rows) or k <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    exact = np.asarray(vectors[rows], dtype=np.float32) @ query
    order = np.lexsort((rows, -exact))[:k]
    return rows[order], exact[order]
