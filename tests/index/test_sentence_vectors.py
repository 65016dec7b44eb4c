"""Sentence vectors stored with the index (rag/index/faiss/sentences.py): keys, round trip, lookup,
what ingest writes (all sentences of new chunks, in the embedding pass), incremental adds and
deletes, the setting, and indexes without the files.

Every text here is written for the test (not from corpus/ or any gold file).
"""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest
from langchain_core.documents import Document

from rag.answer.candidates import make_passages, make_units
from rag.answer.features import unit_context
from rag.index.faiss.generations import DELTA, live_generation
from rag.index.faiss.sentences import (
    KEYS,
    VECTORS,
    SegmentSentences,
    SentenceRows,
    SentenceVectors,
    chunk_sentences,
    segment_rows,
    text_keys,
)
from rag.index.records import sentence_context
from rag.index.faiss.store import open_index
from rag.ingest.local import delete_documents, ingest

from tests import docs_factory as f

TITLE = "Trung tâm Y tế huyện Sông Mây sơ kết quý I/2025…"
CHUNK = (
    "Quý I/2025, Trung tâm khám cho 8.412 lượt người. BS CKII. Lê Văn Bình phụ trách khoa Nội; "
    "khoa Ngoại có 14 giường.\nTrung tâm tiêm chủng cho 611 trẻ em."
)


def _unit(rng: np.random.Generator, n: int, dim: int = 8) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_a_key_is_the_first_8_bytes_of_blake2b_little_endian():
    text = "Trạm y tế xã Đồi Thông\nTrạm có 3 bác sĩ."
    expected = int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")
    keys = text_keys([text, "khác", text])
    assert keys.dtype == np.uint64 and int(keys[0]) == expected == int(keys[2]) and keys[1] != keys[0]


def test_chunk_sentences_are_the_contexts_the_answerer_embeds():
    # the title loses its ellipsis (a title cut short), each sentence goes under it, clauses share it
    assert chunk_sentences(TITLE, CHUNK) == [
        "Trung tâm Y tế huyện Sông Mây sơ kết quý I/2025\nQuý I/2025, Trung tâm khám cho 8.412 lượt người.",
        "Trung tâm Y tế huyện Sông Mây sơ kết quý I/2025\nBS CKII. Lê Văn Bình phụ trách khoa Nội; khoa Ngoại có 14 giường.",
        "Trung tâm Y tế huyện Sông Mây sơ kết quý I/2025\nTrung tâm tiêm chủng cho 611 trẻ em.",
    ]
    doc = Document(page_content=CHUNK, metadata={"doc_id": "smay", "title": TITLE, "start": 0, "end": len(CHUNK)})
    units = make_units(make_passages([doc], None))
    assert len(units) == 4  # the ";" splits the second sentence into two clauses
    assert {unit_context(u) for u in units} == set(chunk_sentences(TITLE, CHUNK))
    assert sentence_context("Không tiêu đề", "Một câu.") == "Không tiêu đề\nMột câu."


def test_rows_round_trip_sorted_distinct_and_float16(tmp_path):
    rng = np.random.default_rng(7)
    keys = np.array([30, 10, 20, 10], dtype=np.uint64)
    vectors = _unit(rng, 4)
    rows = SentenceRows.build(keys, vectors)
    assert rows.keys.tolist() == [10, 20, 30] and rows.vectors.dtype == np.float16
    np.testing.assert_array_equal(rows.vectors[0], vectors[1].astype(np.float16))  # a repeated key keeps its first row
    rows.save(tmp_path)
    for mmap in (True, False):
        segment = SegmentSentences.open(tmp_path, mmap)
        assert segment is not None and len(segment) == 3
        hit, found = segment.find(np.array([20, 99, 30, 5], dtype=np.uint64))
        assert hit.tolist() == [0, 2] and found.dtype == np.float32
        np.testing.assert_allclose(found, vectors[[2, 0]], atol=1e-3)
        segment.close()


