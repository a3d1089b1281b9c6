"""Vector files: round trips in every format, the C tool's conventions, and one-line errors."""

import gzip
import struct

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit import streaming
from embedkit.cli import main
from embedkit.errors import EmbedkitError
from embedkit.vectors import load_vectors, save_vectors
from embedkit.vectors.formats import format_rows, read_vocab

WORDS = ["the", "of", "and", "naïve", "x"]


@pytest.fixture
def vectors():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((len(WORDS), 7)) * 10.0 ** rng.integers(-6, 4, (len(WORDS), 7))
            ).astype(np.float32)


@pytest.mark.parametrize("name", ["v.txt", "v.vec", "v.bin", "v.npz", "v.npy", "v.txt.gz",
                                  "v.bin.bz2"])
def test_round_trip(tmp_path, vectors, name):
    counts = np.array([50, 40, 30, 20, 10])
    path = tmp_path / name
    save_vectors(path, WORDS, vectors, counts=counts)
    kv = load_vectors(path)
    assert kv.words == WORDS
    assert kv.index == {w: i for i, w in enumerate(WORDS)}
    if name.startswith("v.txt") or name == "v.vec":
        np.testing.assert_allclose(kv.vectors, vectors, rtol=5e-6)
    else:
        np.testing.assert_array_equal(kv.vectors, vectors)
    if name.endswith((".npz", ".npy")):
        np.testing.assert_array_equal(kv.counts, counts)


def test_text_layout_is_word2vec(tmp_path, vectors):
    path = tmp_path / "v.txt"
    save_vectors(path, WORDS, vectors)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == f"{len(WORDS)} 7"
    for word, row, line in zip(WORDS, vectors, lines[1:], strict=True):
        assert line == word + " " + " ".join(f"{float(v):.5e}" for v in row)


def test_format_rows_equals_printf_on_hard_values():
    rng = np.random.default_rng(1)
    values = np.concatenate([
        rng.standard_normal(5000) * 10.0 ** rng.integers(-44, 38, 5000),
        [0.0, -0.0, 9.999996, 9.999994, 1e-45, 3.4e38, 1.0, -1.5, 0.1, 99999.95, 1e-5, 1e-40],
    ]).astype(np.float32)
    values = values[np.isfinite(values)]
    text = format_rows(values.reshape(1, -1))[0]
    assert text.endswith(b"\n")
    assert text.split() == [f"{float(v):.5e}".encode() for v in values]


def test_binary_layout_is_word2vec(tmp_path, vectors):
    path = tmp_path / "v.bin"
    save_vectors(path, WORDS, vectors)
    data = path.read_bytes()
    header, _, rest = data.partition(b"\n")
    assert header == b"5 7"
    first = b"the " + struct.pack("<7f", *vectors[0]) + b"\n"
    assert rest.startswith(first)


def test_npz_keeps_output_weights_and_mmaps(tmp_path, vectors):
    path = tmp_path / "model.npz"
    output = np.arange(35, dtype=np.float32).reshape(5, 7)
    save_vectors(path, WORDS, vectors, output=output)
    kv = load_vectors(path, mmap=True, limit=3)
    assert isinstance(kv.vectors, np.memmap)
    assert kv.words == WORDS[:3]
    np.testing.assert_array_equal(kv.vectors, vectors[:3])
    np.testing.assert_array_equal(kv.output, output)


def test_npy_with_vocabulary_file(tmp_path, vectors):
    np.save(tmp_path / "m.npy", vectors)
    (tmp_path / "words.txt").write_text("".join(f"{w} {9 - i}\n" for i, w in enumerate(WORDS)),
                                       encoding="utf-8")
    kv = load_vectors(tmp_path / "m.npy", vocab=tmp_path / "words.txt", mmap=True)
    assert kv.words == WORDS and kv.counts.tolist() == [9, 8, 7, 6, 5]
    np.testing.assert_array_equal(kv.vectors, vectors)
    assert read_vocab(tmp_path / "words.txt", limit=2) == (WORDS[:2], pytest.approx([9, 8]))


def test_limit_reads_the_first_vectors(tmp_path, vectors):
    for name in ("v.txt", "v.bin"):
        save_vectors(tmp_path / name, WORDS, vectors)
        kv = load_vectors(tmp_path / name, limit=2)
        assert kv.words == WORDS[:2] and kv.vectors.shape == (2, 7)


