"""Search filters without the model: parsing, resolving names and dates, and the restricted FAISS and BM25 searches.

The restricted searches are compared with a brute-force ranking of the allowed rows computed here
(numpy dot products, BM25 scores of every chunk), on a flat and on an approximate (IVF) index.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from rag.index.faiss.dense import build_dense_index, dense_top_k
from rag.index.faiss.sparse import bm25_top_k, build_bm25
from rag.index.records import DocumentEntry
from rag.retrieval.filters import FilterError, SearchFilter
from rag.text import tokenize


def entry(title: str, source: str, dates: list[str]) -> DocumentEntry:
    return DocumentEntry(title=title, source=source, content_hash="h", dates=dates, n_chunks=1)


LIBRARY = {
    "bc_2022": entry("Báo cáo công tác y tế năm 2022", "/data/bc_2022.docx", ["2022-12-20", "2021-05-01"]),
    "bc_2023": entry("Báo cáo công tác y tế năm 2023", "/data/bc_2023.pdf", ["2023-12-20"]),
    "sokết_6th": entry("Sơ kết 6 tháng đầu năm 2024", "/data/so_ket.txt", ["2024-06"]),
    "khong_ngay": entry("Thông báo không ghi ngày", "/data/tb.txt", []),
}


def test_parse_validates_dates_ranges_and_sizes():
    assert SearchFilter.parse() is None and SearchFilter.parse([], "", None) is None and SearchFilter.parse(["  "]) is None
    f = SearchFilter.parse(["a", "a", " b "], "2024-01-01", date(2024, 12, 31))
    assert f == SearchFilter(("a", "b"), date(2024, 1, 1), date(2024, 12, 31))
    for bad in ("2024-13-01", "2024-02-30", "01/02/2024", "2024-1-1", "hôm qua"):
        with pytest.raises(FilterError, match="YYYY-MM-DD"):
            SearchFilter.parse(since=bad)
    with pytest.raises(FilterError, match="from is after to"):
        SearchFilter.parse(since="2024-02-01", until="2024-01-31")
    with pytest.raises(FilterError, match="at most 100"):
        SearchFilter.parse([f"d{i}" for i in range(101)])


def test_documents_by_id_file_name_or_title():
    by_names = SearchFilter.parse(["bc_2022", "bc_2023.pdf", "  sơ KẾT 6 tháng   đầu năm 2024 "])
    assert by_names.allowed(LIBRARY) == {"bc_2022", "bc_2023", "sokết_6th"}
    with pytest.raises(FilterError, match="no such document.*'bc_2099'"):
        SearchFilter.parse(["bc_2022", "bc_2099"]).allowed(LIBRARY)


def test_date_ranges_use_the_documents_own_date():
    def allowed(since=None, until=None, documents=None):
        return SearchFilter.parse(documents, since, until).allowed(LIBRARY)

    assert allowed("2023-01-01") == {"bc_2023", "sokết_6th"}  # the undated one is left out
    assert allowed(until="2022-12-31") == {"bc_2022"}  # its first date decides, not a 2021 date it mentions
    assert allowed("2021-01-01", "2021-12-31") == set()
    assert allowed("2024-06-30", "2024-07-15") == {"sokết_6th"}  # a month overlaps the range by one day
    assert allowed("2024-07-01") == set()
    assert allowed("2023-01-01", documents=["bc_2022", "bc_2023"]) == {"bc_2023"}  # both conditions


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    rng = np.random.default_rng(7)
    v = rng.normal(size=(3000, 32)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def brute(vectors: np.ndarray, rows: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    scores = vectors[rows] @ query
    return [int(rows[i]) for i in np.lexsort((rows, -scores))[:k]]


@pytest.mark.parametrize("kind", ["flat", "ivf"])
@pytest.mark.parametrize("n_allowed", [3, 40, 2500])
def test_dense_search_inside_the_allowed_rows(vectors, kind, n_allowed):
    index = build_dense_index(vectors, kind)
    rng = np.random.default_rng(n_allowed)
    allowed = np.sort(rng.choice(len(vectors), n_allowed, replace=False)).astype(np.int64)
    query = vectors[int(rng.integers(len(vectors)))] + 0.1
    query = (query / np.linalg.norm(query)).astype(np.float32)
    ids, scores = dense_top_k(index, query, 10, vectors, allowed=allowed)
    assert len(ids) == min(10, n_allowed)  # k hits whenever k rows are allowed
    assert set(ids.tolist()) <= set(allowed.tolist())
    expected = brute(vectors, allowed, query, 10)
    if kind == "flat" or n_allowed <= 40:
        assert ids.tolist() == expected  # exact
    else:  # approximate over many allowed rows: most of the true top 10
        assert len(set(ids.tolist()) & set(expected)) >= 7
    assert np.allclose(scores, vectors[ids] @ query, atol=1e-3)
    assert dense_top_k(index, query, 10, vectors, allowed=np.empty(0, dtype=np.int64))[0].size == 0


def test_bm25_ranks_only_the_allowed_rows():
    texts = [f"Bệnh viện {i} khám {1000 + i} lượt người" + (" khám lại" * (i % 4)) for i in range(60)]
    model = build_bm25(texts, tokenize)
    query = tokenize("khám lại bao nhiêu lượt")
    every = model.get_scores(query)
    allowed = np.arange(0, 60, 7, dtype=np.int64)
    ids, scores = bm25_top_k(model, query, 5, allowed)
    assert len(ids) == 5 and set(ids.tolist()) <= set(allowed.tolist())
    order = sorted(allowed.tolist(), key=lambda i: (-every[i], i))[:5]
    assert ids.tolist() == order and np.allclose(scores, every[ids])
    unfiltered = bm25_top_k(model, query, 5)[0].tolist()
    assert not set(unfiltered) <= set(allowed.tolist())  # the filter changed the ranking, not just cut it
    assert bm25_top_k(model, query, 5, np.empty(0, dtype=np.int64))[0].size == 0
