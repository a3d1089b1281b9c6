"""Vector files and matrices as other tools and editors write them (issue #13, kinds 3-6 and 12;
cases 02, 04 and 09 of ../shared/cases, whose inputs are copied into tests/data)."""

from __future__ import annotations

import codecs
import struct
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit.ae.data import read_matrix
from embedkit.cli import main
from embedkit.errors import EmbedkitError
from embedkit.formats import read_table, write_table
from embedkit.vectors import load_vectors, save_vectors

DATA = Path(__file__).parent / "data"
BOM = codecs.BOM_UTF8
CASE04_LINE15 = [-0.004454, 0.656475, -1.288361, 0.395122]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


# -- case 04: the line at fault, and words the header's dimension makes readable ---------------

@pytest.mark.parametrize(("name", "word"), [("space_word.vec", " "), ("double_space.vec", "w13"),
                                            ("two_part_word.vec", "new york")])
def test_case04_lines_are_read_with_the_last_dim_fields_as_the_vector(name, word):
    kv = load_vectors(DATA / "case04" / name)
    expected = [f"w{i}" for i in range(20)]
    expected[13] = word  # line 15
    assert kv.words == expected
    np.testing.assert_allclose(kv.vectors[13], CASE04_LINE15, rtol=1e-6)


@pytest.mark.parametrize(("line15", "expected"), [
    (b"w13 0.1 0.2 0.3", "line 15: expected a word and 4 values, found 3 values after the word "
                         "'w13'"),
    (b"w13 0.1 0.2 x 0.3", "line 15: 'x' is not a number (value 3 of 4"),
    (b"", "line 15: expected a word and 4 values, found an empty line"),
    (b"0.1 0.2 0.3 0.4", "line 15: expected a word and 4 values, found no word before 4 values"),
])
def test_a_bad_line_deep_in_a_block_is_the_line_named(tmp_path, line15, expected):
    lines = (DATA / "case04" / "double_space.vec").read_bytes().split(b"\n")
    lines[14] = line15
    (tmp_path / "bad.vec").write_bytes(b"\n".join(lines))
    result = run("neighbors", tmp_path / "bad.vec", "w1")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and expected in result.stderr, result.stderr


def test_binary_errors_name_the_record_and_byte(tmp_path):
    record = b"ab " + struct.pack("<2f", 1, 2) + b"\n"
    (tmp_path / "cut.bin").write_bytes(b"3 2\n" + record * 2 + b"cd " + b"\0\0")
    with pytest.raises(EmbedkitError, match=r"vector 3 \(byte 28\): file is truncated"):
        load_vectors(tmp_path / "cut.bin")
    nan = b"cd " + struct.pack("<2f", 1, float("nan")) + b"\n"
    (tmp_path / "nan.bin").write_bytes(b"3 2\n" + record * 2 + nan)
    with pytest.raises(EmbedkitError, match=r"vector 3 \(byte 28\), column 2: nan"):
        load_vectors(tmp_path / "nan.bin")
    # A header announcing 3 values per vector, with records of 2: the second word is garbage.
    (tmp_path / "dim.bin").write_bytes(b"4 3\n" + record * 4)
    with pytest.raises(EmbedkitError, match=r"vector 2 \(byte 19\): expected a word, found .* "
                                            r"do not line up with the header's dimension 3"):
        load_vectors(tmp_path / "dim.bin")


# -- kind 12: GloVe, fastText, CRLF, --no-header -------------------------------------------

GLOVE = b"the 0.1 0.2 0.3\n, -1 2.5e-1 3\n. . . 1 2 3\n"


def test_glove_without_header_is_detected_from_the_first_line(tmp_path):
    (tmp_path / "glove.6B.3d.txt").write_bytes(GLOVE)
    kv = load_vectors(tmp_path / "glove.6B.3d.txt")
    assert kv.words == ["the", ",", ". . ."]
    np.testing.assert_allclose(kv.vectors, [[0.1, 0.2, 0.3], [-1, 0.25, 3], [1, 2, 3]])
    assert load_vectors(tmp_path / "glove.6B.3d.txt", limit=2).words == ["the", ","]
    assert read_matrix(tmp_path / "glove.6B.3d.txt").words == ["the", ",", ". . ."]


def test_no_header_forces_a_first_line_of_two_integers_to_be_a_vector(tmp_path):
    (tmp_path / "years.txt").write_bytes(b"1990 5\n1991 6\n")
    with pytest.raises(EmbedkitError, match="line 2: expected a word and 5 values"):
        load_vectors(tmp_path / "years.txt")
    assert load_vectors(tmp_path / "years.txt", header=False).words == ["1990", "1991"]
    result = run("neighbors", tmp_path / "years.txt", "--no-header", "1990", "-k", "1")
    assert result.exit_code == 0 and result.stdout == "1990\t1\t1991\t1.000000\n"


