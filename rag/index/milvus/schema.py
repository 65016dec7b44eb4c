"""What the Milvus collections hold: their schemas, the rows written for a document, the build meta.

BM25 runs on our own tokens (see the package docstring): :func:`bm25_text` spells each number's
separators as letters so that Milvus's "standard" tokenizer gives back exactly our tokens.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rag.config import Settings
from rag.errors import DocumentError, IndexStoreError
from rag.index.records import FORMAT_VERSION, Chunk, ChunkRecord, DocumentRecord, indexed_text
from rag.text import tokenize, tokenize_folded

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




def bm25_text(tokens: Iterable[str]) -> str:
    """The BM25 input for Milvus: our tokens, numbers' separators as letters, joined by spaces.

    Injective: words never contain digits and numbers always start with one, so no two different
    tokens meet ("383.605" → "383p605", "383,605" → "383c605", "5/1/2024" → "5s1s2024", "95%" → "95q").
    """
    return " ".join(t.translate(_NUMBER_SEPARATORS) if t[:1].isdigit() else t for t in tokens)


def quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def in_filter(field: str, values: Sequence[str]) -> str:
    return f"{field} in [{', '.join(quote(v) for v in values)}]"


def batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


@dataclass
class PreparedDocument:
    """A document ready to be written: its record, passages and their vectors (same order), and its
    flags: pages read by OCR, the legacy encoding its text was converted from."""

    doc: DocumentRecord
    chunks: list[Chunk]
    vectors: np.ndarray
    ocr_pages: int = 0
    legacy_encoding: str | None = None


FLAGS_FIELD = "flags"  # documents collection: {"ocr_pages", "legacy_encoding"} as JSON (collections built before it lack it)


def flags_json(ocr_pages: int, legacy_encoding: str | None) -> str:
    return json.dumps({"ocr_pages": int(ocr_pages), "legacy_encoding": legacy_encoding})


def read_flags(value: str | None) -> dict[str, Any]:
    """``{"ocr_pages", "legacy_encoding"}`` of a documents row's flags (defaults when absent)."""
    data = json.loads(value) if value else {}
    return {"ocr_pages": int(data.get("ocr_pages") or 0), "legacy_encoding": data.get("legacy_encoding") or None}


def chunk_record(chunk_id: int, row: dict[str, Any]) -> ChunkRecord:
    return ChunkRecord(int(chunk_id), row["doc_id"], row["title"], int(row["char_start"]), int(row["char_end"]), row["text"])



def chunk_rows(item: PreparedDocument, run_id: str, title_prefix: bool) -> Iterator[dict[str, Any]]:
    """The chunks-collection rows of a document: exact text, offsets, our BM25 tokens, the vector."""
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
            if utf8_len(row[field]) > VARCHAR_MAX:
                raise DocumentError(doc.source, f"a passage's {field} is over Milvus's {VARCHAR_MAX}-byte limit: lower chunk_chars")
        yield row


def document_rows(item: PreparedDocument, run_id: str) -> Iterator[dict[str, Any]]:
    """The documents-collection rows of a document (a long text split over several rows)."""
    doc = item.doc
    text = doc.text
    parts = [text[i : i + DOC_PART_CHARS] for i in range(0, len(text), DOC_PART_CHARS)] or [""]
    dates = list(doc.dates)
    dates_json = json.dumps(dates, ensure_ascii=False)
    while utf8_len(dates_json) > VARCHAR_MAX:  # thousands of dates: keep the first ones
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
            FLAGS_FIELD: flags_json(item.ocr_pages, item.legacy_encoding) if n == 0 else "",
            "n_chunks": len(item.chunks),
            "ingest_id": run_id,
            "text": part,
            "_unused": [1.0, 0.0],
        }


def new_run_id() -> str:
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


_SCHEMES = ("http://", "https://", "tcp://", "grpc://", "unix:")


def is_local_uri(uri: str) -> bool:
    """A local file path (Milvus Lite) rather than a server address."""
    return not uri.startswith(_SCHEMES)


def display_uri(uri: str) -> str:
    """The URI without credentials, for messages."""
    return re.sub(r"//[^/@]*@", "//***@", uri)


def collection_schemas(client, meta: dict[str, Any]) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """(schema, index params) of the chunks collection and of the documents collection."""
    from pymilvus import DataType, Function, FunctionType

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
    chunk_collection = (schema, index)

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("part_key", DataType.VARCHAR, is_primary=True, max_length=1100)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=1024)
    schema.add_field("part", DataType.INT64)
    schema.add_field("n_parts", DataType.INT64)
    schema.add_field("title", DataType.VARCHAR, max_length=VARCHAR_MAX)
    schema.add_field("source", DataType.VARCHAR, max_length=VARCHAR_MAX)
    schema.add_field("content_hash", DataType.VARCHAR, max_length=128)
    schema.add_field("dates", DataType.VARCHAR, max_length=VARCHAR_MAX)
    schema.add_field(FLAGS_FIELD, DataType.VARCHAR, max_length=256)
    schema.add_field("n_chunks", DataType.INT64)
    schema.add_field("ingest_id", DataType.VARCHAR, max_length=64)
    schema.add_field("text", DataType.VARCHAR, max_length=VARCHAR_MAX)
    schema.add_field("_unused", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field in every collection
    index = client.prepare_index_params()
    index.add_index(field_name="_unused", index_type="FLAT", metric_type="L2")
    return chunk_collection, (schema, index)
