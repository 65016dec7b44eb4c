"""OCR and legacy-encoding flags on a real Milvus Lite: stored in the documents collection by every
write path (ingest, an incremental update, migration from FAISS), read back by ``docs --json``; a
collection built before the flags field still reads and writes (flags 0/None until rebuilt)."""

from __future__ import annotations

import json
import shutil

import pytest

pytest.importorskip("pymilvus", reason="the Milvus backend needs the 'milvus' extra: pip install -e '.[milvus]'")
pytest.importorskip("milvus_lite", reason="Milvus Lite needs the 'milvus' extra: pip install -e '.[milvus]'")

from rag.config import get_settings  # noqa: E402
from rag.index.milvus.client import MilvusIndex  # noqa: E402
from tests import docs_factory as f  # noqa: E402
from tests.ingest.test_legacy import SAMPLE, legacy_bytes  # noqa: E402

pytestmark = pytest.mark.slow
HAS_TESSERACT = shutil.which("tesseract") is not None


def milvus_flags(settings) -> dict[str, tuple[int, str | None]]:
    index = MilvusIndex.connect(settings)
    try:
        return {d: (e.ocr_pages, e.legacy_encoding) for d, e in index.manifest.documents.items()}
    finally:
        index.close()


def write_library(folder) -> dict[str, tuple[int, str | None]]:
    """A TCVN3 text, a VNI text, a plain one and (with Tesseract) a scan; the flags each should get."""
    folder.mkdir()
    (folder / "cu_tcvn3.txt").write_bytes(legacy_bytes(SAMPLE, "tcvn3"))
    (folder / "cu_vni.txt").write_bytes(legacy_bytes(SAMPLE, "vni"))
    f.write_txt(folder / "moi.txt")
    expected = {"cu_tcvn3": (0, "tcvn3"), "cu_vni": (0, "vni"), "moi": (0, None)}
    if HAS_TESSERACT:
        f.render_scan([f.SAMPLE_TITLE, *f.SAMPLE_BODY], dpi=200).save(folder / "ban_quet.png")
        expected["ban_quet"] = (1, None)
    return expected


@pytest.fixture(scope="module")
def library(tmp_path_factory, embeddings):
    from rag.ingest.milvus import ingest_milvus

    root = tmp_path_factory.mktemp("milvus-flags")
    expected = write_library(root / "docs")
    settings = get_settings(store="milvus", milvus_uri=str(root / "flags.db"), index_dir=root / "unused")
    report = ingest_milvus([root / "docs"], settings, embeddings=embeddings)
    assert not report.errors, report.errors
    return settings, root / "docs", expected


def test_ingest_stores_the_flags(library):
    settings, _, expected = library
    assert milvus_flags(settings) == expected


def test_an_incremental_update_keeps_and_writes_flags(library, embeddings):
    from rag.ingest.milvus import ingest_milvus

    settings, folder, expected = library
    (folder / "cu_vni.txt").write_bytes(legacy_bytes(SAMPLE + "\nTrạm Y tế xã có 6 nhân viên.", "vni"))
    f.write_txt(folder / "them.txt", "Trạm Y tế xã mới", ["Trạm có 5 nhân viên."])
    report = ingest_milvus([folder], settings, embeddings=embeddings)
    assert report.updated == ["cu_vni"] and report.added == ["them"]
    assert milvus_flags(settings) == {**expected, "them": (0, None)}


def test_docs_json_reports_them(library):
    from rag.service import Assistant

    settings, _, _ = library  # in this process: Milvus Lite serves one process at a time
    shape = json.loads(json.dumps(Assistant(settings).documents_json(), ensure_ascii=False))
    listed = {d["doc_id"]: (d["ocr_pages"], d["legacy_encoding"]) for d in shape["documents"]}
    assert listed["cu_tcvn3"] == (0, "tcvn3") and listed["cu_vni"] == (0, "vni") and listed["moi"] == (0, None)
    if HAS_TESSERACT:
        assert listed["ban_quet"] == (1, None)


def test_migration_from_faiss_carries_the_flags(tmp_path, embeddings):
    from rag.ingest.local import ingest
    from rag.ingest.milvus import migrate_faiss_to_milvus

    expected = write_library(tmp_path / "docs")
    faiss = get_settings(index_dir=tmp_path / "index", uploads_dir=tmp_path / "uploads")
    assert not ingest([tmp_path / "docs"], faiss, embeddings=embeddings).errors
    milvus = faiss.model_copy(update={"store": "milvus", "milvus_uri": str(tmp_path / "m.db")})
    migrate_faiss_to_milvus(milvus, index_dir=faiss.index_dir)
    assert milvus_flags(milvus) == expected


def test_a_collection_without_the_flags_field_still_works(tmp_path, embeddings, monkeypatch):
    from rag.index.milvus import schema
    from rag.ingest.milvus import ingest_milvus

    folder = tmp_path / "docs"
    write_library(folder)
    settings = get_settings(store="milvus", milvus_uri=str(tmp_path / "old.db"), index_dir=tmp_path / "unused")
    real = schema.collection_schemas

    def without_flags(client, meta):  # the documents schema as built before the flags field
        from pymilvus import CollectionSchema

        chunks, (docs, index) = real(client, meta)
        old = CollectionSchema([field for field in docs.fields if field.name != schema.FLAGS_FIELD], enable_dynamic_field=False)
        return chunks, (old, index)

    monkeypatch.setattr("rag.index.milvus.client.collection_schemas", without_flags)
    assert not ingest_milvus([folder], settings, embeddings=embeddings).errors
    monkeypatch.undo()
    f.write_txt(folder / "them.txt", "Trạm Y tế xã mới", ["Trạm có 5 nhân viên."])
    assert ingest_milvus([folder], settings, embeddings=embeddings).added == ["them"]  # written without the field
    found = milvus_flags(settings)
    assert set(found) >= {"cu_tcvn3", "moi", "them"} and set(found.values()) == {(0, None)}
