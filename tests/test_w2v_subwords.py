"""train-w2v --subwords: fastText's model trained on the core, its files and its unseen words."""

from __future__ import annotations

import numpy as np
import pytest

from embedkit.core import scatter
from embedkit.core.gradcheck import run_checks
from embedkit.core.tensor import SparseRows, Tensor
from embedkit.errors import DivergenceError, EmbedkitError
from embedkit.formats import read_table
from embedkit.text.subwords import Subwords, subword_rows
from embedkit.vectors import load_vectors
from embedkit.w2v import worker as worker_module
from embedkit.w2v.subwords import ROW_PAIRS, fasttext_rows, row_touches, subword_mean
from embedkit.w2v.train import Word2VecConfig, train_word2vec
from embedkit.w2v.worker import Worker

#: Stems of made-up words; each is used in the sentences of one topic, inflected.
STEMS = ["belokar", "sumitra", "ganovel", "pirusta", "keladom", "toravin", "mesurak", "dufanel",
         "runamek", "halipos", "zorenta", "vikudan"]
ENDINGS = ["", "s", "ed", "ing", "er"]
#: Forms held out of the corpus, queried afterwards: their stems' other forms are seen.
HELD_OUT = "ers"


def _corpus(path, rng: np.random.Generator) -> None:
    """Sentences of a topic's filler words around one inflected form of one of its stems; each
    topic (three stems) has its own filler words, so only a stem's own forms share n-grams and
    context."""
    topics = [[f"{chr(97 + t)}{chr(97 + w)}x" for w in range(6)] for t in range(4)]
    lines = []
    for _ in range(6000):
        stem = int(rng.integers(len(STEMS)))
        form = STEMS[stem] + ENDINGS[int(rng.integers(len(ENDINGS)))]
        words = list(rng.choice(topics[stem % 4], 5))
        words.insert(int(rng.integers(6)), form)
        lines.append(" ".join(words))
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def inflected(tmp_path_factory):
    path = tmp_path_factory.mktemp("subwords") / "inflected.txt"
    _corpus(path, np.random.default_rng(3))
    return path


def _trained(corpus, **settings):
    config = Word2VecConfig(**{"dim": 24, "epochs": 4, "threads": 1, "min_count": 1,
                               "minn": 3, "maxn": 5, "buckets": 20_000, "subsample": 0,
                               **settings})
    return train_word2vec([corpus], config)


@pytest.mark.parametrize("kernels", ["private", "public"])
def test_the_subword_loss_passes_its_gradient_checks(kernels, monkeypatch):
    if kernels == "public":  # SciPy's public product, used where its private one is missing
        monkeypatch.setattr(scatter, "_kernels", None)
    results = run_checks(np.random.default_rng(0), ["w2v.subword_loss"])
    assert results and all(r.passed for r in results)


def test_subword_mean_is_the_mean_of_each_words_rows():
    rows = np.arange(18, dtype=np.float64).reshape(6, 3)
    indptr, members = np.array([0, 2, 3, 6]), np.array([0, 4, 1, 2, 5, 5])
    out = subword_mean(Tensor(rows), np.array([2, 0, 2]), indptr, members).data
    np.testing.assert_allclose(out, [(rows[2] + 2 * rows[5]) / 3, (rows[0] + rows[4]) / 2,
                                     (rows[2] + 2 * rows[5]) / 3])


@pytest.mark.parametrize("kernel", ["pair", "window"])
@pytest.mark.parametrize("model", ["skipgram", "cbow"])
def test_unseen_inflected_forms_land_near_their_base_forms(inflected, model, kernel):
    trained = _trained(inflected, model=model, kernel=kernel)
    assert trained.subwords is not None
    assert trained.history[-1]["loss"] < trained.history[0]["loss"]
    kv = load_vectors_from(trained)
    unseen = [stem + HELD_OUT for stem in STEMS]
    assert not set(unseen) & set(kv.words)
    vectors, counts = kv.subwords.unseen_vectors(unseen)
    assert (counts > 0).all()
    unit = kv.vectors / np.linalg.norm(kv.vectors, axis=1, keepdims=True)
    best = np.argmax(vectors @ unit.T, axis=1)
    hits = sum(kv.words[row].startswith(stem) for row, stem in zip(best, STEMS, strict=True))
    assert hits >= len(STEMS) - 2, [kv.words[row] for row in best]


