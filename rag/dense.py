"""The FAISS index over passage vectors: exact inner product below a size threshold, approximate above.

Vectors are L2-normalised, so inner product is cosine similarity. FAISS writes its own binary
format (``faiss.write_index``), never pickle.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 96


def choose_kind(n_vectors: int, requested: str, threshold: int) -> str:
    """``requested`` unless it is "auto": then exact "flat" below ``threshold`` vectors, else "hnsw"."""
    if requested != "auto":
        return requested
    return "flat" if n_vectors < threshold else "hnsw"


def build_dense_index(vectors: np.ndarray, kind: str = "flat"):  # -> faiss.Index
    """A FAISS inner-product index of ``kind`` ("flat", "hnsw" or "ivf") holding ``vectors``."""
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
        nlist = max(1, int(4 * np.sqrt(len(vectors))))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
        index.nprobe = max(1, nlist // 16)
    else:
        raise ValueError(f"unknown dense index kind {kind!r} (flat, hnsw, ivf)")
    if len(vectors):
        index.add(vectors)
    return index


def save_dense(index, path: Path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def load_dense(path: Path, mmap: bool = False):
    import faiss

    flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
    index = faiss.read_index(str(path), flags)
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    return index


def dense_top_k(index, query_vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Chunk ids and cosine scores of the ``k`` nearest passages."""
    if index.ntotal == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    scores, ids = index.search(np.ascontiguousarray(query_vector.reshape(1, -1), dtype=np.float32), min(k, index.ntotal))
    keep = ids[0] >= 0
    return ids[0][keep].astype(np.int64), scores[0][keep]
