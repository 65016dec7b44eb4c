"""Persistence, incremental updates, atomic writes and every broken-index case, on real FAISS/BM25."""

from __future__ import annotations

import json
import shutil
import threading

import numpy as np
import pytest

from rag.index import records as records_module
from rag.errors import DocumentError, IndexStoreError
from rag.ingest.local import delete_documents, ingest
from rag.index.faiss.generations import live_generation, read_manifest
from rag.index.faiss.store import open_index

from tests import docs_factory as f
from tests.docs_factory import LIBRARY as DOCS



def test_build_and_reload_round_trip(library, make_settings, embeddings):
    settings = make_settings()
    report = ingest([library], settings, embeddings=embeddings)
    assert sorted(report.added) == sorted(DOCS) and not report.errors
    store = open_index(settings.index_dir, model_id=embeddings.model_id)
    assert store.manifest.model_id == embeddings.model_id
    assert store.manifest.dim == embeddings.dim == store.vectors().shape[1]
    assert set(store.manifest.documents) == set(DOCS)
    assert store.base.dense.ntotal == store.n_chunks == sum(e.n_chunks for e in store.manifest.documents.values())
    for record in store.all_chunks():
        doc = store.document(record.doc_id)
        assert doc.text[record.start : record.end] == record.text
        assert record.title == DOCS[record.doc_id][0]
    # stored vectors are the model's vectors of title-prefixed passages
    first = next(store.all_chunks())
    expected = embeddings.encode_passages([f"{first.title}\n{first.text}"])[0]
    assert float(np.dot(store.vectors()[first.chunk_id], expected)) > 0.999


def test_nothing_is_pickled(library, make_settings, embeddings):
    settings = make_settings()
    ingest([library], settings, embeddings=embeddings)
    generation = live_generation(settings.index_dir)
    for path in generation.rglob("*.npy"):
        np.load(path, allow_pickle=False)
    for path in generation.rglob("*"):
        if path.is_file():
            assert not path.read_bytes()[:2] == b"\x80\x04", f"{path} is a pickle"


def test_incremental_add_change_delete(library, make_settings, embeddings):
    settings = make_settings()
    ingest([library], settings, embeddings=embeddings)
    before = open_index(settings.index_dir)
    kept_rows = before.chunk_ids_by_document()["bv_a"]
    kept_vectors = np.array(before.vectors()[kept_rows])

    again = ingest([library], settings, embeddings=embeddings)
    assert again.embedded_chunks == 0 and not again.changed
    assert sorted(again.unchanged) == sorted(DOCS)

    f.write_txt(library / "ttyt_b.txt", "Trung tâm Y tế B sơ kết", ["Trung tâm Y tế B tiêm chủng đạt 99,1%."])
    (library / "tram_c.txt").unlink()
    f.write_txt(library / "moi_d.txt", "Bệnh viện D mới", ["Bệnh viện D có 120 giường bệnh."])
    report = ingest([library], settings, embeddings=embeddings)
    assert report.added == ["moi_d"] and report.updated == ["ttyt_b"] and report.removed == ["tram_c"]
    assert report.unchanged == ["bv_a"]
    after = open_index(settings.index_dir)
    assert report.embedded_chunks == after.manifest.documents["moi_d"].n_chunks + after.manifest.documents["ttyt_b"].n_chunks
    assert set(after.manifest.documents) == {"bv_a", "ttyt_b", "moi_d"}
    new_rows = after.chunk_ids_by_document()["bv_a"]
    assert np.array_equal(np.array(after.vectors()[new_rows]), kept_vectors)  # reused, not re-embedded
    texts = " ".join(r.text for r in after.all_chunks())
    assert "99,1%" in texts and "98,5%" not in texts and "6 nhân viên" not in texts


