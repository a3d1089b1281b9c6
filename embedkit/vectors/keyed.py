"""A set of word vectors: the words in file order, their rows, and what queries need from them."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from embedkit.errors import EmbedkitError
from embedkit.formats import first_occurrences
from embedkit.formats.arrays import LineWords
from embedkit.streaming import ComputedRows, check_finite, row_norms
from embedkit.text.subwords import SubwordModel

#: Rows per block when a pass over the matrix must not load it whole (memory-mapped files).
ROW_BLOCK = 65536
#: Word lookups answered by searching the word list before the word -> row dict is built.
SCAN_LOOKUPS = 32


class UnknownWordError(EmbedkitError):
    """A query names a word that is not in the vocabulary."""


class KeyedVectors:
    """Words and their vectors, most frequent first, as in every word2vec-format file.

    Parameters
    ----------
    words : sequence of str
        The vocabulary in row order. Duplicates keep their first row (as gensim does).
    vectors : ndarray or ComputedRows, shape (len(words), dim)
        The vectors; may be a read-only memory map, or computed where read (a large fastText
        model's, :class:`~embedkit.text.subwords.ComposedVectors`).
    counts : ndarray of int64, optional
        Corpus frequencies, when the file records them.
    output : ndarray, optional
        Output-layer weights of the model, when the file holds them (``.npz`` from training).
    subwords : SubwordModel, optional
        The own rows and n-gram rows of a subword model (fastText), which give vectors to
        words outside the vocabulary (:meth:`unseen`).
    name : str
        What error messages call the vectors (the file's name, from the loaders).
    norms : ndarray, shape (len(words),), optional
        The Euclidean length of every row, when known (stored beside a ``.npy``); computed at
        first use otherwise.
    distinct : bool
        The caller has already dropped duplicate words (the file readers do), so they are not
        looked for again.

    Attributes
    ----------
    words : list of str or LineWords
        A list, or the text of a vocabulary file read for a memory-mapped matrix
        (:class:`~embedkit.formats.arrays.LineWords`, which looks words up without building
        the list).
    index : dict of str to int
        Row of each word, built at first use (see Notes).
    vectors, counts, output : ndarray or None
    subwords : SubwordModel or None
    oov_ngrams : bool
        :meth:`rows` gives words outside the vocabulary a vector from their n-grams (a
        subword model only): set by the caller that wants it.
    ngram_words : dict of str to int
        The words given a vector from their n-grams so far, and their rows (from
        ``len(self)`` on: they are never answers, only queries).

    Notes
    -----
    The dict from word to row (:attr:`index`) costs about a second per million words to build,
    more than a query on a memory-mapped matrix, so the first :data:`SCAN_LOOKUPS` lookups
    search the word list instead (a C loop, milliseconds) and the dict is built after them.
    """

    def __init__(self, words: Sequence[str], vectors: np.ndarray | ComputedRows,
                 counts: np.ndarray | None = None, output: np.ndarray | None = None,
                 subwords: SubwordModel | None = None, name: str = "vectors",
                 norms: np.ndarray | None = None, distinct: bool = False) -> None:
        if not isinstance(words, LineWords):  # which is kept as text
            words = list(words)
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise EmbedkitError(f"{len(words)} words but a vector matrix of shape "
                                f"{vectors.shape}: expected one row per word")
        if norms is not None and norms.shape != (len(words),):
            raise EmbedkitError(f"{len(words)} words but {norms.shape} row norms: expected one "
                                f"norm per word")
        keep = None if distinct else first_occurrences(words)
        if keep is not None:
            vectors = vectors[keep]
            counts = None if counts is None else counts[keep]
            norms = None if norms is None else norms[keep]
            words = [word for word, kept in zip(words, keep, strict=True) if kept]
            if subwords is not None:
                subwords = dataclasses.replace(subwords, word_rows=subwords.word_rows[keep])
        self.words = words
        self.vectors = vectors
        self.counts = counts
        self.output = output
        self.subwords = subwords
        self.oov_ngrams = False
        self.ngram_words: dict[str, int] = {}
        self._ngram_vectors: list[np.ndarray] = []
        self._without_ngrams: set[str] = set()
        self.name = name
        self._index: dict[str, int] | None = None
        self._scans = 0
        self._norms = None if norms is None else self._checked(norms)

    @property
    def has_ngrams(self) -> bool:
        """Whether this is a subword model whose settings give words n-grams (a fastText
        model trained with ``-maxn 0`` has none)."""
        return self.subwords is not None and self.subwords.subwords.has_ngrams

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return self._row(word) is not None

    @property
    def dim(self) -> int:
        """Number of components per vector."""
        return int(self.vectors.shape[1])

    @property
    def index(self) -> dict[str, int]:
        """Row of each word (built at first use)."""
        if self._index is None:
            self._index = {word: row for row, word in enumerate(self.words)}
        return self._index

    def _row(self, word: str) -> int | None:
        if self._index is None and self._scans < SCAN_LOOKUPS:
            self._scans += 1
            try:
                return self.words.index(word)
            except ValueError:
                return None
        return self.index.get(word)

    def rows(self, words: Sequence[str]) -> list[int]:
        """Row of each word, raising :class:`UnknownWordError` for the first unknown one
        (with :attr:`oov_ngrams`, an unknown word gets a row from its n-grams instead)."""
        found = [self._row(word) for word in words]
        unknown = [word for word, row in zip(words, found, strict=True) if row is None]
        if unknown and not self.oov_ngrams:
            raise UnknownWordError(f"unknown word {unknown[0]!r}")
        self.compose_unseen(unknown)
        return [self.ngram_row(word) if row is None else row
                for word, row in zip(words, found, strict=True)]

    def ngram_row(self, word: str) -> int:
        """A row (``len(self)`` or more) holding the vector of ``word`` from its n-grams
        alone, fastText's vector of an unseen word.

        Raises
        ------
        UnknownWordError
            Without a subword model, or when the word has no n-gram.
        """
        if word not in self.ngram_words:
            self.compose_unseen([word])
        if word in self.ngram_words:
            return self.ngram_words[word]
        if self.subwords is None or not self.subwords.subwords.has_ngrams:
            raise UnknownWordError(f"unknown word {word!r}")
        settings = self.subwords.subwords
        raise UnknownWordError(f"unknown word {word!r}, without n-grams of "
                               f"{settings.minn}-{settings.maxn} characters")

    def compose_unseen(self, words: Sequence[str]) -> None:
        """Give each of ``words`` (outside the vocabulary: not looked up) its vector from its
        n-grams, the row :meth:`ngram_row` then returns, all composed at once: one pass over
        their n-grams, no loop per word. Repeats and words composed before are allowed.
        Nothing without a subword model."""
        if self.subwords is None:
            return
        new = [word for word in dict.fromkeys(words)
               if word not in self.ngram_words and word not in self._without_ngrams]
        if not new:
            return
        vectors, counts = self.subwords.unseen_vectors(new)
        has = counts > 0
        kept = [word for word, ok in zip(new, has.tolist(), strict=True) if ok]
        self._without_ngrams.update(word for word, ok in zip(new, has.tolist(), strict=True)
                                    if not ok)
        first = len(self) + len(self._ngram_vectors)
        self.ngram_words.update(zip(kept, range(first, first + len(kept)), strict=True))
        self._ngram_vectors.extend(vectors[has])

    def row_vectors(self, rows: np.ndarray | Sequence[int]) -> np.ndarray:
        """The vectors of rows, those of :attr:`ngram_words` included (float32 copies).

        Raises
        ------
        EmbedkitError
            For a NaN or infinite entry (a memory-mapped matrix is not checked when loaded),
            naming its row and column.
        """
        rows = np.asarray(rows, dtype=np.intp)
        inside = rows < len(self)
        if inside.all():
            out = np.asarray(self.vectors[rows], dtype=np.float32)
        else:
            out = np.empty((len(rows), self.dim), dtype=np.float32)
            out[inside] = self.vectors[rows[inside]]
            out[~inside] = np.array(self._ngram_vectors)[rows[~inside] - len(self)]
        check_finite(out, self.name, lambda row: f"row {rows[row] + 1}")
        return out

    @property
    def norms(self) -> np.ndarray:
        """Euclidean length of every row (float32): given, or computed once, block by block so
        a memory-mapped matrix is never resident whole. Zero rows get length 1 so their cosine
        with anything is 0 rather than NaN.

        Raises
        ------
        EmbedkitError
            For a row holding a NaN or an infinity (a memory-mapped matrix is not checked when
            loaded: its norms are where every row is read), naming the row and column; for a
            row longer than float32 can hold (cosines would overflow), naming it.
        """
        if self._norms is None:
            with np.errstate(over="ignore"):  # squares above 3.4e38: redone in float64 below
                self._norms = self._checked(row_norms(self.vectors))
        return self._norms

    @norms.setter
    def norms(self, norms: np.ndarray) -> None:
        """Norms found by a pass over every row (the streamed search of composed rows)."""
        self._norms = norms

    @property
    def composed(self) -> bool:
        """Whether rows are computed where read and their norms not yet known (a fastText
        model's word vectors, :class:`~embedkit.text.subwords.ComposedVectors`): a pass over
        all rows then finds the norms of each block it reads (:meth:`norms_of`)."""
        return self._norms is None and isinstance(self.vectors, ComputedRows)

    def norms_of(self, rows: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """The norms of rows (within the vocabulary) whose ``vectors`` are at hand: those of
        :attr:`norms` (the same numbers), computed from ``vectors`` while they are not known
        (:attr:`composed`) rather than by a pass over every row."""
        if not self.composed:
            return self.norms[rows]
        with np.errstate(over="ignore"):
            return self._checked(np.linalg.norm(vectors, axis=1), rows)

    def _checked(self, norms: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """A float32 copy of ``norms`` (of ``rows``, default all) with infinite ones (float32
        squares overflowed) redone in float64, and zeros replaced by 1."""
        norms = np.array(norms, dtype=np.float32)
        rows = np.arange(len(norms)) if rows is None else np.asarray(rows)
        for long_row in np.flatnonzero(np.isinf(norms)):
            norms[long_row] = np.linalg.norm(np.asarray(self.vectors[rows[long_row]],
                                                        np.float64))
        if not np.isfinite(norms).all():
            self.row_vectors(rows[~np.isfinite(norms)])  # raises for NaN entries
        if np.isinf(norms).any():
            row = int(rows[np.argmax(np.isinf(norms))])
            length = np.linalg.norm(np.asarray(self.vectors[row], np.float64))
            raise EmbedkitError(f"{self.name}: row {row + 1} ({self.words[row]!r}) has "
                                f"length {length:.3g}, beyond float32's range: cosines "
                                "would overflow; expected vectors of a usual scale")
        norms[norms == 0] = 1
        return norms

    def unit(self, rows: np.ndarray | Sequence[int]) -> np.ndarray:
        """The given rows (those of :attr:`ngram_words` included) scaled to unit length
        (float32)."""
        rows = np.asarray(rows, dtype=np.intp)
        if (rows < len(self)).all():
            vectors = np.asarray(self.vectors[rows], dtype=np.float32)
            return vectors / self.norms_of(rows, vectors)[:, None]
        vectors = self.row_vectors(rows)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1)
