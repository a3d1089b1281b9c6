"""fastText's n-grams and hashes (values from benchmarks/check_fasttext_compat.py --print,
which checks them against gensim's ft_hash_bytes and fastText's own get_subwords)."""

import numpy as np
import pytest

from embedkit.errors import EmbedkitError
from embedkit.text.subwords import (
    Subwords,
    expand_rows,
    fnv1a,
    ngram_hashes,
    ngrams,
    parse_range,
    subword_rows,
)

#: fastText's hash of these strings (bytes >= 0x80 enter as signed chars).
KNOWN_HASHES = [
    ("", 2166136261),
    ("a", 3826002220),
    ("<wh", 1048167652),
    ("where>", 4012121234),
    ("<é", 672036627),
    ("naïve", 3440832043),
    ("日本語", 308035559),
    ("<🙂>", 63851421),
    ("\x7f", 4195109838),
    ("straße", 3998610456),
]


@pytest.mark.parametrize(("text", "expected"), KNOWN_HASHES)
def test_hash_of_known_strings_equals_fasttexts(text, expected):
    assert fnv1a(text) == expected


def test_vectorised_hashes_equal_the_hash_of_each_ngram():
    words = ["where", "naïve", "日本語", "🙂", "a", "straße"]
    indptr, hashes = ngram_hashes(words, 2, 5)
    for i, word in enumerate(words):
        assert hashes[indptr[i]:indptr[i + 1]].tolist() == [fnv1a(g) for g in
                                                           ngrams(word, 2, 5)]


def test_ngrams_of_an_ascii_word_in_fasttexts_order():
    assert ngrams("where", 3, 4) == [b"<wh", b"<whe", b"whe", b"wher", b"her", b"here",
                                     b"ere", b"ere>", b"re>"]


def test_ngrams_of_a_word_with_multibyte_characters_are_whole_characters():
    # 'é' is 2 bytes, '日' 3, '🙂' 4: n counts characters, never a byte in the middle
    assert ngrams("né", 2, 3) == [b"<n", "<né".encode(), "né".encode(),
                                  "né>".encode(), "é>".encode()]
    assert ngrams("日🙂", 3, 3) == ["<日🙂".encode(), "日🙂>".encode()]


def test_single_brackets_are_no_ngrams():
    # fastText skips the 1-grams '<' and '>' (minn 1), keeps the inner characters
    assert ngrams("ab", 1, 1) == [b"a", b"b"]


def test_rows_of_vocabulary_and_unseen_words():
    settings = Subwords(3, 3, 10)
    indptr, members = subword_rows(["ab", "</s>", "abc"], settings, 3)
    assert indptr.tolist() == [0, 3, 4, 8]  # '<ab' 'ab>'; none for </s>; 3 n-grams of abc
    assert members[[0, 3, 4]].tolist() == [0, 1, 2]  # each word's own row first
    assert members[1:3].tolist() == [3 + fnv1a("<ab") % 10, 3 + fnv1a("ab>") % 10]
    unseen_indptr, unseen = subword_rows(["ab", "x", "zzzz"], settings, 3, own_rows=False)
    assert unseen_indptr.tolist() == [0, 2, 3, 7] and unseen[:2].tolist() == members[1:3].tolist()


def test_expand_rows_gathers_each_words_rows_repeats_and_all():
    indptr, members = np.array([0, 2, 3, 6]), np.array([0, 5, 1, 2, 7, 8])
    out_indptr, out = expand_rows(indptr, members, np.array([2, 0, 2, 1]))
    assert out_indptr.tolist() == [0, 3, 5, 8, 9]
    assert out.tolist() == [2, 7, 8, 0, 5, 2, 7, 8, 1]


@pytest.mark.parametrize(("text", "expected"), [("3-6", (3, 6)), ("4", (4, 4)), ("1-1", (1, 1)),
                                               ("1", (1, 1)), (" 2 - 5 ", (2, 5)),
                                               ("1023", (1023, 1023))])
def test_parse_range(text, expected):
    assert parse_range(text) == expected


@pytest.mark.parametrize("text", ["6-3", "0-2", "a-b", "3-", "", "²-3", "٣-٦", "3-1024",
                                  "+3-6"])
def test_parse_range_refuses_nonsense(text):
    with pytest.raises(EmbedkitError, match="MIN-MAX") as error:
        parse_range(text)
    assert error.value.params == ("subwords",)  # the CLI names --subwords


