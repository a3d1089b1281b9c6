"""Windows, subsampling and the noise distribution: known values and planted statistics."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embedkit.errors import EmbedkitError
from embedkit.text.noise import NoiseDistribution
from embedkit.text.subsample import keep_probabilities, subsample_mask
from embedkit.text.vocab import build_vocabulary
from embedkit.text.windows import cbow_samples, iter_windows, skipgram_pairs, window_sizes

FOX = "the quick brown fox jumps over the lazy dog"
# THEORY.md section 5: window 2, the first four centres.
FOX_PAIRS = [("the", "quick"), ("the", "brown"),
             ("quick", "the"), ("quick", "brown"), ("quick", "fox"),
             ("brown", "the"), ("brown", "quick"), ("brown", "fox"), ("brown", "jumps"),
             ("fox", "quick"), ("fox", "brown"), ("fox", "jumps"), ("fox", "over")]


def fox_pairs(tmp_path, seed=1):
    path = tmp_path / "fox.txt"
    path.write_text(FOX + "\n")
    vocab = build_vocabulary([path], min_count=1)
    (pairs,) = iter_windows([path], vocab, "skipgram", 2, np.random.default_rng(seed),
                            subsample=0, dynamic=False)
    return [(vocab.words[c], vocab.words[x]) for c, x in zip(*pairs, strict=True)]


def test_quick_brown_fox_gives_the_pairs_of_theory_in_order(tmp_path):
    assert fox_pairs(tmp_path)[:13] == FOX_PAIRS
    # 9 words, window 2: 2 + 3 + 4 * 5 + 3 + 2 pairs in all.
    assert len(fox_pairs(tmp_path)) == 30


def brute_force_pairs(ids, sentences, half):
    """One loop per centre: the reference the vectorised version must match."""
    pairs = []
    for i in range(len(ids)):
        for j in range(i - half[i], i + half[i] + 1):
            if j != i and 0 <= j < len(ids) and sentences[j] == sentences[i]:
                pairs.append((ids[i], ids[j]))
    return pairs


@settings(max_examples=60, deadline=None)
@given(lengths=st.lists(st.integers(1, 9), min_size=1, max_size=6),
       window=st.integers(1, 4), seed=st.integers(0, 2**32 - 1), dynamic=st.booleans())
def test_pairs_match_a_brute_force_window_and_never_cross_sentences(lengths, window, seed,
                                                                     dynamic):
    sentences = np.repeat(np.arange(len(lengths)), lengths)
    ids = np.random.default_rng(seed).integers(0, 50, size=len(sentences))
    half = window_sizes(len(ids), window, np.random.default_rng(seed), dynamic)
    pairs = skipgram_pairs(ids, sentences, window, np.random.default_rng(seed), dynamic)
    assert list(zip(pairs.centres.tolist(), pairs.contexts.tolist(), strict=True)) == \
        brute_force_pairs(ids.tolist(), sentences.tolist(), half.tolist())
    bags = cbow_samples(ids, sentences, window, np.random.default_rng(seed), dynamic)
    # A CBOW bag holds exactly the contexts skip-gram pairs with the same centre.
    expanded = np.repeat(bags.centres, np.diff(bags.indptr))
    assert expanded.tolist() == pairs.centres.tolist()
    assert bags.contexts.tolist() == pairs.contexts.tolist()
    assert pairs.centres.dtype == bags.contexts.dtype == np.int32


def test_dynamic_window_sizes_are_uniform_on_1_to_w():
    sizes = window_sizes(200_000, 5, np.random.default_rng(3))
    frequencies = np.bincount(sizes, minlength=7) / len(sizes)
    assert frequencies[0] == 0 and frequencies[6] == 0
    np.testing.assert_allclose(frequencies[1:6], 0.2, atol=0.005)
    assert np.all(window_sizes(10, 5, np.random.default_rng(3), dynamic=False) == 5)


def test_dynamic_windows_see_near_contexts_more_often():
    # In a long sentence, a centre pairs with distance d when its half-width is >= d:
    # probability (W - d + 1) / W.
    n, window = 100_000, 4
    rng = np.random.default_rng(5)
    ids = np.arange(n, dtype=np.int32)
    pairs = skipgram_pairs(ids, np.zeros(n, dtype=np.int32), window, rng)
    distance = np.abs(pairs.contexts - pairs.centres)
    per_centre = np.bincount(distance, minlength=window + 1)[1:] / (2 * n)
    np.testing.assert_allclose(per_centre, [(window - d + 1) / window for d in range(1, 5)],
                               atol=0.01)


def test_same_seed_same_pairs_other_seed_other_pairs(tmp_path):
    path = tmp_path / "c.txt"
    rng = np.random.default_rng(0)
    path.write_text("\n".join(" ".join(f"w{i}" for i in rng.zipf(1.5, 20) % 40)
                              for _ in range(200)) + "\n")
    vocab = build_vocabulary([path], min_count=1)

    def run(seed, model):
        batches = iter_windows([path], vocab, model, 5, np.random.default_rng(seed))
        return [np.concatenate(arrays) for arrays in zip(*batches, strict=True)]

    for model in ("skipgram", "cbow"):
        first, again, other = run(7, model), run(7, model), run(8, model)
        assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
        assert not all(len(a) == len(b) and np.array_equal(a, b)
                       for a, b in zip(first, other, strict=True))


def test_keep_probability_matches_hand_computed_values():
    # t T = 1e-3 * 1111 = 1.111; p = (sqrt(f / 1.111) + 1) * 1.111 / f, capped at 1.
    p = keep_probabilities(np.array([1000, 100, 10, 1]), 1e-3)
    np.testing.assert_allclose(p, [0.0344426666, 0.1165139847, 0.4444166662, 1.0], rtol=1e-8)
    assert np.all(keep_probabilities(np.array([1000, 1]), 0) == 1)
    with pytest.raises(EmbedkitError, match="subsample -1"):
        keep_probabilities(np.array([3]), -1)


def test_subsampling_keeps_each_word_at_its_rate_on_a_long_stream():
    counts = np.array([500_000, 200_000, 50_000, 5_000, 500, 50])
    keep = keep_probabilities(counts, 1e-4)
    ids = np.repeat(np.arange(6), counts)
    mask = subsample_mask(ids, keep, np.random.default_rng(11))
    rate = np.bincount(ids[mask], minlength=6) / counts
    standard_error = np.sqrt(keep * (1 - keep) / counts)
    assert np.all(np.abs(rate - keep) < 4 * standard_error + 1e-12)
    assert keep[0] < 0.1 and keep[-1] == 1.0 and rate[-1] == 1.0


def test_noise_distribution_frequencies_follow_count_to_the_three_quarters():
    counts = np.array([1000, 300, 100, 30, 10, 3, 1])
    noise = NoiseDistribution(counts)
    expected = counts ** 0.75 / np.sum(counts ** 0.75)
    np.testing.assert_allclose(noise.probabilities, expected, rtol=1e-12)
    draws = noise.sample(np.random.default_rng(2), 1_000_000)
    assert draws.dtype == np.int32 and draws.min() >= 0 and draws.max() < len(counts)
    frequencies = np.bincount(draws, minlength=len(counts)) / len(draws)
    np.testing.assert_allclose(frequencies, expected, atol=0.002)
    uniform = NoiseDistribution(counts, exponent=0.0).sample(np.random.default_rng(2), 70_000)
    np.testing.assert_allclose(np.bincount(uniform) / 70_000, 1 / 7, atol=0.006)


def test_noise_samples_are_reproducible_and_shaped():
    noise = NoiseDistribution(np.array([5, 1, 2]))
    a = noise.sample(np.random.default_rng(4), (100, 5))
    assert a.shape == (100, 5)
    assert np.array_equal(a, noise.sample(np.random.default_rng(4), (100, 5)))
    with pytest.raises(EmbedkitError, match="positive"):
        NoiseDistribution(np.array([3, 0]))


def test_invalid_window_and_model_are_errors(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text(FOX + "\n")
    vocab = build_vocabulary([path], min_count=1)
    with pytest.raises(EmbedkitError, match="window 0"):
        next(iter_windows([path], vocab, "skipgram", 0, np.random.default_rng(1)))
    with pytest.raises(EmbedkitError, match="model 'glove'"):
        next(iter_windows([path], vocab, "glove", 2, np.random.default_rng(1)))
