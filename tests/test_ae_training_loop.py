"""The training loop on tiny matrices: its settings, split, schedule, epoch records, callback
events, divergence and interruption messages, checkpoints and early stopping, each checked
against numbers computed by hand (a learning rate of 1e-30 leaves float64 weights unchanged,
so every error of a run is the error of the initial weights)."""

from __future__ import annotations

import numpy as np
import pytest

from embedkit.ae import training
from embedkit.ae.checkpoint import load_checkpoint
from embedkit.ae.models import Architecture
from embedkit.ae.noise import Noise
from embedkit.ae.regularizers import Penalties
from embedkit.errors import DivergenceError, EmbedkitError, Interrupted, ParameterError
from embedkit.training import Checkpoints

FROZEN = 1e-30  # Adam's steps are about lr: far below the precision of weights near 0.5


@pytest.fixture
def X():
    """10 rows of 4 features, off-centre."""
    return np.random.default_rng(5).normal(size=(10, 4)) + [1.0, -2.0, 3.0, 0.5]


def weights(seed=1, dtype=np.float64):
    return Architecture().init_params(4, 2, np.random.default_rng(seed), dtype)


def tied_sse(X, mean, W):
    """Σ‖WᵀW(x − m) − (x − m)‖² over the rows of X, in float64."""
    centred = X - mean
    return float(np.sum(np.square(centred @ W.T @ W - centred)))


@pytest.mark.parametrize("kwargs, message, param", [
    ({"optimizer": "lbfgs"}, "optimizer 'lbfgs' is not one of adam, sgd, rmsprop, adagrad",
     "optimizer"),
    ({"lr": 0}, "lr must be a number > 0, got 0", "lr"),
    ({"lr": -1.0}, "lr must be a number > 0, got -1.0", "lr"),
    ({"lr": float("inf")}, "lr must be a number > 0, got inf", "lr"),
    ({"lr": float("nan")}, "lr must be a number > 0, got nan", "lr"),
    ({"epochs": -1}, "epochs must be an integer ≥ 0, got -1", "epochs"),
    ({"batch_size": 0}, "batch_size must be an integer ≥ 1, got 0", "batch_size"),
    ({"val_split": 1.0}, "val_split must be a fraction in [0, 1), got 1.0", "val_split"),
    ({"val_split": -0.1}, "val_split must be a fraction in [0, 1), got -0.1", "val_split"),
    ({"patience": 0}, "patience must be an integer ≥ 1, got 0", "patience"),
])
def test_bad_settings_name_the_setting_exactly(kwargs, message, param):
    with pytest.raises(ParameterError) as caught:
        training.TrainingSettings(**kwargs)
    assert str(caught.value) == message
    assert caught.value.params == (param,)


def test_the_smallest_settings_are_accepted():
    settings = training.TrainingSettings(optimizer="adagrad", lr=1e-300, epochs=0,
                                         batch_size=1, val_split=0.0, patience=1)
    assert (settings.lr, settings.epochs, settings.batch_size) == (1e-300, 0, 1)


def test_the_split_is_a_permutations_head_sorted():
    order = np.random.default_rng(3).permutation(10)
    train_rows, val_rows = training.split_validation(10, 0.3, np.random.default_rng(3))
    np.testing.assert_array_equal(val_rows, np.sort(order[:3]))
    np.testing.assert_array_equal(train_rows, np.sort(order[3:]))
    # 0.9 of 10 rows leaves one to train on, 0.1 one to validate on; no split keeps every
    # row for training
    assert len(training.split_validation(10, 0.9, np.random.default_rng(3))[0]) == 1
    assert len(training.split_validation(10, 0.1, np.random.default_rng(3))[1]) == 1
    train_rows, val_rows = training.split_validation(10, 0.0, np.random.default_rng(3))
    np.testing.assert_array_equal(train_rows, np.arange(10))
    assert len(val_rows) == 0


@pytest.mark.parametrize("fraction", [0.04, 0.96])
def test_a_split_leaving_no_rows_on_one_side_is_an_error(fraction):
    with pytest.raises(EmbedkitError) as caught:
        training.split_validation(10, fraction, np.random.default_rng(0))
    assert str(caught.value) == (f"val_split {fraction} leaves no rows for training or "
                                 "validation out of 10")
    assert caught.value.params == ("val_split",)


