"""Reading NumPy ``.npy`` files and ``.npz`` archives without trusting their headers.

A ``.npy`` header announces a shape and dtype; NumPy allocates what it announces before reading,
so one damaged byte can ask for terabytes. Here every header is checked against the bytes that
actually follow before anything is allocated, object arrays (pickles) are refused, and every
kind of damage becomes one :class:`~embedkit.errors.EmbedkitError` naming the file, and for an
archive the member (``file.npz[vectors]``).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import tokenize
import zipfile
import zlib
from collections.abc import Iterator
from typing import IO

import numpy as np

from embedkit.errors import EmbedkitError
from embedkit.io import describe, open_input, regular_file
from embedkit.streaming import FILE_IDENTITY

_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0,
                   (2, 0): np.lib.format.read_array_header_2_0}
#: What NumPy and zipfile raise on damaged input: bad zip structures and offsets, corrupt
#: compressed data, headers (parsed by ``ast``/``tokenize``), encrypted (RuntimeError) or
#: unknown-method (NotImplementedError) members.
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, TypeError,
            SyntaxError, tokenize.TokenError, NotImplementedError, RuntimeError)
_CHUNK = 1 << 24
_LOCAL_HEADER = 30  # bytes of a zip local file header before its name and extra field


@contextlib.contextmanager
def _damage(where: str, what: str) -> Iterator[None]:
    """Turn what damaged input raises inside the block into ``<where>: <what> (<reason>)``."""
    try:
        yield
    except EmbedkitError:
        raise
    except _DAMAGED as exc:
        raise EmbedkitError(f"{where}: {what} ({exc})") from None


def _read_header(stream: IO[bytes], where: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Shape, Fortran order and dtype from the header at the start of ``stream``, which is
    left at the first data byte."""
    with _damage(where, "not a readable NumPy file"):
        version = np.lib.format.read_magic(stream)
        if version not in _HEADER_READERS:
            raise ValueError(f"unsupported format version {version}")
        shape, fortran, dtype = _HEADER_READERS[version](stream)
    if dtype.hasobject or dtype.itemsize == 0:
        raise EmbedkitError(f"{where}: arrays of dtype {dtype} are not supported, expected "
                            "numbers")
    return shape, fortran, dtype


def _check_size(shape: tuple[int, ...], dtype: np.dtype, available: int, where: str) -> int:
    """The element count of ``shape``, if its data fills exactly the ``available`` bytes."""
    count = math.prod(shape)
    if min(shape, default=0) < 0 or count * dtype.itemsize != available:
        raise EmbedkitError(f"{where}: the header announces shape {shape} of {dtype} "
                            f"({count * dtype.itemsize} bytes) but {available} bytes follow "
                            "(truncated or damaged file)")
    return count


def parse_npy(raw: bytes | bytearray, where: str) -> np.ndarray:
    """The array in the bytes of a ``.npy`` file.

    Parameters
    ----------
    raw : bytes or bytearray
        The whole file. A ``bytearray`` is used in place (the array is a writable view of
        it); ``bytes`` are copied so that the result is writable, as ``np.load`` gives.
    where : str
        The file as named in messages.

    Raises
    ------
    EmbedkitError
        For a damaged or unsupported header, object arrays, or data that does not match the
        header's shape and dtype.
    """
    stream = io.BytesIO(raw)
    shape, fortran, dtype = _read_header(stream, where)
    offset = stream.tell()
    count = _check_size(shape, dtype, len(raw) - offset, where)
    values = np.frombuffer(raw, dtype, count, offset).reshape(shape,
                                                              order="F" if fortran else "C")
    return values if values.flags.writeable else values.copy()


def _read_all(stream: IO[bytes]) -> bytearray:
    """The rest of ``stream``, grown as data arrives (never from a size the file claims)."""
    data = bytearray()
    while chunk := stream.read(_CHUNK):
        data += chunk
    return data


def load_npy(path: str | os.PathLike, mmap: bool = False) -> np.ndarray:
    """Read the array in a ``.npy`` file (``-`` for stdin, ``.gz``/``.bz2`` decompressed).

    Parameters
    ----------
    path : str or path-like
    mmap : bool
        Memory-map the data read-only instead of reading it. Compressed files, pipes and
        empty arrays cannot be mapped and are read.

    Raises
    ------
    EmbedkitError
        For a missing file, or as :func:`parse_npy`.
    """
    where = describe(path)
    with open_input(path, binary=True) as stream:
        if not (mmap and regular_file(stream)):
            with _damage(where, "not a readable NumPy file"):
                raw = _read_all(stream)
            return parse_npy(raw, where)
        shape, fortran, dtype = _read_header(stream, where)
        offset = stream.tell()
        count = _check_size(shape, dtype, os.fstat(stream.fileno()).st_size - offset, where)
        if count == 0:
            return np.empty(shape, dtype)
        with _damage(where, "cannot memory-map"):
            return _mapped(stream, dtype, offset, shape, fortran)


