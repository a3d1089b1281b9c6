"""word2vec behaviour checked directly, not through the planted-analogy floor: training pairs
per line, random streams per task and epoch, the noise exponent, the learning-rate schedule,
and exact SGD updates of skip-gram and CBOW (mean, sum, input gain) against a reference."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit.cli import main
from embedkit.errors import DivergenceError
from embedkit.text.noise import NoiseDistribution
from embedkit.text.tokenize import Tokenizer
from embedkit.w2v import train
from embedkit.w2v.train import (
    Word2VecConfig,
    fasttext_args,
    fasttext_init,
    initialize,
    train_word2vec,
)

# ---------------------------------------------------------------- pairs trained per line


def _epoch_records(corpus, tmp_path, *options):
    """train-w2v's --log-json records for CORPUS with the given extra options."""
    out, log = tmp_path / "v.vec", tmp_path / "log.jsonl"
    result = CliRunner().invoke(main, ["train-w2v", str(corpus), "--dim", "4", "--min-count",
                                       "1", "--subsample", "0", "-o", str(out), "--log-json",
                                       str(log), *options])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in log.read_text().splitlines()]


@pytest.mark.parametrize("model", ["skipgram", "cbow"])
@pytest.mark.parametrize("threads", ["1", "2"])
def test_windows_never_cross_lines(tmp_path, model, threads):
    """100 two-word lines: each word pairs with the other word of its line only, so every
    epoch trains exactly 200 pairs (skip-gram) or 200 bags (CBOW), whatever the window."""
    corpus = tmp_path / "pairs.txt"
    corpus.write_text("".join(f"w{i % 7} v{i % 11}\n" for i in range(100)))
    records = _epoch_records(corpus, tmp_path, "--model", model, "--window", "5", "--epochs",
                             "2", "--threads", threads)
    assert [r["pairs"] for r in records] == [200, 200]


