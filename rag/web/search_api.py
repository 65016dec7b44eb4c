"""``POST /api/search`` (ranked passages, the ``search --json`` shape) and ``GET /api/documents`` (the library).

Both sit behind the same guard as ``/api/ask`` (:data:`rag.web.api.KEYED`: API key, rate limit);
``/api/search`` takes the filter fields of :mod:`rag.web.filter_fields`, and ``/api/documents`` lists
the names those filters accept, with each document's dates and its OCR and legacy-encoding flags.
"""

from __future__ import annotations

from fastapi import FastAPI, Security
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from rag.config import Settings
from rag.web.api import API_KEY_SCHEME, checked, keyed_post
from rag.web.models import errors
from rag.web.filter_fields import FilterFields


class SearchRequest(FilterFields):
    """A search: ranked passages for a query, optionally filtered by document and date."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"query": "giường bệnh thực kê", "k": 5, "date_from": "2024-01-01"}]}
    )

    query: str = Field(..., description="What to search for")
    k: int | None = Field(None, ge=1, le=50, description="Number of passages (default: the server's top_k)")


class SearchHit(BaseModel):
    rank: int
    doc_id: str
    title: str
    text: str = Field(..., description="The exact passage: document[start:end]")
    start: int
    end: int
    score: float


class SearchResponse(BaseModel):
    """Same shape as ``python -m rag search --json``."""

    query: str
    results: list[SearchHit]


class DocumentRow(BaseModel):
    model_config = ConfigDict(extra="allow")

    doc_id: str
    title: str
    n_chunks: int
    dates: list[str] = Field(..., description="Dates the report mentions, its own date first (ISO day or month)")
    source: str
    ocr_pages: int = Field(0, description="Pages (or images) whose text was recognised by OCR")
    legacy_encoding: str | None = Field(None, description="The legacy font encoding the text was converted from (tcvn3, vni)")


class DocumentsResponse(BaseModel):
    """Same shape as ``python -m rag docs --json``."""

    model_id: str
    n_chunks: int
    documents: list[DocumentRow]


def add_search_api(app: FastAPI, assistant, settings: Settings) -> None:
    """The two routes on ``app`` (after :func:`rag.web.api.add_api`, whose guard and error handlers they use)."""

    @keyed_post(app, "/api/search", SearchResponse, "Ranked passages for a query, optionally filtered by document and date")
    def search(req: SearchRequest, _key: str | None = Security(API_KEY_SCHEME)) -> Response:
        q = checked(settings, req.query, req)
        return JSONResponse(assistant.search_json(q.question, req.k or settings.top_k, search_filter=q.search_filter))

    @app.get("/api/documents", response_model=DocumentsResponse, responses=errors(401, 429, 503), tags=["api"])
    def documents(_key: str | None = Security(API_KEY_SCHEME)) -> Response:
        """The library: each document's id, title, dates and source (the names filters accept), and whether
        its text came from OCR or was converted from a legacy encoding."""
        return JSONResponse(assistant.documents_json())
