"""Applying a change to a Milvus library: in place (incremental) or into new collections swapped in at the end."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from rag.errors import IndexStoreError
from rag.index.milvus.client import MilvusIndex
from rag.index.milvus.schema import PreparedDocument, new_run_id

_WRITE_LOCKS: dict[str, threading.Lock] = {}


class MilvusWriter:
    """Applies an ingest to a :class:`MilvusIndex`: in place (incremental) or into new collections that
    replace the live ones on :meth:`commit` (first build, ``--rebuild``, migration)."""

    def __init__(self, index: MilvusIndex, meta: dict[str, Any], fresh: bool) -> None:
        self.index = index
        self.meta = meta
        self.fresh = fresh
        self.run_id = new_run_id()
        self._lock = _WRITE_LOCKS.setdefault(f"{index.uri}|{index.prefix}", threading.Lock())
        if fresh:
            self.chunks, self.docs = index.create_collections(self.run_id, meta)
        else:
            self.chunks, self.docs = index.chunks_name, index.docs_name

    def put(self, items: Sequence[PreparedDocument]) -> None:
        with self._lock:
            self.index.write_documents(items, self.run_id, self.chunks, self.docs, bool(self.meta["title_prefix"]))

    def remove(self, doc_ids: Sequence[str]) -> None:
        if doc_ids and not self.fresh:
            with self._lock:
                self.index.remove_documents(doc_ids, self.chunks, self.docs)

    def commit(self) -> str:
        """Make the writes live; returns the name of the live chunks collection."""
        index = self.index
        for name in (self.chunks, self.docs):
            # seal what was written: Milvus Lite otherwise rebuilds the BM25 index of its in-memory
            # segment on every search; a server persists it (and compacts deletions) sooner
            index.call("flush", index.client.flush, name, timeout=index.write_timeout)
        if self.fresh:
            old = [index.physical(index.chunks_name), index.physical(index.docs_name)]
            for alias, name in ((index.chunks_name, self.chunks), (index.docs_name, self.docs)):
                if index.client.has_collection(alias) and index.physical(alias) is None:
                    raise IndexStoreError(
                        f"Milvus at {index.path} has a collection named '{alias}' that is not an alias of ours: "
                        f"choose another --milvus-collection prefix"
                    )
                index.point_alias(alias, name)
            self._cleanup(keep={self.chunks, self.docs}, also=[n for n in old if n])
        else:
            index.set_meta({**self.meta, "built_at": time.time()})
        index.forget_meta()
        return self.chunks if self.fresh else (index.physical(index.chunks_name) or index.chunks_name)

    def abort(self) -> None:
        if self.fresh:
            self.index.drop([self.chunks, self.docs])

    def _cleanup(self, keep: set[str], also: list[str]) -> None:
        """Drop the collections the aliases left, and leftovers of interrupted rebuilds."""
        index = self.index
        try:
            names = index.client.list_collections()
        except Exception:  # noqa: BLE001
            names = []
        stale = {n for n in names if n.startswith((index.chunks_name + "_", index.docs_name + "_")) and n not in keep}
        index.drop(sorted(stale | (set(also) - keep)))
