"""Shared fixtures: the real embedding model and a real index of the shipped corpus, built once."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tests.helpers import CORPUS, free_port  # noqa: E402

# The fast tier (pytest -m "not slow") leaves out what loads the embedding model (every test that
# builds or searches an index asks for it, directly or through another fixture) and what runs real
# processes, servers, a browser, Ray or Milvus.
SLOW_FIXTURES = {"embeddings"}
SLOW_MODULES = {"test_embeddings", "test_cli", "test_browser", "test_concurrency", "test_milvus", "test_ray_ingest", "test_eval_run"}


def pytest_collection_modifyitems(items):
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())) or module in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def embeddings():
    from rag.embeddings import get_embeddings

    return get_embeddings()


@pytest.fixture(scope="session")
def corpus_settings(tmp_path_factory, embeddings):
    """Settings pointing at an index of corpus/ built once per test session."""
    from rag.config import get_settings
    from rag.ingest.local import ingest

    settings = get_settings(index_dir=tmp_path_factory.mktemp("corpus-index"), uploads_dir=tmp_path_factory.mktemp("uploads"))
    report = ingest([CORPUS], settings, embeddings=embeddings)
    assert not report.errors, report.errors
    return settings


@pytest.fixture(scope="session")
def retriever(corpus_settings):
    from rag.backend import load_retriever

    return load_retriever(corpus_settings)


@pytest.fixture
def library(tmp_path):
    """A folder of small text reports (:data:`tests.docs_factory.LIBRARY`)."""
    from tests import docs_factory

    folder = tmp_path / "docs"
    folder.mkdir()
    for doc_id, (title, body) in docs_factory.LIBRARY.items():
        docs_factory.write_txt(folder / f"{doc_id}.txt", title, body)
    return folder


@pytest.fixture
def make_settings(tmp_path):
    """Settings for a fresh, empty index in this test's tmp dir."""
    from rag.config import get_settings

    def make(**overrides):
        return get_settings(**{"index_dir": tmp_path / "index", "uploads_dir": tmp_path / "uploads", **overrides})

    return make


# -- web app servers (rag.web) ------------------------------------------------------------------


class LiveServer:
    """The real app (API + Gradio UI) served by uvicorn in a background thread."""

    def __init__(self, settings, ui: bool = True) -> None:
        import threading

        import uvicorn

        from rag.service import Assistant
        from rag.web import create_app

        self.settings = settings
        self.assistant = Assistant(settings)
        self.assistant.health()  # load the index before serving
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = create_app(settings, self.assistant, ui=ui)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn-{self.port}", daemon=True)
        self.thread.start()
        import time

        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"test server on port {self.port} did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture(scope="session")
def web_server(corpus_settings):
    """Factory: ``web_server(ui=True, **settings_overrides)`` → a running :class:`LiveServer`.

    Servers share the session's corpus index (read-only) unless ``index_dir`` is overridden, and
    are stopped at the end of the session.
    """
    servers: list[LiveServer] = []

    def start(ui: bool = True, **overrides) -> LiveServer:
        settings = corpus_settings.model_copy(update=overrides)
        server = LiveServer(settings, ui=ui)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def widget_origin_port() -> int:
    """Port of the second local origin that hosts the widget in the browser tests (CORS-allowed)."""
    return free_port()


@pytest.fixture(scope="session")
def api_server(web_server, widget_origin_port):
    """The app with its UI over the corpus index; CORS allows the widget test origin only."""
    return web_server(
        ui=True,
        allowed_origins=[f"http://127.0.0.1:{widget_origin_port}"],
        rate_limit_per_minute=100_000,
    )

