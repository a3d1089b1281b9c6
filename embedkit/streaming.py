"""Reading a large matrix one block of rows at a time, so that memory is bounded by a block,
not by the data.

Every function takes an in-memory array or a read-only :class:`numpy.memmap` (what
``embedkit.npyfile.load_npy(path, mmap=True)`` returns). Pages of a memory map are handed back
to the kernel once a block is done with (``madvise(MADV_DONTNEED)``): the file stays in the
page cache, but the process's resident memory does not grow with the file.
"""

from __future__ import annotations

import abc
import mmap
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from embedkit.errors import EmbedkitError

#: Bytes of data per block (of the stored dtype).
BLOCK_BYTES = 8 * 2**20
#: Bytes of numbers :func:`gather` holds in memory before it moves them to a temporary file.
SPILL_BYTES = 64 * 2**20


Progress = Callable[[int], None]
#: The attribute of a :class:`numpy.memmap` made by :mod:`embedkit.npyfile` that records the
#: device and inode of the file it maps.
FILE_IDENTITY = "file_identity"


def block_rows(X: Matrix, size: int | None = None) -> int:
    """Rows per block: at least one, about ``size`` bytes (default :data:`BLOCK_BYTES`, read
    when called) of ``X``'s rows."""
    row_bytes = max(1, int(np.prod(X.shape[1:], dtype=np.int64)) * X.dtype.itemsize)
    return max(1, (size or BLOCK_BYTES) // row_bytes)


@dataclass(frozen=True)
class RowBlocks:
    """A matrix handed out one block of rows at a time, in order, so that its writer never
    holds it whole (``encode`` and ``decode`` of a memory-mapped file).

    Attributes
    ----------
    shape : tuple of int
        (rows, columns) of the whole matrix, known before the first block (a ``.npy`` header
        and a word2vec header come first).
    dtype : numpy.dtype
        Of every block.
    blocks : iterable of ndarray
        2-D blocks of ``dtype`` with ``shape[1]`` columns, ``shape[0]`` rows in all; iterated
        once.
    """

    shape: tuple[int, int]
    dtype: np.dtype
    blocks: Iterable[np.ndarray]

    def gather(self) -> np.ndarray:
        """The whole matrix in memory (for the writers that need it whole)."""
        out = np.empty(self.shape, self.dtype)
        for start, block in self.placed():
            out[start:start + len(block)] = block
        return out

    def placed(self) -> Iterator[tuple[int, np.ndarray]]:
        """``(first_row, block)`` over :attr:`blocks`, checked against :attr:`shape` and
        :attr:`dtype` (a producer that disagrees is a bug: ``ValueError``)."""
        start = 0
        for block in self.blocks:
            if block.ndim != 2 or block.shape[1] != self.shape[1] or block.dtype != self.dtype \
                    or start + len(block) > self.shape[0]:
                raise ValueError(f"block of shape {block.shape} and dtype {block.dtype} at row "
                                 f"{start} of a {self.shape} {self.dtype} matrix")
            yield start, block
            start += len(block)
        if start != self.shape[0]:
            raise ValueError(f"blocks of {start} rows in all for a matrix of shape {self.shape}")


class ComputedRows(abc.ABC):
    """A matrix whose rows are computed where they are read, never held whole (the word
    vectors of a subword model, from its memory-mapped rows): streamed like a memory map.

    A subclass gives ``shape`` and ``dtype``; indexing with a slice of step 1 gives another
    such matrix (nothing computed), any other index (rows by number or mask) the computed
    rows, and ``np.asarray`` computes them all.
    """

    ndim = 2
    shape: tuple[int, int]
    dtype: np.dtype

    def __len__(self) -> int:
        return self.shape[0]

    @abc.abstractmethod
    def __getitem__(self, key) -> Any:
        """Rows: another such matrix for a slice of step 1, else the computed rows."""

    @abc.abstractmethod
    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """Every row, computed."""


#: What the functions here take: rows in memory, memory-mapped, or computed when read.
Matrix = np.ndarray | ComputedRows


def is_mapped(X: Matrix) -> bool:
    """Whether ``X`` reads a file through a memory map or computes its rows when read (and is
    then streamed)."""
    return isinstance(X, np.memmap | ComputedRows) \
        or isinstance(getattr(X, "base", None), mmap.mmap)


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


class RowReader:
    """Copies of consecutive rows of a (memory-mapped) matrix, read into a buffer.

    Scanning a mapped file costs more in mapping its pages (page faults, then
    ``madvise``) than in the arithmetic: a 3.6 GB matrix is about 900,000 pages. When
    ``X`` maps a file that :mod:`embedkit.npyfile` opened (and recorded) and is C-contiguous,
    rows are instead read with ``pread`` from the same file (checked by device and inode, so
    a file replaced since is never read) into a small buffer that stays in the CPU cache
    while it is used; ``pread`` releases the GIL, so threads read in parallel. Other arrays
    (in memory, an anonymous temporary file) are copied from the map and their pages
    released. Use it as a context manager: it holds the file open.

    Raises
    ------
    EmbedkitError
        When the file has become shorter than the map since it was opened.
    """

    def __init__(self, X: np.ndarray) -> None:
        self.X = X
        self._fd: int | None = None
        self._position = 0
        source = _mapped_source(X)
        if source is None or not X.flags.c_contiguous or not hasattr(os, "preadv"):
            return
        path, identity, self._position = source
        self._path = path
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return
        status = os.fstat(fd)
        if (status.st_dev, status.st_ino) == identity:
            self._fd = fd
        else:  # the name now leads to another file: read through the map
            os.close(fd)

    def __enter__(self) -> RowReader:
        return self

    def __exit__(self, *exc_info) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def read(self, start: int, out: np.ndarray) -> np.ndarray:
        """Rows ``start`` to ``start + len(out)`` of ``X`` (fewer at its end) copied into
        ``out`` (C-contiguous, ``X``'s dtype and width); returns the part of ``out`` filled."""
        part = out[:max(0, min(len(out), len(self.X) - start))]
        if self._fd is None:
            view = self.X[start:start + len(part)]
            np.copyto(part, view)
            if is_mapped(view):
                release(view)
            return part
        buffer = part.data.cast("B")
        position = self._position + start * self.X.strides[0]
        done = 0
        while done < len(buffer):
            got = os.preadv(self._fd, [buffer[done:]], position + done)
            if got <= 0:
                raise EmbedkitError(f"{self._path}: the file ended at byte "
                                    f"{position + done} while reading its rows: changed "
                                    "since it was opened?")
            done += got
        return part


def _mapped_source(X: np.ndarray) -> tuple[str, tuple[int, int], int] | None:
    """The file a view of a map made by :mod:`embedkit.npyfile` reads, its identity (device,
    inode) and the byte offset of ``X``'s first element in it; None for other arrays."""
    owner: object = X
    while owner is not None and getattr(owner, FILE_IDENTITY, None) is None:
        owner = getattr(owner, "base", None)
    if not isinstance(owner, np.memmap) or owner.filename is None or X.size == 0:
        return None
    position = owner.offset + X.ctypes.data - owner.ctypes.data
    return owner.filename, getattr(owner, FILE_IDENTITY), position


def iter_blocks(X: Matrix, rows: int | None = None, progress: Progress | None = None
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


def blocks_of(X: Matrix, norms: np.ndarray | None = None) -> RowBlocks:
    """``X`` as :class:`RowBlocks` (float32) of :func:`iter_blocks`, for a writer that must
    not hold it whole (rows computed where read); ``norms`` (float32, one per row), when
    given, receives :func:`row_norms` of each block as it is handed out, so that a writer
    needing them does not read every row again."""

    def blocks() -> Iterator[np.ndarray]:
        for start, block in iter_blocks(X):
            block = np.asarray(block, dtype=np.float32)
            if norms is not None:
                with np.errstate(over="ignore"):  # as row_norms' callers
                    norms[start:start + len(block)] = np.linalg.norm(block, axis=1)
            yield block

    return RowBlocks((X.shape[0], X.shape[1]), np.dtype(np.float32), blocks())


def row_norms(X: Matrix) -> np.ndarray:
    """Euclidean length of every row of ``X`` in float32, shape (len(X),), one block at a time
    (a memory map is never resident whole)."""
    norms = np.empty(len(X), dtype=np.float32)
    for start, block in iter_blocks(X):
        norms[start:start + len(block)] = np.linalg.norm(np.asarray(block, dtype=np.float32),
                                                         axis=1)
    return norms


def all_finite(X: np.ndarray) -> bool:
    """Whether every entry of ``X`` is finite, read one block at a time: no temporary of
    ``X``'s size (``np.isfinite(X)`` of a fastText input matrix is another 200 MB)."""
    return all(np.isfinite(block).all() for _, block in iter_blocks(X))


def check_finite(X: np.ndarray, where: str, row_name: Callable[[int], str] = lambda row:
                 f"row {row + 1}", expected: str = "finite numbers") -> None:
    """Raise :class:`~embedkit.errors.EmbedkitError` naming the first NaN or infinite entry of
    ``X`` (``where`` names the data) and what was ``expected``, reading it one block at a
    time."""
    for start, block in iter_blocks(X):
        finite = np.isfinite(block)
        if not finite.all():
            row, column = np.argwhere(~finite)[0]
            raise EmbedkitError(f"{where}: {row_name(start + row)}, column {column + 1}: "
                                f"{block[row, column]}; expected {expected}")



#: The largest finite float32: word vectors are float32, and larger values become infinite.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def float32_overflow(where: str, value: str) -> EmbedkitError:
    """The error for ``value`` (as written in the file), finite but too large for float32, at
    ``where`` (the file and the entry's place)."""
    return EmbedkitError(f"{where}: {value} overflows float32 (largest finite value "
                         f"{FLOAT32_MAX:.7g}); expected numbers float32 can hold")


def check_fits_float32(X: np.ndarray, where: str, row_name: Callable[[int], str] = lambda row:
                       f"row {row + 1}") -> None:
    """Raise :func:`float32_overflow` for the first entry of ``X`` (wider floats, finite) that
    casting to float32 would make infinite, reading it one block at a time."""
    if X.dtype.kind != "f" or X.dtype.itemsize <= 4:
        return
    for start, block in iter_blocks(X):
        large = np.abs(block) > FLOAT32_MAX
        if large.any():
            row, column = np.argwhere(large)[0]
            raise float32_overflow(f"{where}: {row_name(start + row)}, column {column + 1}",
                                   f"{block[row, column]:.7g}")


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



def gather(blocks: Iterable[np.ndarray], where: str, note: Callable[[str], None] | None = None,
           progress: Progress | None = None) -> np.ndarray:
    """Join row blocks (2-D, one dtype and width) read from a file that cannot be memory-mapped
    (text, a pipe, a compressed file): in memory up to :data:`SPILL_BYTES`, else as a
    read-only memory map of a temporary file.

    Past :data:`SPILL_BYTES` the blocks go, one at a time, to an anonymous file in the
    temporary directory (``TMPDIR``): it has no name, so it disappears with the map, or with
    the process on any exit (an error, Ctrl-C, a kill), and memory stays at one block. The
    result is then streamed like a memory-mapped ``.npy`` (:func:`is_mapped`). ``note`` is
    told once, in one line, when that happens (``where`` names the data); ``progress`` is
    called with the rows of each block.

    Raises
    ------
    EmbedkitError
        When the temporary file cannot be written (a full disk), naming its directory.
    """
    held: list[np.ndarray] = []
    size = rows = 0
    spill = None
    try:
        for block in blocks:
            rows += len(block)
            if progress:
                progress(len(block))
            if spill is None:
                held.append(block)
                size += block.nbytes
                if size <= SPILL_BYTES:
                    continue
                directory = tempfile.gettempdir()
                if note:
                    note(f"{where} holds more than {SPILL_BYTES / 2**20:.0f} MB of numbers: "
                         f"converting it once to a temporary file in {directory} (removed on "
                         "exit), read by memory map")
                spill = tempfile.TemporaryFile(prefix="embedkit-", dir=directory)
                for part in held:
                    _write(spill, part, directory)
                held = []
            else:
                _write(spill, block, directory)
        if spill is None:
            return np.concatenate(held) if len(held) != 1 else held[0]
        spill.flush()
        return np.memmap(spill, dtype=block.dtype, mode="r", shape=(rows, block.shape[1]))
    finally:
        if spill is not None:
            spill.close()  # the map holds its own descriptor


def _write(out, block: np.ndarray, directory: str) -> None:
    try:
        out.write(np.ascontiguousarray(block).data)
    except OSError as exc:
        raise EmbedkitError(f"cannot write the temporary copy of the data in {directory}: "
                            f"{exc.strerror or exc}; set TMPDIR to a directory with room "
                            "for it") from None
