"""word2vec text and binary readers, called directly: records across chunk boundaries, blocks
handed to ``collect``, the fast path of text blocks, and the exact one-line errors.

Written against the mutants that survived `benchmarks/mutation.sh formats`; each test names
what it guards."""

from __future__ import annotations

import io

import numpy as np
import pytest

from embedkit.errors import EmbedkitError
from embedkit.formats import read_table, word2vec
from embedkit.formats.word2vec import read_binary, read_header, read_text, write_binary

WORDS = [f"w{i}" for i in range(10)]
DIM = 4


def _vectors():
    return np.random.default_rng(0).standard_normal((len(WORDS), DIM)).astype(np.float32)


def _binary(words, vectors):
    out = io.BytesIO()
    write_binary(out, words, vectors)
    return f"{len(words)} {vectors.shape[1]}\n".encode() + out.getvalue()


def _read_binary(raw, collect=None, errors="strict"):
    stream = io.BytesIO(raw)
    count, dim, offset = read_header(stream, "f.bin")
    return read_binary(stream, "f.bin", count, dim, errors, offset, collect=collect)


def _collector(blocks):
    def collect(iterator):
        blocks.extend(iterator)
        return np.concatenate(blocks)
    return collect


@pytest.mark.parametrize("chunk, sizes", [(3 * 4 * DIM, [3, 3, 3, 1]), (8, [1] * 10)])
def test_binary_records_across_chunks_and_in_blocks_equal_the_whole_file(monkeypatch, chunk,
                                                                         sizes):
    # Chunks smaller than a record or a few records: every record straddles a read. The blocks
    # handed to collect hold BINARY_CHUNK bytes of values (at least one record), in order.
    monkeypatch.setattr(word2vec, "BINARY_CHUNK", chunk)
    vectors = _vectors()
    raw = _binary(WORDS, vectors)
    header = len(f"{len(WORDS)} {DIM}\n")
    record = len("w0 ") + 4 * DIM + 1
    blocks = []
    for collect in (None, _collector(blocks)):
        words, got, rest, starts, _ = _read_binary(raw, collect)
        assert words == WORDS and rest == b""
        assert got.dtype == np.float32 and np.array_equal(got, vectors)
        assert np.asarray(starts).tolist() == [header + i * record for i in range(len(WORDS))]
    assert [len(b) for b in blocks] == sizes
    assert all(b.dtype == np.float32 for b in blocks)


@pytest.mark.parametrize("bad", [1, 7, 9])
def test_a_non_finite_value_in_any_block_names_its_record_and_byte(monkeypatch, bad):
    monkeypatch.setattr(word2vec, "BINARY_CHUNK", 3 * 4 * DIM)
    vectors = _vectors()
    vectors[bad, 2] = np.nan
    header = len(f"{len(WORDS)} {DIM}\n")
    byte = header + bad * (len("w0 ") + 4 * DIM + 1)
    with pytest.raises(EmbedkitError) as error:
        _read_binary(_binary(WORDS, vectors), _collector([]))
    assert str(error.value) == (f"f.bin: vector {bad + 1} (byte {byte}), column 3: nan; "
                                f"expected finite numbers")


def test_an_empty_binary_file_is_an_empty_block():
    blocks = []
    words, got, _, _, _ = _read_binary(b"0 3\n", _collector(blocks))
    assert words == [] and got.shape == (0, 3) and len(blocks) == 1


def test_binary_words_keep_tabs_and_letters_and_lose_a_newline_before_them():
    vectors = _vectors()[:3]
    words = ["\tx", "Xylophone", "n\u00e9"]
    assert _read_binary(_binary(words, vectors))[0] == words
    # a newline before each word instead of after each record (some writers)
    raw = b"2 4\n" + b"".join(b"\n" + w.encode() + b" " + v.tobytes()
                              for w, v in zip(["a", "b"], vectors[:2], strict=True))
    words, got, _, _, _ = _read_binary(raw)
    assert words == ["a", "b"] and np.array_equal(got, vectors[:2])


