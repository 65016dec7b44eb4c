"""Diacritic restoration: the model (fast), its refresh with each index generation and its use by the retriever (slow)."""

from __future__ import annotations

import numpy as np
import pytest

from rag.query.restore import FILENAME, SyllableRestorer, for_segments, question_words

# Sentences written for these tests (not from corpus/ or any gold file).
TEXTS = [
    "Trạm y tế xã Hòa Thuận đã tiêm vắc xin cho trẻ em trong tháng ba.",
    "Bác sĩ trưởng khoa nhi khám bệnh cho hơn hai trăm người mỗi ngày.",
    "Bệnh viện huyện mới xây thêm khu điều trị nội trú.",
    "Người dân được hướng dẫn rửa tay bằng xà phòng mỗi ngày.",
    "Khoa nhi mới nhận thêm máy thở.",
]


@pytest.fixture(scope="module")
def model() -> SyllableRestorer:
    return SyllableRestorer.from_texts(TEXTS)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        # unseen sentences made of the library's syllables
        ("bac si khoa nhi tiem vac xin cho tre em", "bác sĩ khoa nhi tiêm vắc xin cho trẻ em"),
        ("tre em rua tay moi ngay", "trẻ em rửa tay mỗi ngày"),  # "moi" → "mỗi" before "ngày"
        ("benh vien moi xay khu dieu tri", "bệnh viện mới xây khu điều trị"),  # … and "mới" after "viện"
        # case, punctuation and numbers as typed; unknown syllables untouched
        ("Tram Y te xa Hoa Thuan, 200 nguoi!", "Trạm Y tế xã Hòa Thuận, 200 người!"),
        ("BAC SI qwerty kham benh", "BÁC SĨ qwerty khám bệnh"),
        ("  ", "  "),
    ],
)
def test_restores_unseen_sentences(model, typed, expected):
    assert model.restore(typed) == expected


def test_mixed_input_keeps_every_accent_the_user_typed(model):
    # the user wrote "mới" where the model would choose "mỗi": theirs stays, the rest is restored
    assert model.restore("tre em rua tay mới ngay") == "trẻ em rửa tay mới ngày"
    assert model.restore("bệnh vien huyen") == "bệnh viện huyện"
    assert model.restore("Khoa nhí moi nhan") == "Khoa nhí mới nhận"  # an accented form never seen is kept too


