"""Query/passage prefixes of an embedding model (e5 models were trained with "query: " / "passage: ")."""

from __future__ import annotations

from pathlib import Path

E5_PROMPTS = {"query": "query: ", "passage": "passage: "}


def prompts_for(model: str, defined: dict[str, str]) -> tuple[str, str]:
    """(query, passage) prefixes: the model's own, else e5's for e5-family names, else none."""
    defined = {k: v for k, v in defined.items() if v}  # ST fills in "" for models that define none
    query, passage = defined.get("query"), defined.get("passage", defined.get("document"))
    if query is None and passage is None and "e5" in Path(model).name.lower():
        return E5_PROMPTS["query"], E5_PROMPTS["passage"]
    return query or "", passage or ""
