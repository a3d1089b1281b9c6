"""Reading and writing files the same way everywhere: ``-`` for stdin/stdout, ``.gz`` and
``.bz2`` by extension, and atomic writes so an interrupted run never leaves a truncated file."""

from __future__ import annotations

import bz2
import codecs
import contextlib
import dataclasses
import errno
import fcntl
import gzip
import io
import json
import math
import os
import re
import stat
import sys
import tempfile
import zlib
from collections.abc import Iterator, Sequence
from typing import IO, Any, Protocol, cast

import numpy as np

from embedkit.errors import EmbedkitError, ParameterError

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
        Text decoding settings (ignored when ``binary``). A UTF-8 text stream skips a
        leading byte-order mark (as Windows editors and Excel's "CSV UTF-8" write).

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
    else:
        if os.path.isdir(name):
            raise EmbedkitError(f"{name}: is a directory, expected a file")
        try:
            raw = open(name, "rb")
        except OSError as exc:
            raise unreadable(name, exc) from None
    stream: IO = _decompressed_input(raw, name, describe(path))
    if binary:
        return stream
    return _TextInput(stream, path, encoding=encoding, errors=errors)


def names_stdin(path: str | os.PathLike) -> bool:
    """Whether ``path`` reads this process's standard input: ``-``, or a name of the file or
    pipe on descriptor 0 (``/dev/stdin``, ``/dev/fd/0``, the file stdin was redirected from)."""
    name = os.fspath(path)
    if name == STDIO:
        return True
    try:
        return os.path.samestat(os.stat(name), os.fstat(0))
    except OSError:  # no such file, or no stdin
        return False


def check_stdin_once(paths: Sequence[str | os.PathLike]) -> None:
    """Refuse ``-`` (stdin) given more than once among ``paths``: stdin can be read once, and
    a file read twice would count its text twice.

    Raises
    ------
    ParameterError
        A usage error, naming how many times ``-`` was given.
    """
    times = [os.fspath(p) for p in paths].count(STDIO)
    if times > 1:
        raise ParameterError(f"'-' (stdin) given {times} times: stdin can be read only once; "
                             "give it once")


def unreadable(name: str, exc: OSError) -> EmbedkitError:
    """The one-line error for an input ``name`` (a path or URL) that failed to open."""
    if isinstance(exc, FileNotFoundError):
        return EmbedkitError(f"{name}: no such file")
    return EmbedkitError(f"{name}: cannot read ({exc.strerror or exc})")


#: The first bytes of gzip and bzip2 streams: stdin and pipes have no extension to tell them
#: by, and a file's name may not say.
GZIP_MAGIC = b"\x1f\x8b"
BZIP2_MAGIC = re.compile(rb"BZh[1-9]1AY&SY")


def compression_of(name: str, head: bytes) -> str | None:
    """``"gzip"`` or ``"bzip2"`` when an input named ``name`` (``-``: stdin) whose first bytes
    are ``head`` is compressed, else None: a ``.gz``/``.bz2`` suffix says so, and otherwise
    the magic number at the start (``zcat``-style: ``cat c.txt.gz | embedkit vocab -``, a
    gzip file named ``corpus``, ``<(gzip -c c.txt)``)."""
    if name.endswith(".gz"):
        return "gzip"
    if name.endswith(".bz2"):
        return "bzip2"
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if BZIP2_MAGIC.match(head):
        return "bzip2"
    return None


def is_stream(path: str | os.PathLike) -> bool:
    """Whether ``path`` can be read only once: stdin (``-``), a FIFO, a character device or a
    pipe named ``/dev/fd/N`` (bash's ``<(...)``). A regular file, a directory or a name that
    does not exist is not (opening it says what is wrong).
    """
    name = os.fspath(path)
    if name == STDIO:
        return True
    try:
        mode = os.stat(name).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def regular_file(stream: IO) -> bool:
    """Whether ``stream`` reads a regular file through its own descriptor (it can be mapped,
    and opened again by name): not a decompressing stream, stdin or a pipe."""
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except OSError:  # io.UnsupportedOperation for decompressing streams
        return False


def _decompressed_input(raw: IO[bytes], name: str, shown: str) -> IO[bytes]:
    """``raw``, opened from ``name`` (``-``: stdin), decompressed as :func:`compression_of`
    says. A regular file is peeked at and read from its start (it keeps its descriptor when
    not compressed, to be mapped); any other input (stdin, a pipe) is read once, its first
    bytes handed out again, and counted (:class:`_CountingReader`) so that an error can say
    where it is without reading it again. ``shown`` names it in errors."""
    regular = name != STDIO and regular_file(raw)
    head = raw.read(10)
    if regular:
        raw.seek(0)
        source = raw
    else:
        source = io.BufferedReader(Prefixed(head, raw), buffer_size=1 << 16)
    kind = compression_of(name, head)
    stream: IO[bytes] = source
    if kind == "gzip":
        stream = _decompressed(gzip.GzipFile(fileobj=source, mode="rb"), shown, source)
    elif kind == "bzip2":
        stream = _decompressed(bz2.BZ2File(source, "rb"), shown, source)
    return stream if regular else _CountingReader(stream)


class Prefixed(io.RawIOBase):
    """A stream that yields ``head`` (bytes already read from ``stream``, to tell its format)
    and then the rest of ``stream``."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self._head = memoryview(head)
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        data = self._stream.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self._stream.close()
        super().close()


class _CountingReader(io.BufferedReader):
    """A reader that counts the bytes and line ends it has handed out, so that an error in
    what it handed out last can say on which line and byte it is, even in a stream that
    cannot be read again (stdin)."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__(Prefixed(b"", stream), buffer_size=1 << 16)
        self.bytes_read = self.lines_read = 0
        self.last = b""

    def _seen(self, data: bytes) -> bytes:
        self.bytes_read += len(data)
        self.lines_read += data.count(_NEWLINE)
        self.last = data
        return data

    def read(self, size: int | None = -1) -> bytes:
        return self._seen(super().read(size))

    def read1(self, size: int = -1) -> bytes:
        return self._seen(super().read1(size))

    def where(self, data: bytes, start: int) -> str | None:
        """``line L, byte B`` of ``data[start]``, when ``data`` ends what was handed out last
        (a decoder's input: the last chunk, perhaps after a few bytes it held back)."""
        tail = min(len(data), len(self.last))
        if not tail or data[-tail:] != self.last[-tail:]:
            return None
        offset = self.bytes_read - len(data)
        line = self.lines_read - data.count(_NEWLINE) + data.count(_NEWLINE, 0, start) + 1
        return f"line {line}, byte {offset + start + 1}"


class _RawReadable(Protocol):
    def readinto(self, buffer: Any) -> int: ...

    def close(self) -> None: ...


def _decompressed(stream: _RawReadable, name: str, source: IO[bytes]) -> IO[bytes]:
    """A gzip/bz2 stream whose corrupt or truncated data raises an error naming the file;
    closing it closes ``source``, the compressed input it reads (which it does not own)."""
    return io.BufferedReader(_CheckedRaw(stream, name, source), buffer_size=1 << 16)


class _CheckedRaw(io.RawIOBase):
    def __init__(self, stream: _RawReadable, name: str, source: IO[bytes]) -> None:
        self._stream, self._name, self._source = stream, name, source

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
        self._source.close()
        super().close()


class _TextInput(io.TextIOWrapper):
    """A text stream whose undecodable bytes raise an error naming the file and line."""

    def __init__(self, stream: IO[bytes], path: str | os.PathLike, encoding: str,
                 errors: str) -> None:
        # utf-8-sig: UTF-8 that drops a byte-order mark at the start, and only there.
        utf8 = codecs.lookup(encoding).name == "utf-8"
        super().__init__(stream, encoding="utf-8-sig" if utf8 else encoding, errors=errors,
                         newline=None)
        # Positions are counted in the plain codec: utf-8-sig's would start after the mark.
        self._path, self._codec = path, "utf-8" if utf8 else encoding

    def read(self, size: int | None = -1) -> str:
        try:
            return super().read(size)
        except UnicodeDecodeError as exc:
            raise self._undecodable(exc) from None

    def readline(self, size: int = -1) -> str:  # type: ignore[override]  # typeshed: _IOBase
        try:
            return super().readline(size)
        except UnicodeDecodeError as exc:
            raise self._undecodable(exc) from None

    def __next__(self) -> str:  # type: ignore[override]  # typeshed: _IOBase
        try:
            return super().__next__()
        except UnicodeDecodeError as exc:
            raise self._undecodable(exc) from None

    def _undecodable(self, exc: UnicodeDecodeError) -> EmbedkitError:
        where = describe(self._path)
        if isinstance(self.buffer, _CountingReader):  # stdin or a pipe: not read again
            position = self.buffer.where(exc.object, exc.start)
            where = f"{where}: {position}" if position else where
        else:
            # The decoder works on large chunks; find the line by reading the file again.
            where = f"{where}: {_locate_undecodable(os.fspath(self._path), self._codec)}"
        return _not_valid(where, self._codec, exc)


def _not_valid(where: str, codec: str, exc: UnicodeDecodeError) -> EmbedkitError:
    return EmbedkitError(f"{where}: not valid {codec.upper()} text ({exc.reason})")


class UndecodableLines(EmbedkitError):
    """Undecodable bytes in a block of lines (:func:`decode_lines`).

    Attributes
    ----------
    lines : list of str
        The block's lines before the one holding the bad bytes, decoded: a reader that
        answers lines as they arrive still answers these before it stops.
    """

    def __init__(self, message: str, lines: list[str]) -> None:
        super().__init__(message)
        self.lines = lines


def decode_lines(block: bytes, name: str, line: int, offset: int) -> list[str]:
    """``block``, lines of UTF-8 text read from ``name`` in pieces (stdin answered as it
    arrives), decoded and split at its line feeds.

    Parameters
    ----------
    block : bytes
        Whole lines, without the line feed that ends the last.
    name : str
        The input, for errors (``<stdin>``).
    line, offset : int
        The number of the first line of ``block`` (from 1) and the bytes before it.

    Raises
    ------
    UndecodableLines
        For undecodable bytes, naming ``name`` and their line and byte, as :func:`open_input`
        does for whole files; it carries the lines before theirs, decoded.
    """
    try:
        return block.decode("utf-8").split("\n")
    except UnicodeDecodeError as exc:
        error = _not_valid(f"{name}: {_position(line, offset, block, exc.start)}", "utf-8", exc)
        good = block[:block.rfind(_NEWLINE, 0, exc.start) + 1]
        lines = good[:-1].decode("utf-8").split("\n") if good else []
        raise UndecodableLines(str(error), lines) from None


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


#: Device files live here: embedkit never creates or replaces a file below it (tests point it
#: elsewhere).
DEVICE_DIR = "/dev"

#: Names of this process's open descriptors: writing to one writes to that descriptor.
_DESCRIPTOR_NAME = re.compile(r"/dev/(?:std(out|err)|fd/(\d+))|/proc/(?:self|(\d+))/fd/(\d+)")

#: Symbolic links followed by hand before giving up (the kernel's own limit).
_MAX_LINKS = 40


@dataclasses.dataclass(frozen=True)
class OutputTarget:
    """Where and how an output path is written.

    Attributes
    ----------
    path : str
        The file to write: for a symbolic link, the file it leads to (so the link stays a link).
    descriptor : int or None
        This process's descriptor that ``path`` names (``/dev/stdout``, ``/dev/fd/N``,
        ``/proc/self/fd/N``, or a link to one); written to as it is.
    direct : bool
        Open and write in place, never through a temporary file and a rename: a descriptor,
        FIFO, character or block device. Otherwise (a regular file or a new name)
        the output is written beside ``path`` and renamed over it.
    """

    path: str
    descriptor: int | None = None
    direct: bool = False


def output_target(path: str | os.PathLike) -> OutputTarget:
    """How :func:`atomic_output` will write ``path`` (see :class:`OutputTarget`).

    Raises
    ------
    EmbedkitError
        When ``path`` is a directory, a Unix socket (which cannot be opened by name), a loop
        of symbolic links, or a compressed ``.npz`` (:func:`refuse_compressed_archive`), or
        writing it would create or replace a file below :data:`DEVICE_DIR` (only existing
        devices there are written to, in place).
    """
    name = os.fspath(path)
    if os.path.splitext(name)[0].lower().endswith(".npz"):
        refuse_compressed_archive(name, name)
    descriptor = _descriptor_named(name)
    if descriptor is not None:
        return OutputTarget(name, descriptor, direct=True)
    try:
        mode = os.stat(name).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # replacing the link would break the loop the user made
            raise EmbedkitError(f"{name}: is a loop of symbolic links, which leads to no file: "
                                "expected a file name to write") from None
        mode = None  # a new name, or a link to one
    if mode is not None and stat.S_ISDIR(mode):
        raise EmbedkitError(f"{name}: is a directory, expected a file name to write")
    if mode is not None and stat.S_ISSOCK(mode):
        raise EmbedkitError(f"{name}: is a Unix socket, which cannot be opened as a file: "
                            "expected a file, FIFO or device name (send the output to a socket "
                            "with a tool such as socat)")
    if mode is not None and not stat.S_ISREG(mode):
        return OutputTarget(name, direct=True)
    real = os.path.realpath(name)
    devices = os.path.realpath(DEVICE_DIR)
    if os.path.commonpath([real, devices]) == devices:
        raise EmbedkitError(f"{name}: will not create or replace a file in {DEVICE_DIR} "
                            f"(only devices there, such as {DEVICE_DIR}/null, are written to)")
    return OutputTarget(real)


def refuse_compressed_archive(name: str, shown: str,
                              reason: str = "an .npz is a zip archive already") -> None:
    """Refuse to write a file that cannot be compressed to ``name`` if it ends in
    ``.gz``/``.bz2``: by default an ``.npz`` (a zip archive is compressed already, and its
    writer seeks back, which a compressed stream cannot); ``reason`` says why for another
    kind of file.

    Raises
    ------
    EmbedkitError
        Naming ``shown``, ``reason`` and the suffix to drop.
    """
    suffix = os.path.splitext(name)[1]
    if suffix.lower() in (".gz", ".bz2"):
        raise EmbedkitError(f"{shown}: {reason}: drop the {suffix} suffix")


#: Suffixes that promise a kind of file: an output of another kind refuses them
#: (:func:`check_suffix`).
KNOWN_SUFFIXES = (".npz", ".npy", ".vec", ".txt", ".w2v", ".bin", ".csv", ".tsv", ".vocab",
                  ".json", ".jsonl", ".zip")


def check_suffix(path: str | os.PathLike | None, accepted: tuple[str, ...], what: str) -> None:
    """Refuse an output name whose suffix (after any ``.gz``/``.bz2``) promises another kind of
    file than ``what`` (``-o model.vec`` for an ``.npz`` model). A name without a suffix, with
    one of ``accepted`` or with one outside :data:`KNOWN_SUFFIXES` passes, as does stdout.

    Raises
    ------
    EmbedkitError
        Naming the path, what is written there and the suffixes it accepts.
    """
    if path is None or os.fspath(path) == STDIO:
        return
    name = os.fspath(path)
    base, compression = os.path.splitext(name)
    suffix = os.path.splitext(base)[1] if compression.lower() in (".gz", ".bz2") else compression
    if suffix.lower() in KNOWN_SUFFIXES and suffix.lower() not in accepted:
        names = ", ".join(accepted[:-1]) + " or " + accepted[-1] if len(accepted) > 1 \
            else accepted[0]
        raise EmbedkitError(f"{name}: {what}: expected a name ending in {names}, not "
                            f"{suffix.lower()}")


def _descriptor_named(name: str) -> int | None:
    """The descriptor ``name`` stands for, following symbolic links to such a name by hand
    (the kernel would resolve ``/proc/self/fd/1`` to the file behind it, or to nothing for a
    pipe or socket)."""
    for _ in range(_MAX_LINKS):
        match = _DESCRIPTOR_NAME.fullmatch(os.path.normpath(name))
        if match:
            stdio, fd, pid, proc_fd = match.groups()
            if pid is not None and int(pid) != os.getpid():
                return None
            return {"out": 1, "err": 2}[stdio] if stdio else int(fd or proc_fd)
        if not os.path.islink(name):
            return None
        name = os.path.join(os.path.dirname(name), os.readlink(name))
    return None


@contextlib.contextmanager
def _direct_output(target: OutputTarget, binary: bool, encoding: str) -> Iterator[IO]:
    """Write straight into a descriptor, FIFO or device (never renamed over)."""
    name = target.path
    try:
        if target.descriptor is not None:
            # Others may have written to the descriptor through Python's own streams first.
            for std in (sys.stdout, sys.stderr):
                with contextlib.suppress(AttributeError, OSError, ValueError):
                    std.flush()
            fd = os.dup(target.descriptor)
        else:
            fd = os.open(name, os.O_WRONLY | os.O_NOCTTY)
    except OSError as exc:
        raise EmbedkitError(f"{name}: cannot write ({exc.strerror or exc})") from None
    with _layers(_Writer(_Sequential(io.FileIO(fd, "wb")), name), name, binary,
                 encoding) as out:
        yield out


class _Sequential(io.RawIOBase):
    """``stream``, written front to back only: it offers no file position, so that an archive's
    writer (``numpy.savez``'s zipfile) streams instead of seeking back to fill in its offsets,
    which a pipe refuses and a device such as ``/dev/null`` answers with position 0 (the
    archive's offsets then came out negative: ``struct.error``). Closing it closes ``stream``
    only when ``owned``."""

    def __init__(self, stream: IO[bytes], owned: bool = True) -> None:
        self._stream, self._owned = stream, owned

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        total = view.nbytes
        while view:  # a raw file may take part of it (a pipe's write cut short by a signal)
            view = view[self._stream.write(view):]
        return total

    def flush(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        if not self.closed:
            super().close()
            if self._owned:
                self._stream.close()


@contextlib.contextmanager
def _layers(raw: IO[bytes], name: str, binary: bool, encoding: str) -> Iterator[IO]:
    """``raw``, compressed when ``name`` ends in ``.gz``/``.bz2`` (as :func:`open_input`
    decompresses it), and decoded as text unless ``binary``; everything closed at the end."""
    with contextlib.ExitStack() as stack:
        out: IO = stack.enter_context(raw)
        lowered = name.lower()
        if lowered.endswith(".gz"):  # mtime 0: the same data gives the same file
            out = stack.enter_context(cast(IO, gzip.GzipFile(fileobj=out, mode="wb", mtime=0)))
        elif lowered.endswith(".bz2"):
            out = stack.enter_context(cast(IO, bz2.BZ2File(out, mode="wb")))
        if not binary:
            out = stack.enter_context(io.TextIOWrapper(out, encoding=encoding, newline="\n"))
        yield out


#: Errors only a write can meet (a full disk or quota, a file too large): whatever raises them
#: inside an output's block failed to write that output, not to read an input.
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def cannot_write(name: str, exc: OSError) -> EmbedkitError:
    """The error for a failed write of ``name``: ``name: cannot write (reason)``."""
    return EmbedkitError(f"{name}: cannot write ({exc.strerror or exc})")


class _Writer(io.BufferedWriter):
    """A binary output whose failed writes (a full disk: ``-o /dev/full``) name the file
    instead of surfacing as a bare ``[Errno 28]``. A broken pipe stays one: the reader went
    away, which the CLI ends quietly.

    It hides its descriptor, so that writers such as ``numpy.save`` write through ``write()``
    rather than with ``tofile`` on the descriptor: a pipe is not asked for a file position it
    does not have, and a short write on a full disk is named here (``tofile`` says only how
    many bytes it wrote)."""

    def __init__(self, raw: io.RawIOBase, name: str) -> None:
        super().__init__(raw)
        self.name_for_errors = name

    @contextlib.contextmanager
    def _naming_errors(self) -> Iterator[None]:
        try:
            yield
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise cannot_write(self.name_for_errors, exc) from None

    def write(self, data) -> int:
        with self._naming_errors():
            return super().write(data)

    def flush(self) -> None:
        with self._naming_errors():
            super().flush()

    def close(self) -> None:
        with self._naming_errors():
            super().close()

    def fileno(self) -> int:
        raise io.UnsupportedOperation("written through write(): no file descriptor offered")


def write_scratch(out: IO[bytes], values: np.ndarray, what: str) -> None:
    """Append the bytes of ``values`` (C order) to ``out``, a scratch file in a temporary
    directory, and flush them (other processes may read it): through ``write``, not
    ``tofile``, whose short write on a full disk says neither what failed nor why.

    Raises
    ------
    EmbedkitError
        When the write fails, naming the file, ``what`` it holds, the reason, and TMPDIR.
    """
    try:
        out.write(np.ascontiguousarray(values).data)
        out.flush()
    except OSError as exc:
        raise EmbedkitError(f"{out.name}: cannot write {what} ({exc.strerror or exc}): "
                            "scratch files go to the directory TMPDIR names") from None


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike | None, binary: bool = False,
                  encoding: str = "utf-8") -> Iterator[IO]:
    """Write to ``path`` through a temporary file in the same directory, renamed on success.

    A name ending in ``.gz`` or ``.bz2`` is written compressed, whatever writes it (text or
    binary). ``None`` or ``"-"`` writes to stdout instead, uncompressed. If the block raises
    (including ``KeyboardInterrupt``) the temporary file is removed and ``path`` is left untouched.
    What is not a regular file is written in place, never renamed over (see
    :func:`output_target`): a FIFO, a device such as ``/dev/null``, ``/dev/stdout``,
    ``/dev/fd/N`` (``-o >(gzip > x.gz)``). A symbolic link to a regular file stays a link:
    the file it leads to is replaced.

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
        When the target directory is missing or not writable, or the path is refused by
        :func:`output_target`.
    """
    if path is None or os.fspath(path) == STDIO:
        stream = cast(IO, _Sequential(sys.stdout.buffer, owned=False)) if binary else sys.stdout
        try:
            yield stream
            stream.flush()
        except OSError as exc:  # stdout is Python's own stream: only a full disk is named
            if exc.errno in WRITE_ERRNOS:
                raise cannot_write("<stdout>", exc) from None
            raise
        return
    target = output_target(path)
    if target.direct:
        with _direct_output(target, binary, encoding) as out:
            yield out
        return
    name = target.path
    fd, tmp = _temporary(name)
    try:
        with _layers(_Writer(io.FileIO(fd, "wb"), os.fspath(path)), os.fspath(path), binary,
                     encoding) as out:
            yield out
        _replace(tmp, name, os.fspath(path))
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
    (stdout, or an output not asked for) and targets written in place (FIFOs, devices,
    descriptors: see :func:`output_target`) are yielded unchanged and are not held back.

    Raises
    ------
    EmbedkitError
        When a target directory is missing or not writable.
    """
    staged: list[tuple[str, str]] = []
    stand_ins: list[str | None] = []
    shown: dict[str, str] = {}  # stand-in: the name the user gave
    try:
        for path in paths:
            name = None if path is None else os.fspath(path)
            target = None if name is None or name == STDIO else output_target(name)
            if name is None or target is None or target.direct:
                stand_ins.append(name)
                continue
            fd, tmp = _temporary(target.path, suffix=f".{os.path.basename(name)}")
            os.close(fd)
            staged.append((tmp, target.path))
            stand_ins.append(tmp)
            shown[tmp] = name
        try:
            yield stand_ins
        except OSError as exc:  # numpy and others write the stand-ins themselves
            if exc.errno in WRITE_ERRNOS:
                written = [os.fspath(p) for p in paths if p is not None]
                raise cannot_write(", ".join(written), exc) from None
            raise
        except EmbedkitError as exc:  # a writer's error names the file the user asked for
            message = str(exc)
            for tmp, name in shown.items():
                message = message.replace(os.path.abspath(tmp), name).replace(tmp, name)
            if message == str(exc):
                raise
            raise EmbedkitError(message) from None
        for tmp, name in staged:
            _replace(tmp, name, shown[tmp])
    except BaseException:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise


def _replace(tmp: str, name: str, shown: str) -> None:
    """Rename the finished temporary file ``tmp`` over ``name`` (``shown`` in errors)."""
    try:
        os.replace(tmp, name)
    except OSError as exc:
        raise cannot_replace(shown, exc) from None


def cannot_replace(name: str, exc: OSError) -> EmbedkitError:
    """The error for an existing file ``name`` that cannot be replaced."""
    hint = "; is it immutable or append-only? see lsattr" if exc.errno == errno.EPERM else ""
    return EmbedkitError(f"{name}: cannot replace the file ({exc.strerror or exc}{hint})")


def _temporary(name: str, suffix: str = ".tmp") -> tuple[int, str]:
    """A new temporary file beside ``name`` (descriptor, path), or the error saying why not."""
    directory = os.path.dirname(os.path.abspath(name))
    if os.path.isdir(name):
        raise EmbedkitError(f"{name}: is a directory, expected a file name to write")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(name)}.", suffix=suffix,
                                   dir=directory)
    except OSError as exc:
        # ENOENT also from a directory refusing new files: /proc, /sys/kernel
        if isinstance(exc, FileNotFoundError) and not os.path.isdir(directory):
            raise EmbedkitError(f"{name}: directory {directory} does not exist") from None
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

    Call it before long work (training) so a bad output path costs nothing. For a file it
    creates and removes a temporary file beside it: permission bits alone cannot tell (root,
    read-only mounts, ACLs). Targets written in place are not opened (opening a FIFO would
    wait for a reader, and closing it would end the reader's input): a descriptor must be
    open for writing, a FIFO or device writable by permission.

    Raises
    ------
    EmbedkitError
        Naming the first path whose directory is missing or refuses new files, that
        cannot be written in place, or whose file cannot be replaced (immutable), or that
        names the file of an earlier path (the last written would replace the others).
    """
    files: dict[str, str] = {}  # each file written by renaming: the path that named it
    for path in paths:
        if path is None or os.fspath(path) == STDIO:
            continue
        target = output_target(path)
        if not target.direct and target.path in files:
            other = files[target.path]
            also = "" if other == os.fspath(path) else f" (through {other})"
            raise EmbedkitError(f"{os.fspath(path)}: given for two outputs{also}, the last "
                                "written would replace the other: give each its own file")
        files.setdefault(target.path, os.fspath(path))
        if target.descriptor is not None:
            try:
                writable = fcntl.fcntl(target.descriptor, fcntl.F_GETFL) & os.O_ACCMODE \
                    in (os.O_WRONLY, os.O_RDWR)
            except OSError:
                writable = False
            if not writable:
                raise EmbedkitError(f"{target.path}: descriptor {target.descriptor} is not "
                                    "open for writing")
        elif target.direct:
            if not os.access(target.path, os.W_OK):
                raise EmbedkitError(f"{target.path}: cannot write (permission denied)")
        else:
            fd, tmp = _temporary(target.path)
            os.close(fd)
            os.unlink(tmp)
            _check_replaceable(target.path, os.fspath(path))


def _check_replaceable(name: str, shown: str) -> None:
    """Fail if the existing file ``name`` refuses to be replaced whatever the permissions
    (an immutable or append-only file, ``chattr +i``/``+a``): opening it for writing, which
    changes nothing, fails with EPERM as the final rename would. Other failures (a read-only
    file, which a rename replaces all the same) pass."""
    try:
        fd = os.open(name, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except FileNotFoundError:
        return
    except OSError as exc:
        if exc.errno == errno.EPERM:
            raise cannot_replace(shown, exc) from None
        return
    os.close(fd)


#: Characters that would break a tab-separated row, and their escapes ("linear TSV").
_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def tsv_field(text: str) -> str:
    r"""``text`` as one field of a tab-separated row: a backslash, tab, line feed or carriage
    return inside it is written ``\\``, ``\t``, ``\n``, ``\r`` (a word in a vector file may
    hold them: words end at a space there).

    Returns
    -------
    str
    """
    return text.translate(_TSV_ESCAPES)


def to_json(value: Any, indent: int | None = None) -> str:
    """``value`` as strict JSON (RFC 8259), the text of every ``--json`` and ``--log-json``.

    JSON has no NaN or infinity: a non-finite number (an undefined correlation, a rate over
    no time) becomes ``null``. NumPy scalars and arrays become numbers and lists.

    Parameters
    ----------
    value : any
        Dicts, lists, tuples, strings, numbers, booleans, None, NumPy scalars and arrays.
    indent : int, optional
        As for :func:`json.dumps`.

    Raises
    ------
    TypeError
        For anything else (a bug of the caller, not bad input).
    """
    return json.dumps(_jsonable(value), indent=indent, allow_nan=False)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
