"""The embedded index: atomic generations of FAISS (dense), BM25 (accented and folded) and a SQLite chunk store.

:mod:`~rag.index.faiss.generations` (directory layout, pointer, lock), :mod:`~rag.index.faiss.store`
(reading and searching), :mod:`~rag.index.faiss.writer` (writing a base or delta segment),
:mod:`~rag.index.faiss.dense` (FAISS index kinds), :mod:`~rag.index.faiss.sparse` (BM25),
:mod:`~rag.index.faiss.vocab` (BM25 vocabularies as memory-mapped arrays), :mod:`~rag.index.faiss.rows`
(vector rows read on demand), :mod:`~rag.index.faiss.sentences` (stored vectors of candidate sentences).
"""
