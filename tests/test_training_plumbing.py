"""The training plumbing both models share: checkpoint cadence, the Ctrl-C message, library
errors that name library parameters and the CLI's option names for them, CLI defaults."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from embedkit.ae import Autoencoder
from embedkit.cli import main
from embedkit.errors import DivergenceError, EmbedkitError, Interrupted
from embedkit.training import Checkpoints, training_stopped
from embedkit.w2v.config import Word2VecConfig
from embedkit.w2v.train import check_finite


def test_checkpoints_are_due_every_n_epochs_and_after_the_last():
    checkpoints, saved = Checkpoints("ck.npz", every=2), []
    for epoch in range(1, 6):
        checkpoints.after_epoch(epoch, epoch == 5, saved.append)
        assert checkpoints.holds == max([0] + [e for e in (2, 4, 5) if e <= epoch])
    assert saved == ["ck.npz"] * 3
    nowhere = Checkpoints(None)
    nowhere.after_epoch(1, True, saved.append)
    assert len(saved) == 3 and nowhere.holds == 0


@pytest.mark.usefixtures("default_sigint")
def test_ctrl_c_right_after_the_file_is_saved_still_counts_the_checkpoint():
    """The race a real Ctrl-C can hit: the file is in place, the bookkeeping not yet done."""
    checkpoints = Checkpoints("ck.npz")

    def save_then_interrupted(path):
        os.kill(os.getpid(), signal.SIGINT)  # arrives as the save returns

    with pytest.raises(KeyboardInterrupt):
        checkpoints.after_epoch(1, False, save_then_interrupted)
    assert checkpoints.holds == 1
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_checkpoint_every_below_one_names_the_library_parameter():
    with pytest.raises(EmbedkitError, match=r"^checkpoint_every 0: expected at least 1$") as info:
        Checkpoints("ck.npz", every=0)
    assert info.value.params == ("checkpoint_every",)


@pytest.mark.parametrize("done, within, holds, expected", [
    (2, "batch 3 of 10", 2, "training stopped in epoch 3 of 4, after batch 3 of 10; the "
                            "checkpoint ck.npz holds epoch 2"),
    (1, None, 0, "training stopped after epoch 1 of 4; no checkpoint written yet"),
    (0, None, 0, "training stopped in epoch 1 of 4; no checkpoint written yet"),
])
def test_the_interrupt_message(done, within, holds, expected):
    error = training_stopped(done, 4, within, Checkpoints("ck.npz", holds=holds))
    assert isinstance(error, Interrupted) and str(error) == expected
    without = training_stopped(done, 4, within, None)
    assert str(without) == expected.split(";")[0]


@pytest.mark.parametrize("settings, name", [
    ({"batch_size": 0}, "batch_size"), ({"val_split": 1.5}, "val_split"),
    ({"optimizer": "lbfgs"}, "optimizer"), ({"noise": "salt:0.1"}, "noise"),
    ({"activation": "cube", "kind": "nonlinear"}, "activation"),
])
def test_autoencoder_errors_name_its_parameters(settings, name):
    with pytest.raises(EmbedkitError) as info:
        Autoencoder(2, **settings).fit(np.random.default_rng(0).random((20, 5)))
    message = str(info.value)
    assert message.startswith(name) and "--" not in message
    assert info.value.params == (name,)


def test_word2vec_config_errors_name_its_parameters():
    with pytest.raises(EmbedkitError, match=r"^min_lr 0.5: expected between 0 and lr \(0.1\)$"):
        Word2VecConfig(lr=0.1, min_lr=0.5).resolved()


def test_the_cli_says_option_names_for_library_parameters(tmp_path, cli):
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c d\n" * 20)
    result = cli("train-w2v", corpus, "--min-count", 1, "--lr", 0.1, "--min-lr", 0.5, "-o",
                 tmp_path / "v.vec")
    assert result.exit_code == 2  # a usage error, as Click's
    assert result.output.strip() == ("embedkit: error: --min-lr 0.5: expected between 0 and "
                                     "--lr (0.1)")


def test_cli_defaults_are_the_librarys():
    commands = {name: main.get_command(None, name) for name in ("train-w2v", "autoencode")}
    defaults = {name: {p.name: p.default for p in command.params}
                for name, command in commands.items()}
    w2v, ae = Word2VecConfig(), Autoencoder()
    for field in ("model", "dim", "window", "negative", "ns_exponent", "subsample", "epochs",
                  "min_lr", "cbow_mean", "min_count", "seed"):
        assert defaults["train-w2v"][field] == getattr(w2v, field), field
    for field in ("kind", "tied", "activation", "output_activation", "l1", "contractive",
                  "weight_decay", "lr", "epochs", "batch_size", "val_split"):
        assert defaults["autoencode"][field] == getattr(ae, field), field


def test_an_archive_read_from_bytes_cannot_be_memory_mapped(tmp_path):
    import io

    from embedkit.npyfile import NpzArchive

    buffer = io.BytesIO()
    np.savez(buffer, x=np.arange(3))
    archive = NpzArchive(buffer.getvalue())
    assert archive.read("x").tolist() == [0, 1, 2]
    with pytest.raises(EmbedkitError, match=r"^<data>\[x\]: only an archive read from a file"):
        archive.mapped("x")


@pytest.mark.parametrize("which", ["vectors", "output"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_trained_word2vec_matrices_with_a_non_finite_value_are_refused(which, bad):
    # both trainers (single machine and cluster) end with this check before anything is written
    matrices = {"vectors": np.ones((70_000, 3), np.float32), "output": np.ones((5, 3))}
    check_finite(**matrices)
    matrices[which][-1, -1] = bad  # in the last block, past the first one read
    with pytest.raises(DivergenceError, match=r"^training diverged \(non-finite weights\)"
                       ) as error:
        check_finite(**matrices)
    assert error.value.params == ("lr",)  # the CLI says --lr
