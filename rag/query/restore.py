"""Diacritic restoration for questions typed without accents: "benh vien bai chay" → "bệnh viện bãi cháy".

A syllable bigram model of the library's own text: how often each accented syllable occurs, and
each pair of syllables in a row. A question is restored by Viterbi over its syllables: the
candidates of a syllable are the accented forms seen for its folded form; a syllable the user
accented keeps its accents (only the others are restored: mixed input); a syllable never seen, a
number and punctuation stay exactly as typed, and each restored syllable keeps the typed case.

Smoothing is Witten-Bell interpolation of the bigram with an add-½ unigram, so a small library
(five reports: most pairs unseen) falls back on how common each form is, and a large one trusts
its pairs. Counts come from BM25's accented tokens (:func:`rag.text.tokenize`): numbers and chunk
ends break a run of syllables, punctuation does not (the tokens do not keep it).

Stored as one ``.npz`` of plain arrays (vocabulary, counts; no pickle). A delta segment stores
its own counts, added to the base's at load (:meth:`SyllableRestorer.merged`); counts of deleted
chunks stay in until the next merge rewrites the base, which only biases a few choices slightly.
Every generation's model also holds a few hand-written questions (data/question_words.txt):
reports rarely ask "bao nhiêu", "là gì", "ở đâu".

FAISS only: the writer saves a model per segment and :attr:`rag.index.faiss.store.IndexStore.restorer`
loads it. On Milvus restoration is off (no model is kept there; the retriever embeds the question
as typed and ``restored_query`` stays None).
"""

from __future__ import annotations

import itertools
import logging
import math
import re
from array import array
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.text import fold, has_diacritics, tokenize

log = logging.getLogger(__name__)

FILENAME = "restore.npz"  # in each index segment, beside its BM25 folders
QUESTION_WORDS = Path(__file__).parent / "data" / "question_words.txt"
_SYLLABLE = re.compile(r"[^\W\d_]+")
_UNIGRAM_ALPHA = 0.5