@pytest.mark.parametrize("threads", ["1", "2"])
def test_pairs_per_line_over_many_tasks_and_text_blocks(tmp_path, threads):
    """A corpus of several text blocks and many tasks (~60k tokens, ~300 kB), lines of 1 to
    4 words, window 1: a line of L words gives 2 (L - 1) pairs, one-word lines none."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 5, 20_000)
    words = rng.integers(0, 50, lengths.sum())
    lines, start = [], 0
    for length in lengths:
        lines.append(" ".join(f"word{w}" for w in words[start:start + length]) + "\n")
        start += length
    corpus = tmp_path / "lines.txt"
    corpus.write_text("".join(lines))
    assert corpus.stat().st_size > 1 << 18  # more than one text block
    records = _epoch_records(corpus, tmp_path, "--window", "1", "--epochs", "1",
                             "--threads", threads)
    assert records[0]["pairs"] == int(np.sum(2 * (lengths - 1)))
    assert records[0]["words"] == lengths.sum()


# ---------------------------------------------------------------- random streams


@pytest.fixture()
def window_draws(monkeypatch):
    """Every dynamic-window draw of a training, in order; the string "epoch" marks the end
    of each epoch. With --subsample 0 the window sizes are a task's first draws from its
    generator, so two tasks (or epochs) on one stream draw the same leading sizes."""
    import embedkit.text.windows as windows

    draws: list = []
    original = windows.window_sizes

    def recording(n, window, rng, dynamic=True):
        sizes = original(n, window, rng, dynamic)
        draws.append(np.array(sizes))
        return sizes

    monkeypatch.setattr(windows, "window_sizes", recording)
    return draws


def _by_epoch(draws: list) -> list[list[np.ndarray]]:
    epochs, current = [], []
    for item in draws:
        if isinstance(item, str):
            epochs.append(current)
            current = []
        else:
            current.append(item)
    return epochs


def _same_start(a: np.ndarray, b: np.ndarray) -> bool:
    n = min(len(a), len(b))
    return bool(np.array_equal(a[:n], b[:n]))


@pytest.fixture(scope="module")
def many_tasks(tmp_path_factory):
    """~40k tokens of 8-word lines: several tasks per epoch."""
    corpus = tmp_path_factory.mktemp("tasks") / "tasks.txt"
    rng = np.random.default_rng(4)
    corpus.write_text("".join(" ".join(f"t{w}" for w in rng.integers(0, 40, 8)) + "\n"
                              for _ in range(5000)))
    return corpus


def test_every_task_and_epoch_draws_from_its_own_stream(many_tasks, window_draws):
    config = Word2VecConfig(dim=4, epochs=2, min_count=1, subsample=0, window=5, threads=1,
                            seed=3)
    train_word2vec([many_tasks], config, callback=lambda record: window_draws.append("epoch"))
    first, second = _by_epoch(window_draws)
    assert len(first) == len(second) >= 3
    for epoch in (first, second):  # tasks of one epoch: different streams
        assert not any(_same_start(a, b) for i, a in enumerate(epoch) for b in epoch[:i])
    # task i of epoch 2 is not task i of epoch 1 again (the epoch is in the seed)
    assert not any(_same_start(a, b) for a, b in zip(first, second, strict=True))
    # ...while the same seed gives the same draws: the streams come from the seed only
    window_draws.clear()
    train_word2vec([many_tasks], config, callback=lambda record: window_draws.append("epoch"))
    again = _by_epoch(window_draws)
    assert all(np.array_equal(a, b) for a, b in zip(first + second, again[0] + again[1],
                                                     strict=True))



@pytest.mark.parametrize("subsample, masks", [(0.0, False), (1e-3, True)])
def test_subsample_0_draws_no_mask(many_tasks, monkeypatch, subsample, masks):
    # 0 turns subsampling off: no uniform draw per token taken from a task's stream to keep
    # every word anyway (a wasted draw per token, and a seed's vectors would change)
    import embedkit.text.windows as windows

    drawn: list[int] = []
    original = windows.subsample_mask

    def recording(ids, keep, rng):
        drawn.append(len(ids))
        return original(ids, keep, rng)

    monkeypatch.setattr(windows, "subsample_mask", recording)
    config = Word2VecConfig(dim=4, epochs=1, min_count=1, subsample=subsample, threads=1)
    train_word2vec([many_tasks], config)
    assert bool(drawn) is masks


# ---------------------------------------------------------------- noise distribution


@pytest.mark.parametrize("exponent", [0.0, 0.5, 0.75, 1.0, -0.5])
def test_noise_probabilities_are_proportional_to_count_to_the_exponent(exponent):
    counts = np.array([1000, 300, 50, 7, 1, 1, 2])
    noise = NoiseDistribution(counts, exponent)
    expected = counts.astype(float) ** exponent
    np.testing.assert_allclose(noise.probabilities, expected / expected.sum(), rtol=1e-12)
    assert noise.exponent == exponent
    draws = noise.sample(np.random.default_rng(0), 400_000)
    assert draws.dtype == np.int32
    frequencies = np.bincount(draws, minlength=len(counts)) / len(draws)
    # five standard errors of a frequency p over 400k draws
    tolerance = 5 * np.sqrt(noise.probabilities * (1 - noise.probabilities) / len(draws))
    assert np.all(np.abs(frequencies - noise.probabilities) <= tolerance + 1e-9)


def test_noise_samples_have_the_asked_shape_and_follow_the_generator():
    noise = NoiseDistribution(np.array([5, 3, 2]), 0.75)
    a = noise.sample(np.random.default_rng(1), (4, 6))
    assert a.shape == (4, 6) and a.min() >= 0 and a.max() < 3
    assert np.array_equal(a, noise.sample(np.random.default_rng(1), (4, 6)))


@pytest.fixture(scope="module")
def skewed(tmp_path_factory):
    """A corpus with a few frequent and many rare words, where the exponent matters."""
    corpus = tmp_path_factory.mktemp("skewed") / "skewed.txt"
    rng = np.random.default_rng(2)
    words = rng.zipf(1.6, 6000) % 200
    corpus.write_text("".join(" ".join(f"z{w}" for w in words[i:i + 6]) + "\n"
                              for i in range(0, len(words), 6)))
    return corpus


def test_ns_exponent_changes_the_trained_vectors(skewed, tmp_path):
    def vectors(exponent: str) -> str:
        out = tmp_path / f"v{exponent}.vec"
        result = CliRunner().invoke(main, ["train-w2v", str(skewed), "--dim", "8", "--epochs",
                                           "1", "--min-count", "1", "--threads", "1",
                                           "--ns-exponent", exponent, "-o", str(out)])
        assert result.exit_code == 0, result.output
        return out.read_text()

    assert vectors("0.75") == vectors("0.75")  # same seed: same bits...
    assert vectors("0") != vectors("0.75")     # ...so the exponent made this difference
    assert vectors("1") != vectors("0.75")


# ---------------------------------------------------------------- learning rate


def test_learning_rate_decays_linearly_over_all_epochs(many_tasks):
    lr, min_lr, epochs = 0.04, 0.001, 3
    steps: list = []
    trained = train_word2vec(
        [many_tasks], Word2VecConfig(dim=4, epochs=epochs, min_count=1, lr=lr, min_lr=min_lr,
                                     threads=1),
        progress=lambda step: steps.append(step),
        callback=lambda record: steps.append("epoch"))
    # after epoch e of E the rate is lr - (lr - min_lr) e / E
    np.testing.assert_allclose([r["lr"] for r in trained.history],
                               [lr - (lr - min_lr) * e / epochs for e in (1, 2, 3)], rtol=1e-12)
    by_epoch, current = [], []
    for step in steps:
        if step == "epoch":
            by_epoch.append(current)
            current = []
        else:
            current.append(step["lr"])
    assert len(by_epoch) == epochs and all(len(rates) >= 3 for rates in by_epoch)
    everything = [rate for rates in by_epoch for rate in rates]
    assert all(later < earlier for earlier, later in zip(everything, everything[1:],
                                                                  strict=False))
    bounds = [lr] + [r["lr"] for r in trained.history]
    for e, rates in enumerate(by_epoch):  # each epoch spends its third of the decay
        assert all(bounds[e + 1] < rate < bounds[e] for rate in rates)
        assert rates[0] > bounds[e] - (bounds[e] - bounds[e + 1]) / 2
        assert rates[-1] < bounds[e + 1] + (bounds[e] - bounds[e + 1]) / 4


# ---------------------------------------------------------------- exact updates


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + np.exp(-z))


def _reference(lines, index, vectors, model, epochs, rate, cbow_mean=True):
    """Plain word2vec SGD, one pair (bag) at a time, no negatives, window 1, float64.

    Skip-gram: the context word's input row predicts the centre's output row, pairs by
    centre then context, left to right. CBOW: the mean (or sum) of the context rows predicts
    the centre; every context row moves by the hidden gradient times the bag size with a
    mean, by the hidden gradient over the bag size with a sum (gensim's rule); a task's bags
    are taken by size, stably. ``rate(i)``: learning rate of sample ``i`` of an epoch.
    """
    v = vectors.astype(np.float64)
    o = np.zeros_like(v)
    samples = []
    for line in lines:
        ids = [index[w] for w in line.split()]
        for i, centre in enumerate(ids):
            context = [ids[j] for j in (i - 1, i + 1) if 0 <= j < len(ids)]
            if model == "skipgram":
                samples += [([c], centre) for c in context]
            elif context:
                samples.append((context, centre))
    if model == "cbow":
        samples.sort(key=lambda sample: len(sample[0]))
    for epoch in range(epochs):
        for i, (context, centre) in enumerate(samples):
            lr = rate(epoch, i, len(samples))
            size = len(context)
            h = v[context].sum(axis=0) / (size if cbow_mean or model == "skipgram" else 1)
            g = _sigmoid(h @ o[centre]) - 1.0          # d loss / d score
            d_h = g * o[centre]
            o[centre] -= lr * g * h
            gain = 1.0 if model == "skipgram" else (1.0 if cbow_mean else 1.0 / size)
            for c in context:
                v[c] -= lr * gain * d_h
    return v


LINES = ["a b c", "b c d e", "c a", "e d c b a", "d e"]


def _initial_vectors(corpus, model):
    """The initial input matrix of seed 1: with a zero output matrix, one minibatch of the
    whole corpus leaves the input rows where they started."""
    return train_word2vec([corpus], Word2VecConfig(model=model, dim=4, epochs=1, min_count=1,
                                                   subsample=0, window=1, negative=0,
                                                   batch_size=10**6, threads=1)).vectors


@pytest.mark.parametrize("model, cbow_mean", [("skipgram", True), ("cbow", True),
                                              ("cbow", False)])
@pytest.mark.parametrize("decay", [False, True])
def test_updates_are_word2vec_sgd(tmp_path, model, cbow_mean, decay):
    """One sample per minibatch (the pair kernel: a window's pairs are one minibatch in the
    window kernel), no negatives, window 1: embedkit's vectors are plain sequential SGD from
    the same start, with the rate decaying linearly over all epochs by corpus words (or
    constant)."""
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("".join(line + "\n" for line in LINES))
    lr, epochs = 0.5, 12
    min_lr = 0.001 if decay else lr
    trained = train_word2vec([corpus], Word2VecConfig(
        model=model, dim=4, epochs=epochs, min_count=1, subsample=0, window=1, negative=0,
        lr=lr, min_lr=min_lr, batch_size=1, cbow_mean=cbow_mean, threads=1, kernel="pair"))
    start = _initial_vectors(corpus, model)
    words = sum(len(line.split()) for line in LINES)

    def rate(epoch, i, n):
        done = epoch * words + i * words / n
        return min_lr + (lr - min_lr) * max(1 - done / (words * epochs), 0.0)

    expected = _reference(LINES, trained.vocab.index, start, model, epochs, rate, cbow_mean)
    moved = np.abs(expected - start).max()
    assert moved > 0.05  # the rows did move: the comparison below is not trivially true
    np.testing.assert_allclose(trained.vectors, expected, atol=1e-4)


def test_progress_reports_the_running_mean_loss_of_the_epoch(many_tasks):
    steps: list = []
    trained = train_word2vec(
        [many_tasks], Word2VecConfig(dim=4, epochs=2, min_count=1, threads=1),
        progress=lambda step: steps.append(step), callback=lambda record: steps.append(record))
    last_of_epoch = [steps[i - 1]["loss"] for i, step in enumerate(steps) if "epoch" in step]
    # one worker: after an epoch's last task its running mean is the epoch's mean loss
    assert last_of_epoch == [record["loss"] for record in trained.history]
    assert all(0 < step["loss"] < 10 for step in steps if "epoch" not in step)



def test_divergence_names_the_settings_to_lower(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c d\nb c d a\n" * 50)
    out = tmp_path / "v.vec"
    result = CliRunner().invoke(main, ["train-w2v", str(corpus), "--lr", "1e30", "--threads", "1",
                                       "--epochs", "1", "--min-count", "1", "--subsample", "0",
                                       "--batch-size", "2", "-o", str(out)])
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("embedkit: error: training diverged (loss ")
    assert line.endswith(": lower --lr or --batch-size")


def test_a_first_task_without_pairs_reports_the_starting_rate(tmp_path):
    """The first task holds only one-word lines (no pairs): its progress step still reports
    the rate at the start of training."""
    corpus = tmp_path / "c.txt"
    corpus.write_text("a\n" * 9000 + "a b\n" * 500)
    steps: list = []
    train_word2vec([corpus], Word2VecConfig(dim=4, epochs=1, min_count=1, subsample=0, lr=0.02,
                                            threads=1), progress=steps.append)
    assert len(steps) >= 2 and steps[0]["lr"] == 0.02


# ---------------------------------------------------------------- where training starts


def test_input_rows_start_uniform_within_half_over_dim_drawn_from_the_seed(tmp_path):
    vectors = np.zeros((3000, 10), np.float32)
    initialize(vectors, 7)
    assert -0.05 <= vectors.min() < -0.0499 and 0.0499 < vectors.max() < 0.05  # word2vec's
    assert abs(vectors.mean()) < 1e-3
    again, other = np.zeros_like(vectors), np.zeros_like(vectors)
    initialize(again, 7)
    initialize(other, 8)
    np.testing.assert_array_equal(again, vectors)
    assert not np.any(other == vectors)
    # drawn in float32, as the matrix is (no float64 temporary of the matrix's size)
    draws = np.random.default_rng(7).random(vectors.shape, dtype=np.float32)
    np.testing.assert_array_equal(vectors, (draws - np.float32(0.5)) / np.float32(10))
    # training starts there, from the configured seed: with a zero output matrix, one
    # minibatch of the whole corpus leaves the input rows as they were drawn
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("".join(line + "\n" for line in LINES))
    start = _initial_vectors(corpus, "skipgram")
    expected = np.zeros_like(start)
    initialize(expected, Word2VecConfig().seed)
    np.testing.assert_array_equal(start, expected)


def test_subword_rows_start_uniform_within_one_over_dim_block_by_block(monkeypatch):
    # fastText's initialisation, block k drawn from the seed's k-th child stream: every
    # block is drawn, each from its own state, the same whatever the number of threads
    monkeypatch.setattr(train, "INIT_BLOCK", 64)
    vectors = np.zeros((1000, 8), np.float32)
    fasttext_init(vectors, 5)
    assert -0.125 <= vectors.min() < -0.1249 and 0.1249 < vectors.max() < 0.125
    assert abs(vectors.mean()) < 2e-3
    for block in (vectors[:64], vectors[64:128], vectors[960:]):
        assert -0.125 <= block.min() < -0.1 and 0.1 < block.max() < 0.125
    assert len(np.unique(vectors)) > 7900  # no block drawn twice from one state
    assert np.all(vectors.any(axis=1))  # every row drawn, the first one too
    streams = np.random.SeedSequence(5).spawn(16)  # 1000 rows: 15 blocks of 64, then 40
    for k in (0, 1, 15):  # in float32, from the block's own stream
        draws = np.random.default_rng(streams[k]).random((64 if k < 15 else 40, 8),
                                                         dtype=np.float32)
        np.testing.assert_array_equal(vectors[64 * k:64 * (k + 1)],
                                      draws * np.float32(0.25) - np.float32(0.125))
    for threads in (2, 3):
        threaded = np.zeros_like(vectors)
        fasttext_init(threaded, 5, threads)
        np.testing.assert_array_equal(threaded, vectors)
    other = np.zeros_like(vectors)
    fasttext_init(other, 6)
    assert not np.any(other == vectors)  # the seed chooses the streams


def test_the_vocabulary_follows_max_vocab_and_the_tokenizer(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("A, b c d\nA, b c\nA, b\n" * 20)
    model = train_word2vec([corpus], Word2VecConfig(dim=4, epochs=1, min_count=1, max_vocab=2,
                                                    subsample=0, threads=1),
                           tokenizer=Tokenizer("whitespace", lowercase=False))
    assert model.vocab.words == ["A,", "b"] and model.vectors.shape == (2, 4)


@pytest.mark.parametrize("model, code", [("cbow", 1), ("skipgram", 2)])
def test_a_fasttext_model_records_the_training_settings(model, code):
    # fastText's model_name enum: cbow = 1, sg = 2 (3 is its supervised classifier)
    config = Word2VecConfig(model=model, window=3, epochs=7, min_count=4, negative=6,
                            subsample=1e-3, maxn=5)
    assert fasttext_args(config) == {"ws": 3, "epoch": 7, "minCount": 4, "neg": 6,
                                     "model": code, "t": 1e-3}


# ---------------------------------------------------------------- noise words and divergence


@pytest.mark.parametrize("model", ["skipgram", "cbow"])
@pytest.mark.parametrize("kernel", ["pair", "window"])
@pytest.mark.parametrize("negative", [1, 3])
def test_noise_words_are_drawn_negative_at_a_time(tmp_path, monkeypatch, model, kernel,
                                                  negative):
    # the pair kernel: one row of `negative` words shared by each group of pairs (bags), each
    # weighted 1; the window kernel: `negative` words of its own per window
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("".join(line + "\n" for line in LINES) * 20)
    shapes = []
    sample = NoiseDistribution.sample

    def spy(self, rng, size):
        shapes.append(size)
        return sample(self, rng, size)

    monkeypatch.setattr(NoiseDistribution, "sample", spy)
    train_word2vec([corpus], Word2VecConfig(model=model, kernel=kernel, negative=negative,
                                            dim=4, epochs=1, min_count=1, subsample=0,
                                            threads=1, batch_size=16))
    assert shapes and all(len(size) == 2 and size[1] == negative for size in shapes)


@pytest.mark.parametrize("kernel, negative", [("pair", 0), ("window", 5)])
def test_a_diverging_run_stops_with_its_error_and_no_numpy_warning(tmp_path, kernel, negative):
    # subword rows at a rate of 1e30: products overflow and inf / inf is taken on the way to
    # the absurd loss; the DivergenceError says it all, NumPy prints no RuntimeWarning
    rng = np.random.default_rng(0)
    words = np.array([f"w{i}" for i in range(200)])
    zipf = 1 / np.arange(1, 201)
    corpus = tmp_path / "zipf.txt"
    corpus.write_text("".join(" ".join(rng.choice(words, 12, p=zipf / zipf.sum())) + "\n"
                              for _ in range(500)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DivergenceError, match=r"^training diverged \(loss "):
            train_word2vec([corpus], Word2VecConfig(
                lr=1e30, threads=1, epochs=1, min_count=1, subsample=0, batch_size=2, dim=8,
                minn=3, maxn=4, kernel=kernel, negative=negative))
