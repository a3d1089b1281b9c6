"""Word vector files: :func:`load_vectors` and :func:`save_vectors` over the table of formats.

The format comes from the suffix, as for every command (see :mod:`embedkit.formats`): word2vec
text (``.vec``, ``.txt``, ``.w2v``), word2vec binary (``.bin``), ``.npz`` (``words``,
``vectors``, optional ``counts`` and ``output``) and ``.npy`` with a vocabulary file beside it
(``<stem>.vocab``), each optionally ``.gz``/``.bz2``; standard input and other suffixes are
recognised by content, and fastText models by their magic number whatever the suffix.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from embedkit.formats import FORMATS, read_table, write_table
from embedkit.formats.arrays import read_vocab, vocab_path
from embedkit.formats.word2vec import format_rows
from embedkit.io import describe
from embedkit.streaming import ComputedRows, check_fits_float32
from embedkit.text.subwords import SubwordModel
from embedkit.vectors.keyed import KeyedVectors

#: The formats that hold words, hence word vectors.
VECTOR_FORMATS = tuple(name for name, f in FORMATS.items() if f.words != "never")
#: Bytes of word vectors of a fastText model composed at load; a larger model's are composed
#: where they are read (:class:`~embedkit.text.subwords.ComposedVectors`): opening it reads the
#: dictionary only, and a search composes each block of words as it scores it. A search of a
#: small model's vectors in memory costs less than composing them once per batch of queries.
COMPOSE_BYTES = 64 * 2**20

__all__ = ["VECTOR_FORMATS", "convert_vectors", "format_rows", "load_vectors", "read_vocab",
           "save_vectors", "vocab_path"]


def load_vectors(path: str | os.PathLike, limit: int | None = None, mmap: bool = False,
                 unicode_errors: str = "strict", vocab: str | os.PathLike | None = None,
                 fmt: str | None = None, header: bool | None = None) -> KeyedVectors:
    """Read a vector file.

    Parameters
    ----------
    path : str or path-like
        The file (``-`` for standard input).
    limit : int, optional
        Read only the first ``limit`` vectors (the most frequent ones in word2vec files).
    mmap : bool
        Memory-map the matrix of ``.npy`` and ``.npz`` files instead of reading it.
    unicode_errors : str
        How undecodable bytes in words are handled: ``strict`` (an error naming the line),
        ``replace`` or ``ignore``, as in gensim.
    vocab : str or path-like, optional
        Vocabulary file of a ``.npy`` matrix (default ``<stem>.vocab``).
    fmt : str, optional
        One of :data:`VECTOR_FORMATS`, overriding the suffix.
    header : bool, optional
        word2vec text: None detects a header line, False says there is none (GloVe).

    Returns
    -------
    KeyedVectors
        The vectors of a fastText model beyond :data:`COMPOSE_BYTES` are a
        :class:`~embedkit.text.subwords.ComposedVectors` of the memory-mapped rows, composed
        where they are read (and checked for NaN then).

    Raises
    ------
    EmbedkitError
        For a missing or malformed file, or one without words, with the file and line (or
        byte offset) at fault.
    """
    table = read_table(path, need_words=True, limit=limit, mmap=mmap,
                       unicode_errors=unicode_errors, vocab=vocab, header=header, fmt=fmt,
                       compose_bytes=COMPOSE_BYTES)
    assert table.words is not None  # need_words: read_table refuses files without words
    vectors = table.values
    if isinstance(vectors, np.ndarray) and not isinstance(vectors, np.memmap):
        check_fits_float32(vectors, describe(path))  # not inf: name the value
        vectors = vectors.astype(np.float32, copy=False)
    return KeyedVectors(table.words, vectors, table.counts, table.output, table.subwords,
                        describe(path), table.norms, distinct=True)


def save_vectors(path: str | os.PathLike | None, words: Sequence[str],
                 vectors: np.ndarray | ComputedRows,
                 counts: np.ndarray | None = None, fmt: str | None = None,
                 output: np.ndarray | None = None,
                 subwords: SubwordModel | None = None) -> None:
    """Write vectors atomically; ``None``, ``-`` and suffixes outside the table get word2vec
    text.

    Parameters
    ----------
    path : str, path-like or None
        Destination; its suffix picks the format unless ``fmt`` is given.
    words : sequence of str
        Vocabulary in row order (most frequent first, by convention).
    vectors : ndarray, shape (len(words), dim)
    counts : ndarray, optional
        Frequencies, stored by ``.npz`` and the ``.npy`` vocabulary file.
    fmt : str, optional
        One of :data:`VECTOR_FORMATS`, overriding the suffix.
    output : ndarray, optional
        Output-layer weights, stored by ``.npz`` and fastText models.
    subwords : SubwordModel, optional
        A subword model's own word rows and n-gram rows (``vectors`` are its word vectors),
        stored by ``.npz`` and fastText models.

    Raises
    ------
    EmbedkitError
        For a format without words (``.csv``), a word the format cannot hold, or a matrix that
        does not have one row per word.
    """
    if not isinstance(vectors, ComputedRows):  # those are float32, composed when written
        vectors = np.asarray(vectors, dtype=np.float32)
    write_table(path, vectors, list(words), counts=counts,
                output=output, need_words=True, stdout="text", fmt=fmt, subwords=subwords)


def convert_vectors(source: str | os.PathLike, target: str | os.PathLike | None, *,
                    fmt: str | None = None, **load) -> KeyedVectors:
    """Read the vectors of ``source`` and write them to ``target`` in another format.

    Parameters
    ----------
    source : str or path-like
        Any vector file :func:`load_vectors` reads (``-``: standard input).
    target : str, path-like or None
        Destination; its suffix picks the format unless ``fmt`` is given.
    fmt : str, optional
        One of :data:`VECTOR_FORMATS` for ``target``.
    **load
        Passed to :func:`load_vectors`: ``limit`` (stop after that many vectors), ``mmap``,
        ``unicode_errors``, ``vocab``, ``header``.

    Returns
    -------
    KeyedVectors
        What was read and written: words (first of duplicates), vectors, counts and, for
        ``.npz`` to ``.npz``, the output matrix.

    Raises
    ------
    EmbedkitError
        As :func:`load_vectors` and :func:`save_vectors`.
    """
    kv = load_vectors(source, **load)
    save_vectors(target, kv.words, kv.vectors, counts=kv.counts, fmt=fmt, output=kv.output,
                 subwords=kv.subwords)
    return kv
