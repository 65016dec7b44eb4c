"""Language data: the word lists of each language, loaded from TOML files (see :mod:`rag.lang.lexicon`)."""

from rag.lang.lexicon import Lexicon, LexiconError, alternation, both_cases, load_lexicon

__all__ = ["Lexicon", "LexiconError", "alternation", "both_cases", "load_lexicon"]
