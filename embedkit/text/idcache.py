"""The corpus as vocabulary ids in temporary files, cut into spans of whole sentences.

Tokenising is the costly part of a pass over a corpus: the first pass of a training tokenises
the text chunk by chunk (:func:`~embedkit.text.stream.iter_id_chunks`) and appends each
chunk's ids and sentence numbers to two files; later passes read the ids back. A span is a
few numbers (positions in the files), cheap to send to another process, which reads its ids
itself.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import NamedTuple, Protocol

import numpy as np

from embedkit.io import write_scratch
from embedkit.text.corpus import CorpusPaths
from embedkit.text.stream import IdChunk, iter_id_chunks
from embedkit.text.tokenize import Tokenizer
from embedkit.text.vocab import Vocabulary


class Span(NamedTuple):
    """Whole sentences of the id cache: in-vocabulary token positions ``start:stop``."""

    start: int
    stop: int
    tokens: float  # corpus tokens (out-of-vocabulary words included) they stand for


class SpanReader(Protocol):
    """What a trainer reads its spans from: an :class:`IdCache`, or ids already in memory."""

    def read(self, span: Span) -> IdChunk: ...


class IdCache:
    """The corpus as vocabulary ids and sentence numbers in two temporary files.

    The first pass tokenises the text chunk by chunk, appends each chunk's ids and sentence
    numbers and cuts the chunk into spans of whole sentences of about ``span_tokens`` ids;
    the spans are kept (a few numbers each), so later passes just list them again. Readers
    read their spans back themselves: the tokenising process never holds more than one chunk,
    and disk holds 8 bytes per in-vocabulary token.

    Parameters
    ----------
    paths : sequence of str or path-like
        Corpus files; one sentence per line.
    vocab : Vocabulary
    tokenizer : Tokenizer
    directory : str
        Where the two files go (a temporary directory the caller removes).
    span_tokens : int
        In-vocabulary tokens per span (whole sentences, so a span can be longer).
    """

    def __init__(self, paths: CorpusPaths, vocab: Vocabulary, tokenizer: Tokenizer,
                 directory: str, span_tokens: int):
        self.paths, self.vocab, self.tokenizer = paths, vocab, tokenizer
        self.span_tokens = span_tokens
        self.files = (os.path.join(directory, "ids.int32"),
                      os.path.join(directory, "sentences.int32"))
        self.spans: list[Span] | None = None  # once the first pass is complete

    def epoch(self) -> Iterator[Span]:
        """The spans of one pass over the corpus, each readable once yielded."""
        if self.spans is not None:
            yield from self.spans
            return
        spans, position = [], 0
        with open(self.files[0], "wb") as ids_out, open(self.files[1], "wb") as sentences_out:
            for chunk in iter_id_chunks(self.paths, self.vocab, self.tokenizer):
                n = len(chunk.ids)
                for out, values in ((ids_out, chunk.ids), (sentences_out, chunk.sentences)):
                    # flushed: other processes read it from the file
                    write_scratch(out, values.astype(np.int32, copy=False),
                                  "the corpus's id cache")
                cuts = sentence_cuts(chunk.sentences, self.span_tokens)
                for start, stop in itertools.pairwise(cuts):
                    spans.append(Span(position + int(start), position + int(stop),
                                      chunk.tokens * (stop - start) / n if n else
                                      chunk.tokens))
                    yield spans[-1]
                position += n
        self.spans = spans

    def has_pairs(self) -> bool:
        """Whether some sentence holds two ids or more, so that windows find a pair before
        subsampling (reads the spans back one at a time, stopping at the first)."""
        return any(np.any(np.diff(self.read(span).sentences) == 0) for span in self.epoch())

    def read(self, span: Span) -> IdChunk:
        """The ids and sentence numbers of ``span`` (int32)."""
        ids, sentences = (np.fromfile(path, dtype=np.int32, count=span.stop - span.start,
                                      offset=4 * span.start) for path in self.files)
        return IdChunk(ids, sentences, round(span.tokens))


def sentence_cuts(sentences: np.ndarray, size: int) -> np.ndarray:
    """Positions that cut a chunk into runs of whole sentences of about ``size`` tokens
    (longer where a sentence is): 0, the first sentence start at or after each multiple of
    ``size``, and the length. An empty chunk gives one empty run.

    Parameters
    ----------
    sentences : ndarray, shape (n,), int
        Non-decreasing sentence number of each token.
    size : int
        Tokens per run (>= 1).

    Returns
    -------
    ndarray, shape (runs + 1,), int64
        Increasing cut positions from 0 to ``n``.
    """
    n = len(sentences)
    if not n:
        return np.zeros(2, dtype=np.int64)
    starts = np.append(np.flatnonzero(np.diff(sentences)) + 1, n)
    cuts = starts[np.searchsorted(starts, np.arange(size, n, size))]
    return np.unique(np.concatenate([[0], cuts, [n]]))
