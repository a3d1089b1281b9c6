"""The table of formats called directly (:mod:`embedkit.formats`): the format of a name or of
content, the exact one-line errors of reading and writing, duplicate words, and the files
beside a ``.npy``.

Written against the mutants that survived `benchmarks/mutation.sh embedkit/formats/__init__.py`;
each test names what it guards."""

from __future__ import annotations

import gzip
import io
import sys
import warnings

import numpy as np
import pytest

from embedkit.errors import EmbedkitError, ParameterError
from embedkit.formats import (
    FORMATS,
    _sniff,
    first_occurrences,
    format_of,
    output_format,
    read_table,
    suffix_of,
    write_rows,
    write_table,
)
from embedkit.streaming import RowBlocks
from embedkit.text.subwords import ComposedVectors

WORDS = ["a", "bb", "ccc"]
ALL = ("text, binary, npz, npy, csv, tsv, fasttext, word2vec, word2vec-binary")


def _values(rows=3, dim=2):
    return np.arange(rows * dim, dtype=np.float32).reshape(rows, dim) + 1


def _message(excinfo) -> str:
    return str(excinfo.value)


def _stdin(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def _blocks(values, size=2):
    return RowBlocks(values.shape, values.dtype,
                     iter([values[i:i + size] for i in range(0, len(values), size)]))


# --- names and content ---------------------------------------------------------------------

def test_the_suffix_is_taken_after_every_compression_suffix():
    assert suffix_of("d.npz/V.TXT.GZ") == ".txt" and suffix_of("v.npy.bz2") == ".npy"
    assert suffix_of("v.gz") == "" and suffix_of("v.csv.bz2") == ".csv"
    assert format_of("v.bin.gz") is FORMATS["binary"] and format_of("v.gz") is None
    assert format_of("-") is None and format_of("x.-") is None


def test_an_unknown_format_name_lists_every_name():
    with pytest.raises(EmbedkitError) as excinfo:
        read_table("v.vec", fmt="vec")
    assert _message(excinfo) == f"unknown format 'vec': expected one of {ALL}"
    with pytest.raises(EmbedkitError) as excinfo:
        output_format("v.vec", WORDS, fmt="nope")
    assert _message(excinfo) == f"unknown format 'nope': expected one of {ALL}"


@pytest.mark.parametrize("fmt, expected", [("word2vec", "text"), ("word2vec-binary", "binary"),
                                           ("npz", "npz"), ("tsv", "tsv")])
def test_format_names_and_aliases_override_the_suffix(tmp_path, fmt, expected):
    path = tmp_path / "v.csv"
    words = None if expected == "tsv" else WORDS
    assert output_format(path, words, fmt=fmt) is FORMATS[expected]
    write_table(path, _values(), words, fmt=fmt)
    table = read_table(path, fmt=fmt)
    assert table.format == expected and np.allclose(table.values, _values())


@pytest.mark.parametrize("head, name", [
    (b"\x93NUMPY\x01\x00", "npy"), (b"PK\x03\x04", "npz"),
    (b"2 3\nab \x00\x00\x80?", "binary"), (b"2 3\nab \xff\xfe\x80?" + b"x" * 20, "binary"),
    (b"2 3\na 1 2 3\n", "text"), (b"\xef\xbb\xbf2 3\na 1 2 3\n", "text"),
    (b"a 1 2 3\nb 4 5 6\n", "text"), (b"the 1e-3 -2\n", "text"),
    (b"2 3\n", "delimited"), (b"1 2 3\n4 5 6\n", "delimited"), (b"a\n", "delimited"),
    (b"1,2\n3,4\n", "delimited"), (b"", "delimited"), (b"2 3 4\nx 1 2\n", "delimited"),
])
def test_content_is_recognised_by_its_first_bytes(head, name):
    assert _sniff(head).name == name


def test_a_utf8_character_cut_by_the_sniffed_bytes_is_still_text():
    # the last 8 bytes may cut a character: they are not decoded
    rest = "\u65e5".encode() * 5 + "\u65e5".encode()[:2]
    assert _sniff(b"1 2\n" + rest).name == "text"
    assert _sniff(b"1 2\n" + rest[:8] + b"\xff" + rest[8:]).name == "binary"


def test_a_fasttext_model_is_recognised_on_stdin_and_through_a_compressed_name(tmp_path,
                                                                                monkeypatch):
    path = tmp_path / "m.bin"
    write_table(path, _values(), WORDS, fmt="fasttext")
    (tmp_path / "m.bin.gz").write_bytes(gzip.compress(path.read_bytes()))
    for name in (path, tmp_path / "m.bin.gz"):
        table = read_table(name)
        assert table.format == "fasttext" and table.words == WORDS
        assert np.allclose(table.values, _values())
    _stdin(monkeypatch, path.read_bytes())
    assert read_table("-").format == "fasttext"


# --- reading: one-line errors ----------------------------------------------------------------

@pytest.mark.parametrize("limit", [0, -2])
def test_a_limit_below_one_is_a_parameter_error(tmp_path, limit):
    with pytest.raises(ParameterError) as excinfo:
        read_table(tmp_path / "v.vec", limit=limit)
    assert _message(excinfo) == f"limit must be at least 1, got {limit}"
    assert excinfo.value.params == ("limit",)


@pytest.mark.parametrize("name, label", [("v.vec", "word2vec text"), ("v.csv", "CSV"),
                                         ("v.npy", "NumPy .npy")])
def test_key_names_an_array_of_an_npz_only(tmp_path, name, label):
    path = tmp_path / name
    write_table(path, _values(), None if name == "v.csv" else WORDS)
    with pytest.raises(EmbedkitError) as excinfo:
        read_table(path, key="vectors")
    assert _message(excinfo) == (f"{path}: key 'vectors' names an array of an .npz archive, "
                                 f"but this is {label}")
    assert excinfo.value.params == ("key",)


@pytest.mark.parametrize("name, label", [("m.csv", "CSV"), ("m.tsv", "TSV"),
                                         ("m.dat", "delimited text")])
def test_formats_without_words_name_those_with_them(tmp_path, name, label):
    path = tmp_path / name
    path.write_text("1,2\n3,4\n" if name != "m.tsv" else "1\t2\n3\t4\n")
    with pytest.raises(EmbedkitError) as excinfo:
        read_table(path, need_words=True)
    assert _message(excinfo) == (f"{path}: {label} holds no words: word vectors are read from "
                                 ".vec, .txt, .w2v, .bin, .npz or .npy")


def test_an_npz_with_fewer_words_than_rows_is_one_line_error(tmp_path):
    path = tmp_path / "v.npz"
    np.savez(path, words=np.array(WORDS[:2]), vectors=_values())
    with pytest.raises(EmbedkitError) as excinfo:
        read_table(path)
    assert _message(excinfo) == (f"{path}: 2 words but a matrix of shape (3, 2): expected one "
                                 "row per word")


@pytest.mark.parametrize("name, where", [("v.npz", "row 2"), ("v.bin", "vector 2 (byte 15)"),
                                         ("v.vec", "line 3")])
def test_a_non_finite_row_is_named_as_its_format_names_rows(tmp_path, name, where):
    values = _values()
    values[1, 1] = np.inf
    path = tmp_path / name
    if name == "v.npz":
        np.savez(path, words=np.array(WORDS), vectors=values)
    elif name == "v.bin":
        path.write_bytes(b"3 2\n" + b"".join(w.encode() + b" " + r.tobytes() + b"\n"
                                             for w, r in zip(WORDS, values, strict=True)))
    else:
        path.write_text("3 2\na 1 2\nbb 3 inf\nccc 5 6\n")
    with pytest.raises(EmbedkitError) as excinfo:
        read_table(path)
    assert _message(excinfo).startswith(f"{path}: {where}")


def test_a_mapped_npy_is_not_read_to_be_checked(tmp_path):
    path = tmp_path / "m.npy"
    values = _values()
    values[2, 0] = np.nan
    np.save(path, values)
    assert isinstance(read_table(path, mmap=True).values, np.memmap)
    with pytest.raises(EmbedkitError, match="row 3"):
        read_table(path)


def test_binary_extra_records_are_named_with_their_byte(tmp_path):
    path = tmp_path / "v.bin"
    write_table(path, _values(), WORDS)
    data = path.read_bytes()
    path.write_bytes(data.replace(b"3 2\n", b"2 2\n", 1))
    with pytest.raises(EmbedkitError) as excinfo:
        read_table(path)
    at = len(b"2 2\n") + len(b"a ") + 8 + 1 + len(b"bb ") + 8 + 1
    assert _message(excinfo) == (f"{path}: vector 3 (byte {at}): more than the 2 vectors the "
                                 "header announces")
    path.write_bytes(data + b"junk")
    assert read_table(path, limit=2).words == WORDS[:2]  # not read past the limit
    path.write_bytes(data + b"\n \n")
    assert read_table(path).words == WORDS


# --- duplicate words --------------------------------------------------------------------------

def test_first_occurrences_keep_the_first_row_of_each_word():
    assert first_occurrences(["a", "b"]) is None and first_occurrences([]) is None
    assert first_occurrences(["a", "b", "a", "c", "b", "a"]).tolist() == \
        [True, True, False, True, False, False]


@pytest.mark.parametrize("name", ["v.vec", "v.npz", "v.bin"])
def test_duplicates_are_dropped_with_one_warning_naming_the_first(tmp_path, name):
    path = tmp_path / name
    words = ["a", "b", "a", "c", "b", "a"]
    values = _values(6, 2)
    if name == "v.npz":
        np.savez(path, words=np.array(words), vectors=values, counts=np.arange(6, 0, -1))
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            write_table(path, values, words)
    with pytest.warns(UserWarning) as record:
        table = read_table(path)
    where = {"v.vec": ("line 2", "line 4"), "v.npz": ("row 1", "row 3"),
             "v.bin": ("vector 1 (byte 4)", "vector 3 (byte 26)")}[name]
    assert [str(w.message) for w in record] == [
        f"{path}: the word 'a' of {where[0]} comes again on {where[1]}: the first is kept, the "
        "later one dropped (2 more duplicate rows dropped likewise)"]
    assert table.words == ["a", "b", "c"]
    assert np.array_equal(table.values, values[[0, 1, 3]])
    if name == "v.npz":
        assert table.counts.tolist() == [6, 5, 3]


def test_a_single_duplicate_says_nothing_more(tmp_path):
    path = tmp_path / "v.vec"
    path.write_text("3 1\nx 1\ny 2\nx 3\n")
    with pytest.warns(UserWarning) as record:
        table = read_table(path)
    assert str(record[0].message) == (f"{path}: the word 'x' of line 2 comes again on line 4: "
                                      "the first is kept, the later one dropped")
    assert table.words == ["x", "y"] and table.values.ravel().tolist() == [1, 2]


def test_words_equal_in_nfc_are_duplicates_in_an_npz(tmp_path):
    path = tmp_path / "v.npz"
    np.savez(path, words=np.array(["\u00e9", "e\u0301", "x"]), vectors=_values())
    with pytest.warns(UserWarning, match="'\u00e9' of row 1 comes again on row 2"):
        table = read_table(path)
    assert table.words == ["\u00e9", "x"] and np.array_equal(table.values, _values()[[0, 2]])


def test_duplicates_of_a_subword_model_drop_their_own_rows(tmp_path):
    path = tmp_path / "v.npz"
    np.savez(path, words=np.array(["a", "b", "a"]), vectors=_values(),
             word_rows=_values() * 10, ngrams=_values(4, 2), subwords=np.array([2, 3, 4]))
    with pytest.warns(UserWarning):
        table = read_table(path)
    assert table.words == ["a", "b"]
    assert np.array_equal(table.subwords.word_rows, _values()[:2] * 10)
    assert np.array_equal(table.values, _values()[:2])


# --- writing ---------------------------------------------------------------------------------

def test_word_vector_formats_refuse_a_bare_matrix_naming_those_without_words(tmp_path):
    for target, label in ((None, "word2vec text"), (tmp_path / "v.bin", "word2vec binary")):
        with pytest.raises(EmbedkitError) as excinfo:
            write_table(target, _values())
        shown = "<stdout>" if target is None else str(target)
        assert _message(excinfo) == (f"{shown}: word vector output ({label}) needs word "
                                     "vectors as input; write a matrix to .npz, .npy, .csv or "
                                     ".tsv")
    assert output_format(tmp_path / "v.vec", need_words=True) is FORMATS["text"]


@pytest.mark.parametrize("name, label", [("v.csv", "CSV"), ("v.tsv", "TSV")])
def test_formats_without_words_refuse_word_vectors(tmp_path, name, label):
    with pytest.raises(EmbedkitError) as excinfo:
        output_format(tmp_path / name, WORDS, need_words=True)
    assert _message(excinfo) == (f"{tmp_path / name}: {label} holds no words: write word "
                                 "vectors to .vec, .txt, .w2v, .bin, .npz or .npy")
    assert output_format(tmp_path / name, WORDS) is FORMATS[name[-3:]]  # the words dropped


def test_npy_word_vectors_to_stdout_are_refused(capsys):
    with pytest.raises(EmbedkitError) as excinfo:
        output_format("-", WORDS, fmt="npy")
    assert _message(excinfo) == ("<stdout>: a .npy holds no words (they go to <stem>.vocab "
                                 "beside the file): write word vectors to stdout as word2vec "
                                 "text, .npz or .bin, or name a FILE.npy")
    assert output_format("-", None, fmt="npy") is FORMATS["npy"]


@pytest.mark.parametrize("name, words, problem", [
    ("v.npy", ["a", "b c"], "the word 'b c' (row 2), which holds ASCII whitespace"),
    ("v.npz", ["a\0", "b"], "the word 'a\\x00' (row 1), which ends in a NUL character"),
    ("v.bin", ["a", "b c"], "the word 'b c' (row 2), which holds an ASCII space"),
    ("v.vec", ["a", "b\nc"], "the word 'b\\nc' (row 2), which holds a newline"),
    ("v.vec", ["a", ""], "an empty word (row 2)"),
])
def test_a_word_the_format_cannot_hold_is_named_before_writing(tmp_path, name, words, problem):
    label = FORMATS[{"v.npy": "npy", "v.npz": "npz", "v.bin": "binary", "v.vec": "text"}[name]
                    ].label
    with pytest.raises(EmbedkitError) as excinfo:
        write_table(tmp_path / name, _values(2, 2), words)
    assert _message(excinfo) == f"{tmp_path / name}: cannot write {problem} in {label} format"
    assert list(tmp_path.iterdir()) == []


def test_words_with_spaces_fit_text_and_are_dropped_by_csv(tmp_path):
    assert output_format(tmp_path / "v.vec", ["a b", "c"]) is FORMATS["text"]
    assert output_format(tmp_path / "v.csv", ["a b", ""]) is FORMATS["csv"]


def test_a_shape_that_does_not_match_the_words_is_one_line_error(tmp_path):
    for write in (lambda p: write_table(p, _values(), WORDS[:2]),
                  lambda p: write_rows(p, _blocks(_values()), WORDS[:2])):
        with pytest.raises(EmbedkitError) as excinfo:
            write(tmp_path / "v.vec")
        assert _message(excinfo) == ("cannot save 2 words with a matrix of shape (3, 2): "
                                     "expected one row per word")
    with pytest.raises(EmbedkitError, match=r"cannot save 3 words with a matrix of shape \(3,\)"):
        write_table(tmp_path / "v.vec", np.ones(3, np.float32), WORDS)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["v.vec", "v.bin", "v.npz", "v.npy", "v.csv", "v.tsv",
                                  "v.npy.gz", "v.vec.gz", "m.bin"])
