"""Delimited text matrices (CSV, TSV, whitespace) and the checks every matrix passes."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import IO

import numpy as np

from embedkit import streaming
from embedkit.errors import EmbedkitError

#: What encloses a quoted field (RFC 4180 CSV; pandas' and Excel's quoting).
QUOTE = '"'

#: Bytes of text parsed per block by :func:`iter_delimited` (whole lines, about this many).
BLOCK_TEXT_BYTES = 8 * 2**20


def iter_delimited(stream: IO[bytes], where: str, delimiter: str | None,
                   header: bool | None = None, block_bytes: int | None = None
                   ) -> Iterator[np.ndarray]:
    """The numbers of a delimited text file (``delimiter`` None: tab, comma or whitespace, as
    the first data line shows), as float64 row blocks of about ``block_bytes`` of text each
    (default :data:`BLOCK_TEXT_BYTES`): memory is one block of lines, whatever the file's size.

    Lines starting with ``#`` and blank lines are skipped, as is a leading UTF-8 byte-order
    mark. A field in double quotes is its text (RFC 4180, as pandas and Excel write with
    quoting): ``"1.5"`` is a number. With ``header`` None the first line is a header only when
    none of its fields is a number: a first line with numbers and a missing value is data,
    and gets the error any other line would. True: the first line is a header whatever it
    holds (pandas writes column numbers there: ``,0,1,2``); False: it is data. Every block is
    checked (:func:`check_matrix`) before it is yielded, so an error comes after the blocks
    before the bad line, naming that line.

    Raises
    ------
    EmbedkitError
        Naming the line and field of the first ragged or non-numeric row, or the first NaN.
    """
    lines_before = bytes_before = 0
    started = False  # the first non-blank line (a header, or the first data row) was seen
    width = first_line = 0  # of the first data row, once seen
    hint = block_bytes or BLOCK_TEXT_BYTES
    for raw in iter(lambda: b"".join(stream.readlines(hint)), b""):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = lines_before + raw.count(b"\n", 0, exc.start) + 1
            raise EmbedkitError(f"{where}: line {line}, byte {bytes_before + exc.start + 1}: "
                                f"not valid UTF-8 text ({exc.reason})") from None
        lines = (text if bytes_before else text.removeprefix("\ufeff")).splitlines()
        numbers = [i for i, line in enumerate(lines) if line.strip() and not line.startswith("#")]
        if numbers and not started:
            started, first = True, lines[numbers[0]]
            if delimiter is None:
                delimiter = "\t" if "\t" in first else "," if "," in first else None
            if header or header is None and not any(map(is_number, fields(first, delimiter))):
                numbers = numbers[1:]  # a header line
        if numbers:
            rows = [lines[i] for i in numbers]
            line_of_row = np.asarray(numbers) + lines_before + 1
            if not width:
                width, first_line = len(fields(rows[0], delimiter)), int(line_of_row[0])
            try:
                values = np.loadtxt(rows, delimiter=delimiter, dtype=np.float64, ndmin=2,
                                    comments=None, quotechar=QUOTE)
            except ValueError:
                _explain_bad_row(rows, line_of_row, delimiter, where, width, first_line)
                raise
            if values.shape[1] != width:  # a block of rows all as ragged as each other
                _explain_bad_row(rows, line_of_row, delimiter, where, width, first_line)
            yield check_matrix(values, where, lambda row, lines=line_of_row: f"line {lines[row]}")
        lines_before += len(lines)
        bytes_before += len(raw)
    if not started:
        raise EmbedkitError(f"{where}: no data rows")
    if not width:
        raise EmbedkitError(f"{where}: a header but no data rows")


def fields(line: str, delimiter: str | None) -> list[str]:
    """The fields of ``line`` as :func:`iter_delimited` reads them (``delimiter`` None:
    whitespace): a field in double quotes is the text between them, which may hold the
    delimiter (and ``""`` for a quote)."""
    if delimiter is None:
        return [field[1:-1] if len(field) > 1 and field[0] == field[-1] == QUOTE else field
                for field in line.split()]
    return next(csv.reader([line], delimiter=delimiter, quotechar=QUOTE))


def is_number(field: str | bytes) -> bool:
    """Whether ``field`` is a number to every reader of numbers (:func:`parse_number`)."""
    try:
        parse_number(field)
    except ValueError:
        return False
    return True


def parse_number(field: str | bytes) -> float:
    """``field`` as a number, read as NumPy's C parsers read a whole block (``loadtxt``,
    ``fromstring``): Python's ``float`` syntax in ASCII, without the underscores (``1_000``)
    and other scripts' digits (``٣``) that ``float`` alone also accepts, so that a field is a
    number or not whichever way its block is read.

    Raises
    ------
    ValueError
        When it is not such a number.
    """
    underscore = b"_" in field if isinstance(field, bytes) else "_" in field
    if not field.isascii() or underscore:
        raise ValueError(f"not a number: {field!r}")
    return float(field)


def _explain_bad_row(rows: list[str], line_of_row: np.ndarray, delimiter: str | None,
                     where: str, width: int, first_line: int) -> None:
    """Raise the one-line error for the first row of ``rows`` that is ragged (not ``width``
    fields, the width of the file's first data row, on ``first_line``) or non-numeric."""
    for row, number in zip(rows, line_of_row.tolist(), strict=True):
        cut = fields(row, delimiter)
        if len(cut) != width:
            raise EmbedkitError(f"{where}: line {number}: {len(cut)} fields, expected "
                                f"{width} like line {first_line}")
        for j, field in enumerate(cut):
            if not is_number(field):
                raise EmbedkitError(f"{where}: line {number}, field {j + 1}: {field!r} is "
                                    "not a number")


def write_delimited(out: IO[bytes], values: np.ndarray, delimiter: str | None) -> None:
    """Numbers with nine significant digits, one row per line (``delimiter`` None: spaces)."""
    np.savetxt(out, values, delimiter=delimiter or " ", fmt="%.9g")


def check_2d(array: np.ndarray, where: str) -> None:
    """Refuse an ``array`` that is not a matrix (a saved scalar, a vector, a stack), before
    anything indexes its rows.

    Raises
    ------
    EmbedkitError
        Naming ``where`` (the file), the array's dimensions and shape, and the 2-D matrix
        expected.
    """
    if array.ndim != 2:
        got = "a single number (a 0-D array)" if array.ndim == 0 else \
            f"a {array.ndim}-D array of shape {array.shape}"
        raise EmbedkitError(f"{where}: expected a 2-D matrix (rows × features), got {got}")


def check_matrix(values, where: str, row_name=lambda row: f"row {row + 1}",
                 allow_empty: bool = False) -> np.ndarray:
    """``values`` as a 2-D float array, all finite, with at least one row and column unless
    ``allow_empty``.

    Parameters
    ----------
    values : array-like
    where : str
        The file name for messages.
    row_name : callable
        Maps a row index to how messages name it (e.g. a line number in a text file).
    allow_empty : bool
        Accept a matrix without rows (a vector file may announce 0 vectors).

    Raises
    ------
    EmbedkitError
        Naming the first NaN or infinite entry, or the wrong shape.
    """
    array = values if streaming.is_mapped(values) else np.asarray(values)
    check_2d(array, where)
    if not allow_empty and (array.shape[0] == 0 or array.shape[1] == 0):
        raise EmbedkitError(f"{where}: empty matrix of shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise EmbedkitError(f"{where}: expected real numbers, got dtype {array.dtype}")
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    streaming.check_finite(array, where, row_name)  # a memory map stays one, read by blocks
    return array
