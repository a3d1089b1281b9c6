"""The vocabulary: counting, min-count, max-vocab, tie-breaking, pruning, TSV round trip."""

import numpy as np
import pytest

from embedkit.errors import EmbedkitError
from embedkit.text.vocab import Vocabulary, build_vocabulary, count_words


def write(tmp_path, text, name="c.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_min_count_keeps_words_seen_at_least_that_often(tmp_path):
    path = write(tmp_path, "a a a b b c\nc a b\nd\n")
    vocab = build_vocabulary([path], min_count=2)
    assert vocab.words == ["a", "b", "c"]
    assert vocab.counts.tolist() == [4, 3, 2]
    assert vocab.counts.dtype == np.int64
    assert vocab.index == {"a": 0, "b": 1, "c": 2}
    assert build_vocabulary([path], min_count=3).words == ["a", "b"]


def test_ties_are_broken_by_word_and_max_vocab_keeps_the_most_frequent(tmp_path):
    # zeta, beta, alpha all occur twice: ties ordered by the word, not by first appearance.
    path = write(tmp_path, "zeta beta alpha zeta beta alpha top top top\n")
    assert build_vocabulary([path], min_count=1).words == ["top", "alpha", "beta", "zeta"]
    assert build_vocabulary([path], min_count=1, max_vocab=2).words == ["top", "alpha"]
    shuffled = write(tmp_path, "alpha top zeta top beta zeta alpha top beta\n", "d.txt")
    assert build_vocabulary([shuffled], min_count=1, max_vocab=3).words == \
        ["top", "alpha", "beta"]


def test_pruning_bounds_the_counter_and_says_so():
    blocks = [["common", f"rare{i}", "common"] for i in range(50)]
    counts = count_words(blocks, max_size=10)
    assert len(counts.counts) <= 10
    assert counts.counts["common"] == 100
    assert counts.pruned_below >= 1
    assert counts.tokens == 150
    assert count_words(blocks).pruned_below == 0


def test_save_and_load_round_trip(tmp_path):
    vocab = Vocabulary(["the", "café", "don't"], np.array([10, 3, 3]))
    path = tmp_path / "v.tsv"
    vocab.save(path)
    assert path.read_text(encoding="utf-8") == "the\t10\ncafé\t3\ndon't\t3\n"
    loaded = Vocabulary.load(path)
    assert loaded.words == vocab.words and loaded.counts.tolist() == [10, 3, 3]


def test_bad_vocabulary_file_names_the_line(tmp_path):
    path = write(tmp_path, "the\t10\ncat ten\n", "v.tsv")
    with pytest.raises(EmbedkitError, match=r"v.tsv: line 2: expected 'word<TAB>count'"):
        Vocabulary.load(path)


def test_empty_corpus_and_no_word_reaching_min_count_name_the_file(tmp_path):
    empty = write(tmp_path, "\n  \n...\n", "empty.txt")
    with pytest.raises(EmbedkitError, match=r"empty.txt: no words found"):
        build_vocabulary([empty])
    sparse = write(tmp_path, "a b c a\n", "sparse.txt")
    with pytest.raises(EmbedkitError, match=r"sparse.txt: no word occurs at least 5 times"):
        build_vocabulary([sparse], min_count=5)


def test_invalid_settings_are_errors(tmp_path):
    path = write(tmp_path, "a a\n")
    with pytest.raises(EmbedkitError, match="min count 0"):
        build_vocabulary([path], min_count=0)
    with pytest.raises(EmbedkitError, match="max vocab 0"):
        build_vocabulary([path], min_count=1, max_vocab=0)
