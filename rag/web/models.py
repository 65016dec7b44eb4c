"""The JSON API's request and response models (they are its OpenAPI schema) and its documented errors."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from rag.web.filter_fields import FilterFields

MAX_HISTORY_TURNS = 20


class AskRequest(FilterFields):
    """A question, optionally with the earlier turns of the conversation and a filter."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"question": "Giám đốc Bệnh viện Bãi Cháy là ai?"},
                {
                    "question": "Còn số ca phẫu thuật thì sao?",
                    "history": [["Bệnh viện Bãi Cháy khám bao nhiêu lượt năm 2023?", "… [1]"]],
                },
                {"question": "Khám bao nhiêu lượt người?", "date_from": "2024-01-01", "date_to": "2024-12-31"},
            ]
        },
    )

    question: str = Field(..., description="Câu hỏi (tiếng Việt có hoặc không dấu, hoặc tiếng Anh)")
    history: list[tuple[str, str]] = Field(
        default_factory=list,
        max_length=MAX_HISTORY_TURNS,
        description="Earlier turns, oldest first, each a [question, answer] pair",
    )
    wait_for_llm: StrictBool = Field(
        True,
        description="With an LLM configured: false returns the extractive answer at once, without asking the LLM",
    )
    answer_id: str | None = Field(
        None,
        max_length=64,
        description="With wait_for_llm=true: the answer_id of the extractive answer to this same request, whose LLM "
        "answer is wanted (searched once; an unknown or expired id answers from the start)",
    )


class AdminSessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(..., description="The server's admin token (HDYT_ADMIN_TOKEN)")


class CitationModel(BaseModel):
    """A cited (or, in ``related``, possibly relevant) passage; ``text == document[start:end]``."""

    model_config = ConfigDict(extra="allow")

    n: int | None = Field(None, description="The number used by the [n] marker in the answer")
    doc_id: str
    title: str
    text: str = Field(..., description="The exact passage")
    start: int = Field(..., description="Passage start offset in the document text")
    end: int
    quote: str | None = Field(None, description="The sentence(s) supporting the answer")
    quote_start: int | None = None
    quote_end: int | None = None
    score: float | None = None


class PartModel(BaseModel):
    question: str = Field(..., description="The part of a compound question, as searched (standalone)")
    answer: str = Field(..., description="Its answer line, with [n] markers, or its own “không tìm thấy” line")
    abstained: bool
    citations: list[int] = Field(default_factory=list, description="The n of the citations this part uses")
    computed: str | None = Field(None, description="A figure computed from the cited operands: “250.000 − 212.480 = 37.520”")
    not_found: bool = Field(False, description="The reports do not answer this part (a UI shows “không tìm thấy”)")


class DocumentMeta(BaseModel):
    date: str | None = Field(None, description="The report's date (ISO), if it states one")
    source_name: str = Field("", description="The report's file name")


class AskResponse(BaseModel):
    """Same shape as ``python -m rag ask --json``."""

    model_config = ConfigDict(extra="allow")

    answer: str = Field(..., description="Answer text with [n] citation markers and **bold** spans")
    abstained: bool = Field(..., description="True when the reports do not answer the question")
    rewritten_query: str | None = Field(None, description="Stand-alone question searched for a follow-up")
    restored_query: str | None = Field(None, description="An accent-less question with its accents restored (what was searched)")
    citations: list[CitationModel]
    related: list[CitationModel] = Field(default_factory=list, description="Possibly relevant, not cited")
    documents: dict[str, DocumentMeta] = Field(
        default_factory=dict, description="Date and file of every document cited or related, by doc_id"
    )
    latency_ms: float | None = None
    backend: str = Field("extractive", description="Who wrote the answer: extractive or llm")
    fallback_reason: str | None = Field(None, description="Why the configured LLM's answer is not the one shown")
    confidence: float | None = Field(None, description="P(the answer is right) from the calibrated scorer; for an abstention, the best seen")
    parts: list[PartModel] = Field(
        default_factory=list, description="The parts of a compound question or a computed comparison, in the order asked; [] for a one-part question"
    )
    answer_id: str | None = Field(
        None,
        description="Only with wait_for_llm=false when an LLM will write the final answer: send it back with the same "
        "request and wait_for_llm=true, within two minutes, to get that answer without searching again",
    )


class HealthResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: str
    index_loaded: bool
    documents: int
    chunks: int
    model_id: str
    version: str | None = Field(None, description="The server's version")
    generation_built_at: str | None = Field(None, description="When the live index generation was built (UTC, ISO 8601)")


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": desc}
    for status, desc in {
        400: "Invalid JSON",
        401: "Missing or wrong credentials",
        403: "Admin functions disabled (no admin token configured)",
        413: "Request body too large",
        422: "Invalid question or history",
        429: "Rate limit exceeded, or too many wrong credentials (see Retry-After)",
        503: "Index not available",
    }.items()
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The documented error responses of one route."""
    return {status: ERROR_RESPONSES[status] for status in statuses}