class NpzArchive:
    """An open ``.npz`` archive whose arrays are read with checked headers.

    Use it as a context manager. Members are named without their ``.npy`` suffix; messages
    name them as ``<archive>[<member>]``.

    Parameters
    ----------
    source : str, path-like, bytes or bytearray
        The archive's file name or its whole content. Only archives opened by file name can
        memory-map members (:meth:`mapped`).
    where : str, optional
        The archive as named in messages (default: ``source``'s name).

    Raises
    ------
    EmbedkitError
        When ``source`` is not a readable zip archive.
    """

    def __init__(self, source: str | os.PathLike | bytes | bytearray,
                 where: str | None = None) -> None:
        archive: IO[bytes] | str
        if isinstance(source, (bytes, bytearray)):
            self.where, self._path = where or "<data>", None
            archive = io.BytesIO(source)
        else:
            self.where, self._path = where or describe(source), os.fspath(source)
            archive = self._path
        with _damage(self.where, "not a readable .npz archive"):
            self._zip = zipfile.ZipFile(archive)
        self._members = {name.removesuffix(".npy"): info for info in self._zip.infolist()
                         if (name := info.filename).endswith(".npy")}

    def __enter__(self) -> NpzArchive:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Close the archive."""
        self._zip.close()

    @property
    def names(self) -> list[str]:
        """The arrays in the archive, in stored order."""
        return list(self._members)

    def _member(self, name: str) -> zipfile.ZipInfo:
        if name not in self._members:
            raise EmbedkitError(f"{self.where}: no array {name!r} (has "
                                f"{', '.join(self._members) or 'none'})")
        return self._members[name]

    def read(self, name: str) -> np.ndarray:
        """The array ``name``, decompressed and CRC-checked.

        Raises
        ------
        EmbedkitError
            For an unknown name, a damaged member or a header that does not match its data.
        """
        member = self._member(name)
        where = f"{self.where}[{name}]"
        with _damage(where, "damaged archive member"), self._zip.open(member) as stream:
            raw = _read_all(stream)
        return parse_npy(raw, where)

    def mapped(self, name: str) -> np.ndarray:
        """The array ``name`` memory-mapped read-only; it must be stored uncompressed (as
        ``numpy.savez`` does) in an archive opened by file name.

        Raises
        ------
        EmbedkitError
            As :meth:`read`, and for a compressed member.
        """
        member = self._member(name)
        where = f"{self.where}[{name}]"
        if self._path is None:
            raise EmbedkitError(f"{where}: only an archive read from a file can be "
                                "memory-mapped")
        if member.compress_type != zipfile.ZIP_STORED:
            raise EmbedkitError(f"{self.where}: '{name}' is compressed and cannot be "
                                "memory-mapped (save with numpy.savez, not savez_compressed, "
                                "or drop mmap)", params=("mmap",))
        with _damage(where, "damaged archive member"):
            with self._zip.open(member) as stream:  # checks the member's local header
                shape, fortran, dtype = _read_header(stream, where)
                header_size = stream.tell()
            with open(self._path, "rb") as raw:
                raw.seek(member.header_offset + _LOCAL_HEADER - 4)
                lengths = raw.read(4)
                size = os.fstat(raw.fileno()).st_size
        offset = member.header_offset + _LOCAL_HEADER + header_size \
            + int.from_bytes(lengths[:2], "little") + int.from_bytes(lengths[2:], "little")
        available = min(member.file_size - header_size, size - offset)
        if _check_size(shape, dtype, available, where) == 0:
            return np.empty(shape, dtype)
        with _damage(where, "cannot memory-map"), open(self._path, "rb") as stream:
            return _mapped(stream, dtype, offset, shape, fortran)


def _mapped(stream: IO[bytes], dtype: np.dtype, offset: int, shape: tuple[int, ...],
            fortran: bool) -> np.memmap:
    """A read-only map of the array at ``offset`` in the open file ``stream``, which records
    the file's device and inode (:data:`embedkit.streaming.FILE_IDENTITY`): a reader opening
    the file by name again (:class:`embedkit.streaming.RowReader`) can then tell whether it is
    still the same file."""
    values = np.memmap(stream, dtype=dtype, mode="r", offset=offset, shape=shape,
                       order="F" if fortran else "C")
    status = os.fstat(stream.fileno())
    setattr(values, FILE_IDENTITY, (status.st_dev, status.st_ino))
    return values
