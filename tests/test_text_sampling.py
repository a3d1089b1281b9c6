"""Subsampling and the noise distribution at their edges: input types, exact error messages,
the shapes of what they return (tests written from mutation testing's survivors)."""

from __future__ import annotations

import numpy as np
import pytest

from embedkit.errors import EmbedkitError
from embedkit.text.noise import NoiseDistribution
from embedkit.text.subsample import keep_probabilities


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float32, np.float64])
def test_keep_probabilities_are_float64_whatever_the_counts(dtype):
    counts = np.array([1000, 100, 10, 1], dtype=dtype)
    p = keep_probabilities(counts, 1e-3)
    assert p.dtype == np.float64
    np.testing.assert_allclose(p, [0.0344426666, 0.1165139847, 0.4444166662, 1.0], rtol=1e-8)


@pytest.mark.parametrize("counts", [[3, 0], [5, -2, 1]])
def test_keep_probabilities_reject_counts_that_are_not_positive(counts):
    with pytest.raises(EmbedkitError) as error:
        keep_probabilities(np.array(counts), 1e-3)
    assert str(error.value) == "subsample: every count must be positive"


def test_keep_probabilities_of_nothing_and_of_no_threshold():
    assert keep_probabilities(np.array([], dtype=np.int64), 1e-3).shape == (0,)
    assert keep_probabilities(np.array([0, 5]), 0).tolist() == [1.0, 1.0]  # off: not checked
    with pytest.raises(EmbedkitError) as error:
        keep_probabilities(np.array([3]), float("nan"))
    assert str(error.value) == "subsample nan: expected a threshold >= 0 (0 turns it off)"


@pytest.mark.parametrize("dtype", [np.int64, np.float32])
def test_noise_probabilities_are_float64_and_exact_for_integer_exponents(dtype):
    counts = np.array([1, 2, 4, 8], dtype=dtype)
    for exponent, expected in ((-1, [8, 4, 2, 1]), (2, [1, 4, 16, 64]), (0, [1, 1, 1, 1])):
        noise = NoiseDistribution(counts, exponent)
        assert noise.probabilities.dtype == np.float64
        np.testing.assert_allclose(noise.probabilities, np.array(expected) / sum(expected),
                                   rtol=1e-15)
    assert len(noise) == 4


@pytest.mark.parametrize("counts, message", [
    (np.ones((2, 2)), "noise distribution: expected a non-empty vector of counts"),
    (np.ones(0), "noise distribution: expected a non-empty vector of counts"),
    (np.array([3.0, 0.0]), "noise distribution: every count must be positive and finite"),
    (np.array([3.0, np.inf]), "noise distribution: every count must be positive and finite"),
    (np.array([3.0, np.nan]), "noise distribution: every count must be positive and finite"),
])
def test_noise_distribution_rejects_bad_counts_with_one_clear_message(counts, message):
    with pytest.raises(EmbedkitError) as error:
        NoiseDistribution(counts)
    assert str(error.value) == message


@pytest.mark.parametrize("exponent", [np.nan, np.inf])
def test_noise_distribution_rejects_an_exponent_that_is_not_finite(exponent):
    with pytest.raises(EmbedkitError) as error:
        NoiseDistribution(np.array([1, 2]), exponent)
    assert str(error.value) == f"noise exponent {exponent}: expected a finite number"


def test_one_word_noise_always_draws_it():
    draws = NoiseDistribution(np.array([7]), 0.75).sample(np.random.default_rng(0), (3, 5))
    assert draws.shape == (3, 5) and not draws.any()
