"""Passes over the rows of a data matrix one block at a time, so that memory is bounded by a
block and the model, not by the data: column means, centred Gram matrices, digests, and the
seeded block-shuffled row order used to train on memory-mapped files.

Every function takes an in-memory array or a read-only :class:`numpy.memmap` (what
``embedkit.npyfile.load_npy(path, mmap=True)`` returns). Pages of a memory map are handed back
to the kernel once a block is done with (``madvise(MADV_DONTNEED)``): the file stays in the
page cache, but the process's resident memory does not grow with the file.
"""

from __future__ import annotations

import hashlib
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


def column_mean(X: np.ndarray, progress: Progress | None = None) -> np.ndarray:
    """Mean of each column, accumulated in float64 block by block (shape (n_features,))."""
    total = np.zeros(X.shape[1], dtype=np.float64)
    for _, block in iter_blocks(X, progress=progress):
        total += block.sum(axis=0, dtype=np.float64)
    return total / max(1, len(X))


def centred_gram(X: np.ndarray, mean: np.ndarray, dtype: np.dtype | None = None,
                 progress: Progress | None = None) -> np.ndarray:
    """``(X − mean)ᵀ(X − mean)``, the rows centred as :func:`centred_rows` does (in ``dtype``,
    default ``X``'s), summed block by block in float64 (shape (n_features, n_features))."""
    gram = np.zeros((X.shape[1], X.shape[1]), dtype=np.float64)
    for _, block in iter_blocks(X, progress=progress):
        centred = centred_rows(block, slice(None), mean, dtype or X.dtype).astype(np.float64)
        gram += centred.T @ centred
    return gram


def centred_rows(X: np.ndarray, rows: np.ndarray | slice, mean: np.ndarray, dtype: np.dtype,
                 out: np.ndarray | None = None) -> np.ndarray:
    """``X[rows] − mean`` (subtracted in ``X``'s dtype), in ``dtype``.

    Element for element the same values as centring the whole matrix first and indexing it
    afterwards, without a centred copy of the data. ``out`` (shape (len(rows), n_features),
    ``dtype``) receives the result when given.
    """
    picked = X[rows] if isinstance(rows, slice) else np.take(X, rows, axis=0)
    centred = np.subtract(picked, mean.astype(X.dtype, copy=False))
    if out is None:
        return centred.astype(dtype, copy=False)
    out[...] = centred
    return out


def digest(X: np.ndarray, mean: np.ndarray, dtype: np.dtype) -> str:
    """SHA-256 of the shape, the training dtype and the centred values, block by block (to
    recognise the same data when a run resumes)."""
    sha = hashlib.sha256(f"{X.shape}{np.dtype(dtype)}".encode())
    for _, block in iter_blocks(X):
        sha.update(np.ascontiguousarray(centred_rows(block, slice(None), mean, dtype)).data)
    return sha.hexdigest()


def epoch_order(rows: np.ndarray, rng: np.random.Generator, block: int | None = None
                ) -> np.ndarray:
    """The order in which an epoch visits ``rows`` (sorted row ids).

    Without ``block`` (in-memory data), a uniform permutation. With ``block`` (streamed
    data), the rows are cut into runs of ``block`` consecutive ids, the runs are visited in a
    random order and the rows of each run in a random order: each run is read from the file
    once, sequentially. Minibatches then mix rows of one run only, so a file sorted by some
    property trains on batches less mixed than a full shuffle's (see the README).
    """
    if block is None or len(rows) <= block:
        return rows[rng.permutation(len(rows))]
    starts = np.arange(0, len(rows), block)
    runs = [rows[s:s + block] for s in starts[rng.permutation(len(starts))]]
    return np.concatenate([run[rng.permutation(len(run))] for run in runs])


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
