"""One table of file formats: what each suffix means, and its reader and writer.

Every command reads and writes matrices and word vectors through :func:`read_table` and
:func:`write_table`, so a suffix means the same to all of them (``train-w2v -o vectors.txt``
writes what ``neighbors`` and ``autoencode`` both read as word2vec text). The suffix is taken
after any ``.gz``/``.bz2``, which compress any format but ``.npz`` (already a zip archive):

======  =====================  ======================================================
format  suffixes               content
======  =====================  ======================================================
text    .vec .txt .w2v         word2vec text: optional header, ``word v1 ... vdim``
binary  .bin                   word2vec binary: header, word, space, float32 values
npz     .npz                   NumPy archive: ``words`` + ``vectors`` (+ ``counts``,
                               ``output``), or a single matrix (or one named by ``key``)
npy     .npy                   NumPy matrix; its words, if any, in ``<stem>.vocab``
csv     .csv                   comma-separated numbers, header line detected
tsv     .tsv                   tab-separated numbers, header line detected
fasttext (none: by content)    Facebook fastText's binary model: words, n-gram rows,
                               both matrices (see :mod:`embedkit.formats.fasttext`)
======  =====================  ======================================================

A fastText model is recognised by its magic number whatever its suffix (``.bin`` is shared
with word2vec binary); its word vectors are fastText's (each the mean of the word's own row
and its n-gram rows), and :attr:`Table.subwords` keeps the rows that give vectors to unseen
words. ``fmt`` also accepts ``word2vec`` (text) and ``word2vec-binary`` (binary).

Standard input and files with any other suffix are recognised by their content: a NumPy
``.npy`` or zip magic number, a word2vec header or first vector line, or else delimited
numbers. Writing to standard output or to another suffix (``/dev/stdout``, a FIFO) uses the
command's own stream format (word2vec text for word vectors, CSV for matrices).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO

import numpy as np

from embedkit.errors import EmbedkitError, ParameterError
from embedkit.formats import arrays, delimited, fasttext, word2vec
from embedkit.formats.delimited import check_matrix, is_number
from embedkit.io import (
    STDIO,
    Prefixed,
    atomic_output,
    atomic_outputs,
    describe,
    open_input,
    output_target,
    refuse_compressed_archive,
    regular_file,
)
from embedkit.streaming import ComputedRows, Matrix, RowBlocks, blocks_of
from embedkit.text.subwords import ComposedVectors, SubwordModel
from embedkit.text.tokenize import normalize_words

__all__ = ["COMPRESSIONS", "FORMATS", "Format", "Table", "check_matrix", "first_occurrences",
           "format_of",
           "output_format", "read_table", "suffix_of", "write_rows", "write_table"]


@dataclass(frozen=True)
class Format:
    """A file format of the table.

    Attributes
    ----------
    name : str
        ``text``, ``binary``, ``npz``, ``npy``, ``csv`` or ``tsv``.
    suffixes : tuple of str
        The suffixes that mean this format.
    label : str
        How messages name it.
    words : str
        ``"always"`` (a word per row is part of the format), ``"optional"`` or ``"never"``.
    """

    name: str
    suffixes: tuple[str, ...]
    label: str
    words: str


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("text", (".vec", ".txt", ".w2v"), "word2vec text", "always"),
    Format("binary", (".bin",), "word2vec binary", "always"),
    Format("npz", (".npz",), "NumPy .npz", "optional"),
    Format("npy", (".npy",), "NumPy .npy", "optional"),
    Format("csv", (".csv",), "CSV", "never"),
    Format("tsv", (".tsv",), "TSV", "never"),
    Format("fasttext", (), "fastText model", "always"),
)}
#: Other names of formats, as the ``--format`` options spell them.
ALIASES = {"word2vec": "text", "word2vec-binary": "binary"}
_BY_SUFFIX = {suffix: f for f in FORMATS.values() for suffix in f.suffixes}
COMPRESSIONS = (".gz", ".bz2")
#: Content sniffed as delimited numbers whose delimiter the first line shows (stdin, other
#: suffixes).
_DELIMITED = Format("delimited", (), "delimited text", "never")
_DELIMITERS = {"csv": ",", "tsv": "\t", "delimited": None}
#: Bytes looked at to recognise content.
_SNIFF_BYTES = 1 << 16


@dataclass
class Table:
    """What a file holds: a matrix and, when the format has them, the word of each row.

    Attributes
    ----------
    values : ndarray, shape (rows, columns)
        Finite real numbers (not checked when memory-mapped).
    words : list of str or None
        NFC-normalised, one per row, distinct: of duplicate words the first row is kept, and a
        ``UserWarning`` names the word and both places.
    counts : ndarray of int64 or None
        Corpus frequencies (``.npz`` and ``.npy`` vocabularies).
    output : ndarray or None
        Output-layer weights (``.npz`` written by ``train-w2v``, fastText models).
    format : str
        The format read.
    subwords : SubwordModel or None
        The words' own rows and the n-gram rows of a subword model (fastText models, ``.npz``
        written by ``train-w2v --subwords``), whose word vectors ``values`` are.
    norms : ndarray of float32 or None
        The length of every row, when stored beside a ``.npy`` (``<stem>.norms.npz``, checked
        against the matrix).
    """

    values: np.ndarray | ComposedVectors
    words: list[str] | None = None
    counts: np.ndarray | None = None
    output: np.ndarray | None = None
    format: str = ""
    subwords: SubwordModel | None = None
    norms: np.ndarray | None = None


def suffix_of(path: str | os.PathLike) -> str:
    """The lower-case suffix that names the format of ``path``, after any compression suffix."""
    name = os.fspath(path).lower()
    for compression in COMPRESSIONS:
        name = name.removesuffix(compression)
    return os.path.splitext(name)[1]


def format_of(path: str | os.PathLike) -> Format | None:
    """The format the suffix of ``path`` names, or None (stdin, other suffixes: by content)."""
    if os.fspath(path) == STDIO:
        return None
    return _BY_SUFFIX.get(suffix_of(path))


def _format(fmt: str | None, path: str | os.PathLike) -> Format | None:
    if fmt is None:
        return format_of(path)
    fmt = ALIASES.get(fmt, fmt)
    if fmt not in FORMATS:
        raise EmbedkitError(f"unknown format {fmt!r}: expected one of "
                            f"{', '.join([*FORMATS, *ALIASES])}")
    return FORMATS[fmt]


def read_table(path: str | os.PathLike, *, need_words: bool = False, limit: int | None = None,
               mmap: bool = False, unicode_errors: str = "strict",
               vocab: str | os.PathLike | None = None, key: str | None = None,
               header: bool | None = None, fmt: str | None = None,
               collect: Callable[[Iterator[np.ndarray]], np.ndarray] | None = None,
               compose_bytes: float = math.inf) -> Table:
    """Read a matrix or word vectors from any format of the table.

    Parameters
    ----------
    path : str or path-like
        The file, or ``-`` for standard input.
    need_words : bool
        The caller needs a word per row: formats without words are an error saying so.
    limit : int, optional
        Read only the first ``limit`` rows.
    mmap : bool
        Memory-map ``.npy``/``.npz`` matrices (uncompressed files only) instead of reading them.
    unicode_errors : str
        Undecodable bytes in words: ``strict`` (an error naming the line), ``replace`` or
        ``ignore``.
    vocab : str or path-like, optional
        Vocabulary of a ``.npy`` matrix (default: ``<stem>.vocab`` when it exists).
    key : str, optional
        The array of an ``.npz`` archive to read as the matrix.
    header : bool, optional
        word2vec text, CSV and TSV: None detects the header line, False says there is none,
        True that the first line is one.
    fmt : str, optional
        A name of :data:`FORMATS` that overrides the suffix.
    collect : callable, optional
        Joins the row blocks of a CSV/TSV or word2vec file as they are read (default:
        into one array in memory); :func:`embedkit.streaming.gather` moves large ones to a
        temporary file.
    compose_bytes : float
        The word vectors of a fastText model up to this size are composed at once (block by
        block, in memory); a larger model's, when the file is memory-mapped, are left to be
        composed where they are read (:class:`~embedkit.text.subwords.ComposedVectors`):
        opening it reads its dictionary only. A model read whole (a pipe, a compressed file)
        is composed at once whatever its size.

    Returns
    -------
    Table

    Raises
    ------
    EmbedkitError
        For a missing or malformed file, naming the file and the line, record or field at fault.
    """
    if limit is not None and limit < 1:
        raise ParameterError(f"limit must be at least 1, got {limit}", params=("limit",))
    name = describe(path)
    given = _format(fmt, path)
    sniffed = given is None
    extra: dict
    values: np.ndarray | ComposedVectors
    with open_input(path, binary=True) as stream:
        # decompressed or a pipe: read from this stream, never opened again by name
        compressed = not regular_file(stream)
        if given is None:
            head = stream.read(_SNIFF_BYTES)
            given = _sniff(head)
            stream = io.BufferedReader(Prefixed(head, stream))
        elif given.name not in ("npz", "npy") and fasttext.is_fasttext(_peek(stream)):
            given = FORMATS["fasttext"]  # whatever the suffix
        known = given
        if key is not None and known.name != "npz":
            raise EmbedkitError(f"{name}: key {key!r} names an array of an .npz archive, but "
                                f"this is {known.label}", params=("key",))
        if known.name == "fasttext":
            data = fasttext.buffer_of(stream, not (sniffed or compressed))
            model = fasttext.read_fasttext(data, name, limit, unicode_errors)
            values = ComposedVectors(model.model, model.words)
            # A file read whole (a pipe, a compressed file) is in memory already: composed
            # at once, so that a search does not compose it again.
            if isinstance(data, bytes) \
                    or 4 * values.shape[0] * values.shape[1] <= compose_bytes:
                values = np.asarray(values)
            extra = {"words": model.words, "counts": model.counts, "output": model.output,
                     "subwords": model.model, "row": lambda row: f"word {row + 1}"}
        elif known.name in ("npz", "npy") and (sniffed or compressed):
            raw = stream.read()  # not a file that can be opened by name or mapped
            values, extra = (arrays.read_npz(raw, name, key, limit, False, need_words)
                             if known.name == "npz" else
                             arrays.read_npy(path, limit, False, unicode_errors, vocab,
                                             need_words, raw))
        elif known.name == "npz":
            values, extra = arrays.read_npz(path, name, key, limit, mmap, need_words)
        elif known.name == "npy":
            values, extra = arrays.read_npy(path, limit, mmap, unicode_errors, vocab, need_words)
        elif known.name == "text":  # checks its values itself, naming lines
            read, values, first = word2vec.read_text(stream, name, limit, unicode_errors, header,
                                                      collect)
            extra = {"words": read, "row": lambda row: f"line {row + first}",
                     "normalized": True}
        elif known.name == "binary":
            count, dim, size = word2vec.read_header(stream, name)
            wanted = count if limit is None else min(count, limit)
            read, values, rest, starts, end = word2vec.read_binary(
                stream, name, wanted, dim, unicode_errors, size, collect)
            # blank bytes after the last record are fine
            beyond = word2vec.content_after(stream, rest) if wanted == count else None
            if beyond is not None:
                raise EmbedkitError(f"{name}: vector {count + 1} (byte {end + beyond[0]}): "
                                    f"more than the {count} vectors the header announces")
            extra = {"words": read, "row": lambda row: f"vector {row + 1} (byte {starts[row]})",
                     "normalized": True}
        else:
            blocks = delimited.iter_delimited(stream, name, _DELIMITERS[known.name], header)
            values = collect(blocks) if collect else np.concatenate(list(blocks))
            extra = {}
    words: list[str] | None = extra.get("words")
    if need_words and words is None:
        raise EmbedkitError(f"{name}: {known.label} holds no words: word vectors are read from "
                            f"{_suffixes('always', 'optional')}")
    if words is not None and len(words) != len(values):
        raise EmbedkitError(f"{name}: {len(words)} words but a matrix of shape "
                            f"{values.shape}: expected one row per word")
    # A memory map is never read whole, so it is not checked (nor rows not yet composed).
    where = extra.get("row", lambda row: f"row {row + 1}")
    if known.name != "text" and not isinstance(values, np.memmap | ComposedVectors):
        values = check_matrix(values, name, where, allow_empty=True)
    counts, norms = extra.get("counts"), extra.get("norms")
    subwords: SubwordModel | None = extra.get("subwords")
    if words is not None:
        if not extra.get("normalized"):  # word2vec and .npy words are decoded in NFC
            words = normalize_words(words)
        # Words written with their stored norms were distinct, and are unchanged since.
        keep = None if extra.get("distinct") else first_occurrences(words)
        if keep is not None:
            _note_duplicates(words, keep, name, extra.get("word_at", where))
            words = [word for word, kept in zip(words, keep, strict=True) if kept]
            counts = None if counts is None else counts[keep]
            norms = None if norms is None else norms[keep]
            if subwords is not None:
                subwords = dataclasses.replace(subwords, word_rows=subwords.word_rows[keep])
            if isinstance(values, ComposedVectors):  # still composed from the stored words
                values = ComposedVectors(
                    values.model if subwords is None else subwords,
                    [word for word, kept in zip(values.words, keep, strict=True) if kept])
            else:
                values = values[keep]
    return Table(values, words, counts, extra.get("output"), known.name, subwords,
                 norms)


def first_occurrences(words: Sequence[str]) -> np.ndarray | None:
    """A mask keeping the first row of each word, or None when every word is distinct.

    Every reader of the table keeps the first of duplicate words (as gensim and the vocabulary
    order, most frequent first, suggest) and drops the later rows.
    """
    if len(set(words)) == len(words):
        return None
    first = {word: row for row, word in reversed(list(enumerate(words)))}
    keep = np.zeros(len(words), dtype=bool)
    keep[list(first.values())] = True
    return keep


def _note_duplicates(words: list[str], keep: np.ndarray, name: str, where) -> None:
    """One warning for a file with duplicate words, naming the first and both its places."""
    again = int(np.argmin(keep))
    first = words.index(words[again])
    others = int((~keep).sum()) - 1
    more = f" ({others} more duplicate rows dropped likewise)" if others else ""
    warnings.warn(f"{name}: the word {words[again]!r} of {where(first)} comes again on "
                  f"{where(again)}: the first is kept, the later one dropped{more}",
                  UserWarning, stacklevel=3)


def _sniff(head: bytes) -> Format:
    """The format of content with no telling suffix, from its first bytes."""
    if head.startswith(b"\x93NUMPY"):
        return FORMATS["npy"]
    if head.startswith(b"PK\x03\x04"):
        return FORMATS["npz"]
    if fasttext.is_fasttext(head):
        return FORMATS["fasttext"]
    first, _, rest = head.removeprefix(word2vec.BOM).partition(b"\n")
    fields = first.split()
    if word2vec._header_fields(first) is not None and rest:
        try:
            rest[:-8].decode("utf-8")  # the end may cut a character
        except UnicodeDecodeError:
            return FORMATS["binary"]
        return FORMATS["binary"] if b"\0" in rest else FORMATS["text"]
    if len(fields) >= 2 and not is_number(fields[0]) and all(map(is_number, fields[1:])):
        return FORMATS["text"]
    return _DELIMITED


def _peek(stream: IO[bytes]) -> bytes:
    """The first bytes of a stream, left unread (nothing from one that cannot peek)."""
    peek = getattr(stream, "peek", None)
    return peek(8)[:8] if peek is not None else b""


def _suffixes(*words: str) -> str:
    suffixes = [s for f in FORMATS.values() if f.words in words for s in f.suffixes]
    return ", ".join(suffixes[:-1]) + " or " + suffixes[-1]


def output_format(path: str | os.PathLike | None, words: Sequence[str] | None = None, *,
                  need_words: bool = False, stdout: str = "text",
                  fmt: str | None = None) -> Format:
    """The format :func:`write_table` will write to ``path``, after checking that it can.

    Call it before long work (training) so that a wrong suffix or a word the format cannot
    hold costs nothing.

    Parameters
    ----------
    path : str, path-like or None
        The destination; None or ``-`` is standard output.
    words : sequence of str, optional
        The words that will be written with the rows.
    need_words : bool
        The caller writes word vectors: formats without words are refused.
    stdout : str
        The format for standard output and for suffixes outside the table.
    fmt : str, optional
        A name of :data:`FORMATS` that overrides the suffix.

    Raises
    ------
    EmbedkitError
        For a format that needs words when there are none, one that holds none when they are
        needed, or a word it cannot hold, naming the path and the word.
    """
    name = STDIO if path is None else os.fspath(path)
    target = _format(fmt, name) or FORMATS[stdout]
    shown = "<stdout>" if name == STDIO else name
    if target.words == "always" and words is None and not need_words:
        raise EmbedkitError(f"{shown}: word vector output ({target.label}) needs word vectors "
                            f"as input; write a matrix to {_suffixes('optional', 'never')}")
    if need_words and target.words == "never":
        raise EmbedkitError(f"{shown}: {target.label} holds no words: write word vectors to "
                            f"{_suffixes('always', 'optional')}")
    if target.name == "npz":
        refuse_compressed_archive(name, shown)
    if target.name == "npy" and words is not None:
        # Stdout has no place beside it for <stem>.vocab: the words were dropped unsaid.
        if name == STDIO or output_target(name).descriptor is not None:
            raise EmbedkitError(f"{shown}: a .npy holds no words (they go to <stem>.vocab "
                                "beside the file): write word vectors to stdout as word2vec "
                                "text, .npz or .bin, or name a FILE.npy")
        output_target(arrays.vocab_path(name))  # a device's: not in /dev
    if words is not None and target.words != "never":
        problem = (arrays.check_vocab_words(words) if target.name == "npy"
                   else arrays.check_npz_words(words) if target.name == "npz"
                   else fasttext.check_words(words) if target.name == "fasttext"
                   else word2vec.check_words(words, target.name == "binary")
                   if target.words == "always" else None)
        if problem:
            raise EmbedkitError(f"{shown}: cannot write {problem} in {target.label} format")
    return target


def write_table(path: str | os.PathLike | None, values: Matrix,
                words: Sequence[str] | None = None, *, counts: np.ndarray | None = None,
                output: np.ndarray | None = None, need_words: bool = False,
                stdout: str = "text", fmt: str | None = None,
                subwords: SubwordModel | None = None) -> None:
    """Write a matrix (and its words) atomically in the format :func:`output_format` picks.

    Parameters
    ----------
    path : str, path-like or None
        Destination; None or ``-`` is standard output.
    values : ndarray or ComputedRows, shape (rows, columns)
        Rows computed where read (a large fastText model's word vectors) are written a block
        at a time, never held whole (a fastText model is written from the rows of
        ``subwords`` alone).
    words : sequence of str, optional
        One per row; written by the formats that hold words (``.npy``: the vocabulary file
        ``<stem>.vocab``, and ``<stem>.norms.npz``: the row norms and a checksum of the
        vocabulary, when the words are distinct, so that ``neighbors --mmap`` needs no pass
        over the matrix before its first query). A ``.npy`` written without words removes
        the ``<stem>.vocab`` and ``<stem>.norms.npz`` an earlier matrix left beside it, with a
        ``UserWarning`` naming them, so they are not read as this matrix's.
    counts : ndarray, optional
        Frequencies, kept by ``.npz`` and the ``.npy`` vocabulary file.
    output : ndarray, optional
        Output-layer weights, kept by ``.npz`` and fastText models.
    subwords : SubwordModel, optional
        The words' own rows and n-gram rows of a subword model (``values`` are its word
        vectors), kept by ``.npz`` and fastText models.
    need_words, stdout, fmt
        As for :func:`output_format`.

    Raises
    ------
    EmbedkitError
        As :func:`output_format`, for a shape that does not match the words, and when the
        destination cannot be written.
    """
    target = output_format(path, words, need_words=need_words, stdout=stdout, fmt=fmt)
    if words is not None:
        words = list(words)
        if values.ndim != 2 or values.shape[0] != len(words):
            raise EmbedkitError(f"cannot save {len(words)} words with a matrix of shape "
                                f"{values.shape}: expected one row per word")
        if counts is not None and len(counts) != len(words):
            raise EmbedkitError(f"cannot save {len(counts)} counts with {len(words)} words: "
                                "expected one count per word")
    computed = isinstance(values, ComputedRows)
    # the norms of computed rows, found while they are written, for the .npy's sidecar
    norms = np.empty(len(values), np.float32) if computed and target.name == "npy" else None
    with atomic_output(path, binary=True) as out:  # which compresses by suffix
        if target.name == "npz":
            arrays.write_npz(out, values, words, counts, output, subwords)
        elif target.name == "fasttext":
            assert words is not None  # output_format refuses it without words
            fasttext.write_fasttext(out, words, values, counts, output, subwords)
        elif target.name == "npy":
            if isinstance(values, ComputedRows):
                arrays.write_npy_rows(out, blocks_of(values, norms))
            else:
                np.save(out, values)
        elif target.name in ("text", "binary"):
            assert words is not None  # output_format refuses word2vec formats without words
            out.write(f"{len(words)} {values.shape[1]}\n".encode())
            writer = word2vec.write_binary if target.name == "binary" else word2vec.write_text
            if isinstance(values, ComputedRows):
                for start, block in blocks_of(values).placed():
                    writer(out, words[start:start + len(block)], block)
            else:
                writer(out, words, np.asarray(values, dtype=np.float32))
        elif isinstance(values, ComputedRows):
            for _, block in blocks_of(values).placed():
                delimited.write_delimited(out, block, _DELIMITERS[target.name])
        else:
            delimited.write_delimited(out, values, _DELIMITERS[target.name])
    if target.name == "npy" and path not in (None, STDIO):
        _write_sidecars(path, values, words, counts, norms)


def write_rows(path: str | os.PathLike | None, rows: RowBlocks,
               words: Sequence[str] | None = None, *, stdout: str = "text",
               fmt: str | None = None) -> None:
    """Write a matrix handed out one block of rows at a time as :func:`write_table` writes it
    whole, byte for byte, holding about one block.

    A ``.npy`` written to a regular file (or through a link to one) is created by
    :func:`numpy.lib.format.open_memmap` as the atomic writer's temporary file and filled
    block by block (:func:`~embedkit.formats.arrays.fill_npy`); to a FIFO, a device, standard
    output or a compressed name (``.npy.gz``) its header and then its rows are streamed.
    CSV/TSV and word2vec text and binary stream their rows; an ``.npz`` streams its
    ``vectors`` member (``words`` are in memory anyway). A fastText model is written from
    the whole matrix, gathered in memory first. Every output is atomic as
    :func:`~embedkit.io.atomic_output` makes it: a failure or Ctrl-C while the blocks are
    produced leaves no partial file and an existing one untouched.

    Parameters
    ----------
    path : str, path-like or None
        Destination; None or ``-`` is standard output.
    rows : RowBlocks
        The matrix, shape (rows, columns), iterated once.
    words : sequence of str, optional
        One per row, for the formats that hold them in the file. Not written beside a
        ``.npy`` (no ``<stem>.vocab``): those left there by an earlier matrix are removed, as
        :func:`write_table` does without words.
    stdout, fmt
        As for :func:`output_format`.

    Raises
    ------
    EmbedkitError
        As :func:`write_table`.
    """
    target = output_format(path, words, stdout=stdout, fmt=fmt)
    if words is not None and len(words) != rows.shape[0]:
        raise EmbedkitError(f"cannot save {len(words)} words with a matrix of shape "
                            f"{rows.shape}: expected one row per word")
    name = STDIO if path is None else os.fspath(path)
    if target.name == "fasttext":  # its writer takes the matrix whole
        write_table(path, rows.gather(), words, stdout=stdout, fmt=fmt)
    elif target.name == "npy" and name != STDIO and not name.lower().endswith(COMPRESSIONS) \
            and not output_target(name).direct:
        with atomic_outputs(name) as (stand_in,):
            assert stand_in is not None  # a temporary file beside a regular one
            arrays.fill_npy(stand_in, rows, name)
    else:
        with atomic_output(path, binary=True) as out:  # which compresses by suffix
            if target.name == "npz":
                arrays.write_npz_rows(
                    out, rows, {} if words is None else {"words": np.array(list(words), dtype=str)})
            elif target.name == "npy":
                arrays.write_npy_rows(out, rows)
            elif target.name in ("text", "binary"):
                assert words is not None  # output_format refuses word2vec formats without words
                out.write(f"{len(words)} {rows.shape[1]}\n".encode())
                writer = word2vec.write_binary if target.name == "binary" else word2vec.write_text
                for start, block in rows.placed():
                    writer(out, list(words[start:start + len(block)]),
                           np.asarray(block, dtype=np.float32))
            else:
                for _, block in rows.placed():
                    delimited.write_delimited(out, block, _DELIMITERS[target.name])
    if target.name == "npy" and name != STDIO:
        _write_sidecars(name, None, None, None)


def _write_sidecars(path: str | os.PathLike, values: Matrix | None,
                    words: list[str] | None, counts: np.ndarray | None,
                    norms: np.ndarray | None = None) -> None:
    """The vocabulary and row norms (``norms`` when found already) beside a ``.npy`` just
    written to ``path``; without words, those an earlier matrix of that name left are
    removed (the reader would pair them with this one), with a warning naming them."""
    stale = [arrays.norms_path(path)]
    if words is not None:
        vocabulary = arrays.write_vocab(arrays.vocab_path(path), words, counts)
        if first_occurrences(words) is None:  # the norms vouch for distinct words
            assert values is not None
            arrays.write_norms(arrays.norms_path(path), values, vocabulary, norms)
            return
    else:
        stale.insert(0, arrays.vocab_path(path))
    removed = []
    for sidecar in stale:
        with contextlib.suppress(FileNotFoundError):
            os.remove(sidecar)
            removed.append(sidecar)
    if words is None and removed:
        warnings.warn(f"{os.fspath(path)}: written without words: removed "
                      f"{' and '.join(removed)}, left by an earlier matrix of that name",
                      UserWarning, stacklevel=3)

