"""Subsampling and the noise distribution at their edges: input types, exact error messages,
the shapes of what they return (tests written from mutation testing's survivors)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from embedkit.errors import EmbedkitError
from embedkit.text.noise import NoiseDistribution
from embedkit.text.subsample import keep_probabilities
from embedkit.text.vocab import build_vocabulary
from embedkit.text.windows import cbow_samples, iter_windows, skipgram_pairs


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
    assert str(error.value) == f"ns_exponent {exponent}: expected a finite number"


@pytest.mark.parametrize("counts, exponent, expected", [
    ([500, 1000], 150.0, [2.0 ** -150, 1.0]),  # 1000 ** 150 overflows float64
    ([2, 4], -1100.0, [1.0, 2.0 ** -1100]),  # both powers underflow to zero
    ([1, 2, 3], 1e6, [0.0, 0.0, 1.0]),  # all mass on the most frequent word
])
def test_noise_exponents_beyond_float64_give_the_same_ratios_without_warnings(counts, exponent,
                                                                            expected):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # overflow, invalid value in the division
        noise = NoiseDistribution(np.array(counts), exponent)
    assert np.isfinite(noise.probabilities).all() and noise.probabilities.sum() == 1.0
    np.testing.assert_allclose(noise.probabilities, np.array(expected) / sum(expected),
                               rtol=1e-12, atol=0)
    draws = noise.sample(np.random.default_rng(0), 1000)
    assert np.bincount(draws, minlength=len(counts)).argmax() == int(np.argmax(expected))


def test_one_word_noise_always_draws_it():
    draws = NoiseDistribution(np.array([7]), 0.75).sample(np.random.default_rng(0), (3, 5))
    assert draws.shape == (3, 5) and not draws.any()


# ---------------------------------------------------------------- windows


def _corpus(tmp_path, lines):
    path = tmp_path / "corpus.txt"
    path.write_text("".join(line + "\n" for line in lines))
    return path, build_vocabulary([path], min_count=1)


def _fixed_pairs(lengths, window):
    """Pairs of fixed windows over sentences of the given lengths."""
    return sum(sum(min(i, window) + min(n - 1 - i, window) for i in range(n)) for n in lengths)


def test_iter_windows_draws_dynamic_windows_unless_told_not_to(tmp_path):
    words = [f"w{i}" for i in range(40)]
    path, vocab = _corpus(tmp_path, [" ".join(words)] * 20)
    fixed = _fixed_pairs([40] * 20, 5)

    def pairs(**options):
        return sum(len(p.centres) for p in iter_windows(
            [path], vocab, "skipgram", 5, np.random.default_rng(0), subsample=0, **options))

    assert pairs(dynamic=False) == fixed
    # window sizes uniform on 1..5: 3/5 of the fixed pairs on average (far from the ends)
    assert 0.5 * fixed < pairs() < 0.7 * fixed


def test_iter_windows_reports_each_chunk_and_splits_long_lines(tmp_path):
    path, vocab = _corpus(tmp_path, [" ".join(f"w{i}" for i in range(30))] * 10)
    records: list = []
    batches = list(iter_windows([path], vocab, "skipgram", 3, np.random.default_rng(0),
                                subsample=0, dynamic=False, max_sentence_length=10,
                                chunk_chars=100, callback=records.append))
    assert len(batches) == len(records) > 5  # 100-character blocks: many chunks
    assert all(set(r) == {"tokens", "kept", "samples"} for r in records)
    assert sum(r["tokens"] for r in records) == sum(r["kept"] for r in records) == 300
    assert [r["samples"] for r in records] == [len(b.centres) for b in batches]
    # lines of 30 words are sentences of 10: windows stop at each tenth word
    assert sum(r["samples"] for r in records) == 30 * _fixed_pairs([10], 3)


def test_iter_windows_subsamples_with_the_given_threshold(tmp_path):
    rng = np.random.default_rng(1)
    path, vocab = _corpus(tmp_path, [" ".join(f"z{w}" for w in rng.zipf(1.5, 10) % 50)
                                     for _ in range(2000)])
    records: list = []
    for _ in iter_windows([path], vocab, "skipgram", 2, np.random.default_rng(2),
                          subsample=1e-4, callback=records.append):
        pass
    kept = sum(r["kept"] for r in records)
    expected = np.sum(vocab.counts * keep_probabilities(vocab.counts, 1e-4))
    assert abs(kept - expected) < 5 * np.sqrt(expected)
    assert kept < 0.6 * vocab.total


def test_cbow_bags_default_to_dynamic_windows_and_skip_lone_words():
    ids = np.arange(200, dtype=np.int64)
    sentences = np.zeros(200, dtype=np.int64)
    bags = cbow_samples(ids, sentences, 5, np.random.default_rng(0))
    interior = np.diff(bags.indptr)[5:-5]  # fixed windows would give 10 contexts each
    assert np.mean(interior == 10) < 0.4 and interior.min() == 2  # drawn per centre from 1..5
    assert bags.centres.dtype == np.int32 and bags.contexts.dtype == np.int32
    lone = cbow_samples(np.array([7, 8, 9]), np.array([0, 1, 1]), 2, np.random.default_rng(0))
    assert lone.centres.tolist() == [8, 9]  # 7 is alone in its sentence: no bag
    assert lone.indptr.tolist() == [0, 1, 2] and lone.contexts.tolist() == [9, 8]


def test_pairs_are_int32_whatever_the_input_ids():
    pairs = skipgram_pairs(np.array([3, 1, 2], dtype=np.int64), np.zeros(3, dtype=np.int64), 1,
                           np.random.default_rng(0))
    assert pairs.centres.dtype == pairs.contexts.dtype == np.int32
    assert list(zip(pairs.centres.tolist(), pairs.contexts.tolist(), strict=True)) == [
        (3, 1), (1, 3), (1, 2), (2, 1)]


def test_unknown_model_is_named_with_the_known_ones(tmp_path):
    path, vocab = _corpus(tmp_path, ["a b"])
    with pytest.raises(EmbedkitError) as error:
        next(iter_windows([path], vocab, "glove", 2, np.random.default_rng(0)))
    assert str(error.value) == "model 'glove': expected one of skipgram, cbow"


def test_without_subsampling_the_generator_only_draws_window_sizes(tmp_path):
    """subsample=0 draws no mask: the pairs are those of skipgram_pairs on the same ids with
    a generator in the same state."""
    lines = ["a b c d e f", "b c a", "f e d c b a g"]
    path, vocab = _corpus(tmp_path, lines)
    (pairs,) = iter_windows([path], vocab, "skipgram", 3, np.random.default_rng(5), subsample=0)
    ids = np.array([vocab.index[w] for line in lines for w in line.split()])
    sentences = np.repeat(np.arange(3), [len(line.split()) for line in lines])
    direct = skipgram_pairs(ids, sentences, 3, np.random.default_rng(5))
    assert np.array_equal(pairs.centres, direct.centres)
    assert np.array_equal(pairs.contexts, direct.contexts)
