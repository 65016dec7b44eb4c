"""Bounded parsing: :func:`rag.ingest.loaders.load_document` in a worker process with hard limits.

A hostile or broken file (a zip bomb, HTML nested 100,000 deep, a 1 GB text file) must cost
seconds, not minutes, and never take the app down. Before any parser runs, the parent checks
cheap things linearly: the file size (``max_file_mb``), a zip container's entry count and total
uncompressed size (``max_zip_entries``, ``max_unzipped_mb``; .docx and any other zip-based
format), an HTML file's size (``max_html_mb``; its nesting needs no limit: the HTML loader is
linear in depth, see :mod:`rag.ingest.formats.html`). The parse itself runs in one
reused child process (``python -c``: no re-import of the caller's ``__main__``) that caps its own
address space and CPU time with ``resource.setrlimit``; the parent kills it past the wall-time
limit and starts a fresh one for the next file. Every breach is a :class:`DocumentError` naming
the limit and its setting, so the rest of the batch goes on and the index is never touched.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import selectors
import signal
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.config import Settings
from rag.errors import DocumentError, UnsupportedFormatError
from rag.ingest.loaders import LoadedDocument

MB = 1024 * 1024
STARTUP_SECONDS = 120  # imports on a loaded machine; separate from the per-file limit
_HTML_SUFFIXES = (".html", ".htm")


@dataclass(frozen=True)
class ParseLimits:
    """What one file may cost; :meth:`from_settings` reads the ``max_*`` and ``parse_*`` settings."""

    max_file_mb: float = 50
    max_unzipped_mb: float = 64
    max_zip_entries: int = 2000
    max_html_mb: float = 10
    seconds: float = 300  # OCR of a scanned report takes seconds per page on a busy 2-core machine
    memory_mb: int = 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> ParseLimits:
        return cls(
            max_file_mb=settings.max_file_mb,
            max_unzipped_mb=settings.max_unzipped_mb,
            max_zip_entries=settings.max_zip_entries,
            max_html_mb=settings.max_html_mb,
            seconds=settings.parse_timeout_s,
            memory_mb=settings.parse_memory_mb,
        )


def _over(what: str, value: str, limit: str, setting: str) -> str:
    return f"{what} is {value}, over the limit of {limit} (setting {setting}, env HDYT_{setting.upper()})"


def precheck(path: Path, limits: ParseLimits) -> None:
    """Refuse, before parsing, a file whose size or zip contents break a limit."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise DocumentError(path, "file not found") from None
    except OSError as exc:
        raise DocumentError(path, f"cannot read file ({exc.strerror or exc})") from None
    if size > limits.max_file_mb * MB:
        raise DocumentError(path, _over("the file", f"{size / MB:.1f} MB", f"{limits.max_file_mb:g} MB", "max_file_mb"))
    if zipfile.is_zipfile(path):
        _check_zip(path, limits)
    elif path.suffix.lower() in _HTML_SUFFIXES and size > limits.max_html_mb * MB:
        raise DocumentError(path, _over("the HTML file", f"{size / MB:.1f} MB", f"{limits.max_html_mb:g} MB", "max_html_mb"))


def _check_zip(path: Path, limits: ParseLimits) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # the loader reports a corrupt container in its own words
    if len(entries) > limits.max_zip_entries:
        raise DocumentError(
            path, _over("the zip container's entry count", str(len(entries)), str(limits.max_zip_entries), "max_zip_entries")
        )
    unzipped = sum(e.file_size for e in entries)
    if unzipped > limits.max_unzipped_mb * MB:
        raise DocumentError(
            path,
            _over("the uncompressed content", f"{unzipped / MB:.1f} MB", f"{limits.max_unzipped_mb:g} MB", "max_unzipped_mb")
            + " (a zip bomb?)",
        )


# -- the worker process -----------------------------------------------------------------------------


