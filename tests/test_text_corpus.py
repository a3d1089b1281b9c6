"""Reading and tokenising corpora: formats, stdin, tokenizers, long lines, blocks."""

import bz2
import gzip
import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embedkit.errors import EmbedkitError
from embedkit.text.corpus import corpus_name, iter_text_blocks, iter_token_blocks, spool_streams
from embedkit.text.stream import iter_id_chunks
from embedkit.text.tokenize import SENTENCE_END, WORD_PATTERN, Tokenizer, normalize_word
from embedkit.text.vocab import Vocabulary, build_vocabulary

TEXT = "The cat sat.\nDon't stop the x-ray, Ünïcode café!\n\nthe end\n"


def all_tokens(paths, **kwargs):
    return [t for block in iter_token_blocks(paths, **kwargs) for t in block]


def sentences_of(chunks):
    """Sentences as lists of ids, from id chunks."""
    out = []
    for chunk in chunks:
        for s in np.unique(chunk.sentences):
            out.append(chunk.ids[chunk.sentences == s].tolist())
    return out


def test_regex_tokenizer_keeps_inner_apostrophes_and_hyphens_and_unicode():
    assert Tokenizer().tokens(TEXT) == [
        "the", "cat", "sat", SENTENCE_END, "don't", "stop", "the", "x-ray", "ünïcode",
        "café", SENTENCE_END, SENTENCE_END, "the", "end", SENTENCE_END]


def test_no_lowercase_and_whitespace_tokenizer():
    # An inner underscore joins, as in the phrases of `embedkit phrases`; outer ones do not.
    assert Tokenizer(lowercase=False).tokens("The Cat, 'quoted' -x- a_b _c d__e\n") == [
        "The", "Cat", "quoted", "x", "a_b", "c", "d", "e", SENTENCE_END]
    assert Tokenizer("whitespace", lowercase=False).tokens("The Cat, -x-\n") == [
        "The", "Cat,", "-x-", SENTENCE_END]


def test_unknown_tokenizer_is_an_error():
    with pytest.raises(EmbedkitError, match="tokenizer 'nltk'"):
        Tokenizer("nltk")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab1É_'-’ .,\n\t\0é\u0301क\u094d")),
               max_size=60))
def test_fast_regex_tokenizer_equals_the_word_pattern_line_by_line(text):
    expected = []
    for line in normalize_word(text.lower()).replace("\0", " ").split("\n"):
        expected += WORD_PATTERN.findall(line) + [SENTENCE_END]
    assert Tokenizer().tokens(text) == expected[:-1]  # no marker after the last line


@pytest.fixture
def corpus_files(tmp_path):
    plain = tmp_path / "c.txt"
    plain.write_text(TEXT, encoding="utf-8")
    gz = tmp_path / "c.txt.gz"
    gz.write_bytes(gzip.compress(TEXT.encode()))
    bz = tmp_path / "c.txt.bz2"
    bz.write_bytes(bz2.compress(TEXT.encode()))
    return plain, gz, bz


def test_gz_bz2_and_stdin_read_the_same_as_plain_text(corpus_files, monkeypatch):
    plain, gz, bz = corpus_files
    expected = all_tokens([plain])
    assert "café" in expected
    assert all_tokens([gz]) == expected
    assert all_tokens([bz]) == expected
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(TEXT.encode())))
    assert all_tokens(["-"]) == expected


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress],
                         ids=["gzip", "bzip2"])
def test_compressed_stdin_is_known_by_its_magic_number(corpus_files, monkeypatch, compress):
    """Stdin has no extension: `zcat`-style, gzip's and bzip2's first bytes say it."""
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(compress(TEXT.encode()))))
    assert all_tokens(["-"]) == all_tokens([corpus_files[0]])


def test_truncated_compressed_stdin_is_a_one_line_error(monkeypatch):
    cut = gzip.compress(TEXT.encode() * 50)[:-30]
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(cut)))
    with pytest.raises(EmbedkitError, match="<stdin>: corrupt or truncated compressed file"):
        all_tokens(["-"])


def test_text_starting_like_bzip2_is_still_text(monkeypatch):
    text = b"BZh91 is a word\n"  # bzip2's magic number goes on with 1AY&SY
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(text)))
    assert all_tokens(["-"])[:4] == ["bzh91", "is", "a", "word"]


@pytest.mark.parametrize("lines", [1, 150_001])  # the second far beyond the first chunk
def test_bad_encoding_on_stdin_says_line_and_byte(tmp_path, monkeypatch, lines):
    """Stdin cannot be read again to find the bad byte: its position is counted as it is
    read, multi-byte characters split across chunks and a byte-order mark included."""
    data = ("\ufeff" + "héllo wörld ü\n" * lines + "ab ").encode() + b"\xff x\nmore\n"
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    with pytest.raises(EmbedkitError) as from_file:
        all_tokens([path])
    bad = data.index(b"\xff") + 1
    where = f"line {lines + 1}, byte {bad}"
    assert f"bad.txt: {where}: not valid UTF-8" in str(from_file.value)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    with pytest.raises(EmbedkitError, match=f"<stdin>: {where}: not valid UTF-8"):
        all_tokens(["-"])


