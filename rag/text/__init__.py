"""Vietnamese text handling: normalisation, diacritic folding, sentence splitting, BM25 tokens, dates.

Hand-written because no library does these well for Vietnamese: tokens must keep one-letter
syllables ("y", "ở") and numbers with their separators ("383.605", "95,25%", "5/1/2024"), and
sentence splitting must not break on those numbers or on academic titles ("TS.", "BS CKII.").
"""

from rag.text.dates import find_dates
from rag.text.normalize import collapse_whitespace, fold, has_diacritics, normalize
from rag.text.sentences import sentence_spans, split_sentences
from rag.text.tokens import tokenize, tokenize_folded

__all__ = [
    "collapse_whitespace",
    "find_dates",
    "fold",
    "has_diacritics",
    "normalize",
    "sentence_spans",
    "split_sentences",
    "tokenize",
    "tokenize_folded",
]