class SyllableRestorer:
    """Accented-syllable unigram and bigram counts; :meth:`restore` puts the accents back."""

    def __init__(self, vocab: Sequence[str], unigram: np.ndarray, bigram_keys: np.ndarray, bigram_counts: np.ndarray) -> None:
        """``bigram_keys`` are ``prev * len(vocab) + next``, sorted and unique, with their counts."""
        self.vocab = list(vocab)
        self.unigram = np.asarray(unigram, dtype=np.int64)
        self.bigram_keys = np.asarray(bigram_keys, dtype=np.int64)
        self.bigram_counts = np.asarray(bigram_counts, dtype=np.int64)
        n = len(self.vocab)
        if len(self.unigram) != n or len(self.bigram_keys) != len(self.bigram_counts):
            raise ValueError("restorer arrays disagree in length")
        self.ids = {word: i for i, word in enumerate(self.vocab)}
        self.candidates: dict[str, list[int]] = {}
        for i, word in enumerate(self.vocab):
            self.candidates.setdefault(fold(word), []).append(i)
        # Python lists: a question reads a few dozen entries, faster from lists than from arrays
        self._uni = ((self.unigram + _UNIGRAM_ALPHA) / (self.unigram.sum() + _UNIGRAM_ALPHA * max(n, 1))).tolist()
        prev = self.bigram_keys // max(n, 1)
        self._history = np.bincount(prev, weights=self.bigram_counts, minlength=n).tolist()  # c(prev, ·)
        self._followers = np.bincount(prev, minlength=n).tolist()  # T(prev): distinct words after prev

    # -- building ------------------------------------------------------------------------------

    @classmethod
    def from_token_ids(cls, vocab: Sequence[str], ids: np.ndarray, offsets: np.ndarray) -> SyllableRestorer:
        """Counts from a tokenised corpus: chunk ``i`` is ``vocab[ids[offsets[i]:offsets[i + 1]]]``.

        Vectorised: one pass and one ``np.unique`` (a sort) over the token pairs; 100,000 synthetic
        chunks (10^7 tokens) count in about 1.5 s (``python -m bench.restore_bench``).
        Tokens that are not syllables (numbers) are left out and break runs.
        """
        ids = np.asarray(ids, dtype=np.int64)
        offsets = np.asarray(offsets, dtype=np.int64)
        is_syllable = np.fromiter((t.isalpha() for t in vocab), dtype=bool, count=len(vocab))
        new_id = np.cumsum(is_syllable) - 1  # syllable vocabulary ids
        words = [t for t, keep in zip(vocab, is_syllable) if keep]
        n = len(words)
        unigram = np.bincount(new_id[ids[is_syllable[ids]]], minlength=n) if n else np.zeros(0, dtype=np.int64)
        pairs = is_syllable[ids[:-1]] & is_syllable[ids[1:]] if len(ids) > 1 else np.zeros(0, dtype=bool)
        starts = offsets[1:-1]
        pairs[starts[(starts > 0) & (starts < len(ids))] - 1] = False  # no pair across two chunks
        keys = new_id[ids[:-1][pairs]] * n + new_id[ids[1:][pairs]]
        bigram_keys, bigram_counts = np.unique(keys, return_counts=True)
        return cls(words, unigram, bigram_keys, bigram_counts)

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> SyllableRestorer:
        """Counts from texts (each one a chunk), tokenised as BM25 tokenises them.

        Ids go into C arrays, not lists: an old generation of 10^6 chunks holds ~10^8 tokens.
        """
        index: dict[str, int] = {}
        flat, offsets = array("q"), array("q", [0])
        for text in texts:
            flat.extend(index.setdefault(token, len(index)) for token in tokenize(text))
            offsets.append(len(flat))
        return cls.from_token_ids(list(index), np.frombuffer(flat, dtype=np.int64), np.frombuffer(offsets, dtype=np.int64))

    def merged(self, other: SyllableRestorer) -> SyllableRestorer:
        """This model's counts plus ``other``'s (a delta segment's over its base's)."""
        index = dict(self.ids)  # this model's words first, then the words only ``other`` has
        mapping = np.fromiter((index.setdefault(w, len(index)) for w in other.vocab), dtype=np.int64, count=len(other.vocab))
        vocab = list(index)
        n = len(vocab)
        unigram = np.zeros(n, dtype=np.int64)
        unigram[: len(self.vocab)] += self.unigram
        np.add.at(unigram, mapping, other.unigram)
        old_n, other_n = max(len(self.vocab), 1), max(len(other.vocab), 1)
        mine = (self.bigram_keys // old_n) * n + self.bigram_keys % old_n
        theirs = mapping[other.bigram_keys // other_n] * n + mapping[other.bigram_keys % other_n] if len(other.bigram_keys) else other.bigram_keys
        keys, inverse = np.unique(np.concatenate([mine, theirs]), return_inverse=True)
        counts = np.bincount(inverse, weights=np.concatenate([self.bigram_counts, other.bigram_counts]), minlength=len(keys))
        return SyllableRestorer(vocab, unigram, keys, counts.astype(np.int64))

    # -- files -----------------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the counts to ``path`` (an ``.npz`` of plain arrays, loadable without pickle)."""
        with open(path, "wb") as handle:
            np.savez(
                handle,
                vocab=np.asarray(self.vocab, dtype=str) if self.vocab else np.zeros(0, dtype="<U1"),
                unigram=self.unigram,
                bigram_keys=self.bigram_keys,
                bigram_counts=self.bigram_counts,
            )

    @classmethod
    def load(cls, path: str | Path) -> SyllableRestorer:
        """Read a model written by :meth:`save`; a :class:`ValueError` when the file is not one."""
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls(data["vocab"].tolist(), data["unigram"], data["bigram_keys"], data["bigram_counts"])
        except (OSError, KeyError, ValueError) as exc:
            raise ValueError(f"not a restorer model: {path}: {exc}") from None

    # -- restoring -------------------------------------------------------------------------------

    def restore(self, text: str) -> str:
        """``text`` with the accents of its unaccented syllables restored; everything else as typed."""
        matches = list(_SYLLABLE.finditer(text))
        if not matches:
            return text
        choices: list[list[int]] = []  # per syllable: candidate ids; [-1]: an unknown syllable, kept
        for m in matches:
            lower = m.group().lower()
            if has_diacritics(lower):
                choices.append([self.ids.get(lower, -1)])
            else:
                choices.append(self.candidates.get(lower, [-1]))
        best = self._viterbi(choices, [_breaks(text, a, b) for a, b in itertools.pairwise(matches)])
        out, last = [], 0
        for m, cid in zip(matches, best):
            typed = m.group()
            out.append(text[last : m.start()])
            out.append(typed if cid < 0 or has_diacritics(typed) else _with_case(self.vocab[cid], typed))
            last = m.end()
        out.append(text[last:])
        return "".join(out)

    def _viterbi(self, choices: list[list[int]], breaks: list[bool]) -> list[int]:
        """The most probable candidate per position; ``breaks[i]``: no bigram between i and i + 1.

        Witten-Bell: P(w | p) = (c(p, w) + T(p) P(w)) / (c(p) + T(p)), P(w) alone after a break
        or an unseen p; an unknown syllable (id -1) has one choice and probability 1.
        """
        n = max(len(self.vocab), 1)
        pairs = self._pair_counts(
            [p * n + c for i in range(1, len(choices)) if not breaks[i - 1] for p in choices[i - 1] if p >= 0 for c in choices[i] if c >= 0]
        )
        uni, history, followers = self._uni, self._history, self._followers
        scores = [math.log(uni[c]) if c >= 0 else 0.0 for c in choices[0]]
        back: list[list[int]] = []
        for i in range(1, len(choices)):
            prev, linked = choices[i - 1], not breaks[i - 1]
            new_scores, pointers = [], []
            for c in choices[i]:
                best, arg = -math.inf, 0
                for j, p in enumerate(prev):
                    if c < 0:
                        logp = 0.0
                    elif linked and p >= 0 and history[p] > 0:
                        logp = math.log((pairs.get(p * n + c, 0) + followers[p] * uni[c]) / (history[p] + followers[p]))
                    else:
                        logp = math.log(uni[c])
                    if scores[j] + logp > best:
                        best, arg = scores[j] + logp, j
                new_scores.append(best)
                pointers.append(arg)
            scores = new_scores
            back.append(pointers)
        path = [max(range(len(scores)), key=scores.__getitem__)]
        for pointers in reversed(back):
            path.append(pointers[path[-1]])
        path.reverse()
        return [choices[i][k] for i, k in enumerate(path)]

    def _pair_counts(self, keys: list[int]) -> dict[int, int]:
        """Bigram counts of the pair keys that were seen (one sorted-array lookup for all)."""
        if not keys or not len(self.bigram_keys):
            return {}
        wanted = np.asarray(keys, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.bigram_keys, wanted), len(self.bigram_keys) - 1)
        found = self.bigram_keys[at] == wanted
        return dict(zip(wanted[found].tolist(), self.bigram_counts[at[found]].tolist()))


def for_segments(segments: Sequence[tuple[Path, Callable[[], Iterable[str]]]]) -> SyllableRestorer:
    """A generation's model: each segment's saved counts summed, plus :func:`question_words`.

    ``segments`` are (model file, the segment's chunk texts); a segment of an older generation
    without the file, or with an unreadable one, is counted from its texts (once per loaded store:
    its caller caches it), so restoration never stops a search.
    """
    model = question_words()
    for path, texts in segments:
        try:
            segment = SyllableRestorer.load(path) if path.is_file() else None
        except ValueError as exc:
            log.warning("restorer model unreadable, counting the segment's chunks instead: %s", exc)
            segment = None
        model = model.merged(segment if segment is not None else SyllableRestorer.from_texts(texts()))
    return model


@lru_cache(maxsize=1)
def question_words() -> SyllableRestorer:
    """Counts of a few hand-written questions: reports rarely say "bao nhiêu", "là gì", "ở đâu"."""
    lines = QUESTION_WORDS.read_text(encoding="utf-8").splitlines()
    return SyllableRestorer.from_texts(line for line in lines if line.strip() and not line.startswith("#"))


def _breaks(text: str, left: re.Match[str], right: re.Match[str]) -> bool:
    """Whether a number stands between two syllables (as in the counts, where numbers break runs)."""
    return any(c.isdigit() for c in text[left.end() : right.start()])


def _with_case(word: str, typed: str) -> str:
    """``word`` (lower-case, accented) in the letter case the user typed."""
    if len(word) != len(typed):
        return typed
    return "".join(w.upper() if t.isupper() else w for w, t in zip(word, typed))
