"""The training loop's numbers checked directly: the validation error it records and the
reconstruction error it is computed with."""

from __future__ import annotations

import numpy as np
import pytest

from embedkit.ae import training
from embedkit.ae.models import Architecture
from embedkit.core import Tensor


@pytest.fixture(scope="module")
def data():
    """Rows near a 2-dimensional subspace of 6 features, far from the origin."""
    rng = np.random.default_rng(11)
    X = rng.normal(size=(200, 2)) @ rng.normal(size=(2, 6))
    return X + 0.1 * rng.normal(size=X.shape) + np.linspace(3, 8, 6)


def tied_error(X, rows, mean, W):
    """The mean squared error of the tied linear model ``x̂ = WᵀW x`` on ``X[rows] − mean``,
    computed in ``W``'s dtype as training does."""
    batch = (X[rows] - mean).astype(W.dtype)
    rebuilt = (batch @ W.T) @ W
    return np.sum(np.square(rebuilt - batch), dtype=np.float64) / batch.size


def test_the_validation_error_is_that_of_the_held_out_centred_rows(data):
    arch = Architecture()
    params = arch.init_params(6, 2, np.random.default_rng(1), np.float32)
    mean = data.mean(axis=0)
    settings = training.TrainingSettings(lr=1e-2, epochs=1, val_split=0.25)
    history = training.train(arch, params, data, settings, np.random.default_rng(0),
                             mean=mean)
    # the split is the first draw of the generator train is given
    train_rows, val_rows = training.split_validation(len(data), 0.25,
                                                     np.random.default_rng(0))
    assert len(val_rows) == 50
    expected = tied_error(data, val_rows, mean, params["W"])
    assert history[0]["val_mse"] == pytest.approx(expected, rel=1e-12)
    assert expected != pytest.approx(tied_error(data, train_rows, mean, params["W"]), rel=1e-3)


def test_reconstruction_error_takes_arrays_or_tensors(data):
    arch = Architecture()
    W = Architecture().init_params(6, 2, np.random.default_rng(1), np.float64)["W"]
    mean = data.mean(axis=0)
    rows = np.arange(10, 60)
    expected = tied_error(data, rows, mean, W)
    for params in ({"W": W}, {"W": Tensor(W)}):
        assert training.reconstruction_error(arch, params, data, rows=rows, mean=mean
                                             ) == pytest.approx(expected, rel=1e-12)


def test_without_a_mean_the_rows_are_taken_as_they_are(data):
    arch = Architecture()
    settings = training.TrainingSettings(lr=1e-2, epochs=2, val_split=0.25)
    results = []
    for mean in (None, np.zeros(6)):
        params = arch.init_params(6, 2, np.random.default_rng(1), np.float64)
        history = training.train(arch, params, data, settings, np.random.default_rng(0),
                                 mean=mean)
        results.append((params["W"], [r["val_mse"] for r in history]))
        rows = np.arange(len(data))
        assert training.reconstruction_error(arch, params, data, mean=mean
                                             ) == pytest.approx(
            tied_error(data, rows, np.zeros(6), params["W"]), rel=1e-12)
    np.testing.assert_array_equal(results[0][0], results[1][0])
    assert results[0][1] == results[1][1]


def test_the_error_sums_every_block(monkeypatch, data):
    from embedkit import streaming

    arch = Architecture()
    W = arch.init_params(6, 2, np.random.default_rng(1), np.float64)["W"]
    whole = training.reconstruction_error(arch, {"W": W}, data, mean=data.mean(axis=0))
    monkeypatch.setattr(streaming, "BLOCK_BYTES", 30 * 6 * 8)  # seven blocks
    assert training.reconstruction_error(arch, {"W": W}, data, mean=data.mean(axis=0)
                                         ) == pytest.approx(whole, rel=1e-12)


def test_an_unchanged_validation_error_counts_against_patience(data):
    from embedkit.ae import Autoencoder

    # a step far below the weights' precision: every epoch's validation error is the same
    model = Autoencoder(2, lr=1e-30, epochs=10, val_split=0.25, patience=2, polish=False,
                        random_state=0).fit(data)
    assert len({r["val_mse"] for r in model.history_}) == 1
    assert model.n_iter_ == 3


def test_a_mapped_matrix_is_released_after_each_block_of_rows_read(tmp_path, monkeypatch):
    from embedkit import streaming

    np.save(tmp_path / "x.npy", np.random.default_rng(2).normal(size=(600, 6)))
    X = np.load(tmp_path / "x.npy", mmap_mode="r")
    monkeypatch.setattr(streaming, "BLOCK_BYTES", 100 * 6 * 8)  # runs of 100 rows
    released = []
    monkeypatch.setattr(streaming, "release", released.append)
    arch = Architecture("nonlinear")
    params = arch.init_params(6, 2, np.random.default_rng(1), np.float64)
    # batches of 33 rows: 132 rows read by the 4th, 8th, 12th and 16th, 72 after the last;
    # of 25 rows: exactly 100 by every 4th
    for batch_size, releases in ((33, 4), (25, 6)):
        released.clear()
        settings = training.TrainingSettings(epochs=1, batch_size=batch_size)
        training.train(arch, params, X, settings, np.random.default_rng(0))
        assert len(released) == releases, batch_size
        assert all(x is X for x in released)
    # the error is summed over the mapped rows one block at a time, each released after use
    released.clear()
    training.reconstruction_error(arch, params, X)
    assert len(released) == 6
    assert all(x is X for x in released)


def test_rows_in_memory_are_shuffled_whole_whatever_the_block_size(monkeypatch, data):
    from embedkit import streaming

    def trained():
        arch = Architecture("nonlinear")
        params = arch.init_params(6, 2, np.random.default_rng(1), np.float64)
        training.train(arch, params, data, training.TrainingSettings(epochs=2, batch_size=16),
                       np.random.default_rng(0))
        return params["W"]

    whole = trained()
    monkeypatch.setattr(streaming, "BLOCK_BYTES", 20 * 6 * 8)  # would be runs of 20 rows
    np.testing.assert_array_equal(trained(), whole)
