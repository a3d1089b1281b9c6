"""word2vec text and binary files: the header, the records, and their one-line errors.

Text: an optional header ``<count> <dim>``, then ``word v1 ... vdim`` per line. Files without
the header (GloVe) are recognised by their first line; trailing spaces (the C tool, fastText),
``\r\n`` line ends and a leading UTF-8 byte-order mark are accepted. As the dimension is known,
the last ``dim`` fields of a line are the vector and everything before them is the word (as spaCy
reads GloVe's words with spaces in them): only the ASCII space separates fields, so a word may
hold a no-break, thin or ideographic space. Values are written with six significant digits
(``%.5e``) and round-trip to a relative precision of 5e-6.

Binary: the header, then per record the word, a space and ``dim`` little-endian float32 (an
optional newline after each record); words cannot hold an ASCII space or a newline.
"""

from __future__ import annotations

import array
import functools
import math
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from typing import IO

import numpy as np

from embedkit.errors import EmbedkitError
from embedkit.formats.delimited import check_matrix, is_number, parse_number
from embedkit.streaming import float32_overflow
from embedkit.text.tokenize import normalize_word

#: Lines parsed per NumPy call when reading text (their text, held about three times while
#: parsed, is the reader's memory beyond the matrix and the words: 2048 lines of 300 values
#: are 7.5 MB), and rows formatted per block when writing.
TEXT_BLOCK = 2048
#: Bytes of vectors allocated at once when reading text, before the file shows it holds more.
PREALLOCATE_BYTES = 1 << 26
#: Bytes read per chunk from binary files.
BINARY_CHUNK = 1 << 22
BOM = b"\xef\xbb\xbf"
#: Binary records whose words are decoded at once.
DECODE_WORDS = 1 << 16


def read_header(stream: IO[bytes], name: str) -> tuple[int, int, int]:
    """The ``<count> <dim>`` header of a binary file: (count, dim, bytes it takes)."""
    line = stream.readline()
    count_dim = _header_fields(line.removeprefix(BOM))
    _refuse_bad_header(line.removeprefix(BOM), count_dim, name)
    if count_dim is None:
        shown = line[:60].decode("utf-8", "replace").strip()
        raise EmbedkitError(f"{name}: line 1: expected a header '<count> <dim>', "
                            f"found {shown!r}")
    return (*count_dim, len(line))


#: A first line of two integers, signed or not: a header, whether its numbers make sense or not.
_HEADER_LIKE = re.compile(rb"\s*[+-]?[0-9]+[ \t]+[+-]?[0-9]+\s*")


def _refuse_bad_header(line: bytes, count_dim: tuple[int, int] | None, name: str) -> None:
    """Raise for a first line of two integers that is no valid header (``3 -2``, ``3 0``):
    it is no vector either (it would be read as the word ``3`` of one value, and the next
    lines as words with spaces)."""
    if count_dim is None and _HEADER_LIKE.fullmatch(line):
        shown = line[:60].decode("utf-8", "replace").strip()
        raise EmbedkitError(f"{name}: line 1: header {shown!r}: expected '<count> <dim>', "
                            "unsigned, a count of 0 or more and a dimension of 1 or more")


def _header_fields(line: bytes) -> tuple[int, int] | None:
    fields = line.split()
    if len(fields) != 2 or not all(field.isdigit() for field in fields):
        return None
    count, dim = int(fields[0]), int(fields[1])
    return (count, dim) if dim >= 1 else None