def test_ingesting_one_file_keeps_the_others(library, make_settings, embeddings, tmp_path):
    settings = make_settings()
    ingest([library], settings, embeddings=embeddings)
    extra = f.write_txt(tmp_path / "them_e.txt", "Tài liệu E", ["Nội dung E có 42 mục."])
    report = ingest([extra], settings, embeddings=embeddings)
    assert report.added == ["them_e"] and not report.removed
    assert set(open_index(settings.index_dir).manifest.documents) == set(DOCS) | {"them_e"}


def test_bad_file_is_reported_and_old_version_kept(library, make_settings, embeddings):
    settings = make_settings()
    ingest([library], settings, embeddings=embeddings)
    (library / "bv_a.txt").write_bytes(b"\x00\x01\x02binary\x00" * 8)  # no longer text
    (library / "ghi_chu.pptx").write_bytes(b"x")
    report = ingest([library], settings, embeddings=embeddings)
    assert [p for p, _ in report.errors] == [str(library / "bv_a.txt")]
    assert [p for p, _ in report.skipped] == [str(library / "ghi_chu.pptx")]
    assert "bv_a" not in report.removed
    store = open_index(settings.index_dir)
    assert "10.500" in " ".join(r.text for r in store.all_chunks())


@pytest.mark.parametrize("merge", [False, True], ids=["delta", "merge"])
def test_crash_mid_build_leaves_previous_index_live(library, make_settings, embeddings, monkeypatch, merge):
    settings = make_settings()
    ingest([library], settings, embeddings=embeddings)
    (library / "tram_c.txt").unlink()
    ingest([library], settings, embeddings=embeddings)  # the live index is a base with a deleted document
    live_before = live_generation(settings.index_dir)
    if merge:
        settings = settings.model_copy(update={"merge_at": 0})

    def explode(*args, **kwargs):
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C while BM25 was being written

    monkeypatch.setattr("rag.index.faiss.writer.save_bm25", explode)
    f.write_txt(library / "moi_d.txt", "Bệnh viện D", ["Bệnh viện D có 120 giường."])
    with pytest.raises(KeyboardInterrupt):
        ingest([library], settings, embeddings=embeddings)
    assert live_generation(settings.index_dir) == live_before
    assert not [p for p in settings.index_dir.iterdir() if p.name.startswith(".tmp")]
    store = open_index(settings.index_dir)
    assert set(store.manifest.documents) == {"bv_a", "ttyt_b"} and store.segmented
    assert {r.doc_id for r in store.all_chunks()} == {"bv_a", "ttyt_b"}
    first = next(store.all_chunks())
    assert store.dense_search(np.asarray(store.vectors()[first.chunk_id]), 1)[0][0] == first.chunk_id