def load_vectors_from(trained):
    from embedkit.vectors import KeyedVectors
    return KeyedVectors(trained.vocab.words, trained.vectors, trained.vocab.counts,
                        trained.output, trained.subwords)


def test_word_vectors_are_the_means_of_their_trained_rows(inflected):
    trained = _trained(inflected, epochs=1)
    model = trained.subwords
    indptr, members = subword_rows(trained.vocab.words, model.subwords, len(trained.vocab))
    matrix = np.concatenate([model.word_rows, model.ngrams])
    word = 5
    np.testing.assert_allclose(trained.vectors[word],
                               matrix[members[indptr[word]:indptr[word + 1]]].mean(axis=0),
                               rtol=1e-5, atol=1e-7)


def test_without_subwords_the_input_matrix_is_the_vocabulary(inflected):
    trained = _trained(inflected, epochs=1, maxn=0)
    assert trained.subwords is None and trained.vectors.shape == (len(trained.vocab), 24)


@pytest.mark.parametrize("model", ["skipgram", "cbow"])
def test_two_threads_share_the_subword_rows_at_the_default_batch(inflected, model):
    # this 84-word vocabulary puts its n-gram rows in hundreds of pairs of a minibatch: summed
    # whole, their steps overshot and every model diverged at 2 workers (a loss of 1e5 after
    # a few hundred minibatches); capped at ROW_PAIRS pairs' worth, CBOW still diverged in
    # some runs (the two workers' steps add up); capped at half that each, they train
    trained = _trained(inflected, model=model, epochs=3, threads=2)
    assert trained.history[-1]["loss"] < trained.history[0]["loss"]
    assert trained.history[-1]["loss"] < 2.0  # measured 1.6-1.7; diverged runs stop at 1e5
    assert np.isfinite(trained.vectors).all()


def test_a_row_moves_by_at_most_its_share_of_row_pairs_pairs_worth_of_its_summed_gradient():
    # word 0 (rows 0 and 5) in 40 pairs, word 1 (rows 1 and 5, row 5 twice) in 2
    # (as subword_mean's gradient: a group of entries per distinct word)
    values = np.ones((2, 3), dtype=np.float32)
    grad = SparseRows(np.array([0, 5, 1, 5, 5]), values, (6, 3), np.array([0, 2, 5]))
    touches = row_touches(grad, np.array([40, 2]))
    np.testing.assert_array_equal(touches, [40, 44, 2, 44, 44])
    moved = fasttext_rows(grad, touches, 16).to_dense()
    np.testing.assert_allclose(moved[[0, 1, 5]], [[16 / 40] * 3, [1] * 3, [3 * 16 / 44] * 3],
                               rtol=1e-6)
    # CBOW's bags: an entry per row of each member word, each one pair
    bags = SparseRows(np.array([3, 4, 3, 3]), values, (6, 3), np.array([0, 2, 4]))
    np.testing.assert_array_equal(row_touches(bags), [3, 1, 3, 3])


def test_by_norm_a_row_shared_by_words_that_disagree_moves_further_than_by_count():
    # two words of 4 pairs each, summed per word: row 0 is word 0's, row 2 word 1's, row 1
    # both words'; a word's pairs count as pointing its way (norm 1 each)
    def moved(values):
        grad = SparseRows(np.array([0, 1, 2, 1]), np.array(values), (3, 2), np.array([0, 2, 4]))
        touches = row_touches(grad, np.array([4, 4]))
        return (fasttext_rows(grad, touches, 2, by_norm=True).to_dense(),
                fasttext_rows(grad, touches, 2).to_dense())
    by_norm, by_count = moved([[4.0, 0.0], [0.0, 4.0]])
    # a word's own row, and a shared row whose words agree: the count's cap, 2 pairs' worth
    np.testing.assert_allclose(by_norm[[0, 2]], by_count[[0, 2]])
    np.testing.assert_allclose(by_norm[0], [2, 0])
    aligned, _ = moved([[4.0, 0.0], [4.0, 0.0]])
    np.testing.assert_allclose(aligned[1], [2, 0])
    # at right angles: 8 pairs of norm 1 sum to norm 4 sqrt 2, moved to norm 2 (by count, to
    # norm sqrt 2: 2 of 8 pairs' worth)
    np.testing.assert_allclose(by_norm[1], [np.sqrt(2), np.sqrt(2)])
    np.testing.assert_allclose(by_count[1], [1, 1])


