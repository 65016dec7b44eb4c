"""Distributed ingest on a real local Ray runtime (2 CPUs, started once for the module).

The Ray ingest must build the index a single-process ingest builds: the same passages in the same
order, vectors with cosine ≥ 0.999, the same incremental plan and the same error reports, into FAISS
and into Milvus. A wrong cluster address fails within seconds with one line naming it.
"""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest

pytest.importorskip("ray", reason="the Ray ingest needs the 'ray' extra: pip install -e '.[ray]'")
pytest.importorskip("ray.data", reason="the Ray ingest needs the 'ray' extra: pip install -e '.[ray]'")

from rag.config import get_settings  # noqa: E402
from rag.errors import RagError  # noqa: E402
from rag.ingest.local import ingest  # noqa: E402
from rag.ingest.ray import RayClusterError, _check_address, ray_ingest  # noqa: E402
from rag.index.faiss.store import open_index  # noqa: E402

from tests import docs_factory as f
from tests.docs_factory import LIBRARY as DOCS  # noqa: E402
from tests.helpers import free_port, run_cli, CORPUS  # noqa: E402
from tests.ingest.test_sandbox import zip_bomb_docx  # noqa: E402



@pytest.fixture(scope="module", autouse=True)
def ray_runtime():
    """One local Ray runtime for the module (start-up is slow); ray_ingest reuses it."""
    import logging

    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    yield
    if started:
        ray.shutdown()


def _same_index(a, b) -> None:
    """Two FAISS indexes (or a FAISS and a list of (record, vector)) hold the same passages and vectors."""
    rows_a = [(r.doc_id, r.start, r.end, r.text) for r in a.all_chunks()]
    rows_b = [(r.doc_id, r.start, r.end, r.text) for r in b.all_chunks()]
    assert rows_a == rows_b
    cos = (np.asarray(a.vectors()) * np.asarray(b.vectors())).sum(axis=1)
    assert cos.min() >= 0.999, cos.min()


def test_ray_ingest_matches_single_process(corpus_settings, tmp_path, embeddings):
    settings = get_settings(index_dir=tmp_path / "ray-index")
    report = ray_ingest([CORPUS], settings, embeddings=embeddings)
    assert not report.errors and len(report.added) == 5 and report.embedded_chunks == report.n_chunks
    single, distributed = open_index(corpus_settings.index_dir), open_index(settings.index_dir)
    _same_index(single, distributed)
    strip = lambda m: {d: e.model_dump(exclude={"source"}) for d, e in m.documents.items()}  # noqa: E731
    assert strip(single.manifest) == strip(distributed.manifest)
    assert distributed.manifest.model_id == single.manifest.model_id
    again = ray_ingest([CORPUS], settings, embeddings=embeddings)
    assert again.embedded_chunks == 0 and not again.changed and len(again.unchanged) == 5


def test_ray_incremental_plan_and_errors_match_single_process(library, tmp_path, embeddings):
    ray_settings = get_settings(index_dir=tmp_path / "ray")
    one_settings = get_settings(index_dir=tmp_path / "one")
    ingest([library], one_settings, embeddings=embeddings)
    shutil.copytree(one_settings.index_dir, ray_settings.index_dir)  # the same starting index for both

    f.write_txt(library / "ttyt_b.txt", "Trung tâm Y tế B sơ kết", ["Trung tâm Y tế B tiêm chủng đạt 99,1%."])
    (library / "tram_c.txt").unlink()
    f.write_txt(library / "moi_d.txt", "Bệnh viện D mới", ["Bệnh viện D có 120 giường bệnh."])
    (library / "hong_e.txt").write_bytes(b"\x00\x01\x02binary\x00" * 8)  # not text
    (library / "ghi_chu.pptx").write_bytes(b"x")
    r = ray_ingest([library], ray_settings, embeddings=embeddings)
    s = ingest([library], one_settings, embeddings=embeddings)
    assert (r.added, r.updated, r.removed, r.unchanged) == (s.added, s.updated, s.removed, s.unchanged)
    assert r.added == ["moi_d"] and r.updated == ["ttyt_b"] and r.removed == ["tram_c"]
    assert r.errors == s.errors and r.skipped == s.skipped and r.errors
    assert r.embedded_chunks == s.embedded_chunks  # only the new and the changed document
    _same_index(open_index(one_settings.index_dir), open_index(ray_settings.index_dir))


