"""One parser per file format, each turning bytes into an :class:`~rag.ingest.formats.extracted.Extracted`.

:mod:`rag.ingest.loaders` picks the parser by extension and normalises what it returns; tables of
every format are rendered by :mod:`rag.ingest.formats.tables`.
"""
