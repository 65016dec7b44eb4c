"""Realistic synthetic data for the scale benchmarks: reports (text) and passage vectors, seeded.

Text
    Every sentence of the shipped corpus becomes a template: the names of people and places it
    mentions and every number in it are slots. A synthetic report is a title and 6-30 sentences
    drawn from those templates with the slots refilled from large pools (about 20,000 Vietnamese
    person names, 63 provinces + about 2,500 made-up district/commune names, numbers of the same
    shape: "2.617.843", "95,25%", "5/1/2024"). Passages are cut like the real chunker does (whole
    sentences, at most ``chunk_chars``), so BM25 sees the real vocabulary and length distribution,
    with the long tail of names and figures a library of thousands of reports has.

Vectors
    Passage vectors are drawn from a two-level Gaussian fitted to *real* passage embeddings (the
    corpus chunks plus a few hundred synthetic passages embedded with the real model, grouped by
    document): each synthetic report gets a centre ~ N(mean, between-report covariance), each of
    its chunks ~ N(centre, within-report covariance), each covariance kept as its top 64 principal
    components plus isotropic noise, then L2-normalised. This reproduces what decides how well
    IVF/HNSW work: e5 vectors fill a narrow cone (mean pairwise cosine ~0.87), and chunks of one
    report sit closer together (~0.92) than chunks of different reports. An isotropic Gaussian
    would have neither. Query vectors are the real embeddings of the gold questions, plus copies
    with a little noise (cosine ~0.98 to their original) to reach 200.

Everything is deterministic for a given seed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"

# Names and places of the shipped reports, replaced by slots.
_CORPUS_PEOPLE = [
    "Nguyễn Hoài Nam", "Dương Đình Chỉnh", "Nguyễn Trọng Diện", "Lê Ngọc Dũng", "Đinh Thị Lan Oanh",
    "Trần Thanh Luận", "Nguyễn Chí Hành", "Lê Việt An", "Phạm Duy Hưng", "Lê Hồng Trung",
]
_CORPUS_PLACES = [
    "Quảng Ninh", "Bãi Cháy", "Tiên Du", "Bắc Kạn", "Pà Cò", "Mai Châu", "Lạc Thủy", "Bình Liêu",
    "Đầm Hà", "Ba Chẽ", "Hạ Long", "Hòa Bình", "Bắc Ninh", "Cẩm Phả", "Uông Bí", "Móng Cái",
]
_SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
             "Hồ", "Ngô", "Dương", "Lý", "Đinh", "Trịnh", "Mai", "Đoàn"]
_MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Thanh", "Ngọc", "Quang", "Thu", "Hồng", "Xuân", "Anh",
           "Đình", "Trọng", "Bảo", "Kim", "Hoài", "Chí", "Duy", "Việt"]
_GIVEN = ["An", "Bình", "Cường", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hiếu", "Hoa", "Hùng", "Hương",
          "Khánh", "Lan", "Linh", "Long", "Mai", "Minh", "Nam", "Nga", "Ngọc", "Oanh", "Phong", "Phúc",
          "Phương", "Quân", "Quỳnh", "Sơn", "Tâm", "Thảo", "Thắng", "Trang", "Trung", "Tuấn", "Tùng",
          "Vân", "Việt", "Vinh", "Xuân", "Yến", "Hưng", "Diện", "Luận", "Chỉnh", "Hành", "Toàn", "Đạt",
          "Huy", "Kiên", "Lộc"]
_PROVINCES = [
    "Hà Nội", "Hải Phòng", "Quảng Ninh", "Bắc Ninh", "Bắc Giang", "Bắc Kạn", "Cao Bằng", "Lạng Sơn",
    "Hà Giang", "Tuyên Quang", "Thái Nguyên", "Phú Thọ", "Vĩnh Phúc", "Lào Cai", "Yên Bái", "Điện Biên",
    "Lai Châu", "Sơn La", "Hòa Bình", "Hải Dương", "Hưng Yên", "Thái Bình", "Hà Nam", "Nam Định",
    "Ninh Bình", "Thanh Hóa", "Nghệ An", "Hà Tĩnh", "Quảng Bình", "Quảng Trị", "Thừa Thiên Huế",
    "Đà Nẵng", "Quảng Nam", "Quảng Ngãi", "Bình Định", "Phú Yên", "Khánh Hòa", "Ninh Thuận",
    "Bình Thuận", "Kon Tum", "Gia Lai", "Đắk Lắk", "Đắk Nông", "Lâm Đồng", "Bình Phước", "Tây Ninh",
    "Bình Dương", "Đồng Nai", "Bà Rịa Vũng Tàu", "Long An", "Tiền Giang", "Bến Tre", "Trà Vinh",
    "Vĩnh Long", "Đồng Tháp", "An Giang", "Kiên Giang", "Cần Thơ", "Hậu Giang", "Sóc Trăng", "Bạc Liêu",
    "Cà Mau", "Thành phố Hồ Chí Minh",
]
_PLACE_SYLLABLES = [
    "An", "Bình", "Cẩm", "Đông", "Tây", "Nam", "Bắc", "Hòa", "Lạc", "Mai", "Châu", "Tiên", "Du", "Yên",
    "Phú", "Thủy", "Sơn", "Lâm", "Hà", "Hải", "Long", "Vĩnh", "Thạch", "Kim", "Ngọc", "Quế", "Tân",
    "Thanh", "Trung", "Xuân", "Đồng", "Hưng", "Mỹ", "Lộc", "Phong", "Pà", "Cò", "Mường", "Bản", "Sìn",
    "Hồ", "Chẽ", "Đầm", "Liêu", "Móng", "Cái", "Uông", "Bí", "Quang", "Minh",
]

_NUMBER = re.compile(r"\d+(?:[.,/]\d+)*%?")
_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})(?:/((?:19|20)\d{2}))?$")
_SLOT = re.compile(
    "|".join(
        [f"(?P<person>{'|'.join(map(re.escape, sorted(_CORPUS_PEOPLE, key=len, reverse=True)))})"]
        + [f"(?P<place>{'|'.join(map(re.escape, sorted(_CORPUS_PLACES, key=len, reverse=True)))})"]
        + [f"(?P<number>{_NUMBER.pattern})"]
    )
)


def _sentences(corpus_dir: Path) -> tuple[list[str], list[str]]:
    """Titles and body sentences of the shipped reports."""
    from rag.ingest.loaders import iter_paths, load_document
    from rag.text import split_sentences

    titles, body = [], []
    for path in iter_paths([corpus_dir]):
        doc = load_document(path)
        titles.append(doc.title.rstrip("…").strip())
        body.extend(s for s in split_sentences(doc.text) if len(s) >= 20)
    return titles, body


@dataclass(frozen=True)
class _Template:
    parts: tuple  # literal strings and slot kinds ("person", "place", ("number", shape))


def _compile(sentence: str) -> _Template:
    parts: list = []
    pos = 0
    for m in _SLOT.finditer(sentence):
        parts.append(sentence[pos : m.start()])
        kind = m.lastgroup
        parts.append(("number", m.group()) if kind == "number" else kind)
        pos = m.end()
    parts.append(sentence[pos:])
    return _Template(tuple(p for p in parts if p != ""))


@dataclass(frozen=True)
class SyntheticDocument:
    doc_id: str
    title: str
    text: str
    passages: list[tuple[int, int]]  # (start, end) offsets of the passages in ``text``


class TextGenerator:
    """Synthetic reports from the corpus's sentence templates (deterministic for a seed)."""

    def __init__(self, seed: int = 0, corpus_dir: Path = CORPUS, chunk_chars: int = 500) -> None:
        titles, body = _sentences(corpus_dir)
        if not body:
            raise ValueError(f"no sentences in {corpus_dir}")
        self.rng = np.random.default_rng(seed)
        self.chunk_chars = chunk_chars
        self.titles = [_compile(t) for t in titles] + [_compile(s) for s in body if len(s) < 160][:40]
        self.body = [_compile(s) for s in body]
        rng = np.random.default_rng(seed + 1)
        people = {f"{s} {m} {g}" for s in _SURNAMES for m in _MIDDLE for g in _GIVEN}
        people |= {f"{s} {m} {n} {g}" for s in _SURNAMES for m in ("Thị", "Văn") for n in _MIDDLE[:8] for g in _GIVEN}
        self.people = sorted(people)
        combos = [f"{a} {b}" for a in _PLACE_SYLLABLES for b in _PLACE_SYLLABLES if a != b]
        self.places = _PROVINCES + [combos[i] for i in rng.permutation(len(combos))[:2500]]

    # -- filling slots ---------------------------------------------------------------------------

    def _number(self, shape: str) -> str:
        rng = self.rng
        date = _DATE.match(shape)
        if date:
            day, month = int(rng.integers(1, 29)), int(rng.integers(1, 13))
            return f"{day}/{month}/{int(rng.integers(2018, 2026))}" if date.group(3) else f"{day}/{month}"
        if len(shape) == 4 and shape.isdigit() and shape.startswith(("19", "20")):
            return str(int(rng.integers(2015, 2026)))  # a year stays a year
        out = []
        for i, ch in enumerate(shape):
            if ch.isdigit():
                lo = 1 if (i == 0 or not shape[i - 1].isdigit()) and len(shape) > 1 else 0
                out.append(str(int(rng.integers(lo, 10))))
            else:
                out.append(ch)
        return "".join(out)

    def _fill(self, template: _Template) -> str:
        out = []
        for part in template.parts:
            if isinstance(part, str):
                if part == "person":
                    out.append(self.people[int(self.rng.integers(len(self.people)))])
                elif part == "place":
                    out.append(self.places[int(self.rng.integers(len(self.places)))])
                else:
                    out.append(part)
            else:
                out.append(self._number(part[1]))
        return "".join(out)

    # -- documents -------------------------------------------------------------------------------

    def document(self, doc_id: str) -> SyntheticDocument:
        rng = self.rng
        title = self._fill(self.titles[int(rng.integers(len(self.titles)))])
        n = int(rng.integers(6, 31))
        sentences = [self._fill(self.body[int(i)]) for i in rng.integers(0, len(self.body), n)]
        # Passages: whole sentences up to chunk_chars, one sentence per line as in the reports.
        text_parts, passages, pos = [], [], 0
        start, length = 0, 0
        for s in sentences:
            if length and length + 1 + len(s) > self.chunk_chars:
                passages.append((start, pos - 1))
                start, length = pos, 0
            text_parts.append(s)
            pos += len(s) + 1
            length += len(s) + (1 if length else 0)
        passages.append((start, pos - 1))
        return SyntheticDocument(doc_id, title, "\n".join(text_parts), passages)

    def documents(self, n_chunks: int, prefix: str = "syn") -> Iterator[SyntheticDocument]:
        """Documents until their passages total exactly ``n_chunks`` (the last one is trimmed)."""
        made, i = 0, 0
        while made < n_chunks:
            doc = self.document(f"{prefix}{i:07d}")
            keep = doc.passages[: n_chunks - made]
            if len(keep) < len(doc.passages):
                end = keep[-1][1]
                doc = SyntheticDocument(doc.doc_id, doc.title, doc.text[:end], keep)
            made += len(doc.passages)
            i += 1
            yield doc


