"""A connection to the Milvus collections of one library: reading, searching and the write primitives.

Thread-safe for concurrent searches (one gRPC channel); every call that fails raises one
:class:`~rag.errors.IndexStoreError` naming the URI instead of pymilvus's tracebacks.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.config import Settings
from rag.errors import IndexStoreError
from rag.index.milvus.schema import (
    FIELDS,
    FILTER_VALUES,
    FLAGS_FIELD,
    HNSW_EF,
    INSERT_ROWS,
    IVF_NLIST,
    META_KEY,
    OUT_FIELDS,
    PreparedDocument,
    batches,
    chunk_record,
    chunk_rows,
    collection_schemas,
    display_uri,
    document_rows,
    in_filter,
    is_local_uri,
    quote,
    read_flags,
)
from rag.index.records import FORMAT_VERSION, ChunkRecord, DocumentEntry, DocumentRecord, Manifest

log = logging.getLogger(__name__)


def _quiet_logs() -> None:
    """pymilvus logs tracebacks and retries at WARNING/ERROR; we raise one clear error instead.

    Called after importing pymilvus, whose import configures its loggers.
    """
    for name in ("pymilvus", "pymilvus.milvus_client", "milvus_lite"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


class MilvusIndex:
    """The Milvus collections of one library: read (search, documents) and write (ingest, delete).

    Thread-safe for concurrent searches (one gRPC channel). ``manifest`` and ``n_chunks`` are read
    live, so every replica sees the library as it is now.
    """

    def __init__(self, client, settings: Settings) -> None:
        self.client = client
        self.uri = settings.milvus_uri
        self.path = display_uri(settings.milvus_uri)  # what messages name (IndexStore.path's role)
        self.prefix = settings.milvus_collection
        self.chunks_name = f"{self.prefix}_chunks"
        self.docs_name = f"{self.prefix}_docs"
        self.timeout = settings.milvus_timeout
        self.write_timeout = max(60.0, settings.milvus_timeout * 12)
        self.is_lite = is_local_uri(settings.milvus_uri)
        self._meta: dict[str, Any] | None = None
        self._loaded: set[str] = set()
        self._flagged: dict[str, bool] = {}  # documents collection → whether it has the flags field

    # -- connecting -------------------------------------------------------------------------------

    @classmethod
    def connect(cls, settings: Settings, create: bool = False) -> MilvusIndex:
        """Open the Milvus named in ``settings``; fails within ``milvus_timeout`` seconds naming the URI.

        For Milvus Lite, ``create=False`` refuses a file that does not exist rather than making one.
        """
        try:
            from pymilvus import MilvusClient
        except ImportError:
            raise IndexStoreError(
                "the Milvus backend needs the 'milvus' extra: pip install -e '.[milvus]'"
            ) from None
        _quiet_logs()
        uri = settings.milvus_uri
        shown = display_uri(uri)
        kwargs: dict[str, Any] = {"uri": uri, "timeout": settings.milvus_timeout}
        if is_local_uri(uri):
            path = Path(uri)
            if path.suffix != ".db":
                raise IndexStoreError(
                    f"Milvus URI '{shown}' is neither a server address (http://host:19530) nor a Milvus "
                    f"Lite file path ending in .db"
                )
            if not create and not path.exists():
                raise IndexStoreError(
                    f"no Milvus index at {shown}: build one with `python -m rag ingest corpus/ --store milvus "
                    f"--milvus-uri {shown}` (or `python -m rag migrate --to milvus --milvus-uri {shown}`)"
                )
            path.parent.mkdir(parents=True, exist_ok=True)
            kwargs["uri"] = str(path)
            # pymilvus pings every 10 s; Milvus Lite's gRPC server answers that with GOAWAY
            # "too_many_pings" (logged, and the channel reconnects). In-process, keepalive is moot.
            kwargs["grpc_options"] = {"grpc.keepalive_time_ms": 3_600_000, "grpc.keepalive_permit_without_calls": False}
        else:
            if settings.milvus_token is not None:
                kwargs["token"] = settings.milvus_token.get_secret_value()
            elif settings.milvus_user:
                kwargs["user"] = settings.milvus_user
                kwargs["password"] = settings.milvus_password.get_secret_value() if settings.milvus_password else ""
            if settings.milvus_db:
                kwargs["db_name"] = settings.milvus_db
        try:
            client = MilvusClient(**kwargs)
        except Exception as exc:  # MilvusException, ConnectionConfigException, grpc errors
            why = reason(exc)
            if is_local_uri(uri):
                raise IndexStoreError(
                    f"cannot open Milvus Lite at {shown}: {why} (Milvus Lite serves one process at a time; "
                    f"several processes or replicas need a Milvus server, see docs/deployment.md)"
                ) from None
            raise IndexStoreError(f"cannot reach Milvus at {shown} within {settings.milvus_timeout:g} s: {why}") from None
        return cls(client, settings)

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass

    def call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise IndexStoreError(f"Milvus at {self.path}: {what} failed: {reason(exc)}") from None

    # -- reading ----------------------------------------------------------------------------------

    def exists(self) -> bool:
        has = self.client.has_collection
        return bool(self.call("has_collection", has, self.chunks_name) and self.call("has_collection", has, self.docs_name))

    def require(self) -> None:
        """Raise unless the index exists; make sure its collections are loaded for search."""
        if self._loaded >= {self.chunks_name, self.docs_name}:
            return
        if not self.exists():
            raise IndexStoreError(
                f"no index in Milvus at {self.path} (collection '{self.chunks_name}'): build one with "
                f"`python -m rag ingest corpus/ --store milvus --milvus-uri {self.path}`"
            )
        for name in (self.chunks_name, self.docs_name):
            self._ensure_loaded(name)

    def _ensure_loaded(self, name: str) -> None:
        state = self.call("get_load_state", self.client.get_load_state, name)
        if "NotLoad" in str(state.get("state")) or "Released" in str(state.get("state")) or "NotExist" in str(state.get("state")):
            self.call("load_collection", self.client.load_collection, name, timeout=self.write_timeout)
        self._loaded.add(name)

    def meta(self, refresh: bool = False) -> dict[str, Any]:
        """Model id, dimension and chunking settings recorded on the chunks collection."""
        if self._meta is None or refresh:
            self.require()
            info = self.call("describe_collection", self.client.describe_collection, self.chunks_name)
            raw = (info.get("properties") or {}).get(META_KEY)
            try:
                meta = json.loads(raw)
                int(meta["dim"]), str(meta["model_id"])
            except (TypeError, ValueError, KeyError):
                raise IndexStoreError(
                    f"Milvus collection '{self.chunks_name}' at {self.path} was not written by this program "
                    f"(no valid '{META_KEY}' property): choose another --milvus-collection prefix"
                ) from None
            if meta.get("format_version") != FORMAT_VERSION:
                raise IndexStoreError(
                    f"Milvus index at {self.path} has format version {meta.get('format_version')}, this program "
                    f"reads version {FORMAT_VERSION}: rebuild it with `python -m rag ingest corpus/ --store milvus --rebuild`"
                )
            self._meta = meta
            self._flagged.clear()  # a rebuild elsewhere may have replaced the documents collection
        return self._meta

    def has_flags(self, docs: str | None = None) -> bool:
        """Whether the documents collection ``docs`` (default: the live one) stores the OCR and
        legacy-encoding flags (collections built before that field report 0/None until rebuilt)."""
        name = docs or self.docs_name
        if name not in self._flagged:
            info = self.call("describe_collection", self.client.describe_collection, name)
            self._flagged[name] = any(f.get("name") == FLAGS_FIELD for f in info.get("fields") or [])
        return self._flagged[name]

    def check_model(self, model_id: str, dim: int | None = None, action: str = "rebuild with `--rebuild`") -> None:
        """Refuse a collection built with another model or dimension."""
        meta = self.meta()
        if meta["model_id"] != model_id or (dim is not None and int(meta["dim"]) != int(dim)):
            raise IndexStoreError(
                f"Milvus index at {self.path} was built with model '{meta['model_id']}' ({meta['dim']} dimensions) "
                f"but '{model_id}'{f' ({dim} dimensions)' if dim is not None else ''} is configured; vectors of "
                f"two models cannot be mixed: use the same model, or {action}"
            )

    @property
    def manifest(self) -> Manifest:
        """The library as a :class:`Manifest` (the FAISS backend's shape), read live from Milvus."""
        meta = self.meta()
        documents: dict[str, DocumentEntry] = {}
        fields = ["doc_id", "title", "source", "content_hash", "dates", "n_chunks"] + ([FLAGS_FIELD] if self.has_flags() else [])
        for row in self._iterate(self.docs_name, "part == 0", fields):
            documents[row["doc_id"]] = DocumentEntry(
                title=row["title"],
                source=row["source"],
                content_hash=row["content_hash"],
                dates=json.loads(row["dates"] or "[]"),
                n_chunks=int(row["n_chunks"]),
                **read_flags(row.get(FLAGS_FIELD)),
            )
        return Manifest(
            model_id=meta["model_id"],
            dim=int(meta["dim"]),
            dense_kind=meta.get("dense_kind", "flat"),
            title_prefix=bool(meta["title_prefix"]),
            chunk_chars=int(meta["chunk_chars"]),
            overlap_chars=int(meta["overlap_chars"]),
            n_chunks=sum(d.n_chunks for d in documents.values()),
            built_at=float(meta.get("built_at", 0.0)),
            documents=dict(sorted(documents.items())),
        )

    @property
    def n_chunks(self) -> int:
        self.require()
        rows = self.call("count", self.client.query, self.chunks_name, filter="", output_fields=["count(*)"], timeout=self.timeout)
        return int(rows[0]["count(*)"]) if rows else 0

    def document(self, doc_id: str) -> DocumentRecord | None:
        rows = self.call(
            "query documents",
            self.client.query,
            self.docs_name,
            filter=f"doc_id == {quote(doc_id)}",
            output_fields=["part", "n_parts", "title", "source", "content_hash", "dates", "text"],
            timeout=self.timeout,
        )
        if not rows:
            return None
        rows.sort(key=lambda r: r["part"])
        first = rows[0]
        return DocumentRecord(
            doc_id, first["title"], first["source"], first["content_hash"], json.loads(first["dates"] or "[]"),
            "".join(r["text"] for r in rows),
        )

    def document_meta(self, doc_ids: Sequence[str]) -> dict[str, tuple[str, list[str], str]]:
        """doc id → (content hash, dates, source) for the given documents."""
        out: dict[str, tuple[str, list[str], str]] = {}
        for group in batches(list(doc_ids), FILTER_VALUES):
            rows = self.call(
                "query documents",
                self.client.query,
                self.docs_name,
                filter=f"part == 0 and {in_filter('doc_id', group)}",
                output_fields=["doc_id", "content_hash", "dates", "source"],
                timeout=self.timeout,
            )
            for r in rows:
                out[r["doc_id"]] = (r["content_hash"], json.loads(r["dates"] or "[]"), r["source"])
        return out

    def all_chunks(self) -> Iterator[ChunkRecord]:
        """Every passage, ordered by document, then offset (IndexStore's method, another order)."""
        for record, _ in self._all_rows(with_vectors=False):
            yield record

    def chunks_with_vectors(self) -> Iterator[tuple[ChunkRecord, np.ndarray]]:
        """Every passage with its dense vector, ordered by document, then offset."""
        yield from self._all_rows(with_vectors=True)

    def _all_rows(self, with_vectors: bool) -> Iterator[tuple[ChunkRecord, Any]]:
        fields = ["chunk_id", *OUT_FIELDS] + (["dense"] if with_vectors else [])
        rows = list(self._iterate(self.chunks_name, "", fields))
        rows.sort(key=lambda r: (r["doc_id"], r["char_start"], r["char_end"]))
        for r in rows:
            yield chunk_record(r["chunk_id"], r), (np.asarray(r["dense"], dtype=np.float32) if with_vectors else None)

    def _iterate(self, collection: str, expr: str, fields: list[str]) -> Iterator[dict[str, Any]]:
        self.require()
        iterator = self.call(
            "query", self.client.query_iterator, collection, batch_size=1000, filter=expr, output_fields=fields, timeout=self.timeout
        )
        try:
            while True:
                batch = self.call("query", iterator.next)
                if not batch:
                    break
                yield from batch
        finally:
            iterator.close()

    # -- searching --------------------------------------------------------------------------------

    def _requests(self, vector: np.ndarray | None, tokens: str, folded: str, fetch: int, expr: str = "") -> dict[str, Any]:
        """One search request per retriever; ``expr`` (a boolean filter, "" for none) restricts each one."""
        from pymilvus import AnnSearchRequest

        where = expr or None

        requests: dict[str, Any] = {}
        if vector is not None:
            kind = self.meta().get("dense_kind", "flat")
            params: dict[str, Any] = {"metric_type": "IP"}
            if kind == "hnsw":
                params["params"] = {"ef": max(HNSW_EF, fetch)}
            elif kind == "ivf":
                params["params"] = {"nprobe": max(1, IVF_NLIST // 16)}
            requests["dense"] = AnnSearchRequest(
                data=[vector.astype(np.float32).tolist()], anns_field="dense", param=params, limit=fetch, expr=where
            )
        for name, text in (("bm25", tokens), ("bm25_folded", folded)):
            if text:
                requests[name] = AnnSearchRequest(data=[text], anns_field=FIELDS[name], param={"metric_type": "BM25"}, limit=fetch, expr=where)
        return requests

    def hybrid_search(
        self, vector: np.ndarray | None, tokens: str, folded: str, fetch: int, k: int, rrf_k: int, expr: str = ""
    ) -> list[tuple[float, ChunkRecord, str]]:
        """One ``hybrid_search``: each retriever's top ``fetch`` fused by Milvus's RRF ranker, best ``k``.

        ``expr``: a boolean filter every retriever applies before ranking (:mod:`rag.retrieval.filters`).

        Returns (fused score, passage, content hash) best first.
        """
        from pymilvus import RRFRanker

        requests = self._requests(vector, tokens, folded, fetch, expr)
        if not requests:
            return []
        result = self.call(
            "hybrid_search",
            self.client.hybrid_search,
            self.chunks_name,
            list(requests.values()),
            RRFRanker(rrf_k),
            limit=k,
            output_fields=OUT_FIELDS,
            timeout=self.timeout,
        )
        return [(float(h["distance"]), chunk_record(h["chunk_id"], h["entity"]), h["entity"]["content_hash"]) for h in result[0]]

    def ranked_ids(self, vector: np.ndarray | None, tokens: str, folded: str, fetch: int, expr: str = "") -> dict[str, list[int]]:
        """Each retriever's ranking on its own (ids only), for fusion in the client; ``expr`` as in :meth:`hybrid_search`."""
        out: dict[str, list[int]] = {}
        for name, request in self._requests(vector, tokens, folded, fetch, expr).items():
            result = self.call(
                "search",
                self.client.search,
                self.chunks_name,
                data=request.data,
                anns_field=request.anns_field,
                search_params=request.param,
                limit=fetch,
                filter=expr,
                output_fields=[],
                timeout=self.timeout,
            )
            out[name] = [int(h["chunk_id"]) for h in result[0]]
        return out

    def chunks(self, ids: Sequence[int]) -> list[ChunkRecord]:
        """Records for chunk ids, in the order given."""
        return [record for record, _ in self.chunks_with_hash(ids)]

    def chunks_with_hash(self, ids: Sequence[int]) -> list[tuple[ChunkRecord, str]]:
        """(record, content hash) for chunk ids, in the order given (ids no longer stored are left out)."""
        if not ids:
            return []
        rows = self.call(
            "query",
            self.client.query,
            self.chunks_name,
            filter=f"chunk_id in [{', '.join(str(int(i)) for i in ids)}]",
            output_fields=["chunk_id", *OUT_FIELDS],
            timeout=self.timeout,
        )
        by_id = {int(r["chunk_id"]): r for r in rows}
        return [(chunk_record(i, by_id[int(i)]), by_id[int(i)]["content_hash"]) for i in ids if int(i) in by_id]

    # -- writing ----------------------------------------------------------------------------------

    def create_collections(self, suffix: str, meta: dict[str, Any]) -> tuple[str, str]:
        """Create (and load) a new pair of physical collections; returns their names."""
        chunks, docs = f"{self.chunks_name}_{suffix}", f"{self.docs_name}_{suffix}"
        (chunk_schema, chunk_index), (doc_schema, doc_index) = collection_schemas(self.client, meta)
        self.call(
            "create_collection",
            self.client.create_collection,
            chunks,
            schema=chunk_schema,
            index_params=chunk_index,
            properties={META_KEY: json.dumps(meta)},
            consistency_level="Strong",
            timeout=self.write_timeout,
        )
        self.call(
            "create_collection", self.client.create_collection, docs, schema=doc_schema, index_params=doc_index,
            consistency_level="Strong", timeout=self.write_timeout,
        )
        return chunks, docs

    def drop(self, names: Iterable[str]) -> None:
        for name in names:
            try:
                if self.client.has_collection(name):
                    self.client.drop_collection(name)
            except Exception as exc:  # noqa: BLE001 - leftovers are dropped again by the next rebuild
                log.warning("could not drop Milvus collection %s: %s", name, reason(exc))

    def physical(self, alias: str) -> str | None:
        try:
            return self.client.describe_alias(alias)["collection_name"]
        except Exception:  # noqa: BLE001 - no such alias
            return None

    def point_alias(self, alias: str, collection: str) -> None:
        if self.physical(alias) is None:
            self.call("create_alias", self.client.create_alias, collection, alias)
        else:
            self.call("alter_alias", self.client.alter_alias, collection, alias)

    def forget_meta(self) -> None:
        """Read the meta again on next use (after a write changed it)."""
        self._meta = None
        self._flagged.clear()

    def set_meta(self, meta: dict[str, Any]) -> None:
        self.call("alter_collection_properties", self.client.alter_collection_properties, self.chunks_name, properties={META_KEY: json.dumps(meta)})
        self._meta = None

    def write_documents(
        self, items: Sequence[PreparedDocument], run_id: str, chunks: str, docs: str, title_prefix: bool = True
    ) -> None:
        """Insert the passages of ``items``, delete their older passages, then write their document rows.

        Every step leaves each document searchable; a failure removes what this call inserted.
        """
        if not items:
            return
        doc_ids = [item.doc.doc_id for item in items]
        rows = [row for item in items for row in chunk_rows(item, run_id, title_prefix)]
        try:
            for batch in batches(rows, INSERT_ROWS):
                self.call("insert", self.client.insert, chunks, list(batch), timeout=self.write_timeout)
        except BaseException:
            try:
                self._delete(chunks, f"ingest_id == {quote(run_id)} and ", doc_ids)
            except Exception as exc:  # noqa: BLE001 - the next ingest of these files removes them
                log.warning("could not remove the passages of a failed write: %s", exc)
            raise
        self._delete(chunks, f"ingest_id != {quote(run_id)} and ", doc_ids)
        doc_rows = [row for item in items for row in document_rows(item, run_id)]
        if not self.has_flags(docs):
            doc_rows = [{key: value for key, value in row.items() if key != FLAGS_FIELD} for row in doc_rows]
        for batch in batches(doc_rows, 50):
            self.call("upsert", self.client.upsert, docs, list(batch), timeout=self.write_timeout)
        self._delete(docs, f"ingest_id != {quote(run_id)} and ", doc_ids)

    def remove_documents(self, doc_ids: Sequence[str], chunks: str, docs: str) -> None:
        """Delete documents: their passages first, then their rows (a rerun finishes a failed removal)."""
        self._delete(chunks, "", doc_ids)
        self._delete(docs, "", doc_ids)

    def _delete(self, collection: str, prefix: str, doc_ids: Sequence[str]) -> None:
        for group in batches(list(doc_ids), FILTER_VALUES):
            self.call("delete", self.client.delete, collection, filter=prefix + in_filter("doc_id", group), timeout=self.write_timeout)


def reason(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or exc.__class__.__name__
    return " ".join(str(message).split())[:300]