def test_lookup_over_segments_hits_and_misses(tmp_path):
    rng = np.random.default_rng(3)
    texts = ["Tiêu đề\nCâu một.", "Tiêu đề\nCâu hai.", "Tiêu đề\nCâu ba."]
    vectors = _unit(rng, 3)
    for name, part in (("a", [0, 1]), ("b", [2])):
        (tmp_path / name).mkdir()
        SentenceRows.build(text_keys([texts[i] for i in part]), vectors[part]).save(tmp_path / name)
    stored = SentenceVectors([SegmentSentences.open(tmp_path / n, True) for n in ("a", "b")])
    found = stored.lookup([texts[2], "Tiêu đề\nKhông có.", texts[0]])
    assert set(found) == {texts[0], texts[2]}
    assert float(np.dot(found[texts[2]], vectors[2])) > 0.999 and float(np.dot(found[texts[0]], vectors[0])) > 0.999
    assert len(stored) == 3


def test_missing_or_damaged_files_mean_no_stored_vectors(tmp_path):
    assert SegmentSentences.open(tmp_path, True) is None  # an index written before them
    SentenceRows.build(np.array([1, 2], dtype=np.uint64), np.ones((2, 4), np.float32) / 2).save(tmp_path)
    np.save(tmp_path / KEYS, np.array([1, 2, 3], dtype=np.uint64))  # three keys for two rows
    assert SegmentSentences.open(tmp_path, True) is None
    (tmp_path / VECTORS).unlink()
    assert SegmentSentences.open(tmp_path, False) is None


def test_segment_rows_take_stored_vectors_and_embed_only_fresh_chunks(tmp_path):
    rng = np.random.default_rng(11)
    kept, fresh = ("Báo cáo Hạ Long", "Câu một của bệnh viện. Câu hai của bệnh viện."), ("Báo cáo Cẩm Phả", "Câu của trạm.")
    a1, a2 = chunk_sentences(*kept)
    (tmp_path / "old").mkdir()
    old_vector = _unit(rng, 1)
    SentenceRows.build(text_keys([a1]), old_vector).save(tmp_path / "old")  # a2 was never stored
    previous = SentenceVectors([SegmentSentences.open(tmp_path / "old", True)])
    encoded: list[list[str]] = []

    def encode(texts: list[str]) -> np.ndarray:
        encoded.append(list(texts))
        return _unit(rng, len(texts))

    rows = segment_rows([kept, fresh], [False, True], previous, encode, 8)
    assert encoded == [chunk_sentences(*fresh)]  # a kept chunk's missing sentence is not embedded
    assert sorted(rows.keys.tolist()) == sorted(text_keys([a1, *chunk_sentences(*fresh)]).tolist())
    at = int(np.searchsorted(rows.keys, text_keys([a1])[0]))
    np.testing.assert_allclose(rows.vectors[at].astype(np.float32), old_vector[0], atol=1e-3)
    assert a2 not in SentenceVectors([]).lookup([a2])
    assert len(segment_rows([fresh], [True], None, None, 8).keys) == 0  # nothing to embed with


# -- what ingest writes (the real model) ---------------------------------------------------------


def _all_sentences(store) -> list[str]:
    return list(dict.fromkeys(t for c in store.all_chunks() for t in chunk_sentences(c.title, c.text)))


def test_ingest_stores_every_sentence_within_float16_of_the_model(library, make_settings, embeddings):
    settings = make_settings()
    ingest([library], settings, embeddings=embeddings)
    store = open_index(settings.index_dir, mmap=True)
    texts = _all_sentences(store)
    found = store.sentence_vectors.lookup(texts)
    assert set(found) == set(texts) and len(store.sentence_vectors) == len(texts)  # no row for anything else
    reference = np.asarray(embeddings.encode_passages(texts), dtype=np.float32)
    cosines = [float(np.dot(found[t], r) / np.linalg.norm(found[t])) for t, r in zip(texts, reference)]
    assert min(cosines) >= 0.999
    store.close()