def generation_data(n_chunks: int, vectors: np.ndarray | None, seed: int = 0, dim: int = 384):
    """A :class:`rag.store.GenerationData` of ``n_chunks`` synthetic passages (vectors given or zeros)."""
    from rag.index.records import Chunk
    from rag.index.records import DocumentRecord
    from rag.index.faiss.writer import GenerationData

    documents, chunks = [], []
    for doc in TextGenerator(seed).documents(n_chunks):
        documents.append(DocumentRecord(doc.doc_id, doc.title, f"synthetic/{doc.doc_id}.txt", f"sha-{doc.doc_id}", [], doc.text))
        chunks.extend(Chunk(doc.doc_id, doc.title, s, e, doc.text[s:e], i) for i, (s, e) in enumerate(doc.passages))
    if vectors is None:
        vectors = np.zeros((len(chunks), dim), dtype=np.float32)
    if len(vectors) != len(chunks):
        raise ValueError(f"{len(vectors)} vectors for {len(chunks)} chunks")
    return GenerationData(documents, chunks, vectors)


# ---------------------------------------------------------------------------------------------
# Vectors


def _gaussian(x: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray, float]:
    """PCA of centred rows: (top directions, their standard deviations, isotropic rest)."""
    n, d = x.shape
    _, s, vt = np.linalg.svd(np.asarray(x, dtype=np.float64), full_matrices=False)
    var = s**2 / max(1, n - 1)
    r = max(0, min(rank, len(var) - 1))
    noise_var = var[r:].sum() / max(1, d - r)  # what the r directions leave, spread over the rest
    return vt[:r].astype(np.float32), np.sqrt(var[:r]).astype(np.float32), float(np.sqrt(noise_var))


