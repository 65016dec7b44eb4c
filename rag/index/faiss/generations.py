"""Where an index directory's generations live: the CURRENT pointer, the manifest, the write lock.

Layout of an index directory::

    index/
      CURRENT            name of the live generation (replaced atomically with os.replace)
      .lock              held by writers so two ingests never interleave
      gen-<time>-<rand>/ manifest.json, chunks.sqlite, vectors.npy, dense.faiss, bm25/, bm25_folded/,
                         restore.npz (diacritic restorer counts, rag/query/restore.py)
                         and, after incremental changes: delta/ (the same files), deleted.npy,
                         bm25_segments.json
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from rag.errors import IndexStoreError
from rag.index.records import FORMAT_VERSION, Manifest

CURRENT = "CURRENT"
DELTA = "delta"
DELETED = "deleted.npy"
SEGMENT_STATS = "bm25_segments.json"
LEXICAL = ("bm25", "bm25_folded")


def live_generation(index_dir: Path) -> Path | None:
    """The directory of the live generation, or None when no index was ever built here."""
    pointer = index_dir / CURRENT
    if pointer.is_file():
        name = pointer.read_text(encoding="utf-8").strip()
        return index_dir / name
    if (index_dir / "manifest.json").is_file():  # a generation directory given directly
        return index_dir
    return None


def read_manifest(generation: Path) -> Manifest:
    path = generation / "manifest.json"
    try:
        manifest = Manifest.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise IndexStoreError(f"corrupt index: {path} is missing") from None
    except (ValidationError, ValueError) as exc:
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
