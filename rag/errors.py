"""Exceptions with messages meant for the person at the keyboard, never a bare stack trace."""

from __future__ import annotations

from pathlib import Path


class RagError(Exception):
    """Base class: the CLI prints the message and exits non-zero; the API maps it to a 4xx."""


class DocumentError(RagError):
    """A file that cannot be ingested (unreadable, empty, not UTF-8, corrupt, encrypted…)."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class UnsupportedFormatError(DocumentError):
    """An extension we have no loader for; ingest skips it with a warning."""


class IndexStoreError(RagError):
    """A missing, corrupt or incompatible index directory."""


class QueryError(RagError):
    """An empty, too long or otherwise unusable question or history."""


class EmbeddingModelError(RagError, ValueError):
    """The requested embedding model cannot be loaded (unknown name, offline, bad directory)."""