@dataclass
class VectorModel:
    """Two-level Gaussian over unit vectors: a document's centre, then its chunks around it.

    Chunks of one report are much closer to each other than to other reports' (cosine ~0.92-0.94
    against ~0.86-0.88 for the real embeddings: every chunk carries its report's title and topic),
    and that structure is what approximate indexes exploit, so it is modelled: document centres
    ~ N(mean, between-document covariance), chunks ~ N(centre, within-document covariance), each
    covariance kept as its top principal components plus isotropic noise, fitted to real passage
    embeddings grouped by document; samples are L2-normalised.
    """

    mean: np.ndarray  # (d,)
    doc_components: np.ndarray  # (r1, d)
    doc_scales: np.ndarray  # (r1,)
    doc_noise: float
    chunk_components: np.ndarray  # (r2, d)
    chunk_scales: np.ndarray  # (r2,)
    chunk_noise: float

    @classmethod
    def fit(cls, vectors: np.ndarray, doc_ids: np.ndarray, rank: int = 64) -> VectorModel:
        x = np.asarray(vectors, dtype=np.float64)
        labels = np.unique(np.asarray(doc_ids), return_inverse=True)[1]
        n_docs = int(labels.max()) + 1
        counts = np.bincount(labels, minlength=n_docs)
        centres = np.zeros((n_docs, x.shape[1]))
        np.add.at(centres, labels, x)
        centres /= counts[:, None]
        mean = centres.mean(0)
        doc = _gaussian(centres - mean, rank)
        multi = counts[labels] > 1  # chunks of single-chunk documents say nothing about the spread
        chunk = _gaussian((x - centres[labels])[multi] * np.sqrt(counts[labels][multi] / (counts[labels][multi] - 1))[:, None], rank)
        return cls(mean.astype(np.float32), *doc, *chunk)

    def sample(self, doc_sizes: list[int] | np.ndarray, seed: int = 0, batch: int = 100_000) -> np.ndarray:
        """Unit vectors (float32) for documents of the given chunk counts, deterministic for ``seed``."""
        sizes = np.asarray(doc_sizes, dtype=np.int64)
        rng = np.random.default_rng(seed)
        d = self.mean.shape[0]
        centres = self._draw(rng, len(sizes), self.doc_components, self.doc_scales, self.doc_noise) + self.mean
        owner = np.repeat(np.arange(len(sizes)), sizes)
        out = np.empty((len(owner), d), dtype=np.float32)
        for start in range(0, len(owner), batch):
            rows = owner[start : start + batch]
            x = centres[rows] + self._draw(rng, len(rows), self.chunk_components, self.chunk_scales, self.chunk_noise)
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            out[start : start + len(rows)] = x
        return out

    @staticmethod
    def _draw(rng, n: int, components: np.ndarray, scales: np.ndarray, noise: float) -> np.ndarray:
        d = components.shape[1] if len(components) else 0
        z = rng.standard_normal((n, len(scales)), dtype=np.float32)
        x = (z * scales) @ components if len(scales) else np.zeros((n, d), dtype=np.float32)
        return x + rng.standard_normal(x.shape, dtype=np.float32) * np.float32(noise)

    def describe(self) -> dict:
        return {
            "doc_rank": int(len(self.doc_scales)),
            "doc_noise_std": round(self.doc_noise, 5),
            "chunk_rank": int(len(self.chunk_scales)),
            "chunk_noise_std": round(self.chunk_noise, 5),
            "doc_top_scales": [round(float(s), 4) for s in self.doc_scales[:3]],
            "chunk_top_scales": [round(float(s), 4) for s in self.chunk_scales[:3]],
        }