def test_c_tool_conventions_load(tmp_path):
    # Text: trailing space on each line (word2vec.c, fastText). Binary: newline after each
    # vector, and a gzip-compressed copy.
    text = "2 3\nhello 1.5 -2 0.25 \nworld 0 1e-3 3 \n"
    (tmp_path / "c.txt").write_text(text, encoding="utf-8")
    kv = load_vectors(tmp_path / "c.txt")
    assert kv.words == ["hello", "world"]
    np.testing.assert_array_equal(kv.vectors, np.float32([[1.5, -2, 0.25], [0, 1e-3, 3]]))
    rows = [b"hello " + struct.pack("<3f", 1.5, -2, 0.25) + b"\n",
            b"world " + struct.pack("<3f", 0, 1, 3) + b"\n"]
    (tmp_path / "c.bin").write_bytes(b"2 3\n" + b"".join(rows))
    with gzip.open(tmp_path / "c.bin.gz", "wb") as out:
        out.write(b"2 3\n" + rows[0] + rows[1].rstrip(b"\n"))  # no newline after the last one
    for name in ("c.bin", "c.bin.gz"):
        kv = load_vectors(tmp_path / name)
        assert kv.words == ["hello", "world"]
        np.testing.assert_array_equal(kv.vectors, [[1.5, -2, 0.25], [0, 1, 3]])


def test_duplicates_keep_the_first_row(tmp_path):
    (tmp_path / "d.txt").write_text("3 1\na 1\nb 2\na 3\n", encoding="utf-8")
    kv = load_vectors(tmp_path / "d.txt")
    assert kv.words == ["a", "b"] and kv.vectors[:, 0].tolist() == [1, 2]


def test_unicode_errors(tmp_path):
    (tmp_path / "u.txt").write_bytes(b"2 1\nok 1\nbad\xff 2\n")
    kv = load_vectors(tmp_path / "u.txt", unicode_errors="replace")
    assert kv.words == ["ok", "bad\ufffd"]
    assert load_vectors(tmp_path / "u.txt", unicode_errors="ignore").words == ["ok", "bad"]


