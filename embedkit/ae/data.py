"""Reading the matrices autoencoders train on, and writing codes and reconstructions.

Input formats, by extension: ``.npy``; ``.npz`` (``key`` names the array, needed when there
are several; an archive with ``words`` and ``vectors`` is read as word vectors); ``.csv`` and
``.tsv`` (a header line is detected and skipped); word2vec vector files ``.vec``/``.bin``
(optionally ``.gz``/``.bz2``), whose words are kept so codes can be written as vectors too;
anything else is read as delimited text. ``-`` reads standard input (NumPy or delimited text,
recognised by content). Every reader ends with :func:`check_matrix`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from embedkit.errors import EmbedkitError
from embedkit.io import STDIO, atomic_output, describe, open_input
from embedkit.npyfile import NpzArchive, parse_npy
from embedkit.vectors.formats import load_vectors, save_vectors

VECTOR_EXTENSIONS = (".vec", ".bin", ".w2v")
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"


@dataclass
class Matrix:
    """A data matrix and, for word vectors, the word of each row."""

    values: np.ndarray
    words: list[str] | None = None


def _extension(path: str) -> str:
    name = path.lower()
    for suffix in (".gz", ".bz2"):
        name = name.removesuffix(suffix)
    return os.path.splitext(name)[1]


def read_matrix(path: str | os.PathLike, key: str | None = None) -> Matrix:
    """Read a 2-D matrix of finite numbers from ``path`` (see the module docstring).

    Raises
    ------
    EmbedkitError
        One line naming the file (and line, row or field) for a missing or unreadable file,
        a ragged or non-numeric text row, a 1-D or empty array, NaN or infinity.
    """
    name = os.fspath(path)
    extension = _extension(name)
    if extension in VECTOR_EXTENSIONS:
        kv = load_vectors(name)
        return Matrix(check_matrix(np.asarray(kv.vectors), describe(name)), list(kv.words))
    with open_input(name, binary=True) as stream:
        raw = stream.read()
    where = describe(name)
    if extension == ".npy" or (name == STDIO and raw.startswith(_NPY_MAGIC)):
        return Matrix(check_matrix(parse_npy(raw, where), where))
    if extension == ".npz" or (name == STDIO and raw.startswith(_ZIP_MAGIC)):
        return _read_npz(raw, where, key)
    delimiter = {".csv": ",", ".tsv": "\t"}.get(extension)
    return Matrix(_read_delimited(raw, where, delimiter))


def _read_npz(raw: bytes, where: str, key: str | None) -> Matrix:
    with NpzArchive(raw, where) as archive:
        names = archive.names
        if key is None and {"words", "vectors"} <= set(names):
            words = archive.read("words")
            if words.ndim != 1 or words.dtype.kind != "U":
                raise EmbedkitError(f"{where}[words]: expected a 1-D array of strings, got "
                                    f"{words.dtype} of shape {words.shape}")
            vectors = check_matrix(archive.read("vectors"), where)
            if len(words) != len(vectors):
                raise EmbedkitError(f"{where}: {len(words)} words but {len(vectors)} vectors")
            return Matrix(vectors, words.tolist())
        if key is None and len(names) != 1:
            raise EmbedkitError(f"{where}: holds {len(names)} arrays "
                                f"({', '.join(names) or 'none'}); name one with --key")
        name = key or names[0]
        return Matrix(check_matrix(archive.read(name), f"{where}[{name}]"))


def _read_delimited(raw: bytes, where: str, delimiter: str | None) -> np.ndarray:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise EmbedkitError(f"{where}: line {line}, byte "
                            f"{exc.start + 1}: not valid UTF-8 text ({exc.reason})") from None
    lines = text.splitlines()
    numbers = [i for i, line in enumerate(lines) if line.strip() and not line.startswith("#")]
    if not numbers:
        raise EmbedkitError(f"{where}: no data rows")
    first = lines[numbers[0]]
    if delimiter is None:
        delimiter = "\t" if "\t" in first else "," if "," in first else None
    if not _numeric(first.split(delimiter)):
        numbers = numbers[1:]  # a header line
    rows = [lines[i] for i in numbers]
    if not rows:
        raise EmbedkitError(f"{where}: a header but no data rows")
    try:
        values = np.loadtxt(rows, delimiter=delimiter, dtype=np.float64, ndmin=2,
                            comments=None)
    except ValueError:
        _explain_bad_row(rows, numbers, delimiter, where)
        raise
    line_of_row = np.asarray(numbers) + 1
    return check_matrix(values, where, lambda row: f"line {line_of_row[row]}")


def _numeric(fields: list[str]) -> bool:
    try:
        [float(f) for f in fields]
    except ValueError:
        return False
    return True


def _explain_bad_row(rows: list[str], numbers: list[int], delimiter: str | None,
                     where: str) -> None:
    """Raise the one-line error for the first ragged or non-numeric row."""
    width = len(rows[0].split(delimiter))
    for row, number in zip(rows, numbers, strict=True):
        fields = row.split(delimiter)
        if len(fields) != width:
            raise EmbedkitError(f"{where}: line {number + 1}: {len(fields)} fields, expected "
                                f"{width} like line {numbers[0] + 1}")
        for j, field in enumerate(fields):
            try:
                float(field)
            except ValueError:
                raise EmbedkitError(f"{where}: line {number + 1}, field {j + 1}: {field!r} is "
                                    "not a number") from None


def check_matrix(values, where: str, row_name=lambda row: f"row {row + 1}") -> np.ndarray:
    """``values`` as a 2-D float array with at least one row and column, all finite.

    Parameters
    ----------
    values : array-like
    where : str
        The file name for messages.
    row_name : callable
        Maps a row index to how messages name it (e.g. a line number in a text file).

    Raises
    ------
    EmbedkitError
        Naming the first NaN or infinite entry, or the wrong shape.
    """
    array = np.asarray(values)
    if array.ndim != 2:
        raise EmbedkitError(f"{where}: expected a 2-D matrix (rows × features), got a "
                            f"{array.ndim}-D array of shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise EmbedkitError(f"{where}: empty matrix of shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise EmbedkitError(f"{where}: expected real numbers, got dtype {array.dtype}")
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    finite = np.isfinite(array)
    if not finite.all():
        row, column = np.argwhere(~finite)[0]
        raise EmbedkitError(f"{where}: {row_name(row)}, column {column + 1}: "
                            f"{array[row, column]}; expected finite numbers")
    return array


def output_format(path: str | os.PathLike | None, words: list[str] | None = None) -> str:
    """How :func:`write_matrix` will write to ``path``: ``"stdout"`` (CSV), ``"vectors"``,
    ``"csv"`` or ``"npy"`` (call it before long work to fail early).

    Raises
    ------
    EmbedkitError
        For an unknown extension, or a word vector file without ``words``.
    """
    if path is None or os.fspath(path) == STDIO:
        return "stdout"
    extension = _extension(os.fspath(path))
    if extension in VECTOR_EXTENSIONS and words is None:
        raise EmbedkitError(f"{path}: word vector output needs word vectors as input")
    if extension not in (*VECTOR_EXTENSIONS, ".csv", ".npy"):
        raise EmbedkitError(f"{path}: expected a .npy, .csv or word vector (.vec, .bin) "
                            "file name")
    return "vectors" if extension in VECTOR_EXTENSIONS else extension[1:]


def write_matrix(path: str | os.PathLike | None, values: np.ndarray,
                 words: list[str] | None = None) -> None:
    """Write ``values`` atomically in the :func:`output_format` of ``path``: ``.npy``; a
    word2vec file (``.vec``, ``.bin``, …) when ``words`` are given; CSV to stdout for None
    or ``-``."""
    fmt = output_format(path, words)
    if fmt == "vectors":
        save_vectors(path, words, np.asarray(values, dtype=np.float32))
    elif fmt == "npy":
        with atomic_output(path, binary=True) as out:
            np.save(out, values)
    else:
        with atomic_output(None if fmt == "stdout" else path) as out:
            np.savetxt(out, values, delimiter=",", fmt="%.9g")
