"""The vocabulary: words counted in one streaming pass, filtered, ordered most frequent first."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from embedkit.errors import EmbedkitError
from embedkit.io import atomic_output, check_suffix, describe, open_input
from embedkit.text.corpus import DEFAULT_CHUNK_CHARS, CorpusPaths, corpus_name, iter_token_blocks
from embedkit.text.tokenize import SENTENCE_END, Tokenizer, normalize_word

#: Distinct words held while counting before the rarest are pruned (about 0.2 GB of Python
#: objects): memory grows with the vocabulary, never with the corpus.
DEFAULT_MAX_SIZE = 2_000_000
#: Words seen fewer times are left out of the vocabulary (word2vec's default).
DEFAULT_MIN_COUNT = 5


@dataclass
class WordCounts:
    """Raw word counts from one pass over a corpus.

    Attributes
    ----------
    counts : Counter
        Word -> number of occurrences (approximate for words that survived pruning).
    tokens : int
        Word tokens read, all words included.
    sentences : int
        Line ends read (an upper bound on the number of non-empty sentences).
    pruned_below : int
        0 if every word was kept while counting; otherwise words seen at most this many times
        (at the moment of pruning) were dropped to respect the size limit.
    """

    counts: Counter = field(default_factory=Counter)
    tokens: int = 0
    sentences: int = 0
    pruned_below: int = 0


def count_words(token_blocks: Iterable[list[str]], max_size: int = DEFAULT_MAX_SIZE
                ) -> WordCounts:
    """Count tokens block by block, pruning the rarest words when ``max_size`` is exceeded.

    Pruning follows word2vec and gensim: drop every word seen at most ``k`` times, with
    ``k`` growing by one at each pruning, until at most ``max_size`` words remain.

    Parameters
    ----------
    token_blocks : iterable of list of str
        Token lists, e.g. from :func:`embedkit.text.corpus.iter_token_blocks` (sentence
        markers are not counted) or a list of tokenised sentences.
    max_size : int
        Distinct words held at most between blocks.
    """
    if max_size < 1:
        raise EmbedkitError(f"count limit {max_size}: expected at least 1")
    result = WordCounts()
    counts = result.counts
    for tokens in token_blocks:
        counts.update(tokens)  # Counter.update on a list runs in C
        ends = counts.pop(SENTENCE_END, 0)
        result.sentences += ends
        result.tokens += len(tokens) - ends
        prune_counts(result, max_size)
    return result


def prune_counts(word_counts: WordCounts, max_size: int) -> None:
    """Drop the rarest words of ``word_counts`` in place until at most ``max_size`` remain
    (the rule of :func:`count_words`: every word seen at most ``k`` times, ``k`` growing by
    one at each pruning)."""
    counts = word_counts.counts
    while len(counts) > max_size:
        word_counts.pruned_below += 1
        for word in [w for w, c in counts.items() if c <= word_counts.pruned_below]:
            del counts[word]


#: The suffixes a vocabulary file (``word<TAB>count`` text) may have, beside none or others
#: that promise no kind of file.
VOCAB_SUFFIXES = (".tsv", ".txt", ".vocab")


def check_vocab_name(path: str | os.PathLike | None) -> None:
    """Refuse a vocabulary output whose suffix promises another kind of file (``v.npz``).

    Raises
    ------
    EmbedkitError
        Naming the path and :data:`VOCAB_SUFFIXES`.
    """
    check_suffix(path, VOCAB_SUFFIXES, "a vocabulary is word<TAB>count text")


@dataclass
class Vocabulary:
    """Words with their counts, most frequent first; a word's id is its rank.

    Attributes
    ----------
    words : list of str
        Most frequent first; ties in count ordered by word (code point order).
    counts : numpy.ndarray of int64
        ``counts[i]`` is the count of ``words[i]``.
    index : dict
        Word -> id.
    pruned_below : int
        Non-zero when counting had to prune rare words (see :func:`count_words`).
    """

    words: list[str]
    counts: np.ndarray
    index: dict[str, int] = field(init=False, repr=False)
    pruned_below: int = 0

    def __post_init__(self) -> None:
        self.counts = np.asarray(self.counts, dtype=np.int64)
        if len(self.words) != len(self.counts):
            raise EmbedkitError(f"vocabulary: {len(self.words)} words but "
                                f"{len(self.counts)} counts")
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise EmbedkitError("vocabulary: a word occurs twice")

    def __len__(self) -> int:
        return len(self.words)

    @property
    def total(self) -> int:
        """The number of corpus tokens that are in the vocabulary."""
        return int(self.counts.sum())

    def save(self, path: str | os.PathLike | None) -> None:
        """Write ``word<TAB>count`` lines, most frequent first (``None``/``-``: stdout).

        Raises
        ------
        EmbedkitError
            For a word with a line break, a name whose suffix promises another kind of file
            (:data:`VOCAB_SUFFIXES`), or an output that cannot be written.
        """
        check_vocab_name(path)
        bad = next((w for w in self.words if "\n" in w or "\r" in w), None)
        if bad is not None:
            raise EmbedkitError(f"vocabulary word {bad[:40]!r} contains a line break: it "
                                "cannot be written one word per line")
        with atomic_output(path) as out:
            out.writelines(f"{w}\t{c}\n"
                           for w, c in zip(self.words, self.counts.tolist(), strict=True))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocabulary:
        """Read a vocabulary written by :meth:`save` (blank lines are ignored; words in NFC,
        as the tokenizer gives them).

        Raises
        ------
        EmbedkitError
            Naming the file and line when a line is not ``word<TAB>count``.
        """
        words: list[str] = []
        counts: list[int] = []
        lines: dict[str, int] = {}  # word -> the line it was first seen on
        with open_input(path) as stream:
            for number, line in enumerate(stream, 1):
                line = normalize_word(line.rstrip("\n"))
                if not line.strip():
                    continue
                word, sep, count = line.rpartition("\t")
                where = f"{describe(path)}: line {number}"
                # isdigit() alone admits digits int() rejects, such as '²'.
                if not sep or not word or not (count.isascii() and count.isdigit()):
                    raise EmbedkitError(f"{where}: expected 'word<TAB>count', "
                                        f"got {line[:40]!r}")
                if word in lines:
                    raise EmbedkitError(f"{where}: {word[:40]!r} already on line "
                                        f"{lines[word]}")
                lines[word] = number
                words.append(word)
                counts.append(int(count))
        return cls(words, np.array(counts, dtype=np.int64))


def select_vocabulary(word_counts: WordCounts, min_count: int = 5,
                      max_vocab: int | None = None) -> Vocabulary:
    """Keep words seen at least ``min_count`` times, then the ``max_vocab`` most frequent.

    Ties in count are broken by the word itself (code point order), so the result does not
    depend on the order of the corpus.
    """
    if min_count < 1:
        raise EmbedkitError(f"min count {min_count}: expected at least 1")
    if max_vocab is not None and max_vocab < 1:
        raise EmbedkitError(f"max vocab {max_vocab}: expected at least 1")
    kept = sorted(((w, c) for w, c in word_counts.counts.items() if c >= min_count),
                  key=lambda item: (-item[1], item[0]))[:max_vocab]
    return Vocabulary([w for w, _ in kept], np.array([c for _, c in kept], dtype=np.int64),
                      pruned_below=word_counts.pruned_below)


def build_vocabulary(paths: CorpusPaths, min_count: int = DEFAULT_MIN_COUNT,
                     max_vocab: int | None = None, tokenizer: Tokenizer = Tokenizer(),
                     max_size: int = DEFAULT_MAX_SIZE,
                     chunk_chars: int = DEFAULT_CHUNK_CHARS) -> Vocabulary:
    """Count the words of a corpus in one streaming pass and select the vocabulary.

    Parameters
    ----------
    paths : sequence of str or path-like
        Corpus files (plain, ``.gz``, ``.bz2``); ``-`` is stdin (read once: use
        :func:`embedkit.text.corpus.spool_streams` to read it again later).
    min_count, max_vocab
        See :func:`select_vocabulary`.
    tokenizer : Tokenizer
        How lines become words.
    max_size : int
        Distinct words held while counting; see :func:`count_words`.
    chunk_chars : int
        Characters read per block.

    Raises
    ------
    EmbedkitError
        When the corpus has no words, or no word reaches ``min_count``.
    """
    word_counts = count_words(iter_token_blocks(paths, tokenizer, chunk_chars), max_size)
    return vocabulary_from_counts(word_counts, paths, min_count, max_vocab)


def vocabulary_from_counts(word_counts: WordCounts, paths: CorpusPaths, min_count: int,
                      max_vocab: int | None) -> Vocabulary:
    """:func:`select_vocabulary` of a corpus's counts, refusing an empty result.

    Raises
    ------
    EmbedkitError
        Naming the corpus's files, when it has no words or no word reaches ``min_count``.
    """
    if not word_counts.tokens:
        raise EmbedkitError(f"{corpus_name(paths)}: no words found (empty corpus)")
    vocab = select_vocabulary(word_counts, min_count, max_vocab)
    if not len(vocab):
        raise EmbedkitError(f"{corpus_name(paths)}: no word occurs at least {min_count} "
                            f"times ({word_counts.tokens} words, {len(word_counts.counts)} "
                            f"distinct); lower min_count", params=("min_count",))
    return vocab
