"""Reading and writing vector files: word2vec text and binary, ``.npz``, ``.npy`` + vocabulary.

Formats are chosen by extension (after any ``.gz``/``.bz2``): ``.bin`` is word2vec binary,
``.npz`` an uncompressed NumPy archive (``words``, ``vectors``, optional ``counts`` and
``output``), ``.npy`` a matrix with a vocabulary file beside it (``<stem>.vocab``: one word per
line, optionally followed by its count, as the C tool's ``-save-vocab`` writes), anything else
word2vec text.

Text files are written with six significant digits in scientific notation (``%.5e``), so they
round-trip to a relative precision of 5e-6; binary and NumPy files round-trip exactly.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import os
import warnings
from collections.abc import Sequence
from itertools import islice
from typing import IO

import numpy as np

from embedkit.errors import EmbedkitError
from embedkit.io import atomic_output, describe, open_input
from embedkit.npyfile import NpzArchive, load_npy
from embedkit.vectors.keyed import KeyedVectors

FORMATS = ("text", "binary", "npz", "npy")
#: Lines parsed per NumPy call when reading text, and rows formatted per block when writing.
TEXT_BLOCK = 8192
#: Bytes of vectors allocated at once when reading text, before the file shows it holds more.
PREALLOCATE_BYTES = 1 << 26
#: Bytes read per chunk from binary files.
BINARY_CHUNK = 1 << 22


def detect_format(path: str | os.PathLike) -> str:
    """The format of ``path`` from its extension: one of :data:`FORMATS`."""
    name = os.fspath(path).lower()
    for suffix in (".gz", ".bz2"):
        name = name.removesuffix(suffix)
    extension = os.path.splitext(name)[1]
    return {".bin": "binary", ".npz": "npz", ".npy": "npy"}.get(extension, "text")


def vocab_path(path: str | os.PathLike) -> str:
    """The vocabulary file that goes with a ``.npy`` matrix: same stem, ``.vocab``."""
    return os.path.splitext(os.fspath(path))[0] + ".vocab"


def load_vectors(path: str | os.PathLike, limit: int | None = None, mmap: bool = False,
                 unicode_errors: str = "strict", vocab: str | os.PathLike | None = None,
                 fmt: str | None = None) -> KeyedVectors:
    """Read a vector file.

    Parameters
    ----------
    path : str or path-like
        The file (``-`` for word2vec text on stdin).
    limit : int, optional
        Read only the first ``limit`` vectors (the most frequent ones in word2vec files).
    mmap : bool
        Memory-map the matrix of ``.npy`` and ``.npz`` files instead of reading it.
    unicode_errors : str
        How undecodable bytes in words are handled: ``strict`` (an error naming the line),
        ``replace`` or ``ignore``, as in gensim.
    vocab : str or path-like, optional
        Vocabulary file of a ``.npy`` matrix (default :func:`vocab_path`).
    fmt : str, optional
        One of :data:`FORMATS`; by default :func:`detect_format`.

    Returns
    -------
    KeyedVectors

    Raises
    ------
    EmbedkitError
        For a missing or malformed file, with the file and line (or byte offset) at fault.
    """
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise EmbedkitError(f"unknown vector format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if limit is not None and limit < 1:
        raise EmbedkitError(f"--limit must be at least 1, got {limit}")
    if fmt == "npz":
        return _load_npz(path, limit, mmap)
    if fmt == "npy":
        return _load_npy(path, limit, mmap, unicode_errors, vocab)
    with open_input(path, binary=True) as stream:
        name = describe(path)
        count, dim, header_size = _read_header(stream, name)
        wanted = count if limit is None else min(count, limit)
        if fmt == "binary":
            words, vectors, rest = _read_binary(stream, name, wanted, dim, unicode_errors,
                                                header_size)
        else:
            (words, vectors), rest = _read_text(stream, name, wanted, dim, unicode_errors), b""
        if wanted == count and (rest + stream.read(1 << 16)).strip():
            raise EmbedkitError(f"{name}: more than the {count} vectors the header announces")
    _check_finite(vectors, name, (lambda row: f"vector {row + 1}") if fmt == "binary"
                  else (lambda row: f"line {row + 2}"))
    return KeyedVectors(words, vectors)


def _check_finite(vectors: np.ndarray, name: str, where) -> None:
    """Refuse NaN and infinity: they would silently poison every similarity."""
    finite = np.isfinite(vectors).all(axis=1)
    if not finite.all():
        row = int(np.argmin(finite))
        raise EmbedkitError(f"{name}: {where(row)}: values must be finite, found "
                            f"{vectors[row][~np.isfinite(vectors[row])][0]}")


def save_vectors(path: str | os.PathLike | None, words: Sequence[str], vectors: np.ndarray,
                 counts: np.ndarray | None = None, fmt: str | None = None,
                 output: np.ndarray | None = None) -> None:
    """Write vectors atomically; ``None`` or ``-`` writes word2vec text to stdout.

    Parameters
    ----------
    path : str, path-like or None
        Destination; its extension picks the format unless ``fmt`` is given.
    words : sequence of str
        Vocabulary in row order (most frequent first, by convention). Words must not contain
        whitespace in word2vec formats.
    vectors : ndarray, shape (len(words), dim)
    counts : ndarray, optional
        Frequencies, stored by ``.npz`` and the ``.npy`` vocabulary file.
    fmt : str, optional
        One of :data:`FORMATS`; by default from the extension.
    output : ndarray, optional
        Output-layer weights, stored only by ``.npz``.
    """
    fmt = fmt or ("text" if path is None else detect_format(path))
    vectors = np.asarray(vectors, dtype=np.float32)
    words = list(words)
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
        raise EmbedkitError(f"cannot save {len(words)} words with a matrix of shape "
                            f"{vectors.shape}: expected one row per word")
    if fmt in ("text", "binary"):
        bad = next((w for w in words if not w or len(w.split()) != 1 or w != w.strip()), None)
        if bad is not None:
            raise EmbedkitError(f"word {bad!r} is empty or contains whitespace: it cannot be "
                                f"written in word2vec {fmt} format")
    if fmt == "npz":
        arrays = {"words": np.array(words, dtype=str), "vectors": vectors}
        if counts is not None:
            arrays["counts"] = np.asarray(counts, dtype=np.int64)
        if output is not None:
            arrays["output"] = np.asarray(output, dtype=np.float32)
        with atomic_output(path, binary=True) as out:
            np.savez(out, **arrays)
    elif fmt == "npy":
        with atomic_output(path, binary=True) as out:
            np.save(out, vectors)
        with atomic_output(vocab_path(path)) as out:
            lines = words if counts is None else [f"{w} {int(c)}"
                                                  for w, c in zip(words, counts, strict=True)]
            out.write("".join(f"{line}\n" for line in lines))
    elif fmt in ("text", "binary"):
        with atomic_output(path, binary=True) as raw, _compressing(raw, path) as out:
            out.write(f"{len(words)} {vectors.shape[1]}\n".encode())
            if fmt == "binary":
                _write_binary(out, words, vectors)
            else:
                _write_text(out, words, vectors)
    else:
        raise EmbedkitError(f"unknown vector format {fmt!r}: expected one of {', '.join(FORMATS)}")


def _compressing(out: IO[bytes], path: str | os.PathLike | None) -> IO[bytes]:
    """``out`` itself, or a gzip/bz2 writer over it when ``path`` ends in ``.gz``/``.bz2``."""
    name = "" if path is None else os.fspath(path)
    if name.endswith(".gz"):
        return gzip.GzipFile(fileobj=out, mode="wb", mtime=0)
    if name.endswith(".bz2"):
        return bz2.BZ2File(out, mode="wb")
    return contextlib.nullcontext(out)


# -- word2vec text and binary ------------------------------------------------------------------

def _read_header(stream: IO[bytes], name: str) -> tuple[int, int, int]:
    line = stream.readline()
    fields = line.split()
    try:
        count, dim = (int(field) for field in fields)
        if count < 0 or dim < 1:
            raise ValueError
    except ValueError:
        shown = line[:60].decode("utf-8", "replace").strip()
        raise EmbedkitError(f"{name}: line 1: expected a header '<count> <dim>', "
                            f"found {shown!r}") from None
    return count, dim, len(line)


def _decode_words(raw: list[bytes], name: str, errors: str, where) -> list[str]:
    """Decode all words at once; on failure name the line (``where(i)``) of the bad word."""
    try:
        return b"\n".join(raw).decode("utf-8", errors).split("\n")
    except UnicodeDecodeError as exc:
        bad = b"\n".join(raw)[:exc.start].count(b"\n")
        raise EmbedkitError(f"{name}: {where(bad)}: word is not valid UTF-8 "
                            f"(use --unicode-errors replace or ignore)") from None


def _read_text(stream: IO[bytes], name: str, count: int, dim: int,
               errors: str) -> tuple[list[str], np.ndarray]:
    # Rows are allocated as blocks arrive, not from the header: a damaged header may announce
    # billions of vectors.
    vectors = np.empty((0, dim), dtype=np.float32)
    raw_words: list[bytes] = []
    done = 0
    while done < count:
        lines = list(islice(stream, min(TEXT_BLOCK, count - done)))
        if not lines:
            raise EmbedkitError(f"{name}: line {done + 2}: file ends after {done} vectors, "
                                f"the header says {count}")
        # The C tool ends each line with a space; fastText with a space too.
        parts = [line.rstrip().partition(b" ") for line in lines]
        values = [rest for _, _, rest in parts]
        sizes = [rest.count(b" ") + 1 if rest else 0 for rest in values]
        parsed = _parse_floats(b" ".join(values)) if all(s == dim for s in sizes) else None
        if parsed is None or parsed.size != len(lines) * dim:
            _explain_bad_text(values, name, dim, done + 2)
        if done + len(lines) > len(vectors):
            rows = max(2 * len(vectors), done + len(lines), PREALLOCATE_BYTES // (4 * dim))
            vectors.resize((min(count, rows), dim), refcheck=False)
        vectors[done:done + len(lines)] = parsed.reshape(len(lines), dim)
        raw_words.extend(word for word, _, _ in parts)
        done += len(lines)
    return _decode_words(raw_words, name, errors, lambda i: f"line {i + 2}"), vectors


def _parse_floats(text: bytes) -> np.ndarray | None:
    """Space-separated numbers parsed in C, or None when some field is not a number."""
    with warnings.catch_warnings():
        # NumPy reports a field it cannot parse by a warning (older) or an error (newer).
        warnings.simplefilter("error", DeprecationWarning)
        try:
            return np.fromstring(text, dtype=np.float32, sep=" ")
        except (ValueError, DeprecationWarning):
            return None


def _explain_bad_text(values: list[bytes], name: str, dim: int, first_line: int):
    """Find the first bad line of a block that failed the fast parse and raise its error."""
    for offset, rest in enumerate(values):
        fields = rest.split()
        where = f"{name}: line {first_line + offset}"
        if len(fields) != dim:
            raise EmbedkitError(f"{where}: expected a word and {dim} values, "
                                f"found {len(fields)} values")
        for field in fields:
            try:
                float(field)
            except ValueError:
                shown = field[:30].decode("utf-8", "replace")
                raise EmbedkitError(f"{where}: {shown!r} is not a number") from None
    raise EmbedkitError(f"{name}: line {first_line}: values are not single-space separated")


def _read_binary(stream: IO[bytes], name: str, count: int, dim: int, errors: str,
                 offset: int) -> tuple[list[str], np.ndarray, bytes]:
    """Records are a word, a space and ``dim`` little-endian float32; returns the words, the
    matrix and the bytes read past the last record."""
    width = 4 * dim
    raw_words: list[bytes] = []
    records: list[bytes] = []
    buffer, pos = b"", 0
    for record in range(count):
        space = buffer.find(b" ", pos)
        while space < 0 or len(buffer) < space + 1 + width + 1:
            chunk = stream.read(BINARY_CHUNK)
            if not chunk:
                break
            offset += pos
            buffer, pos = buffer[pos:] + chunk, 0
            space = buffer.find(b" ", pos)
        if space < 0 or len(buffer) < space + 1 + width:
            raise EmbedkitError(f"{name}: vector {record + 1} (byte {offset + pos}): file is "
                                f"truncated, expected a word, a space and {dim} float32 values "
                                f"({count} vectors in the header)")
        # The C tool writes a newline after each vector; some files put it before the word.
        raw_words.append(buffer[pos:space].lstrip(b"\n"))
        records.append(buffer[space + 1:space + 1 + width])
        pos = space + 1 + width
        if buffer[pos:pos + 1] == b"\n":
            pos += 1
    words = _decode_words(raw_words, name, errors, lambda i: f"vector {i + 1}")
    vectors = np.frombuffer(b"".join(records), dtype="<f4").reshape(count, dim)
    return words, vectors.astype(np.float32), buffer[pos:]


def _write_binary(out: IO[bytes], words: list[str], vectors: np.ndarray) -> None:
    data = vectors.astype("<f4", copy=False)
    for start in range(0, len(words), TEXT_BLOCK):
        block = data[start:start + TEXT_BLOCK]
        out.write(b"".join(word.encode() + b" " + row.tobytes() + b"\n"
                           for word, row in zip(words[start:start + TEXT_BLOCK], block,
                                                strict=True)))


def _write_text(out: IO[bytes], words: list[str], vectors: np.ndarray) -> None:
    for start in range(0, len(words), TEXT_BLOCK):
        block = vectors[start:start + TEXT_BLOCK]
        encoded = [(word + " ").encode() for word in words[start:start + TEXT_BLOCK]]
        out.write(b"".join(w + line for w, line in zip(encoded, format_rows(block), strict=True)))


def format_rows(block: np.ndarray) -> list[bytes]:
    """Each row of a float32 block as ``%.5e`` numbers separated by spaces, ending with a newline.

    Vectorised: the digits of a whole block come from integer arithmetic and table look-ups
    written into one array of fixed-width records, instead of formatting floats one at a time.
    """
    values = np.asarray(block, dtype=np.float32)
    if not np.isfinite(values).all():
        raise EmbedkitError("cannot write NaN or infinite values to a vector file")
    rows, dim = values.shape
    magnitude = np.abs(values).astype(np.float64)
    exponent = np.floor(np.log10(np.where(magnitude > 0, magnitude, 1))).astype(np.intp)
    mantissa = np.rint(magnitude * _POWERS[_EXPONENTS + 5 - exponent]).astype(np.int64)
    # log10 can be off by one near powers of ten, and rounding can carry (9.999996 -> 10.0000).
    low = (mantissa < 100_000) & (magnitude > 0)
    high = mantissa >= 1_000_000
    exponent[low] -= 1
    exponent[high] += 1
    redo = low | high
    mantissa[redo] = np.rint(magnitude[redo] * _POWERS[_EXPONENTS + 5 - exponent[redo]])
    exponent[magnitude == 0] = 0
    head, tail = np.divmod(mantissa, 1000)
    records = np.empty((rows, dim), dtype=_RECORD)
    records["sign"] = np.where(np.signbit(values), ord("-"), 0)
    records["head"] = _HEADS[head]
    records["tail"] = _TAILS[tail]
    records["exponent"] = _EXPONENT_TEXT[exponent + _EXPONENTS]
    records["space"] = ord(" ")
    records["space"][:, -1] = ord("\n")
    flat = records.view(np.uint8).reshape(rows, dim * _RECORD.itemsize)
    keep = flat != 0  # drops the sign byte of non-negative numbers
    lengths = keep.sum(axis=1)
    text = flat[keep].tobytes()
    ends = np.cumsum(lengths)
    return [text[end - length:end]
            for end, length in zip(ends.tolist(), lengths.tolist(), strict=True)]


# Fixed-width pieces of "-d.ddddde+dd ": float32 decimal exponents lie within [-46, 39].
_EXPONENTS = 50
_POWERS = 10.0 ** np.arange(-2 * _EXPONENTS, 2 * _EXPONENTS, dtype=np.float64)[_EXPONENTS:]
_RECORD = np.dtype([("sign", "u1"), ("head", "V4"), ("tail", "V3"), ("exponent", "V4"),
                    ("space", "u1")])
_HEADS = np.array([b"%d.%02d" % divmod(n, 100) if n >= 100 else b"0.00" for n in range(1000)],
                  dtype="V4")
_TAILS = np.array([b"%03d" % n for n in range(1000)], dtype="V3")
_EXPONENT_TEXT = np.array([b"e%+03d" % n for n in range(-_EXPONENTS, _EXPONENTS)], dtype="V4")


# -- NumPy files -------------------------------------------------------------------------------

def _limited(array: np.ndarray | None, limit: int | None) -> np.ndarray | None:
    return array if array is None or limit is None else array[:limit]


def _load_npz(path: str | os.PathLike, limit: int | None, mmap: bool) -> KeyedVectors:
    name = describe(path)
    if name == "<stdin>":
        raise EmbedkitError("cannot read .npz vectors from stdin: give a file name")
    open_input(path, binary=True).close()  # the usual missing-file errors
    with NpzArchive(path) as archive:
        missing = {"words", "vectors"} - set(archive.names)
        if missing:
            raise EmbedkitError(f"{name}: archive lacks {', '.join(sorted(missing))}: "
                                f"expected arrays 'words' and 'vectors'")
        words = archive.read("words")[:limit].tolist()
        counts = _limited(archive.read("counts"), limit) if "counts" in archive.names else None
        output = archive.read("output") if "output" in archive.names else None
        vectors = archive.mapped("vectors") if mmap else archive.read("vectors")
    return _checked(name, words, _limited(vectors, limit), counts, output)


def _load_npy(path: str | os.PathLike, limit: int | None, mmap: bool, errors: str,
              vocab: str | os.PathLike | None) -> KeyedVectors:
    name = describe(path)
    vocab_name = os.fspath(vocab) if vocab is not None else vocab_path(name)
    if vocab is None and not os.path.exists(vocab_name):
        raise EmbedkitError(f"{name}: a .npy matrix needs a vocabulary file: give --vocab FILE "
                            f"(default {vocab_name} does not exist)")
    vectors = load_npy(path, mmap)
    words, counts = read_vocab(vocab_name, limit, errors)
    return _checked(name, words, _limited(vectors, limit), counts, None)


def read_vocab(path: str | os.PathLike, limit: int | None = None,
               unicode_errors: str = "strict") -> tuple[list[str], np.ndarray | None]:
    """Read a vocabulary file: ``word`` or ``word count`` per line.

    Returns
    -------
    words : list of str
    counts : ndarray of int64 or None
        None when no line has a count.
    """
    name = describe(path)
    with open_input(path, binary=True) as stream:
        lines = list(islice(stream, limit))
    words_raw, counts = [], []
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
    words = _decode_words(words_raw, name, unicode_errors, lambda i: f"line {i + 1}")
    return words, np.array(counts, dtype=np.int64) if counts else None


def _checked(name: str, words: list[str], vectors: np.ndarray, counts, output) -> KeyedVectors:
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
        raise EmbedkitError(f"{name}: {len(words)} words but a matrix of shape "
                            f"{vectors.shape}: expected one row per word")
    if not isinstance(vectors, np.memmap):
        # A memory map is never read whole, so it is not checked.
        if not np.issubdtype(vectors.dtype, np.number) or np.iscomplexobj(vectors):
            raise EmbedkitError(f"{name}: vectors of dtype {vectors.dtype}: expected real "
                                f"numbers")
        vectors = vectors.astype(np.float32, copy=False)
        _check_finite(vectors, name, lambda row: f"row {row + 1}")
    return KeyedVectors(words, vectors, counts, output)