def test_incremental_ingest_adds_rows_and_deleting_drops_them(library, make_settings, embeddings):
    settings = make_settings()
    ingest([library], settings, embeddings=embeddings)
    base = open_index(settings.index_dir, mmap=True)
    base_texts = set(_all_sentences(base))
    base.close()
    title, line = "Phòng khám đa khoa Cầu Tre báo cáo năm 2025", "Phòng khám tiếp nhận 2.075 lượt người bệnh."
    f.write_txt(library / "pk_cau_tre.txt", title, [line])
    report = ingest([library], settings, embeddings=embeddings)
    assert report.added == ["pk_cau_tre"] and report.writer == "write_delta_generation"
    generation = live_generation(settings.index_dir)
    assert (generation / DELTA / KEYS).is_file() and (generation / KEYS).is_file()  # the base's, linked
    store = open_index(settings.index_dir, mmap=True)
    new_texts = [f"{title}\n{title}", f"{title}\n{line}"]
    delta = store.delta.sentences
    assert len(delta) == 2 and set(SentenceVectors([delta]).lookup(new_texts)) == set(new_texts)  # only the new document's
    assert set(store.sentence_vectors.lookup(sorted(base_texts | set(new_texts)))) == base_texts | set(new_texts)
    store.close()

    delete_documents(["pk_cau_tre"], settings)  # a delta document: its rows go with the rewritten delta
    store = open_index(settings.index_dir, mmap=True)
    assert store.sentence_vectors.lookup(new_texts) == {}
    gone = {t for t in base_texts if t.startswith(store.document("tram_c").title)}
    store.close()
    delete_documents(["tram_c"], settings)  # a base document: its rows stay in the kept base until a merge
    store = open_index(settings.index_dir, mmap=True)
    assert set(store.sentence_vectors.lookup(sorted(gone))) == gone and set(_all_sentences(store)).isdisjoint(gone)
    store.close()
    for name in ("tram_c", "pk_cau_tre"):
        (library / f"{name}.txt").unlink()
    f.write_txt(library / "pk_moi.txt", "Phòng khám Hòa Bình Xanh", ["Phòng khám có 9 bàn khám."])
    report = ingest([library], make_settings(merge_at=0), embeddings=embeddings)  # a merge: the base rewritten from live chunks
    assert report.writer == "write_generation" and report.embedded_chunks == 1
    store = open_index(settings.index_dir, mmap=True)
    assert store.delta is None and store.sentence_vectors.lookup(sorted(gone)) == {}
    live = _all_sentences(store)
    assert len(store.sentence_vectors) == len(live) and set(store.sentence_vectors.lookup(live)) == set(live)
    store.close()


def test_the_setting_off_writes_none_and_an_old_index_has_none(library, make_settings, embeddings):
    settings = make_settings(sentence_vectors=False)
    ingest([library], settings, embeddings=embeddings)
    generation = live_generation(settings.index_dir)
    assert not (generation / KEYS).exists() and not (generation / VECTORS).exists()
    store = open_index(settings.index_dir, mmap=True)
    assert store.sentence_vectors is None and store.n_chunks > 0
    store.close()
    on = make_settings()
    ingest([library], on, embeddings=embeddings, rebuild=True)
    generation = live_generation(on.index_dir)
    for name in (KEYS, VECTORS):  # what an index written before them looks like
        (generation / name).unlink()
    store = open_index(on.index_dir, mmap=True)
    assert store.sentence_vectors is None and store.n_chunks > 0
    store.close()


@pytest.mark.parametrize("keep", [KEYS, VECTORS])
def test_an_index_with_half_the_files_opens_without_them(library, make_settings, embeddings, keep, tmp_path):
    settings = make_settings()
    ingest([library], settings, embeddings=embeddings)
    generation = live_generation(settings.index_dir)
    other = VECTORS if keep == KEYS else KEYS
    shutil.move(generation / other, tmp_path / other)
    store = open_index(settings.index_dir, mmap=True)
    assert store.sentence_vectors is None
    store.close()


def test_fill_reads_block_by_block_and_the_first_segment_wins(tmp_path, monkeypatch):
    monkeypatch.setattr("rag.index.faiss.sentences.FILL_BLOCK", 2)
    first, second = np.full((3, 4), 0.5, np.float32), np.full((2, 4), -0.5, np.float32)
    for name, keys, vectors in (("a", [1, 2, 3], first), ("b", [3, 4], second)):
        (tmp_path / name).mkdir()
        SentenceRows.build(np.array(keys, dtype=np.uint64), vectors).save(tmp_path / name)
    stored = SentenceVectors([SegmentSentences.open(tmp_path / n, True) for n in ("a", "b")])
    out = np.zeros((5, 4), np.float16)
    have = stored.fill(np.array([4, 9, 3, 1, 2], dtype=np.uint64), out)
    assert have.tolist() == [True, False, True, True, True]
    assert out[:, 0].tolist() == [-0.5, 0.0, 0.5, 0.5, 0.5]  # key 3: the base segment's row