def test_rows_in_blocks_are_written_as_the_whole_matrix(tmp_path, name):
    fmt = "fasttext" if name == "m.bin" else None
    words = None if name.startswith(("v.csv", "v.tsv", "v.npy")) else WORDS
    values = _values(3, 4) / 7
    write_table(tmp_path / ("whole-" + name), values, words, fmt=fmt)
    write_rows(tmp_path / name, _blocks(values), words, fmt=fmt)
    assert (tmp_path / name).read_bytes() == (tmp_path / ("whole-" + name)).read_bytes()


def test_write_rows_to_stdout_uses_the_stream_format(capsysbinary):
    write_rows(None, _blocks(_values()), stdout="csv")
    write_rows("-", _blocks(_values()), WORDS)
    out = capsysbinary.readouterr().out
    assert out == (b"1,2\n3,4\n5,6\n" b"3 2\n" b"a 1.00000e+00 2.00000e+00\n"
                   b"bb 3.00000e+00 4.00000e+00\n" b"ccc 5.00000e+00 6.00000e+00\n")


def test_a_npy_written_with_words_gets_its_vocabulary_and_norms(tmp_path):
    path = tmp_path / "v.npy"
    write_table(path, _values(), WORDS, counts=np.array([3, 2, 1]))
    assert (tmp_path / "v.vocab").read_text() == "a 3\nbb 2\nccc 1\n"
    with np.load(tmp_path / "v.norms.npz") as norms:
        assert np.allclose(norms["norms"], np.linalg.norm(_values(), axis=1))
    write_table(path, _values(), ["a", "a", "b"])
    assert (tmp_path / "v.vocab").read_text() == "a\na\nb\n"
    assert not (tmp_path / "v.norms.npz").exists()  # duplicate words: no norms vouch for them


