"""The command line as users run it: real processes, real index, JSON contracts and error exits."""

from __future__ import annotations

import json

import pytest

from tests.helpers import run_cli, CORPUS


@pytest.fixture(scope="module")
def cli_index(tmp_path_factory):
    index = tmp_path_factory.mktemp("cli-index")
    result = run_cli("ingest", str(CORPUS), "--index", str(index), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "5 added" in result.stdout and "5 documents" in result.stdout
    return index


def test_search_json_contract(cli_index):
    result = run_cli("search", "Bệnh viện Bãi Cháy khám bao nhiêu lượt người?", "--k", "3", "--json", "--index", str(cli_index))
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["query"].startswith("Bệnh viện Bãi Cháy")
    assert [r["rank"] for r in payload["results"]] == [1, 2, 3]
    for r in payload["results"]:
        assert set(r) == {"rank", "doc_id", "title", "text", "start", "end", "score"}
        source = (CORPUS / f"{r['doc_id']}.txt").read_text(encoding="utf-8")
        from rag.text import normalize

        assert normalize(source)[r["start"] : r["end"]] == r["text"]


def test_search_batch(cli_index, tmp_path):
    batch = tmp_path / "q.jsonl"
    batch.write_text(
        "\n".join(json.dumps({"id": i, "question": q}, ensure_ascii=False) for i, q in [("a", "Tiên Du"), ("b", "Pà Cò")]),
        encoding="utf-8",
    )
    result = run_cli("search", "--batch", str(batch), "--json", "--index", str(cli_index))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["id"] for line in lines] == ["a", "b"]
    assert all(len(line["results"]) == 5 for line in lines)


def test_reingest_is_a_no_op(cli_index):
    result = run_cli("ingest", str(CORPUS), "--index", str(cli_index), "--no-progress")
    assert result.returncode == 0 and "5 unchanged" in result.stdout and "(0 embedded)" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "   "], "empty"),
        (["ingest", "khong/ton/tai"], "no such file or directory"),
        (["search", "x", "--batch", "q.jsonl", "--json"], "either a question or --batch"),
    ],
)
def test_bad_input_exits_non_zero_with_message(cli_index, args, message):
    result = run_cli(*args, "--index", str(cli_index))
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_search_without_index_says_how_to_build(tmp_path):
    result = run_cli("search", "Tiên Du", "--index", str(tmp_path / "none"))
    assert result.returncode == 1 and "python -m rag ingest" in result.stderr


def test_bad_batch_line_names_line_number(cli_index, tmp_path):
    batch = tmp_path / "bad.jsonl"
    batch.write_text('{"id": 1, "question": "Tiên Du"}\n{oops\n', encoding="utf-8")
    result = run_cli("search", "--batch", str(batch), "--json", "--index", str(cli_index))
    assert result.returncode == 1 and "bad.jsonl:2" in result.stderr


def test_unsupported_file_is_skipped_with_warning(tmp_path):
    (tmp_path / "a.txt").write_text("Tiêu đề\nBệnh viện X có 10 giường.", encoding="utf-8")
    (tmp_path / "b.pptx").write_bytes(b"x")
    result = run_cli("ingest", str(tmp_path), "--index", str(tmp_path / "idx"), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "skipped" in result.stderr and "b.pptx" in result.stderr and "1 added" in result.stdout
