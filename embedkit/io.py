"""Reading and writing files the same way everywhere: ``-`` for stdin/stdout, ``.gz`` and
``.bz2`` by extension, and atomic writes so an interrupted run never leaves a truncated file."""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import os
import sys
import tempfile
import zlib
from collections.abc import Iterator
from typing import IO

from embedkit.errors import EmbedkitError

STDIO = "-"
_NEWLINE = b"\n"


def describe(path: str | os.PathLike) -> str:
    """The name used for ``path`` in error messages (``<stdin>`` for ``-``, or the ``label``
    attribute of a path that stands for something else, such as a spooled stdin)."""
    label = getattr(path, "label", None)
    return label or ("<stdin>" if os.fspath(path) == STDIO else os.fspath(path))


def open_input(path: str | os.PathLike, binary: bool = False, encoding: str = "utf-8",
               errors: str = "strict") -> IO:
    """Open ``path`` for reading, decompressing ``.gz``/``.bz2`` and mapping ``-`` to stdin.

    Parameters
    ----------
    path : str or path-like
        File name, or ``"-"`` for standard input.
    binary : bool
        Return a binary stream instead of text.
    encoding, errors : str
        Text decoding settings (ignored when ``binary``).

    Returns
    -------
    IO
        A readable stream; closing it never closes the process's stdin.

    Raises
    ------
    EmbedkitError
        When the file is missing, is a directory or cannot be read; later, while reading,
        for corrupt compressed data and (text, ``errors="strict"``) for undecodable bytes,
        naming the file and the line and byte.
    """
    name = os.fspath(path)
    if name == STDIO:
        raw = os.fdopen(os.dup(sys.stdin.fileno()), "rb") if _has_fileno(sys.stdin) \
            else sys.stdin.buffer
        stream: IO = raw
    else:
        if os.path.isdir(name):
            raise EmbedkitError(f"{name}: is a directory, expected a file")
        try:
            if name.endswith(".gz"):
                stream = _decompressed(gzip.open(name, "rb"), describe(path))
            elif name.endswith(".bz2"):
                stream = _decompressed(bz2.open(name, "rb"), describe(path))
            else:
                stream = open(name, "rb")
        except FileNotFoundError:
            raise EmbedkitError(f"{name}: no such file") from None
        except OSError as exc:
            raise EmbedkitError(f"{name}: cannot read ({exc.strerror or exc})") from None
    if binary:
        return stream
    return _TextInput(stream, path, encoding=encoding, errors=errors, newline=None)


def _decompressed(stream: IO[bytes], name: str) -> IO[bytes]:
    """A gzip/bz2 stream whose corrupt or truncated data raises an error naming the file."""
    return io.BufferedReader(_CheckedRaw(stream, name), buffer_size=1 << 16)


class _CheckedRaw(io.RawIOBase):
    def __init__(self, stream: IO[bytes], name: str) -> None:
        self._stream, self._name = stream, name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            return self._stream.readinto(buffer)
        except (EOFError, OSError, zlib.error) as exc:
            raise EmbedkitError(f"{self._name}: corrupt or truncated compressed file "
                                f"({exc})") from None

    def close(self) -> None:
        self._stream.close()
        super().close()


class _TextInput(io.TextIOWrapper):
    """A text stream whose undecodable bytes raise an error naming the file and line."""

    def __init__(self, stream: IO[bytes], path: str | os.PathLike, **kwargs) -> None:
        super().__init__(stream, **kwargs)
        self._path = path

    def read(self, size: int | None = -1) -> str:
        try:
            return super().read(size)
        except UnicodeDecodeError as exc:
            raise self._undecodable(exc) from None

    def readline(self, size: int = -1) -> str:
        try:
            return super().readline(size)
        except UnicodeDecodeError as exc:
            raise self._undecodable(exc) from None

    def __next__(self) -> str:
        try:
            return super().__next__()
        except UnicodeDecodeError as exc:
            raise self._undecodable(exc) from None

    def _undecodable(self, exc: UnicodeDecodeError) -> EmbedkitError:
        where = describe(self._path)
        if os.fspath(self._path) != STDIO:
            # The decoder works on large chunks; find the line by reading the file again.
            where = f"{where}: {_locate_undecodable(os.fspath(self._path), self.encoding)}"
        return EmbedkitError(f"{where}: not valid {self.encoding.upper()} text "
                             f"({exc.reason})")


