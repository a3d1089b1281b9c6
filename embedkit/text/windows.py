"""Training samples from a sliding window: skip-gram pairs and CBOW context bags.

Every function works on a whole chunk of ids with NumPy array operations; windows never
cross a sentence. The order is word2vec's: by centre, then by context position left to
right, so window 2 over "the quick brown fox ..." starts (the, quick) (the, brown)
(quick, the) (quick, brown) (quick, fox) ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from embedkit.errors import EmbedkitError
from embedkit.text.corpus import DEFAULT_CHUNK_CHARS, CorpusPaths
from embedkit.text.stream import DEFAULT_MAX_SENTENCE_LENGTH, IdChunk, iter_id_chunks
from embedkit.text.subsample import DEFAULT_SUBSAMPLE, keep_probabilities, subsample_mask
from embedkit.text.tokenize import Tokenizer
from embedkit.text.vocab import Vocabulary

#: The models whose training samples this module builds.
MODELS = ("skipgram", "cbow")
#: Largest distance between a centre and a context word (word2vec's default).
DEFAULT_WINDOW = 5


class SkipgramPairs(NamedTuple):
    """(centre, context) id pairs, int32: skip-gram predicts each context from its centre."""

    centres: np.ndarray
    contexts: np.ndarray


class CbowSamples(NamedTuple):
    """CBOW samples in compressed-row layout: the bag of sample ``i`` is
    ``contexts[indptr[i]:indptr[i + 1]]`` (int32 ids, left to right) and its target is
    ``centres[i]``. Centres without any context (one-word sentences) are left out."""

    centres: np.ndarray
    indptr: np.ndarray
    contexts: np.ndarray


def check_window(window: int) -> None:
    """Raise :class:`EmbedkitError` unless ``window`` is a positive half-width."""
    if window < 1:
        raise EmbedkitError(f"window {window}: expected a half-width of at least 1")


def window_sizes(n: int, window: int, rng: np.random.Generator, dynamic: bool = True
                 ) -> np.ndarray:
    """The effective half-width for each of ``n`` centres.

    Dynamic windows draw it uniformly from ``1..window`` per centre, as word2vec does (so
    near contexts are seen more often than far ones); fixed windows use ``window``.
    """
    check_window(window)
    if dynamic:
        return rng.integers(1, window + 1, size=n)
    return np.full(n, window)


def _windows(ids: np.ndarray, sentences: np.ndarray, window: int, rng: np.random.Generator,
             dynamic: bool) -> tuple[np.ndarray, np.ndarray]:
    """The context ids of every centre, and the number of each centre's contexts.

    Contexts are those inside the centre's window and its sentence, ordered by centre, then
    left to right. Each centre's ``2 * window`` candidate positions are a row of a strided
    view; a boolean mask over those rows selects the contexts in that order in one pass.
    """
    ids = np.asarray(ids, dtype=np.int32)
    sentences = np.asarray(sentences, dtype=np.int32)  # int32 halves the (n, 2w) temporaries
    half = window_sizes(len(ids), window, rng, dynamic)
    offsets = np.concatenate([np.arange(-window, 0), np.arange(1, window + 1)])

    def around(values: np.ndarray) -> np.ndarray:
        # Row i + 1 of the view holds positions i - window .. i + window (one more row of
        # padding in front keeps the view valid for an empty chunk).
        pad = np.full(window + 1, -1, dtype=np.int32)
        padded = np.concatenate([pad, values, pad[1:]])
        return sliding_window_view(padded, 2 * window + 1)[1:, offsets + window]

    valid = around(sentences) == sentences[:, None]
    valid &= np.abs(offsets) <= half[:, None]
    return around(ids)[valid], np.count_nonzero(valid, axis=1)


def skipgram_pairs(ids: np.ndarray, sentences: np.ndarray, window: int,
                   rng: np.random.Generator, dynamic: bool = True) -> SkipgramPairs:
    """All (centre, context) pairs of a chunk.

    Parameters
    ----------
    ids : numpy.ndarray
        Token ids in corpus order.
    sentences : numpy.ndarray
        Non-decreasing sentence number of each token; pairs never join two sentences.
    window : int
        Largest distance between centre and context.
    rng : numpy.random.Generator
        Draws the dynamic window sizes (one integer per token).
    dynamic : bool
        Draw each centre's half-width from ``1..window`` (word2vec) instead of fixing it.

    Returns
    -------
    SkipgramPairs
        Ordered by centre, then by context position.
    """
    contexts, counts = _windows(ids, sentences, window, rng, dynamic)
    return SkipgramPairs(np.repeat(np.asarray(ids, dtype=np.int32), counts), contexts)


def cbow_samples(ids: np.ndarray, sentences: np.ndarray, window: int,
                 rng: np.random.Generator, dynamic: bool = True) -> CbowSamples:
    """The context bag of every centre of a chunk, in compressed-row layout.

    Parameters are those of :func:`skipgram_pairs`; a bag holds the same contexts that
    skip-gram would pair with its centre, given the same generator state.
    """
    contexts, bag_sizes = _windows(ids, sentences, window, rng, dynamic)
    has_bag = bag_sizes > 0
    indptr = np.concatenate([[0], np.cumsum(bag_sizes[has_bag])]).astype(np.int64)
    return CbowSamples(np.asarray(ids, dtype=np.int32)[has_bag], indptr, contexts)


def chunk_samples(chunk: IdChunk, model: str, window: int, keep: np.ndarray | None,
                  rng: np.random.Generator, dynamic: bool = True
                  ) -> tuple[SkipgramPairs | CbowSamples, int]:
    """A chunk's training samples: subsample, then window.

    Parameters
    ----------
    chunk : IdChunk
    model : {"skipgram", "cbow"}
    window, dynamic
        See :func:`skipgram_pairs`.
    keep : numpy.ndarray or None
        Keep probability of each id (:func:`embedkit.text.subsample.keep_probabilities`);
        None: no subsampling.
    rng : numpy.random.Generator
        Draws the subsampling mask, then the window sizes.

    Returns
    -------
    (SkipgramPairs or CbowSamples, int)
        The samples and the number of ids kept after subsampling.
    """
    if keep is not None:
        chunk = chunk.select(subsample_mask(chunk.ids, keep, rng))
    build = skipgram_pairs if model == "skipgram" else cbow_samples
    return build(chunk.ids, chunk.sentences, window, rng, dynamic), len(chunk.ids)


def iter_windows(paths: CorpusPaths, vocab: Vocabulary, model: str, window: int,
                 rng: np.random.Generator, subsample: float = DEFAULT_SUBSAMPLE,
                 dynamic: bool = True, tokenizer: Tokenizer = Tokenizer(),
                 max_sentence_length: int = DEFAULT_MAX_SENTENCE_LENGTH,
                 chunk_chars: int = DEFAULT_CHUNK_CHARS,
                 callback: Callable[[dict], None] | None = None
                 ) -> Iterator[SkipgramPairs | CbowSamples]:
    """One epoch of training samples, chunk by chunk: read, map to ids, subsample, window.

    Parameters
    ----------
    paths, vocab, tokenizer, max_sentence_length, chunk_chars
        See :func:`embedkit.text.stream.iter_id_chunks`.
    model : {"skipgram", "cbow"}
        Which samples to build.
    window, dynamic
        See :func:`skipgram_pairs`.
    rng : numpy.random.Generator
        Per chunk, draws the subsampling mask, then the window sizes.
    subsample : float
        Threshold ``t`` of :func:`embedkit.text.subsample.keep_probabilities` (0: off).
    callback : callable, optional
        Called after each chunk with ``{"tokens", "kept", "samples"}``: tokens read, ids
        kept after subsampling, samples built.

    Yields
    ------
    SkipgramPairs or CbowSamples
        One per chunk (possibly empty).
    """
    if model not in MODELS:
        raise EmbedkitError(f"model {model!r}: expected one of {', '.join(MODELS)}")
    check_window(window)
    keep = keep_probabilities(vocab.counts, subsample) if subsample else None
    for chunk in iter_id_chunks(paths, vocab, tokenizer, max_sentence_length, chunk_chars):
        samples, kept = chunk_samples(chunk, model, window, keep, rng, dynamic)
        if callback is not None:
            callback({"tokens": chunk.tokens, "kept": kept, "samples": len(samples.centres)})
        yield samples
