"""BM25 vocabularies as memory-mapped arrays: opened in microseconds, a token looked up without a dict.

bm25s keeps a vocabulary as one JSON object (``vocab.index.json``); at a million chunks that is
millions of tokens, and parsing it into a dict took most of a second per index and a few hundred
MB resident. Beside it (so ``bm25s.BM25.load`` still reads the index) each index directory holds:

``vocab.tokens.bin``    the UTF-8 bytes of every token, in id order, end to end
``vocab.offsets.npy``   int64, V + 1: token ``i`` is ``tokens[offsets[i]:offsets[i + 1]]``
``vocab.hashes.npy``    uint64, V: a 64-bit BLAKE2b hash of each token, sorted
``vocab.order.npy``     int32, V: the token id of each sorted hash

A lookup hashes the token, binary-searches the sorted hashes and compares the stored bytes, so
it is exact even if two tokens ever shared a hash. All four are read with ``mmap_mode="r"``: a
query touches a few pages of each.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

TOKENS = "vocab.tokens.bin"
OFFSETS = "vocab.offsets.npy"
HASHES = "vocab.hashes.npy"
ORDER = "vocab.order.npy"
FILES = (TOKENS, OFFSETS, HASHES, ORDER)
_SEEN_MAX = 65_536  # remembered lookups per vocabulary


def token_hash(token: str) -> int:
    """A hash of ``token`` that is the same in every process (Python's ``hash`` is salted)."""
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")


def save_vocabulary(vocab: Mapping[str, int], directory: Path) -> None:
    """Write ``vocab`` (token -> id, ids 0..V-1) in the binary layout."""
    tokens: list[str | None] = [None] * len(vocab)
    for token, tid in vocab.items():
        if not 0 <= tid < len(tokens) or tokens[tid] is not None:
            raise ValueError(f"vocabulary ids must be 0..{len(tokens) - 1}, each once (token {token!r} has {tid})")
        tokens[tid] = token
    encoded = [t.encode("utf-8") for t in tokens]  # type: ignore[union-attr]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)), out=offsets[1:])
    hashes = np.fromiter((token_hash(t) for t in tokens), dtype=np.uint64, count=len(tokens))  # type: ignore[arg-type]
    order = np.argsort(hashes, kind="stable").astype(np.int32)
    (directory / TOKENS).write_bytes(b"".join(encoded))
    np.save(directory / OFFSETS, offsets)
    np.save(directory / HASHES, hashes[order])
    np.save(directory / ORDER, order)


def has_vocabulary(directory: Path) -> bool:
    return all((directory / name).is_file() for name in FILES)


class Vocabulary(Mapping[str, int]):
    """A saved vocabulary read through memory maps: ``vocab[token]``, ``token in vocab``, ``vocab.get``.

    Iterating decodes every token (what rebuilding from the cached token ids needs); queries only
    look tokens up.
    """

    def __init__(self, directory: Path) -> None:
        # plain ndarray views of the maps: numpy's memmap subclass costs microseconds per access
        self._offsets = np.asarray(np.load(directory / OFFSETS, mmap_mode="r", allow_pickle=False))
        self._hashes = np.asarray(np.load(directory / HASHES, mmap_mode="r", allow_pickle=False))
        self._order = np.asarray(np.load(directory / ORDER, mmap_mode="r", allow_pickle=False))
        size = (directory / TOKENS).stat().st_size
        # an empty file cannot be memory-mapped: a vocabulary of only the empty token is empty bytes
        self._bytes = np.asarray(np.memmap(directory / TOKENS, dtype=np.uint8, mode="r")) if size else np.zeros(0, dtype=np.uint8)
        self._seen: dict[str, int | None] = {}  # tokens looked up already (queries repeat their words)
        n = len(self._hashes)
        if len(self._offsets) != n + 1 or len(self._order) != n or int(self._offsets[-1]) != size:
            raise ValueError(
                f"vocabulary files disagree in {directory}: {n} hashes, {len(self._order)} ids, "
                f"{len(self._offsets)} offsets, {size} bytes of tokens"
            )

    def __len__(self) -> int:
        return len(self._hashes)

    def token(self, tid: int) -> str:
        """The token with id ``tid``."""
        return bytes(self._bytes[int(self._offsets[tid]) : int(self._offsets[tid + 1])]).decode("utf-8")

    def tokens(self) -> list[str]:
        """Every token, in id order."""
        data = bytes(self._bytes)
        bounds = np.asarray(self._offsets).tolist()
        return [data[a:b].decode("utf-8") for a, b in zip(bounds[:-1], bounds[1:])]

    def get(self, token: str, default: int | None = None) -> int | None:  # type: ignore[override]
        tid = self._seen.get(token, -1)
        if tid == -1:
            tid = self._find(token)
            if len(self._seen) >= _SEEN_MAX:  # bounded: a server sees any words users type
                self._seen.clear()
            self._seen[token] = tid
        return default if tid is None else tid

    def _find(self, token: str) -> int | None:
        h = np.uint64(token_hash(token))
        i = int(self._hashes.searchsorted(h))
        encoded = token.encode("utf-8")
        while i < len(self._hashes) and self._hashes[i] == h:
            tid = int(self._order[i])
            if self._bytes[int(self._offsets[tid]) : int(self._offsets[tid + 1])].tobytes() == encoded:
                return tid
            i += 1
        return None

    def __getitem__(self, token: str) -> int:
        tid = self.get(token)
        if tid is None:
            raise KeyError(token)
        return tid

    def __contains__(self, token: object) -> bool:
        return isinstance(token, str) and self.get(token) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.tokens())

    def items(self):  # type: ignore[override]
        """(token, id) pairs in id order, decoded in one pass."""
        return zip(self.tokens(), range(len(self)))
