"""20 clients ask 20 different questions through /api/ask at the same moment: nothing gets mixed up.

Each question is about one report of corpus/; every citation of its answer must come from that
report, and each answer must equal the one the same server gives to the question asked alone.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.helpers import ROOT

N_CLIENTS = 20
SINGLE_DOC = {"fact_metric", "fact_person", "fact_facility", "date", "no_diacritics", "paraphrase"}


def _questions(server_url: str) -> list[tuple[str, str, dict]]:
    """Up to N_CLIENTS single-report gold questions that the server answers with citations."""
    items = [json.loads(line) for line in (ROOT / "eval" / "gold.jsonl").read_text(encoding="utf-8").splitlines() if line]
    picked: list[tuple[str, str, dict]] = []
    with httpx.Client(timeout=120) as client:
        for item in items:
            if item.get("category") not in SINGLE_DOC or not isinstance(item.get("doc"), str):
                continue
            r = client.post(server_url + "/api/ask", json={"question": item["question"]})
            assert r.status_code == 200, r.text
            data = r.json()
            if data["citations"] and all(c["doc_id"] == item["doc"] for c in data["citations"]):
                picked.append((item["question"], item["doc"], data))
            if len(picked) == N_CLIENTS:
                break
    return picked


def test_twenty_simultaneous_clients_get_their_own_answers(api_server):
    cases = _questions(api_server.url)
    assert len(cases) == N_CLIENTS, f"only {len(cases)} gold questions are answered from their report"
    assert len({doc for _, doc, _ in cases}) >= 3  # questions about several different reports
    barrier = threading.Barrier(N_CLIENTS)

    def client(case):
        question, _, _ = case
        with httpx.Client(timeout=300) as c:
            barrier.wait()  # all 20 requests leave together
            return c.post(api_server.url + "/api/ask", json={"question": question})

    with ThreadPoolExecutor(max_workers=N_CLIENTS) as pool:
        responses = list(pool.map(client, cases))

    for (question, doc, alone), r in zip(cases, responses):
        assert r.status_code == 200, (question, r.text)
        got = r.json()
        assert got["citations"], question
        assert {c["doc_id"] for c in got["citations"]} == {doc}, question
        assert got["answer"] == alone["answer"], question
        assert [(c["doc_id"], c["start"], c["quote"]) for c in got["citations"]] == [
            (c["doc_id"], c["start"], c["quote"]) for c in alone["citations"]
        ], question
