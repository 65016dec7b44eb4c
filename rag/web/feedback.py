"""Feedback on answers (👍/👎 and an optional comment): a small SQLite store and its HTTP route.

``POST /api/feedback`` stores the rating with the question, the answer shown, its citations
and the time. The database lives *beside* the index directory (``<index_dir>-feedback.sqlite3``),
never inside a generation, so a rebuild or an upload never loses feedback; ``HDYT_FEEDBACK_DB``
moves it. :func:`export_gold` writes the stored feedback in the gold-file format of
``eval/gold.py``, so a 👎 becomes a candidate gold question (``python -m rag feedback export``).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from rag.config import Settings

__all__ = ["FeedbackIn", "FeedbackStore", "export_gold", "feedback_path", "feedback_router"]

MAX_COMMENT_CHARS = 1000


def feedback_path(settings: Settings) -> Path:
    """Where feedback is kept: ``HDYT_FEEDBACK_DB`` or ``<index_dir>-feedback.sqlite3`` next to the index."""
    configured = os.environ.get("HDYT_FEEDBACK_DB")
    if configured:
        return Path(configured)
    index = Path(settings.index_dir).resolve()
    return index.parent / f"{index.name}-feedback.sqlite3"


class CitedPassage(BaseModel):
    """What the client echoes of a citation (the passage text itself is not needed: the quote is)."""

    model_config = ConfigDict(extra="ignore")

    n: StrictInt | None = None  # strict: the schema's integers and booleans are not interchangeable
    doc_id: str = Field(..., max_length=300)
    title: str = Field("", max_length=500)
    quote: str | None = Field(None, max_length=4000)
    start: StrictInt | None = None
    end: StrictInt | None = None


class FeedbackIn(BaseModel):
    """One rating of one answer."""

    model_config = ConfigDict(extra="forbid")

    rating: Literal["up", "down"]
    question: str = Field(..., min_length=1, max_length=4000)
    answer: str = Field("", max_length=8000)
    abstained: StrictBool = False
    citations: list[CitedPassage] = Field(default_factory=list, max_length=20)
    history: list[tuple[str, str]] = Field(default_factory=list, max_length=20)
    comment: str = Field("", max_length=MAX_COMMENT_CHARS)
    origin: Literal["page", "widget"] = "page"
    id: StrictInt | None = Field(None, ge=1, le=2**63 - 1, description="A rating stored just before: attach this comment to it")


_SCHEMA = """CREATE TABLE IF NOT EXISTS feedback (
  id INTEGER PRIMARY KEY AUTOINCREMENT, created REAL NOT NULL, rating TEXT NOT NULL, question TEXT NOT NULL,
  answer TEXT NOT NULL, abstained INTEGER NOT NULL, citations TEXT NOT NULL, history TEXT NOT NULL,
  comment TEXT NOT NULL, origin TEXT NOT NULL)"""


class FeedbackStore:
    """Feedback rows in one SQLite file; safe for the server's threads (one connection per call)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=10)
        con.execute(_SCHEMA)
        return con

    def add(self, item: FeedbackIn) -> int:
        """Store one rating; returns its id."""
        row = (
            time.time(),
            item.rating,
            item.question.strip(),
            item.answer,
            int(item.abstained),
            json.dumps([c.model_dump() for c in item.citations], ensure_ascii=False),
            json.dumps([list(t) for t in item.history], ensure_ascii=False),
            item.comment.strip(),
            item.origin,
        )
        with self._lock, self._connect() as con:
            cur = con.execute(
                "INSERT INTO feedback (created, rating, question, answer, abstained, citations, history, comment, origin)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            return int(cur.lastrowid)

    def comment(self, item_id: int, comment: str) -> bool:
        """Attach a comment to a rating that has none yet; False when there is no such rating."""
        with self._lock, self._connect() as con:
            cur = con.execute("UPDATE feedback SET comment = ? WHERE id = ? AND comment = ''", (comment.strip(), item_id))
            return cur.rowcount == 1

    def rows(self, rating: str | None = None) -> Iterator[dict[str, Any]]:
        """Stored feedback, oldest first; ``rating`` "up" or "down" keeps only those."""
        if not self.path.exists():
            return
        with self._connect() as con:
            con.row_factory = sqlite3.Row
            query = "SELECT * FROM feedback" + (" WHERE rating = ?" if rating else "") + " ORDER BY id"
            for r in con.execute(query, (rating,) if rating else ()):
                d = dict(r)
                d["citations"] = json.loads(d["citations"])
                d["history"] = json.loads(d["history"])
                d["abstained"] = bool(d["abstained"])
                yield d


def gold_item(row: dict[str, Any]) -> dict[str, Any]:
    """A feedback row as a candidate line of ``eval/gold.jsonl`` (a person still checks it).

    The answer is the user's comment when there is one (often the correction), else the answer
    shown; cited documents and quotes become ``doc`` and ``evidence``; an abstention becomes an
    ``unanswerable`` item and a question asked with history a ``follow_up``.
    """
    docs = list(dict.fromkeys(c["doc_id"] for c in row["citations"]))
    quotes = [c["quote"] for c in row["citations"] if c.get("quote")]
    unanswerable = row["abstained"] or not docs
    category = "follow_up" if row["history"] else ("unanswerable" if unanswerable else "fact_metric")
    return {
        "id": f"fb{row['id']:05d}",
        "question": row["question"],
        "answer": row["comment"] or row["answer"] or "(chưa có)",
        "must_contain": [],
        "doc": None if unanswerable else (docs[0] if len(docs) == 1 else docs),
        "evidence": None if unanswerable or not quotes else (quotes[0] if len(quotes) == 1 else quotes),
        "category": category,
        "history": [list(t) for t in row["history"]],
    }


def export_gold(store: FeedbackStore, rating: str | None = "down") -> list[str]:
    """JSON lines in the gold format, one per stored rating (👎 only by default)."""
    return [json.dumps(gold_item(r), ensure_ascii=False) for r in store.rows(rating)]


def feedback_router(settings: Settings) -> APIRouter:
    """``POST /api/feedback``: validated, stored, answered with its id."""
    store = FeedbackStore(feedback_path(settings))
    router = APIRouter()

    @router.post("/api/feedback", tags=["api"], summary="Rate an answer (👍/👎) with an optional comment")
    def post_feedback(item: FeedbackIn) -> JSONResponse:
        if item.id is not None and item.comment.strip() and store.comment(item.id, item.comment):
            return JSONResponse({"id": item.id, "stored": True})
        return JSONResponse({"id": store.add(item), "stored": True})

    router.store = store  # type: ignore[attr-defined]  # the tests and the CLI read the same file
    return router