@pytest.mark.parametrize(("model", "by_norm"), [("skipgram", True), ("cbow", False)])
def test_skipgram_workers_cap_rows_by_norm_and_cbow_workers_by_count(inflected, model,
                                                                       by_norm, monkeypatch):
    # by count alone, skip-gram lost 0.14 of analogy accuracy on the glosses (README)
    seen = []

    def spy(grad, touches, pairs, rows=None, by_norm=False):
        seen.append(by_norm)
        return fasttext_rows(grad, touches, pairs, rows, by_norm)
    monkeypatch.setattr(worker_module, "fasttext_rows", spy)
    _trained(inflected, model=model, epochs=1)
    assert seen and set(seen) == {by_norm}


@pytest.mark.parametrize("model", ["skipgram", "cbow"])
def test_each_hogwild_worker_moves_a_row_by_its_share_of_the_models_row_pairs(model):
    # workers step at the same time: with two, each moves a row by half as much at most
    def worker(threads):
        config = Word2VecConfig(model=model, threads=threads, minn=3, maxn=5)
        return Worker(config, None, np.zeros((3, 2)), np.zeros((1, 2)), None, None,
                      lambda words: 0.05, (np.array([0, 2]), np.array([0, 2])))
    assert worker(1).row_pairs == ROW_PAIRS[model]
    assert worker(2).row_pairs == ROW_PAIRS[model] / 2


def test_resumed_subword_run_is_bit_identical(inflected, tmp_path):
    full = _trained(inflected, epochs=2, seed=5)
    checkpoint = tmp_path / "ck.npz"
    with pytest.raises(KeyboardInterrupt):
        _trained_with(inflected, tmp_path, checkpoint)
    resumed = train_word2vec([inflected], _config(epochs=2, seed=5), resume=checkpoint)
    np.testing.assert_array_equal(resumed.vectors, full.vectors)
    np.testing.assert_array_equal(resumed.subwords.ngrams, full.subwords.ngrams)


def _config(**settings):
    return Word2VecConfig(**{"dim": 24, "epochs": 4, "threads": 1, "min_count": 1, "minn": 3,
                             "maxn": 5, "buckets": 20_000, "subsample": 0, **settings})


def _trained_with(corpus, tmp_path, checkpoint):
    def stop(record):
        raise KeyboardInterrupt
    train_word2vec([corpus], _config(epochs=2, seed=5), callback=stop, checkpoint=checkpoint)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("minn", 4, "subwords 4-3"), ("minn", 0, "subwords 0-3"), ("buckets", 0, "buckets 0")])
def test_invalid_subword_settings_are_refused(field, value, message):
    config = Word2VecConfig(**{"minn": 1, "maxn": 3, field: value})
    with pytest.raises(EmbedkitError, match=message):
        config.resolved()


def test_cli_trains_subwords_and_writes_a_fasttext_model(inflected, tmp_path, cli):
    out = tmp_path / "model.bin"
    result = cli("train-w2v", inflected, "--subwords", "3-5", "--buckets", "5000", "--dim", "8",
                 "--epochs", "1", "--threads", "1", "--min-count", "1", "-o", out,
                 "--format", "fasttext")
    assert result.exit_code == 0, result.output
    table = read_table(out)
    assert table.format == "fasttext" and table.subwords is not None
    assert table.subwords.subwords == Subwords(3, 5, 5000) and table.subwords.ngrams.shape == (
        5000, 8)
    npz = tmp_path / "model.npz"
    assert cli("convert", out, npz).exit_code == 0
    assert load_vectors(npz).subwords.subwords == Subwords(3, 5, 5000)