def test_the_learning_rate_holds_then_anneals_to_a_thousandth():
    schedule = training.learning_rate(0.1, 100)
    assert [schedule(s) for s in (0, 50, 79)] == [0.1, 0.1, 0.1]
    assert schedule(80) == pytest.approx(0.1, rel=1e-12)  # the anneal starts at the top
    assert schedule(90) == pytest.approx((0.1 + 1e-4) / 2, rel=1e-12)
    assert schedule(100) == pytest.approx(1e-4, rel=1e-12)
    assert schedule(500) == pytest.approx(1e-4, rel=1e-12)
    one = training.learning_rate(0.1, 1)  # no step held: the one step at the full rate
    assert one(0) == 0.1 and one(1) == pytest.approx(1e-4, rel=1e-12)


def test_epoch_records_and_callback_events(X):
    """Two epochs of batches of 4, 4 and 2 rows: every record's numbers by hand."""
    W = weights()["W"].copy()
    params = {"W": W.copy()}
    mean = X.mean(axis=0)
    penalties = Penalties(weight_decay=0.5)
    events = []
    settings = training.TrainingSettings(lr=FROZEN, epochs=2, batch_size=4)
    history = training.train(Architecture(), params, X, settings, np.random.default_rng(0),
                             penalties=penalties, callback=events.append, mean=mean)
    assert events[0] == {"event": "start", "total_steps": 6, "steps_done": 0}
    kinds = [e["event"] for e in events[1:]]
    assert kinds == ["batch"] * 3 + ["epoch"] + ["batch"] * 3 + ["epoch"]
    assert all(e["steps"] == 1 for e in events if e["event"] == "batch")
    assert history == [e for e in events if e["event"] == "epoch"]
    mse = tied_sse(X, mean, W) / X.size  # each batch weighted by its rows
    schedule = training.learning_rate(FROZEN, 6)
    for epoch, record in enumerate(history, 1):
        assert record["epoch"] == epoch and record["epochs"] == 2
        assert record["train_mse"] == pytest.approx(mse, rel=1e-12)
        assert record["train_loss"] == pytest.approx(mse + 0.5 * np.sum(W ** 2), rel=1e-12)
        assert record["val_mse"] is None
        assert record["lr"] == schedule(3 * epoch)
        assert 0 <= record["seconds"] < 60
    np.testing.assert_array_equal(params["W"], W)  # frozen, and the last weights kept


def test_noise_corrupts_the_input_not_the_target(X):
    """One batch holding every row: the error is that of rebuilding the clean rows from the
    noisy ones, drawn after the split's and the epoch's permutations."""
    W = weights()["W"].copy()
    noise = Noise("gaussian", 0.7)
    settings = training.TrainingSettings(lr=FROZEN, epochs=1, batch_size=16)
    history = training.train(Architecture(), {"W": W.copy()}, X, settings,
                             np.random.default_rng(4), noise=noise)
    rng = np.random.default_rng(4)
    rng.permutation(10)  # the split (none)
    batch = X[rng.permutation(10)]
    noisy = noise(batch, rng)
    expected = np.mean(np.square(noisy @ W.T @ W - batch))
    assert history[0]["train_mse"] == pytest.approx(expected, rel=1e-12)
    assert expected != pytest.approx(tied_sse(X, 0, W) / X.size, rel=1e-3)


def test_batches_take_the_dtype_of_the_weights(X):
    """A float32 model trains on float32 batches: its errors are float32 numbers."""
    W = weights(dtype=np.float32)["W"]
    params = {"W": W.copy()}
    history = training.train(Architecture(), params, X, training.TrainingSettings(
        lr=FROZEN, epochs=1, batch_size=16), np.random.default_rng(0))
    batch = X.astype(np.float32)
    rebuilt = batch @ W.T @ W
    assert params["W"].dtype == np.float32
    assert history[0]["train_mse"] == pytest.approx(
        float(np.mean(np.square(rebuilt - batch), dtype=np.float32)), rel=1e-6)
    # computed in float32 (one batch of all rows: the epoch's mean is that batch's error)
    assert float(np.float32(history[0]["train_mse"])) == history[0]["train_mse"]


def test_no_epochs_keep_the_initial_weights(X):
    W = weights()["W"]
    params = {"W": W.copy()}
    events = []
    history = training.train(Architecture(), params, X, training.TrainingSettings(epochs=0),
                             np.random.default_rng(0), callback=events.append)
    assert history == [] and events == [{"event": "start", "total_steps": 0, "steps_done": 0}]
    np.testing.assert_array_equal(params["W"], W)


