"""The int8 ONNX variant (embed_backend "onnx-int8") stays within cosine 0.99 of the fp32 reference.

The reference is the torch backend (sentence-transformers, fp32 weights). The sentences are
written here, not taken from corpus/: questions and passage-like sentences of several lengths,
with and without diacritics, and English, since short queries are the most sensitive to rounding.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = pytest.mark.slow

QUESTIONS = [
    "Phòng khám đa khoa khu vực tiếp nhận bao nhiêu bệnh nhân mỗi ngày?",
    "ai phụ trách chương trình phòng chống lao của tỉnh",
    "ty le suy dinh duong tre em duoi 5 tuoi la bao nhieu",
    "How many nurses work at the district hospital?",
    "Kế hoạch tiêm vắc xin sởi cho học sinh năm học mới",
    "giá thuốc điều trị tăng huyết áp",
    "trạm y tế xã",
    "khám sức khỏe định kỳ",
    "Bệnh viện Nhi có mấy khoa lâm sàng?",
    "so giuong benh tai trung tam y te huyen",
]
PASSAGES = [
    "Năm qua, trung tâm đã tổ chức 12 đợt truyền thông về vệ sinh an toàn thực phẩm tại các trường học, "
    "với hơn 4.500 lượt học sinh tham gia và 37 cơ sở bếp ăn tập thể được kiểm tra.",
    "Tỷ lệ bao phủ bảo hiểm y tế toàn tỉnh đạt 92,4%, tăng 1,8 điểm phần trăm so với cùng kỳ năm trước.",
    "The provincial blood bank collected 18,200 units in 2022, mostly from volunteer donors at universities.",
    "Đội y tế lưu động đã khám và cấp thuốc miễn phí cho 1.230 người cao tuổi ở các xã vùng cao.",
    "Ông Nguyễn Văn Bình, Phó Giám đốc phụ trách chuyên môn, chủ trì hội nghị tổng kết công tác dược.",
    "Hai phòng mổ mới được đưa vào sử dụng từ tháng 3, rút ngắn thời gian chờ phẫu thuật xuống còn 5 ngày.",
]


@pytest.fixture(scope="module")
def embedders():
    from rag.embeddings import get_embeddings

    return get_embeddings(backend="onnx-int8"), get_embeddings(backend="torch")


def test_int8_vectors_stay_within_cosine_099_of_fp32(embedders):
    int8, fp32 = embedders
    for ours, ref in ((int8.encode_queries(QUESTIONS), fp32.encode_queries(QUESTIONS)),
                      (int8.encode_passages(PASSAGES), fp32.encode_passages(PASSAGES))):
        assert ours.dtype == np.float32 and ours.shape == ref.shape
        np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
        cosines = np.sum(ours * ref, axis=1)
        print(f"\ncosine to fp32: min {cosines.min():.5f} mean {cosines.mean():.5f}")
        assert cosines.min() >= 0.99


def test_int8_graph_quantises_all_but_the_ffn_outputs(embedders):
    import onnx

    int8, fp32 = embedders
    from rag.embeddings.onnx import META_FILE, MODEL_FILE, ensure_onnx_model
    from rag.embeddings.materialize import materialize

    directory = ensure_onnx_model(materialize(), "int8")
    meta = json.loads((directory / META_FILE).read_text())
    assert meta["variant"] == "int8" and meta["recipe"]
    nodes = onnx.load(str(directory / MODEL_FILE), load_external_data=False).graph.node
    float_matmuls = [n.name for n in nodes if n.op_type == "MatMul"]
    assert len(float_matmuls) == 12 and all("/output/dense/" in n and "/attention/" not in n for n in float_matmuls)
    assert sum(n.op_type in ("MatMulInteger", "DynamicQuantizeMatMul") for n in nodes) >= 24
    assert not any(n.op_type == "Attention" for n in nodes)  # attention runs quantised (QAttention)
    assert int8.model_id == fp32.model_id  # one index serves every backend


def _dev_retrieval(tmp_path, backend: str, mode: str) -> tuple[float, float]:
    """(hit@5, MRR@10) of the gold dev split's answerable questions (follow-ups excluded: they are
    rewritten by the chain first) over a corpus index built and searched with ``backend``."""
    from eval.gold import load_gold
    from eval.metrics import first_evidence_rank, reciprocal_rank
    from eval.split import split_items
    from rag.config import get_settings
    from rag.embeddings import get_embeddings
    from rag.index.faiss.store import open_index
    from rag.ingest.local import ingest
    from rag.retrieval.hybrid import HybridRetriever
    from tests.helpers import CORPUS, ROOT

    emb = get_embeddings(backend=backend)
    settings = get_settings(index_dir=tmp_path / backend, embed_backend=backend, top_k=10)
    if not (tmp_path / backend).exists():
        ingest([CORPUS], settings, embeddings=emb)
    retriever = HybridRetriever.over(open_index(settings.index_dir, model_id=emb.model_id), emb, settings, mode)
    items = [i for i in split_items(load_gold(ROOT / "eval" / "gold.jsonl"), "dev") if i.evidences and not i.history]
    ranks = [first_evidence_rank([d.page_content for d in retriever.invoke(i.question)], i.evidence) for i in items]
    hit5 = sum(r is not None and r <= 5 for r in ranks) / len(ranks)
    return hit5, sum(reciprocal_rank(r) for r in ranks) / len(ranks)


def test_int8_does_not_lose_retrieval_on_the_gold_dev_split(tmp_path_factory):
    root = tmp_path_factory.mktemp("dev-retrieval")
    for mode in ("dense", "hybrid"):
        (hit_fp, mrr_fp), (hit_q, mrr_q) = (_dev_retrieval(root, b, mode) for b in ("onnx", "onnx-int8"))
        print(f"\n{mode}: hit@5 onnx {hit_fp:.3f} int8 {hit_q:.3f}; MRR@10 onnx {mrr_fp:.3f} int8 {mrr_q:.3f}")
        assert hit_q >= hit_fp, mode
        assert mrr_q >= mrr_fp - 0.01, mode  # a rank swapped within the top 10 at most
