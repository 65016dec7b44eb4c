"""Greetings, thanks and "what can you do?": a short help reply with example questions, not "không tìm thấy".

The phrases and replies are data (``data/smalltalk.json``). A question is small talk
only when, folded (lower case, no diacritics, no punctuation), it *is* one of the phrases (a
greeting may add an addressee: "chào bạn", "hello there"); anything longer is a real question.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from rag.text import fold

__all__ = ["SMALLTALK_BACKEND", "smalltalk_reply"]

SMALLTALK_BACKEND = "smalltalk"
_DATA = Path(__file__).resolve().parent / "data" / "smalltalk.json"
_PUNCT = re.compile(r"[^\w\s]+")


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    data = json.loads(_DATA.read_text(encoding="utf-8"))
    for key in ("greetings", "addressees", "help", "thanks"):
        data[key] = frozenset(" ".join(p.split()) for p in data[key])
    return data


def _key(text: str) -> str:
    return " ".join(_PUNCT.sub(" ", fold(text).lower()).split())


def _kind(key: str, data: dict[str, Any]) -> str | None:
    if key in data["help"]:
        return "help"
    if key in data["thanks"]:
        return "thanks"
    words = key.split()
    for cut in range(len(words), 0, -1):
        head, rest = " ".join(words[:cut]), words[cut:]
        if head in data["greetings"] and all(w in data["addressees"] for w in rest):
            return "greeting"
        if head in data["help"] and all(w in data["addressees"] for w in rest):
            return "help"
    return None


def smalltalk_reply(question: str) -> str | None:
    """The reply to small talk, or ``None`` for a question to search for."""
    key = _key(question)
    if not key or len(key) > 60:
        return None
    data = _data()
    kind = _kind(key, data)
    if kind is None:
        return None
    if kind == "thanks":
        return data["reply_thanks"]
    lead = data["reply_greeting"] if kind == "greeting" else data["reply_help"]
    examples = "\n".join(f"• {q}" for q in data["examples"])
    return f"{lead}\n\n{data['examples_intro']}\n{examples}"
