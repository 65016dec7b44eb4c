"""OCR and legacy-encoding flags per document in the manifest, through every FAISS write path, shown by
``docs --json``, ``/api/documents`` (tests/web/test_filters_api.py) and the library list."""

from __future__ import annotations

import json
import shutil

import pytest

from rag.config import get_settings
from rag.index.faiss.store import open_index
from tests import docs_factory as f
from tests.helpers import run_cli
from tests.ingest.test_legacy import SAMPLE, legacy_bytes

needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr missing (scripts/test.sh installs it)")


def flags(settings) -> dict[str, tuple[int, str | None]]:
    store = open_index(settings.index_dir, searchable=False)
    try:
        return {d: (e.ocr_pages, e.legacy_encoding) for d, e in store.manifest.documents.items()}
    finally:
        store.close()


@pytest.fixture(scope="module")
def flagged(tmp_path_factory, embeddings):
    """A library with a scan, a TCVN3 and a VNI text and a plain one: its settings and folder."""
    from rag.ingest.local import ingest

    root = tmp_path_factory.mktemp("flags")
    folder = root / "docs"
    folder.mkdir()
    (folder / "cu_tcvn3.txt").write_bytes(legacy_bytes(SAMPLE, "tcvn3"))
    (folder / "cu_vni.txt").write_bytes(legacy_bytes(SAMPLE, "vni"))
    f.write_txt(folder / "moi.txt")
    if shutil.which("tesseract"):
        f.render_scan([f.SAMPLE_TITLE, *f.SAMPLE_BODY], dpi=200).save(folder / "ban_quet.png")
    settings = get_settings(index_dir=root / "index", uploads_dir=root / "uploads")
    report = ingest([folder], settings, embeddings=embeddings)
    assert not report.errors, report.errors
    return settings, folder


EXPECTED = {"cu_tcvn3": (0, "tcvn3"), "cu_vni": (0, "vni"), "moi": (0, None)}


def test_flags_are_stored_per_document(flagged):
    settings, _ = flagged
    found = flags(settings)
    assert {d: found[d] for d in EXPECTED} == EXPECTED


@needs_tesseract
def test_an_ocr_document_is_flagged(flagged):
    assert flags(flagged[0])["ban_quet"] == (1, None)


def test_flags_survive_a_delta_and_a_merge(flagged, embeddings):
    from rag.ingest.local import ingest

    settings, folder = flagged
    before = flags(settings)
    f.write_txt(folder / "them.txt", "Trạm Y tế xã mới", ["Trạm có 5 nhân viên."])
    report = ingest([folder], settings, embeddings=embeddings)
    assert report.writer == "write_delta_generation" and report.added == ["them"]
    assert flags(settings) == {**before, "them": (0, None)}
    (folder / "them.txt").unlink()
    f.write_txt(folder / "moi.txt", f.SAMPLE_TITLE, [*f.SAMPLE_BODY, "Bệnh viện có 250 giường."])
    merged = ingest([folder], settings.model_copy(update={"merge_at": 0}), embeddings=embeddings)
    assert merged.writer == "write_generation" and merged.removed == ["them"] and merged.updated == ["moi"]
    assert flags(settings) == before  # kept documents keep their flags in a new base


def test_docs_json_and_the_library_list_show_the_flags(flagged):
    from rag.service import Assistant
    from rag.web.library import Library
    from rag.web.security import FailureThrottle, SlidingWindowLimiter

    settings, _ = flagged
    result = run_cli("docs", "--json", "--index", str(settings.index_dir))
    assert result.returncode == 0, result.stderr
    rows = {d["doc_id"]: d for d in json.loads(result.stdout)["documents"]}
    assert {d: (rows[d]["ocr_pages"], rows[d]["legacy_encoding"]) for d in EXPECTED} == EXPECTED
    origin = {row[-1]: row[-2] for row in Library(Assistant(settings), settings, FailureThrottle(), SlidingWindowLimiter(30)).doc_rows()}
    assert origin["cu_tcvn3"] == "TXT · kho gốc · chuyển mã TCVN3" and origin["cu_vni"].endswith("chuyển mã VNI")
    assert origin["moi"] == "TXT · kho gốc"
    if "ban_quet" in origin:
        assert origin["ban_quet"] == "PNG · kho gốc · nhận dạng ký tự (OCR)"
