"""Where an index directory's generations live: the CURRENT pointer, the manifest, the write lock.

Layout of an index directory::

    index/
      CURRENT            name of the live generation (replaced atomically with os.replace)
      .lock              held by writers so two ingests never interleave
      gen-<time>-<rand>/ manifest.json, documents.sqlite, chunks.sqlite, vectors.npy, dense.faiss,
                         bm25/, bm25_folded/, restore.npz (diacritic restorer counts, rag/query/restore.py),
                         sentence_keys.npy + sentence_vectors.npy (optional, rag/index/faiss/sentences.py)
                         and, after incremental changes: delta/ (the same files but the two first),
                         deleted.npy, bm25_segments.json

``manifest.json`` holds the generation's header; its per-document entries live in
``documents.sqlite`` (one row per document, the entry as JSON), read one at a time when asked
(:class:`DocumentTable`): opening a million chunks parses none of them. A manifest written before
that holds its entries inline (``"documents": {...}``) and is still read.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path

from pydantic import ValidationError

from rag.errors import IndexStoreError
from rag.index.records import FORMAT_VERSION, DocumentEntry, Manifest

CURRENT = "CURRENT"
DELTA = "delta"
DELETED = "deleted.npy"
SEGMENT_STATS = "bm25_segments.json"
LEXICAL = ("bm25", "bm25_folded")
MANIFEST = "manifest.json"
DOCUMENTS = "documents.sqlite"


class DocumentTable(Mapping[str, DocumentEntry]):
    """A generation's per-document entries in ``documents.sqlite``: looked up one by one, listed on demand.

    A lookup (``table.get(doc_id)``, ``doc_id in table``) is one indexed SQLite read; iterating
    keys reads the ids only; ``items()`` and ``values()`` parse every entry once and keep them.
    The connection opens with the table, so a generation removed by a later write stays readable
    (the open file outlives its directory entry), and is closed with the object: a manifest may be
    kept after its store is closed.
    """

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        self._size: int | None = None
        self._all: dict[str, DocumentEntry] | None = None

    def get(self, doc_id: str, default: DocumentEntry | None = None) -> DocumentEntry | None:  # type: ignore[override]
        if self._all is not None:
            return self._all.get(doc_id, default)
        row = self._db.execute("SELECT entry FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return default if row is None else DocumentEntry.model_validate_json(row[0])

    def __getitem__(self, doc_id: str) -> DocumentEntry:
        entry = self.get(doc_id)
        if entry is None:
            raise KeyError(doc_id)
        return entry

    def __contains__(self, doc_id: object) -> bool:
        if self._all is not None:
            return doc_id in self._all
        return self._db.execute("SELECT 1 FROM documents WHERE doc_id = ?", (doc_id,)).fetchone() is not None

    def __len__(self) -> int:
        if self._size is None:
            self._size = int(self._db.execute("SELECT COUNT(*) FROM documents").fetchone()[0])
        return self._size

    def __iter__(self) -> Iterator[str]:
        if self._all is not None:
            return iter(self._all)
        return (row[0] for row in self._db.execute("SELECT doc_id FROM documents ORDER BY doc_id").fetchall())

    def loaded(self) -> dict[str, DocumentEntry]:
        """Every entry, parsed once and kept."""
        if self._all is None:
            rows = self._db.execute("SELECT doc_id, entry FROM documents ORDER BY doc_id").fetchall()
            self._all = {doc_id: DocumentEntry.model_validate_json(entry) for doc_id, entry in rows}
        return self._all

    def items(self):  # type: ignore[override]
        return self.loaded().items()

    def values(self):  # type: ignore[override]
        return self.loaded().values()


def write_documents(path: Path, documents: Mapping[str, DocumentEntry]) -> None:
    """Write a generation's per-document entries (read back by :class:`DocumentTable`)."""
    db = sqlite3.connect(path)
    try:
        db.execute("CREATE TABLE documents (doc_id TEXT PRIMARY KEY, entry TEXT NOT NULL) WITHOUT ROWID")
        db.executemany("INSERT INTO documents VALUES (?, ?)", ((d, e.model_dump_json()) for d, e in documents.items()))
        db.commit()
    finally:
        db.close()


def write_manifest(generation: Path, manifest: Manifest) -> None:
    """``manifest.json`` (the header) and ``documents.sqlite`` (the entries) of a generation."""
    write_documents(generation / DOCUMENTS, manifest.documents)
    (generation / MANIFEST).write_text(manifest.model_dump_json(indent=1, exclude={"documents"}), encoding="utf-8")


def live_generation(index_dir: Path) -> Path | None:
    """The directory of the live generation, or None when no index was ever built here."""
    pointer = index_dir / CURRENT
    if pointer.is_file():
        name = pointer.read_text(encoding="utf-8").strip()
        return index_dir / name
    if (index_dir / MANIFEST).is_file():  # a generation directory given directly
        return index_dir
    return None


def read_manifest(generation: Path) -> Manifest:
    """The generation's manifest; its documents a :class:`DocumentTable` (a dict for older manifests)."""
    path = generation / MANIFEST
    try:
        header = json.loads(path.read_bytes())
        inline = isinstance(header, dict) and "documents" in header
        if not inline:  # entries in documents.sqlite: validate the header alone, attach the table after
            table_path = generation / DOCUMENTS
            if not table_path.is_file():
                raise IndexStoreError(f"corrupt index: {table_path} is missing")
            header["documents"] = {}
        manifest = Manifest.model_validate(header)
        if not inline:
            manifest.documents = DocumentTable(table_path)
    except FileNotFoundError:
        raise IndexStoreError(f"corrupt index: {path} is missing") from None
    except (ValidationError, ValueError, TypeError, sqlite3.Error) as exc:
        raise IndexStoreError(f"corrupt index: {path} is not a valid manifest ({exc.__class__.__name__})") from None
    if manifest.format_version != FORMAT_VERSION:
        raise IndexStoreError(
            f"index at {generation} has format version {manifest.format_version}, this program reads "
            f"version {FORMAT_VERSION}: rebuild it with `python -m rag ingest corpus/ --rebuild`"
        )
    return manifest



@contextlib.contextmanager
def write_lock(index_dir: Path) -> Iterator[None]:
    """Exclusive lock so two ingests (CLI, app upload) never build over each other."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