@pytest.mark.filterwarnings("error")  # the message alone: no RuntimeWarning lines before it
def test_an_infinite_loss_stops_with_the_epoch_and_the_loss(X):
    X = X.copy()
    X[3] = 1e200  # its square overflows
    with pytest.raises(DivergenceError) as caught:
        training.train(Architecture(), weights(), X, training.TrainingSettings(
            epochs=3, batch_size=16), np.random.default_rng(0))
    assert str(caught.value) == ("training diverged at epoch 1 (loss inf); nothing was "
                                 "written: the data's values are too large to square in this "
                                 "precision: scale them down")
    assert caught.value.params == ()


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("batch_size, why", [(16, "weights are not finite"), (4, "loss nan")])
def test_weights_made_infinite_by_a_step_stop_the_run(X, batch_size, why):
    """The first step overflows the weights: with one batch per epoch the epoch's check says
    so; with more, the next batch's codes are inf − inf, a NaN loss."""
    with pytest.raises(DivergenceError) as caught:
        training.train(Architecture(), weights(), X, training.TrainingSettings(
            optimizer="sgd", lr=1e308, epochs=2, batch_size=batch_size),
            np.random.default_rng(0))
    assert str(caught.value) == (f"training diverged at epoch 1 ({why}); nothing was written: "
                                 "try a smaller lr")
    assert caught.value.params == ("lr",)


def test_an_error_over_the_bound_times_where_it_started_is_divergence(X, monkeypatch):
    """Identical rows and frozen weights: every batch has the same error, so the epoch's mean
    equals the first batch's exactly; it diverges when the bound is below 1, not at 1."""
    same = np.tile(X[0], (4, 1))
    settings = training.TrainingSettings(lr=FROZEN, epochs=2, batch_size=2)
    monkeypatch.setattr(training, "DIVERGED", 1.0)
    history = training.train(Architecture(), weights(), same, settings,
                             np.random.default_rng(0))
    mse = history[0]["train_mse"]
    assert [r["train_mse"] for r in history] == [mse, mse]
    monkeypatch.setattr(training, "DIVERGED", 0.5)
    with pytest.raises(DivergenceError) as caught:
        training.train(Architecture(), weights(), same, settings, np.random.default_rng(0))
    assert str(caught.value) == (f"training diverged at epoch 1 (mean squared error "
                                 f"{mse:.3g}, over 0.5 times the {mse:.3g} it started from); "
                                 "nothing was written: try a smaller lr")
    assert caught.value.params == ("lr",)


def test_the_default_bound_is_ten_thousand_times(X):
    """SGD steps of 8 on these rows (halved) take the error from about 0.3 to about 1e75
    within the first epoch: over 10⁴ times the first batch's, though every number is still
    finite."""
    with pytest.raises(DivergenceError, match=r"^training diverged at epoch 1 \(mean squared "
                       r"error \d\.\d+e\+\d+, over 10000 times the 0\.\d+ it started from\)"):
        training.train(Architecture(), weights(), X / 2, training.TrainingSettings(
            optimizer="sgd", lr=8.0, epochs=1, batch_size=2), np.random.default_rng(0),
            mean=X.mean(axis=0) / 2)


class Spy:
    """A "noise" recording the rows of each batch (their first column) and changing nothing."""

    def __init__(self):
        self.batches = []

    def __call__(self, batch, rng):
        self.batches.append(sorted(batch[:, 0].tolist()))
        return batch


def test_after_the_first_epoch_the_bound_is_relative_to_its_mean(monkeypatch):
    """Four rows along one direction, the last ten times longer, in batches of two, weights
    frozen: a batch holding the long row has an error above the epoch's mean, the other one
    below it. The first batch of epoch 1 holds it, that of epoch 2 does not: within epoch 1
    the bound is relative to its first batch, after it to the first epoch's mean."""
    rows = np.outer([1.0, 2.0, 3.0, 40.0], [1.0, -0.5, 2.0])
    monkeypatch.setattr(training, "DIVERGED", 1 + 1e-9)  # just above the same mean again
    spy = Spy()
    history = training.train(Architecture(), Architecture().init_params(
        3, 2, np.random.default_rng(1), np.float64), rows, training.TrainingSettings(
        lr=FROZEN, epochs=2, batch_size=2), np.random.default_rng(8), noise=spy)
    assert 40.0 in spy.batches[0] and 40.0 not in spy.batches[2]  # the seed's batches
    assert history[1]["train_mse"] == pytest.approx(history[0]["train_mse"], rel=1e-12)


