"""Answers: a question and its passages in, a cited (or honestly abstaining) answer out.

:mod:`~rag.answer.chain` (the LangChain Runnable: validation, follow-ups, retrieval, backends),
:mod:`~rag.answer.extractive` (the offline answerer), :mod:`~rag.answer.llm` and
:mod:`~rag.answer.verify` (an optional LLM behind a verifier).
"""
