"""Table-cell questions answered with the right row and column, for tables in HTML, DOCX, PDF and XLSX.

Each format gets its own library: the small text documents of tests.docs_factory.LIBRARY plus the
health-indicator table written in that format (a two-row header, a serial-number column). Every
question of bench/data/table_questions.json (one per non-empty cell, written from the table before
any run) is asked through ``Assistant.ask``. **Row** right: not an abstention, the figure in the
answer and in a cited passage of the table document (a quoted row holds all its cells). **Cell**
right (row and column): that, and the answer's bold lead ("**92** — …") is the cell's figure, so the
answerer picked the column. The empty cell's question should abstain, not answer another cell.

    python -m bench.table_bench [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from rag.config import get_settings
from rag.embeddings import get_embeddings
from tests import docs_factory as f

QUESTIONS = Path(__file__).resolve().parent / "data" / "table_questions.json"
WRITERS = {"html": f.write_table_html, "docx": f.write_table_docx, "pdf": f.write_table_pdf, "xlsx": f.write_table_xlsx}
FIGURES = {cell for row in f.TABLE_ROWS for cell in row[2:] if cell}


LEAD = re.compile(r"^\*\*(.+?)\*\*")


def judge(answer: Any, figure: str, table_doc: str) -> tuple[bool, bool]:
    """(row right, cell right) of one answer."""
    cited = any(c.doc_id == table_doc and figure in c.text for c in answer.citations)
    row = not answer.abstained and figure in answer.answer and cited
    lead = LEAD.match(answer.answer)
    return row, row and lead is not None and figure in lead.group(1)


def run_format(fmt: str, root: Path, embeddings, questions: dict[str, list[dict[str, str]]]) -> dict[str, Any]:
    from rag.ingest.local import ingest
    from rag.service import Assistant

    folder = root / fmt / "docs"
    folder.mkdir(parents=True)
    for doc_id, (title, body) in f.LIBRARY.items():
        f.write_txt(folder / f"{doc_id}.txt", title, body)
    WRITERS[fmt](folder / f"bang.{fmt}")
    settings = get_settings(index_dir=root / fmt / "index", uploads_dir=root / fmt / "uploads")
    report = ingest([folder], settings, embeddings=embeddings)
    if report.errors:
        raise SystemExit(f"{fmt}: ingest failed: {report.errors}")
    assistant = Assistant(settings)
    asked = questions["cells"] + (questions["sheet"] if fmt == "xlsx" else [])
    rows = []
    for q in asked:
        answer = assistant.ask(q["question"])
        row, cell = judge(answer, q["figure"], "bang")
        rows.append({"question": q["question"], "figure": q["figure"], "row": row, "cell": cell, "answer": answer.answer})
    absent = []
    for q in questions["absent"]:
        answer = assistant.ask(q["question"])
        wrong_figure = any(fig in answer.answer for fig in FIGURES)
        absent.append({"question": q["question"], "abstained": answer.abstained, "another_cell": wrong_figure and not answer.abstained})
    return {"row": sum(r["row"] for r in rows), "cell": sum(r["cell"] for r in rows), "asked": len(rows), "rows": rows, "absent": absent}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", help="write the figures (and every answer) here")
    args = parser.parse_args(argv)
    questions = json.loads(QUESTIONS.read_text(encoding="utf-8"))
    embeddings = get_embeddings()
    started = time.perf_counter()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in WRITERS:
            results[fmt] = run_format(fmt, Path(tmp), embeddings, questions)
            r = results[fmt]
            empty = "abstained" if all(a["abstained"] for a in r["absent"]) else "answered with another cell" if any(a["another_cell"] for a in r["absent"]) else "answered"
            print(f"{fmt}: row {r['row']}/{r['asked']}, cell (row and column) {r['cell']}/{r['asked']}; empty cell: {empty}")
            for row in r["rows"]:
                if not row["cell"]:
                    print(f"  not the cell: {row['question']} (want {row['figure']}) -> {row['answer'][:110]!r}")
    asked = sum(r["asked"] for r in results.values())
    rows, cells = (sum(r[key] for r in results.values()) for key in ("row", "cell"))
    empty = [a for r in results.values() for a in r["absent"]]
    summary = {
        "asked": asked,
        "row_accuracy": round(rows / asked, 3),
        "cell_accuracy": round(cells / asked, 3),
        "empty_cell_abstained": sum(a["abstained"] for a in empty),
        "empty_cell_asked": len(empty),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(f"table questions: {asked}; right row {rows}/{asked} = {summary['row_accuracy']}; right row and column {cells}/{asked} = {summary['cell_accuracy']}; "
          f"empty cell abstained {summary['empty_cell_abstained']}/{len(empty)}")
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "formats": results}, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
