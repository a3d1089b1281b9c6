"""NumPy files read and written directly: ``.npz`` archives (word vectors, a single matrix,
a model's archive), their counts and subword rows, ``.npy`` vocabulary files and
:class:`~embedkit.formats.arrays.LineWords`, and the exact one-line errors.

Written against the mutants that survived `benchmarks/mutation.sh embedkit/formats/arrays.py`;
each test names what it guards."""

from __future__ import annotations

import io
import json
import sys
import warnings
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit.archive import AE_MODEL, W2V_CHECKPOINT, write_archive, wrong_kind
from embedkit.cli import main
from embedkit.errors import EmbedkitError
from embedkit.formats import arrays, read_table, write_table
from embedkit.text.subwords import ComposedVectors, SubwordModel, Subwords

WORDS = ["a", "bb", "ccc"]


def _values(rows=3, dim=2):
    return np.arange(rows * dim, dtype=np.float32).reshape(rows, dim) + 1


def _message(excinfo) -> str:
    return str(excinfo.value)


def _stdin(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


# --- .npz archives -------------------------------------------------------------------------

def test_a_damaged_archive_on_stdin_is_named_stdin(monkeypatch):
    data = b"PK\x03\x04" + b"not a zip archive" * 4
    try:
        zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        reason = str(exc)
    _stdin(monkeypatch, data)
    with pytest.raises(EmbedkitError) as excinfo:
        read_table("-")
    assert _message(excinfo) == f"<stdin>: not a readable .npz archive ({reason})"


@pytest.mark.parametrize("need_words, expected", [
    (True, "word vectors (arrays 'words' and 'vectors')"), (False, "a matrix")])
@pytest.mark.parametrize("meta, kind", [({"params": {}}, AE_MODEL),
                                        ({"history": [], "context": 5}, W2V_CHECKPOINT)])
def test_a_model_or_checkpoint_is_named_with_what_was_expected(tmp_path, need_words, expected,
                                                               meta, kind):
    path = tmp_path / "model.npz"
    write_archive(path, meta, {"weights": _values()})
    with pytest.raises(EmbedkitError) as excinfo:
        read_table(path, need_words=need_words)
    assert _message(excinfo) == str(wrong_kind(str(path), kind, expected))


def test_a_models_array_is_read_when_named_by_key(tmp_path):
    path = tmp_path / "model.npz"
    write_archive(path, {"params": {}}, {"weights": _values()})
    table = read_table(path, key="weights")
    assert np.array_equal(table.values, _values()) and table.words is None


def test_word_vectors_beside_an_embedkit_header_are_read_as_word_vectors(tmp_path):
    # an archive with a model's header, words and vectors: the word vectors are what it holds
    path = tmp_path / "v.npz"
    write_archive(path, {"params": {}}, {"words": np.array(WORDS), "vectors": _values()})
    for need_words in (True, False):
        table = read_table(path, need_words=need_words)
        assert table.words == WORDS and np.array_equal(table.values, _values())


def test_key_names_an_array_beside_word_vectors(tmp_path):
    path = tmp_path / "v.npz"
    np.savez(path, words=np.array(WORDS), vectors=_values(), other=_values(4, 5))
    table = read_table(path, key="other")
    assert table.words is None and np.array_equal(table.values, _values(4, 5))
    assert np.array_equal(read_table(path, key="vectors", mmap=True).values, _values())
    table = read_table(path)
    assert table.words == WORDS and np.array_equal(table.values, _values())


@pytest.mark.parametrize("arrays_, lacks", [
    ({"words": np.array(WORDS)}, "vectors"), ({"vectors": _values()}, "words"),
    ({"x": _values(), "y": _values()}, "vectors, words")])
def test_an_archive_lacking_words_or_vectors_names_them(tmp_path, arrays_, lacks):
    path = tmp_path / "v.npz"
    np.savez(path, **arrays_)
    with pytest.raises(EmbedkitError) as excinfo:
        read_table(path, need_words=True)
    assert _message(excinfo) == (f"{path}: archive lacks {lacks}: expected arrays 'words' and "
                                 "'vectors'")


@pytest.mark.parametrize("words", [np.array([WORDS]), np.array([1, 2, 3])])
def test_words_that_are_not_a_1d_string_array_are_one_line_error(tmp_path, words):
    path = tmp_path / "v.npz"
    np.savez(path, words=words, vectors=_values())
    with pytest.raises(EmbedkitError) as excinfo:
        read_table(path)
    assert _message(excinfo) == (f"{path}[words]: expected a 1-D array of strings, got "
                                 f"{words.dtype} of shape {words.shape}")


def test_a_words_and_vectors_archive_keeps_counts_and_output_cut_to_the_limit(tmp_path):
    path = tmp_path / "v.npz"
    counts, output = np.array([5, 3, 0]), _values(3, 4) * 2
    np.savez(path, words=np.array(WORDS), vectors=_values(), counts=counts, output=output)
    for mmap in (False, True):
        table = read_table(path, limit=2, mmap=mmap)
        assert table.words == WORDS[:2] and np.array_equal(table.values, _values()[:2])
        assert table.counts.tolist() == [5, 3] and np.array_equal(table.output, output)
        assert isinstance(table.values, np.memmap) == mmap
    bare = tmp_path / "bare.npz"
    np.savez(bare, words=np.array(WORDS), vectors=_values())
    table = read_table(bare)
    assert table.counts is None and table.output is None and table.subwords is None


@pytest.mark.parametrize("counts", [np.array([1, 2]), np.array([1.0, 2.0, 3.0]),
                                    np.array([[1, 2, 3]])])
def test_counts_of_another_shape_or_kind_are_one_line_error(tmp_path, counts):
    path = tmp_path / "v.npz"
    np.savez(path, words=np.array(WORDS), vectors=_values(), counts=counts)
    with pytest.raises(EmbedkitError) as excinfo:
        read_table(path)
    assert _message(excinfo) == (f"{path}[counts]: expected a 1-D array of 3 non-negative "
                                 f"integers, one per word, got {counts.dtype} of shape "
                                 f"{counts.shape}")


@pytest.mark.parametrize("counts, row", [([4, -1, 2], 1), ([-3, -1, 2], 0), ([0, 0, -2], 2)])
def test_the_first_negative_count_is_named_with_its_word(tmp_path, counts, row):
    path = tmp_path / "v.npz"
    np.savez(path, words=np.array(WORDS), vectors=_values(), counts=np.array(counts))
    with pytest.raises(EmbedkitError) as excinfo:
        read_table(path)
    assert _message(excinfo) == (f"{path}[counts]: entry {row + 1} (the word {WORDS[row]!r}) "
                                 f"is {counts[row]}: expected a 1-D array of 3 non-negative "
                                 "integers, one per word")


def test_unsigned_and_zero_counts_are_read(tmp_path):
    path = tmp_path / "v.npz"
    np.savez(path, words=np.array(WORDS), vectors=_values(), counts=np.array([0, 1, 2], np.uint32))
    assert read_table(path).counts.tolist() == [0, 1, 2]


def _subword_archive(path, **changes):
    arrays_ = {"words": np.array(WORDS), "vectors": _values(), "word_rows": _values() * 3,
               "ngrams": _values(4, 2) * 5, "subwords": np.array([2, 3, 4], dtype=np.int64),
               "subword_args": np.array(json.dumps({"ws": 7, "epoch": 9}))}
    arrays_.update(changes)
    np.savez(path, **{k: v for k, v in arrays_.items() if v is not None})


@pytest.mark.parametrize("mmap", [False, True])
def test_a_subword_archive_gives_its_rows_settings_and_arguments(tmp_path, mmap):
    path = tmp_path / "v.npz"
    _subword_archive(path)
    table = read_table(path, mmap=mmap, limit=2)
    model = table.subwords
    assert isinstance(model, SubwordModel)
    assert model.subwords == Subwords(2, 3, 4) and type(model.subwords.minn) is int
    assert np.array_equal(model.word_rows, _values()[:2] * 3)
    assert np.array_equal(model.ngrams, _values(4, 2) * 5)
    assert isinstance(model.ngrams, np.memmap) == mmap
    assert isinstance(model.word_rows, np.memmap) == mmap
    assert model.args == {"ws": 7, "epoch": 9}
    _subword_archive(path, subword_args=None)
    assert read_table(path, mmap=mmap).subwords.args == {}


@pytest.mark.parametrize("changes", [
    {"subwords": np.array([2, 3, 4, 5])}, {"subwords": np.array([2, 3, 5])},
    {"ngrams": _values(4, 2).reshape(4, 2, 1)}, {"subwords": np.array([[2, 3, 4]])}])
def test_subword_settings_that_do_not_fit_the_ngram_rows_are_one_line_error(tmp_path, changes):
    path = tmp_path / "v.npz"
    _subword_archive(path, **changes)
    with pytest.raises(EmbedkitError) as excinfo:
        read_table(path)
    assert _message(excinfo) == (f"{path}[subwords]: expected minn, maxn and the bucket count "
                                 "of the 4 rows of 'ngrams'")


def test_an_archive_of_several_arrays_without_key_names_them(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, x=_values(), y=_values())
    with pytest.raises(EmbedkitError) as excinfo:
        read_table(path)
    assert _message(excinfo) == f"{path}: holds 2 arrays (x, y); name one with key"
    assert excinfo.value.params == ("key",)
    empty = tmp_path / "empty.npz"
    np.savez(empty)
    with pytest.raises(EmbedkitError) as excinfo:
        read_table(empty)
    assert _message(excinfo) == f"{empty}: holds 0 arrays (none); name one with key"


@pytest.mark.parametrize("mmap", [False, True])
def test_a_single_array_or_the_one_named_is_the_matrix(tmp_path, mmap):
    path = tmp_path / "m.npz"
    np.savez(path, only=_values(4, 3))
    table = read_table(path, mmap=mmap, limit=3)
    assert np.array_equal(table.values, _values(4, 3)[:3]) and table.words is None
    assert isinstance(table.values, np.memmap) == mmap
    np.savez(path, x=_values(), y=_values(2, 5))
    assert np.array_equal(read_table(path, key="y", mmap=mmap).values, _values(2, 5))


@pytest.mark.parametrize("key", [None, "m"])
def test_a_1d_array_is_named_with_its_member(tmp_path, key):
    path = tmp_path / "m.npz"
    np.savez(path, m=np.arange(3.0))
    with pytest.raises(EmbedkitError, match=r"\[m\]") as excinfo:
        read_table(path, key=key)
    assert _message(excinfo).startswith(f"{path}[m]: ")
    np.savez(path, words=np.array(WORDS), vectors=np.arange(3.0))
    with pytest.raises(EmbedkitError) as excinfo:
        read_table(path)
    assert _message(excinfo).startswith(f"{path}[vectors]: ")


# --- words that cannot be stored ----------------------------------------------------------

@pytest.mark.parametrize("words, problem", [
    (["a", "", "b", ""], "an empty word (row 2)"),
    (["a", "b c", "d\te"], "the word 'b c' (row 2), which holds ASCII whitespace"),
    (["a", "b", "c\n"], "the word 'c\\n' (row 3), which holds ASCII whitespace"),
    (["a\u00a0b", "c\x0b"], "the word 'c\\x0b' (row 2), which holds ASCII whitespace"),
])
def test_vocabulary_file_words_are_checked_naming_the_first_bad_row(words, problem):
    assert arrays.check_vocab_words(words) == problem


def test_words_without_ascii_whitespace_fit_a_vocabulary_file():
    assert arrays.check_vocab_words(["a\u00a0b", "日本", "x"]) is None


@pytest.mark.parametrize("words, problem", [
    (["a", "b\0", "c\0"], "the word 'b\\x00' (row 2), which ends in a NUL character"),
    (["a\0"], "the word 'a\\x00' (row 1), which ends in a NUL character")])
def test_npz_words_ending_in_nul_are_named(words, problem):
    assert arrays.check_npz_words(words) == problem
    assert arrays.check_npz_words(["a\0b", "c"]) is None


# --- vocabulary files -----------------------------------------------------------------------

@pytest.mark.parametrize("lazy", [False, True])
@pytest.mark.parametrize("content, limit, expected", [
    (b"a\nbb\n", None, ["a", "bb"]),
    (b"a\nbb", None, ["a", "bb"]),
    (b"", None, []),
    (b"a\nbb\nccc\n", 2, ["a", "bb"]),
    (b"\xef\xbb\xbfa\nbb\n", None, ["a", "bb"]),
    ("a\u00a0b\n\u3000c\n".encode(), None, ["a\u00a0b", "\u3000c"]),  # not ASCII whitespace
    ("e\u0301\nx\n".encode(), None, ["\u00e9", "x"]),  # NFC
])
def test_plain_vocabularies_read_the_same_lazily_or_not(tmp_path, lazy, content, limit,
                                                        expected):
    path = tmp_path / "w.vocab"
    path.write_bytes(content)
    words, counts = arrays.read_vocab(path, limit, lazy=lazy)
    assert counts is None and len(words) == len(expected)
    assert [words[i] for i in range(len(expected))] == expected and list(words) == expected
    assert isinstance(words, arrays.LineWords) == lazy


@pytest.mark.parametrize("lazy", [False, True])
def test_undecodable_plain_words_follow_unicode_errors(tmp_path, lazy):
    path = tmp_path / "w.vocab"
    path.write_bytes(b"a\nb\xff\n")
    assert list(arrays.read_vocab(path, unicode_errors="replace", lazy=lazy)[0]) == \
        ["a", "b\ufffd"]
    assert list(arrays.read_vocab(path, unicode_errors="ignore", lazy=lazy)[0]) == ["a", "b"]
    with pytest.raises(EmbedkitError) as excinfo:
        arrays.read_vocab(path, lazy=lazy)
    assert _message(excinfo) == (f"{path}: line 2: word is not valid UTF-8 (use "
                                 "unicode_errors replace or ignore)")
    assert excinfo.value.params == ("unicode_errors",)


@pytest.mark.parametrize("content, limit, words, counts", [
    (b"a 5\nbb 3\n", None, ["a", "bb"], [5, 3]),
    (b"a 5\r\nbb\t3", None, ["a", "bb"], [5, 3]),
    (b"a 5\nbb 3\nccc 1\n", 2, ["a", "bb"], [5, 3]),
    (b"\xef\xbb\xbfa 0\n", None, ["a"], [0]),
    ("e\u0301 7\n".encode(), None, ["\u00e9"], [7]),
    (b"a\r\nbb\n", None, ["a", "bb"], None),
])
def test_vocabularies_with_counts_are_read_line_by_line(tmp_path, content, limit, words, counts):
    path = tmp_path / "w.vocab"
    path.write_bytes(content)
    for lazy in (False, True):
        got, got_counts = arrays.read_vocab(path, limit, lazy=lazy)
        assert got == words and type(got) is list
        if counts is None:
            assert got_counts is None
        else:
            assert got_counts.dtype == np.int64 and got_counts.tolist() == counts


@pytest.mark.parametrize("content, message", [
    (b"a 1\nb\n", "line 2: expected 'word' or 'word count', found 1 fields"),
    (b"a 1\nb 2 3\n", "line 2: expected 'word' or 'word count', found 3 fields"),
    (b"a\nb 2\n", "line 2: expected 'word count' with a non-negative integer count on every "
                  "line"),
    (b"a 1\nb -2\n", "line 2: expected 'word count' with a non-negative integer count on "
                     "every line"),
    (b"a x\n", "line 1: expected 'word count' with a non-negative integer count on every "
               "line"),
    (b"a 1\n\nb 2\n", "line 2: expected 'word' or 'word count', found 0 fields"),
    (b"a 1\nb 2\n\xff 3\n", "line 3: word is not valid UTF-8 (use unicode_errors replace or "
                            "ignore)"),
])
def test_vocabulary_errors_name_the_file_and_line_exactly(tmp_path, content, message):
    path = tmp_path / "w.vocab"
    path.write_bytes(content)
    with pytest.raises(EmbedkitError) as excinfo:
        arrays.read_vocab(path)
    assert _message(excinfo) == f"{path}: {message}"


def test_a_vocabulary_on_stdin_is_named_stdin(monkeypatch):
    _stdin(monkeypatch, b"a 1\nb\n")
    with pytest.raises(EmbedkitError) as excinfo:
        arrays.read_vocab("-")
    assert _message(excinfo) == ("<stdin>: line 2: expected 'word' or 'word count', found 1 "
                                 "fields")


def test_a_vocabulary_with_counts_and_replaced_bytes(tmp_path):
    path = tmp_path / "w.vocab"
    path.write_bytes(b"a 1\nb\xff 2\n")
    assert arrays.read_vocab(path, unicode_errors="replace")[0] == ["a", "b\ufffd"]


# --- LineWords ------------------------------------------------------------------------------

def test_line_words_find_the_first_row_of_every_word_before_and_after_the_list():
    words = ["a", "bb", "a", "日本", "c"]
    lazy = arrays.LineWords("".join(f"{w}\n" for w in words).encode())
    for built in (False, True):
        if built:
            assert lazy.list() == words
        assert "a" in lazy and "c" in lazy and "日本" in lazy
        assert [lazy.index(w) for w in ("a", "bb", "日本", "c")] == [0, 1, 3, 4]
        assert [lazy[i] for i in (0, 3, 4, -1, -5)] == ["a", "日本", "c", "c", "a"]
        assert lazy.index("a", 1) == 2 and lazy.index("a", 0, 1) == 0
        assert lazy.index("bb", 1, 2) == 1
        with pytest.raises(ValueError):
            lazy.index("a", 3)
        with pytest.raises(ValueError):
            lazy.index("c", 0, 4)
        for missing in ("b", "a\nbb", "bb\na", "\ud800", "", 3):
            assert missing not in lazy
        with pytest.raises(ValueError, match="^'zz' is not in the vocabulary$|zz"):
            lazy.index("zz")
    fresh = arrays.LineWords(b"a\nbb\n")
    assert fresh[0:2] == ["a", "bb"] and fresh[1:] == ["bb"]
    for start, stop, row in ((0, 1, None), (0, 2, 1), (1, None, 1), (1, 1, None)):
        lazy = arrays.LineWords(b"a\nbb\na\n")  # not listed yet
        if row is None:
            with pytest.raises(ValueError):
                lazy.index("bb", start, stop)
        else:
            assert lazy.index("bb", start, stop) == row


def test_line_words_say_which_word_is_missing():
    lazy = arrays.LineWords(b"a\nbb\n")
    with pytest.raises(ValueError) as excinfo:
        lazy.index("zz")
    assert str(excinfo.value) == "'zz' is not in the vocabulary"
    with pytest.raises(ValueError) as excinfo:
        lazy.index("\ud800")
    assert str(excinfo.value) == "'\\ud800' is not in the vocabulary"
    with pytest.raises(ValueError) as excinfo:
        lazy.index("a\nbb")
    assert str(excinfo.value) == "'a\\nbb' is not in the vocabulary"


def test_line_words_keep_words_holding_other_whitespace():
    lazy = arrays.LineWords("a\u00a0b\n\u3000\nc\n".encode())
    assert lazy.list() == ["a\u00a0b", "\u3000", "c"] and len(lazy) == 3
    assert lazy == ("a\u00a0b", "\u3000", "c") and lazy != ["a\u00a0b", "\u3000"]
    assert arrays.LineWords(b"").list() == [] and list(arrays.LineWords(b"")) == []
    assert arrays.LineWords(b"x\n") == ["x"] and (arrays.LineWords(b"x\n") == "x") is False


# --- .npy and its vocabulary -----------------------------------------------------------------

def test_vocab_and_norms_paths_replace_the_suffix(tmp_path):
    assert arrays.vocab_path("d.x/m.npy") == "d.x/m.vocab"
    assert arrays.norms_path("d.x/m.npy") == "d.x/m.norms.npz"
    assert arrays.vocab_path(tmp_path / "m") == f"{tmp_path}/m.vocab"


def test_convert_to_npy_names_a_word_ending_in_whitespace(tmp_path):
    # a text line with two spaces before its values: the word is 'a\t' (it used to stop with
    # an internal StopIteration: the word's bytes split into one field)
    source = tmp_path / "v.vec"
    source.write_bytes(b"2 2\nbb 1 2\na\t 3 4\n")
    result = CliRunner().invoke(main, ["convert", str(source), str(tmp_path / "v.npy")])
    assert result.exit_code == 1
    assert result.stderr == (f"embedkit: error: {tmp_path / 'v.npy'}: cannot write the word "
                             "'a\\t' (row 2), which holds ASCII whitespace in NumPy .npy "
                             "format\n")
    assert not (tmp_path / "v.npy").exists()


def test_a_mapped_npy_vocabulary_with_dropped_bytes_is_read(tmp_path):
    # unicode_errors ignore on a vocabulary of ASCII letters and bad bytes: the words are the
    # decoded text (they used to be the raw bytes, which failed to decode when looked at)
    np.save(tmp_path / "m.npy", _values())
    (tmp_path / "m.vocab").write_bytes(b"a\nb\xff\nc\xfe\xfe\n")
    for mmap in (False, True):
        table = read_table(tmp_path / "m.npy", mmap=mmap, unicode_errors="ignore")
        assert list(table.words) == ["a", "b", "c"]
    result = CliRunner().invoke(main, ["neighbors", "--mmap", "--unicode-errors", "ignore",
                                       str(tmp_path / "m.npy"), "b", "-k", "1"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split("\t")[:2] == ["b", "1"]


def test_a_npy_without_a_vocabulary_file_is_a_matrix_unless_words_are_needed(tmp_path,
                                                                             monkeypatch):
    path = tmp_path / "m.npy"
    np.save(path, _values())
    table = read_table(path)
    assert table.words is None and np.array_equal(table.values, _values())
    with pytest.raises(EmbedkitError) as excinfo:
        read_table(path, need_words=True)
    assert _message(excinfo) == (f"{path}: a .npy matrix needs a vocabulary file: give vocab "
                                 f"FILE (default {tmp_path / 'm.vocab'} does not exist)")
    assert excinfo.value.params == ("vocab",)
    (tmp_path / "m.vocab").write_text("a\nbb\nccc\n")  # beside it, not beside stdin
    _stdin(monkeypatch, path.read_bytes())
    with pytest.raises(EmbedkitError) as excinfo:
        read_table("-", need_words=True)
    assert _message(excinfo) == ("<stdin>: a .npy matrix needs a vocabulary file: give vocab "
                                 "FILE")
    _stdin(monkeypatch, path.read_bytes())
    assert read_table("-").words is None


@pytest.mark.parametrize("mmap", [False, True])
def test_a_named_vocabulary_overrides_the_default_one(tmp_path, monkeypatch, mmap):
    path = tmp_path / "m.npy"
    np.save(path, _values())
    (tmp_path / "m.vocab").write_text("x\ny\nz\n")
    (tmp_path / "other.txt").write_text("a 3\nbb 2\nccc 1\n")
    table = read_table(path, vocab=tmp_path / "other.txt", mmap=mmap, limit=2)
    assert table.words == ["a", "bb"] and table.counts.tolist() == [3, 2]
    assert isinstance(table.values, np.memmap) == mmap
    assert read_table(path, mmap=mmap).words == ["x", "y", "z"]
    _stdin(monkeypatch, path.read_bytes())
    table = read_table("-", vocab=tmp_path / "other.txt", need_words=True)
    assert table.words == WORDS and np.array_equal(table.values, _values())


def test_a_named_vocabulary_that_does_not_exist_is_named(tmp_path):
    path = tmp_path / "m.npy"
    np.save(path, _values())
    with pytest.raises(EmbedkitError, match="nothere.vocab"):
        read_table(path, vocab=tmp_path / "nothere.vocab")


@pytest.mark.parametrize("mmap", [False, True])
def test_duplicate_npy_words_are_named_by_their_vocabulary_lines(tmp_path, mmap):
    path = tmp_path / "m.npy"
    np.save(path, _values(4, 2))
    (tmp_path / "m.vocab").write_text("a\nbb\na\nc\n")
    with pytest.warns(UserWarning) as record:
        table = read_table(path, mmap=mmap)
    assert [str(w.message) for w in record] == [
        f"{path}: the word 'a' of line 1 of {tmp_path / 'm.vocab'} comes again on line 3 of "
        f"{tmp_path / 'm.vocab'}: the first is kept, the later one dropped"]
    assert list(table.words) == ["a", "bb", "c"]
    assert np.array_equal(table.values, _values(4, 2)[[0, 1, 3]])


def test_a_npy_with_stored_norms_gives_them_cut_to_the_limit(tmp_path):
    path = tmp_path / "m.npy"
    values = _values(4, 2)
    write_table(path, values, ["a", "bb", "c", "d"], counts=np.array([4, 3, 2, 1]))
    assert (tmp_path / "m.vocab").read_text() == "a 4\nbb 3\nc 2\nd 1\n"
    assert (tmp_path / "m.norms.npz").exists()
    for mmap in (False, True):
        table = read_table(path, mmap=mmap, limit=3)
        assert table.norms.dtype == np.float32
        assert np.allclose(table.norms, np.linalg.norm(values[:3], axis=1), rtol=1e-6)
        assert table.counts.tolist() == [4, 3, 2]
    write_table(path, values, ["a", "bb", "c", "d"])
    assert (tmp_path / "m.vocab").read_text() == "a\nbb\nc\nd\n"
    assert read_table(path).counts is None


def test_npz_members_are_stored_with_their_documented_dtypes(tmp_path):
    path = tmp_path / "v.npz"
    model = SubwordModel(Subwords(2, 3, 4), np.ones((3, 2)), np.ones((4, 2)), {"ws": 5})
    write_table(path, _values(), WORDS, counts=np.array([3, 2, 1], np.int32),
                output=np.ones((3, 2)), subwords=model)
    with np.load(path) as stored:
        dtypes = {name: stored[name].dtype for name in stored.files}
        assert str(stored["subword_args"]) == '{"ws": 5}'
        assert stored["subwords"].tolist() == [2, 3, 4]
    assert dtypes == {"vectors": np.float32, "words": np.dtype("<U3"), "counts": np.int64,
                      "output": np.float32, "word_rows": np.float32, "ngrams": np.float32,
                      "subwords": np.int64, "subword_args": np.dtype("<U9")}


def test_an_empty_table_of_words_round_trips_through_npz(tmp_path):
    path = tmp_path / "v.npz"
    write_table(path, np.empty((0, 3), np.float32), [])
    table = read_table(path, need_words=True)
    assert table.words == [] and table.values.shape == (0, 3)


class _Recorded(np.ndarray):
    """A matrix that records the rows read from it by index."""

    def __getitem__(self, index):
        self.asked.append(np.asarray(index).tolist())
        return np.asarray(self).__getitem__(index)


def _norms_file(tmp_path, values, norms=None):
    path = tmp_path / "m.npy"
    np.save(path, values)
    arrays.write_vocab(tmp_path / "m.vocab", [f"w{i}" for i in range(len(values))], None)
    written = (tmp_path / "m.vocab").read_bytes()
    arrays.write_norms(arrays.norms_path(path), values, written, norms)
    return str(path), str(tmp_path / "m.vocab")


@pytest.mark.parametrize("bad, probed", [(None, [0, 4, 9]), (6, [0, 4, 6, 9]),
                                         (0, [0, 4, 9])])
def test_stored_norms_are_checked_on_the_first_middle_last_and_first_suspect_rows_only(
        tmp_path, bad, probed):
    # no pass over a mapped matrix before its first query: three rows, and the first whose
    # stored norm is NaN or negative (a row of norm 0 or below 1 is not suspect)
    values = np.full((10, 2), 2.0, np.float32)
    values[3], values[5] = 0, 0.25
    norms = np.linalg.norm(values, axis=1).astype(np.float32)
    if bad is not None:
        values[bad], norms[bad], norms[bad + 2] = np.nan, np.nan, -1.0  # only the first
    path, vocab = _norms_file(tmp_path, values, norms)
    recorded = values.view(_Recorded)
    recorded.asked = []
    got, distinct = arrays.read_norms(path, recorded, vocab)
    assert recorded.asked == [probed] and distinct
    assert np.array_equal(got, norms, equal_nan=True)


def test_stored_norms_are_compared_by_relative_tolerance_alone(tmp_path):
    # tiny rows: an absolute tolerance would accept another matrix's norms
    values = np.full((3, 1), 1e-6, np.float32)
    path, vocab = _norms_file(tmp_path, values, np.full(3, 1.0005e-6, np.float32))
    with pytest.raises(EmbedkitError) as excinfo:
        arrays.read_norms(path, values, vocab)
    assert _message(excinfo).startswith(f"{arrays.norms_path(path)}: row 1 has norm "
                                        "1.0005e-06 stored but 1e-06 in the matrix: norms of "
                                        "another matrix; delete it")
    _norms_file(tmp_path, values, np.full(3, 1.000005e-6, np.float32))  # within 1e-5
    assert arrays.read_norms(path, values, vocab)[1]


def test_stored_norms_vouch_for_the_vocabulary_written_with_them_only(tmp_path):
    values = _values()
    path, vocab = _norms_file(tmp_path, values)
    assert arrays.read_norms(path, values, vocab)[1] is True
    (tmp_path / "m.vocab").write_bytes(b"w0\nw1\nw9\n")  # same size, another checksum
    assert arrays.read_norms(path, values, vocab)[1] is False
    (tmp_path / "m.vocab").write_bytes(b"w0\nw1\nw2\n\n")
    assert arrays.read_norms(path, values, vocab)[1] is False
    empty = np.empty((0, 2), np.float32)
    path, vocab = _norms_file(tmp_path, empty)
    norms, distinct = arrays.read_norms(path, empty, vocab)
    assert norms.shape == (0,) and distinct


@pytest.mark.parametrize("name", ["v.npz", "v.npy"])
def test_rows_composed_where_read_are_written_as_the_composed_matrix(tmp_path, name):
    rng = np.random.default_rng(3)
    model = SubwordModel(Subwords(2, 3, 16), rng.standard_normal((3, 4)).astype(np.float32),
                         rng.standard_normal((16, 4)).astype(np.float32), {"ws": 5})
    composed = ComposedVectors(model, WORDS)
    kept = dict(counts=np.array([3, 2, 1]), output=np.ones((3, 4)))
    if name == "v.npz":
        kept["subwords"] = model
    write_table(tmp_path / name, composed, WORDS, **kept)
    write_table(tmp_path / ("whole-" + name), np.asarray(composed), WORDS, **kept)
    assert (tmp_path / name).read_bytes() == (tmp_path / ("whole-" + name)).read_bytes()
    table = read_table(tmp_path / name)
    assert table.words == WORDS and np.array_equal(table.values, np.asarray(composed))
    if name == "v.npz":
        assert table.subwords.args == {"ws": 5} and table.counts.tolist() == [3, 2, 1]
        assert np.array_equal(table.output, np.ones((3, 4)))
    else:
        assert np.allclose(table.norms, np.linalg.norm(np.asarray(composed), axis=1),
                           rtol=1e-6)


def test_stored_norms_of_rows_beyond_float32_are_read_without_warnings(tmp_path):
    values = np.array([[1, 2], [3e38, 3e38], [2, 2]], np.float32)  # its norm overflows: inf
    path, vocab = _norms_file(tmp_path, values)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        norms, distinct = arrays.read_norms(path, values, vocab)
    assert norms[1] == np.inf and distinct


def test_a_wrong_stored_norm_is_shown_beside_its_rows_norm(tmp_path):
    values = np.array([[3, 4], [6, 8], [0, 1]], np.float32)
    path, vocab = _norms_file(tmp_path, values, np.array([5, 10, 2], np.float32))
    with pytest.raises(EmbedkitError) as excinfo:
        arrays.read_norms(path, values, vocab)
    assert _message(excinfo).startswith(f"{arrays.norms_path(path)}: row 3 has norm 2 stored "
                                        "but 1 in the matrix: norms of another matrix; ")


def test_norms_of_rows_beyond_float32_are_written_without_warnings(tmp_path):
    values = np.array([[1, 2], [3e38, 3e38]], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_table(tmp_path / "v.npy", values, ["a", "b"])
    with np.load(tmp_path / "v.norms.npz") as stored:
        assert stored["norms"][1] == np.inf


def test_a_vocabulary_starting_with_a_blank_line_names_it(tmp_path):
    path = tmp_path / "w.vocab"
    path.write_bytes(b"\na\nb\n")
    for lazy in (False, True):
        with pytest.raises(EmbedkitError) as excinfo:
            arrays.read_vocab(path, lazy=lazy)
        assert _message(excinfo) == (f"{path}: line 1: expected 'word' or 'word count', found "
                                     "0 fields")


def test_a_vocabulary_is_read_as_a_list_by_default(tmp_path):
    path = tmp_path / "w.vocab"
    path.write_bytes(b"a\nbb\n")
    words, counts = arrays.read_vocab(path)
    assert type(words) is list and words == ["a", "bb"] and counts is None


def test_stdin_has_no_default_vocabulary_even_beside_a_file_named_for_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "<stdin>.vocab").write_text("a\nbb\nccc\n")
    np.save(tmp_path / "m.npy", _values())
    _stdin(monkeypatch, (tmp_path / "m.npy").read_bytes())
    assert read_table("-").words is None


def test_a_bad_npy_is_named_from_a_file_or_stdin(tmp_path, monkeypatch):
    path = tmp_path / "m.npy"
    np.save(path, np.arange(3.0))
    with pytest.raises(EmbedkitError) as excinfo:
        read_table(path)
    assert _message(excinfo).startswith(f"{path}: ")
    _stdin(monkeypatch, b"\x93NUMPY\x09\x09" + b"x" * 20)
    with pytest.raises(EmbedkitError) as excinfo:
        read_table("-")
    assert _message(excinfo).startswith("<stdin>: not a readable NumPy file")
