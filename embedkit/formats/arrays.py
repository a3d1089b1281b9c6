"""NumPy files: ``.npz`` archives and ``.npy`` matrices with a vocabulary file beside them.

An ``.npz`` holds ``words`` and ``vectors`` (and optionally ``counts`` and ``output``; a subword
model adds ``word_rows``, ``ngrams``, ``subwords`` (its n-gram lengths and bucket count) and
``subword_args`` (fastText's other header arguments, as JSON)), or any arrays of which one is the
matrix (``key``). A ``.npy`` holds the matrix; its words, when it has
any, are in ``<stem>.vocab``: one word per line, optionally followed by its count, as the C
tool's ``-save-vocab`` writes.
"""

from __future__ import annotations

import errno
import json
import os
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import IO

import numpy as np

from embedkit.archive import kind_of_archive, wrong_kind
from embedkit.errors import EmbedkitError
from embedkit.formats.delimited import check_2d
from embedkit.formats.word2vec import BOM, decode_words
from embedkit.io import atomic_output, cannot_write, describe, open_input
from embedkit.npyfile import NpzArchive, load_npy, parse_npy
from embedkit.streaming import ComputedRows, Matrix, RowBlocks, blocks_of, release, row_norms
from embedkit.text.subwords import MAX_NGRAM, SubwordModel, Subwords
from embedkit.text.tokenize import normalize_word, normalize_words

#: Bytes that separate fields in a vocabulary file (what ``bytes.split()`` splits on).
_VOCAB_SEPARATORS = " \t\n\r\x0b\x0c"
#: Those that separate fields within a line.
_LINE_SEPARATORS = _VOCAB_SEPARATORS.replace("\n", "").encode()


def vocab_path(path: str | os.PathLike) -> str:
    """The vocabulary file that goes with a ``.npy`` matrix: same stem, ``.vocab``."""
    return os.path.splitext(os.fspath(path))[0] + ".vocab"


def read_npz(source: str | os.PathLike | bytes, where: str, key: str | None, limit: int | None,
             mmap: bool, need_words: bool) -> tuple[np.ndarray, dict]:
    """The matrix of an archive and, as a dict, its ``words``, ``counts`` and ``output``.

    Without ``key``, an archive holding ``words`` and ``vectors`` is word vectors, and any other
    must hold a single array.
    """
    with NpzArchive(source, where) as archive:
        names = archive.names
        if key is None and "meta" in names and not {"words", "vectors"} <= set(names):
            kind = kind_of_archive(archive)
            if kind is not None:  # a model or checkpoint: no matrix to read
                raise wrong_kind(where, kind, "word vectors (arrays 'words' and 'vectors')"
                                 if need_words else "a matrix")
        if key is None and ({"words", "vectors"} <= set(names) or need_words):
            missing = {"words", "vectors"} - set(names)
            if missing:
                raise EmbedkitError(f"{where}: archive lacks {', '.join(sorted(missing))}: "
                                    f"expected arrays 'words' and 'vectors'")
            words = archive.read("words")
            if words.ndim != 1 or words.dtype.kind != "U":
                raise EmbedkitError(f"{where}[words]: expected a 1-D array of strings, got "
                                    f"{words.dtype} of shape {words.shape}")
            extra = {"words": words[:limit].tolist()}
            if "counts" in names:
                extra["counts"] = _checked_counts(archive.read("counts"), words, where)[:limit]
            if "output" in names:
                extra["output"] = archive.read("output")
            if "ngrams" in names:
                extra["subwords"] = _subword_model(archive, where, limit, mmap)
            vectors = archive.mapped("vectors") if mmap else archive.read("vectors")
            check_2d(vectors, f"{where}[vectors]")
            return vectors[:limit], extra
        if key is None and len(names) != 1:
            raise EmbedkitError(f"{where}: holds {len(names)} arrays "
                                f"({', '.join(names) or 'none'}); name one with key",
                                params=("key",))
        name = key or names[0]
        matrix = archive.mapped(name) if mmap else archive.read(name)
        check_2d(matrix, f"{where}[{name}]")
        return matrix[:limit], {}


