"""Start Hỏi Đáp Y Tế: chat page at ``/``, JSON API at ``/api/ask``, widget at ``/widget.js``.

    python app.py [--host 0.0.0.0] [--port 7860] [--index-dir index] [--admin-token …]

Every setting of :class:`rag.config.Settings` is a flag here (``--help`` lists them with their
defaults); flags override ``HDYT_*`` environment variables, which override ``hdyt.toml``.
When the index directory holds no index yet, it is built from ``--corpus-dir`` first.
"""

from __future__ import annotations

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import typing  # noqa: E402
from pathlib import Path  # noqa: E402

from pydantic import SecretStr, ValidationError  # noqa: E402

from rag.config import Settings  # noqa: E402


def _flag_type(annotation: typing.Any):
    """(argparse kwargs) for a Settings field annotation."""
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)) and len(args) == 1:
        return _flag_type(args[0])
    if origin is typing.Literal:
        return {"choices": list(typing.get_args(annotation)), "type": type(typing.get_args(annotation)[0])}
    if origin is list:
        return {"nargs": "*", "type": str}
    if annotation is bool:
        return {"action": argparse.BooleanOptionalAction}
    if annotation in (int, float):
        return {"type": annotation}
    if annotation is Path:
        return {"type": Path}
    if annotation is SecretStr:
        return {"type": str}
    return {"type": str}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python app.py",
        description="Hỏi Đáp Y Tế: chat page, JSON API and embeddable widget in one server. "
        "Each option below can also be set with the environment variable HDYT_<NAME> or in hdyt.toml.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Lists from the environment are JSON: HDYT_ALLOWED_ORIGINS='[\"https://example.org\"]'.",
    )
    parser.add_argument("--config", type=Path, default=None, help="TOML settings file (default: hdyt.toml; env HDYT_CONFIG)")
    parser.add_argument("--no-build", action="store_true", help="do not build the index from the corpus when none exists")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    for name, field in Settings.model_fields.items():
        kwargs = _flag_type(field.annotation)
        default = field.get_default(call_default_factory=True)
        if isinstance(default, SecretStr):
            default = "***"
        env = f"HDYT_{name.upper()}"
        help_text = f"{field.description or name} (env {env})"
        if "secret" in str(field.annotation).lower():
            help_text += "; prefer the environment variable over a flag for secrets"
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, default=None, help=help_text + f" [default: {default}]", **kwargs)
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    if args.config is not None:
        os.environ["HDYT_CONFIG"] = str(args.config)
    overrides = {name: getattr(args, name) for name in Settings.model_fields if getattr(args, name, None) is not None}
    return Settings(**overrides)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = settings_from_args(args)
    except ValidationError as exc:
        print(f"error: invalid settings:\n{exc}", file=sys.stderr)
        return 2

    if settings.inference_threads > 0:
        # before torch/onnxruntime load: one intra-op thread per request instead of every request
        # spinning up a pool over all cores (which makes concurrent requests queue behind each other)
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ.setdefault(var, str(settings.inference_threads))

    from rag.errors import RagError
    from rag.service import Assistant

    assistant = Assistant(settings)
    try:
        if not args.no_build:
            t0 = time.perf_counter()
            report = assistant.ensure_index(progress=True)
            if report is not None:
                print(f"Đã lập chỉ mục {settings.corpus_dir} → {settings.index_dir}: {report.summary()}", flush=True)
                for path, reason in report.errors:
                    print(f"warning: {path}: {reason}", file=sys.stderr)
                print(f"({time.perf_counter() - t0:.1f} s)", flush=True)
        health = assistant.health()  # loads the index and the model now, not on the first question
        from rag.embeddings import configure_query_batching, get_embeddings

        configure_query_batching(
            get_embeddings(settings.model, backend=settings.embed_backend), settings.query_batch_max, settings.query_batch_window_ms
        )
        print(
            f"Chỉ mục: {health['documents']} tài liệu, {health['chunks']} đoạn; mô hình {health['model_id']}",
            flush=True,
        )
        workers = assistant.start_workers()  # settings.serve_workers processes answer; 0 = this one
        if workers:
            print(f"{workers} tiến trình trả lời / answer worker processes", flush=True)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    import uvicorn

    from rag.web import create_app

    app = create_app(settings, assistant)
    shown = "localhost" if settings.host in ("0.0.0.0", "::") else settings.host
    print(f"Hỏi Đáp Y Tế: http://{shown}:{settings.port}/  (API: /api/ask, /api/docs; widget: /widget.js)", flush=True)
    if not settings.admin_token:
        print("note: HDYT_ADMIN_TOKEN is not set: upload/delete in the library tab are off", flush=True)
    try:
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level=args.log_level,
            # X-Forwarded-For is believed only from the configured proxies (rate limiting is per client)
            proxy_headers=bool(settings.forwarded_allow_ips),
            forwarded_allow_ips=settings.forwarded_allow_ips,
        )
    finally:
        assistant.stop_workers()
    return 0


if __name__ == "__main__":
    sys.exit(main())
