"""One query vector per question text and model, shared by the retrievers and the answer scorer.

An ``ask`` embeds its question twice unless the two callers share a cache: the dense retriever
embeds it to search, and the answer scorer (:mod:`rag.answer.similarity`) embeds the very same
text to compare it with candidate sentences. :func:`query_vector` keeps the recent vectors of each
embedding model in a small LRU, so the second call (and a follow-up that repeats a question) costs
nothing. Vectors depend only on the model and the text, so nothing needs invalidating.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import Any

import numpy as np

QUERY_CACHE = 512  # vectors kept per model (384 float32 each: under 1 MiB)

_lock = threading.Lock()
_caches: weakref.WeakKeyDictionary[Any, OrderedDict[str, np.ndarray]] = weakref.WeakKeyDictionary()


def query_vector(embeddings: Any, text: str) -> np.ndarray:
    """``embeddings.encode_queries([text])[0]`` as float32, from the model's LRU when seen recently."""
    with _lock:
        cache = _caches.get(embeddings)
        if cache is None:
            cache = _caches[embeddings] = OrderedDict()
        found = cache.get(text)
        if found is not None:
            cache.move_to_end(text)
            return found
    # encoded outside the lock: concurrent requests micro-batch in the model (rag.embeddings.batching)
    vector = np.asarray(embeddings.encode_queries([text])[0], dtype=np.float32)
    vector.flags.writeable = False  # shared between callers
    with _lock:
        cache[text] = vector
        cache.move_to_end(text)
        while len(cache) > QUERY_CACHE:
            cache.popitem(last=False)
    return vector


def clear() -> None:
    """Forget every cached vector (benchmarks timing questions as if seen for the first time)."""
    with _lock:
        for cache in _caches.values():
            cache.clear()


__all__ = ["QUERY_CACHE", "clear", "query_vector"]