MALFORMED = {
    "header.txt": (b"3\nx 1 2 3\n", "header.txt: line 1: expected a header"),
    "words.txt": (b"two three\n", "header.txt: line 1"),
    "values.txt": (b"2 3\na 1 2 3\nb 1 2\n", "values.txt: line 3: expected a word and 3 values"),
    "number.txt": (b"2 2\na 1 2\nb 1 x2\n", "number.txt: line 3: 'x2' is not a number"),
    "short.txt": (b"3 2\na 1 2\nb 1 2\n", "short.txt: line 4: file ends after 2 vectors"),
    "long.txt": (b"1 2\na 1 2\nb 1 2\n", "long.txt: line 3: more than the 1 vectors"),
    "utf8.txt": (b"2 1\nok 1\nbad\xff 2\n", "utf8.txt: line 3: word is not valid UTF-8"),
    "cut.bin": (b"2 2\na " + struct.pack("<2f", 1, 2) + b"\nb " + b"\0\0\0",
                "cut.bin: vector 2 (byte 15): file is truncated"),
    "utf8.bin": (b"1 1\n\xffa " + struct.pack("<f", 1),
                 "utf8.bin: vector 1 (byte 4): word is not valid"),
    "junk.npz": (b"not a zip", "junk.npz: not a readable .npz archive"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_files_give_one_line_errors(tmp_path, name):
    content, expected = MALFORMED[name]
    (tmp_path / name).write_bytes(content)
    if name == "words.txt":
        name, expected = "header.txt", expected
        (tmp_path / name).write_bytes(content)
    result = CliRunner().invoke(main, ["neighbors", str(tmp_path / name), "a"])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("embedkit: error: ")
    assert expected in lines[0]
    assert "Traceback" not in result.output


def test_npy_without_vocabulary_is_a_clear_error(tmp_path, vectors):
    """The message names the vocabulary file looked for and the option: the option's name
    inside the file name stays as it is (it read "default f64.--vocab")."""
    np.save(tmp_path / "f64.npy", vectors)
    result = CliRunner().invoke(main, ["neighbors", str(tmp_path / "f64.npy"), "the"])
    assert result.exit_code == 1
    assert result.stderr == (f"embedkit: error: {tmp_path / 'f64.npy'}: a .npy matrix needs a "
                             f"vocabulary file: give --vocab FILE (default "
                             f"{tmp_path / 'f64.vocab'} does not exist)\n")


def test_words_with_spaces_round_trip_in_text_and_are_refused_by_binary(tmp_path, vectors):
    words = ["a b", " ", "x\u00a0y", *WORDS[3:]]
    save_vectors(tmp_path / "v.txt", words, vectors)
    assert load_vectors(tmp_path / "v.txt").words == words
    with pytest.raises(ValueError, match="'a b' .row 1.*ASCII space"):
        save_vectors(tmp_path / "v.bin", words, vectors)
    assert not (tmp_path / "v.bin").exists()


def test_npz_words_holding_newlines_or_nuls_round_trip(tmp_path, vectors):
    # Words from fastText models or other .npz files may hold any character; a reader that
    # split the joined words at newlines got more words than rows.
    words = ["a\nb", "naïve\r\nx", "t\tu", "n\0ul", "cafe\u0301\n"]
    save_vectors(tmp_path / "v.npz", words, vectors)
    kv = load_vectors(tmp_path / "v.npz")
    assert kv.words == [*words[:4], "caf\u00e9\n"]  # NFC, as every reader gives words
    np.testing.assert_array_equal(kv.vectors[kv.index["a\nb"]], vectors[0])


def test_npz_written_as_a_plain_string_array_still_reads(tmp_path, vectors):
    # How every earlier embedkit wrote words, and how numpy users write them.
    np.savez(tmp_path / "old.npz", words=np.array(WORDS), vectors=vectors)
    assert load_vectors(tmp_path / "old.npz").words == WORDS


def test_npz_refuses_a_word_ending_in_nul_before_writing(tmp_path, vectors):
    words = [*WORDS[:4], "x\0"]
    with pytest.raises(ValueError, match=r"'x\\x00' \(row 5\), which ends in a NUL character"):
        save_vectors(tmp_path / "v.npz", words, vectors)
    assert not (tmp_path / "v.npz").exists()


def test_words_holding_line_breaks_decode_one_by_one_with_their_position():
    from embedkit.errors import EmbedkitError
    from embedkit.formats.word2vec import decode_words

    def where(i):
        return f"entry {i + 1}"

    assert decode_words([b"a", b"\nb", b"c\n"], "m.bin", "strict", where) == ["a", "\nb", "c\n"]
    assert decode_words([b"a", b"b"], "m.bin", "strict", where) == ["a", "b"]
    for raw in ([b"a", b"\nb", b"\xff"], [b"a", b"b", b"\xff"]):
        with pytest.raises(EmbedkitError, match=r"^m\.bin: entry 3: word is not valid UTF-8"):
            decode_words(raw, "m.bin", "strict", where)


@pytest.mark.parametrize("name", ["v.txt", "v.bin"])
def test_words_are_decoded_block_by_block_in_nfc_with_their_place(tmp_path, monkeypatch, name):
    """Small blocks: decoding per block must keep every word's place (line, record and byte)
    and give NFC across blocks, duplicates included."""
    from embedkit.formats import word2vec

    monkeypatch.setattr(word2vec, "TEXT_BLOCK", 3)
    monkeypatch.setattr(word2vec, "DECODE_WORDS", 3)
    words = [f"w{i}" for i in range(9)]
    words[4], words[7] = "cafe\u0301", "caf\u00e9"
    vectors = np.arange(18, dtype=np.float32).reshape(9, 2)
    save_vectors(tmp_path / name, words, vectors)
    with pytest.warns(UserWarning, match="'café' of (line 6|vector 5 .*) comes again on "
                                         "(line 9|vector 8 .*)"):
        kv = load_vectors(tmp_path / name)
    assert kv.words == [*words[:4], "caf\u00e9", "w5", "w6", "w8"]
    np.testing.assert_array_equal(kv.vectors[4:6], vectors[4:6])
    data = (tmp_path / name).read_bytes()
    record = data.index(b"w6 ")
    (tmp_path / name).write_bytes(data[:record] + b"w\xff" + data[record + 2:])
    expected = (r"line 8: word is not valid UTF-8" if name == "v.txt"
                else rf"vector 7 \(byte {record}\): word is not valid UTF-8")
    with pytest.raises(EmbedkitError, match=rf"^{tmp_path / name}: {expected}"):
        load_vectors(tmp_path / name)


def test_vectors_are_read_into_memory_as_float32_unless_mapped(tmp_path, vectors):
    np.save(tmp_path / "v.npy", vectors.astype(np.float64))
    (tmp_path / "v.vocab").write_text("".join(f"{w}\n" for w in WORDS))
    kv = load_vectors(tmp_path / "v.npy")  # not mapped by default: the file may change later
    assert not streaming.is_mapped(kv.vectors) and kv.vectors.dtype == np.float32
    np.testing.assert_array_equal(kv.vectors, vectors)
    mapped = load_vectors(tmp_path / "v.npy", mmap=True)  # mapped: left as the file holds it
    assert isinstance(mapped.vectors, np.memmap) and mapped.vectors.dtype == np.float64
    np.savez(tmp_path / "w.npz", words=np.array(WORDS), vectors=vectors.astype(np.float64))
    assert load_vectors(tmp_path / "w.npz").vectors.dtype == np.float32


def test_fmt_overrides_the_suffix_when_reading(tmp_path, vectors):
    save_vectors(tmp_path / "v.bin", WORDS, vectors, fmt="text")
    kv = load_vectors(tmp_path / "v.bin", fmt="text")
    assert kv.words == WORDS
    np.testing.assert_allclose(kv.vectors, vectors, rtol=1e-5)


@pytest.mark.parametrize("name", ["v.npy", "v.npz"])
def test_vectors_are_stored_as_float32_whatever_their_dtype(tmp_path, vectors, name):
    save_vectors(tmp_path / name, WORDS, vectors.astype(np.float64))
    stored = np.load(tmp_path / name)
    stored = stored if name == "v.npy" else stored["vectors"]
    assert stored.dtype == np.float32  # half the file, and what every reader gives back
    np.testing.assert_array_equal(stored, vectors)
