"""One cold start: a fresh process that opens an existing index and answers one question.

``python -m bench.cold_start --index DIR --backend onnx [--question "..."]`` prints one JSON line
with time stamps (``time.time()``) of: start of this module, imports done, answer chain (or
retriever) loaded, first answer ready. The parent adds the moment it spawned the process, so the
interpreter's own start-up is included.
"""

from __future__ import annotations

import time

T_START = time.time()

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", required=True)
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--question", default="Năm 2023, tổng số lượt khám bệnh của các đơn vị y tế tỉnh Quảng Ninh là bao nhiêu?")
    args = parser.parse_args()
    from rag.config import get_settings

    # the modules an app imports up front; the model backends are imported when loaded
    import rag.answer.chain  # noqa: F401
    import rag.index.faiss.store  # noqa: F401
    import rag.retrieval.hybrid  # noqa: F401

    overrides = {"index_dir": args.index}
    settings = get_settings(**overrides)
    settings = settings.model_copy(update={"embed_backend": args.backend})
    t_imports = time.time()
    mode = "ask"
    try:
        from rag.answer.chain import build_answer_chain
    except ImportError:
        build_answer_chain = None
    if build_answer_chain is not None:
        chain = build_answer_chain(settings)
        t_loaded = time.time()
        answer = chain.answer(args.question)
    else:  # no answer chain yet: the first search stands in for the first answer
        from rag.backend import load_retriever

        mode = "search"
        retriever = load_retriever(settings)
        t_loaded = time.time()
        answer = retriever.search(args.question)
    t_answer = time.time()
    heavy = sorted(m for m in ("torch", "transformers", "sentence_transformers", "onnxruntime", "faiss", "bm25s", "langchain_core", "scipy", "sklearn") if m in sys.modules)
    print(json.dumps({
        "mode": mode,
        "t_start": T_START,
        "t_imports": t_imports,
        "t_loaded": t_loaded,
        "t_answer": t_answer,
        "answer_type": type(answer).__name__,
        "modules_loaded": heavy,
    }))


if __name__ == "__main__":
    main()