def test_no_bigram_across_chunks_or_numbers():
    one = SyllableRestorer.from_texts(["khám bệnh", "người dân"])
    pairs = {(one.vocab[k // len(one.vocab)], one.vocab[k % len(one.vocab)]) for k in one.bigram_keys.tolist()}
    assert pairs == {("khám", "bệnh"), ("người", "dân")}  # not ("bệnh", "người")
    split = SyllableRestorer.from_texts(["khám 12 bệnh"])
    assert len(split.bigram_keys) == 0 and split.vocab == ["khám", "bệnh"]


def test_save_load_round_trip(model, tmp_path):
    path = tmp_path / FILENAME
    model.save(path)
    loaded = SyllableRestorer.load(path)
    assert loaded.vocab == model.vocab
    for name in ("unigram", "bigram_keys", "bigram_counts"):
        assert np.array_equal(getattr(loaded, name), getattr(model, name))
    for typed in ("tre em rua tay moi ngay", "benh vien moi xay khu dieu tri"):
        assert loaded.restore(typed) == model.restore(typed)
    (tmp_path / "bad.npz").write_bytes(b"not numpy")
    with pytest.raises(ValueError, match="not a restorer model"):
        SyllableRestorer.load(tmp_path / "bad.npz")


def test_empty_model_keeps_everything():
    empty = SyllableRestorer.from_texts([])
    assert empty.restore("benh vien Bai Chay") == "benh vien Bai Chay"


def test_merged_counts_add_up(model):
    delta = SyllableRestorer.from_texts(["Phòng khám Đồng Xoài mới mở.", "Bác sĩ khám bệnh."])
    both = model.merged(delta)
    assert both.restore("phong kham dong xoai") == "phòng khám đồng xoài"  # words only the delta has
    assert both.restore("tre em") == "trẻ em"
    counts = dict(zip(both.vocab, both.unigram.tolist()))
    assert counts["khám"] == 1 + 2 and counts["xoài"] == 1
    separate = SyllableRestorer.from_texts(TEXTS + ["Phòng khám Đồng Xoài mới mở.", "Bác sĩ khám bệnh."])
    assert sorted(zip(both.vocab, both.unigram.tolist())) == sorted(zip(separate.vocab, separate.unigram.tolist()))
    bigrams = lambda m: sorted((m.vocab[k // len(m.vocab)], m.vocab[k % len(m.vocab)], c) for k, c in zip(m.bigram_keys.tolist(), m.bigram_counts.tolist()))
    assert bigrams(both) == bigrams(separate)


def test_question_words_cover_what_reports_rarely_say(model, tmp_path):
    assert model.restore("bao nhieu") != "bao nhiêu"  # not in the library's text …
    full = for_segments([(tmp_path / "missing.npz", lambda: iter(TEXTS))])  # … but in every generation's model
    assert full.restore("co bao nhieu tre em") == "có bao nhiêu trẻ em"
    assert set(question_words().vocab) < set(full.vocab)


# -- index generations and retrieval (slow: real model, real index) ------------------------------


def test_each_generation_refreshes_the_restorer(library, make_settings, embeddings):
    from rag.index.faiss.generations import live_generation
    from rag.index.faiss.store import open_index
    from rag.ingest.local import ingest
    from tests import docs_factory

    settings = make_settings()
    ingest([library], settings, embeddings=embeddings)
    store = open_index(settings.index_dir)
    assert (store.path / FILENAME).is_file()
    assert store.restorer.restore("Giam doc la ong Le Van A") == "Giám đốc là ông Lê Văn A"
    assert store.restorer.restore("xa Suoi Lanh") == "xa Suoi Lanh"  # not in the library yet
    store.close()

    docs_factory.write_txt(library / "pk_d.txt", "Phòng khám xã Suối Lạnh", ["Phòng khám xã Suối Lạnh mở cửa năm 2024."])
    ingest([library], settings, embeddings=embeddings)  # a small change: a delta segment
    generation = live_generation(settings.index_dir)
    assert (generation / "delta" / FILENAME).is_file()
    store = open_index(settings.index_dir)
    assert store.restorer.restore("xa Suoi Lanh") == "xã Suối Lạnh"
    assert store.restorer.restore("Giam doc") == "Giám đốc"  # the base's counts still there
    store.close()

    # a generation written before restorers existed: counted from its chunks at load
    (generation / FILENAME).unlink()
    (generation / "delta" / FILENAME).unlink()
    store = open_index(settings.index_dir)
    assert store.restorer.restore("xa Suoi Lanh, Giam doc") == "xã Suối Lạnh, Giám đốc"
    store.close()


QUESTION = "benh vien bai chay kham bao nhieu luot nguoi"


def test_retriever_embeds_the_restored_question(retriever):
    result = retriever.search(QUESTION)
    assert result.restored_query == "bệnh viện bãi cháy khám bao nhiêu lượt người"
    fetch = max(retriever.fetch_k, retriever.k)
    restored_ids = retriever.store.dense_search(retriever.embeddings.encode_queries([result.restored_query])[0], fetch)[0].tolist()
    folded_ids = retriever.store.dense_search(retriever.embeddings.encode_queries([QUESTION])[0], fetch)[0].tolist()
    assert restored_ids != folded_ids  # so the check below tells the two apart
    for hit in result.hits:
        dense_rank = hit.ranks["dense"]
        expected = restored_ids.index(hit.chunk.chunk_id) + 1 if hit.chunk.chunk_id in restored_ids else None
        assert dense_rank == expected
    assert any(hit.ranks["bm25"] is not None for hit in result.hits)  # accented BM25 reads the restored text
    off = retriever.model_copy(update={"restore": False}).search(QUESTION)
    assert all(hit.ranks["bm25"] is None for hit in off.hits)  # unrestored, that list is left out


@pytest.mark.parametrize("query", ["Bệnh viện Bãi Cháy khám bao nhiêu lượt người?", "How many patients did Bai Chay hospital examine?"])
def test_accented_and_english_questions_are_not_restored(retriever, query):
    assert retriever.search(query).restored_query is None
    assert retriever.restore_query(query) is None


def test_restoration_can_be_switched_off(retriever):
    off = retriever.model_copy(update={"restore": False})
    assert off.search(QUESTION).restored_query is None


def test_answers_carry_the_restored_question(retriever):
    from rag.answer.chain import AnswerChain

    answer = AnswerChain(retriever).answer(QUESTION)
    assert answer.restored_query == "bệnh viện bãi cháy khám bao nhiêu lượt người"
    assert answer.to_json_dict()["restored_query"] == answer.restored_query
    assert AnswerChain(retriever).answer("Bệnh viện Bãi Cháy khám bao nhiêu lượt người?").to_json_dict()["restored_query"] is None
