"""``kill -9`` during ``python -m rag ingest`` at fixed pseudo-random moments: after every kill the
index opens, search works, and no document is lost (each is in its old or its new state)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

from tests import docs_factory
from tests.helpers import ROOT


def test_kill_9_loop_never_loses_a_document(library, make_settings, embeddings, tmp_path):
    from rag.backend import load_retriever
    from rag.ingest.local import ingest

    settings = make_settings()
    base = set(ingest([library], settings, embeddings=embeddings).added)
    extra = tmp_path / "extra"
    extra.mkdir()
    for i in range(4):
        docs_factory.write_txt(extra / f"bo_sung_{i}.txt", f"Báo cáo bổ sung số {i} năm 2024", [f"Trung tâm số {i} đã khám {1000 + i} lượt người."])
    new = {f"bo_sung_{i}" for i in range(4)}
    command = [sys.executable, "-m", "rag", "ingest", str(extra), "--index", str(settings.index_dir), "--no-progress"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    moments = sorted(random.Random(16).uniform(0.5, 9.0) for _ in range(5))  # fixed: the same on every run
    for moment in moments:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(moment)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        retriever = load_retriever(settings)
        documents = set(retriever.store.manifest.documents)
        assert base <= documents <= base | new, (moment, documents)
        assert retriever.search("Bệnh viện khám bao nhiêu lượt người", 3).hits
    final = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stderr
    assert set(load_retriever(settings).store.manifest.documents) == base | new
    assert not list(settings.index_dir.glob(".tmp-gen-*"))