def test_binary_records_that_do_not_line_up_are_one_line_errors():
    value = np.float32(1).tobytes()
    # a record that starts with a space has an empty word
    with pytest.raises(EmbedkitError) as error:
        _read_binary(b"1 1\n " + value)
    assert str(error.value) == ("f.bin: vector 1 (byte 4): expected a word, found '': the "
                                "records do not line up with the header's dimension 1")
    # a word holding a newline: shown cut to 30 bytes
    word = b"a\n" + b"b" * 40
    with pytest.raises(EmbedkitError) as error:
        _read_binary(b"2 1\nw0 " + value + b"\n" + word + b" " + value)
    shown = (b"a\n" + b"b" * 28).decode()
    assert str(error.value) == (f"f.bin: vector 2 (byte 12): expected a word, found {shown!r}:"
                                f" the records do not line up with the header's dimension 1")
    # the last record one or two bytes short
    for cut in (1, 2):
        with pytest.raises(EmbedkitError) as error:
            _read_binary(_binary(WORDS[:2], _vectors()[:2])[:-1 - cut])
        assert str(error.value).startswith("f.bin: vector 2 (byte 24): file is truncated")


LONG_BAD = b"\xff" + b"x" * 70


@pytest.mark.parametrize("header", [True, None])
def test_a_first_line_that_is_neither_header_nor_vector_is_shown_cut_to_60_bytes(header):
    shown = (LONG_BAD[:60]).decode("utf-8", "replace")
    expected = ("expected a header '<count> <dim>', found " if header else
                "expected a header '<count> <dim>' or a first vector 'word v1 v2 ...', found ")
    with pytest.raises(EmbedkitError) as error:
        read_text(io.BytesIO(LONG_BAD + b"\n"), "f.txt", header=header)
    assert str(error.value) == f"f.txt: line 1: {expected}{shown!r}"
    with pytest.raises(EmbedkitError) as error:
        read_header(io.BytesIO(LONG_BAD + b"\n"), "f.bin")
    assert str(error.value) == f"f.bin: line 1: expected a header '<count> <dim>', found {shown!r}"


def test_text_header_option_and_limit():
    text = b"2 3\na 1 2 3\nb 4 5 6\n"
    words, vectors, first = read_text(io.BytesIO(text), "f.txt", header=True)
    assert words == ["a", "b"] and first == 2 and vectors.dtype == np.float32
    # a limit above the header's count reads the count
    assert read_text(io.BytesIO(text), "f.txt", limit=10)[0] == ["a", "b"]
    # a header file with a blank line where a vector should be names that line
    for text in (b"2 3\na 1 2 3\n\n", b"3 3\na 1 2 3\n\n"):  # (and the file ends there)
        with pytest.raises(EmbedkitError) as error:
            read_text(io.BytesIO(text), "f.txt")
        assert str(error.value) == ("f.txt: line 3: expected a word and 3 values, found an "
                                    "empty line")
    # a file without a header may end with blank lines
    assert read_text(io.BytesIO(b"a 1 2 3\nb 4 5 6\n\n\n"), "f.txt")[0] == ["a", "b"]


def test_undecodable_words_name_the_option():
    with pytest.raises(EmbedkitError) as error:
        read_text(io.BytesIO(b"a 1 2\n\xff 3 4\n"), "f.txt")
    assert str(error.value) == ("f.txt: line 2: word is not valid UTF-8 (use unicode_errors "
                                "replace or ignore)")
    assert error.value.params == ("unicode_errors",)


def test_regular_text_blocks_are_parsed_in_one_call(monkeypatch):
    # One word and dim single-space separated numbers per line, trailing spaces and \r\n
    # allowed: the fast path, never line by line (slower by ~20x on real files).
    def refuse(*args):
        raise AssertionError("parsed line by line")

    monkeypatch.setattr(word2vec, "_split_line", refuse)
    for text in (b"a 1 2 3\nb 4 5 6\n", b"a 1 2 3 \r\nb 4 5 6 \r\n", b"a 1\nb 2\n"):
        words, vectors, _ = read_text(io.BytesIO(text), "f.txt")
        assert words == ["a", "b"] and vectors.dtype == np.float32


def test_blocks_handed_to_collect_are_float32_on_both_paths():
    for text in (b"a 1 2\nb 3 4\n", b"b 3 4\ntwo words 1 2\n"):
        blocks = []
        words, vectors, _ = read_text(io.BytesIO(text), "f.txt", collect=_collector(blocks))
        assert len(words) == 2 and all(b.dtype == np.float32 for b in blocks)


