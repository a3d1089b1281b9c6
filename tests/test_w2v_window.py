"""The window kernel: negatives drawn once per window, windows batched by size."""

from __future__ import annotations

import numpy as np
import pytest

from embedkit.core.gradcheck import run_checks
from embedkit.core.tensor import Tensor
from embedkit.errors import EmbedkitError
from embedkit.text.synthetic import write_planted_corpus
from embedkit.w2v.sgns import window_loss
from embedkit.w2v.train import Word2VecConfig, train_word2vec


def _log_sigmoid(z: float) -> float:
    return -float(np.log1p(np.exp(-z)))


def test_window_loss_is_word2vecs_loss_over_every_pair_of_each_window():
    """A plain loop over windows and pairs: each context row against the window's centre
    (positive) and its negatives. Catches a run of windows scored against another run's
    rows, which the gradient check alone would not (gradients of a wrong loss still check)."""
    rng = np.random.default_rng(0)
    inputs, outputs = rng.normal(0, 0.5, (6, 3)), rng.normal(0, 0.5, (7, 3))
    indptr = np.array([0, 3, 4, 6, 6, 9])                 # sizes 3, 1, 2, 0, 3: unsorted
    members = np.array([0, 1, 0, 5, 2, 3, 4, 4, 1])        # word 0 twice in window 0
    targets = np.array([[2, 6, 2], [3, 1, 4], [5, 5, 0], [1, 2, 3], [6, 0, 6]])
    expected = 0.0
    for b in range(len(targets)):
        for i in members[indptr[b]:indptr[b + 1]]:
            x = inputs[i]
            expected -= _log_sigmoid(x @ outputs[targets[b, 0]])
            expected -= sum(_log_sigmoid(-(x @ outputs[n])) for n in targets[b, 1:])
    assert float(window_loss(inputs, outputs, indptr, members, targets).data) == \
        pytest.approx(expected, rel=1e-12)


def test_window_loss_gradients_are_sparse_on_the_windows_rows():
    rng = np.random.default_rng(1)
    x = Tensor(rng.normal(size=(50, 4)), requires_grad=True)
    y = Tensor(rng.normal(size=(60, 4)), requires_grad=True)
    indptr, members = np.array([0, 2, 4]), np.array([3, 7, 7, 9])
    window_loss(x, y, indptr, members, np.array([[1, 2], [5, 1]])).backward()
    assert sorted(set(x.grad.ids.ravel().tolist())) == [3, 7, 9]
    assert sorted(set(y.grad.ids.ravel().tolist())) == [1, 2, 5]


def test_window_loss_gradient_checks_pass():
    results = run_checks(np.random.default_rng(0), ["w2v.window_loss"])
    assert len(results) >= 4 and all(r.passed for r in results)
    assert any("uneven" in r.shapes for r in results)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("window") / "small.txt"
    with open(corpus, "w") as out:
        write_planted_corpus(out, 2_000, np.random.default_rng(5))
    return corpus


@pytest.mark.parametrize("batch_size", [1, 7, 1024, 10**6])
def test_windows_train_every_pair_once(small, batch_size):
    """Both kernels subsample and window with the same draws, so an epoch has the same pairs
    whichever trains it: minibatches of whole windows neither drop nor repeat any."""
    runs = [train_word2vec([small], Word2VecConfig(dim=8, epochs=1, threads=1, seed=4,
                                                   kernel=kernel, batch_size=batch_size))
            for kernel in ("window", "pair")]
    assert runs[0].history[0]["pairs"] == runs[1].history[0]["pairs"] > 0


@pytest.mark.parametrize("model", ["skipgram", "cbow"])
def test_kernels_differ_but_each_is_reproducible(small, model):
    def run(kernel):
        return train_word2vec([small], Word2VecConfig(model=model, dim=8, epochs=1, threads=1,
                                                      seed=2, kernel=kernel)).vectors
    window = run("window")
    assert np.array_equal(window, run("window"))
    assert not np.array_equal(window, run("pair"))


def test_each_model_has_its_measured_default_kernel_and_a_bad_kernel_is_named():
    assert Word2VecConfig(model="skipgram").resolved().kernel == "window"
    assert Word2VecConfig(model="cbow").resolved().kernel == "pair"
    assert Word2VecConfig(model="skipgram", kernel="pair").resolved().kernel == "pair"
    assert Word2VecConfig(model="cbow", kernel="window").resolved().kernel == "window"
    with pytest.raises(EmbedkitError, match="kernel 'triangle'"):
        Word2VecConfig(kernel="triangle").resolved()


@pytest.mark.parametrize("model", ["skipgram", "cbow"])
def test_the_first_minibatch_scores_the_centre_once_and_each_negative_once(small, model):
    # the output rows start at zero, so every term of the first minibatch is log 2: the
    # positive (the centre) once and its own `negative` noise words per pair (CBOW: per bag);
    # a task is one minibatch
    reports: list = []
    train_word2vec([small], Word2VecConfig(model=model, kernel="window", dim=8, epochs=1,
                                           threads=1, seed=3, negative=3, batch_size=10**6),
                   progress=reports.append)
    assert reports[0]["loss"] == pytest.approx(4 * np.log(2), rel=1e-6)