def doc_sizes(doc_ids) -> list[int]:
    """Lengths of the runs of equal document ids (chunks are grouped by document)."""
    sizes: list[int] = []
    previous = object()
    for d in doc_ids:
        if d == previous:
            sizes[-1] += 1
        else:
            sizes.append(1)
            previous = d
    return sizes


def similarity_profile(passages: np.ndarray, queries: np.ndarray, doc_ids=None, k: int = 10, seed: int = 0) -> dict:
    """Statistics that show whether synthetic vectors look like real ones (same run, same queries)."""
    rng = np.random.default_rng(seed)
    p = np.asarray(passages, dtype=np.float32)
    i, j = rng.integers(0, len(p), 2000), rng.integers(0, len(p), 2000)
    pair = (p[i] * p[j]).sum(1)
    sims = queries @ p.T
    top = -np.sort(-sims, axis=1)[:, :k]
    extra = {}
    if doc_ids is not None:  # mean cosine over all pairs of chunks of one document, exactly
        labels = np.unique(np.asarray(doc_ids), return_inverse=True)[1]
        sums = np.zeros((int(labels.max()) + 1, p.shape[1]), dtype=np.float64)
        np.add.at(sums, labels, p)
        n_d = np.bincount(labels).astype(np.float64)
        norms2 = (p.astype(np.float64) ** 2).sum(1)
        self_dots = np.bincount(labels, weights=norms2)
        pairs = (n_d * (n_d - 1)).sum()
        if pairs:
            extra["within_doc_cos_mean"] = round(float(((sums**2).sum(1) - self_dots).sum() / pairs), 4)
    return {
        **extra,
        "pairwise_cos_mean": round(float(pair.mean()), 4),
        "pairwise_cos_std": round(float(pair.std()), 4),
        "query_top1_cos_mean": round(float(top[:, 0].mean()), 4),
        f"query_top{k}_cos_mean": round(float(top[:, -1].mean()), 4),
        "mean_norm_of_mean_vector": round(float(np.linalg.norm(p.mean(0))), 4),
    }


