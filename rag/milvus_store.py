"""The Milvus backend: the same library, hybrid search and lifecycle as the embedded FAISS index.

A local file path as URI (``index/milvus.db``) runs Milvus Lite inside the process; ``http://host:19530``
talks to a Milvus standalone or cluster with the same code, so several app replicas can share one index.

Layout: two collections, reached through aliases so that a rebuild or a migration is written beside the
live data and swapped in at once (``alter_alias``)::

    <prefix>_chunks  one row per passage: doc id, title, offsets, exact text, content hash, the id of the
                     ingest run that wrote it, the dense vector, and two BM25 sparse vectors that Milvus's
                     built-in BM25 function derives from our Vietnamese tokens (accented and folded)
    <prefix>_docs    one row per document (a long text is split over several rows): title, source,
                     content hash, dates, chunk count and the normalised text (citations are checked
                     against it, ``docs`` lists it)

The model id, dimension and chunking settings are a property of the chunks collection and are checked on
every open, as the FAISS manifest is: vectors of two models never mix.

BM25 on our own tokens. Milvus's analyzers neither split nor fold Vietnamese the way :mod:`rag.text`
does (Lite's ``asciifolding`` leaves Vietnamese accents; Lite has no whitespace tokenizer and no
``run_analyzer``), so the BM25 input of a passage is :func:`rag.text.tokenize` /
:func:`~rag.text.tokenize_folded` output, joined by spaces, with each number's separators spelled as
letters ("383.605" → "383p605", "95,25%" → "95c25q") so that every token is one alphanumeric word: the
"standard" tokenizer (Lite's ``\\w+``, a server's Unicode word segmentation) then gives back exactly our
tokens, and BM25 uses the same k1/b as bm25s. Queries go through the same function.

Safe incremental writes. A changed document's new passages are inserted first (tagged with this run's id),
then its older passages are deleted, then its document row is written: a failure at any point leaves the
document searchable (old or new text, briefly both), and since the document row still carries the old
content hash the next ingest of that file redoes it. A rebuild or migration writes new collections and
swaps the aliases only when complete.

``langchain-milvus`` is not used: its vector store sends one raw query string to every field, embeds texts
itself and owns the schema, whereas this backend needs per-field query texts (tokens, folded tokens), our
own vectors and offsets, and the FAISS backend's ``Document`` metadata. pymilvus does all of it.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

import numpy as np
from pydantic import ConfigDict, PrivateAttr

from .chunking import Chunk, chunk_document, indexed_text
from .config import Settings
from .errors import DocumentError, IndexStoreError, QueryError
from .ingest import IngestReport, _load_all, _plan, _same_chunking
from .loaders import LoadedDocument, iter_paths
from .retrieve import Hit, HybridRetriever, Mode, SearchResult, reciprocal_rank_fusion
from .store import FORMAT_VERSION, ChunkRecord, DocumentEntry, DocumentRecord, Manifest
from .text import collapse_whitespace, tokenize, tokenize_folded

log = logging.getLogger(__name__)

META_KEY = "hdyt.meta"
ANALYZER = {"tokenizer": "standard"}  # our tokens are single alphanumeric words, see bm25_text()
BM25_PARAMS = {"bm25_k1": 1.5, "bm25_b": 0.75}  # bm25s's defaults, so both backends score alike
HNSW_PARAMS = {"M": 32, "efConstruction": 80}
HNSW_EF = 96
IVF_NLIST = 1024
VARCHAR_MAX = 65_535  # bytes, Milvus's limit for one VARCHAR value
DOC_PART_CHARS = 16_000  # ≤ 4 bytes a character in UTF-8, so a part always fits a VARCHAR
INSERT_ROWS = 500
FILTER_VALUES = 500  # ids per "in [...]" expression
OUT_FIELDS = ["doc_id", "title", "char_start", "char_end", "text", "content_hash"]
FIELDS: dict[str, str] = {"dense": "dense", "bm25": "bm25", "bm25_folded": "bm25_folded"}

_NUMBER_SEPARATORS = str.maketrans({".": "p", ",": "c", "/": "s", "%": "q"})
_SCHEMES = ("http://", "https://", "tcp://", "grpc://", "unix:")



def _quiet_logs() -> None:
    """pymilvus logs tracebacks and retries at WARNING/ERROR; we raise one clear error instead.

    Called after importing pymilvus, whose import configures its loggers.
    """
    for name in ("pymilvus", "pymilvus.milvus_client", "milvus_lite"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def bm25_text(tokens: Iterable[str]) -> str:
    """The BM25 input for Milvus: our tokens, numbers' separators as letters, joined by spaces.

    Injective: words never contain digits and numbers always start with one, so no two different
    tokens meet ("383.605" → "383p605", "383,605" → "383c605", "5/1/2024" → "5s1s2024", "95%" → "95q").
    """
    return " ".join(t.translate(_NUMBER_SEPARATORS) if t[:1].isdigit() else t for t in tokens)


def is_local_uri(uri: str) -> bool:
    """A local file path (Milvus Lite) rather than a server address."""
    return not uri.startswith(_SCHEMES)


def display_uri(uri: str) -> str:
    """The URI without credentials, for messages."""
    return re.sub(r"//[^/@]*@", "//***@", uri)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _in(field: str, values: Sequence[str]) -> str:
    return f"{field} in [{', '.join(_quote(v) for v in values)}]"


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


@dataclass
class PreparedDocument:
    """A document ready to be written: its record, passages and their vectors (same order)."""

    doc: DocumentRecord
    chunks: list[Chunk]
    vectors: np.ndarray


# ---------------------------------------------------------------------------------------------
# The index


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
            reason = _reason(exc)
            if is_local_uri(uri):
                raise IndexStoreError(
                    f"cannot open Milvus Lite at {shown}: {reason} (Milvus Lite serves one process at a time; "
                    f"several processes or replicas need a Milvus server, see docs/deployment.md)"
                ) from None
            raise IndexStoreError(f"cannot reach Milvus at {shown} within {settings.milvus_timeout:g} s: {reason}") from None
        return cls(client, settings)

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise IndexStoreError(f"Milvus at {self.path}: {what} failed: {_reason(exc)}") from None

    # -- reading ----------------------------------------------------------------------------------

    def exists(self) -> bool:
        has = self.client.has_collection
        return bool(self._call("has_collection", has, self.chunks_name) and self._call("has_collection", has, self.docs_name))

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
        state = self._call("get_load_state", self.client.get_load_state, name)
        if "NotLoad" in str(state.get("state")) or "Released" in str(state.get("state")) or "NotExist" in str(state.get("state")):
            self._call("load_collection", self.client.load_collection, name, timeout=self.write_timeout)
        self._loaded.add(name)

    def meta(self, refresh: bool = False) -> dict[str, Any]:
        """Model id, dimension and chunking settings recorded on the chunks collection."""
        if self._meta is None or refresh:
            self.require()
            info = self._call("describe_collection", self.client.describe_collection, self.chunks_name)
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
        return self._meta

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
        for row in self._iterate(self.docs_name, "part == 0", ["doc_id", "title", "source", "content_hash", "dates", "n_chunks"]):
            documents[row["doc_id"]] = DocumentEntry(
                title=row["title"],
                source=row["source"],
                content_hash=row["content_hash"],
                dates=json.loads(row["dates"] or "[]"),
                n_chunks=int(row["n_chunks"]),
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
        rows = self._call("count", self.client.query, self.chunks_name, filter="", output_fields=["count(*)"], timeout=self.timeout)
        return int(rows[0]["count(*)"]) if rows else 0

    def document(self, doc_id: str) -> DocumentRecord | None:
        rows = self._call(
            "query documents",
            self.client.query,
            self.docs_name,
            filter=f"doc_id == {_quote(doc_id)}",
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
        for group in _batches(list(doc_ids), FILTER_VALUES):
            rows = self._call(
                "query documents",
                self.client.query,
                self.docs_name,
                filter=f"part == 0 and {_in('doc_id', group)}",
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
            yield _record(r["chunk_id"], r), (np.asarray(r["dense"], dtype=np.float32) if with_vectors else None)

    def _iterate(self, collection: str, expr: str, fields: list[str]) -> Iterator[dict[str, Any]]:
        self.require()
        iterator = self._call(
            "query", self.client.query_iterator, collection, batch_size=1000, filter=expr, output_fields=fields, timeout=self.timeout
        )
        try:
            while True:
                batch = self._call("query", iterator.next)
                if not batch:
                    break
                yield from batch
        finally:
            iterator.close()

    # -- searching --------------------------------------------------------------------------------

    def _requests(self, vector: np.ndarray | None, tokens: str, folded: str, fetch: int) -> dict[str, Any]:
        from pymilvus import AnnSearchRequest

        requests: dict[str, Any] = {}
        if vector is not None:
            kind = self.meta().get("dense_kind", "flat")
            params: dict[str, Any] = {"metric_type": "IP"}
            if kind == "hnsw":
                params["params"] = {"ef": max(HNSW_EF, fetch)}
            elif kind == "ivf":
                params["params"] = {"nprobe": max(1, IVF_NLIST // 16)}
            requests["dense"] = AnnSearchRequest(data=[vector.astype(np.float32).tolist()], anns_field="dense", param=params, limit=fetch)
        for name, text in (("bm25", tokens), ("bm25_folded", folded)):
            if text:
                requests[name] = AnnSearchRequest(data=[text], anns_field=FIELDS[name], param={"metric_type": "BM25"}, limit=fetch)
        return requests

    def hybrid_search(
        self, vector: np.ndarray | None, tokens: str, folded: str, fetch: int, k: int, rrf_k: int
    ) -> list[tuple[float, ChunkRecord, str]]:
        """One ``hybrid_search``: each retriever's top ``fetch`` fused by Milvus's RRF ranker, best ``k``.

        Returns (fused score, passage, content hash) best first.
        """
        from pymilvus import RRFRanker

        requests = self._requests(vector, tokens, folded, fetch)
        if not requests:
            return []
        result = self._call(
            "hybrid_search",
            self.client.hybrid_search,
            self.chunks_name,
            list(requests.values()),
            RRFRanker(rrf_k),
            limit=k,
            output_fields=OUT_FIELDS,
            timeout=self.timeout,
        )
        return [(float(h["distance"]), _record(h["chunk_id"], h["entity"]), h["entity"]["content_hash"]) for h in result[0]]

    def ranked_ids(self, vector: np.ndarray | None, tokens: str, folded: str, fetch: int) -> dict[str, list[int]]:
        """Each retriever's ranking on its own (ids only), for fusion in the client."""
        out: dict[str, list[int]] = {}
        for name, request in self._requests(vector, tokens, folded, fetch).items():
            result = self._call(
                "search",
                self.client.search,
                self.chunks_name,
                data=request.data,
                anns_field=request.anns_field,
                search_params=request.param,
                limit=fetch,
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
        rows = self._call(
            "query",
            self.client.query,
            self.chunks_name,
            filter=f"chunk_id in [{', '.join(str(int(i)) for i in ids)}]",
            output_fields=["chunk_id", *OUT_FIELDS],
            timeout=self.timeout,
        )
        by_id = {int(r["chunk_id"]): r for r in rows}
        return [(_record(i, by_id[int(i)]), by_id[int(i)]["content_hash"]) for i in ids if int(i) in by_id]

    # -- writing ----------------------------------------------------------------------------------

    def _create(self, suffix: str, meta: dict[str, Any]) -> tuple[str, str]:
        """Create (and load) a new pair of physical collections; returns their names."""
        from pymilvus import DataType, Function, FunctionType

        client = self.client
        chunks, docs = f"{self.chunks_name}_{suffix}", f"{self.docs_name}_{suffix}"
        schema = client.create_schema(auto_id=True, enable_dynamic_field=False)
        schema.add_field("chunk_id", DataType.INT64, is_primary=True)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=1024)
        schema.add_field("title", DataType.VARCHAR, max_length=VARCHAR_MAX)
        schema.add_field("char_start", DataType.INT64)
        schema.add_field("char_end", DataType.INT64)
        schema.add_field("text", DataType.VARCHAR, max_length=VARCHAR_MAX)
        schema.add_field("content_hash", DataType.VARCHAR, max_length=128)
        schema.add_field("ingest_id", DataType.VARCHAR, max_length=64)
        for name in ("tokens", "tokens_folded"):
            schema.add_field(name, DataType.VARCHAR, max_length=VARCHAR_MAX, enable_analyzer=True, analyzer_params=ANALYZER)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=int(meta["dim"]))
        schema.add_field(FIELDS["bm25"], DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field(FIELDS["bm25_folded"], DataType.SPARSE_FLOAT_VECTOR)
        for source, target in (("tokens", FIELDS["bm25"]), ("tokens_folded", FIELDS["bm25_folded"])):
            schema.add_function(
                Function(name=f"{target}_fn", function_type=FunctionType.BM25, input_field_names=[source], output_field_names=[target])
            )
        index = client.prepare_index_params()
        kind = meta.get("dense_kind", "flat")
        if kind == "hnsw":
            index.add_index(field_name="dense", index_type="HNSW", metric_type="IP", params=HNSW_PARAMS)
        elif kind == "ivf":
            index.add_index(field_name="dense", index_type="IVF_FLAT", metric_type="IP", params={"nlist": IVF_NLIST})
        else:
            index.add_index(field_name="dense", index_type="FLAT", metric_type="IP")
        for field in (FIELDS["bm25"], FIELDS["bm25_folded"]):
            index.add_index(field_name=field, index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params=dict(BM25_PARAMS))
        self._call(
            "create_collection",
            client.create_collection,
            chunks,
            schema=schema,
            index_params=index,
            properties={META_KEY: json.dumps(meta)},
            consistency_level="Strong",
            timeout=self.write_timeout,
        )

        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("part_key", DataType.VARCHAR, is_primary=True, max_length=1100)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=1024)
        schema.add_field("part", DataType.INT64)
        schema.add_field("n_parts", DataType.INT64)
        schema.add_field("title", DataType.VARCHAR, max_length=VARCHAR_MAX)
        schema.add_field("source", DataType.VARCHAR, max_length=VARCHAR_MAX)
        schema.add_field("content_hash", DataType.VARCHAR, max_length=128)
        schema.add_field("dates", DataType.VARCHAR, max_length=VARCHAR_MAX)
        schema.add_field("n_chunks", DataType.INT64)
        schema.add_field("ingest_id", DataType.VARCHAR, max_length=64)
        schema.add_field("text", DataType.VARCHAR, max_length=VARCHAR_MAX)
        schema.add_field("_unused", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field in every collection
        index = client.prepare_index_params()
        index.add_index(field_name="_unused", index_type="FLAT", metric_type="L2")
        self._call(
            "create_collection", client.create_collection, docs, schema=schema, index_params=index,
            consistency_level="Strong", timeout=self.write_timeout,
        )
        return chunks, docs

    def _drop(self, names: Iterable[str]) -> None:
        for name in names:
            try:
                if self.client.has_collection(name):
                    self.client.drop_collection(name)
            except Exception as exc:  # noqa: BLE001 - leftovers are dropped again by the next rebuild
                log.warning("could not drop Milvus collection %s: %s", name, _reason(exc))

    def _physical(self, alias: str) -> str | None:
        try:
            return self.client.describe_alias(alias)["collection_name"]
        except Exception:  # noqa: BLE001 - no such alias
            return None

    def _point(self, alias: str, collection: str) -> None:
        if self._physical(alias) is None:
            self._call("create_alias", self.client.create_alias, collection, alias)
        else:
            self._call("alter_alias", self.client.alter_alias, collection, alias)

    def set_meta(self, meta: dict[str, Any]) -> None:
        self._call("alter_collection_properties", self.client.alter_collection_properties, self.chunks_name, properties={META_KEY: json.dumps(meta)})
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
        rows = [row for item in items for row in _chunk_rows(item, run_id, title_prefix)]
        try:
            for batch in _batches(rows, INSERT_ROWS):
                self._call("insert", self.client.insert, chunks, list(batch), timeout=self.write_timeout)
        except BaseException:
            try:
                self._delete(chunks, f"ingest_id == {_quote(run_id)} and ", doc_ids)
            except Exception as exc:  # noqa: BLE001 - the next ingest of these files removes them
                log.warning("could not remove the passages of a failed write: %s", exc)
            raise
        self._delete(chunks, f"ingest_id != {_quote(run_id)} and ", doc_ids)
        doc_rows = [row for item in items for row in _document_rows(item, run_id)]
        for batch in _batches(doc_rows, 50):
            self._call("upsert", self.client.upsert, docs, list(batch), timeout=self.write_timeout)
        self._delete(docs, f"ingest_id != {_quote(run_id)} and ", doc_ids)

    def remove_documents(self, doc_ids: Sequence[str], chunks: str, docs: str) -> None:
        """Delete documents: their passages first, then their rows (a rerun finishes a failed removal)."""
        self._delete(chunks, "", doc_ids)
        self._delete(docs, "", doc_ids)

    def _delete(self, collection: str, prefix: str, doc_ids: Sequence[str]) -> None:
        for group in _batches(list(doc_ids), FILTER_VALUES):
            self._call("delete", self.client.delete, collection, filter=prefix + _in("doc_id", group), timeout=self.write_timeout)


def _reason(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or exc.__class__.__name__
    return " ".join(str(message).split())[:300]


def _record(chunk_id: int, row: dict[str, Any]) -> ChunkRecord:
    return ChunkRecord(int(chunk_id), row["doc_id"], row["title"], int(row["char_start"]), int(row["char_end"]), row["text"])


def _chunk_rows(item: PreparedDocument, run_id: str, title_prefix: bool) -> Iterator[dict[str, Any]]:
    doc = item.doc
    if len(item.chunks) != len(item.vectors):
        raise IndexStoreError(f"{doc.doc_id}: {len(item.chunks)} passages but {len(item.vectors)} vectors")
    for chunk, vector in zip(item.chunks, item.vectors):
        body = indexed_text(chunk.title, chunk.text, title_prefix)
        row = {
            "doc_id": doc.doc_id,
            "title": doc.title,
            "char_start": int(chunk.start),
            "char_end": int(chunk.end),
            "text": chunk.text,
            "content_hash": doc.content_hash,
            "ingest_id": run_id,
            "tokens": bm25_text(tokenize(body)),
            "tokens_folded": bm25_text(tokenize_folded(body)),
            "dense": np.asarray(vector, dtype=np.float32).tolist(),
        }
        for field in ("title", "text", "tokens", "tokens_folded"):
            if _utf8_len(row[field]) > VARCHAR_MAX:
                raise DocumentError(doc.source, f"a passage's {field} is over Milvus's {VARCHAR_MAX}-byte limit: lower chunk_chars")
        yield row


def _document_rows(item: PreparedDocument, run_id: str) -> Iterator[dict[str, Any]]:
    doc = item.doc
    text = doc.text
    parts = [text[i : i + DOC_PART_CHARS] for i in range(0, len(text), DOC_PART_CHARS)] or [""]
    dates = list(doc.dates)
    dates_json = json.dumps(dates, ensure_ascii=False)
    while _utf8_len(dates_json) > VARCHAR_MAX:  # thousands of dates: keep the first ones
        dates = dates[: len(dates) // 2]
        dates_json = json.dumps(dates, ensure_ascii=False)
    for n, part in enumerate(parts):
        yield {
            "part_key": f"{doc.doc_id}\x1f{n}",
            "doc_id": doc.doc_id,
            "part": n,
            "n_parts": len(parts),
            "title": doc.title if n == 0 else "",
            "source": doc.source if n == 0 else "",
            "content_hash": doc.content_hash,
            "dates": dates_json if n == 0 else "[]",
            "n_chunks": len(item.chunks),
            "ingest_id": run_id,
            "text": part,
            "_unused": [1.0, 0.0],
        }


def _new_id() -> str:
    return f"{time.strftime('%Y%m%dT%H%M%S')}_{uuid.uuid4().hex[:6]}"


def make_meta(model_id: str, dim: int, settings: Settings, title_prefix: bool | None = None,
              chunk_chars: int | None = None, overlap_chars: int | None = None) -> dict[str, Any]:
    """What the chunks collection records about how it was built."""
    kind = settings.dense_index
    if kind == "auto":
        kind = "flat" if is_local_uri(settings.milvus_uri) else "hnsw"
    return {
        "format_version": FORMAT_VERSION,
        "model_id": model_id,
        "dim": int(dim),
        "dense_kind": kind,
        "title_prefix": settings.title_prefix if title_prefix is None else title_prefix,
        "chunk_chars": settings.chunk_chars if chunk_chars is None else chunk_chars,
        "overlap_chars": settings.overlap_chars if overlap_chars is None else overlap_chars,
        "built_at": time.time(),
    }


# ---------------------------------------------------------------------------------------------
# Writing a plan


_WRITE_LOCKS: dict[str, threading.Lock] = {}


class MilvusWriter:
    """Applies an ingest to a :class:`MilvusIndex`: in place (incremental) or into new collections that
    replace the live ones on :meth:`commit` (first build, ``--rebuild``, migration)."""

    def __init__(self, index: MilvusIndex, meta: dict[str, Any], fresh: bool) -> None:
        self.index = index
        self.meta = meta
        self.fresh = fresh
        self.run_id = _new_id()
        self._lock = _WRITE_LOCKS.setdefault(f"{index.uri}|{index.prefix}", threading.Lock())
        if fresh:
            self.chunks, self.docs = index._create(self.run_id, meta)
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
            index._call("flush", index.client.flush, name, timeout=index.write_timeout)
        if self.fresh:
            old = [index._physical(index.chunks_name), index._physical(index.docs_name)]
            for alias, name in ((index.chunks_name, self.chunks), (index.docs_name, self.docs)):
                if index.client.has_collection(alias) and index._physical(alias) is None:
                    raise IndexStoreError(
                        f"Milvus at {index.path} has a collection named '{alias}' that is not an alias of ours: "
                        f"choose another --milvus-collection prefix"
                    )
                index._point(alias, name)
            self._cleanup(keep={self.chunks, self.docs}, also=[n for n in old if n])
        else:
            index.set_meta({**self.meta, "built_at": time.time()})
        index._meta = None
        return self.chunks if self.fresh else (index._physical(index.chunks_name) or index.chunks_name)

    def abort(self) -> None:
        if self.fresh:
            self.index._drop([self.chunks, self.docs])

    def _cleanup(self, keep: set[str], also: list[str]) -> None:
        """Drop the collections the aliases left, and leftovers of interrupted rebuilds."""
        index = self.index
        try:
            names = index.client.list_collections()
        except Exception:  # noqa: BLE001
            names = []
        stale = {n for n in names if n.startswith((index.chunks_name + "_", index.docs_name + "_")) and n not in keep}
        index._drop(sorted(stale | (set(also) - keep)))


# ---------------------------------------------------------------------------------------------
# Ingest, delete, migrate


def prepare_documents(docs: Sequence[LoadedDocument], settings: Settings, embeddings, progress: bool = False) -> list[PreparedDocument]:
    """Chunk and embed documents (in this process)."""
    chunked = [(doc, chunk_document(doc.doc_id, doc.title, doc.text, settings.chunk_chars, settings.overlap_chars)) for doc in docs]
    texts = [indexed_text(c.title, c.text, settings.title_prefix) for _, chunks in chunked for c in chunks]
    vectors = embeddings.encode_passages(texts, show_progress=progress) if texts else np.zeros((0, embeddings.dim), np.float32)
    out, at = [], 0
    for doc, chunks in chunked:
        record = DocumentRecord(doc.doc_id, doc.title, doc.source, doc.content_hash, list(doc.dates), doc.text)
        out.append(PreparedDocument(record, chunks, vectors[at : at + len(chunks)]))
        at += len(chunks)
    return out


class MilvusIngest:
    """One ingest into Milvus, shared by the in-process and the Ray paths.

    :meth:`plan` opens the index and decides what changes (with :func:`rag.ingest._plan`, as the FAISS
    ingest does); :meth:`put` writes prepared documents as they come; :meth:`finish` removes what is gone
    and makes everything live.
    """

    def __init__(self, settings: Settings, model_id: str, dim: int, rebuild: bool = False, index: MilvusIndex | None = None) -> None:
        self.settings = settings
        self.index = index or MilvusIndex.connect(settings, create=True)
        self.model_id, self.dim, self.rebuild = model_id, dim, rebuild
        self.old: Manifest | None = None
        if not rebuild and self.index.exists():
            self.index.check_model(model_id, dim)
            self.old = self.index.manifest
        self.reuse = self.old is not None and _same_chunking(self.old, settings)
        self.writer: MilvusWriter | None = None

    def plan(self, loaded: dict[str, LoadedDocument], paths: Sequence[str | Path], report: IngestReport) -> dict[str, LoadedDocument | None]:
        scanned_dirs = [Path(p).resolve() for p in paths if Path(p).is_dir()]
        old_view = SimpleNamespace(manifest=self.old) if self.old is not None else None
        return _plan(old_view, loaded, scanned_dirs, report, self.reuse)

    def nothing_to_do(self, report: IngestReport) -> bool:
        return self.old is not None and self.reuse and not report.changed

    def start(self) -> None:
        meta = make_meta(self.model_id, self.dim, self.settings)
        if self.old is not None:
            meta["dense_kind"] = self.index.meta().get("dense_kind", meta["dense_kind"])
        self.writer = MilvusWriter(self.index, meta, fresh=self.old is None)

    def put(self, items: Sequence[PreparedDocument]) -> None:
        assert self.writer is not None
        self.writer.put(items)

    def finish(self, report: IngestReport) -> None:
        assert self.writer is not None
        self.writer.remove(report.removed)
        report.generation = self.writer.commit()

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()

    def counts(self) -> tuple[int, int]:
        manifest = self.index.manifest
        return len(manifest.documents), manifest.n_chunks


def ingest_milvus(
    paths: Sequence[str | Path],
    settings: Settings,
    rebuild: bool = False,
    progress: bool = False,
    embeddings=None,
    batch_chunks: int = 512,
) -> IngestReport:
    """Bring the Milvus index in line with ``paths``: the FAISS ingest's semantics, written in place."""
    t0 = time.perf_counter()
    report = IngestReport()
    files = iter_paths(paths)
    index = MilvusIndex.connect(settings, create=True)  # an unreachable URI fails before any work
    loaded = _load_all(files, report, progress)
    if embeddings is None:
        from .embeddings import get_embeddings

        embeddings = get_embeddings(settings.model, backend=settings.embed_backend)
    job = MilvusIngest(settings, embeddings.model_id, embeddings.dim, rebuild, index)
    try:
        plan = job.plan(loaded, paths, report)
        report.unchanged = sorted(d for d, src in plan.items() if src is None)
        if job.nothing_to_do(report):
            report.n_documents, report.n_chunks = job.counts()
            report.seconds = time.perf_counter() - t0
            return report
        job.start()
        todo = [plan[d] for d in sorted(plan) if plan[d] is not None]
        bar = _progress(progress, sum(1 for _ in todo), "Nhúng tài liệu")
        for group in _document_groups(todo, settings, batch_chunks):
            prepared = prepare_documents(group, settings, embeddings)
            job.put(prepared)
            report.embedded_chunks += sum(len(p.chunks) for p in prepared)
            bar.update(len(group))
        bar.close()
        job.finish(report)
    except BaseException:
        job.abort()
        raise
    report.n_documents, report.n_chunks = job.counts()
    report.seconds = time.perf_counter() - t0
    return report


def _progress(enabled: bool, total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="tài liệu", disable=not enabled)


def _document_groups(docs: Sequence[LoadedDocument], settings: Settings, batch_chunks: int) -> Iterator[list[LoadedDocument]]:
    """Documents in groups of roughly ``batch_chunks`` passages (estimated from their length)."""
    step = max(1, settings.chunk_chars - settings.overlap_chars)
    group: list[LoadedDocument] = []
    size = 0
    for doc in docs:
        group.append(doc)
        size += len(doc.text) // step + 1
        if size >= batch_chunks:
            yield group
            group, size = [], 0
    if group:
        yield group


def delete_milvus(doc_ids: Iterable[str], settings: Settings) -> IngestReport:
    """Remove documents by id from the Milvus index."""
    t0 = time.perf_counter()
    report = IngestReport()
    wanted = sorted(set(doc_ids))
    index = MilvusIndex.connect(settings)
    index.require()
    manifest = index.manifest
    missing = [d for d in wanted if d not in manifest.documents]
    if missing:
        raise DocumentError(", ".join(missing), "no such document in the index")
    writer = MilvusWriter(index, index.meta(), fresh=False)
    writer.remove(wanted)
    report.generation = writer.commit()
    report.removed = wanted
    after = index.manifest
    report.n_documents, report.n_chunks = len(after.documents), after.n_chunks
    report.seconds = time.perf_counter() - t0
    return report


def migrate_faiss_to_milvus(settings: Settings, index_dir: str | Path | None = None, progress: bool = False) -> IngestReport:
    """Copy a FAISS index (chunks and vectors, no re-embedding) into Milvus, replacing what is there."""
    from .store import open_index

    t0 = time.perf_counter()
    report = IngestReport()
    store = open_index(index_dir or settings.index_dir)
    try:
        m = store.manifest
        meta = make_meta(m.model_id, m.dim, settings, m.title_prefix, m.chunk_chars, m.overlap_chars)
        index = MilvusIndex.connect(settings, create=True)
        writer = MilvusWriter(index, meta, fresh=True)
        try:
            rows = store.chunk_ids_by_document()
            vectors = store.vectors()
            bar = _progress(progress, len(m.documents), "Chép sang Milvus")
            batch: list[PreparedDocument] = []
            size = 0
            for doc_id in sorted(m.documents):
                record = store.document(doc_id)
                if record is None:
                    raise IndexStoreError(f"corrupt index at {store.path}: document '{doc_id}' is missing its text")
                ids = rows.get(doc_id, [])
                chunks = [Chunk(doc_id, record.title, c.start, c.end, c.text, i) for i, c in enumerate(store.chunks(ids))]
                batch.append(PreparedDocument(record, chunks, np.asarray(vectors[ids], dtype=np.float32)))
                size += len(ids)
                if size >= 1000:
                    writer.put(batch)
                    bar.update(len(batch))
                    batch, size = [], 0
            writer.put(batch)
            bar.update(len(batch))
            bar.close()
            report.generation = writer.commit()
        except BaseException:
            writer.abort()
            raise
        report.added = sorted(m.documents)
        report.n_documents, report.n_chunks = len(m.documents), m.n_chunks
    finally:
        store.close()
    report.seconds = time.perf_counter() - t0
    return report


# ---------------------------------------------------------------------------------------------
# Retrieval


class MilvusRetriever(HybridRetriever):
    """:class:`HybridRetriever` on Milvus: the same ``search()``/``SearchResult``/``Document`` output.

    ``fusion="server"`` (default) runs one ``hybrid_search`` whose RRF ranker (k = ``rrf_k``) fuses the
    dense, BM25 and folded-BM25 rankings inside Milvus; Milvus does not report each retriever's own
    rank, so ``Hit.ranks`` has the same keys with ``None`` values. ``fusion="client"`` runs the three
    searches and fuses them here with :func:`~rag.retrieve.reciprocal_rank_fusion`, reporting ranks.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    fusion: Literal["server", "client"] = "server"
    _doc_meta: dict[str, tuple[str, list[str], str]] = PrivateAttr(default_factory=dict)  # doc id → hash, dates, source

    def search(self, query: str, k: int | None = None) -> SearchResult:
        query = collapse_whitespace(query)
        if not query:
            raise QueryError("Câu hỏi trống / the question is empty")
        if len(query) > self.max_query_chars:
            raise QueryError(f"Câu hỏi quá dài / the question is longer than {self.max_query_chars} characters")
        k = k or self.k
        fetch = max(self.fetch_k, k)
        timings: dict[str, float] = {}
        vector = None
        if self.mode in ("hybrid", "dense"):
            t = time.perf_counter()
            vector = self.embeddings.encode_queries([query])[0]
            timings["embed"] = _ms(t)
        tokens = folded = ""
        if self.mode in ("hybrid", "bm25"):
            tokens, folded = bm25_text(tokenize(query)), bm25_text(tokenize_folded(query))
        # The same per-query weights as the FAISS retriever; a weight of 0 leaves a retriever out.
        weights = _query_weights(query) if self.mode == "hybrid" else {}
        if weights.get("bm25", 1.0) <= 0:
            tokens = ""
        if weights.get("bm25_folded", 1.0) <= 0:
            folded = ""
        if weights.get("dense", 1.0) <= 0:
            vector = None
        names = [n for n, on in (("dense", vector is not None), ("bm25", bool(tokens)), ("bm25_folded", bool(folded))) if on]
        t = time.perf_counter()
        if self.fusion == "server" and all(weights.get(n, 1.0) == 1.0 for n in names):
            found = self.store.hybrid_search(vector, tokens, folded, fetch, k, self.rrf_k)
            timings["milvus"] = _ms(t)
            positions: dict[str, dict[int, int]] = {name: {} for name in names}
        else:
            rankings = self.store.ranked_ids(vector, tokens, folded, fetch)
            timings["milvus"] = _ms(t)
            t = time.perf_counter()
            fused = reciprocal_rank_fusion(rankings, self.rrf_k, weights or None)[:k]
            scores = dict(fused)
            found = [(scores[r.chunk_id], r, h) for r, h in self.store.chunks_with_hash([cid for cid, _ in fused])]
            positions = {name: {cid: r for r, cid in enumerate(ids, start=1)} for name, ids in rankings.items()}
            timings["fusion"] = _ms(t)
        hits = [
            Hit(record, score, rank, {name: pos.get(record.chunk_id) for name, pos in positions.items()})
            for rank, (score, record, _) in enumerate(found, start=1)
        ]
        t = time.perf_counter()
        self._remember([(record.doc_id, content_hash) for _, record, content_hash in found])
        timings["documents"] = _ms(t)
        return SearchResult(hits, timings)

    def _remember(self, docs: list[tuple[str, str]]) -> None:
        """Fetch the dates and source of documents not cached at this content hash (so never stale)."""
        cache = self._doc_meta
        wanted = sorted({d for d, h in docs if cache.get(d, ("",))[0] != h})
        if not wanted:
            return
        if len(cache) > 10_000:
            cache.clear()
        cache.update(self.store.document_meta(wanted))

    def _dates_and_source(self, doc_id: str) -> tuple[list[str], str]:
        _, dates, source = self._doc_meta.get(doc_id, ("", [], ""))
        return list(dates), source


def load_milvus_retriever(settings: Settings, mode: Mode = "hybrid", store: MilvusIndex | None = None) -> MilvusRetriever:
    """Open the Milvus index named in ``settings`` with its embedding model; refuse another model's index."""
    from .embeddings import get_embeddings

    store = store or MilvusIndex.connect(settings)  # an unreachable URI fails before the model loads
    store.meta()
    embeddings = get_embeddings(settings.model, backend=settings.embed_backend)
    store.check_model(embeddings.model_id, embeddings.dim, action="rebuild with `python -m rag ingest corpus/ --store milvus --rebuild`")
    return MilvusRetriever(
        store=store,
        embeddings=embeddings,
        k=settings.top_k,
        fetch_k=settings.fetch_k,
        rrf_k=settings.rrf_k,
        mode=mode,
        max_query_chars=settings.max_question_chars,
    )


def _query_weights(query: str) -> dict[str, float]:
    """The FAISS retriever's per-query retriever weights, when it has them (all 1 otherwise)."""
    from . import retrieve

    weights = getattr(retrieve, "retriever_weights", None)
    return dict(weights(query)) if weights is not None else {}


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0
