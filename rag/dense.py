"""The FAISS index over passage vectors: exact inner product below a size threshold, approximate above.

Vectors are L2-normalised, so inner product is cosine similarity. FAISS writes its own binary
format (``faiss.write_index``), never pickle.

Kinds (``Settings.dense_index``; "auto" picks with :func:`choose_kind`):

``flat``  exact search over every vector. Best below ``approx_threshold`` chunks; holds the
          vectors in memory (1.5 KB per chunk).
``ivf``   IVF with 8-bit scalar-quantised codes (``IVF<nlist>,SQ8``, 384 B per chunk), the chosen
          approximate index: trains in minutes at a million chunks on 2 cores, probes a fixed
          share of its lists (recall@10 ≥ 0.95 against exact search on vectors that follow the
          real embeddings' distribution, see bench/), holds a quarter of flat's memory, and,
          unlike HNSW, supports removing and renumbering vectors, so a new generation updates
          the previous index instead of rebuilding it (:func:`update_dense_index`).
``hnsw``  HNSW graph (M=32) over full vectors; kept for those who ask for it. It searches fast
          (recall@10 0.97 at efSearch 256 on 100k synthetic chunks) but took ~10 minutes to
          build 100k chunks on our loaded 2-core machine (hours at a million), holds the full
          vectors plus the graph, and cannot delete, so any change but an append rebuilds it.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

KINDS = ("flat", "ivf", "hnsw")
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256

# IVF: about 4·√n lists (a power of two, 64…8192), trained on at most 32 vectors a list (k-means
# on 131k vectors at a million chunks: a few minutes on 2 cores), probing a quarter of them. On
# vectors that follow the real embeddings' distribution (bench/synthetic.py) recall@10 against
# exact search is 0.94 probing 1/8 of the lists at a million chunks and 0.96 probing 1/4: e5
# vectors all lie in a narrow cone, so a query's neighbours spread over many lists.
IVF_MIN_LISTS = 64
IVF_MAX_LISTS = 8192
IVF_TRAIN_PER_LIST = 32
IVF_PROBE_SHARE = 1 / 4
IVF_MIN_PROBES = 16
IVF_RETRAIN_FACTOR = 4  # retrain when the index outgrew (or shrank below) its lists by this factor


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
            index.add_with_ids(vectors, np.arange(len(vectors), dtype=np.int64))
        else:
            index.add(vectors)
    return index


def _trained_ivf(vectors: np.ndarray, seed: int):
    import faiss

    dim = vectors.shape[1]
    nlist = _lists_to_train(len(vectors))
    index = faiss.index_factory(dim, f"IVF{nlist},SQ8", faiss.METRIC_INNER_PRODUCT)
    n_train = min(len(vectors), IVF_TRAIN_PER_LIST * nlist)
    if n_train < len(vectors):
        sample = np.random.default_rng(seed).choice(len(vectors), n_train, replace=False)
        train = vectors[np.sort(sample)]
    else:
        train = vectors
    if len(train) == 0:
        train = np.zeros((1, dim), dtype=np.float32)
    faiss.extract_index_ivf(index).cp.seed = seed
    index.train(train)
    index.nprobe = ivf_probes(nlist)
    return index


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
    if kind == "ivf" and isinstance(index, faiss.IndexIVF):
        if not _ivf_fits(index.nlist, n_new):
            return None
        dropped = np.flatnonzero(old_to_new < 0)
        if len(dropped):
            index.remove_ids(faiss.IDSelectorBatch(dropped.astype(np.int64)))
        if len(dropped) or not np.array_equal(old_to_new, np.arange(len(old_to_new))):
            _renumber_ivf(index, old_to_new)
        if len(new_rows):
            index.add_with_ids(np.ascontiguousarray(vectors[new_rows], dtype=np.float32), new_rows.astype(np.int64))
        index.nprobe = ivf_probes(index.nlist)
        return index
    if kind == "hnsw" and isinstance(index, faiss.IndexHNSW):
        appended = np.array_equal(old_to_new, np.arange(len(old_to_new)))
        if not appended or not np.array_equal(new_rows, np.arange(len(old_to_new), n_new)):
            return None
        if len(new_rows):
            index.add(np.ascontiguousarray(vectors[new_rows], dtype=np.float32))
        return index
    return None


def _lists_to_train(n_vectors: int) -> int:
    """:func:`ivf_lists`, but at least 4 vectors a list for tiny indexes."""
    return max(1, min(ivf_lists(n_vectors), n_vectors // 4))


def _ivf_fits(nlist: int, n_vectors: int) -> bool:
    """Whether an IVF trained with ``nlist`` lists still suits ``n_vectors`` (else retrain)."""
    wanted = _lists_to_train(n_vectors)
    return wanted <= nlist * IVF_RETRAIN_FACTOR and nlist <= wanted * IVF_RETRAIN_FACTOR


def _renumber_ivf(index, old_to_new: np.ndarray) -> None:
    """Rewrite the ids stored in every inverted list through ``old_to_new`` (in place)."""
    import faiss

    mapping = np.asarray(old_to_new, dtype=np.int64)
    invlists = faiss.extract_index_ivf(index).invlists
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


def load_dense(path: Path, mmap: bool = False):
    """Read a saved index; ``mmap`` maps its vectors / codes from the file instead of reading them.

    Mapped pages are read on first use and count as resident only while in use, so a large index
    starts at once and holds in memory only what searches touch (an IVF index: the lists probed).
    A mapped index is read-only.
    """
    import faiss

    flags = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY if mmap else 0
    index = faiss.read_index(str(path), flags)
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    if isinstance(index, faiss.IndexIVF):
        index.nprobe = ivf_probes(index.nlist)
    return index


def dense_kind(index) -> str:
    """The kind name of a loaded index."""
    import faiss

    if isinstance(index, faiss.IndexIVF):
        return "ivf"
    if isinstance(index, faiss.IndexHNSW):
        return "hnsw"
    return "flat"


def dense_top_k(index, query_vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Chunk ids and cosine scores of the ``k`` nearest passages.

    One query runs on one OpenMP thread: FAISS would split a flat scan over all cores, and on a
    busy machine waiting for the slowest of them made it 3-4 times slower (bench/). The thread
    count is OpenMP's per-thread setting, restored afterwards, so concurrent builds keep theirs.
    """
    import faiss

    if index.ntotal == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    query = np.ascontiguousarray(query_vector.reshape(1, -1), dtype=np.float32)
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        scores, ids = index.search(query, min(k, index.ntotal))
    finally:
        faiss.omp_set_num_threads(threads)
    keep = ids[0] >= 0
    return ids[0][keep].astype(np.int64), scores[0][keep]