@pytest.mark.parametrize("write", ["table", "rows"])
def test_a_npy_written_without_words_removes_the_earlier_sidecars_saying_so(tmp_path, write):
    path = tmp_path / "v.npy"
    write_table(path, _values(), WORDS)
    with pytest.warns(UserWarning) as record:
        if write == "table":
            write_table(path, _values())
        else:
            write_rows(path, _blocks(_values()))
    assert [str(w.message) for w in record] == [
        f"{path}: written without words: removed {tmp_path / 'v.vocab'} and "
        f"{tmp_path / 'v.norms.npz'}, left by an earlier matrix of that name"]
    assert record[0].filename == __file__  # the caller of write_table or write_rows
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.npy"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_table(path, _values())  # nothing left to remove: no warning
    (tmp_path / "v.vocab").write_text("a\nbb\nccc\n")
    with pytest.warns(UserWarning) as record:
        write_table(path, _values())
    assert str(record[0].message) == (f"{path}: written without words: removed "
                                      f"{tmp_path / 'v.vocab'}, left by an earlier matrix of "
                                      "that name")


def test_the_duplicate_warning_points_at_the_caller_of_read_table(tmp_path):
    path = tmp_path / "v.vec"
    path.write_text("2 1\nx 1\nx 3\n")
    with pytest.warns(UserWarning) as record:
        read_table(path)
    assert record[0].filename == __file__ and record[0].category is UserWarning