@pytest.mark.parametrize("value", ["6-3", "x", "0-2"])
def test_cli_refuses_bad_subword_ranges(inflected, cli, value):
    result = cli("train-w2v", inflected, "--subwords", value)
    assert result.exit_code != 0 and "--subwords" in result.stderr


def test_a_run_whose_loss_explodes_stops_before_writing(inflected):
    # CBOW with subwords once ended at a finite 1e35 here (at the default batch, before each
    # row's step was capped); a learning rate 100 times the default still gets there
    with pytest.raises(DivergenceError, match="training diverged"):
        _trained(inflected, model="cbow", epochs=2, lr=5.0)


def test_a_subword_run_returns_its_settings_and_output_matrix_and_records_them(inflected,
                                                                               tmp_path):
    # what fastText's model file records comes from this run's settings, not fastText's
    # defaults (ws 5, epoch 5, minCount 5, neg 5, sg, t 1e-4)
    config = _config(model="cbow", window=3, epochs=2, negative=4, subsample=1e-3, seed=2)
    trained = train_word2vec([inflected], config)
    assert trained.config == config.resolved()
    assert trained.output.shape == (len(trained.vocab), 24)
    assert trained.output.any()  # trained: the output rows start at zero
    out = tmp_path / "model.bin"
    trained.save(out, fmt="fasttext")
    table = read_table(out)
    assert {k: table.subwords.args[k] for k in ("ws", "epoch", "minCount", "neg", "model")} == {
        "ws": 3, "epoch": 2, "minCount": 1, "neg": 4, "model": 1}
    assert table.subwords.args["t"] == pytest.approx(1e-3)
    npz = tmp_path / "model.npz"
    trained.save(npz)
    np.testing.assert_array_equal(load_vectors(npz).output, trained.output)


@pytest.mark.parametrize("kernel", ["pair", "window"])
def test_a_cbow_bag_with_subwords_is_the_mean_of_every_row_of_its_words(inflected, monkeypatch,
                                                                       kernel):
    # fastText's CBOW: the hidden layer of a bag is the mean of the own and n-gram rows of all
    # its context words, as they are in the matrix when its minibatch starts
    layouts, checked = [], []
    bag_rows, finish = worker_module.bag_rows, Worker._finish_cbow

    def layout(*args):
        layouts.append(bag_rows(*args))
        return layouts[-1]

    def hidden_layer(self, hidden, *args, **kwargs):
        if len(checked) < 3:
            indptr, members = layouts[-1]
            expected = [self.vectors.data[members[a:b]].mean(axis=0)
                        for a, b in zip(indptr[:-1], indptr[1:], strict=True)]
            np.testing.assert_allclose(hidden.data, expected, rtol=1e-5, atol=1e-7)
            checked.append(len(expected))
        return finish(self, hidden, *args, **kwargs)

    monkeypatch.setattr(worker_module, "bag_rows", layout)
    monkeypatch.setattr(Worker, "_finish_cbow", hidden_layer)
    _trained(inflected, model="cbow", epochs=1, kernel=kernel)
    assert len(checked) == 3 and min(checked) > 1


def test_cbow_with_subwords_steps_the_input_rows_at_the_output_rows_rate(inflected, monkeypatch):
    # fastText moves every row of a bag by the bag's whole gradient at the current rate: no
    # bag-size gain (word2vec's CBOW without subwords has one), input and output alike
    from embedkit.core.optim import SGD

    rates: list = []
    step = SGD.step

    def recorded(self, lr=None):
        rates.append(lr)
        return step(self, lr=lr)

    monkeypatch.setattr(SGD, "step", recorded)
    _trained(inflected, model="cbow", epochs=1, kernel="pair", window=3)
    assert len(rates) > 20 and len(rates) % 2 == 0
    assert rates[0::2] == rates[1::2]  # each minibatch: the input step, then the output's