def _checked_counts(counts: np.ndarray, words: np.ndarray, where: str) -> np.ndarray:
    """An archive's ``counts``, checked against its ``words``: one non-negative integer each
    (the vocabulary's counts, which ``export-projector`` and ``convert`` write beside them).

    Raises
    ------
    EmbedkitError
        Naming the archive, the field and what was expected: the shape, or the first
        negative count and its word.
    """
    expected = f"expected a 1-D array of {len(words)} non-negative integers, one per word"
    if counts.ndim != 1 or counts.dtype.kind not in "iu" or len(counts) != len(words):
        raise EmbedkitError(f"{where}[counts]: {expected}, got {counts.dtype} of shape "
                            f"{counts.shape}")
    negative = np.flatnonzero(counts < 0)
    if negative.size:
        row = int(negative[0])
        raise EmbedkitError(f"{where}[counts]: entry {row + 1} (the word {str(words[row])!r}) "
                            f"is {int(counts[row])}: {expected}")
    return counts


def _subword_model(archive: NpzArchive, where: str, limit: int | None,
                   mmap: bool) -> SubwordModel:
    """The word rows, n-gram rows and settings a subword model's archive holds."""
    settings = archive.read("subwords")
    word_rows, ngrams = ((archive.mapped(key) if mmap else archive.read(key))
                         for key in ("word_rows", "ngrams"))
    if settings.shape != (3,) or len(ngrams) != settings[2] or ngrams.ndim != 2:
        raise EmbedkitError(f"{where}[subwords]: expected minn, maxn and the bucket count of "
                            f"the {len(ngrams)} rows of 'ngrams'")
    if not (0 <= settings[:2]).all() or not (settings[:2] <= MAX_NGRAM).all():
        raise EmbedkitError(f"{where}[subwords]: n-gram lengths {int(settings[0])} to "
                            f"{int(settings[1])}: expected 0 to {MAX_NGRAM} characters")
    args = json.loads(str(archive.read("subword_args"))) if "subword_args" in archive.names \
        else {}
    return SubwordModel(Subwords(*map(int, settings)), word_rows[:limit], ngrams, args)


def write_npz(out: IO[bytes], values: Matrix, words: Sequence[str] | None, counts,
              output, subwords: SubwordModel | None = None) -> None:
    """``vectors`` and, when given, ``words``, ``counts``, ``output`` and a subword model's
    ``word_rows``, ``ngrams``, ``subwords`` (minn, maxn, buckets) and ``subword_args``.
    Rows computed where read (:class:`~embedkit.streaming.ComputedRows`) are written a
    block at a time (:func:`write_npz_rows`), the same archive."""
    arrays: dict[str, np.ndarray] = {}
    if subwords is not None:
        arrays["word_rows"] = np.asarray(subwords.word_rows, dtype=np.float32)
        arrays["ngrams"] = np.asarray(subwords.ngrams, dtype=np.float32)
        arrays["subwords"] = np.array(subwords.subwords, dtype=np.int64)
        arrays["subword_args"] = np.array(json.dumps(subwords.args))
    if words is not None:
        arrays["words"] = np.array(list(words), dtype=str)
    if counts is not None:
        arrays["counts"] = np.asarray(counts, dtype=np.int64)
    if output is not None:
        arrays["output"] = np.asarray(output, dtype=np.float32)
    if isinstance(values, ComputedRows):
        write_npz_rows(out, blocks_of(values), arrays)
    else:
        np.savez(out, vectors=values, **arrays)  # type: ignore[arg-type]


def write_npz_rows(out: IO[bytes], rows: RowBlocks, others: dict[str, np.ndarray]) -> None:
    """What :func:`numpy.savez` writes for ``vectors=rows.gather()`` and then the arrays
    ``others`` by name, byte for byte, with the ``vectors`` member written one block at a
    time: the archive is built as :func:`numpy.savez` builds it (stored members, Zip64
    forced)."""
    with zipfile.ZipFile(out, mode="w", compression=zipfile.ZIP_STORED,
                         allowZip64=True) as archive:
        with archive.open("vectors.npy", "w", force_zip64=True) as member:
            write_npy_rows(member, rows)
        for name, array in others.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array))


def write_npy_rows(out: IO[bytes], rows: RowBlocks) -> None:
    """What :func:`numpy.save` writes for ``rows.gather()``, byte for byte (the version 1.0
    header it picks for any 2-D matrix of numbers), one block of rows at a time: for a
    stream that cannot be memory-mapped (a pipe, a compressed file, an archive member)."""
    np.lib.format.write_array_header_1_0(out, _npy_header(rows))
    for _, block in rows.placed():
        out.write(np.ascontiguousarray(block).data)