def test_vocabulary_vectors_composed_block_by_block_equal_one_block(monkeypatch):
    from embedkit.text import subwords as module

    rng = np.random.default_rng(1)
    words = ["where", "here", "there", "hereby", "w", "wherever", "thereof"]
    subwords = Subwords(3, 5, 40)
    model = module.SubwordModel(subwords, rng.standard_normal((7, 4)).astype("f4"),
                                rng.standard_normal((40, 4)).astype("f4"))
    monkeypatch.setattr(module, "COMPOSE_BLOCK", 3)
    blocks = model.word_vectors(words)
    assert blocks.dtype == np.float32
    # row i: the mean of word i's own row and its n-gram rows
    indptr, rows = subword_rows(words, subwords, 0, own_rows=False)
    for i in range(len(words)):
        ngram_rows = model.ngrams[rows[indptr[i]:indptr[i + 1]]]
        expected = (model.word_rows[i] + ngram_rows.sum(axis=0)) / (1 + len(ngram_rows))
        np.testing.assert_allclose(blocks[i], expected, rtol=1e-5, atol=1e-6)
    monkeypatch.setattr(module, "COMPOSE_BLOCK", 1 << 16)
    np.testing.assert_array_equal(model.word_vectors(words), blocks)


def test_single_characters_of_every_word_of_a_vocabulary_are_ngrams():
    # minn 1: each word's inner characters are 1-grams (its '<' and '>' are not), whichever
    # word of the vocabulary it is: the vocabulary's hashes are each word's own
    words = ["ab", "cd", "é日", "x"]
    indptr, hashes = ngram_hashes(words, 1, 3)
    for i, word in enumerate(words):
        assert hashes[indptr[i]:indptr[i + 1]].tolist() == [fnv1a(g) for g in
                                                           ngrams(word, 1, 3)]
    assert ngrams("cd", 1, 1) == [b"c", b"d"]


def test_a_model_without_ngrams_gives_words_their_own_rows():
    # fastText's -maxn 0 (no n-grams) and -bucket 0 (no n-gram rows): a vocabulary word is
    # its own row, an unseen word has no n-gram and a zero vector
    from embedkit.text.subwords import SubwordModel

    rng = np.random.default_rng(2)
    word_rows = rng.standard_normal((2, 3)).astype("f4")
    for settings, buckets in [(Subwords(3, 0, 5), 5), (Subwords(3, 6, 0), 0)]:
        model = SubwordModel(settings, word_rows, rng.standard_normal((buckets, 3)).astype("f4"))
        np.testing.assert_array_equal(model.word_vectors(["where", "abc"]), word_rows)
        vectors, counts = model.unseen_vectors(["here", "abcdef"])
        assert counts.tolist() == [0, 0] and not vectors.any()
    indptr, hashes = ngram_hashes(["where"], 3, 0)
    assert indptr.tolist() == [0, 0] and hashes.dtype == np.uint32 and not len(hashes)


def test_one_bucket_holds_every_ngram():
    indptr, members = subword_rows(["abcd"], Subwords(3, 4, 1), 1)
    assert members.tolist() == [0] + [1] * len(ngrams("abcd", 3, 4))


def test_words_without_ngrams_at_the_end_of_a_vocabulary():
    # '<a>' has no n-gram of 4 characters; '</s>' none at all: the vocabulary's last words
    settings = Subwords(4, 6, 10)
    indptr, members = subword_rows(["abcd", "a", "</s>"], settings, 3)
    grams = ngrams("abcd", 4, 6)
    assert indptr.tolist() == [0, 1 + len(grams), 2 + len(grams), 3 + len(grams)]
    assert members.tolist() == [0] + [3 + fnv1a(g) % 10 for g in grams] + [1, 2]
    assert members.dtype == np.int64
    unseen_indptr, rows = subword_rows(["abcd", "a"], settings, 3, own_rows=False)
    assert unseen_indptr.tolist() == [0, len(grams), len(grams)]
    assert rows.tolist() == members[1:1 + len(grams)].tolist() and rows.dtype == np.int64


def test_no_unseen_words_give_no_vectors():
    from embedkit.text.subwords import SubwordModel

    model = SubwordModel(Subwords(3, 6, 4), np.ones((2, 3), "f4"), np.ones((4, 3), "f4"))
    vectors, counts = model.unseen_vectors([])
    assert vectors.shape == (0, 3) and vectors.dtype == np.float32 and counts.shape == (0,)


def test_float64_rows_give_the_float32_models_vectors_bit_for_bit():
    # rows given in double precision (an array built by hand): the words are still composed
    # in float32, fastText's arithmetic, not summed in float64 and rounded once
    from embedkit.text.subwords import SubwordModel

    rng = np.random.default_rng(4)
    words = ["wherever", "thereof", "nevertheless", "hereinafter"]
    word_rows = rng.standard_normal((4, 16))
    ngrams64 = rng.standard_normal((50, 16))
    single = SubwordModel(Subwords(2, 6, 50), word_rows.astype("f4"), ngrams64.astype("f4"))
    double = SubwordModel(Subwords(2, 6, 50), word_rows, ngrams64.astype("f4"))
    expected = single.word_vectors(words)
    np.testing.assert_array_equal(double.word_vectors(words), expected)
    np.testing.assert_array_equal(double.rows_of(words[::-1], np.arange(4)[::-1]),
                                  expected[::-1])