def test_ray_ingest_into_milvus(library, tmp_path, embeddings):
    pytest.importorskip("pymilvus", reason="needs the 'milvus' extra")
    from rag.index.milvus.client import MilvusIndex

    one_settings = get_settings(index_dir=tmp_path / "one")
    ingest([library], one_settings, embeddings=embeddings)
    settings = get_settings(store="milvus", milvus_uri=str(tmp_path / "ray.db"), index_dir=tmp_path / "unused")
    report = ray_ingest([library], settings, embeddings=embeddings)
    assert sorted(report.added) == sorted(DOCS) and report.n_chunks == report.embedded_chunks > 0
    index = MilvusIndex.connect(settings)
    single = open_index(one_settings.index_dir)
    vectors = np.asarray(single.vectors())
    expected = {(r.doc_id, r.start, r.end, r.text): vectors[r.chunk_id] for r in single.all_chunks()}
    stored = {(r.doc_id, r.start, r.end, r.text): v for r, v in index.chunks_with_vectors()}
    assert sorted(stored) == sorted(expected)
    assert min(float(np.dot(v, expected[key])) for key, v in stored.items()) >= 0.999

    (library / "tram_c.txt").unlink()
    f.write_txt(library / "bv_a.txt", "Bệnh viện A báo cáo năm 2023", ["Bệnh viện A khám 11.000 lượt người."])
    report = ray_ingest([library], settings, embeddings=embeddings)
    assert report.updated == ["bv_a"] and report.removed == ["tram_c"] and report.unchanged == ["ttyt_b"]
    assert set(index.manifest.documents) == {"bv_a", "ttyt_b"}
    texts = " ".join(r.text for r in index.all_chunks())
    assert "11.000" in texts and "10.500" not in texts and "6 nhân viên" not in texts


def test_ray_ingest_parses_in_the_sandbox(library, tmp_path, embeddings):
    """Hostile files on Ray get the sandbox's per-file errors (a limit checked before parsing, and
    the worker's memory cap during it); the good file next to them is added, the index kept."""
    settings = get_settings(index_dir=tmp_path / "ray", max_file_mb=1, max_unzipped_mb=20, parse_memory_mb=64)
    first = ray_ingest([library], settings, embeddings=embeddings)
    assert not first.errors
    hostile = tmp_path / "hostile"
    hostile.mkdir()
    zip_bomb_docx(hostile / "bomb_zip.docx", inflated_mb=30)  # over max_unzipped_mb: refused unparsed
    with open(hostile / "huge.txt", "wb") as handle:
        handle.truncate(2 * 1024 * 1024)  # over max_file_mb
    f.write_txt(hostile / "moi_d.txt", "Bệnh viện D mới", ["Bệnh viện D có 120 giường bệnh."])
    report = ray_ingest([hostile], settings, embeddings=embeddings)
    reasons = dict(report.errors)
    assert "max_unzipped_mb" in reasons[str(hostile / "bomb_zip.docx")] and "zip bomb" in reasons[str(hostile / "bomb_zip.docx")]
    assert "max_file_mb" in reasons[str(hostile / "huge.txt")]
    assert report.added == ["moi_d"] and len(report.errors) == 2
    assert set(open_index(settings.index_dir).manifest.documents) == set(first.added) | {"moi_d"}

    # within the limits before parsing, over the worker's memory cap while parsing (python-docx on 80 MB of XML)
    zip_bomb_docx(hostile / "bomb_zip.docx", inflated_mb=80)
    report = ray_ingest([hostile / "bomb_zip.docx"], get_settings(index_dir=settings.index_dir, max_unzipped_mb=200, parse_memory_mb=64),
                        embeddings=embeddings)
    assert len(report.errors) == 1 and "parse_memory_mb" in report.errors[0][1] and not report.changed
    index = open_index(settings.index_dir)
    assert set(index.manifest.documents) == set(first.added) | {"moi_d"}
    assert any("120 giường" in r.text for r in index.all_chunks())


def test_bad_ray_addresses_fail_fast():
    port = free_port()
    t = time.perf_counter()
    with pytest.raises(RayClusterError, match=f"127.0.0.1:{port}"):
        _check_address(f"127.0.0.1:{port}", timeout=2)
    with pytest.raises(RayClusterError, match=f"ray://127.0.0.1:{port}"):
        _check_address(f"ray://127.0.0.1:{port}", timeout=2)
    assert time.perf_counter() - t < 5
    with pytest.raises(RayClusterError, match="put the paths before --ray"):
        _check_address(str(CORPUS), timeout=2)
    with pytest.raises(RayClusterError, match="not a Ray address"):
        _check_address("http://", timeout=2)
    assert issubclass(RayClusterError, RagError)


def test_cli_unreachable_ray_address_is_one_line(tmp_path):
    port = free_port()
    t = time.perf_counter()
    result = run_cli("ingest", str(CORPUS), "--ray", f"127.0.0.1:{port}", "--index", str(tmp_path / "idx"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"127.0.0.1:{port}" in errors[0], result.stderr
    assert time.perf_counter() - t < 60  # python start-up and imports; the check itself takes milliseconds
    assert not (tmp_path / "idx").exists()


def test_cli_ingest_with_ray(library, tmp_path, capsys):
    """`python -m rag ingest PATHS --ray`, in this process so that it reuses the module's Ray runtime."""
    from rag.cli import main

    index = tmp_path / "cli-index"
    assert main(["ingest", str(library), "--ray", "--ray-workers", "1", "--index", str(index), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "3 added" in out and "3 documents" in out
    assert set(open_index(index).manifest.documents) == set(DOCS)
    assert main(["ingest", "--ray", str(library), "--index", str(index)]) == 1  # the path taken as an address
    assert "put the paths before --ray" in capsys.readouterr().err