def test_spooled_stdin_can_be_read_twice(monkeypatch, corpus_files):
    plain = corpus_files[0]
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(TEXT.encode())))
    with spool_streams([str(plain), "-"]) as paths:
        first = all_tokens(paths)
        assert all_tokens(paths) == first == all_tokens([plain]) * 2
    assert not any(p != str(plain) and __import__("os").path.exists(p) for p in paths)


def test_several_files_never_join_sentences(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("x y")  # no final newline
    b.write_text("y x\n")
    vocab = Vocabulary(["x", "y"], [2, 2])
    assert sentences_of(iter_id_chunks([a, b], vocab)) == [[0, 1], [1, 0]]


def test_missing_file_and_bad_encoding_are_one_line_errors(tmp_path):
    with pytest.raises(EmbedkitError, match="nope.txt: no such file"):
        all_tokens([tmp_path / "nope.txt"])
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(EmbedkitError, match="latin1.txt: line 1, byte 4: not valid UTF-8 text"):
        all_tokens([bad])


def test_a_50000_token_line_is_chunked_not_cut(tmp_path):
    words = [f"w{i % 7}" for i in range(50_000)]
    path = tmp_path / "long.txt"
    path.write_text("short line here\n" + " ".join(words) + "\nw1 w2\n")
    vocab = build_vocabulary([path], min_count=1)
    sentences = sentences_of(iter_id_chunks([path], vocab, max_sentence_length=10_000))
    assert [len(s) for s in sentences] == [3] + [10_000] * 5 + [2]
    assert [vocab.words[i] for s in sentences[1:6] for i in s] == words


@settings(max_examples=40, deadline=None)
@given(lines=st.lists(st.lists(st.sampled_from(["a", "b", "c", "zz", "b,"]), max_size=12),
                      max_size=12),
       chunk_chars=st.integers(1, 40), max_len=st.integers(1, 6))
def test_blocks_of_any_size_give_the_same_sentences(tmp_path_factory, lines, chunk_chars,
                                                    max_len):
    path = tmp_path_factory.mktemp("blocks") / "c.txt"
    path.write_text("".join(" ".join(line) + "\n" for line in lines))
    vocab = Vocabulary(["a", "b", "c"], [3, 2, 1])
    expected = []
    for line in lines:
        # Split by raw tokens (unknown "zz" counts towards the length), then drop unknowns.
        raw = [t.rstrip(",") for t in line]
        for start in range(0, len(raw), max_len):
            piece = [vocab.index[t] for t in raw[start:start + max_len] if t in vocab.index]
            if piece:
                expected.append(piece)
    got = sentences_of(iter_id_chunks([path], vocab, max_sentence_length=max_len,
                                      chunk_chars=chunk_chars))
    assert got == expected
    chunks = list(iter_id_chunks([path], vocab, chunk_chars=chunk_chars))
    in_vocab = sum(t != "zz" for line in lines for t in line)
    assert sum(len(c.ids) for c in chunks) == in_vocab
    assert sum(c.tokens for c in chunks) == sum(map(len, lines))


def test_blocks_end_at_the_last_white_space_of_a_long_line(tmp_path):
    # a line longer than a block is cut at its last space or tab, so blocks stay near
    # chunk_chars instead of growing with the line
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c d e f\tg h\n")
    assert list(iter_text_blocks([corpus], 6)) == ["a b c ", "d e f\t", "g h\n"]
    corpus.write_text("a\tb\tc\td\n")
    assert list(iter_text_blocks([corpus], 5)) == ["a\tb\t", "c\td\n"]


def test_a_file_without_a_final_line_end_still_ends_its_sentence(tmp_path):
    first, second, empty = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "e.txt"
    second.write_text("c d\n")
    empty.write_text("")
    assert list(iter_text_blocks([empty])) == []
    for text in ("x y\nz", "x y z "):
        first.write_text(text)
        blocks = list(iter_text_blocks([first, empty, second], 4))
        assert "".join(blocks) == text + "\nc d\n"


def test_token_blocks_follow_the_chunk_size(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("one two\nthree four\nfive six\n")
    assert len(list(iter_token_blocks([corpus], chunk_chars=8))) >= 3
    assert len(list(iter_token_blocks([corpus]))) == 1


def test_corpus_name_lists_the_files(tmp_path):
    assert corpus_name([tmp_path / "a.txt", "b.txt"]) == f"{tmp_path / 'a.txt'}, b.txt"
