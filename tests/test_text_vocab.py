"""The vocabulary: counting, min-count, max-vocab, tie-breaking, pruning, TSV round trip."""

import numpy as np
import pytest

from embedkit.errors import EmbedkitError
from embedkit.text.tokenize import SENTENCE_END
from embedkit.text.vocab import Vocabulary, build_vocabulary, count_words, select_vocabulary


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


END = SENTENCE_END


def test_sentences_and_tokens_add_up_over_blocks():
    counts = count_words([["a", "b", END, "c", END], ["a", END]])
    assert (counts.sentences, counts.tokens) == (3, 4)
    assert count_words([["a"]], max_size=1).counts == {"a": 1}  # a limit of one word is valid
    with pytest.raises(EmbedkitError, match="^count limit 0: expected at least 1$"):
        count_words([["a"]], max_size=0)


def test_pruning_raises_its_threshold_one_step_at_a_time_across_blocks():
    # first block: a×3 b×2 c×1 is one word too many, so words seen once go (c)
    counts = count_words([["a", "a", "a", "b", "b", "c"]], max_size=2)
    assert counts.counts == {"a": 3, "b": 2} and counts.pruned_below == 1
    # a second block adds d and e once each: four words; the threshold rises to 2
    counts = count_words([["a", "a", "a", "b", "b", "c"], ["d", "e"]], max_size=2)
    assert counts.counts == {"a": 3} and counts.pruned_below == 2


def test_build_vocabulary_reads_in_blocks_of_the_given_size(tmp_path):
    # pruning happens between blocks: in blocks of a line, the first line's x is pruned
    # before the second line counts it again
    path = write(tmp_path, "x y z\nx a a\n")
    small = build_vocabulary([path], min_count=1, max_size=2, chunk_chars=6)
    whole = build_vocabulary([path], min_count=1, max_size=2)
    assert small.words == whole.words == ["a", "x"]
    assert small.counts.tolist() == [2, 1] and whole.counts.tolist() == [2, 2]


def test_select_vocabulary_defaults_to_words2vecs_min_count_and_allows_one_word():
    counts = count_words([["a"] * 5 + ["b"] * 4 + ["c"] * 6])
    assert select_vocabulary(counts).words == ["c", "a"]  # min_count 5
    assert select_vocabulary(counts, max_vocab=1).words == ["c"]


def test_vocabulary_counts_are_int64_and_mismatches_are_named():
    assert Vocabulary(["a"], np.array([3], dtype=np.int32)).counts.dtype == np.int64
    with pytest.raises(EmbedkitError, match="^vocabulary: 2 words but 1 counts$"):
        Vocabulary(["a", "b"], [1])
    with pytest.raises(EmbedkitError, match="^vocabulary: a word occurs twice$"):
        Vocabulary(["a", "a"], [1, 1])


@pytest.mark.parametrize("breaking", ["\n", "\r"])
def test_a_word_with_a_line_break_cannot_be_saved(tmp_path, breaking):
    word = "w" * 45 + breaking + "x"
    with pytest.raises(EmbedkitError) as error:
        Vocabulary(["ok", word], [2, 1]).save(tmp_path / "v.tsv")
    assert str(error.value) == (f"vocabulary word {word[:40]!r} contains a line break: it "
                                "cannot be written one word per line")
    assert not (tmp_path / "v.tsv").exists()


def test_a_word_with_a_tab_round_trips(tmp_path):
    vocab = Vocabulary(["a\tb", "c"], [3, 2])
    vocab.save(tmp_path / "v.tsv")
    loaded = Vocabulary.load(tmp_path / "v.tsv")
    assert loaded.words == ["a\tb", "c"] and loaded.counts.tolist() == [3, 2]


def test_blank_lines_anywhere_are_skipped(tmp_path):
    path = write(tmp_path, "a\t3\n\n   \nb\t2\n", "v.tsv")
    assert Vocabulary.load(path).words == ["a", "b"]


@pytest.mark.parametrize("line", ["\t5", "a\tx", "a\t5 ", "a\t5X", "a\t²", "word"])
def test_a_line_that_is_not_word_tab_count_is_refused(tmp_path, line):
    path = write(tmp_path, f"ok\t9\n{line}\n", "v.tsv")
    with pytest.raises(EmbedkitError) as error:
        Vocabulary.load(path)
    assert str(error.value) == f"{path}: line 2: expected 'word<TAB>count', got {line!r}"


def test_long_bad_lines_and_repeated_words_are_quoted_to_40_characters(tmp_path):
    long = "w" * 60
    path = write(tmp_path, f"{long}\n", "v.tsv")
    with pytest.raises(EmbedkitError) as error:
        Vocabulary.load(path)
    assert str(error.value) == f"{path}: line 1: expected 'word<TAB>count', got {long[:40]!r}"
    path = write(tmp_path, f"{long}\t3\nb\t2\n{long}\t1\n", "w.tsv")
    with pytest.raises(EmbedkitError) as error:
        Vocabulary.load(path)
    assert str(error.value) == f"{path}: line 3: {long[:40]!r} already on line 1"
