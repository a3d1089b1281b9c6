"""Reading the matrices autoencoders train on, and writing codes and reconstructions.

Every file goes through the table of formats (:mod:`embedkit.formats`), as for every other
command: ``.npy``; ``.npz`` (``key`` names the array, needed when there are several; an
archive with ``words`` and ``vectors`` is read as word vectors); ``.csv`` and ``.tsv`` (a header
line is detected and skipped); word2vec files ``.vec``/``.txt``/``.w2v``/``.bin``, whose words
are kept so codes can be written as vectors too; standard input and other suffixes by content.
Outputs without a suffix of the table (and stdout) are CSV. Every reader ends with
:func:`check_matrix`. A ``.npy`` file, or an uncompressed ``.npz`` member, that is a regular
file is memory-mapped, checked block by block and streamed by the autoencoder
(:mod:`embedkit.streaming`). CSV, TSV and word vector files (also compressed or on stdin)
are read one block at a time: up to :data:`~embedkit.streaming.SPILL_BYTES` of numbers
stay in memory, larger ones are converted once to an anonymous temporary file
(:func:`~embedkit.streaming.gather`) and streamed from it like a ``.npy``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from embedkit import streaming
from embedkit.formats import Format, check_matrix, read_table, write_rows, write_table
from embedkit.formats import output_format as _output_format
from embedkit.io import describe

__all__ = ["Matrix", "check_matrix", "output_format", "read_matrix", "write_matrix"]


@dataclass
class Matrix:
    """A data matrix and, for word vectors, the word of each row."""

    values: np.ndarray
    words: list[str] | None = None


def read_matrix(path: str | os.PathLike, key: str | None = None,
                header: bool | None = None, note: Callable[[str], None] | None = None,
                progress: streaming.Progress | None = None) -> Matrix:
    """Read a 2-D matrix of finite numbers from ``path`` (see the module docstring);
    ``header`` as for :func:`embedkit.formats.read_table` (None: detected).

    ``note`` is told, in one line, when a large file is converted to a temporary file;
    ``progress`` is called with the number of rows of each block read from a file that is not
    memory-mapped.

    Raises
    ------
    EmbedkitError
        One line naming the file (and line, row or field) for a missing or unreadable file,
        a ragged or non-numeric text row, a 1-D or empty array, NaN or infinity, or a
        temporary copy that cannot be written.
    """
    name = describe(path)
    converted: list[np.ndarray] = []

    def collect(blocks: Iterator[np.ndarray]) -> np.ndarray:
        converted.append(streaming.gather(blocks, name, note, progress))
        return converted[-1]

    table = read_table(path, key=key, mmap=True, header=header, collect=collect)
    if converted and table.values is converted[0] and streaming.is_mapped(table.values):
        return Matrix(table.values, table.words)  # every block was checked on the way
    return Matrix(check_matrix(table.values, name), table.words)


def output_format(path: str | os.PathLike | None, words: list[str] | None = None,
                  fmt: str | None = None) -> Format:
    """The format :func:`write_matrix` will write to ``path`` (``fmt``, else from the suffix:
    CSV for stdout and suffixes outside the table); call it before long work to fail early.

    Raises
    ------
    EmbedkitError
        For a word vector format without ``words``, or a word it cannot hold.
    """
    return _output_format(path, words, stdout="csv", fmt=fmt)


def write_matrix(path: str | os.PathLike | None, values: np.ndarray | streaming.RowBlocks,
                 words: list[str] | None = None, fmt: str | None = None) -> None:
    """Write ``values`` atomically in the :func:`output_format` of ``path`` (or ``fmt``), with
    ``words`` where the format holds them inside the file (word2vec, ``.npz``, fastText).

    ``values`` given as :class:`~embedkit.streaming.RowBlocks` (what ``encode`` and
    ``decode`` write) are written one block at a time, never held whole, but for a fastText
    model (:func:`embedkit.formats.write_rows`)."""
    target = output_format(path, words, fmt)
    if target.name == "npy":
        words = None  # no vocabulary file beside the matrix: outputs land one file each
    if isinstance(values, streaming.RowBlocks):
        write_rows(path, values, words, stdout="csv", fmt=fmt)
    else:
        write_table(path, values, words, stdout="csv", fmt=fmt)
