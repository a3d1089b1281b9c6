"""Reading a large matrix one block of rows at a time, so that memory is bounded by a block,
not by the data.

Every function takes an in-memory array or a read-only :class:`numpy.memmap` (what
``embedkit.npyfile.load_npy(path, mmap=True)`` returns). Pages of a memory map are handed back
to the kernel once a block is done with (``madvise(MADV_DONTNEED)``): the file stays in the
page cache, but the process's resident memory does not grow with the file.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable, Iterator

import numpy as np

from embedkit.errors import EmbedkitError

#: Bytes of data per block (of the stored dtype).
BLOCK_BYTES = 8 * 2**20


Progress = Callable[[int], None]


def block_rows(X: np.ndarray) -> int:
    """Rows per block: at least one, about :data:`BLOCK_BYTES` of ``X``'s rows."""
    row_bytes = max(1, int(np.prod(X.shape[1:], dtype=np.int64)) * X.dtype.itemsize)
    return max(1, BLOCK_BYTES // row_bytes)


def is_mapped(X: np.ndarray) -> bool:
    """Whether ``X`` reads a file through a memory map (and is then streamed)."""
    return isinstance(X, np.memmap) or isinstance(getattr(X, "base", None), mmap.mmap)


def release(X: np.ndarray) -> None:
    """Drop the pages of ``X`` (a view of a memory map) from the process's resident memory.

    A no-op for in-memory arrays and where ``madvise`` is not available. The data stay in
    the file (and the page cache); reading them again maps them back.
    """
    mm = getattr(X, "_mmap", None)
    if not isinstance(mm, mmap.mmap) or not hasattr(mm, "madvise") or X.size == 0:
        return
    base = np.frombuffer(mm, dtype=np.uint8).ctypes.data
    start = X.ctypes.data - base
    stop = start + X.nbytes
    start -= start % mmap.PAGESIZE
    try:
        mm.madvise(mmap.MADV_DONTNEED, start, stop - start)
    except (OSError, ValueError):  # a platform without it: memory is then the OS's business
        pass


def iter_blocks(X: np.ndarray, rows: int | None = None, progress: Progress | None = None
                ) -> Iterator[tuple[int, np.ndarray]]:
    """``(first_row, block)`` over consecutive row blocks of ``X``.

    A block of a memory map is copied into memory and its pages released, so at most one
    block is resident; blocks of an in-memory array are views. ``progress`` is called with
    the number of rows of each block once it has been used.
    """
    step = rows or block_rows(X)
    mapped = is_mapped(X)
    for start in range(0, len(X), step):
        view = X[start:start + step]
        block = np.array(view) if mapped else view
        if mapped:
            release(view)
        yield start, block
        if progress:
            progress(len(block))


def check_finite(X: np.ndarray, where: str, row_name: Callable[[int], str] = lambda row:
                 f"row {row + 1}") -> None:
    """Raise :class:`~embedkit.errors.EmbedkitError` naming the first NaN or infinite entry of
    ``X`` (``where`` names the data), reading it one block at a time."""
    for start, block in iter_blocks(X):
        finite = np.isfinite(block)
        if not finite.all():
            row, column = np.argwhere(~finite)[0]
            raise EmbedkitError(f"{where}: {row_name(start + row)}, column {column + 1}: "
                                f"{block[row, column]}; expected finite numbers")



def check_variance(X: np.ndarray, where: str) -> None:
    """Raise :class:`~embedkit.errors.EmbedkitError` when every row of ``X`` is the same
    (zero variance in every column: no subspace to learn, PCA's explained-variance ratios
    are 0/0), reading blocks only until two rows differ."""
    first = np.array(X[:1])
    for _, block in iter_blocks(X):
        if np.any(block != first):
            return
    rows = "a single row" if len(X) == 1 else f"all {len(X)} rows are the same"
    raise EmbedkitError(f"{where}: {rows} (every column has zero variance): there is no "
                        "subspace to learn or to compare with PCA")
