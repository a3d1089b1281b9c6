"""Corpus files cut into line-aligned byte ranges, each read on its own (by a cluster's workers).

A range ``[start, stop)`` of a plain file holds the lines that *start* in it: its reader skips
to the first line start at or after ``start`` and reads on past ``stop`` to the end of the
line it is in. Cutting needs only the file sizes, never the text, and consecutive ranges hold
every line exactly once. Compressed files (``.gz``, ``.bz2``, or gzip/bzip2 data by their
first bytes) cannot be entered in the middle: each is one range. Paths with ``://`` are
fsspec URLs (``s3://``, ``gs://``, ``file://``..., where the user has installed the backend).

A range's text blocks are those :func:`~embedkit.text.corpus.iter_text_blocks` would give for
the same lines (UTF-8, a byte-order mark dropped at the file start, universal newlines, a line
end added at the end of the file), so counts and ids read range by range equal a single pass.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import IO, NamedTuple

from embedkit.errors import EmbedkitError
from embedkit.io import compression_of, open_input, unreadable
from embedkit.text.corpus import DEFAULT_CHUNK_CHARS

#: Bytes per range of a plain file: large enough that opening a range costs nothing beside
#: reading it, small enough that a few hundred MB of text make several ranges per worker.
DEFAULT_RANGE_BYTES = 64 << 20

_COMPRESSED = (".gz", ".bz2")
_BOM = b"\xef\xbb\xbf"


class ByteRange(NamedTuple):
    """Lines of ``path`` starting in bytes ``start:stop`` (``stop`` None: to the end)."""

    path: str
    start: int
    stop: int | None


def is_url(path: str) -> bool:
    """Whether ``path`` is an fsspec URL rather than a local path."""
    return "://" in path


def is_compressed(path: str) -> bool:
    """Whether ``path`` is read whole (a compressed file): a URL by its suffix, a local file
    as :func:`~embedkit.io.open_input` tells it (its suffix, else its first bytes)."""
    if is_url(path):
        return path.endswith(_COMPRESSED)
    try:
        with open(path, "rb") as raw:
            head = raw.read(10)
    except OSError:  # opening it again says why
        return path.endswith(_COMPRESSED)
    return compression_of(path, head) is not None


@contextlib.contextmanager
def open_bytes(path: str) -> Iterator[IO[bytes]]:
    """``path`` opened for binary reading, decompressed; URLs through fsspec.

    Raises
    ------
    EmbedkitError
        When the file is missing or cannot be read, or fsspec lacks the URL's backend.
    """
    if not is_url(path):
        with open_input(path, binary=True) as stream:
            yield stream
        return
    try:
        import fsspec
        stream = fsspec.open(path, "rb", compression="infer").open()
    except (ImportError, ValueError) as exc:
        raise EmbedkitError(f"{path}: cannot open this URL ({exc})") from None
    except OSError as exc:
        raise unreadable(path, exc) from None
    with stream:
        yield stream


def file_size(path: str) -> int | None:
    """The size of ``path`` in bytes, or None for a compressed file (read whole); opens it,
    so a file that cannot be read fails here.

    Raises
    ------
    EmbedkitError
        As :func:`open_bytes`.
    """
    with open_bytes(path) as stream:
        if is_compressed(path):
            return None
        return stream.seek(0, os.SEEK_END)


def split_ranges(path: str, size: int | None, range_bytes: int = DEFAULT_RANGE_BYTES
                 ) -> list[ByteRange]:
    """Cut a file of ``size`` bytes (None: compressed, one range) into ranges of about
    ``range_bytes``; an empty file gives no range."""
    if size is None:
        return [ByteRange(path, 0, None)]
    count = -(-size // max(1, range_bytes))
    cuts = [size * i // count for i in range(count + 1)]
    return [ByteRange(path, a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def iter_range_blocks(piece: ByteRange, chunk_bytes: int = DEFAULT_CHUNK_CHARS
                      ) -> Iterator[str]:
    """Yield the text of the lines starting in ``piece``, in blocks of about ``chunk_bytes``
    ending at a line end (inside a longer line, at a space or tab).

    Raises
    ------
    EmbedkitError
        When the file cannot be read or is not UTF-8 (naming the file and byte).
    """
    with open_bytes(piece.path) as stream:
        position = 0  # bytes of the file read (decompressed streams cannot tell)
        if piece.start:
            stream.seek(piece.start - 1)
            position = piece.start - 1 + len(stream.readline())  # the first line start
        carry, closed, first = b"", True, not piece.start
        while piece.stop is None or position < piece.stop:
            data = stream.read(chunk_bytes if piece.stop is None
                               else min(chunk_bytes, piece.stop - position))
            if not data:
                break
            position += len(data)
            if piece.stop is not None and position >= piece.stop and not data.endswith(b"\n"):
                rest = stream.readline()  # the line that started before stop
                data, position = data + rest, position + len(rest)
            if first and data.startswith(_BOM):
                data = data[len(_BOM):]
            first = False
            block = carry + data
            cut = block.rfind(b"\n") + 1 or max(block.rfind(b" "), block.rfind(b"\t")) + 1
            carry = block[cut:]
            if cut:
                closed = block[cut - 1:cut] == b"\n"
                yield _decode(block[:cut], piece, position - len(block))
        if carry or not closed:
            yield _decode(carry, piece, position - len(carry)) + "\n"


def _decode(block: bytes, piece: ByteRange, offset: int) -> str:
    """UTF-8 text with universal newlines, as :func:`~embedkit.io.open_input` reads it."""
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = f"byte {offset + exc.start + 1}" + (" of the decompressed text"
                                                    if is_compressed(piece.path) else "")
        raise EmbedkitError(f"{piece.path}: {where}: not valid UTF-8 text ({exc.reason})"
                            ) from None
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text
