"""Autoencoder checkpoints checked directly: every part of the training state comes back, the
early-stopping state included, and a mismatch names the checkpoint file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from embedkit.ae.checkpoint import TrainingState, load_checkpoint, save_checkpoint
from embedkit.errors import EmbedkitError

CONTEXT = {"lr": 0.001, "data": "digest"}


def state(best):
    rng = np.random.default_rng(0)
    return TrainingState(
        epoch=3, params={"W": rng.standard_normal((2, 4)), "b": np.zeros(2)},
        optimizer={"step": np.array(30), "m_W": rng.standard_normal((2, 4))},
        rng=rng.bit_generator.state, train_rows=np.arange(8), val_rows=np.array([8, 9]),
        history=[{"epoch": e, "val_mse": 1.0 / e} for e in (1, 2, 3)],
        best={"W": np.ones((2, 4)), "b": np.full(2, 0.5)} if best else None,
        best_loss=0.25 if best else np.inf, waited=2 if best else 0)


@pytest.mark.parametrize("best", [True, False])
def test_a_checkpoint_gives_back_the_whole_training_state(tmp_path, best):
    saved = state(best)
    save_checkpoint(tmp_path / "ck.npz", saved, CONTEXT)
    loaded = load_checkpoint(tmp_path / "ck.npz", dict(CONTEXT))
    assert (loaded.epoch, loaded.rng, loaded.history) == (saved.epoch, saved.rng, saved.history)
    for name in ("params", "optimizer") + (("best",) if best else ()):
        mine, theirs = getattr(saved, name), getattr(loaded, name)
        assert sorted(mine) == sorted(theirs)
        assert all(np.array_equal(mine[k], theirs[k]) for k in mine)
    np.testing.assert_array_equal(loaded.train_rows, saved.train_rows)
    np.testing.assert_array_equal(loaded.val_rows, saved.val_rows)
    # early stopping resumes where it was: the best weights, their error, the epochs waited
    assert (loaded.best is None) == (not best)
    assert loaded.best_loss == saved.best_loss
    assert loaded.waited == saved.waited
    # no infinite error before the first validation in the file: its metadata are strict JSON
    with np.load(tmp_path / "ck.npz") as archive:
        json.loads(str(archive["meta"]), parse_constant=pytest.fail)


def test_a_checkpoint_of_another_run_is_named_in_the_error(tmp_path):
    save_checkpoint(tmp_path / "ck.npz", state(True), CONTEXT)
    with pytest.raises(EmbedkitError, match=r"^\S*ck\.npz: the checkpoint was written with "
                                            r"lr = 0\.001, this run has 0\.01;"):
        load_checkpoint(tmp_path / "ck.npz", {**CONTEXT, "lr": 0.01})
