"""Scattered rows of a ``.npy`` matrix read with ``os.pread`` (chunk vectors, sentence vectors)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np


class VectorRows:
    """Scattered rows of a ``.npy`` matrix, read with ``os.pread``: ``rows_of[ids]``.

    Approximate search ends by reading the exact vectors of a few dozen candidates per query
    (:func:`rag.dense.dense_top_k`). Through a memory map every such read would fault in, and keep
    resident, the pages around it (a million chunks: a 1.5 GB file, touched all over); a plain
    read leaves them to the page cache.
    """

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, self.dtype = read_header(fh)
            self.offset = fh.tell()
        if len(shape) != 2 or fortran:
            raise ValueError(f"expected a C-ordered matrix, got shape {shape}")
        self.shape: tuple[int, int] = (int(shape[0]), int(shape[1]))
        self.row_bytes = self.shape[1] * self.dtype.itemsize
        if path.stat().st_size < self.offset + self.shape[0] * self.row_bytes:
            raise ValueError(f"truncated: {self.shape[0]} rows of {self.row_bytes} bytes announced, file is shorter")
        self._fd = os.open(path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        out = np.empty((len(rows), self.shape[1]), dtype=self.dtype)
        for i, row in enumerate(np.asarray(rows, dtype=np.int64).tolist()):
            if not 0 <= row < self.shape[0]:
                raise IndexError(f"row {row} out of range 0..{self.shape[0] - 1}")
            out[i] = np.frombuffer(os.pread(self._fd, self.row_bytes, self.offset + row * self.row_bytes), dtype=self.dtype)
        return out

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)