@pytest.mark.parametrize("line, found", [
    (b"a b 1", "1 values after the word 'a b'"),
    (b"\xffa\tb 1", "1 values after the word " + repr("\ufffda\tb")),
    (b"y" * 50 + b" 1", f"1 values after the word {'y' * 40!r}"),
])
def test_a_line_without_enough_values_shows_its_word(line, found):
    with pytest.raises(EmbedkitError) as error:
        read_text(io.BytesIO(b"w 1 2 3\n" + line + b"\n"), "f.txt")
    assert str(error.value) == f"f.txt: line 2: expected a word and 3 values, found {found}"


@pytest.mark.parametrize("field, shown", [(b"\xff", "\ufffd"), (b"9" * 20 + b"z" * 20,
                                                                 "9" * 20 + "z" * 10)])
def test_a_value_that_is_not_a_number_is_shown_cut_to_30_bytes(field, shown):
    with pytest.raises(EmbedkitError) as error:
        read_text(io.BytesIO(b"w 1 2 3\nv 1 " + field + b" 3\n"), "f.txt")
    assert str(error.value) == (f"f.txt: line 2: {shown!r} is not a number (value 2 of 3 "
                                f"after the word)")


@pytest.mark.parametrize("suffix", [".vec", ".bin"])
def test_a_file_announcing_zero_vectors_has_no_words(tmp_path, suffix):
    # before: one empty word for no rows ("1 words but a matrix of shape (0, 3)")
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"0 3\n")
    table = read_table(path)
    assert table.words == [] and table.values.shape == (0, 3)


@pytest.mark.parametrize("header", ["3 -2", "3 0", "-1 2", "+3 2", "0 0"])
@pytest.mark.parametrize("suffix", [".vec", ".bin"])
def test_a_header_of_two_integers_that_make_no_sense_is_refused(tmp_path, header, suffix):
    # '3 -2' was read as the word '3' of one value, -2, and the next lines as words with
    # spaces ('a 1' of value 2): a wrong file, exit 0.
    path = tmp_path / f"v{suffix}"
    path.write_bytes(f"{header}\na 1 2\nb 1 2\nc 3 4\n".encode())
    with pytest.raises(EmbedkitError) as error:
        read_table(path)
    assert str(error.value) == (f"{path}: line 1: header {header!r}: expected '<count> <dim>', "
                                "unsigned, a count of 0 or more and a dimension of 1 or more")


def test_a_first_line_of_two_integers_with_no_header_is_a_vector(tmp_path):
    path = tmp_path / "v.vec"
    path.write_bytes(b"3 -2\n4 5\n")
    table = read_table(path, header=False)
    assert table.words == ["3", "4"] and table.values.ravel().tolist() == [-2, 5]


def test_a_header_like_line_through_the_cli_is_one_line(tmp_path):
    from click.testing import CliRunner

    from embedkit.cli import main

    path = tmp_path / "v.vec"
    path.write_bytes(b"3 0\na 1 2\n")
    result = CliRunner().invoke(main, ["convert", str(path), str(tmp_path / "o.vec")])
    assert result.exit_code == 1
    assert result.stderr == (f"embedkit: error: {path}: line 1: header '3 0': expected "
                             "'<count> <dim>', unsigned, a count of 0 or more and a dimension "
                             "of 1 or more\n")


@pytest.mark.parametrize("value", ["1e40", "-1e39", "3.5e38"])
@pytest.mark.parametrize("header", [True, False])
def test_a_value_float32_cannot_hold_is_named_not_called_inf(tmp_path, value, header):
    from embedkit.vectors import load_vectors

    path = tmp_path / "v.vec"
    lines = ["a 1 2", f"b 1 {value}"]
    path.write_text("\n".join(["2 2", *lines] if header else lines) + "\n")
    with pytest.raises(EmbedkitError) as error:
        load_vectors(path)
    line = 3 if header else 2
    assert str(error.value) == (f"{path}: line {line}, column 2: {value} overflows float32 "
                                "(largest finite value 3.402823e+38); expected numbers float32 "
                                "can hold")


def test_a_written_inf_is_still_called_inf(tmp_path):
    path = tmp_path / "v.vec"
    path.write_text("2 2\na 1 2\nb 1 -inf\n")
    with pytest.raises(EmbedkitError, match=r"line 3, column 2: -inf; expected finite numbers"):
        read_table(path)


