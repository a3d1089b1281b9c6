"""fastText's subwords: the character n-grams of a word and the hashed rows they map to.

A word is wrapped in ``<`` and ``>`` and encoded in UTF-8; its n-grams are the runs of ``minn``
to ``maxn`` characters, taken as fastText takes them (``Dictionary::computeSubwords`` in
facebookresearch/fastText, src/dictionary.cc): an n-gram starts at every byte that is not a
UTF-8 continuation byte (``10xxxxxx``) and extends by whole characters; the single characters
``<`` and ``>`` are no n-grams. Each n-gram is hashed with 32-bit FNV-1a over its bytes, where
fastText XORs each byte as a *signed* char widened to 32 bits (a byte ``b ≥ 0x80`` enters as
``0xFFFFFF00 | b``), and lands in row ``nwords + hash % buckets`` of the input matrix. fastText
gives the end-of-sentence token ``</s>`` no n-grams.

Everything works on a whole vocabulary at once: the hashes of all n-grams of all words come from
``maxn`` passes over one byte array (no loop per word or per n-gram), and the rows of each word
are a compressed-row (CSR) layout: word ``i`` has rows ``members[indptr[i]:indptr[i + 1]]``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from embedkit.errors import ParameterError
from embedkit.streaming import ComputedRows

__all__ = ["EOS", "FNV_OFFSET", "FNV_PRIME", "ComposedVectors", "SubwordModel", "Subwords",
           "expand_rows", "fnv1a", "ngram_hashes", "ngrams", "parse_range", "subword_rows"]

FNV_OFFSET = 2166136261
FNV_PRIME = 16777619
#: fastText's end-of-sentence token, which has no n-grams.
EOS = "</s>"
#: fastText's defaults for unsupervised models (``-minn 3 -maxn 6 -bucket 2000000``).
DEFAULT_MINN, DEFAULT_MAXN, DEFAULT_BUCKETS = 3, 6, 2_000_000
#: fastText keeps row ids in int32.
MAX_BUCKETS = 2**31 - 1
#: Longest n-gram length in characters taken (fastText's int32 header fields hold more, but a
#: model file claiming more is read as damaged: no word is that long).
MAX_NGRAM = 1023
#: What ``--subwords`` must be, as messages say it.
RANGE_EXPECTED = f"expected n-gram lengths MIN-MAX with 1 <= MIN <= MAX <= {MAX_NGRAM}"
_RANGE = re.compile(r"\s*([0-9]+)\s*(?:-\s*([0-9]+)\s*)?")


class Subwords(NamedTuple):
    """The n-gram settings of a model: lengths ``minn..maxn`` in characters, ``buckets`` rows.

    ``maxn == 0`` (fastText's way to say "no n-grams", its ``-maxn 0`` keeps ``minn`` 3),
    ``maxn < minn`` or no buckets give every word its own row only.
    """

    minn: int = DEFAULT_MINN
    maxn: int = DEFAULT_MAXN
    buckets: int = DEFAULT_BUCKETS

    @property
    def has_ngrams(self) -> bool:
        """Whether these settings give words n-grams at all."""
        return self.buckets > 0 and self.maxn >= max(self.minn, 1)


def parse_range(text: str) -> tuple[int, int]:
    """``"3-6"`` (or ``"4"``) as n-gram lengths ``(3, 6)``.

    Raises
    ------
    ParameterError
        Unless it is ``MIN-MAX`` or ``N`` (ASCII digits) with
        ``1 <= MIN <= MAX <=`` :data:`MAX_NGRAM`.
    """
    match = _RANGE.fullmatch(text)
    low, high = (0, 0) if match is None else (int(match[1]), int(match[2] or match[1]))
    if not 1 <= low <= high <= MAX_NGRAM:
        raise ParameterError(f"subwords {text!r}: {RANGE_EXPECTED}, such as 3-6",
                             params=("subwords",))
    return low, high


def _signed_widened(data: np.ndarray) -> np.ndarray:
    """Bytes as fastText XORs them: ``uint32(int8(b))``."""
    return data.view(np.int8).astype(np.int32).view(np.uint32)


def fnv1a(data: bytes | str) -> int:
    """fastText's 32-bit FNV-1a hash of ``data`` (a ``str`` is UTF-8 encoded), as an int."""
    raw = data.encode() if isinstance(data, str) else data
    h = np.full(1, FNV_OFFSET, dtype=np.uint32)
    for byte in _signed_widened(np.frombuffer(raw, dtype=np.uint8)):
        h ^= byte
        h *= np.uint32(FNV_PRIME)
    return int(h[0])


def ngrams(word: str, minn: int, maxn: int) -> list[bytes]:
    """The n-grams of ``word`` (``<`` and ``>`` added here), fastText's order: by start, then
    by length. For tests and messages; :func:`ngram_hashes` does whole vocabularies."""
    starts, lengths, _, _ = _ngram_spans([word], minn, maxn)
    raw = ("<" + word + ">").encode()
    return [raw[s:s + n] for s, n in zip(starts.tolist(), lengths.tolist(), strict=True)]


def _ngram_spans(words: Sequence[str], minn: int, maxn: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every n-gram of every word: byte start and byte length in the concatenation of the
    wrapped words, its word, and its hash; in fastText's order (word, start, length)."""
    encoded = [("<" + word + ">").encode() for word in words]
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    sizes = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    word_end = np.cumsum(sizes)
    # characters: where they start, and the next character's start (or the word's end)
    char_start = np.flatnonzero((data & 0xC0) != 0x80)
    char_word = np.searchsorted(word_end, char_start, side="right")
    char_end = np.append(char_start[1:], len(data))
    # continuation bytes at the end of one word (a broken encoding cannot occur: words are
    # str) never run into the next
    char_end = np.minimum(char_end, word_end[char_word])
    last_char = np.r_[char_word[1:] != char_word[:-1], True]  # the word's closing '>'
    first_char = np.r_[True, char_word[1:] != char_word[:-1]]  # its opening '<'
    # characters left in the word from each character on (itself included); every wrapped
    # word has at least its two characters '<' and '>'
    remaining = np.flatnonzero(last_char)[char_word] - np.arange(len(char_start)) + 1
    widened = _signed_widened(data)
    h = np.full(len(char_start), FNV_OFFSET, dtype=np.uint32)
    prime = np.uint32(FNV_PRIME)
    spans: list[tuple[np.ndarray, ...]] = []
    active = np.arange(len(char_start))  # n-grams still growing: their first character
    for n in range(1, maxn + 1):
        active = active[remaining[active] >= n]
        if not len(active):
            break
        current = active + (n - 1)  # the character added now
        begin, end = char_start[current], char_end[current]
        for offset in range(int((end - begin).max())):  # a UTF-8 character has 1-4 bytes
            grows = np.flatnonzero(begin + offset < end)
            at = active[grows]
            h[at] ^= widened[begin[grows] + offset]
            h[at] *= prime
        if n >= minn:
            keep = active if n > 1 else active[~(first_char[active] | last_char[active])]
            spans.append((keep, np.full(len(keep), n), char_start[keep],
                          char_end[keep + (n - 1)] - char_start[keep], h[keep].copy()))
    if not spans:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, np.zeros(0, dtype=np.uint32)
    first, length, start, nbytes, hashes = (np.concatenate(parts)
                                            for parts in zip(*spans, strict=True))
    order = np.lexsort((length, first))  # by start character, then by length (fastText's)
    word_of = char_word[first[order]]
    return (start[order] - (word_end - sizes)[word_of], nbytes[order], word_of, hashes[order])


def ngram_hashes(words: Sequence[str], minn: int, maxn: int) -> tuple[np.ndarray, np.ndarray]:
    """The FNV-1a hashes of every word's n-grams, in compressed-row layout.

    Parameters
    ----------
    words : sequence of str
        Without ``<``/``>`` (added here).
    minn, maxn : int
        N-gram lengths in characters (``maxn < minn``: no n-grams).

    Returns
    -------
    indptr : ndarray of int64, shape (len(words) + 1,)
    hashes : ndarray of uint32, shape (indptr[-1],)
        Word ``i``'s hashes are ``hashes[indptr[i]:indptr[i + 1]]``, fastText's order.
    """
    _, _, word_of, hashes = _ngram_spans(words, minn, maxn)
    indptr = np.zeros(len(words) + 1, dtype=np.int64)
    np.cumsum(np.bincount(word_of, minlength=len(words)), out=indptr[1:])
    return indptr, hashes


def subword_rows(words: Sequence[str], subwords: Subwords, nwords: int,
                 own_rows: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The input-matrix rows of each word, fastText's way, in compressed-row layout.

    Parameters
    ----------
    words : sequence of str
        Vocabulary words (``own_rows``: word ``i`` is row ``i``) or unseen words.
    subwords : Subwords
    nwords : int
        Rows before the buckets (the vocabulary size): n-gram ``h`` is row
        ``nwords + h % buckets``.
    own_rows : bool
        Word ``i``'s first row is row ``i`` (vocabulary words); False for unseen words, which
        have their n-grams only (possibly none).

    Returns
    -------
    indptr : ndarray of int64, shape (len(words) + 1,)
    members : ndarray of int64, shape (indptr[-1],)
    """
    minn, maxn = (subwords.minn, subwords.maxn) if subwords.buckets else (1, 0)
    with_ngrams = [word != EOS for word in words]
    indptr, hashes = ngram_hashes([w if keep else "" for w, keep in zip(words, with_ngrams,
                                                                         strict=True)],
                                  minn, maxn)
    counts = np.diff(indptr)
    counts[~np.array(with_ngrams, dtype=bool)] = 0  # '<>' has n-grams only of 1-2 chars
    rows = nwords + (hashes % np.uint32(max(subwords.buckets, 1))).astype(np.int64)
    keep = np.repeat(np.array(with_ngrams, dtype=bool), np.diff(indptr))
    rows = rows[keep]
    if own_rows:
        counts = counts + 1
    out_indptr = np.zeros(len(words) + 1, dtype=np.int64)
    np.cumsum(counts, out=out_indptr[1:])
    if not own_rows:
        return out_indptr, rows
    members = np.empty(out_indptr[-1], dtype=np.int64)
    is_own = np.zeros(out_indptr[-1], dtype=bool)
    is_own[out_indptr[:-1]] = True
    members[is_own] = np.arange(len(words))
    members[~is_own] = rows
    return out_indptr, members


def expand_rows(indptr: np.ndarray, members: np.ndarray, ids: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """The rows of words ``ids`` (repeats allowed) as their own compressed-row layout.

    Entry ``b`` of the result holds ``members[indptr[ids[b]]:indptr[ids[b] + 1]]``; one
    gather, no loop per word.
    """
    sizes = indptr[ids + 1] - indptr[ids]
    out = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum(sizes, out=out[1:])
    return out, members[np.repeat(indptr[ids] - out[:-1], sizes) + np.arange(out[-1])]



#: Words composed per block, so that a memory-mapped model is read a block at a time. The
#: n-gram arrays of a block take about 200 bytes a word: 4096 words keep them in the CPU
#: cache (65536 cost 0.25x more CPU and 150 MB more memory, composing 300,000 words).
COMPOSE_BLOCK = 4096


@dataclass
class SubwordModel:
    """The input rows of a subword model: each word's own row and the hashed n-gram rows.

    A word's vector is the mean of its own row and its n-gram rows; an unseen word's, the mean
    of its n-gram rows (fastText's ``getWordVector``: the rows added in order to zero, then
    multiplied by the float32 ``1 / count``, which this reproduces bit for bit).

    Attributes
    ----------
    subwords : Subwords
    word_rows : ndarray, shape (nwords, dim)
        The words' own input rows (may be memory-mapped).
    ngrams : ndarray, shape (buckets, dim)
        The n-gram rows (may be memory-mapped).
    args : dict
        fastText's header arguments kept for writing the model again (``ws``, ``epoch``, ...).
    """

    subwords: Subwords
    word_rows: np.ndarray
    ngrams: np.ndarray
    args: dict = field(default_factory=dict)

    def word_vectors(self, words: Sequence[str], first: int = 0) -> np.ndarray:
        """The vectors of the vocabulary ``words`` (``words[i]``'s own row is
        ``word_rows[first + i]``), float32, composed block by block."""
        return self.rows_of(words, np.arange(first, first + len(words)))

    def rows_of(self, words: Sequence[str], rows: np.ndarray) -> np.ndarray:
        """The vectors of vocabulary words given with their own rows' numbers, float32,
        composed block by block."""
        out = np.empty((len(words), self.word_rows.shape[1]), dtype=np.float32)
        for start in range(0, len(words), COMPOSE_BLOCK):
            own = np.array(self.word_rows[rows[start:start + COMPOSE_BLOCK]], dtype=np.float32)
            out[start:start + len(own)] = self._compose(
                words[start:start + COMPOSE_BLOCK], own, 1)[0]
        return out

    def unseen_vectors(self, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The vectors of words outside the vocabulary from their n-grams alone, and how many
        n-grams each has (a word without any gets a zero vector)."""
        zeros = np.zeros((len(words), self.word_rows.shape[1]), dtype=np.float32)
        return self._compose(words, zeros, 0)

    def _compose(self, words: Sequence[str], own: np.ndarray, own_count: int
                 ) -> tuple[np.ndarray, np.ndarray]:
        """``own`` (the words' own rows, or zeros: ``own_count`` 1 or 0) plus their n-gram rows
        added in fastText's order, times the float32 ``1 / count``; and the n-gram counts."""
        # Imported here: the core pulls in SciPy, a quarter of a second that the commands
        # reading vector files (which import this module) need only for subword models.
        from embedkit.core.scatter import sparse_times

        indptr, members = subword_rows(words, self.subwords, 0, own_rows=False)
        sparse_times(indptr, members, np.ones(len(members), dtype=np.float32), self.ngrams,
                     len(words), out=own)
        counts = np.diff(indptr)
        own *= (1.0 / np.maximum(counts + own_count, 1)).astype(np.float32)[:, None]
        return own, counts


class ComposedVectors(ComputedRows):
    """The word vectors of a subword model, each composed from its rows only when read.

    A fastText model's file holds the words' own rows and the n-gram rows, not the word
    vectors: composing all of them (2 M words of ``cc.*.300.bin``, 2.4 GB) is most of the
    work of opening it. Here rows are composed where they are read (:meth:`SubwordModel.
    word_vectors`, bit for bit): a query's words from their own rows, a pass over all words a
    block at a time (:func:`~embedkit.streaming.iter_blocks`, the streamed search), so memory
    holds a block, never the matrix.

    Parameters
    ----------
    model : SubwordModel
        Its ``word_rows`` are the rows of ``words``, in order.
    words : sequence of str
        The words as the model hashes them (as stored: not NFC-normalised).
    start, stop : int
        The rows of the view (default: all).
    """

    dtype = np.dtype(np.float32)

    def __init__(self, model: SubwordModel, words: Sequence[str], start: int = 0,
                 stop: int | None = None) -> None:
        self.model, self.words = model, words
        self.start, self.stop = start, len(words) if stop is None else stop
        self.shape = (self.stop - self.start, int(model.word_rows.shape[1]))

    def __getitem__(self, key) -> ComposedVectors | np.ndarray:
        if isinstance(key, slice) and key.step in (None, 1):
            start, stop, _ = key.indices(len(self))
            return ComposedVectors(self.model, self.words, self.start + start,
                                   self.start + max(start, stop))
        ids = np.asarray(key)
        if ids.dtype == bool:
            if ids.shape != (len(self),):
                raise IndexError(f"a mask of shape {ids.shape} for {len(self)} rows")
            ids = np.flatnonzero(ids)
        elif isinstance(key, slice):
            ids = np.arange(len(self))[key]
        elif not np.issubdtype(ids.dtype, np.integer):
            raise IndexError(f"rows are numbered by integers, not {ids.dtype}")
        outside = (ids < -len(self)) | (ids >= len(self))
        if outside.any():
            raise IndexError(f"row {int(ids[outside].ravel()[0])} of a matrix of "
                             f"{len(self)} rows")
        rows = (np.where(ids < 0, ids + len(self), ids) + self.start).astype(np.intp)
        flat = rows.ravel()
        vectors = self.model.rows_of([self.words[row] for row in flat.tolist()], flat)
        return vectors.reshape(*rows.shape, self.shape[1])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        vectors = self.model.word_vectors(self.words[self.start:self.stop], self.start)
        return vectors if dtype is None else vectors.astype(dtype, copy=False)