def decode_words(raw: list[bytes], name: str, errors: str, where, nfc: bool = False
                 ) -> list[str]:
    """Decode all words at once (one at a time if some word holds a line break, as a damaged
    fastText model's may); on failure name the line (``where(i)``) of the bad word. With
    ``nfc`` the words come in NFC (:func:`~embedkit.text.tokenize.normalize_word`), the
    joined text normalised at once: a newline composes with nothing."""
    if not raw:  # a file announcing 0 vectors: b"".split would give one empty word
        return []
    joined = b"\n".join(raw)
    normal = normalize_word if nfc else str
    try:
        if joined.count(b"\n") == max(len(raw) - 1, 0):
            return normal(joined.decode("utf-8", errors)).split("\n")
    except UnicodeDecodeError as exc:
        raise _undecodable(name, where(joined[:exc.start].count(b"\n"))) from None
    words = []
    for i, word in enumerate(raw):
        try:
            words.append(normal(word.decode("utf-8", errors)))
        except UnicodeDecodeError:
            raise _undecodable(name, where(i)) from None
    return words


def _undecodable(name: str, where: str) -> EmbedkitError:
    return EmbedkitError(f"{name}: {where}: word is not valid UTF-8 (use unicode_errors "
                         "replace or ignore)", params=("unicode_errors",))


def read_text(stream: IO[bytes], name: str, limit: int | None = None, errors: str = "strict",
              header: bool | None = None,
              collect: Callable[[Iterator[np.ndarray]], np.ndarray] | None = None
              ) -> tuple[list[str], np.ndarray, int]:
    """Read a word2vec text file.

    Parameters
    ----------
    stream : binary stream
    name : str
        The file as named in messages.
    limit : int, optional
        Read only the first ``limit`` vectors.
    errors : str
        How undecodable words are handled (``strict``, ``replace``, ``ignore``).
    header : bool, optional
        None: a first line of two integers is the header, anything else is the first vector
        (GloVe). False: there is no header (``--no-header``), the first line is a vector.
        True: the first line must be the header.
    collect : callable, optional
        Joins the float32 blocks of :data:`TEXT_BLOCK` vectors as they are read (each checked
        already), e.g. :func:`embedkit.streaming.gather`; by default one matrix in memory,
        allocated as blocks arrive and grown by ``ndarray.resize``.

    Returns
    -------
    words : list of str
    vectors : ndarray, shape (len(words), dim), float32
    first_line : int
        The line number of the first vector: 2 after a header, else 1.

    Raises
    ------
    EmbedkitError
        Naming the line at fault and what was found there.
    """
    first = stream.readline().removeprefix(BOM)
    count_dim = None if header is False else _header_fields(first)
    if header is not False:
        _refuse_bad_header(first, count_dim, name)
    if header and count_dim is None:
        shown = first[:60].decode("utf-8", "replace").strip()
        raise EmbedkitError(f"{name}: line 1: expected a header '<count> <dim>', found "
                            f"{shown!r}")
    if count_dim is not None:
        count, dim = count_dim
        pending, first_line = [], 2
    else:
        fields = first.split()
        if len(fields) < 2:
            shown = first[:60].decode("utf-8", "replace").strip()
            raise EmbedkitError(f"{name}: line 1: expected a header '<count> <dim>' or a first "
                                f"vector 'word v1 v2 ...', found {shown!r}")
        count, dim, pending, first_line = None, len(fields) - 1, [first], 1
    wanted = count if limit is None else limit if count is None else min(count, limit)
    words: list[str] = []

    def blocks() -> Iterator[np.ndarray]:
        nonlocal pending
        done = 0
        while wanted is None or done < wanted:
            size = TEXT_BLOCK if wanted is None else min(TEXT_BLOCK, wanted - done)
            lines, pending = pending[:size], pending[size:]
            lines += islice(stream, size - len(lines))
            if count is None and len(lines) < size:
                while lines and not lines[-1].strip():  # blank lines at the end of the file
                    lines.pop()
            if not lines:
                if count is None:
                    break
                raise EmbedkitError(f"{name}: line {done + first_line}: file ends after {done} "
                                    f"vectors, the header says {count}")
            raw, parsed = _parse_block(lines, dim, name, done + first_line)
            _refuse_overflow(lines, parsed, dim, name, done + first_line)
            del lines  # a block's text is about three times its floats
            yield check_matrix(parsed, name, lambda row, at=done + first_line: f"line {row + at}",
                               allow_empty=True)
            # Decoded block by block: the bytes of only one block's words are held at once.
            words.extend(decode_words(raw, name, errors,
                                      lambda i, at=done + first_line: f"line {i + at}", True))
            done += len(raw)
            if count is None and len(raw) < size:
                break
        if count is not None and done == count:
            beyond = content_after(stream, b"")  # blank lines after the last vector are fine
            if beyond is not None:
                raise EmbedkitError(f"{name}: line {done + first_line + beyond[1]}: more than "
                                    f"the {count} vectors the header announces on line 1")
        if not done:
            yield np.empty((0, dim), dtype=np.float32)

    vectors = (collect or functools.partial(_grow, dim=dim, wanted=wanted))(blocks())
    return words, vectors, first_line


