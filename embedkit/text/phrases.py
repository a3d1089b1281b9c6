"""Multi-word expressions as single tokens, the way the word2vec C release's ``word2phrase``
finds them: frequent pairs of adjacent words are joined into one token ("new york" becomes
``new_york``), and running the procedure again joins phrases into longer ones.

Everything works on vocabulary ids, block by block, with NumPy:

* the words come from :func:`embedkit.text.vocab.build_vocabulary` (one streaming pass);
* each pass reads the corpus once more, applies the phrases of the earlier passes, and counts
  the unigrams (``np.bincount``) and the adjacent pairs, encoded as one int64 per pair and
  counted by sorting (:class:`PairCounts`, bounded by a limit past which the rarest pairs are
  pruned, as word2vec prunes its vocabulary);
* a last read writes the corpus with every pass applied.

Memory grows with the vocabulary and the number of distinct pairs kept, never with the corpus.

Compatibility with ``word2phrase`` (word2phrase.c of the original release), checked by
``benchmarks/check_word2phrase_compat.py``:

* score of a pair ``a b``: ``(count(ab) - min_count) / count(a) / count(b) * total`` in single
  precision, ``total`` being the number of tokens; the pair is joined when its score exceeds the
  threshold and ``a``, ``b`` and ``ab`` were each seen at least ``min_count`` times;
* joining is greedy from left to right: a word joined to its left neighbour is not joined to
  its right one ("a b c" with both pairs accepted gives ``a_b c``);
* pairs are counted across line ends (the last word of a line with the first of the next, as
  the C tool counts them), but never joined across a line end;
* unlike the C tool, a word that already contains the delimiter and a pair spelled the same
  ("new_york" and "new york") are counted apart, and words are not cut at 58 bytes.

Connector words (``common_words``, gensim's ``connector_words``) may stand between the two
words of a phrase ("bank of america" -> ``bank_of_america``) but never begin or end one; the
pair's count is that of the whole sequence.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO

import numpy as np

from embedkit.errors import EmbedkitError, ParameterError
from embedkit.io import atomic_output, describe, open_input, write_scratch
from embedkit.text.corpus import DEFAULT_CHUNK_CHARS, CorpusPaths, iter_text_blocks
from embedkit.text.stream import encode_tokens
from embedkit.text.tokenize import SENTENCE_END, Tokenizer
from embedkit.text.vocab import DEFAULT_MIN_COUNT, Vocabulary

#: Scoring functions accepted by :func:`learn_phrases` (and ``--scoring``).
SCORINGS = ("word2phrase", "npmi")

#: The threshold of each scoring when none is given: word2phrase's, and a strong association
#: for NPMI.
DEFAULT_THRESHOLDS = {"word2phrase": 100.0, "npmi": 0.5}

#: Distinct pairs held while counting before the rarest are pruned: 16 bytes each, so about
#: 0.3 GB at the limit (gensim's ``Phrases`` holds 40M entries, the C tool up to 350M).
DEFAULT_MAX_PAIRS = 20_000_000

#: Raw pair keys gathered before they are merged into the sorted table (8 MB).
_MERGE_EVERY = 1 << 20

#: Codes besides vocabulary ids: a line end, and a word outside the vocabulary (the code
#: :func:`encode_tokens` gives unknown words).
END = -2
OOV = -1


class PairCounts:
    """Counts of int64 pair keys with bounded memory.

    Keys of each block are buffered; every ``_MERGE_EVERY`` keys they are sorted, counted and
    merged into one sorted table. When the table holds more than ``max_size`` keys, every key
    seen at most ``k`` times is dropped, ``k`` growing by one at each pruning (word2vec's
    ``ReduceVocab``, gensim's ``prune_vocab``); :attr:`pruned_below` is the last ``k``.
    """

    def __init__(self, max_size: int = DEFAULT_MAX_PAIRS) -> None:
        if max_size < 1:
            raise ParameterError(f"pair_limit {max_size}: expected at least 1",
                                params=("pair_limit",))
        self.max_size = max_size
        self.keys = np.empty(0, dtype=np.int64)
        self.counts = np.empty(0, dtype=np.int64)
        self.pruned_below = 0
        self._buffer: list[np.ndarray] = []
        self._buffered = 0

    def add(self, keys: np.ndarray) -> None:
        """Count every element of ``keys`` (int64) once."""
        self._buffer.append(keys)
        self._buffered += len(keys)
        if self._buffered >= min(_MERGE_EVERY, 4 * self.max_size):
            self._merge()

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """The sorted distinct keys and their counts."""
        self._merge()
        return self.keys, self.counts

    def _merge(self) -> None:
        if not self._buffer:
            return
        keys, counts = np.unique(np.concatenate(self._buffer), return_counts=True)
        self._buffer, self._buffered = [], 0
        # The table is sorted: add to the keys it has, insert the others (linear, no re-sort).
        at = np.searchsorted(self.keys, keys)
        found = at < len(self.keys)
        found[found] = self.keys[at[found]] == keys[found]
        self.counts[at[found]] += counts[found]
        new = ~found
        self.keys = np.insert(self.keys, at[new], keys[new])
        self.counts = np.insert(self.counts, at[new], counts[new])
        while len(self.keys) > self.max_size:
            self.pruned_below += 1
            kept = self.counts > self.pruned_below
            self.keys, self.counts = self.keys[kept], self.counts[kept]


@dataclass
class _Runs:
    """Dense ids of the sequences of connector words that stand between two words.

    A sequence of connector indices ``c1 .. cL`` (each in 1..C) is first coded exactly as
    ``sum(ci * (C+1)**(i-1))`` (so runs longer than ``max_length`` are not coded), then given
    a small id in order of first sight; id 0 is the empty sequence.
    """

    n_connectors: int
    codes: dict[int, int] = field(default_factory=lambda: {0: 0})
    sequences: list[tuple[int, ...]] = field(default_factory=lambda: [()])

    @property
    def base(self) -> int:
        return self.n_connectors + 1

    @property
    def max_length(self) -> int:
        """Longest run coded: ``base**max_length`` stays below 2**62."""
        return max(1, int(62 / math.log2(self.base)))

    def ids(self, codes: np.ndarray, grow: bool, capacity: int) -> np.ndarray:
        """The id of each code (-1: unknown, or past ``capacity`` ids)."""
        unique, inverse = np.unique(codes, return_inverse=True)
        ids = np.empty(len(unique), dtype=np.int64)
        for i, code in enumerate(unique.tolist()):
            run = self.codes.get(code)
            if run is None and grow and len(self.codes) < capacity:
                run = self.codes[code] = len(self.codes)
                self.sequences.append(self._decode(code))
            ids[i] = -1 if run is None or run >= capacity else run
        return ids[inverse.reshape(-1)]

    def _decode(self, code: int) -> tuple[int, ...]:
        digits = []
        while code:
            code, digit = divmod(code, self.base)
            digits.append(digit)
        return tuple(digits)


@dataclass
class PhrasePass:
    """The phrases one pass accepted.

    Attributes
    ----------
    keys : numpy.ndarray of int64
        Sorted keys of the accepted pairs (see :class:`Phrases`); phrase ``k`` gets the id
        ``first_id + k``.
    counts, scores : numpy.ndarray
        The count and score of each accepted pair.
    first_id : int
        Id of the first phrase of this pass.
    bits : int
        Bits per word id in the keys of this pass.
    pruned_below : int
        Non-zero when counting pruned the pairs seen at most this many times.
    tokens : int
        Tokens counted in this pass (the ``total`` of the score).
    """

    keys: np.ndarray
    counts: np.ndarray
    scores: np.ndarray
    first_id: int
    bits: int
    pruned_below: int = 0
    tokens: int = 0
    _members: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    def members(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For pair keys (-1: none), whether the first word begins some accepted phrase, and
        whether the second ends one: a cheap filter before looking keys up."""
        mask = (1 << self.bits) - 1
        if self._members is None:
            begins = np.zeros(self.first_id + 1, dtype=bool)
            ends = np.zeros(self.first_id + 1, dtype=bool)
            begins[(self.keys >> self.bits) & mask] = True
            ends[self.keys & mask] = True
            self._members = begins, ends
        begins, ends = self._members
        # Keys of -1 look at the spare last slot, which is never a word.
        valid = keys >= 0
        first = np.where(valid, (keys >> self.bits) & mask, self.first_id)
        second = np.where(valid, keys & mask, self.first_id)
        return begins[first], ends[second]


@dataclass
class Phrases:
    """What :func:`learn_phrases` learnt: word and phrase names and the phrases of each pass.

    A pair key packs ``(run << 2*bits) | (a << bits) | b`` for words (or phrases) ``a``, ``b``
    and the id ``run`` of the connector words between them (0: none).

    Attributes
    ----------
    names : list of str
        The token of every id: vocabulary words, then connector words not in the vocabulary,
        then the phrases of each pass.
    lookup : dict
        Word -> id for words read from text (vocabulary and connector words).
    connector : numpy.ndarray of int64
        Connector index (1..C) of each word id, 0 for other words; empty without connectors.
    connector_words : list of str
        Connector ``i`` is ``connector_words[i - 1]``.
    passes : list of PhrasePass
    delimiter : str
    """

    names: list[str]
    lookup: dict[str, int]
    connector: np.ndarray
    connector_words: list[str] = field(default_factory=list)
    passes: list[PhrasePass] = field(default_factory=list)
    delimiter: str = "_"
    runs: _Runs = field(default_factory=lambda: _Runs(0))

    def rows(self) -> list[tuple[str, int, float]]:
        """``(phrase, count, score)`` of every accepted pair, most frequent first (ties by
        phrase)."""
        rows = [(self.names[p.first_id + k], int(c), float(s))
                for p in self.passes
                for k, (c, s) in enumerate(zip(p.counts.tolist(), p.scores.tolist(),
                                                       strict=True))]
        return sorted(rows, key=lambda row: (-row[1], row[0]))

    def save(self, path: str | os.PathLike | None) -> None:
        """Write ``phrase<TAB>count<TAB>score`` lines, most frequent first."""
        with atomic_output(path) as out:
            out.writelines(f"{phrase}\t{count}\t{score:.6g}\n"
                           for phrase, count, score in self.rows())


def read_common_words(path: str | os.PathLike, tokenizer: Tokenizer = Tokenizer()
                      ) -> list[str]:
    """Connector words from a file: white-space separated, ``#`` starts a comment line;
    lower-cased when the tokenizer lower-cases.

    Raises
    ------
    EmbedkitError
        When the file cannot be read or holds no word.
    """
    words: list[str] = []
    with open_input(path) as stream:
        for line in stream:
            if not line.lstrip().startswith("#"):
                words += (line.lower() if tokenizer.lowercase else line).split()
    if not words:
        raise EmbedkitError(f"{describe(path)}: no common words found (expected words "
                            "separated by white space)")
    return list(dict.fromkeys(words))


def check_settings(min_count: int, threshold: float, scoring: str, passes: int,
                   delimiter: str) -> None:
    """Raise :class:`ParameterError` for settings :func:`learn_phrases` cannot use."""
    if scoring not in SCORINGS:
        raise ParameterError(f"scoring {scoring!r}: expected one of {', '.join(SCORINGS)}",
                            params=("scoring",))
    if min_count < 1:
        raise ParameterError(f"min_count {min_count}: expected at least 1", params=("min_count",))
    if passes < 1:
        raise ParameterError(f"passes {passes}: expected at least 1", params=("passes",))
    if scoring == "npmi" and not -1 <= threshold <= 1:
        raise ParameterError(f"threshold {threshold:g}: NPMI scores lie in [-1, 1], expected a "
                            "value in that range", params=("threshold",))
    if scoring == "word2phrase" and not threshold >= 0:
        raise ParameterError(f"threshold {threshold:g}: expected at least 0 for word2phrase "
                            "scores", params=("threshold",))
    if not delimiter or any(ch.isspace() or ch == SENTENCE_END for ch in delimiter):
        raise ParameterError(f"delimiter {delimiter!r}: expected a non-empty string without "
                            "white space", params=("delimiter",))


def learn_phrases(paths: CorpusPaths, vocab: Vocabulary, min_count: int = DEFAULT_MIN_COUNT,
                  threshold: float = 100.0, scoring: str = "word2phrase", passes: int = 1,
                  common_words: Iterable[str] = (), delimiter: str = "_",
                  tokenizer: Tokenizer = Tokenizer(), pair_limit: int = DEFAULT_MAX_PAIRS,
                  chunk_chars: int = DEFAULT_CHUNK_CHARS,
                  callback=None, cache: CodeCache | None = None) -> Phrases:
    """Find the phrases of a corpus: one reading per pass (of the text, or of ``cache``).

    Parameters
    ----------
    paths : sequence of str or path-like
        Corpus files, one sentence per line (stdin must be spooled: it is read ``passes``
        times, see :func:`embedkit.text.corpus.spool_streams`).
    vocab : Vocabulary
        The corpus's words seen at least ``min_count`` times, built with ``tokenizer``; no
        other word can be part of a phrase.
    min_count : int
        Words, phrases and pairs seen fewer times are never joined.
    threshold : float
        Pairs scoring above it are joined: ``word2phrase`` scores are
        ``(count(ab) - min_count) / count(a) / count(b) * total`` (word2phrase.c, in single
        precision); ``npmi`` scores are the normalised pointwise mutual information
        ``ln(p(ab) / (p(a) p(b))) / -ln(p(ab))`` in [-1, 1], each ``p`` a count divided by
        ``total`` (Bouma 2009, gensim's ``npmi_scorer``).
    scoring : {"word2phrase", "npmi"}
    passes : int
        Each pass joins pairs of the previous pass's output, so two passes make phrases of up
        to four words.
    common_words : iterable of str
        Connector words (see the module notes).
    delimiter : str
        Joins the words of a phrase.
    tokenizer : Tokenizer
    pair_limit : int
        Distinct pairs held while counting; see :class:`PairCounts`.
    chunk_chars : int
        Characters read per block.
    callback : callable, optional
        Called with the number of tokens of each block read (progress).
    cache : CodeCache, optional
        Where the first pass leaves the corpus's codes, so that later passes (and
        :func:`write_phrased`) do not tokenise it again; without it each pass reads the text.

    Returns
    -------
    Phrases

    Raises
    ------
    EmbedkitError
        For settings outside their range (see :func:`check_settings`).
    """
    check_settings(min_count, threshold, scoring, passes, delimiter)
    names = list(vocab.words)
    lookup = dict(vocab.index)
    connectors = list(dict.fromkeys(common_words))
    for word in connectors:
        lookup.setdefault(word, len(names))
        if len(names) == lookup[word]:
            names.append(word)
    connector = np.zeros(len(names) if connectors else 0, dtype=np.int64)
    for index, word in enumerate(connectors, 1):
        connector[lookup[word]] = index
    model = Phrases(names, lookup, connector, connectors, delimiter=delimiter,
                    runs=_Runs(len(connectors)))
    for _ in range(passes):
        bits = max(1, (len(model.names) - 1).bit_length())
        unigrams, tokens, keys, counts, pruned_below = _count_pass(
            model, paths, bits, tokenizer, pair_limit, chunk_chars, callback, cache)
        accepted, scores = _accept(keys, counts, unigrams, tokens, bits, min_count, threshold,
                                   scoring)
        phrase = PhrasePass(keys[accepted], counts[accepted], scores, len(model.names), bits,
                            pruned_below, tokens)
        model.names += [_spell(model, key, bits) for key in phrase.keys.tolist()]
        if len(model.connector):  # a phrase is never a connector
            model.connector = np.concatenate([model.connector,
                                              np.zeros(len(phrase.keys), dtype=np.int64)])
        model.passes.append(phrase)
        if not len(phrase.keys):
            break  # nothing joined: later passes would count the same pairs again
    return model


#: Flag of a pair key counted across a line end (bit 62; keys use at most 62 bits).
_CROSSING = np.int64(1 << 62)


def _count_pass(model: Phrases, paths: CorpusPaths, bits: int, tokenizer: Tokenizer,
                pair_limit: int, chunk_chars: int, callback, cache: CodeCache | None
                ) -> tuple[np.ndarray, int, np.ndarray, np.ndarray, int]:
    """Count the words and pairs of the corpus with the phrases of ``model`` applied.

    Returns ``(unigrams, tokens, keys, counts, pruned_below)``: counts of every id, the
    number of tokens, the sorted keys of the pairs seen inside a line and their counts.

    As word2phrase.c counts them, pairs also run across line ends (the last word of a line
    with the first of the next; in its ``LearnVocabFromTrainFile`` the ``start`` flag is reset
    before it is tested). Such pairs add to the count of the same pair inside a line, but a
    pair only ever seen across line ends is not kept: it can never be joined.
    """
    n_ids = len(model.names)
    counter = PairCounts(pair_limit)
    unigrams = np.zeros(n_ids, dtype=np.int64)
    tokens = 0
    carry = np.empty(0, dtype=np.int64)
    carry_closed = True  # whether a line end follows the carried words
    for codes in _joined_blocks(model, paths, tokenizer, chunk_chars, callback, cache=cache):
        is_end = codes == END
        words = np.concatenate([carry, codes[~is_end]])
        line = np.concatenate([np.full(len(carry), -1 if carry_closed else 0),
                               np.cumsum(is_end)[~is_end]])
        tokens += len(words) - len(carry)
        unigrams += np.bincount(codes[codes >= 0], minlength=n_ids)
        positions, keys = _pair_keys(model, words, bits, grow=True)
        crossing = line[positions[1:]] != line[positions[:-1]]
        keys[crossing & (keys >= 0)] |= _CROSSING
        counter.add(keys[keys >= 0])
        if len(positions):  # else the words are connectors that begin no pair
            carry = words[positions[-1]:]
            carry_closed = bool(line[positions[-1]] < np.count_nonzero(is_end))
    keys, counts = counter.finish()
    crossing = keys >= _CROSSING
    inside, inside_counts = keys[~crossing], counts[~crossing].copy()
    across = keys[crossing] ^ _CROSSING
    at = np.searchsorted(inside, across)
    found = at < len(inside)
    found[found] = inside[at[found]] == across[found]
    inside_counts[at[found]] += counts[crossing][found]
    return unigrams, tokens, inside, inside_counts, counter.pruned_below


def _spell(model: Phrases, key: int, bits: int) -> str:
    mask = (1 << bits) - 1
    between = [model.connector_words[c - 1] for c in model.runs.sequences[key >> 2 * bits]]
    return model.delimiter.join([model.names[(key >> bits) & mask], *between,
                                 model.names[key & mask]])


def _scores(keys: np.ndarray, pair_counts: np.ndarray, unigrams: np.ndarray, tokens: int,
            bits: int, min_count: int, scoring: str) -> np.ndarray:
    """Scores of pairs (float32 for word2phrase, as the C tool computes them; else float64)."""
    mask = (1 << bits) - 1
    a, b = unigrams[(keys >> bits) & mask], unigrams[keys & mask]
    if scoring == "word2phrase":
        f32 = np.float32
        with np.errstate(divide="ignore", invalid="ignore"):
            return ((pair_counts - min_count).astype(f32) / a.astype(f32) / b.astype(f32)
                    * f32(tokens))
    with np.errstate(divide="ignore", invalid="ignore"):
        pab = pair_counts / tokens
        score = np.log(pab / (a / tokens) / (b / tokens)) / -np.log(pab)
    # A pair that is the whole corpus has ln p(ab) = 0: perfectly associated.
    return np.where(pab >= 1, 1.0, score)


def _accept(keys: np.ndarray, pair_counts: np.ndarray, unigrams: np.ndarray, tokens: int,
            bits: int, min_count: int, threshold: float, scoring: str
            ) -> tuple[np.ndarray, np.ndarray]:
    """Mask of the pairs to join, and their scores: pair and both words seen ``min_count``
    times, score above the threshold (compared in single precision for word2phrase, as the
    C tool does)."""
    mask = (1 << bits) - 1
    frequent = ((pair_counts >= min_count) & (unigrams[(keys >> bits) & mask] >= min_count)
                & (unigrams[keys & mask] >= min_count))
    scores = _scores(keys[frequent], pair_counts[frequent], unigrams, tokens, bits,
                     min_count, scoring)
    limit = np.float32(threshold) if scoring == "word2phrase" else threshold
    accepted = np.zeros(len(keys), dtype=bool)
    accepted[frequent] = scores > limit
    return accepted, scores[scores > limit]


def _pair_keys(model: Phrases, codes: np.ndarray, bits: int, grow: bool = False
               ) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the words that may end a phrase, and the key of each with the previous one.

    Returns ``(positions, keys)``: ``positions`` of the non-connector tokens; ``keys[k]`` packs
    the pair ``(codes[positions[k]], connectors between, codes[positions[k+1]])``, or is -1
    where no phrase can be (a line end, an unknown word, an unknown connector sequence).
    """
    n = len(codes)
    if not len(model.connector):
        positions = np.arange(n)
        first, second = codes[:-1], codes[1:]
        keys = (first << bits) | second
        keys[(first < 0) | (second < 0)] = -1
        return positions, keys
    known = codes >= 0
    index = np.zeros(n, dtype=np.int64)
    index[known] = model.connector[codes[known]]
    is_connector = index > 0
    positions = np.flatnonzero(~is_connector)
    if len(positions) < 2:
        return positions, np.empty(0, dtype=np.int64)
    # Exact code of each run of connectors: digit i of the run in base C+1.
    last_word = np.maximum.accumulate(np.where(is_connector, -1, np.arange(n)))
    offset = np.arange(n) - last_word - 1
    runs = model.runs
    digits = np.where(is_connector & (offset < runs.max_length), index, 0) * \
        np.power(runs.base, np.clip(offset, 0, runs.max_length - 1), dtype=np.int64)
    total = np.cumsum(digits)  # wraps around on overflow: the differences stay exact
    starts, ends = positions[:-1], positions[1:]
    run_codes = total[ends - 1] - total[starts]
    too_long = ends - starts - 1 > runs.max_length
    capacity = 1 << max(0, 62 - 2 * bits)
    run_ids = runs.ids(run_codes, grow, capacity)
    first, second = codes[starts], codes[ends]
    keys = (run_ids << 2 * bits) | (first << bits) | second
    keys[(first < 0) | (second < 0) | (run_ids < 0) | too_long] = -1
    return positions, keys


class _Joiner:
    """Applies one pass's phrases to a stream of code blocks, holding back the tail of a block
    that may still join the head of the next (only inside lines longer than a block)."""

    def __init__(self, model: Phrases, phrase: PhrasePass) -> None:
        self.model, self.phrase = model, phrase
        self.held = np.empty(0, dtype=np.int64)

    def feed(self, codes: np.ndarray) -> np.ndarray:
        codes = np.concatenate([self.held, codes])
        positions, keys = _pair_keys(self.model, codes, self.phrase.bits)
        # Only pairs whose words both stand in some phrase are looked up.
        first, second = self.phrase.members(keys)
        maybe = np.flatnonzero(first & second)
        at = np.zeros(len(keys), dtype=np.int64)
        at[maybe] = np.searchsorted(self.phrase.keys, keys[maybe])
        candidate = np.zeros(len(keys), dtype=bool)
        found = at[maybe] < len(self.phrase.keys)
        candidate[maybe[found]] = self.phrase.keys[at[maybe[found]]] == keys[maybe[found]]
        join = _greedy(candidate)
        out = codes.copy()
        starts, ends = positions[:-1][join], positions[1:][join]
        out[starts] = self.phrase.first_id + at[join]
        # Drop the second word of each joined pair and the connectors before it.
        size = len(codes) + 1
        cover = np.bincount(starts + 1, minlength=size) - np.bincount(ends + 1, minlength=size)
        kept = np.cumsum(cover[:-1]) == 0
        # The last word may join the next block's first one unless it is a line end, unknown,
        # or already joined to its left: hold it back with the connectors after it.
        hold = len(codes)
        if len(positions) and codes[positions[-1]] >= 0 and not (len(join) and join[-1]):
            hold = int(positions[-1])
        self.held = codes[hold:]
        return out[:hold][kept[:hold]]

    def flush(self) -> np.ndarray:
        held, self.held = self.held, np.empty(0, dtype=np.int64)
        return held


def _greedy(candidate: np.ndarray) -> np.ndarray:
    """Which candidate pairs are joined, left to right: pair ``k`` joins unless pair ``k-1``
    (which shares its first word) did, as word2phrase's greedy scan decides."""
    index = np.arange(len(candidate))
    starts = candidate.copy()
    starts[1:] &= ~candidate[:-1]
    run_start = np.maximum.accumulate(np.where(starts, index, 0)) if len(index) else index
    return candidate & ((index - run_start) % 2 == 0)


class CodeCache:
    """The codes of the corpus (vocabulary ids, -1 for unknown words, -2 at line ends) in a
    temporary file, block by block: the first reading tokenises the text and writes them, later
    passes read them back instead of tokenising again. 4 bytes per token on disk; memory holds
    one block.

    Parameters
    ----------
    directory : str
        Where the file goes (a temporary directory the caller removes).
    """

    def __init__(self, directory: str | os.PathLike) -> None:
        self.path = os.path.join(directory, "codes.int32")
        self.sizes: list[int] | None = None  # codes per block, once the file is complete

    def blocks(self, paths: CorpusPaths, lookup: dict[str, int], tokenizer: Tokenizer,
               chunk_chars: int) -> Iterator[np.ndarray]:
        """The codes of each block of ``iter_text_blocks(paths, chunk_chars)`` (int32), in
        the order of :meth:`Tokenizer.tokens`."""
        if self.sizes is not None:
            with open(self.path, "rb") as stream:
                for size in self.sizes:
                    yield np.fromfile(stream, dtype=np.int32, count=size)
            return
        sizes = []
        with open(self.path, "wb") as stream:
            for text in iter_text_blocks(paths, chunk_chars):
                codes = encode_tokens(tokenizer.split(text), lookup, tokenizer)
                write_scratch(stream, codes, "the corpus's token cache")
                sizes.append(len(codes))
                yield codes
        self.sizes = sizes


def _raw_blocks(paths: CorpusPaths, lookup: dict[str, int], tokenizer: Tokenizer,
                chunk_chars: int, spell: bool, cache: CodeCache | None
                ) -> Iterator[tuple[np.ndarray, list[str]]]:
    """The codes of each block, with its tokens when ``spell`` (else an empty list)."""
    if not spell:
        if cache is not None:
            yield from ((codes, []) for codes in cache.blocks(paths, lookup, tokenizer,
                                                                 chunk_chars))
        else:
            yield from ((encode_tokens(tokenizer.split(text), lookup, tokenizer), [])
                        for text in iter_text_blocks(paths, chunk_chars))
        return
    texts = iter_text_blocks(paths, chunk_chars)
    if cache is not None and cache.sizes is not None:
        for codes, text in zip(cache.blocks(paths, lookup, tokenizer, chunk_chars), texts,
                               strict=True):
            yield codes, tokenizer.tokens(text)
        return
    for text in texts:
        tokens = tokenizer.tokens(text)
        yield encode_tokens(tokens, lookup, tokenizer), tokens


def _joined_blocks(model: Phrases, paths: CorpusPaths, tokenizer: Tokenizer,
                   chunk_chars: int, callback=None, tokens_out: list | None = None,
                   cache: CodeCache | None = None) -> Iterator[np.ndarray]:
    """Codes of the corpus block by block with every pass of ``model`` applied.

    With ``tokens_out``, each block's tokens (``Tokenizer.tokens``) are put in it, and unknown
    words are coded ``-3 - position`` so the writer can spell them.
    """
    lookup = dict(model.lookup)
    lookup[SENTENCE_END] = END
    joiners = [_Joiner(model, p) for p in model.passes]
    for block, tokens in _raw_blocks(paths, lookup, tokenizer, chunk_chars,
                                     tokens_out is not None, cache):
        codes = block.astype(np.int64)
        if tokens_out is not None:
            tokens_out[:] = [tokens]
            unknown = np.flatnonzero(codes == OOV)
            codes[unknown] = -3 - unknown
        if callback is not None:
            callback(int(np.count_nonzero(codes != END)))
        for joiner in joiners:
            codes = joiner.feed(codes)
        yield codes
    tail = np.empty(0, dtype=np.int64)
    for joiner in joiners:
        tail = np.concatenate([joiner.feed(tail), joiner.flush()])
    if len(tail):
        yield tail


def write_phrased(out: IO[str], paths: CorpusPaths, model: Phrases,
                  tokenizer: Tokenizer = Tokenizer(), chunk_chars: int = DEFAULT_CHUNK_CHARS,
                  callback=None, cache: CodeCache | None = None) -> int:
    """Write the corpus with the phrases of ``model`` joined: tokens separated by one space,
    one line per input line.

    ``cache``, the one :func:`learn_phrases` filled, spares looking the words up again.

    Returns
    -------
    int
        The number of tokens written (a phrase counts once).
    """
    names = np.array(model.names + ["\n"], dtype=object)
    newline = len(model.names)
    tokens_box: list[list[str]] = [[]]
    written = 0
    line_open = False
    for codes in _joined_blocks(model, paths, tokenizer, chunk_chars, callback, tokens_box,
                                cache):
        if not len(codes):
            continue
        unknown = codes <= -3
        strings = names[np.where(unknown | (codes == END), newline, codes)]
        if unknown.any():
            tokens = tokens_box[0]
            strings[unknown] = [tokens[i] for i in (-3 - codes[unknown]).tolist()]
        # Tokens joined by spaces, then no space next to a line end (no token holds one).
        text = " ".join(strings.tolist()).replace(" \n", "\n").replace("\n ", "\n")
        is_end = codes == END
        out.write(" " + text if line_open and not is_end[0] else text)
        line_open = not is_end[-1]
        written += len(codes) - int(np.count_nonzero(is_end))
    if line_open:
        out.write("\n")
    return written
