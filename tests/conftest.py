"""Shared fixtures: the real embedding model and a real index of the shipped corpus, built once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"


@pytest.fixture(scope="session")
def embeddings():
    from rag.embeddings import get_embeddings

    return get_embeddings()


@pytest.fixture(scope="session")
def corpus_settings(tmp_path_factory, embeddings):
    """Settings pointing at an index of corpus/ built once per test session."""
    from rag.config import get_settings
    from rag.ingest import ingest

    settings = get_settings(index_dir=tmp_path_factory.mktemp("corpus-index"))
    report = ingest([CORPUS], settings, embeddings=embeddings)
    assert not report.errors, report.errors
    return settings


@pytest.fixture(scope="session")
def retriever(corpus_settings):
    from rag.retrieve import load_retriever

    return load_retriever(corpus_settings)


@pytest.fixture
def make_settings(tmp_path):
    """Settings for a fresh, empty index in this test's tmp dir."""
    from rag.config import get_settings

    def make(**overrides):
        return get_settings(index_dir=tmp_path / "index", **overrides)

    return make