@pytest.mark.parametrize("damage", ["deleted", "delta", "stats", "counts"])
def test_corrupt_segment_files_are_refused(library, make_settings, embeddings, damage):
    settings = make_settings()
    ingest([library], settings, embeddings=embeddings)
    f.write_txt(library / "ttyt_b.txt", "Trung tâm Y tế B", ["Tỷ lệ tiêm chủng đạt 99,1%."])
    ingest([library], settings, embeddings=embeddings)  # a delta and a deleted chunk
    generation = live_generation(settings.index_dir)
    expected = "corrupt index"
    if damage == "deleted":
        (generation / "deleted.npy").write_bytes(b"garbage")
    elif damage == "delta":
        (generation / "delta" / "chunks.sqlite").unlink()
    elif damage == "stats":
        (generation / "bm25_segments.json").write_text("{}", encoding="utf-8")
    else:
        manifest = json.loads((generation / "manifest.json").read_text(encoding="utf-8"))
        manifest["deleted_chunks"] += 1
        (generation / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        expected = "chunk counts disagree"
    with pytest.raises(IndexStoreError, match=expected):
        open_index(settings.index_dir)


def test_delete_documents(library, make_settings, embeddings):
    settings = make_settings()
    ingest([library], settings, embeddings=embeddings)
    before = open_index(settings.index_dir)
    before_vectors = before.vectors()[before.chunk_ids_of("tram_c")]
    before.close()
    report = delete_documents(["tram_c"], settings)
    assert report.removed == ["tram_c"]
    store = open_index(settings.index_dir)
    assert set(store.manifest.documents) == {"bv_a", "ttyt_b"}
    live = list(store.all_chunks())
    assert len(live) == store.n_chunks == sum(e.n_chunks for e in store.manifest.documents.values())
    assert {r.doc_id for r in live} == {"bv_a", "ttyt_b"} and store.document("tram_c") is None
    # the deleted report's passages are found by neither search any more
    gone = [v for v in np.asarray(before_vectors)]
    for vector in gone:
        assert all(store.chunks([i])[0].doc_id != "tram_c" for i in store.dense_search(vector, 5)[0])
    with pytest.raises(DocumentError, match="no such document"):
        delete_documents(["khong_co"], settings)


class _OtherModel:
    """The real model under another id: what an index built by a different model looks like."""

    def __init__(self, inner):
        self._inner, self.model_id, self.dim = inner, "other-model", inner.dim

    def encode_passages(self, texts, **kwargs):
        return self._inner.encode_passages(texts, **kwargs)


def test_refuses_to_mix_models(library, make_settings, embeddings):
    settings = make_settings()
    ingest([library], settings, embeddings=embeddings)
    with pytest.raises(IndexStoreError, match="built with model"):
        open_index(settings.index_dir, model_id="other-model")
    with pytest.raises(IndexStoreError, match="--rebuild"):
        ingest([library], settings, embeddings=_OtherModel(embeddings))
    report = ingest([library], settings, embeddings=_OtherModel(embeddings), rebuild=True)
    assert sorted(report.added) == sorted(DOCS)
    assert open_index(settings.index_dir).manifest.model_id == "other-model"


def test_no_index_message(make_settings):
    with pytest.raises(IndexStoreError, match="python -m rag ingest"):
        open_index(make_settings().index_dir)


@pytest.mark.parametrize("damage", ["faiss", "manifest", "format", "pointer", "sqlite"])
def test_corrupt_index_is_refused_with_clear_error(library, make_settings, embeddings, damage):
    settings = make_settings()
    ingest([library], settings, embeddings=embeddings)
    generation = live_generation(settings.index_dir)
    if damage == "faiss":
        (generation / "dense.faiss").write_bytes(b"garbage")
        expected = "corrupt index"
    elif damage == "manifest":
        (generation / "manifest.json").write_text("{not json", encoding="utf-8")
        expected = "not a valid manifest"
    elif damage == "format":
        manifest = json.loads((generation / "manifest.json").read_text(encoding="utf-8"))
        manifest["format_version"] = 99
        (generation / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        expected = "format version 99"
    elif damage == "pointer":
        shutil.rmtree(generation)
        expected = "points at missing"
    else:
        (generation / "chunks.sqlite").unlink()
        expected = "chunks.sqlite is missing"
    with pytest.raises(IndexStoreError, match=expected):
        open_index(settings.index_dir)


def test_format_version_constant_is_recorded(library, make_settings, embeddings):
    settings = make_settings()
    ingest([library], settings, embeddings=embeddings)
    manifest = json.loads((live_generation(settings.index_dir) / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format_version"] == records_module.FORMAT_VERSION
    entries = read_manifest(live_generation(settings.index_dir)).documents  # in documents.sqlite, beside the header
    assert set(entries["bv_a"].model_dump()) >= {"title", "source", "content_hash", "dates", "n_chunks"}


class _Watched:
    """The real embedder, noting for each call which passages it encoded and whether the parser thread was still running."""

    def __init__(self, inner) -> None:
        self.model_id, self.dim, self._inner = inner.model_id, inner.dim, inner
        self.calls: list[tuple[list[str], bool]] = []

    def encode_passages(self, texts, **kwargs):
        parsing = any(t.name == "ingest-parse" and t.is_alive() for t in threading.enumerate())
        self.calls.append((list(texts), parsing))
        return self._inner.encode_passages(texts)


def _report_folder(folder, n: int, bad_at: int | None = None):
    folder.mkdir()
    for i in range(n):
        path = folder / f"bc_{i:02d}.txt"
        if i == bad_at:
            path.write_bytes(b"\x00\x01\x02binary\x00" * 8)  # fails to parse
        else:
            body = [f"Trung tâm y tế số {i} đã khám {1000 + 37 * i} lượt người bệnh.", "Ghi chú. " * (1 + i % 5) * 30]
            f.write_txt(path, f"Báo cáo số {i} năm 2024", body)
    return folder


def test_parsing_overlaps_embedding_and_the_index_equals_a_sequential_build(make_settings, embeddings, tmp_path, monkeypatch):
    from rag.config import Settings
    from rag.index.faiss.sentences import chunk_sentences
    from rag.index.records import indexed_text
    from rag.ingest.chunking import chunk_document
    from rag.ingest.loaders import load_document

    monkeypatch.setattr("rag.ingest.local.EMBED_GROUP", 3)  # several groups from a small folder
    monkeypatch.setattr("rag.ingest.plan.PARSE_AHEAD", 1)  # the parser can be at most two files ahead
    folder = _report_folder(tmp_path / "bao_cao", 14, bad_at=6)
    settings = make_settings()
    watched = _Watched(embeddings)
    report = ingest([folder], settings, embeddings=watched)

    bad = str(folder / "bc_06.txt")
    assert [p for p, _ in report.errors] == [bad] and not report.skipped
    good = [f"bc_{i:02d}" for i in range(14) if i != 6]
    assert sorted(report.added) == good and report.embedded_chunks == report.n_chunks
    assert len(watched.calls) > 2 and watched.calls[0][1]  # embedding began while files were still being parsed
    # the reference: each file loaded and cut on its own, all passages embedded in one call
    s = Settings()
    docs = {doc_id: load_document(folder / f"{doc_id}.txt") for doc_id in good}
    expected = [
        indexed_text(c.title, c.text, s.title_prefix)
        for doc_id in good
        for c in chunk_document(doc_id, docs[doc_id].title, docs[doc_id].text, s.chunk_chars, s.overlap_chars)
    ]
    store = open_index(settings.index_dir)
    records = list(store.all_chunks())
    assert [indexed_text(r.title, r.text, s.title_prefix) for r in records] == expected
    reference = embeddings.encode_passages(expected)
    vectors = np.asarray(store.vectors()[[r.chunk_id for r in records]])
    assert np.min(np.sum(vectors * reference, axis=1)) > 0.99999  # batch padding changes float rounding only
    # each distinct passage and sentence context once, in the same calls (rag/index/faiss/sentences.py)
    sentences = {t for r in records for t in chunk_sentences(r.title, r.text)}
    assert sorted(t for texts, _ in watched.calls for t in texts) == sorted(set(expected) | sentences)


def test_only_changed_documents_are_embedded_ahead(make_settings, embeddings, tmp_path):
    folder = _report_folder(tmp_path / "bao_cao", 5)
    settings = make_settings()
    ingest([folder], settings, embeddings=embeddings)
    title, line = "Báo cáo số 3 năm 2024 (sửa)", "Trung tâm y tế số 3 đã khám 4.321 lượt người bệnh."
    f.write_txt(folder / "bc_03.txt", title, [line])
    watched = _Watched(embeddings)
    report = ingest([folder], settings, embeddings=watched)
    assert report.updated == ["bc_03"] and report.embedded_chunks == 1
    # the passage (title prefix, then the file's text), then its two sentences (lines) under the title
    assert [texts for texts, _ in watched.calls] == [[f"{title}\n{title}\n{line}", f"{title}\n{title}", f"{title}\n{line}"]]
    assert "4.321" in " ".join(r.text for r in open_index(settings.index_dir).all_chunks())