def test_a_limit_of_one_reads_one_row_and_undecodable_words_are_refused_by_default(tmp_path):
    path = tmp_path / "v.vec"
    path.write_bytes(b"2 1\na 1\n\xff 2\n")
    assert read_table(path, limit=1).words == ["a"]
    with pytest.raises(EmbedkitError) as excinfo:
        read_table(path)
    assert _message(excinfo) == (f"{path}: line 3: word is not valid UTF-8 (use unicode_errors "
                                 "replace or ignore)")
    assert read_table(path, unicode_errors="replace").words == ["a", "\ufffd"]


def test_a_fasttext_model_is_composed_at_load_up_to_compose_bytes(tmp_path):
    path = tmp_path / "m.bin"
    write_table(path, _values(3, 4), WORDS, fmt="fasttext")
    size = 4 * 3 * 4
    assert type(read_table(path).values) is np.ndarray  # default: any size
    assert type(read_table(path, compose_bytes=size).values) is np.ndarray
    lazy = read_table(path, compose_bytes=size - 1).values
    assert type(lazy) is ComposedVectors and lazy.shape == (3, 4)
    assert np.allclose(np.asarray(lazy), _values(3, 4))
    (tmp_path / "m.bin.gz").write_bytes(gzip.compress(path.read_bytes()))  # read whole
    assert type(read_table(tmp_path / "m.bin.gz", compose_bytes=0).values) is np.ndarray
    table = read_table(path, compose_bytes=0, limit=2)
    assert table.words == WORDS[:2] and table.values.shape == (2, 4)
    assert table.subwords is not None and table.format == "fasttext"