def test_a_first_batch_rebuilt_exactly_sets_no_bound(monkeypatch):
    """Its error is 0: no multiple of it bounds the others (two zero rows come first)."""
    rows = np.outer([0.0, 0.0, 3.0, 4.0], [1.0, -0.5, 2.0])
    spy = Spy()
    history = training.train(Architecture(), Architecture().init_params(
        3, 2, np.random.default_rng(1), np.float64), rows, training.TrainingSettings(
        lr=FROZEN, epochs=1, batch_size=2), np.random.default_rng(2), noise=spy)
    assert spy.batches[0] == [0.0, 0.0]  # the seed's first batch
    assert history[0]["train_mse"] > 0


def test_one_step_ends_at_the_final_rate(X):
    history = training.train(Architecture(), weights(), X, training.TrainingSettings(
        lr=FROZEN, epochs=1, batch_size=16), np.random.default_rng(0))
    assert history[0]["lr"] / FROZEN == pytest.approx(training.FINAL_LR_FRACTION, rel=1e-12)


def interrupt_at(target):
    """A callback raising KeyboardInterrupt at the ``target``-th event (from 0)."""
    seen = []

    def callback(event):
        seen.append(event)
        if len(seen) - 1 == target:
            raise KeyboardInterrupt
    return callback


@pytest.mark.parametrize("target, message", [
    (1, "training stopped in epoch 1 of 3, after batch 1 of 3"),
    (2, "training stopped in epoch 1 of 3, after batch 2 of 3"),
    (3, "training stopped in epoch 1 of 3, after batch 3 of 3"),
    (4, "training stopped after epoch 1 of 3"),                      # epoch 1's record
    (6, "training stopped in epoch 2 of 3, after batch 2 of 3"),
])
def test_ctrl_c_says_where_training_stopped(X, target, message):
    with pytest.raises(Interrupted) as caught:
        training.train(Architecture(), weights(), X, training.TrainingSettings(
            lr=FROZEN, epochs=3, batch_size=4), np.random.default_rng(0),
            callback=interrupt_at(target))
    assert str(caught.value) == message


def test_ctrl_c_names_the_epoch_the_checkpoint_holds(X, tmp_path):
    path = tmp_path / "ck.npz"
    settings = training.TrainingSettings(lr=FROZEN, epochs=3, batch_size=4)
    # events: start, then 3 batches and a record per epoch: 10 is epoch 3's second batch
    with pytest.raises(Interrupted) as caught:
        training.train(Architecture(), weights(), X, settings, np.random.default_rng(0),
                       callback=interrupt_at(10), checkpoints=Checkpoints(path, every=2))
    assert str(caught.value) == (f"training stopped in epoch 3 of 3, after batch 2 of 3; the "
                                 f"checkpoint {path} holds epoch 2")
    state = load_checkpoint(path, {})
    assert state.epoch == 2 and len(state.history) == 2
    # resumed from it, a stop before any new checkpoint still names epoch 2
    with pytest.raises(Interrupted) as caught:
        training.train(Architecture(), weights(), X, settings, np.random.default_rng(9),
                       callback=interrupt_at(1), checkpoints=Checkpoints(path, every=2),
                       resume=state)
    assert str(caught.value) == (f"training stopped in epoch 3 of 3, after batch 1 of 3; the "
                                 f"checkpoint {path} holds epoch 2")


def test_the_last_epoch_is_saved_whatever_the_period(X, tmp_path):
    path = tmp_path / "ck.npz"
    settings = training.TrainingSettings(lr=FROZEN, epochs=3, batch_size=4)
    training.train(Architecture(), weights(), X, settings, np.random.default_rng(0),
                   checkpoints=Checkpoints(path, every=2), context={"run": 1})
    assert load_checkpoint(path, {"run": 1}).epoch == 3
    # an early stop is a last epoch too: frozen weights never improve after the first
    early = training.TrainingSettings(lr=FROZEN, epochs=20, batch_size=4, val_split=0.3,
                                      patience=2)
    path = tmp_path / "early.npz"
    history = training.train(Architecture(), weights(), X, early, np.random.default_rng(0),
                             checkpoints=Checkpoints(path, every=7))
    assert len(history) == 3
    assert load_checkpoint(path, {}).epoch == 3


