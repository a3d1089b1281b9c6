"""Subsampling of frequent words, with word2vec's keep probability."""

from __future__ import annotations

import numpy as np

from embedkit.errors import EmbedkitError

#: word2vec's default threshold ``t`` (``-sample``).
DEFAULT_SUBSAMPLE = 1e-3


def keep_probabilities(counts: np.ndarray, t: float = DEFAULT_SUBSAMPLE) -> np.ndarray:
    """The probability of keeping each occurrence of each word, as the word2vec C tool and
    gensim compute it.

    With ``f`` a word's count and ``T`` the total of ``counts``::

        p_keep = (sqrt(f / (t T)) + 1) * (t T) / f,   capped at 1

    so words rarer than about ``t T`` are always kept and a word of relative frequency
    ``r = f / T`` is kept with probability about ``sqrt(t / r)``. ``t = 0`` keeps every word.

    Parameters
    ----------
    counts : numpy.ndarray
        Word counts (e.g. :attr:`Vocabulary.counts`).
    t : float
        The threshold, ``>= 0``.

    Returns
    -------
    numpy.ndarray of float64
        One probability per word, in ``(0, 1]``.
    """
    if not t >= 0:
        raise EmbedkitError(f"subsample {t}: expected a threshold >= 0 (0 turns it off)")
    counts = np.asarray(counts, dtype=np.float64)
    if t == 0 or not len(counts):
        return np.ones(len(counts))
    if np.any(counts <= 0):
        raise EmbedkitError("subsample: every count must be positive")
    threshold = t * counts.sum()
    return np.minimum(1.0, (np.sqrt(counts / threshold) + 1.0) * threshold / counts)


def subsample_mask(ids: np.ndarray, keep_prob: np.ndarray, rng: np.random.Generator
                   ) -> np.ndarray:
    """Draw which tokens survive subsampling: ``mask[i]`` is true with ``keep_prob[ids[i]]``.

    One uniform draw per token from ``rng``, so the same generator state gives the same mask.
    """
    return rng.random(len(ids)) < keep_prob[ids]
