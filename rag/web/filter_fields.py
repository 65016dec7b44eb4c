"""The filter fields of ``/api/ask`` and ``/api/search``: documents and a date range, validated.

``documents`` (doc ids, file names or titles, see ``GET /api/documents``) and ``date_from`` /
``date_to`` (``YYYY-MM-DD``, compared with each document's own date) restrict the passages searched,
and so cited, inside retrieval (:mod:`rag.retrieval.filters`). An impossible date, an empty range or
an unknown document is a 422 ``invalid_filter``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from rag.retrieval.filters import MAX_DOCUMENTS, FilterError, SearchFilter

ISO_DAY = r"^\d{4}-\d{2}-\d{2}$"


class FilterFields(BaseModel):
    """Optional restriction of the passages searched (and so cited) to some documents."""

    documents: list[Annotated[str, Field(min_length=1, max_length=1024)]] | None = Field(
        None, max_length=MAX_DOCUMENTS, description="Only these documents: doc ids, file names or titles (see /api/documents)"
    )
    date_from: str | None = Field(
        None, pattern=ISO_DAY, json_schema_extra={"format": "date"}, description="Only documents dated on or after this day (YYYY-MM-DD)"
    )
    date_to: str | None = Field(
        None, pattern=ISO_DAY, json_schema_extra={"format": "date"}, description="Only documents dated on or before this day (YYYY-MM-DD)"
    )

    def search_filter(self) -> SearchFilter | None:
        """The filter these fields describe (None: none); a :class:`FilterError` when it is impossible."""
        return SearchFilter.parse(self.documents, self.date_from, self.date_to)


async def filter_error(request: Request, exc: FilterError) -> JSONResponse:
    """422 ``invalid_filter``, in the API's error shape."""
    return JSONResponse({"error": {"code": "invalid_filter", "message": str(exc)}}, status_code=422)
