"""What an ingest or a delete did, for every backend (FAISS, Milvus, Ray): the CLI prints it, the app shows it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class IngestReport:
    """What an ingest did; ``errors`` and ``skipped`` hold (path, reason) pairs."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    n_documents: int = 0
    n_chunks: int = 0
    embedded_chunks: int = 0
    seconds: float = 0.0
    generation: str | None = None
    writer: str | None = None  # FAISS: "write_generation" (a new base) or "write_delta_generation"
    stage_seconds: dict[str, float] = field(default_factory=dict)  # FAISS write stages (the benchmarks read them)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged; {self.n_documents} documents, {self.n_chunks} chunks "
            f"({self.embedded_chunks} embedded) in {self.seconds:.1f} s"
        )
