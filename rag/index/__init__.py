"""The index: records every backend stores (:mod:`~rag.index.records`), the embedded FAISS + BM25 store
(:mod:`~rag.index.faiss`) and the Milvus backend (:mod:`~rag.index.milvus`, optional extra).

Both backends answer the same reading protocol: ``manifest`` (documents, model id), ``n_chunks``,
``chunks(ids)``, ``all_chunks()``, ``document(doc_id)``; FAISS searches through ``dense_search`` and
its BM25 indexes, Milvus through ``hybrid_search``/``ranked_ids``. Open one with :mod:`rag.backend`.
"""