def perturbed_queries(queries: np.ndarray, n: int, sigma: float = 0.01, seed: int = 0) -> np.ndarray:
    """``n`` query vectors: the real ones first, then noisy copies of them (unit norm)."""
    q = np.asarray(queries, dtype=np.float32)
    if n <= len(q):
        return q[:n].copy()
    rng = np.random.default_rng(seed)
    extra = q[rng.integers(0, len(q), n - len(q))]
    extra = extra + rng.standard_normal(extra.shape, dtype=np.float32) * np.float32(sigma)
    extra /= np.linalg.norm(extra, axis=1, keepdims=True)
    return np.concatenate([q, extra])


def question_pool(seed: int = 0) -> list[str]:
    """Every distinct question text of the eval sets (the shipped gold set, the fitting sets, the new
    reports' set) and its accent-less copy, in a fixed shuffled order: more texts than the query-vector
    cache keeps (:data:`rag.embeddings.query_cache.QUERY_CACHE`), so a benchmark cycling through them
    embeds every question it asks instead of timing cache hits."""
    import random

    from rag.text import fold

    paths = [ROOT / "eval" / "gold.jsonl", *(ROOT / "eval" / "train").glob("*.jsonl"), ROOT / "eval" / "extra" / "gold.jsonl"]
    texts = [q for path in paths if path.exists() for q in gold_questions(path)]
    pool = list(dict.fromkeys(t for q in texts for t in (q, fold(q))))
    random.Random(seed).shuffle(pool)
    return pool


def gold_questions(path: Path = ROOT / "eval" / "gold.jsonl") -> list[str]:
    import json

    with open(path, encoding="utf-8") as fh:
        return [json.loads(line)["question"] for line in fh if line.strip()]
