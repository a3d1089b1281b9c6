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
from collections.abc import Iterator
from typing import IO

from embedkit.errors import EmbedkitError

STDIO = "-"


def describe(path: str | os.PathLike) -> str:
    """The name used for ``path`` in error messages (``<stdin>`` for ``-``)."""
    return "<stdin>" if os.fspath(path) == STDIO else os.fspath(path)


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
        When the file is missing, is a directory or cannot be read.
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
                stream = gzip.open(name, "rb")
            elif name.endswith(".bz2"):
                stream = bz2.open(name, "rb")
            else:
                stream = open(name, "rb")
        except FileNotFoundError:
            raise EmbedkitError(f"{name}: no such file") from None
        except OSError as exc:
            raise EmbedkitError(f"{name}: cannot read ({exc.strerror or exc})") from None
    if binary:
        return stream
    return io.TextIOWrapper(stream, encoding=encoding, errors=errors, newline=None)


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
    directory = os.path.dirname(os.path.abspath(name))
    if os.path.isdir(name):
        raise EmbedkitError(f"{name}: is a directory, expected a file name to write")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(name)}.", suffix=".tmp",
                                   dir=directory)
    except FileNotFoundError:
        raise EmbedkitError(f"{name}: directory {directory} does not exist") from None
    except OSError as exc:
        raise EmbedkitError(f"{name}: cannot write in {directory} ({exc.strerror or exc})") \
            from None
    try:
        # mkstemp creates the file 0600; give it the mode a plain open() would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else
                                                        {"encoding": encoding,
                                                         "newline": "\n"})) as out:
            yield out
        os.replace(tmp, name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
