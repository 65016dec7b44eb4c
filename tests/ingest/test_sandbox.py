"""Bounded parsing (rag.ingest.sandbox): hostile files are refused within seconds, naming the limit;
the rest of the batch loads; a real ingest keeps the index intact."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest

from rag.errors import DocumentError
from rag.ingest.plan import load_all
from rag.ingest.report import IngestReport
from rag.ingest.formats.html import html_text
from rag.ingest.sandbox import ParseLimits, Sandbox, load_bounded

from tests import docs_factory as f


def zip_bomb_docx(path: Path, inflated_mb: int) -> Path:
    """A real .docx whose document.xml is padded with ``inflated_mb`` MB of highly compressible XML."""
    f.write_docx(path)
    with zipfile.ZipFile(path) as src:
        parts = {info.filename: src.read(info) for info in src.infolist()}
    body = parts["word/document.xml"]
    head, tail = body.split(b"</w:body>", 1)
    paragraph = b"<w:p><w:r><w:t>" + b"A" * 1000 + b"</w:t></w:r></w:p>"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in parts.items():
            if name != "word/document.xml":
                out.writestr(name, data)
        with out.open("word/document.xml", "w") as handle:
            handle.write(head)
            for _ in range(inflated_mb * 1024 * 1024 // len(paragraph)):
                handle.write(paragraph)
            handle.write(b"</w:body>" + tail)
    return path


def deep_html(path: Path, depth: int) -> Path:
    path.write_text("<html><body>" + "<div>" * depth + "sâu" + "</div>" * depth + "</body></html>", encoding="utf-8")
    return path


# 8.8 MB of nested <div>s, under max_html_mb: seconds to parse even on a fast machine (the loader is
# linear, this is simply a large page), a few hundred MB, so the wall-time limit is what stops it
SLOW_DEPTH = 800_000


def test_zip_bomb_docx_is_refused_before_parsing(tmp_path):
    bomb = zip_bomb_docx(tmp_path / "bomb.docx", inflated_mb=100)
    assert bomb.stat().st_size < 2 * 1024 * 1024  # small on disk
    with pytest.raises(DocumentError, match="max_unzipped_mb") as err:
        load_bounded(bomb)
    assert "100" in err.value.reason and "zip bomb" in err.value.reason


def test_too_many_zip_entries(tmp_path):
    path = f.write_docx(tmp_path / "many.docx")
    with zipfile.ZipFile(path, "a") as archive:
        for i in range(30):
            archive.writestr(f"extra/item{i}.xml", "<x/>")
    with pytest.raises(DocumentError, match="max_zip_entries"):
        load_bounded(path, ParseLimits(max_zip_entries=20))


@pytest.mark.slow  # runs the worker process
def test_deep_html_parses_to_its_text(tmp_path):
    """100,000 nested <div>s (the red team's 1.1 MB page, once 7+ minutes) read to their text."""
    doc = load_bounded(deep_html(tmp_path / "deep.html", 100_000))
    assert doc.text == "sâu"


def test_nesting_does_not_change_the_text():
    deep = "<div>" * 20_000 + "<p>Bệnh viện A khám <b>12.345</b> lượt</p>" + "</div>" * 20_000
    assert html_text(deep.encode()).text.split() == ["Bệnh", "viện", "A", "khám", "12.345", "lượt"]
    # nested tables: the innermost ones past the nesting bound are read as plain text, none of it lost
    nested = "<table><tr><td>" * 30 + "Trạm y tế xã B: 6 nhân viên" + "</td></tr></table>" * 30
    text = html_text(f"<html><body>{nested}<p>Kết thúc</p></body></html>".encode()).text
    assert text.count("Trạm y tế xã B: 6 nhân viên") == 1 and text.strip().endswith("Kết thúc")
    unclosed = "<div><span><b>" * 5_000 + "chữ cuối"  # never closed: the parser closes them at the end
    assert html_text(unclosed.encode()).text.strip() == "chữ cuối"


def test_huge_text_file_is_refused_by_size(tmp_path):
    path = tmp_path / "huge.txt"
    with open(path, "wb") as handle:
        handle.truncate(60 * 1024 * 1024)  # sparse: the size is what counts
    with pytest.raises(DocumentError, match=r"60\.0 MB, over the limit of 50 MB \(setting max_file_mb"):
        load_bounded(path)


@pytest.mark.slow  # runs the worker process
def test_wall_time_limit_kills_the_parser(tmp_path):
    path = deep_html(tmp_path / "slow.html", SLOW_DEPTH)
    with pytest.raises(DocumentError, match="longer than 1 s|more than 1 s of CPU") as err:
        load_bounded(path, ParseLimits(seconds=1))
    assert "parse_timeout_s" in err.value.reason


@pytest.mark.slow  # runs the worker process
def test_memory_limit_stops_the_parser(tmp_path):
    bomb = zip_bomb_docx(tmp_path / "bomb.docx", inflated_mb=80)
    with pytest.raises(DocumentError, match="parse_memory_mb"):
        load_bounded(bomb, ParseLimits(max_unzipped_mb=10**4, memory_mb=64, seconds=30))


@pytest.mark.slow  # runs the worker process
def test_batch_continues_past_hostile_files(tmp_path):
    files = [
        f.write_txt(tmp_path / "a.txt"),
        zip_bomb_docx(tmp_path / "bomb.docx", inflated_mb=70),
        deep_html(tmp_path / "deep.html", 5000),
        f.write_docx(tmp_path / "b.docx"),
        f.write_html(tmp_path / "c.html"),
    ]
    report = IngestReport()
    loaded = load_all(files, report, progress=False)
    assert sorted(loaded) == ["a", "b", "c", "deep"]
    reasons = dict(report.errors)
    assert "max_unzipped_mb" in reasons[str(files[1])] and len(reasons) == 1
    assert loaded["deep"].text == "sâu"
    assert loaded["b"].text  # a real docx still parses in the worker


@pytest.mark.slow  # runs the worker process
def test_worker_restarts_after_a_kill(tmp_path):
    slow = deep_html(tmp_path / "slow.html", SLOW_DEPTH)
    good = f.write_txt(tmp_path / "good.txt")
    with Sandbox(ParseLimits(seconds=1)) as sandbox:
        with pytest.raises(DocumentError):
            sandbox.load(slow)
        assert sandbox.load(good).doc_id == "good"


def test_limits_come_from_settings(make_settings):
    limits = ParseLimits.from_settings(make_settings(max_file_mb=3, max_html_mb=7, parse_timeout_s=2))
    assert (limits.max_file_mb, limits.max_html_mb, limits.seconds) == (3, 7, 2)


def test_hostile_files_leave_the_index_intact(library, make_settings, embeddings, tmp_path):
    from rag.backend import load_retriever
    from rag.ingest.local import ingest

    settings = make_settings()
    first = ingest([library], settings, embeddings=embeddings)
    hostile = tmp_path / "hostile"
    hostile.mkdir()
    zip_bomb_docx(hostile / "bomb.docx", inflated_mb=70)
    deep_html(hostile / "deep.html", 100_000)
    with open(hostile / "huge.txt", "wb") as handle:
        handle.truncate(60 * 1024 * 1024)
    report = ingest(sorted(hostile.iterdir()), settings, embeddings=embeddings)
    assert len(report.errors) == 2 and report.added == ["deep"]  # deep nesting is no longer hostile
    retriever = load_retriever(settings)
    assert set(retriever.store.manifest.documents) == set(first.added) | {"deep"}
    assert retriever.search("Bệnh viện", 3).hits


def test_a_slow_parse_does_not_hold_up_another_upload(library, make_settings, embeddings, tmp_path):
    """Assistant.add_files parses before any lock: a good file ingested meanwhile commits first."""
    import threading

    from rag.service import Assistant

    settings = make_settings(parse_timeout_s=8)
    assistant = Assistant(settings)
    assistant.add_files([library])
    slow = deep_html(tmp_path / "slow.html", SLOW_DEPTH)
    good = f.write_txt(tmp_path / "moi.txt")
    finished: list[str] = []

    def add(path: Path, name: str) -> None:
        report = assistant.add_files([path])
        finished.append(name if not report.errors else f"{name}: {report.errors[0][1]}")

    first = threading.Thread(target=add, args=(slow, "slow"))
    first.start()
    time.sleep(1.0)  # the slow file is being parsed now
    add(good, "good")
    first.join(timeout=120)
    assert finished[0] == "good"
    assert finished[1].startswith("slow: ") and "parse_timeout_s" in finished[1]
    assert "moi" in assistant.library().documents
