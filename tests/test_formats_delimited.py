"""Delimited text matrices read directly: the delimiter and header guessed from the first
line, comments, blank lines and a byte-order mark skipped, blocks of lines, and the one-line
error naming the line (and field or byte) of the first bad row; the checks every matrix
passes; nine significant digits written."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit.cli import main
from embedkit.errors import EmbedkitError
from embedkit.formats import delimited


def read(text: str | bytes, delimiter=None, header=None, block_bytes=None):
    data = text.encode() if isinstance(text, str) else text
    blocks = list(delimited.iter_delimited(io.BytesIO(data), "m.csv", delimiter, header,
                                           block_bytes))
    return blocks, np.concatenate(blocks)


def error_of(text, **kwargs):
    with pytest.raises(EmbedkitError) as caught:
        read(text, **kwargs)
    return str(caught.value)


@pytest.mark.parametrize("text", ["1\t2 3\n4\t5 6\n", "1,2 3\n4,5 6\n"])
def test_a_tab_then_a_comma_is_the_delimiter(text):
    with pytest.raises(EmbedkitError, match="'2 3' is not a number"):
        read(text)


@pytest.mark.parametrize("text", ["1 2  3\n4\t5 6\n", "1\t2\t3\n4\t5\t6\n", "1,2,3\n4,5,6\n",
                                  " 1 2 3 \n4 5 6\n"])
def test_whitespace_tabs_or_commas(text):
    _, values = read(text)
    np.testing.assert_array_equal(values, [[1, 2, 3], [4, 5, 6]])
    assert values.dtype == np.float64


def test_a_given_delimiter_is_used():
    _, values = read("1;2\n3;4\n", delimiter=";")
    np.testing.assert_array_equal(values, [[1, 2], [3, 4]])


def test_a_first_line_without_numbers_is_a_header():
    _, values = read("a,b\n1,2\n")
    np.testing.assert_array_equal(values, [[1, 2]])
    # one number among the fields: data, with the error any line would get
    assert error_of("a,2\n1,2\n") == "m.csv: line 1, field 1: 'a' is not a number"
    # forced: pandas' column numbers are a header; a header of words read as data is an error
    _, values = read(",0,1\n5,1,2\n", header=True)
    np.testing.assert_array_equal(values, [[5, 1, 2]])
    assert error_of("a,b\n1,2\n", header=False) == "m.csv: line 1, field 1: 'a' is not a number"
    _, values = read("1,2\n3,4\n", header=False)
    assert len(values) == 2


@pytest.mark.parametrize("text", [
    '"1","2.5","3"\n"4","5","6"\n',                  # csv.QUOTE_ALL, no header
    '"a","b","c"\n"1","2.5","3"\n"4","5","6"\n',    # csv.QUOTE_ALL with a header
    '"1"\t"2.5"\t"3"\n4\t"5"\t6\n',                  # quoted TSV, some fields bare
    '"x, y","b","c"\n1,2.5,3\n4,5,"6"\n',            # a header field holding the delimiter
    '"1" "2.5" "3"\n4 5 6\n'])                        # whitespace-separated
def test_numbers_in_quotes_are_numbers_and_a_quoted_first_row_of_them_is_data(text):
    _, values = read(text)
    np.testing.assert_array_equal(values, [[1, 2.5, 3], [4, 5, 6]])


def test_quoted_fields_name_the_field_that_is_not_a_number():
    assert error_of('"1","2"\n"3","x"\n') == "m.csv: line 2, field 2: 'x' is not a number"
    assert error_of('"1","2"\n"3"\n') == "m.csv: line 2: 1 fields, expected 2 like line 1"
    assert error_of('"1","2,5"\n') == "m.csv: line 1, field 2: '2,5' is not a number"


@pytest.mark.parametrize("header", [True, False], ids=["header", "no header"])
def test_a_quote_all_csv_is_read_by_the_commands(tmp_path, header):
    rows = np.random.default_rng(0).normal(size=(20, 3))
    plain, quoted = tmp_path / "plain.csv", tmp_path / "quoted.csv"
    np.savetxt(plain, rows, delimiter=",", fmt="%.6g")
    with open(quoted, "w", newline="") as out:  # what pandas' to_csv(quoting=QUOTE_ALL) writes
        writer = csv.writer(out, quoting=csv.QUOTE_ALL)
        if header:
            writer.writerow(["a", "b", "c"])
        writer.writerows([[f"{x:.6g}" for x in row] for row in rows])
    expected = CliRunner().invoke(main, ["compare-pca", str(plain), "--fit", "1", "--seed", "0"])
    result = CliRunner().invoke(main, ["compare-pca", str(quoted), "--fit", "1", "--seed", "0"])
    assert result.exit_code == 0, result.output
    assert result.stdout == expected.stdout


def test_comments_blank_lines_and_a_byte_order_mark_are_skipped():
    text = "\ufeff# made by hand\n\nx,y\n\n1,2\n# a note\n3,4\n"
    _, values = read(text)
    np.testing.assert_array_equal(values, [[1, 2], [3, 4]])
    # and the lines keep their numbers
    assert error_of(text + "5,oops\n") == "m.csv: line 8, field 2: 'oops' is not a number"


def test_blocks_of_lines_and_their_line_numbers():
    lines = [f"{i},{i + 0.5},{-i}" for i in range(40)]
    blocks, values = read("\n".join(["a,b,c", *lines]) + "\n", block_bytes=64)
    assert len(blocks) > 3 and all(len(b) for b in blocks)
    np.testing.assert_array_equal(values, [[i, i + 0.5, -i] for i in range(40)])
    # an error in a later block names its line in the file; the blocks before it came out
    text = "\n".join(["a,b,c", *lines[:30], "1,2", *lines[30:]]) + "\n"
    assert error_of(text, block_bytes=64) == "m.csv: line 32: 2 fields, expected 3 like line 2"
    stream = delimited.iter_delimited(io.BytesIO(text.encode()), "m.csv", None,
                                      block_bytes=64)
    assert next(stream)[0].tolist() == [0, 0.5, 0]


def test_a_block_whose_rows_are_all_equally_short_is_ragged():
    """Blocks of 12 bytes: the first holds the two full rows, the next only short ones (which
    read as a matrix of 2 columns, not as an error)."""
    text = "1,2,3\n4,5,6\n" + "7,8\n" * 30
    assert error_of(text, block_bytes=12) == "m.csv: line 3: 2 fields, expected 3 like line 1"


def test_a_hash_inside_a_line_is_not_a_comment():
    assert error_of("1,2\n3,4#5\n") == "m.csv: line 2, field 2: '4#5' is not a number"


def test_a_byte_order_mark_after_the_start_is_an_error_in_any_block():
    text = "1,2\n3,4\n\ufeff5,6\n"
    for block_bytes in (None, 8):  # the third line starts the file's second block of 8 bytes
        assert error_of(text, block_bytes=block_bytes) == ("m.csv: line 3, field 1: "
                                                           "'\\ufeff5' is not a number")


def test_a_nan_names_its_line_and_column():
    assert error_of("a,b\n1,2\n\n3,nan\n") == ("m.csv: line 4, column 2: nan; expected finite "
                                                "numbers")


@pytest.mark.parametrize("text, block_bytes, line, byte", [
    (b"1,2\n" * 20 + b"3,\xff\n", 16, 21, 83),   # the bad line starts a block
    (b"1,2\n" * 20 + b"3,\xff\n", None, 21, 83),  # the 21st line of the one block
    (b"\n\n1,2\n3,\xff\n", None, 4, 9)])         # blank lines first
def test_undecodable_bytes_name_the_line_and_byte_in_the_file(text, block_bytes, line, byte):
    assert error_of(text, block_bytes=block_bytes) == (
        f"m.csv: line {line}, byte {byte}: not valid UTF-8 text (invalid start byte)")


@pytest.mark.parametrize("text, message", [
    ("", "m.csv: no data rows"), ("# only a comment\n\n", "m.csv: no data rows"),
    ("a,b\n", "m.csv: a header but no data rows"),
    ("a,b\n# nothing\n", "m.csv: a header but no data rows")])
def test_files_without_data(text, message):
    assert error_of(text) == message


@pytest.mark.parametrize("field, number", [("1", True), ("-2.5e3", True), (b"7", True),
                                           ("inf", True), ("x", False), ("", False),
                                           (b"1,2", False)])
def test_is_number(field, number):
    assert delimited.is_number(field) is number


@pytest.mark.parametrize("delimiter, expected", [(None, b"0.333333333 2 -1e-10\n1e+20 0 5\n"),
                                                 (",", b"0.333333333,2,-1e-10\n1e+20,0,5\n")])
def test_nine_significant_digits_are_written(delimiter, expected):
    out = io.BytesIO()
    delimited.write_delimited(out, np.array([[1 / 3, 2, -1e-10], [1e20, 0, 5]]), delimiter)
    assert out.getvalue() == expected


def test_check_matrix_shapes_and_dtypes(tmp_path):
    check = delimited.check_matrix
    with pytest.raises(EmbedkitError) as caught:
        check(np.arange(3.0), "v.npy")
    assert str(caught.value) == ("v.npy: expected a 2-D matrix (rows × features), got a 1-D "
                                 "array of shape (3,)")
    for shape in ((0, 3), (3, 0)):
        with pytest.raises(EmbedkitError) as caught:
            check(np.zeros(shape), "v.npy")
        assert str(caught.value) == f"v.npy: empty matrix of shape {shape}"
        assert check(np.zeros(shape), "v.npy", allow_empty=True).shape == shape
    for bad in (np.ones((2, 2), complex), np.array([["a"]])):
        with pytest.raises(EmbedkitError) as caught:
            check(bad, "v.npy")
        assert str(caught.value) == f"v.npy: expected real numbers, got dtype {bad.dtype}"
    whole = check([[1, 2], [3, 4]], "v.npy")
    assert whole.dtype == np.float64 and whole.tolist() == [[1, 2], [3, 4]]
    assert check(np.ones((2, 2), np.float32), "v.npy").dtype == np.float32
    with pytest.raises(EmbedkitError) as caught:
        check(np.array([[1.0, 2.0], [3.0, np.inf]]), "v.npy")
    assert str(caught.value) == "v.npy: row 2, column 2: inf; expected finite numbers"
    np.save(tmp_path / "m.npy", np.ones((3, 2)))
    mapped = np.load(tmp_path / "m.npy", mmap_mode="r")
    assert isinstance(check(mapped, "m.npy"), np.memmap)
