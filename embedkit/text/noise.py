"""The noise distribution of negative sampling: unigram counts raised to a power."""

from __future__ import annotations

import numpy as np

from embedkit.errors import EmbedkitError, ParameterError

#: word2vec's exponent: flattens the unigram distribution towards rare words.
DEFAULT_NS_EXPONENT = 0.75


class NoiseDistribution:
    """Draw word ids with probability proportional to ``count ** exponent``.

    Sampling uses Walker's alias method: O(1) per draw, one uniform number per draw, all
    draws of a call made in bulk with NumPy.

    Parameters
    ----------
    counts : numpy.ndarray
        Word counts, one per id.
    exponent : float
        The power applied to the counts (0 gives the uniform distribution, 1 the unigram).

    Attributes
    ----------
    probabilities : numpy.ndarray of float64
        The probability of each id.
    """

    def __init__(self, counts: np.ndarray, exponent: float = DEFAULT_NS_EXPONENT) -> None:
        counts = np.asarray(counts, dtype=np.float64)
        if counts.ndim != 1 or not len(counts):
            raise EmbedkitError("noise distribution: expected a non-empty vector of counts")
        if not np.isfinite(exponent):
            raise ParameterError(f"ns_exponent {exponent}: expected a finite number",
                                 params=("ns_exponent",))
        if np.any(counts <= 0) or not np.all(np.isfinite(counts)):
            raise EmbedkitError("noise distribution: every count must be positive and finite")
        with np.errstate(over="ignore", under="ignore"):
            weights = counts ** exponent
        total = weights.sum()
        if not np.isfinite(total) or total == 0:
            # A large exponent overflows the powers (or a negative one underflows them all):
            # the same ratios from the logarithms, scaled so that the largest weight is 1.
            logs = exponent * np.log(counts)
            weights = np.exp(logs - logs.max())
        self.exponent = exponent
        self.probabilities = weights / weights.sum()
        self._threshold, self._alias = _alias_table(self.probabilities)

    def __len__(self) -> int:
        return len(self.probabilities)

    def sample(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
        """Draw ids (int32) of the given shape from ``rng``."""
        scaled = rng.random(size) * len(self.probabilities)
        column = scaled.astype(np.int64)
        # The fractional part is a fresh uniform number for the alias coin.
        keep = (scaled - column) < self._threshold[column]
        return np.where(keep, column, self._alias[column]).astype(np.int32)


def _alias_table(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vose's construction: column ``i`` keeps ``i`` with probability ``threshold[i]`` and
    gives ``alias[i]`` otherwise. One pass over the vocabulary, done once."""
    n = len(p)
    scaled = (p * n).tolist()  # Python floats: this loop is faster on lists than on arrays
    threshold = [1.0] * n
    alias = list(range(n))
    small = [i for i, q in enumerate(scaled) if q < 1.0]
    large = [i for i, q in enumerate(scaled) if q >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        threshold[s] = scaled[s]
        alias[s] = g
        scaled[g] -= 1.0 - scaled[s]
        (small if scaled[g] < 1.0 else large).append(g)
    # Whatever remains is 1 up to rounding: always keep it.
    return np.array(threshold), np.array(alias, dtype=np.int64)
