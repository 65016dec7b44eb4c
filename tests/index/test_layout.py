"""The on-disk layout of a generation: binary BM25 vocabularies and the documents table.

Both replace JSON that was parsed whole on every open (the BM25 vocabularies, the manifest's
per-document entries). Checked here: the binary vocabulary holds exactly what bm25s's JSON one
holds; the documents table answers like the dict it replaces; and an index written before either
existed (JSON vocabularies, entries inline in manifest.json) still opens, searches the same, and
gains the new files (and the compact BM25 postings, tests/index/test_impacts.py) on its next write
or an explicit upgrade.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.errors import IndexStoreError
from rag.index.faiss.impacts import FILES as IMPACT_FILES
from rag.index.faiss.impacts import has_impacts
from rag.index.faiss.generations import DOCUMENTS, LEXICAL, MANIFEST, DocumentTable, live_generation, read_manifest, write_lock
from rag.index.faiss.sparse import VOCAB, TokenizedCorpus, bm25_top_k, build_bm25, load_bm25, load_tokens, read_vocabulary, save_bm25
from rag.index.faiss.store import open_index
from rag.index.faiss.vocab import FILES as VOCAB_FILES
from rag.index.faiss.vocab import Vocabulary, has_vocabulary, save_vocabulary
from rag.index.faiss.writer import GenerationData, upgrade_generation, write_delta_generation, write_generation
from rag.index.records import Chunk, DocumentEntry, DocumentRecord, Manifest

WORDS = ["bệnh", "viện", "tỉnh", "y", "tế", "tiêm", "chủng", "năm", "2023", "trẻ", "em", "đạt", "Đà", "Nẵng", "ca", "sốt"]


def _texts(n: int, seed: int = 0) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    return [[WORDS[int(i)] for i in rng.integers(0, len(WORDS), int(rng.integers(3, 12)))] + [f"mã{j}"] for j in range(n)]


def _make_old(directory: Path) -> None:
    """Turn a BM25 directory into what was written before the binary vocabulary and the compact postings."""
    for name in VOCAB_FILES + IMPACT_FILES:
        (directory / name).unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# The vocabulary


def test_binary_vocabulary_equals_the_json_one(tmp_path):
    model = build_bm25(TokenizedCorpus.from_tokens(_texts(400)))
    save_bm25(model, tmp_path)
    from_json = json.loads((tmp_path / VOCAB).read_text(encoding="utf-8"))  # bm25s's own file
    binary = read_vocabulary(tmp_path)
    assert isinstance(binary, Vocabulary) and len(binary) == len(from_json) == 400 + len(WORDS) + 1  # + bm25s's ""
    assert dict(binary.items()) == from_json
    for token, tid in from_json.items():
        assert binary[token] == tid and token in binary and binary.token(tid) == token
    assert binary.get("khôngcótừnày") is None and "khôngcótừnày" not in binary and 7 not in binary
    with pytest.raises(KeyError):
        binary["benh"]  # folded spelling: another token
    assert "" in binary  # the empty token bm25s adds


def test_binary_vocabulary_round_trips_any_unicode(tmp_path):
    vocab = {t: i for i, t in enumerate(["", "ă", "Ẵ", "😀", "a" * 300, "tiếng việt", "x\x00y", "\u0301"])}
    save_vocabulary(vocab, tmp_path)
    loaded = Vocabulary(tmp_path)
    assert dict(loaded.items()) == vocab and loaded.tokens() == list(vocab)
    with pytest.raises(ValueError, match="ids must be"):
        save_vocabulary({"a": 0, "b": 0}, tmp_path)


def test_truncated_vocabulary_files_are_refused(tmp_path):
    save_vocabulary({"a": 0, "bc": 1}, tmp_path)
    (tmp_path / "vocab.tokens.bin").write_bytes(b"a")
    with pytest.raises(ValueError, match="disagree"):
        Vocabulary(tmp_path)


def test_an_index_without_the_binary_vocabulary_reads_its_json(tmp_path):
    texts = _texts(300, seed=3)
    model = build_bm25(TokenizedCorpus.from_tokens(texts))
    new, old = tmp_path / "new", tmp_path / "old"
    for directory in (new, old):
        directory.mkdir()
        save_bm25(model, directory)
    _make_old(old)
    assert not has_vocabulary(old) and isinstance(read_vocabulary(old), dict)
    a, b = load_bm25(new, mmap=True), load_bm25(old, mmap=True)
    query = texts[5][:4] + ["mã17", "khôngcó"]
    np.testing.assert_array_equal(a.get_scores(query), b.get_scores(query))
    assert [x.tolist() for x in bm25_top_k(a, query, 10)] == [x.tolist() for x in bm25_top_k(b, query, 10)]
    ta, tb = load_tokens(new), load_tokens(old)
    assert ta.vocab == tb.vocab and np.array_equal(ta.ids, tb.ids) and np.array_equal(ta.offsets, tb.offsets)


# ---------------------------------------------------------------------------------------------
# Generations


def _data(n_docs: int, dim: int = 8, seed: int = 0, prefix: str = "d") -> GenerationData:
    rng = np.random.default_rng(seed)
    documents, chunks = [], []
    for i in range(n_docs):
        sentences = [" ".join(t) + "." for t in _texts(3, seed=seed * 1000 + i)]
        text = "\n".join(sentences)
        doc_id = f"{prefix}{i:03d}"
        documents.append(DocumentRecord(doc_id, f"Báo cáo {doc_id}", f"corpus/{doc_id}.txt", f"h{doc_id}", [f"{i % 28 + 1}/1/2024"], text))
        start = 0
        for j, s in enumerate(sentences):
            chunks.append(Chunk(doc_id, f"Báo cáo {doc_id}", start, start + len(s), s, j))
            start += len(s) + 1
    vectors = rng.standard_normal((len(chunks), dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return GenerationData(documents, chunks, vectors)


def _manifest(data: GenerationData, documents: dict[str, DocumentEntry] | None = None) -> Manifest:
    counts: dict[str, int] = {}
    for c in data.chunks:
        counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
    entries = documents or {
        d.doc_id: DocumentEntry(title=d.title, source=d.source, content_hash=d.content_hash, dates=d.dates, n_chunks=counts[d.doc_id])
        for d in data.documents
    }
    return Manifest(model_id="test-model", dim=data.vectors.shape[1], dense_kind="flat", title_prefix=True, chunk_chars=500,
                    overlap_chars=0, n_chunks=len(data.chunks), built_at=0.0, documents=entries)


def _downgrade(generation: Path) -> None:
    """Rewrite a generation as the previous layout wrote it: entries inline, JSON vocabularies only."""
    manifest = read_manifest(generation)
    (generation / DOCUMENTS).unlink()
    (generation / MANIFEST).write_text(manifest.model_dump_json(indent=1), encoding="utf-8")
    for segment in (generation, generation / "delta"):
        for name in LEXICAL:
            if (segment / name).is_dir():
                _make_old(segment / name)


def _answers(index_dir: Path, vectors: np.ndarray, queries: list[list[str]]) -> list:
    store = open_index(index_dir)
    try:
        out = [store.dense_search(v, 5)[0].tolist() for v in vectors]
        out += [bm25_top_k(getattr(store, name), q, 5)[0].tolist() for q in queries for name in LEXICAL]
        out.append(sorted((d, e.model_dump()) for d, e in store.manifest.documents.items()))
        out.append([r.text for r in store.chunks([0, 3, 7])])
        return out
    finally:
        store.close()


def test_documents_table_answers_like_the_dict(tmp_path):
    data = _data(12)
    manifest = _manifest(data)
    write_generation(tmp_path, data, manifest)
    on_disk = json.loads((live_generation(tmp_path) / MANIFEST).read_text(encoding="utf-8"))
    assert "documents" not in on_disk and on_disk["n_chunks"] == len(data.chunks)  # the header alone
    table = read_manifest(live_generation(tmp_path)).documents
    assert isinstance(table, DocumentTable)
    assert len(table) == 12 and "d003" in table and "d999" not in table and table.get("d999") is None
    assert table["d003"] == manifest.documents["d003"] and table.get("d011") == manifest.documents["d011"]
    assert list(table) == sorted(manifest.documents)
    assert dict(table.items()) == dict(manifest.documents)
    with pytest.raises(KeyError):
        table["d999"]
    copied = read_manifest(live_generation(tmp_path))
    assert json.loads(copied.model_dump_json())["documents"]["d005"]["n_chunks"] == 3  # serialises as before


def test_a_generation_without_its_documents_table_is_refused(tmp_path):
    write_generation(tmp_path, _data(3), _manifest(_data(3)))
    (live_generation(tmp_path) / DOCUMENTS).unlink()
    with pytest.raises(IndexStoreError, match="documents.sqlite is missing"):
        open_index(tmp_path)


def test_an_index_in_the_previous_layout_opens_and_answers_the_same(tmp_path):
    data = _data(20, seed=1)
    queries = [["bệnh", "viện", "mã2"], ["tiêm", "chung"], ["Đà", "Nẵng", "năm"]]
    vectors = data.vectors[[0, 9, 30]]
    new, old = tmp_path / "new", tmp_path / "old"
    for index_dir in (new, old):
        write_generation(index_dir, _data(20, seed=1), _manifest(data))
    _downgrade(live_generation(old))
    assert isinstance(read_manifest(live_generation(old)).documents, dict)  # read as it was written
    expected = _answers(new, vectors, queries)
    assert _answers(old, vectors, queries) == expected
    before = live_generation(old)
    with write_lock(old):
        upgraded = upgrade_generation(old, before)
    assert live_generation(old) == upgraded != before and not before.exists()  # swapped atomically
    assert (upgraded / DOCUMENTS).is_file() and all(has_vocabulary(upgraded / name) for name in LEXICAL)
    assert all(has_impacts(upgraded / name) for name in LEXICAL)
    assert _answers(old, vectors, queries) == expected


def test_a_delta_over_an_old_base_gains_the_binary_vocabularies(tmp_path):
    """The next write after an upgrade of the program migrates the base it keeps."""
    from rag.index.faiss.sparse import collection_after

    data = _data(20, seed=2)
    for index_dir in (tmp_path / "new", tmp_path / "old"):
        write_generation(index_dir, _data(20, seed=2), _manifest(data))
    _downgrade(live_generation(tmp_path / "old"))
    extra = _data(2, seed=9, prefix="x")
    answers = []
    for index_dir in (tmp_path / "new", tmp_path / "old"):
        store = open_index(index_dir)
        deleted = np.array([0, 1, 2], dtype=np.int64)  # d000's chunks
        n_live = store.n_chunks - len(deleted) + len(extra.chunks)
        collections = {name: collection_after(store.path / name, getattr(store, name), deleted, n_live) for name in LEXICAL}
        entries = {d: e for d, e in store.manifest.documents.items() if d != "d000"}
        entries.update(_manifest(extra).documents)
        manifest = store.manifest.model_copy(update={
            "n_chunks": n_live, "documents": entries, "base_chunks": store.n_chunks,
            "delta_chunks": len(extra.chunks), "deleted_chunks": len(deleted),
        })
        with write_lock(index_dir):
            generation = write_delta_generation(index_dir, store.path, _data(2, seed=9, prefix="x"), deleted, collections, manifest)
        store.close()
        assert all(has_vocabulary(generation / name) and has_impacts(generation / name) for name in LEXICAL)
        assert not any(has_impacts(generation / "delta" / name) for name in LEXICAL)  # a delta reads its CSC arrays
        answers.append(_answers(index_dir, extra.vectors[:2], [["bệnh", "mã1"], ["y", "tế", "mã0"]]))
    assert answers[0] == answers[1]
    assert "d000" not in dict(answers[0][-2])


def test_upgrade_keeps_every_file_of_the_old_generation(tmp_path):
    """Upgrading links the old files and adds new ones beside them: every old byte is still there."""
    write_generation(tmp_path, _data(5), _manifest(_data(5)))
    old = live_generation(tmp_path)
    _downgrade(old)
    keep = tmp_path.parent / "copy"
    shutil.copytree(old, keep)
    before = {p.relative_to(keep): p.read_bytes() for p in keep.rglob("*") if p.is_file()}
    with write_lock(tmp_path):
        upgraded = upgrade_generation(tmp_path, old)
    linked = {p.relative_to(upgraded): p.read_bytes() for p in upgraded.rglob("*") if p.is_file() and p.relative_to(upgraded) in before}
    assert {k: v for k, v in before.items() if k.name != MANIFEST} == {k: v for k, v in linked.items() if k.name != MANIFEST}
