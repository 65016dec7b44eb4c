"""What a question and a conversation history must be before anything is searched: clear errors, in two languages.

Refused: non-strings, control characters, lone surrogates (``"\\ud800"`` from JSON, undecodable
command-line bytes), Unicode non-characters, and text with nothing but whitespace and invisible
format characters (zero-width spaces, BOMs). Lengths are counted after NFC, so a question typed in
decomposed form (NFD, ``e`` + combining marks) is measured as the user sees it.
"""

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
_SURROGATE = re.compile("[\ud800-\udfff]")
# what counts as content: letters, marks on them, digits, punctuation, symbols (not Z*, Cf, Cc)
_CONTENT_CATEGORIES = frozenset("L N P S".split())


class QuestionError(QueryError):
    """A :class:`QueryError` with a stable machine code (the API's ``error.code``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def has_content(text: str) -> bool:
    """Whether ``text`` holds anything visible besides whitespace and format characters."""
    return any(unicodedata.category(ch)[0] in _CONTENT_CATEGORIES for ch in text)


def _is_noncharacter(ch: str) -> bool:
    """U+FDD0..U+FDEF and the last two code points of every plane (U+FFFE, U+1FFFF…)."""
    code = ord(ch)
    return 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE


def bad_characters(text: str) -> str | None:
    """Why ``text`` cannot be used (control, surrogate or non-character), in both languages, or None."""
    if _CONTROL.search(text):
        return "chứa ký tự điều khiển không hợp lệ / contains control characters"
    if _SURROGATE.search(text):
        return "chứa ký tự Unicode không hợp lệ (nửa cặp thay thế) / contains an unpaired surrogate (invalid Unicode)"
    if any(_is_noncharacter(ch) for ch in text):
        return "chứa ký tự Unicode không dùng được (non-character) / contains a Unicode non-character"
    return None


def validate_question(question: Any, max_chars: int) -> str:
    """The question, normalised; a :class:`QueryError` (Vietnamese + English) when unusable."""
    if not isinstance(question, str):
        raise QuestionError("invalid_question", "Câu hỏi phải là văn bản. / The question must be a string.")
    problem = bad_characters(question.replace("\r\n", "\n"))
    if problem:
        raise QuestionError("invalid_question", f"Câu hỏi {problem}.")
    question = unicodedata.normalize("NFC", question).replace("\r\n", "\n")
    if not has_content(question):
        raise QuestionError("empty_question", "Câu hỏi trống. / The question is empty.")
    if len(question.strip()) > max_chars:
        raise QuestionError(
            "question_too_long",
            f"Câu hỏi quá dài ({len(question.strip())} ký tự, tối đa {max_chars}). / "
            f"The question is too long ({len(question.strip())} characters, at most {max_chars}).",
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
        problems = [bad_characters(x.replace("\r\n", "\n")) for x in turn]
        problem = next((p for p in problems if p), None)
        if problem:
            raise QueryError(f"Lượt hội thoại thứ {i + 1} / history item {i + 1}: {problem}.")
        pairs.append((normalize(turn[0]), normalize(turn[1])))
    return pairs