class Sandbox:
    """One reused worker process; ``load(path)`` returns the document or raises :class:`DocumentError`."""

    def __init__(self, limits: ParseLimits | None = None) -> None:
        self.limits = limits or ParseLimits()
        self._proc: subprocess.Popen[bytes] | None = None
        self._buffer = b""

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin:
            proc.stdin.close()  # the worker exits on end of input
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
        if proc.stdout:
            proc.stdout.close()

    def _start(self, path: Path) -> subprocess.Popen[bytes]:
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
        code = f"from rag.ingest.sandbox import serve; serve({self.limits.memory_mb}, {self.limits.seconds})"
        self._buffer = b""
        # its own process group: a kill also stops what a parser started (an OCR engine, say)
        self._proc = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        # the worker's start-up (imports) is not a file's fault: it has its own allowance
        if self._read_line(time.monotonic() + STARTUP_SECONDS) is None:
            self._kill()
            raise DocumentError(path, f"the parser process did not start within {STARTUP_SECONDS} s")
        return self._proc

    def load(self, path: str | Path) -> LoadedDocument:
        path = Path(path)
        precheck(path, self.limits)
        if self._proc is None or self._proc.poll() is not None:
            self._proc = self._start(path)
        proc = self._proc
        assert proc.stdin is not None
        try:
            proc.stdin.write(json.dumps({"path": str(path)}).encode() + b"\n")
            proc.stdin.flush()
        except BrokenPipeError:
            self._kill()
            raise DocumentError(path, "the parser process could not be started") from None
        line = self._read_line(time.monotonic() + self.limits.seconds)
        if line is None:
            code = self._kill()
            raise DocumentError(path, self._death(code))
        reply = json.loads(line)
        if "doc" in reply:
            return LoadedDocument(**reply["doc"])
        if reply.get("unsupported"):
            raise UnsupportedFormatError(path, reply["error"])
        raise DocumentError(path, reply["error"])

    def _death(self, code: int | None) -> str:
        if code == -signal.SIGXCPU:
            return f"parsing used more than {self.limits.seconds:g} s of CPU (setting parse_timeout_s, env HDYT_PARSE_TIMEOUT_S)"
        if code in (None, -signal.SIGKILL):
            return f"parsing took longer than {self.limits.seconds:g} s (setting parse_timeout_s, env HDYT_PARSE_TIMEOUT_S)"
        return f"the parser process died (exit status {code}); the file may need more than {self.limits.memory_mb} MB (setting parse_memory_mb)"

    def _read_line(self, deadline: float) -> bytes | None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        fd = proc.stdout.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(timeout=left):
                    return None
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    return None
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _kill(self) -> int | None:
        """Stop the worker (killed when still running); its exit status, None when it had to be killed."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        status = proc.poll()
        if status is None:
            try:
                status = proc.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
        for stream in (proc.stdin, proc.stdout):
            if stream:
                try:
                    stream.close()
                except BrokenPipeError:
                    pass
        return status


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker and everything it started (it leads its own process group)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def load_bounded(path: str | Path, limits: ParseLimits | None = None) -> LoadedDocument:
    """One file through a fresh sandbox (for single loads; batches reuse one :class:`Sandbox`)."""
    with Sandbox(limits) as sandbox:
        return sandbox.load(path)


def serve(memory_mb: int, seconds: float) -> None:
    """The worker's loop: one JSON request per stdin line, one JSON reply per stdout line."""
    import resource

    from rag.ingest.loaders import load_document

    out = sys.stdout.buffer
    _limit_memory(resource, memory_mb)
    out.write(b'{"ready": true}\n')
    out.flush()
    for line in sys.stdin.buffer:
        path = json.loads(line)["path"]
        used = resource.getrusage(resource.RUSAGE_SELF)
        cpu = math.ceil(used.ru_utime + used.ru_stime + seconds)
        hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        resource.setrlimit(resource.RLIMIT_CPU, (cpu if hard == resource.RLIM_INFINITY else min(cpu, hard), hard))
        reply: dict[str, Any]
        out_of_memory = {"error": f"parsing needed more than {memory_mb} MB of memory (setting parse_memory_mb, env HDYT_PARSE_MEMORY_MB)"}
        try:
            reply = {"doc": dataclasses.asdict(load_document(path))}
        except UnsupportedFormatError as exc:
            reply = {"error": exc.reason, "unsupported": True}
        except DocumentError as exc:
            # a loader may wrap the MemoryError in its own message ("corrupt … (MemoryError …)")
            reply = out_of_memory if isinstance(exc.__context__, MemoryError) else {"error": exc.reason}
        except MemoryError:
            reply = out_of_memory
        except RecursionError:
            reply = {"error": "the file's structure is nested too deeply to parse"}
        except Exception as exc:  # a parser bug on odd input is still this file's error, not the batch's
            reply = {"error": f"cannot parse the file ({type(exc).__name__}: {exc})"}
        out.write(json.dumps(reply).encode() + b"\n")
        out.flush()


def _limit_memory(resource: Any, memory_mb: int) -> None:
    """Cap the address space at what the imports already use plus ``memory_mb`` for one parse."""
    try:
        with open("/proc/self/statm") as handle:
            baseline = int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        baseline = 0
    cap = baseline + memory_mb * MB
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