@pytest.mark.parametrize("end", [b"\n", b" \n", b"\r\n", b" \r\n"])
@pytest.mark.parametrize("header", [True, False])
def test_fasttext_trailing_spaces_and_crlf(tmp_path, end, header):
    lines = [b"2 3"] * header + [b"hello 1.5 -2 0.25", b"w\xc2\xa0x 0 1e-3 3"]
    (tmp_path / "v.vec").write_bytes(end.join(lines) + end)
    kv = load_vectors(tmp_path / "v.vec")
    assert kv.words == ["hello", "w\u00a0x"]
    np.testing.assert_allclose(kv.vectors, [[1.5, -2, 0.25], [0, 1e-3, 3]])


# -- kind 3: byte-order marks in every reader of the table ---------------------------------

@pytest.mark.parametrize("name", ["v.vec", "v.txt.gz", "glove.txt", "v.bin", "m.csv", "m.tsv",
                                  "m.dat", "v.npy"])
def test_every_text_reader_skips_a_leading_bom(tmp_path, name):
    values = np.array([[1.5, -2.0], [0.25, 3.0]], dtype=np.float32)
    words = ["ünï", "b"]
    path = tmp_path / name
    fmt = {"glove.txt": "text", "m.dat": "csv"}.get(name)
    write_table(path, values, words, stdout="csv", fmt=fmt)
    if name == "glove.txt":  # GloVe: the header line removed
        path.write_bytes(path.read_bytes().split(b"\n", 1)[1])
    target = path.with_suffix(".vocab") if name == "v.npy" else path
    plain = read_table(path)
    raw = target.read_bytes()
    if name.endswith(".gz"):
        import gzip
        target.write_bytes(gzip.compress(BOM + gzip.decompress(raw)))
    else:
        target.write_bytes(BOM + raw)
    table = read_table(path)
    np.testing.assert_allclose(table.values, values, rtol=1e-6)
    assert table.words == plain.words
    if plain.words is not None:
        assert table.words == words


# -- kind 4 and case 02: a first row with numbers is data ----------------------------------

def test_case02_bom_is_no_header_and_a_first_row_with_a_gap_is_an_error():
    plain = read_matrix(DATA / "case02" / "plain.csv").values
    assert plain.shape == (8, 3)
    np.testing.assert_array_equal(read_matrix(DATA / "case02" / "bom.csv").values, plain)
    for name, line, found in [("missing_first.csv", 1, "''"), ("na_first.csv", 1, "'NA'"),
                              ("missing_line5.csv", 5, "''")]:
        with pytest.raises(EmbedkitError, match=f"{name}: line {line}, field 2: {found} is not "
                                                f"a number"):
            read_matrix(DATA / "case02" / name)


def test_case02_through_encode(tmp_path):
    assert run("autoencode", DATA / "case02" / "plain.csv", "--hidden", "1", "--epochs", "1",
               "-o", tmp_path / "m.npz").exit_code == 0
    result = run("encode", tmp_path / "m.npz", DATA / "case02" / "bom.csv")
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 8
    result = run("encode", tmp_path / "m.npz", DATA / "case02" / "na_first.csv")
    assert result.exit_code == 1 and result.stdout == ""
    assert "na_first.csv: line 1, field 2: 'NA' is not a number" in result.stderr


@pytest.mark.parametrize("header", ["a,b,c", "x,y,z # names", "word,dim1,dim2"])
def test_a_first_row_without_numbers_is_a_header(tmp_path, header):
    (tmp_path / "h.csv").write_text(f"{header}\n1,2,3\n4,5,6\n")
    values = read_matrix(tmp_path / "h.csv").values
    assert values.tolist() == [[1, 2, 3], [4, 5, 6]]


# -- kind 6 and case 09: what we read, we can write -----------------------------------------

ODD = ["alpha", "\u00a0", "...\u2009king", "東京\u3000駅", "new york", " "]


@pytest.mark.parametrize("name", ["v.vec", "v.txt.bz2", "v.npz"])
def test_every_word_a_reader_accepts_is_written_back(tmp_path, name):
    vectors = np.arange(len(ODD) * 2, dtype=np.float32).reshape(-1, 2)
    save_vectors(tmp_path / name, ODD, vectors)
    kv = load_vectors(tmp_path / name)
    assert kv.words == ODD
    save_vectors(tmp_path / ("again." + name.split(".", 1)[1]), kv.words, kv.vectors)
    assert load_vectors(tmp_path / ("again." + name.split(".", 1)[1])).words == ODD