def fill_npy(path: str, rows: RowBlocks, shown: str) -> None:
    """Create the ``.npy`` file ``path`` (a temporary file of the atomic writer) with
    :func:`numpy.lib.format.open_memmap` and fill it block by block: the same bytes as
    :func:`numpy.save` of ``rows.gather()``.

    Its disk space is reserved first (``posix_fallocate``): a full disk is then an error
    naming ``shown``, where writing into the holes of a memory map would kill the process
    with ``SIGBUS``. Each block's pages are handed back once written (:func:`release`), so
    the process's resident memory does not grow with the file.

    Raises
    ------
    EmbedkitError
        When the space cannot be reserved or the file written.
    """
    out = np.lib.format.open_memmap(path, mode="w+", dtype=rows.dtype, shape=rows.shape)
    try:
        with open(path, "r+b") as stream:
            os.posix_fallocate(stream.fileno(), 0, os.fstat(stream.fileno()).st_size)
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):  # a filesystem without it
            raise cannot_write(shown, exc) from None
    for start, block in rows.placed():
        part = out[start:start + len(block)]
        part[...] = block
        release(part)


def _npy_header(rows: RowBlocks) -> dict:
    return {"descr": np.lib.format.dtype_to_descr(np.dtype(rows.dtype)),
            "fortran_order": False, "shape": tuple(rows.shape)}


def check_npz_words(words: Sequence[str]) -> str | None:
    """Why some word cannot be stored in an ``.npz`` (a NumPy string array drops the NUL
    characters that end a string), or None."""
    if any(word.endswith("\0") for word in words):
        row = next(i for i, word in enumerate(words) if word.endswith("\0"))
        return f"the word {words[row]!r} (row {row + 1}), which ends in a NUL character"
    return None


def read_npy(path: str | os.PathLike, limit: int | None, mmap: bool, errors: str,
             vocab: str | os.PathLike | None, need_words: bool,
             raw: bytes | None = None) -> tuple[np.ndarray, dict]:
    """The matrix (from ``raw`` when given, else from ``path``) and, when there is a vocabulary
    file (required by ``need_words``), its words and counts."""
    name = describe(path)
    vocab_name = os.fspath(vocab) if vocab is not None else vocab_path(name)
    if vocab is None and (name == "<stdin>" or not os.path.exists(vocab_name)):
        if need_words:
            default = "" if name == "<stdin>" else f" (default {vocab_name} does not exist)"
            raise EmbedkitError(f"{name}: a .npy matrix needs a vocabulary file: give vocab "
                                f"FILE{default}", params=("vocab",))
        vocab_name = None
    values = parse_npy(raw, name) if raw is not None else load_npy(path, mmap)
    check_2d(values, name)
    if vocab_name is None:
        return values[:limit], {}
    # A mapped matrix is large: its words are kept as text, not as millions of strings.
    words, counts = read_vocab(vocab_name, limit, errors, lazy=mmap)
    extra: dict = {"words": words, "counts": counts, "normalized": True,
                   "word_at": lambda row: f"line {row + 1} of {vocab_name}"}
    if raw is None and os.path.exists(norms_path(name)):
        norms, extra["distinct"] = read_norms(name, values, vocab_name)
        extra["norms"] = norms[:limit]
    return values[:limit], extra


def write_vocab(path: str | os.PathLike, words: Sequence[str], counts) -> bytes:
    """The vocabulary file: ``word`` or ``word count`` per line. Returns what was written."""
    lines = words if counts is None else [f"{w} {int(c)}"
                                          for w, c in zip(words, counts, strict=True)]
    data = "".join(f"{line}\n" for line in lines).encode()
    with atomic_output(path, binary=True) as out:
        out.write(data)
    return data


def norms_path(path: str | os.PathLike) -> str:
    """The row norms stored beside a ``.npy`` matrix of word vectors: ``<stem>.norms.npz``."""
    return os.path.splitext(os.fspath(path))[0] + ".norms.npz"