@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_float64_arrays_too_large_for_float32_are_named(tmp_path, suffix):
    from embedkit.vectors import load_vectors

    path = tmp_path / f"v{suffix}"
    vectors = np.array([[1.0, 2.0], [3.0, 1e40]])
    if suffix == ".npy":
        np.save(path, vectors)
        (tmp_path / "v.vocab").write_text("a\nb\n")
    else:
        np.savez(path, words=np.array(["a", "b"]), vectors=vectors)
    with pytest.raises(EmbedkitError) as error:
        load_vectors(path)
    assert str(error.value) == (f"{path}: row 2, column 2: 1e+40 overflows float32 (largest "
                                "finite value 3.402823e+38); expected numbers float32 can hold")


@pytest.mark.parametrize("extra, line", [("d 1 1\n", 5), ("\n\nd 1 1\n", 7), ("d\n", 5)])
def test_more_vectors_than_the_header_says_names_the_first_extra_line(tmp_path, extra, line):
    path = tmp_path / "v.vec"
    path.write_text("3 2\na 1 2\nb 1 2\nc 3 4\n" + extra)
    with pytest.raises(EmbedkitError) as error:
        read_table(path)
    assert str(error.value) == (f"{path}: line {line}: more than the 3 vectors the header "
                                "announces on line 1")


@pytest.mark.parametrize("gap", [b"", b"\n\n", b" \n"])
@pytest.mark.parametrize("small_chunks", [False, True])
def test_more_binary_vectors_than_the_header_says_names_the_first_extra_record(
        tmp_path, monkeypatch, cli, gap, small_chunks):
    # The error gave no position. Header 4 bytes, records of 'wN ' + 8 bytes + newline.
    if small_chunks:  # the last record and the extra one across reads
        monkeypatch.setattr(word2vec, "BINARY_CHUNK", 7)
    path = tmp_path / "v.bin"
    raw = _binary(WORDS[:4], _vectors()[:4, :2])
    path.write_bytes(raw.replace(b"4 2\n", b"3 2\n", 1)[:4 + 3 * 12] + gap + raw[4 + 3 * 12:])
    expected = (f"{path}: vector 4 (byte {4 + 3 * 12 + len(gap)}): more than the 3 vectors the "
                "header announces")
    with pytest.raises(EmbedkitError) as error:
        read_table(path)
    assert str(error.value) == expected
    result = cli("convert", path, tmp_path / "v.vec")
    assert result.exit_code == 1 and result.output == f"embedkit: error: {expected}\n"
    assert read_table(path, limit=2).words == WORDS[:2]


def test_blank_lines_after_the_announced_vectors_are_fine(tmp_path):
    path = tmp_path / "v.vec"
    path.write_text("3 2\na 1 2\nb 1 2\nc 3 4\n\n  \n")
    assert read_table(path).words == ["a", "b", "c"]


@pytest.mark.parametrize("small_chunks", [False, True])
def test_more_vectors_after_64_kib_of_blank_lines_are_still_named(tmp_path, monkeypatch,
                                                                    small_chunks):
    # the check after the announced vectors read 64 KiB (text) or one more chunk (binary) and
    # took blank bytes to the end of those for the end of the file: an extra vector after
    # them was read as nothing, exit 0
    if small_chunks:  # the binary reader's buffer ends long before the extra record
        monkeypatch.setattr(word2vec, "BINARY_CHUNK", 16)
    blank = b"\n \r\n" * 20_000
    value = np.float32(1).tobytes() * 2
    text, binary = tmp_path / "v.vec", tmp_path / "v.bin"
    text.write_bytes(b"1 2\na 1 2\n" + blank + b"b 3 4\n")
    binary.write_bytes(b"1 2\na " + value + b"\n" + blank + b"b " + value)
    with pytest.raises(EmbedkitError) as error:
        read_table(text)
    assert str(error.value) == (f"{text}: line {3 + 2 * 20_000}: more than the 1 vectors the "
                                "header announces on line 1")
    with pytest.raises(EmbedkitError) as error:
        read_table(binary)
    assert str(error.value) == (f"{binary}: vector 2 (byte {4 + 11 + len(blank)}): more than "
                                "the 1 vectors the header announces")
    text.write_bytes(b"1 2\na 1 2\n" + blank)
    binary.write_bytes(b"1 2\na " + value + b"\n" + blank)
    assert read_table(text).words == ["a"] and read_table(binary).words == ["a"]