def test_a_resumed_run_continues_bit_for_bit(X, tmp_path):
    path = tmp_path / "ck.npz"
    settings = training.TrainingSettings(lr=0.05, epochs=4, batch_size=4, val_split=0.3)
    whole = weights()
    history = training.train(Architecture(), whole, X, settings, np.random.default_rng(0))
    with pytest.raises(Interrupted):
        training.train(Architecture(), weights(), X, settings, np.random.default_rng(0),
                       callback=interrupt_at(10), checkpoints=Checkpoints(path, every=1))
    resumed = weights(seed=7)
    again = training.train(Architecture(), resumed, X, settings, np.random.default_rng(123),
                           resume=load_checkpoint(path, {}))
    np.testing.assert_array_equal(resumed["W"], whole["W"])
    assert [r["val_mse"] for r in again] == [r["val_mse"] for r in history]


def test_a_checkpoint_of_other_data_is_refused(X, tmp_path):
    path = tmp_path / "ck.npz"
    settings = training.TrainingSettings(lr=FROZEN, epochs=1, batch_size=4)
    training.train(Architecture(), weights(), X, settings, np.random.default_rng(0),
                   checkpoints=Checkpoints(path))
    with pytest.raises(EmbedkitError) as caught:
        training.train(Architecture(), weights(), X[:7], settings, np.random.default_rng(0),
                       resume=load_checkpoint(path, {}))
    assert str(caught.value) == "the checkpoint was written for 10 rows, the data have 7"


def test_the_weights_left_are_those_with_the_lowest_validation_error(X):
    """SGD at a rate that overshoots after the first epoch: the validation error falls, then
    rises in the last epoch, and the weights kept are those of its lowest."""
    def run(val_split):
        params = weights()
        history = training.train(Architecture(), params, X, training.TrainingSettings(
            optimizer="sgd", lr=2.0, epochs=4, batch_size=4, val_split=val_split,
            patience=5), np.random.default_rng(0), schedule=lambda step: 0.05 if step < 2
            else 2.0, mean=X.mean(axis=0))
        return params, history

    params, history = run(0.3)
    errors = [r["val_mse"] for r in history]
    best = int(np.argmin(errors))
    assert len(history) == 4 and best < 3 and errors[3] > errors[best]
    _, val_rows = training.split_validation(10, 0.3, np.random.default_rng(0))
    assert training.reconstruction_error(Architecture(), params, X, rows=val_rows,
                                         mean=X.mean(axis=0)) == pytest.approx(errors[best],
                                                                               rel=1e-12)
    # without a split the last weights are kept
    last, history = run(0.0)
    assert training.reconstruction_error(Architecture(), last, X, mean=X.mean(axis=0)) != \
        pytest.approx(errors[best], rel=1e-3)


def test_a_mapped_matrix_is_visited_run_by_run(tmp_path, monkeypatch):
    """Streamed from a memory map, an epoch reads runs of a block's consecutive rows, each
    whole before the next: with batches of a run's size, every batch is one run."""
    from embedkit import streaming

    X = np.random.default_rng(0).normal(size=(60, 3))
    X[:, 0] = np.arange(60)  # the row's id
    np.save(tmp_path / "x.npy", X)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    monkeypatch.setattr(streaming, "BLOCK_BYTES", 10 * 3 * 8)  # runs of 10 rows
    seen = []

    def spy(batch, rng):  # a "noise" that records the rows of each batch
        seen.append(sorted(batch[:, 0].astype(int).tolist()))
        return batch

    training.train(Architecture(), Architecture().init_params(3, 2, np.random.default_rng(1),
                                                              np.float64),
                   mapped, training.TrainingSettings(lr=FROZEN, epochs=2, batch_size=10),
                   np.random.default_rng(0), noise=spy)
    assert len(seen) == 12
    assert all(ids == list(range(ids[0], ids[0] + 10)) and ids[0] % 10 == 0 for ids in seen)
    assert sorted(ids[0] for ids in seen[:6]) == list(range(0, 60, 10))
    assert [ids[0] for ids in seen[:6]] != list(range(0, 60, 10))  # the runs in random order
