"""What a question and a conversation history must be before anything is searched: clear errors, in two languages."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from rag.errors import QueryError
from rag.text import normalize

MAX_HISTORY_TURNS = 50  # longer histories are refused (only the last few turns are used)
MAX_HISTORY_MESSAGE_CHARS = 20_000
HISTORY_TURNS_USED = 3
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def validate_question(question: Any, max_chars: int) -> str:
    """The question, normalised; a :class:`QueryError` (Vietnamese + English) when unusable."""
    if not isinstance(question, str):
        raise QueryError("Câu hỏi phải là văn bản. / The question must be a string.")
    question = unicodedata.normalize("NFC", question).replace("\r\n", "\n")
    if _CONTROL.search(question):
        raise QueryError(
            "Câu hỏi chứa ký tự điều khiển không hợp lệ. / The question contains control characters."
        )
    if not question.strip():
        raise QueryError("Câu hỏi trống. / The question is empty.")
    if len(question) > max_chars:
        raise QueryError(
            f"Câu hỏi quá dài ({len(question)} ký tự, tối đa {max_chars}). / "
            f"The question is too long ({len(question)} characters, at most {max_chars})."
        )
    return normalize(question)


def validate_history(history: Any) -> list[tuple[str, str]]:
    """A list of ``[user, assistant]`` string pairs; anything else is a :class:`QueryError`."""
    if history is None:
        return []
    if isinstance(history, (str, bytes)) or not isinstance(history, (list, tuple)):
        raise QueryError(
            "Lịch sử hội thoại phải là danh sách các cặp [câu hỏi, câu trả lời]. / "
            "history must be a list of [user, assistant] pairs."
        )
    if len(history) > MAX_HISTORY_TURNS:
        raise QueryError(
            f"Lịch sử hội thoại quá dài (tối đa {MAX_HISTORY_TURNS} lượt). / "
            f"history is too long (at most {MAX_HISTORY_TURNS} turns)."
        )
    pairs: list[tuple[str, str]] = []
    for i, turn in enumerate(history):
        if not isinstance(turn, (list, tuple)) or len(turn) != 2 or not all(isinstance(x, str) for x in turn):
            raise QueryError(
                f"Lượt hội thoại thứ {i + 1} không phải cặp [câu hỏi, câu trả lời] dạng văn bản. / "
                f"history item {i + 1} is not a [user, assistant] pair of strings."
            )
        if any(len(x) > MAX_HISTORY_MESSAGE_CHARS for x in turn):
            raise QueryError(
                f"Lượt hội thoại thứ {i + 1} quá dài. / history item {i + 1} is too long "
                f"(at most {MAX_HISTORY_MESSAGE_CHARS} characters per message)."
            )
        if any(_CONTROL.search(x.replace("\r\n", "\n")) for x in turn):
            raise QueryError(
                f"Lượt hội thoại thứ {i + 1} chứa ký tự điều khiển. / history item {i + 1} contains control characters."
            )
        pairs.append((normalize(turn[0]), normalize(turn[1])))
    return pairs
