"""The Milvus backend (optional extra ``milvus``): the same library, hybrid search and lifecycle as the embedded FAISS index.

A local file path as URI (``index/milvus.db``) runs Milvus Lite inside the process; ``http://host:19530``
talks to a Milvus standalone or cluster with the same code, so several app replicas can share one index.

Layout: two collections, reached through aliases so that a rebuild or a migration is written beside the
live data and swapped in at once (``alter_alias``)::

    <prefix>_chunks  one row per passage: doc id, title, offsets, exact text, content hash, the id of the
                     ingest run that wrote it, the dense vector, and two BM25 sparse vectors that Milvus's
                     built-in BM25 function derives from our Vietnamese tokens (accented and folded)
    <prefix>_docs    one row per document (a long text is split over several rows): title, source,
                     content hash, dates, chunk count and the normalised text (citations are checked
                     against it, ``docs`` lists it)

The model id, dimension and chunking settings are a property of the chunks collection and are checked on
every open, as the FAISS manifest is: vectors of two models never mix.

BM25 on our own tokens. Milvus's analyzers neither split nor fold Vietnamese the way :mod:`rag.text`
does (Lite's ``asciifolding`` leaves Vietnamese accents; Lite has no whitespace tokenizer and no
``run_analyzer``), so the BM25 input of a passage is :func:`rag.text.tokenize` /
:func:`~rag.text.tokenize_folded` output, joined by spaces, with each number's separators spelled as
letters ("383.605" → "383p605", "95,25%" → "95c25q") so that every token is one alphanumeric word: the
"standard" tokenizer (Lite's ``\\w+``, a server's Unicode word segmentation) then gives back exactly our
tokens, and BM25 uses the same k1/b as bm25s. Queries go through the same function.

Safe incremental writes. A changed document's new passages are inserted first (tagged with this run's id),
then its older passages are deleted, then its document row is written: a failure at any point leaves the
document searchable (old or new text, briefly both), and since the document row still carries the old
content hash the next ingest of that file redoes it. A rebuild or migration writes new collections and
swaps the aliases only when complete.

``langchain-milvus`` is not used: its vector store sends one raw query string to every field, embeds texts
itself and owns the schema, whereas this backend needs per-field query texts (tokens, folded tokens), our
own vectors and offsets, and the FAISS backend's ``Document`` metadata. pymilvus does all of it.
"""

from rag.index.milvus.client import MilvusIndex, display_uri, is_local_uri
from rag.index.milvus.schema import PreparedDocument, make_meta
from rag.index.milvus.writer import MilvusWriter

__all__ = ["MilvusIndex", "MilvusWriter", "PreparedDocument", "display_uri", "is_local_uri", "make_meta"]