def test_binary_and_vocab_files_take_every_word_but_ascii_separators(tmp_path):
    vectors = np.ones((4, 2), dtype=np.float32)
    unicode_spaces = ["alpha", "\u00a0", "...\u2009king", "東京\u3000駅"]
    for name in ("v.bin", "v.npy"):
        save_vectors(tmp_path / name, unicode_spaces, vectors)
        assert load_vectors(tmp_path / name).words == unicode_spaces
        with pytest.raises(EmbedkitError, match="'new york' .row 2.*(ASCII space|whitespace)"):
            save_vectors(tmp_path / f"x{name}", ["a", "new york", "b", "c"], vectors)


def test_case09_codes_keep_the_words_as_read(tmp_path):
    source = DATA / "case09" / "fasttext_like.vec"
    result = run("autoencode", source, "--hidden", "2", "--epochs", "3", "-o", tmp_path / "m.npz",
                 "--codes", tmp_path / "codes.vec")
    assert result.exit_code == 0, result.stderr
    assert load_vectors(tmp_path / "codes.vec").words == load_vectors(source).words
    assert "\u00a0" in load_vectors(source).words


def test_a_word_the_output_cannot_hold_is_refused_before_training(tmp_path):
    (tmp_path / "v.vec").write_text("3 2\nnew york 1 2\nb 3 4\nc 5 6\n", encoding="utf-8")
    result = run("autoencode", tmp_path / "v.vec", "--hidden", "1", "--epochs", "50",
                 "-o", tmp_path / "m.npz", "--codes", tmp_path / "codes.bin")
    assert result.exit_code == 1
    assert "codes.bin: cannot write the word 'new york' (row 1), which holds an ASCII space " \
           "in word2vec binary format" in result.stderr
    assert "epoch" not in result.stderr and not list(tmp_path.glob("*.bin")) \
        and not (tmp_path / "m.npz").exists()


# -- kind 6: duplicate words, the same in every format and command -----------------------------

@pytest.mark.parametrize(("name", "first", "again"), [
    ("d.vec", "line 2", "line 4"), ("d.txt.gz", "line 2", "line 4"),
    ("d.bin", "vector 1", "vector 3"), ("d.npz", "row 1", "row 3"),
    ("d.npy", "line 1 of", "line 3 of")])
def test_duplicate_words_keep_the_first_and_say_where_both_are(tmp_path, name, first, again):
    vectors = np.array([[1, 1], [2, 2], [3, 3], [4, 4]], dtype=np.float32)
    words = ["a", "b", "a", "c"]
    write_table(tmp_path / name, vectors, words)
    for read in (load_vectors, read_matrix, read_table):
        with pytest.warns(UserWarning) as caught:
            result = read(tmp_path / name)
        assert len(caught) == 1
        message = str(caught[0].message)
        assert f"the word 'a' of {first}" in message and f"again on {again}" in message
        got_words = result.words
        got_values = result.vectors if hasattr(result, "vectors") else result.values
        assert got_words == ["a", "b", "c"]
        np.testing.assert_array_equal(got_values[:, 0], [1, 2, 4])


def test_composed_and_decomposed_spellings_are_one_word(tmp_path):
    (tmp_path / "v.vec").write_text("2 1\ncafe\u0301 1\ncaf\u00e9 2\n", encoding="utf-8")
    with pytest.warns(UserWarning, match="'café' of line 2 comes again on line 3"):
        kv = load_vectors(tmp_path / "v.vec")
    assert kv.words == ["caf\u00e9"] and kv.vectors[0, 0] == 1


def test_duplicates_are_one_warning_line_from_every_command(tmp_path):
    (tmp_path / "d.vec").write_text("4 2\na 1 0\nb 0 1\na 3 3\nc 1 1\n", encoding="utf-8")
    expected = (f"embedkit: warning: {tmp_path / 'd.vec'}: the word 'a' of line 2 comes again "
                f"on line 4: the first is kept, the later one dropped")
    neighbors = run("neighbors", tmp_path / "d.vec", "a", "-k", "1")
    assert neighbors.exit_code == 0 and neighbors.stdout == "a\t1\tc\t0.707107\n"
    encode = run("compare-pca", "--fit", "1", tmp_path / "d.vec", "--json")
    for result in (neighbors, encode):
        assert [line for line in result.stderr.splitlines() if "'a'" in line] == [expected]