def content_after(stream: IO[bytes], rest: bytes) -> tuple[int, int] | None:
    """Where the first byte that is not ASCII whitespace is in ``rest`` followed by the rest of
    ``stream`` (read 64 KiB at a time, however many blank bytes come first).

    Returns
    -------
    tuple of int, or None
        The bytes and the newlines before it, or ``None`` when all that is left is blank.
    """
    skipped = newlines = 0
    rest += stream.read(1 << 16)
    while rest and not rest.strip():
        skipped, newlines = skipped + len(rest), newlines + rest.count(b"\n")
        rest = stream.read(1 << 16)
    if not rest:
        return None
    blank = rest[:len(rest) - len(rest.lstrip())]
    return skipped + len(blank), newlines + blank.count(b"\n")


def _refuse_overflow(lines: list[bytes], values: np.ndarray, dim: int, name: str,
                     first_line: int) -> None:
    """Raise :func:`~embedkit.streaming.float32_overflow` when the first value of ``values``
    that is not finite was finite in the text (``1e40``, made infinite by parsing to float32),
    rather than let it be reported as ``inf``. ``lines[0]`` is line ``first_line`` of ``name``."""
    bad = np.argwhere(~np.isfinite(values))
    if not len(bad):
        return
    row, column = (int(i) for i in bad[0])
    field = lines[row].rstrip().rsplit(None, dim)[1 + column]
    if math.isfinite(parse_number(field)):
        raise float32_overflow(f"{name}: line {first_line + row}, column {column + 1}",
                               field[:30].decode("ascii"))


