"""The real CLI (its own process) on bad input and broken environments: one ``error: …`` line and a
non-zero exit, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers import CORPUS, ROOT, run_cli

pytestmark = pytest.mark.slow  # every test runs the CLI in its own process


def assert_one_error_line(out: subprocess.CompletedProcess, *fragments: str) -> None:
    assert out.returncode != 0
    assert "Traceback" not in out.stderr, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, out.stderr
    for fragment in fragments:
        assert fragment in lines[0], out.stderr


@pytest.mark.parametrize("k", ["0", "-1", "100000"])
def test_bad_k(k, tmp_path):
    assert_one_error_line(run_cli("search", "giám đốc", "--k", k, "--index", str(tmp_path)), "--k")


def test_invalid_utf8_argument(tmp_path):
    # what a shell passes for bytes that are not UTF-8: Python decodes them to lone surrogates
    out = subprocess.run(
        [os.fsencode(sys.executable), b"-m", b"rag", b"ask", b"gi\xffm \xfe\xfd", b"--index", os.fsencode(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert_one_error_line(out, "surrogate")


def test_deeply_nested_history_file(tmp_path):
    history = tmp_path / "history.json"
    history.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    out = run_cli("ask", "giám đốc là ai", "--history", str(history), "--index", str(tmp_path))
    assert_one_error_line(out, "nested too deeply")


def test_deeply_nested_batch_line(tmp_path):
    batch = tmp_path / "q.jsonl"
    batch.write_text("[" * 100_000 + "\n", encoding="utf-8")
    out = run_cli("search", "--batch", str(batch), "--json", "--index", str(tmp_path))
    assert_one_error_line(out, "q.jsonl:1")


def test_unwritable_lock_file(tmp_path):
    index = tmp_path / "index"
    (index / ".lock").mkdir(parents=True)  # open(".lock", "w") fails, even for root
    out = run_cli("ingest", str(CORPUS), "--index", str(index), "--no-progress")
    assert_one_error_line(out, ".lock", "not changed")


def test_full_disk(tmp_path):
    """Writes fail once files pass 20 kB (RLIMIT_FSIZE: EFBIG, as a full disk's ENOSPC)."""
    index = tmp_path / "index"
    code = (
        "import resource, runpy, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000)); "
        f"sys.argv = ['rag', 'ingest', {str(CORPUS)!r}, '--index', {str(index)!r}, '--no-progress']; "
        "runpy.run_module('rag', run_name='__main__')"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert_one_error_line(out, "not changed")
    assert not (index / "CURRENT").exists() and not list(index.glob(".tmp-gen-*"))
