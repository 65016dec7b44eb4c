"""Answers: a question and its passages in, a cited (or honestly abstaining) answer out.

:mod:`~rag.answer.chain` (the LangChain Runnable: validation, follow-ups, retrieval, backends),
:mod:`~rag.answer.compose` (the offline answerer: parts of a question, joined answers),
:mod:`~rag.answer.extractive` (facts: candidates, features, quotes), :mod:`~rag.answer.llm` and
:mod:`~rag.answer.verify` (an optional LLM behind a verifier).
"""