def write_norms(path: str | os.PathLike, values: Matrix, vocabulary: bytes,
                norms: np.ndarray | None = None) -> None:
    """Store the row norms of ``values`` (float32, block by block; ``norms`` when they are
    known already) with the CRC-32 and size of the vocabulary file written with them, whose
    words are distinct."""
    if norms is None:
        with np.errstate(over="ignore"):  # inf for rows beyond float32: redone when read
            norms = row_norms(values)
    with atomic_output(path, binary=True) as out:
        np.savez(out, norms=norms, vocab_crc32=np.uint32(zlib.crc32(vocabulary)),
                 vocab_bytes=np.int64(len(vocabulary)))


def read_norms(matrix: str, values: np.ndarray, vocab: str) -> tuple[np.ndarray, bool]:
    """Row norms stored by :func:`write_norms` beside the ``.npy`` file ``matrix`` (whose
    array is ``values``), and whether the vocabulary file ``vocab`` is still the one written
    with them (then its words are known to be distinct and need not be checked again).

    Raises
    ------
    EmbedkitError
        When the norms are not those of ``values``: another number of rows, or the first,
        middle or last row, or the first row stored as NaN or negative (a finite row's norm
        is neither), of a different length.
    """
    path = norms_path(matrix)
    with NpzArchive(path) as archive:
        norms = archive.read("norms")
        crc, size = archive.read("vocab_crc32"), archive.read("vocab_bytes")
    remedy = (f"delete it (norms are then computed when needed) or write {matrix} again with "
              f"`embedkit convert`")
    if norms.shape != (len(values),) or norms.dtype != np.float32:
        raise EmbedkitError(f"{path}: {norms.dtype} row norms of shape {norms.shape} for a "
                            f"matrix of {len(values)} rows: expected float32 norms of shape "
                            f"({len(values)},); {remedy}")
    # NaN is a row holding a NaN (reported later, naming it); anywhere else, a stale file
    suspect = np.flatnonzero(np.isnan(norms) | (norms < 0))[:1]
    probes = np.unique(np.concatenate([np.linspace(0, len(values) - 1, 3).astype(np.intp),
                                       suspect])) if len(values) else np.empty(0, np.intp)
    with np.errstate(over="ignore", invalid="ignore"):  # as write_norms: inf and NaN rows
        actual = row_norms(np.asarray(values[probes]))
    wrong = ~np.isclose(actual, norms[probes], rtol=1e-5, atol=0, equal_nan=True)
    if wrong.any():
        row = int(probes[np.argmax(wrong)])
        raise EmbedkitError(f"{path}: row {row + 1} has norm {norms[row]:.7g} stored but "
                            f"{actual[np.argmax(wrong)]:.7g} in the matrix: norms of another "
                            f"matrix; {remedy}")
    with open(vocab, "rb") as stream:
        written = stream.read()
    return norms, (int(crc), int(size)) == (zlib.crc32(written), len(written))


def check_vocab_words(words: Sequence[str]) -> str | None:
    """Why some word cannot be written to a vocabulary file (it splits on ASCII whitespace)."""
    if not all(words):
        return f"an empty word (row {list(words).index('') + 1})"
    joined = "".join(words)
    if any(character in joined for character in _VOCAB_SEPARATORS):
        row = next(i for i, word in enumerate(words)
                   if any(character in word for character in _VOCAB_SEPARATORS))
        return f"the word {words[row]!r} (row {row + 1}), which holds ASCII whitespace"
    return None