def test_a_non_finite_value_of_a_fasttext_model_names_its_word(tmp_path):
    from embedkit.text.subwords import SubwordModel, Subwords

    rows = np.array([[1, 2], [3, np.nan], [5, 6]], np.float32)
    model = SubwordModel(Subwords(0, 0, 0), rows, np.zeros((0, 2), np.float32), {})
    path = tmp_path / "m.bin"
    write_table(path, rows, WORDS, fmt="fasttext", subwords=model)
    with pytest.raises(EmbedkitError) as excinfo:
        read_table(path)
    assert _message(excinfo) == f"{path}: word 2, column 2: nan; expected finite numbers"


@pytest.mark.parametrize("name", ["v.npz", "v.vec", "v.bin"])
def test_no_rows_in_blocks_are_written_as_no_rows(tmp_path, name):
    empty = np.empty((0, 3), np.float32)
    write_rows(tmp_path / name, RowBlocks(empty.shape, empty.dtype, iter([])), [])
    write_table(tmp_path / ("whole-" + name), empty, [])
    assert (tmp_path / name).read_bytes() == (tmp_path / ("whole-" + name)).read_bytes()
    table = read_table(tmp_path / name, need_words=True)
    assert table.words == [] and table.values.shape == (0, 3)


@pytest.mark.parametrize("name", ["v.npy", "v.npz"])
def test_counts_of_another_length_are_refused_before_writing(tmp_path, name):
    # a .npy was written, then its vocabulary failed on zip(strict=True): no vocabulary
    with pytest.raises(EmbedkitError) as excinfo:
        write_table(tmp_path / name, _values(), WORDS, counts=np.array([3, 2]))
    assert _message(excinfo) == "cannot save 2 counts with 3 words: expected one count per word"
    assert list(tmp_path.iterdir()) == []
