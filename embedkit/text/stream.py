"""A corpus as chunks of vocabulary ids, one pass per epoch, sentences kept apart.

Each chunk holds the in-vocabulary ids of whole sentences (out-of-vocabulary words are
dropped before windowing, as word2vec does) and the sentence number of every id, so windows
built on a chunk never cross a sentence. Memory is bounded by the chunk size.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import repeat
from typing import NamedTuple

import numpy as np

from embedkit.errors import EmbedkitError
from embedkit.text.corpus import DEFAULT_CHUNK_CHARS, CorpusPaths, iter_text_blocks
from embedkit.text.tokenize import SENTENCE_END, Tokenizer
from embedkit.text.vocab import Vocabulary

#: Longest sentence, in tokens: longer lines are split into sentences of this length.
DEFAULT_MAX_SENTENCE_LENGTH = 10_000

_OOV = -1
_END = -2
_MISS = -3


class IdChunk(NamedTuple):
    """In-vocabulary ids of whole sentences.

    Attributes
    ----------
    ids : numpy.ndarray of int32
        Vocabulary ids in corpus order, out-of-vocabulary words removed.
    sentences : numpy.ndarray of int32
        Non-decreasing sentence number of each id (starting at 0 in every chunk).
    tokens : int
        Word tokens read for this chunk, out-of-vocabulary ones included (for progress).
    """

    ids: np.ndarray
    sentences: np.ndarray
    tokens: int

    def select(self, mask: np.ndarray) -> IdChunk:
        """The chunk with only the ids where ``mask`` is true (e.g. after subsampling)."""
        return IdChunk(self.ids[mask], self.sentences[mask], self.tokens)


def iter_id_chunks(paths: CorpusPaths, vocab: Vocabulary, tokenizer: Tokenizer = Tokenizer(),
                   max_sentence_length: int = DEFAULT_MAX_SENTENCE_LENGTH,
                   chunk_chars: int = DEFAULT_CHUNK_CHARS) -> Iterator[IdChunk]:
    """Read a corpus once and yield its vocabulary ids chunk by chunk.

    Parameters
    ----------
    paths : sequence of str or path-like
        Corpus files; one sentence per line.
    vocab : Vocabulary
        Words outside it are dropped.
    tokenizer : Tokenizer
        The tokenizer the vocabulary was built with.
    max_sentence_length : int
        A line of more tokens (counted before dropping unknown words) is split into
        sentences of this many tokens: split, never truncated.
    chunk_chars : int
        Characters read per chunk.

    Yields
    ------
    IdChunk
        Chunks of whole sentences; one may be empty (all its words unknown) but still
        counts the tokens read, so progress adds up to the corpus size.
    """
    return id_chunks(iter_text_blocks(paths, chunk_chars), vocab, tokenizer,
                     max_sentence_length)


def id_chunks(text_blocks: Iterable[str], vocab: Vocabulary, tokenizer: Tokenizer = Tokenizer(),
              max_sentence_length: int = DEFAULT_MAX_SENTENCE_LENGTH) -> Iterator[IdChunk]:
    """:func:`iter_id_chunks` of text blocks cut at line ends or white space (those of
    :func:`~embedkit.text.corpus.iter_text_blocks`, or of a byte range of a file)."""
    if max_sentence_length < 1:
        raise EmbedkitError(f"max sentence length {max_sentence_length}: expected at least 1")
    lookup = dict(vocab.index)
    lookup[SENTENCE_END] = _END
    # Tokens of a sentence still open at the end of a block (only inside lines longer than
    # a block); fewer than max_sentence_length of them, so carrying them is cheap.
    carry = np.empty(0, dtype=np.int32)
    for text in text_blocks:
        codes = np.concatenate([carry, encode_tokens(tokenizer.split(text), lookup,
                                                     tokenizer)])
        segment, open_from = _segments(codes == _END, max_sentence_length)
        carry = codes[open_from:]
        codes, segment = codes[:open_from], segment[:open_from]
        kept = codes >= 0
        sentences = segment[kept]
        yield IdChunk(codes[kept], (sentences - sentences[:1].sum()).astype(np.int32),
                      int(np.count_nonzero(codes != _END)))


def encode_tokens(tokens: list[str], lookup: dict[str, int], tokenizer: Tokenizer
                  ) -> np.ndarray:
    """Codes of white-space tokens: vocabulary ids, ``-1`` for unknown words, and at line
    ends the code ``lookup`` gives :data:`SENTENCE_END` (``-2`` in :func:`iter_id_chunks`).

    One dictionary look-up per token does most of the work; only tokens not found as they
    are (unknown words, words with punctuation attached) are split into words, so the
    result equals looking up every token of :meth:`Tokenizer.tokens`.
    """
    get = lookup.get
    codes = np.fromiter(map(get, tokens, repeat(_MISS)), dtype=np.int32, count=len(tokens))
    pieces: list[np.ndarray] = []
    start = 0
    for i in np.flatnonzero(codes == _MISS).tolist():
        token = tokens[i]
        words = [token] if token.isalnum() else tokenizer.words_in(token)
        if len(words) == 1:
            codes[i] = get(words[0], _OOV)
        else:
            pieces += [codes[start:i], np.array([get(w, _OOV) for w in words], dtype=np.int32)]
            start = i + 1
    if not pieces:
        return codes
    return np.concatenate(pieces + [codes[start:]])


def _segments(is_end: np.ndarray, max_len: int) -> tuple[np.ndarray, int]:
    """Sentence numbers of a block of codes, and where its unfinished sentence starts.

    A sentence starts at the block start, after each end marker and every ``max_len``
    tokens into a line.
    """
    n = len(is_end)
    line = np.cumsum(is_end) - is_end
    line_start = np.concatenate([[0], np.flatnonzero(is_end) + 1])
    position = np.arange(n) - line_start[line]
    starts = (position % max_len == 0) & ~is_end
    starts[line_start[line_start < n]] = True
    segment = np.cumsum(starts)
    ends = np.flatnonzero(is_end)
    last_end = ends[-1] + 1 if len(ends) else 0
    # The sentence open at the block end starts at the last start after the last end marker.
    open_starts = np.flatnonzero(starts[last_end:])
    open_from = last_end + open_starts[-1] if len(open_starts) else n
    return segment, int(open_from)
