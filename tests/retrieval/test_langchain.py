"""The public API in LangChain pipelines (LCEL) over the real index: the example of docs/integrations.md, run."""

from __future__ import annotations

from langchain_core.documents import Document
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda, RunnablePassthrough

from rag import build_answer_chain, get_settings, load_retriever

DIRECTOR_Q = "Giám đốc Bệnh viện Bãi Cháy là ai?"
BAI_CHAY = "001_74a51137ac984768"


def format_docs(docs: list[Document]) -> str:
    return "\n\n".join(f"[{i}] {d.metadata['title']}\n{d.page_content}" for i, d in enumerate(docs, start=1))


def test_retriever_pipes_into_a_prompt(corpus_settings):
    settings = get_settings(index_dir=corpus_settings.index_dir)
    retriever = load_retriever(settings)
    docs = retriever.invoke(DIRECTOR_Q)
    assert docs and docs[0].metadata["doc_id"] == BAI_CHAY and "Lê Ngọc Dũng" in docs[0].page_content

    context = (retriever | format_docs).invoke(DIRECTOR_Q)
    assert context.startswith("[1] ") and "Lê Ngọc Dũng" in context
    assert context == format_docs(docs)

    prompt = ChatPromptTemplate.from_messages([("system", "Trả lời từ các đoạn sau:\n{context}"), ("human", "{question}")])
    rag_prompt = {"context": retriever | format_docs, "question": RunnablePassthrough()} | prompt
    messages = rag_prompt.invoke(DIRECTOR_Q).to_messages()
    assert messages[-1].content == DIRECTOR_Q and "Lê Ngọc Dũng" in messages[0].content
    assert len(retriever.batch([DIRECTOR_Q, "Sở Y tế Quảng Ninh"])) == 2


def test_answer_chain_invokes_composes_and_streams(corpus_settings):
    settings = get_settings(index_dir=corpus_settings.index_dir)
    chain = build_answer_chain(settings, load_retriever(settings))

    answer = chain.invoke({"question": DIRECTOR_Q})
    assert not answer.abstained and "Lê Ngọc Dũng" in answer.answer
    assert answer.citations[0].doc_id == BAI_CHAY and f"[{answer.citations[0].n}]" in answer.answer

    follow = chain.invoke({"question": "Còn số ca phẫu thuật của bệnh viện đó thì sao?", "history": [[DIRECTOR_Q, answer.answer]]})
    assert follow.rewritten_query and "Bãi Cháy" in follow.rewritten_query

    pipeline = RunnableLambda(lambda q: {"question": q}) | chain | RunnableLambda(lambda a: a.answer)
    assert pipeline.invoke(DIRECTOR_Q) == answer.answer
    assert pipeline.batch([DIRECTOR_Q, DIRECTOR_Q]) == [answer.answer, answer.answer]

    parts = list(chain.stream({"question": DIRECTOR_Q}))
    assert "".join(p for p in parts if isinstance(p, str)) == answer.answer
    assert parts[-1].citations == answer.citations