def _grow(blocks: Iterator[np.ndarray], dim: int, wanted: int | None) -> np.ndarray:
    """The blocks in one float32 matrix, allocated as they arrive, not from a header (a damaged
    one may announce billions of vectors): grown by ``ndarray.resize``, which the C library
    does by remapping pages rather than copying them, and cut to the rows read at the end."""
    vectors = np.empty((0, dim), dtype=np.float32)
    done = 0
    for block in blocks:
        if done + len(block) > len(vectors):
            rows = max(2 * len(vectors), done + len(block), PREALLOCATE_BYTES // (4 * dim))
            vectors.resize((rows if wanted is None else min(wanted, rows), dim), refcheck=False)
        vectors[done:done + len(block)] = block
        done += len(block)
    vectors.resize((done, dim), refcheck=False)
    return vectors


def _parse_block(lines: list[bytes], dim: int, name: str,
                 first_line: int) -> tuple[list[bytes], np.ndarray]:
    """The words and the (len(lines), dim) values of a block of text lines.

    Fast path: one word, then ``dim`` single-space separated numbers on every line, parsed by
    one NumPy call. Any other block is read line by line by :func:`_split_line`, which either
    reads an unusual line (a word with spaces, several spaces between values) or names it.
    """
    parts = [line.rstrip().partition(b" ") for line in lines]
    values = [rest for _, _, rest in parts]
    if all(rest.count(b" ") == dim - 1 and rest for rest in values):
        parsed = _parse_floats(b" ".join(values))
        if parsed is not None and parsed.size == len(lines) * dim:
            return [word for word, _, _ in parts], parsed.reshape(len(lines), dim)
    pairs = [_split_line(line, dim, f"{name}: line {first_line + offset}")
             for offset, line in enumerate(lines)]
    return [word for word, _ in pairs], np.array([row for _, row in pairs], dtype=np.float32)


@functools.lru_cache(maxsize=8)
def _line_pattern(dim: int) -> re.Pattern:
    # The shortest word such that exactly dim space-separated fields follow it.
    return re.compile(rb"(.+?) ([^ ]+(?: +[^ ]+){%d})" % (dim - 1), re.DOTALL)


def _split_line(line: bytes, dim: int, where: str) -> tuple[bytes, list[float]]:
    """A line's word and values, or the error saying what is wrong with it."""
    body = line.rstrip()
    match = _line_pattern(dim).fullmatch(body)
    if match is None:
        fields = body.split(b" ")
        values = next((n for n in range(len(fields)) if not is_number(fields[-1 - n])),
                      len(fields))
        word = b" ".join(fields[:len(fields) - values])[:40].decode("utf-8", "replace")
        found = ("an empty line" if not body.strip() else
                 f"no word before {values} values" if not word else
                 f"{values} values after the word {word!r}")
        raise EmbedkitError(f"{where}: expected a word and {dim} values, found {found}")
    row = []
    for column, field in enumerate(match.group(2).split(), start=1):
        try:
            row.append(parse_number(field))
        except ValueError:
            shown = field[:30].decode("utf-8", "replace")
            raise EmbedkitError(f"{where}: {shown!r} is not a number (value {column} of "
                                f"{dim} after the word)") from None
    return match.group(1), row


def _parse_floats(text: bytes) -> np.ndarray | None:
    """Space-separated numbers parsed in C, or None when some field is not a number."""
    with warnings.catch_warnings():
        # NumPy reports a field it cannot parse by a warning (older) or an error (newer).
        warnings.simplefilter("error", DeprecationWarning)
        try:
            return np.fromstring(text, dtype=np.float32, sep=" ")
        except (ValueError, DeprecationWarning):
            return None


def read_binary(stream: IO[bytes], name: str, count: int, dim: int, errors: str, offset: int,
                collect: Callable[[Iterator[np.ndarray]], np.ndarray] | None = None
                ) -> tuple[list[str], np.ndarray, bytes, Sequence[int], int]:
    """Records are a word, a space and ``dim`` little-endian float32; returns the words, the
    matrix, the bytes read past the last record, the byte offset where each record starts
    (``offset`` is the header's size) and the byte offset of those bytes past the end.
    Words are decoded in NFC, :data:`DECODE_WORDS` at a time, so that the bytes of only so
    many are held beside the decoded ones.

    Each record's values are copied once, from the chunk just read into their row of one
    float32 matrix: no list of records, no joined copy. The matrix grows by doubling (from
    :data:`PREALLOCATE_BYTES`, never trusting a header's count for more) through
    ``ndarray.resize``, which the C library does by remapping pages rather than copying them,
    and is cut to the records read at the end; peak memory is the matrix, the words and one
    chunk. With ``collect`` (e.g. :func:`embedkit.streaming.gather`) the records are instead
    handed over in checked blocks of :data:`BINARY_CHUNK` bytes of values, and ``collect``
    joins them.
    """
    width = 4 * dim
    raw_words: list[bytes] = []  # not decoded yet: at most DECODE_WORDS
    words: list[str] = []
    starts = array.array("q")  # 8 bytes per record, a third of a list of ints
    buffer, pos = b"", 0

    def where(i: int) -> str:
        return f"vector {i + 1} (byte {starts[i]})"

    def decode() -> None:
        words.extend(decode_words(raw_words, name, errors, lambda i: where(len(words) + i),
                                  True))
        raw_words.clear()

    def blocks() -> Iterator[np.ndarray]:
        nonlocal buffer, pos, offset
        rows = max(1, (BINARY_CHUNK if collect else PREALLOCATE_BYTES) // width)
        vectors = np.empty((min(count, rows), dim), dtype="<f4")
        flat = vectors.reshape(-1).view(np.uint8).data
        first = 0  # the record in the first row of vectors
        for record in range(count):
            space = buffer.find(b" ", pos)
            while space < 0 or len(buffer) < space + 1 + width + 1:
                chunk = stream.read(BINARY_CHUNK)
                if not chunk:
                    break
                offset += pos
                buffer, pos = buffer[pos:] + chunk, 0
                space = buffer.find(b" ", pos)
            where = f"{name}: vector {record + 1} (byte {offset + pos})"
            if space < 0 or len(buffer) < space + 1 + width:
                raise EmbedkitError(f"{where}: file is truncated, expected a word, a space and "
                                    f"{dim} float32 values ({count} vectors in the header)")
            # The C tool writes a newline after each vector; some files put it before the word.
            word = buffer[pos:space].lstrip(b"\n")
            if not word or b"\n" in word:
                shown = word[:30].decode("utf-8", "replace")
                raise EmbedkitError(f"{where}: expected a word, found {shown!r}: the records do "
                                    f"not line up with the header's dimension {dim}")
            if record - first == len(vectors):
                flat.release()
                if collect:
                    yield _checked(vectors, name, first, starts)
                    first = record
                    vectors = np.empty((min(count - record, rows), dim), dtype="<f4")
                else:
                    vectors.resize((min(count, 2 * record), dim), refcheck=False)
                flat = vectors.reshape(-1).view(np.uint8).data
            starts.append(offset + pos)
            raw_words.append(word)
            if len(raw_words) == DECODE_WORDS:
                decode()
            at = (record - first) * width
            flat[at:at + width] = buffer[space + 1:space + 1 + width]
            pos = space + 1 + width
            if buffer[pos:pos + 1] == b"\n":
                pos += 1
        flat.release()
        vectors.resize((count - first, dim), refcheck=False)
        yield _checked(vectors, name, first, starts) if collect else vectors

    vectors = collect(blocks()) if collect else next(blocks())
    if raw_words:
        decode()
    return words, vectors.astype(np.float32, copy=False), buffer[pos:], starts, offset + pos


def _checked(vectors: np.ndarray, name: str, first: int, starts: Sequence[int]) -> np.ndarray:
    """A block of binary records whose first is record ``first``, checked (finite)."""
    return check_matrix(vectors.astype(np.float32, copy=False), name,
                        lambda row: f"vector {first + row + 1} (byte {starts[first + row]})",
                        allow_empty=True)


def write_binary(out: IO[bytes], words: list[str], vectors: np.ndarray) -> None:
    data = vectors.astype("<f4", copy=False)
    for start in range(0, len(words), TEXT_BLOCK):
        block = data[start:start + TEXT_BLOCK]
        out.write(b"".join(word.encode() + b" " + row.tobytes() + b"\n"
                           for word, row in zip(words[start:start + TEXT_BLOCK], block,
                                                strict=True)))


def write_text(out: IO[bytes], words: list[str], vectors: np.ndarray) -> None:
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


def check_words(words: Sequence[str], binary: bool) -> str | None:
    """Why some word cannot be written in word2vec text (or binary) format, or None.

    Text fields are separated by the ASCII space and lines by the newline, and the reader takes
    the last ``dim`` fields as the vector, so a text word may hold anything but a newline; a
    binary word ends at its first space.
    """
    if not all(words):
        return f"an empty word (row {list(words).index('') + 1})"
    joined = "\0".join(words)
    for character, what in (("\n", "a newline"), (" ", "an ASCII space"))[:2 if binary else 1]:
        if character in joined:
            row = next(i for i, word in enumerate(words) if character in word)
            return f"the word {words[row]!r} (row {row + 1}), which holds {what}"
    return None
