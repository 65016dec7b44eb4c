"""Dense embeddings: sentence-transformers (torch) or the same model on ONNX Runtime, behind one factory.

``get_embeddings()`` returns the process-wide embedder; both backends are LangChain ``Embeddings``
with ``encode_passages`` / ``encode_queries`` returning L2-normalised float32 arrays.
"""

from rag.embeddings.factory import configure_query_batching, get_embeddings, resolve_backend
from rag.embeddings.materialize import DEFAULT_MODEL
from rag.errors import EmbeddingModelError

__all__ = ["DEFAULT_MODEL", "EmbeddingModelError", "configure_query_batching", "get_embeddings", "resolve_backend"]
