"""Helpers shared by the test packages: paths, a free port, the CLI in its own process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    """``python -m rag ARGS`` in its own process (exit code, stdout, stderr as a user sees them)."""
    return subprocess.run(
        [sys.executable, "-m", "rag", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **env},
    )