class LineWords(Sequence[str]):
    """The words of a vocabulary file of one word per line, kept as its UTF-8 text instead of
    a list of strings: a 3 M-word vocabulary is 26 MB of text, where a list takes 200 MB and
    a quarter of a second to build.

    A word's row is found by searching the text (:meth:`index`, milliseconds), and a row's
    word is decoded when asked for; iterating, slicing or comparing builds the list once.

    Parameters
    ----------
    data : bytes
        Valid UTF-8 in NFC: words that hold no ASCII whitespace, each ended by a newline.
    """

    def __init__(self, data: bytes) -> None:
        self._data = b"\n" + data  # every word between two newlines
        self._count = data.count(b"\n")
        self._newlines: np.ndarray | None = None
        self._list: list[str] | None = None

    def __len__(self) -> int:
        return self._count

    def list(self) -> list[str]:
        """The words as a list (built once)."""
        if self._list is None:
            self._list = self._data[1:-1].decode().split("\n") if self._count else []
        return self._list

    def __getitem__(self, index):
        if self._list is not None or isinstance(index, slice):
            return self.list()[index]
        row = range(self._count)[index]  # IndexError and negative rows as for a list
        if self._newlines is None:
            self._newlines = np.flatnonzero(np.frombuffer(self._data, dtype=np.uint8) == 10)
        return self._data[self._newlines[row] + 1:self._newlines[row + 1]].decode()

    def index(self, word: str, start: int = 0, stop: int | None = None) -> int:
        """The first row of ``word``.

        Raises
        ------
        ValueError
            When ``word`` is not in the vocabulary.
        """
        if self._list is not None or start or stop is not None:
            return self.list().index(word, start, len(self) if stop is None else stop)
        at = -1 if "\n" in word else self._data.find(
            b"\n" + word.encode("utf-8", "surrogatepass") + b"\n")
        if at < 0:
            raise ValueError(f"{word!r} is not in the vocabulary")
        return self._data.count(b"\n", 0, at)

    def __contains__(self, word: object) -> bool:
        try:
            return isinstance(word, str) and self.index(word) >= 0
        except ValueError:
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(self.list())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (LineWords, list, tuple)):
            return self.list() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"LineWords({len(self)} words)"


def _plain_words(data: bytes, unicode_errors: str, lazy: bool = False
                 ) -> list[str] | LineWords | None:
    """The words of a vocabulary file of one word per line and nothing else, decoded at once
    (milliseconds per million words), as a list or (``lazy``) as :class:`LineWords`; None
    when a line is blank or holds another field, or when a word is not valid UTF-8 under
    ``strict``, for the line-by-line reading to say where."""
    if (data.startswith(b"\n") or b"\n\n" in data
            or len(data.translate(None, _LINE_SEPARATORS)) != len(data)):
        return None
    try:
        text = data.decode("utf-8", unicode_errors)
    except UnicodeDecodeError:
        return None
    # NFC of the whole text is that of each word (a newline composes with nothing).
    text = normalize_word(text)
    if lazy:
        # the text, unless it is the bytes: dropped (ignore) or replaced bytes are not
        encoded = data if data.isascii() else text.encode()
        return LineWords(encoded if encoded.endswith(b"\n") or not encoded
                         else encoded + b"\n")
    return text.removesuffix("\n").split("\n") if text else []


def read_vocab(path: str | os.PathLike, limit: int | None = None,
               unicode_errors: str = "strict", lazy: bool = False
               ) -> tuple[Sequence[str], np.ndarray | None]:
    """Read a vocabulary file: ``word`` or ``word count`` per line.

    Parameters
    ----------
    path : str or path-like
    limit : int, optional
        Read only the first ``limit`` lines.
    unicode_errors : str
        ``strict``, ``replace`` or ``ignore``.
    lazy : bool
        Return the words of a file of one word per line as :class:`LineWords` (a list
        otherwise, and always for files with counts).

    Returns
    -------
    words : list of str or LineWords
        In NFC (:func:`~embedkit.text.tokenize.normalize_words`).
    counts : ndarray of int64 or None
        None when no line has a count.
    """
    name = describe(path)
    with open_input(path, binary=True) as stream:
        data = (stream.read() if limit is None else b"".join(islice(stream, limit))
                ).removeprefix(BOM)
    words = _plain_words(data, unicode_errors, lazy)
    if words is not None:
        return words, None
    lines = data.split(b"\n")
    if not lines[-1]:
        lines.pop()
    words_raw: list[bytes] = []
    counts: list[int] = []
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if len(fields) not in (1, 2) or (counts and len(fields) != 2):
            raise EmbedkitError(f"{name}: line {number}: expected 'word' or 'word count', "
                                f"found {len(fields)} fields")
        words_raw.append(fields[0])
        if len(fields) == 2:
            if len(counts) != number - 1 or not fields[1].isdigit():
                raise EmbedkitError(f"{name}: line {number}: expected 'word count' with a "
                                    f"non-negative integer count on every line")
            counts.append(int(fields[1]))
    words = normalize_words(decode_words(words_raw, name, unicode_errors,
                                         lambda i: f"line {i + 1}"))
    return words, np.array(counts, dtype=np.int64) if counts else None