def _locate_undecodable(path: str, encoding: str) -> str:
    """Where the first byte of ``path`` that ``encoding`` cannot decode is: ``line L, byte B``
    (both counted from 1), or ``"end of file"`` for an incomplete last character."""
    line, offset, carry = 1, 0, b""
    with open_input(path, binary=True) as stream:
        while block := stream.read(1 << 20):
            block = carry + block
            # Lines are decoded whole: no character spans a line end in these encodings.
            cut = block.rfind(_NEWLINE) + 1
            block, carry = block[:cut], block[cut:]
            try:
                block.decode(encoding)
            except UnicodeDecodeError as exc:
                return _position(line, offset, block, exc.start)
            line += block.count(_NEWLINE)
            offset += len(block)
    try:
        carry.decode(encoding)
    except UnicodeDecodeError as exc:
        return _position(line, offset, carry, exc.start)
    return "end of file"


def _position(line: int, offset: int, block: bytes, start: int) -> str:
    return f"line {line + block.count(_NEWLINE, 0, start)}, byte {offset + start + 1}"


def _has_fileno(stream: IO) -> bool:
    try:
        stream.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return False
    return True


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike | None, binary: bool = False,
                  encoding: str = "utf-8") -> Iterator[IO]:
    """Write to ``path`` through a temporary file in the same directory, renamed on success.

    ``None`` or ``"-"`` writes to stdout instead. If the block raises (including
    ``KeyboardInterrupt``) the temporary file is removed and ``path`` is left untouched.

    Parameters
    ----------
    path : str, path-like or None
        Destination, or ``None``/``"-"`` for standard output.
    binary : bool
        Yield a binary stream instead of a text one.
    encoding : str
        Text encoding when not ``binary``.

    Raises
    ------
    EmbedkitError
        When the target directory is missing or not writable.
    """
    if path is None or os.fspath(path) == STDIO:
        stream = sys.stdout.buffer if binary else sys.stdout
        yield stream
        stream.flush()
        return
    name = os.fspath(path)
    fd, tmp = _temporary(name)
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else
                                                        {"encoding": encoding,
                                                         "newline": "\n"})) as out:
            yield out
        os.replace(tmp, name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_outputs(*paths: str | os.PathLike | None) -> Iterator[list[str | None]]:
    """Write several files that land together: all of them, or none.

    Yields one stand-in per path for the block to write to, with any writer (each may use
    :func:`atomic_output` itself): a temporary file beside the path, ending in the path's
    name so that writers choosing a format by extension choose the same one. When the block
    succeeds every stand-in is renamed to its path; when it raises (including
    ``KeyboardInterrupt``) all of them are removed and no path is touched. ``None`` and ``-``
    (stdout, or an output not asked for) are yielded unchanged and are not held back.

    Raises
    ------
    EmbedkitError
        When a target directory is missing or not writable.
    """
    staged: list[tuple[str, str]] = []
    try:
        for path in paths:
            if path is not None and os.fspath(path) != STDIO:
                name = os.fspath(path)
                fd, tmp = _temporary(name, suffix=f".{os.path.basename(name)}")
                os.close(fd)
                staged.append((tmp, name))
        stand_ins = iter(tmp for tmp, _ in staged)
        yield [path if path is None or os.fspath(path) == STDIO else next(stand_ins)
               for path in paths]
        for tmp, name in staged:
            os.replace(tmp, name)
    except BaseException:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise


def _temporary(name: str, suffix: str = ".tmp") -> tuple[int, str]:
    """A new temporary file beside ``name`` (descriptor, path), or the error saying why not."""
    directory = os.path.dirname(os.path.abspath(name))
    if os.path.isdir(name):
        raise EmbedkitError(f"{name}: is a directory, expected a file name to write")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(name)}.", suffix=suffix,
                                   dir=directory)
    except FileNotFoundError:
        raise EmbedkitError(f"{name}: directory {directory} does not exist") from None
    except OSError as exc:
        raise EmbedkitError(f"{name}: cannot write in {directory} ({exc.strerror or exc})") \
            from None
    # mkstemp creates the file 0600; give it the mode a plain open() would have.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    return fd, tmp


def check_writable(*paths: str | os.PathLike | None) -> None:
    """Fail now, with the error :func:`atomic_output` would give later, if a file cannot be
    written at any of ``paths`` (``None`` and ``-`` are stdout and always pass).

    Call it before long work (training) so a bad output path costs nothing. It creates and
    removes a temporary file beside each path: permission bits alone cannot tell (root,
    read-only mounts, ACLs).

    Raises
    ------
    EmbedkitError
        Naming the first path whose directory is missing or refuses new files.
    """
    for path in paths:
        if path is None or os.fspath(path) == STDIO:
            continue
        fd, tmp = _temporary(os.fspath(path))
        os.close(fd)
        os.unlink(tmp)
