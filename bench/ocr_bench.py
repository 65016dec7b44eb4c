"""OCR accuracy and speed on scans rendered from known text (the shipped corpus), with the real Tesseract.

Pages of corpus text are rendered as a scanner would give them (tests.docs_factory.render_scan:
DejaVu Sans 12 pt, 0.8° skew, speckle noise) at 200 and 300 dpi and read back by the loader's OCR.
Character accuracy is 1 − (edit operations / source characters) on whitespace-collapsed text
(difflib's alignment, an upper bound on the edit distance); number accuracy is the share of the
source's numbers ("383.605", "95,25%", "5/1/2024") found verbatim in the OCR text. Then a 10-page
scanned PDF is ingested with load_document, timed.

    python -m bench.ocr_bench [--pages 3] [--scan-pages 10] [--json OUT]
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import tempfile
import textwrap
import time
from collections import Counter
from pathlib import Path

from rag.ingest.formats.ocr import ocr_image
from rag.ingest.loaders import iter_paths, load_document
from rag.text import collapse_whitespace
from tests import docs_factory

NUMBER = re.compile(r"\d+(?:[.,/]\d+)*%?")
LINE_CHARS, PAGE_LINES = 68, 34


def corpus_pages(n: int) -> list[list[str]]:
    """``n`` pages of wrapped corpus text."""
    lines = [
        wrapped
        for path in iter_paths([Path(__file__).resolve().parent.parent / "corpus"])
        for paragraph in load_document(path).text.split("\n")
        for wrapped in textwrap.wrap(paragraph, LINE_CHARS)
    ]
    return [lines[i * PAGE_LINES : (i + 1) * PAGE_LINES] for i in range(n)]


def accuracy(source: str, read: str) -> tuple[float, float]:
    """(character accuracy, number accuracy) of ``read`` against ``source``."""
    source, read = collapse_whitespace(source), collapse_whitespace(read)
    ops = difflib.SequenceMatcher(None, source, read, autojunk=False).get_opcodes()
    errors = sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in ops if tag != "equal")
    wanted, found = Counter(NUMBER.findall(source)), Counter(NUMBER.findall(read))
    numbers = sum(min(c, found[k]) for k, c in wanted.items()) / max(1, sum(wanted.values()))
    return 1 - errors / max(1, len(source)), numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=3, help="pages per resolution for the accuracy figures")
    parser.add_argument("--scan-pages", type=int, default=10, help="pages of the scanned PDF that is ingested")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    out: dict[str, object] = {}
    pages = corpus_pages(max(args.pages, args.scan_pages))
    for dpi in (200, 300):
        chars, numbers, seconds = [], [], []
        for n, lines in enumerate(pages[: args.pages]):
            image = docs_factory.render_scan(lines, dpi=dpi, seed=n)
            t0 = time.perf_counter()
            text = ocr_image(image)
            seconds.append(time.perf_counter() - t0)
            c, k = accuracy("\n".join(lines), text)
            chars.append(c)
            numbers.append(k)
        out[f"{dpi}dpi"] = {
            "char_accuracy": round(sum(chars) / len(chars), 4),
            "number_accuracy": round(sum(numbers) / len(numbers), 4),
            "seconds_per_page": round(sum(seconds) / len(seconds), 2),
        }
        print(dpi, "dpi:", out[f"{dpi}dpi"], flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = docs_factory.write_scan_pdf(Path(tmp) / "scan.pdf", pages[: args.scan_pages])
        t0 = time.perf_counter()
        doc = load_document(path)
        elapsed = time.perf_counter() - t0
    c, k = accuracy("\n".join(line for page in pages[: args.scan_pages] for line in page), doc.text)
    out["scanned_pdf"] = {"pages": doc.ocr_pages, "ingest_seconds": round(elapsed, 1), "char_accuracy": round(c, 4), "number_accuracy": round(k, 4)}
    print("scanned PDF:", out["scanned_pdf"], flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
