"""train-w2v interrupted and resumed: Ctrl-C leaves nothing behind, checkpoints resume exactly."""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit.archive import read_archive, write_archive
from embedkit.cli import main
from embedkit.errors import EmbedkitError, Interrupted
from embedkit.text.vocab import Vocabulary
from embedkit.w2v.checkpoint import CHECKPOINT_FORMAT, DATA_KEY, WHAT, run_context
from embedkit.w2v.train import Word2VecConfig, train_word2vec

PLANTED = Path(__file__).resolve().parents[1] / "corpora" / "planted.txt"


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    """The first 3,000 sentences of the shipped planted corpus (~22k words)."""
    path = tmp_path_factory.mktemp("corpus") / "small.txt"
    with open(PLANTED) as lines:
        path.write_text("".join(itertools.islice(lines, 3000)))
    return path


def _stop_after_epoch(epoch: int):
    """An epoch callback that presses Ctrl-C once ``epoch`` is done."""
    def callback(record: dict) -> None:
        if record["epoch"] == epoch:
            raise KeyboardInterrupt
    return callback


def _stop_after_words(words: float):
    """A progress hook that presses Ctrl-C once ``words`` words are trained."""
    seen = [0.0]

    def progress(step: dict) -> None:
        seen[0] += step["words"]
        if seen[0] >= words:
            raise KeyboardInterrupt
    return progress


@pytest.mark.parametrize("kernel", ["pair", "window"])
@pytest.mark.parametrize("model", ["skipgram", "cbow"])
def test_resumed_run_is_bit_identical_to_an_uninterrupted_one(small, tmp_path, model, kernel):
    config = Word2VecConfig(model=model, dim=16, epochs=3, threads=1, seed=4, kernel=kernel)
    full = train_word2vec([small], config)
    checkpoint = tmp_path / "ck.npz"
    with pytest.raises(Interrupted, match=r"after epoch 1 of 3; the checkpoint .*ck\.npz holds "
                                          r"epoch 1$"):
        train_word2vec([small], config, callback=_stop_after_epoch(1), checkpoint=checkpoint)
    resumed = train_word2vec([small], config, resume=checkpoint)
    assert np.array_equal(full.vectors, resumed.vectors)
    assert np.array_equal(full.output, resumed.output)
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in full.history]
    # the resumed vectors differ from the checkpoint's: training did continue
    with np.load(checkpoint) as archive:
        assert not np.array_equal(archive["vectors"], resumed.vectors)


def test_cli_resume_matches_full_run_and_logs_every_epoch(small, tmp_path):
    checkpoint = tmp_path / "ck.npz"
    config = Word2VecConfig(dim=8, epochs=3, threads=1)
    with pytest.raises(Interrupted):
        train_word2vec([small], config, callback=_stop_after_epoch(2), checkpoint=checkpoint)
    runner = CliRunner()
    common = ["train-w2v", str(small), "--dim", "8", "--epochs", "3", "--threads", "1"]
    for extra, out in ((["--resume", str(checkpoint)], "resumed.npz"), ([], "full.npz")):
        result = runner.invoke(main, [*common, "-o", str(tmp_path / out), "--log-json",
                                      str(tmp_path / f"{out}.jsonl"), *extra])
        assert result.exit_code == 0, result.output
    assert "epoch 3/3" in result.stderr
    with np.load(tmp_path / "full.npz") as full, np.load(tmp_path / "resumed.npz") as resumed:
        assert np.array_equal(full["vectors"], resumed["vectors"])
    log = (tmp_path / "resumed.npz.jsonl").read_text().splitlines()
    assert [int(re.search(r'"epoch": (\d+)', line)[1]) for line in log] == [1, 2, 3]


def test_checkpoint_every_n_epochs_and_the_interrupt_message(small, tmp_path):
    checkpoint = tmp_path / "ck.npz"
    config = Word2VecConfig(dim=8, epochs=4, threads=1)
    with pytest.raises(Interrupted, match=r"after epoch 1 of 4; no checkpoint written yet$"):
        train_word2vec([small], config, callback=_stop_after_epoch(1), checkpoint=checkpoint,
                       checkpoint_every=2)
    assert not checkpoint.exists()
    # Ctrl-C inside an epoch says how far it got
    with pytest.raises(Interrupted, match=r"^training stopped in epoch 3 of 4, after "
                                          r"[\d,]+ of [\d,]+ words; the checkpoint .* holds "
                                          r"epoch 2$") as info:
        train_word2vec([small], config, progress=_stop_after_words(2.5 * 21_000),
                       checkpoint=checkpoint, checkpoint_every=2)
    done, total = (int(n.replace(",", "")) for n in
                   re.search(r"after ([\d,]+) of ([\d,]+)", str(info.value)).groups())
    assert 0 < done < total


def test_progress_after_resume_starts_from_the_epochs_already_done(small, tmp_path):
    # so a progress bar over all epochs' words starts where the checkpoint left off
    config = Word2VecConfig(dim=8, epochs=3, threads=1)
    checkpoint = tmp_path / "ck.npz"
    with pytest.raises(Interrupted):
        train_word2vec([small], config, callback=_stop_after_epoch(1), checkpoint=checkpoint)
    steps = []
    resumed = train_word2vec([small], config, progress=steps.append, resume=checkpoint)
    total = resumed.vocab.total
    assert steps[0]["words"] == total and steps[0]["loss"] == resumed.history[0]["loss"]
    assert sum(step["words"] for step in steps) == pytest.approx(3 * total)
    assert steps[0]["lr"] == resumed.history[0]["lr"]  # the rate after the epochs done


def test_resume_with_other_settings_or_corpus_is_a_one_line_error(small, tmp_path):
    checkpoint, out = tmp_path / "ck.npz", tmp_path / "v.vec"
    train_word2vec([small], Word2VecConfig(dim=8, epochs=1, threads=1), checkpoint=checkpoint)
    lines = small.read_text().splitlines(keepends=True)
    shorter, longer = tmp_path / "shorter.txt", tmp_path / "longer.txt"
    shorter.write_text("".join(lines[:2000]))
    longer.write_text("".join(lines + lines[:1]))  # same words, one sentence more
    not_a_checkpoint = tmp_path / "x.npz"
    np.savez(not_a_checkpoint, a=np.zeros(3))
    # a checkpoint of an earlier layout (format 1 also held generator states)
    older = tmp_path / "older.npz"
    meta, arrays = read_archive(checkpoint, WHAT, CHECKPOINT_FORMAT)
    write_archive(older, {**meta, "format": 1}, arrays)
    cases = [(["--window", "3"], str(small), "the checkpoint was written with window = 5, this "
                                             "run has 3"),
             (["--model", "cbow"], str(small), "model = 'skipgram', this run has 'cbow'"),
             # it named lr, whose default --subwords changes
             (["--subwords", "3-5", "--buckets", "50"], str(small), "the checkpoint was "
              "written with no subwords, this run has subwords 3-5; resume with the same"),
             ([], str(shorter), "the checkpoint was written with vocabulary_size = "),
             ([], str(longer), "the checkpoint was written with corpus_words = "),
             (["--resume", str(not_a_checkpoint)], str(small),
              "not an embedkit word2vec checkpoint"),
             (["--resume", str(older)], str(small),
              f"embedkit word2vec checkpoint format 1, expected {CHECKPOINT_FORMAT}")]
    for extra, corpus, message in cases:
        result = CliRunner().invoke(main, ["train-w2v", corpus, "--dim", "8", "--threads", "1",
                                           "--resume", str(checkpoint), *extra, "-o", str(out)])
        assert result.exit_code == 1, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("embedkit: error: ")
        assert message in lines[0]
        assert not out.exists()


def _children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(p) for p in (task / "children").read_text().split())
    return found


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_sigint_with_two_workers_writes_nothing_and_stops_them(tmp_path, embedkit_child):
    temp = tmp_path / "tmp"
    temp.mkdir()
    outputs = [tmp_path / "v.vec", tmp_path / "vocab.tsv", tmp_path / "log.jsonl"]
    process = embedkit_child(
        "train-w2v", str(PLANTED), "--dim", "16", "--epochs", "1000", "--threads", "2",
        "--checkpoint", str(tmp_path / "ck.npz"), "-o", str(outputs[0]), "--save-vocab",
        str(outputs[1]), "--log-json", str(outputs[2]), stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, env={**os.environ, "TMPDIR": str(temp)})
    first = process.stderr.readline()  # the line of epoch 1: training is under way
    assert first.startswith("epoch 1/1000"), first
    deadline = time.monotonic() + 30  # workers are forked per epoch: wait for epoch 2's
    while len(workers := _children(process.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(workers) == 2
    assert len(list(temp.iterdir())) == 1  # the id cache
    process.send_signal(signal.SIGINT)
    stderr = process.communicate(timeout=60)[1]
    assert process.returncode == 130, stderr
    last = stderr.strip().splitlines()[-1]
    assert re.fullmatch(r"embedkit: interrupted: training stopped (in epoch \d+ of 1000, after "
                        r"[\d,]+ of [\d,]+ words|after epoch \d+ of 1000); the checkpoint "
                        r".*ck\.npz holds epoch \d+", last), last
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.npz", "tmp"]
    assert not list(temp.iterdir())


def test_the_run_context_a_checkpoint_holds_stays_the_same_across_versions():
    # a checkpoint written by one version must resume under the next one unless
    # CHECKPOINT_FORMAT is bumped: the digest of the vocabulary is part of that layout
    vocab = Vocabulary(["the", "cat", "sat"], np.array([5, 3, 2]))
    context = run_context(Word2VecConfig(dim=8).resolved(), vocab)
    assert (context["vocabulary_size"], context["corpus_words"]) == (3, 10)
    assert context[DATA_KEY] == ("b130592cbd1aefdf30073f0f5cc66264"
                                 "fc0749dde4fbf8f14313db9fc9fa5207")
    assert "epochs" not in context and "buckets" not in context


def test_a_checkpoint_that_does_not_fit_its_run_is_refused_naming_the_file(small, tmp_path):
    checkpoint = tmp_path / "ck.npz"
    config = Word2VecConfig(dim=8, epochs=1, threads=1)
    train_word2vec([small], config, checkpoint=checkpoint)
    # the same counts and number of words, one word spelt otherwise: only the digest differs
    text = small.read_text()
    word = text.split()[0]
    renamed = tmp_path / "renamed.txt"
    renamed.write_text(re.sub(rf"\b{word}\b", "zzunseen", text))
    with pytest.raises(EmbedkitError) as error:
        train_word2vec([renamed], config, resume=checkpoint)
    assert str(error.value) == (f"{checkpoint}: the checkpoint was written for other data; "
                                "resume with the same data")
    meta, arrays = read_archive(checkpoint, WHAT, CHECKPOINT_FORMAT)
    rows, dim = arrays["vectors"].shape
    words = {k: v for k, v in arrays.items() if k != "words"}
    shorter = {**arrays, "output": arrays["output"][:-1]}
    wider = {**arrays, "vectors": np.zeros((rows, dim + 1), np.float32)}
    no_context = {k: v for k, v in meta.items() if k != "context"}
    cases = [(meta, words, "not an embedkit word2vec checkpoint ('words')"),
             (meta, shorter, f"not an embedkit word2vec checkpoint (input and output matrices "
                             f"of shapes ({rows}, 8) and ({rows - 1}, 8), expected ({rows}, 8) "
                             f"and ({rows}, 8))"),
             (meta, wider, f"of shapes ({rows}, 9) and ({rows}, 8), expected ({rows}, 8)"),
             (no_context, arrays, "the checkpoint was written with model = None, this run has "
                                  "'skipgram'")]
    for i, (header, members, message) in enumerate(cases):
        damaged = tmp_path / f"damaged{i}.npz"
        write_archive(damaged, header, members)
        with pytest.raises(EmbedkitError) as error:
            train_word2vec([small], config, resume=damaged)
        assert str(error.value).startswith(f"{damaged}: ")
        assert message in str(error.value)


def test_ctrl_c_after_resuming_names_the_epoch_the_checkpoint_read_holds(small, tmp_path):
    checkpoint = tmp_path / "ck.npz"
    train_word2vec([small], Word2VecConfig(dim=8, epochs=1, threads=1), checkpoint=checkpoint)
    with pytest.raises(Interrupted, match=r"after epoch 2 of 3; the checkpoint .*ck\.npz holds "
                                          r"epoch 1$"):
        train_word2vec([small], Word2VecConfig(dim=8, epochs=3, threads=1),
                       callback=_stop_after_epoch(2), checkpoint=checkpoint,
                       checkpoint_every=5, resume=checkpoint)


def test_ctrl_c_at_the_first_report_of_a_resumed_run_stops_after_the_epochs_done(small,
                                                                                 tmp_path):
    checkpoint = tmp_path / "ck.npz"
    train_word2vec([small], Word2VecConfig(dim=8, epochs=1, threads=1), checkpoint=checkpoint)

    def press(step):
        raise KeyboardInterrupt  # Ctrl-C as the epochs already done are reported

    with pytest.raises(Interrupted, match=r"^training stopped after epoch 1 of 3; the "
                                          r"checkpoint .*ck\.npz holds epoch 1$"):
        train_word2vec([small], Word2VecConfig(dim=8, epochs=3, threads=1), progress=press,
                       checkpoint=checkpoint, resume=checkpoint)


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    """One file of each kind: a word2vec checkpoint, an autoencoder checkpoint and model."""
    d = tmp_path_factory.mktemp("kinds")
    (d / "c.txt").write_text("the cat sat on the mat\nthe dog sat on the log\n" * 10)
    np.save(d / "x.npy", np.random.default_rng(0).normal(size=(30, 4)))
    for args in (["train-w2v", d / "c.txt", "--min-count", "1", "--dim", "4", "--epochs", "1",
                  "--subsample", "0",
                  "--checkpoint", d / "w2v.npz", "-o", d / "v.vec"],
                 ["autoencode", d / "x.npy", "--hidden", "2", "--epochs", "1", "--checkpoint",
                  d / "ae.npz", "-o", d / "model.npz"]):
        assert CliRunner().invoke(main, [str(a) for a in args]).exit_code == 0
    return d


KINDS = {"w2v.npz": ("embedkit word2vec checkpoint", "train-w2v --checkpoint"),
         "ae.npz": ("embedkit autoencoder checkpoint", "autoencode --checkpoint"),
         "model.npz": ("embedkit autoencoder model", "autoencode -o")}
READERS = [(["train-w2v", "{d}/c.txt", "--min-count", "1", "--dim", "4", "--resume"], "w2v.npz"),
           (["autoencode", "{d}/x.npy", "--hidden", "2", "--resume"], "ae.npz"),
           (["encode"], "model.npz")]


WRONG_KINDS = [(args, expected, given) for args, expected in READERS for given in KINDS
               if given != expected]


@pytest.mark.parametrize("args, expected, given", WRONG_KINDS,
                         ids=[f"{a[0]}-{g}" for a, _, g in WRONG_KINDS])
def test_an_archive_of_another_kind_is_named_with_what_writes_the_right_one(
        archives, args, expected, given, tmp_path):
    # An autoencoder model given to --resume (or a checkpoint to encode) was an internal
    # error ('context', 'params'); a checkpoint of the other trainer, "format 1, expected 2".
    command = [a.format(d=archives) for a in args] + [str(archives / given)]
    if args[0] == "encode":
        command.append(str(archives / "x.npy"))
    else:
        command += ["-o", str(tmp_path / ("out.vec" if args[0] == "train-w2v" else "m.npz"))]
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 1, result.output
    kind, writer = KINDS[given]
    assert result.stderr == (f"embedkit: error: {archives / given}: an {kind} (written by "
                             f"{writer}), expected an {KINDS[expected][0]} (written by "
                             f"{KINDS[expected][1]}); {USES[given].format(archives / given)}\n")
    assert list(tmp_path.iterdir()) == []


#: What the message says to do with a file of each kind instead.
USES = {"w2v.npz": "continue its training with train-w2v --resume {}",
        "ae.npz": "continue its training with autoencode --resume {}",
        "model.npz": "use it as the MODEL of encode, decode or compare-pca"}
#: Commands reading a matrix or word vectors, and what they expect.
MATRIX_READERS = [(["neighbors", "{}", "the"], "word vectors (arrays 'words' and 'vectors')"),
                  (["convert", "{}", "{out}/v.vec"], "word vectors (arrays 'words' and 'vectors')"),
                  (["autoencode", "{}", "--hidden", "2", "-o", "{out}/m.npz"], "a matrix"),
                  (["compare-pca", "{}", "--fit", "1"], "a matrix")]


@pytest.mark.parametrize("given", ["ae.npz", "model.npz"])
@pytest.mark.parametrize("args, expected", MATRIX_READERS, ids=[a[0] for a, _ in MATRIX_READERS])
def test_a_model_or_checkpoint_given_as_data_says_what_it_is_and_is_for(archives, given, args,
                                                                       expected, tmp_path):
    # it was "archive lacks vectors, words" or "holds 7 arrays ...; name one with --key"
    path = archives / given
    result = CliRunner().invoke(main, [a.format(path, out=tmp_path) for a in args])
    assert result.exit_code == 1, result.output
    kind, writer = KINDS[given]
    assert result.stderr == (f"embedkit: error: {path}: an {kind} (written by {writer}), "
                             f"expected {expected}; {USES[given].format(path)}\n")
    assert list(tmp_path.iterdir()) == []


def test_a_word2vec_checkpoint_is_read_as_the_vectors_it_holds(archives):
    # its words and vectors are the state of training when it was written
    result = CliRunner().invoke(main, ["neighbors", str(archives / "w2v.npz"), "cat", "-k", "1"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("cat\t1\t")


def test_elapsed_seconds_carry_over_a_resume(small, tmp_path, monkeypatch):
    # the history's elapsed time counts the epochs before the checkpoint too; a fresh run's
    # starts at 0 (a fake clock: one tick per reading, then a stopped one)
    from types import SimpleNamespace

    from embedkit.w2v import train as module

    ticks = itertools.count(0, 2)  # two seconds a reading
    monkeypatch.setattr(module, "time", SimpleNamespace(perf_counter=lambda: float(next(ticks))))
    checkpoint = tmp_path / "ck.npz"
    first = train_word2vec([small], Word2VecConfig(dim=8, epochs=1, threads=1),
                           checkpoint=checkpoint)
    before = first.history[-1]["elapsed"]
    assert before > 0
    monkeypatch.setattr(module, "time", SimpleNamespace(perf_counter=lambda: 7.0))
    config = Word2VecConfig(dim=8, epochs=2, threads=1)
    resumed = train_word2vec([small], config, resume=checkpoint)
    assert [record["elapsed"] for record in resumed.history] == [before, before]
    # no time read between the epoch's start and end: an infinite rate, not a division error
    assert resumed.history[-1]["words_per_sec"] == float("inf")
    record = first.history[0]
    assert record["words"] <= record["words_per_sec"] * record["elapsed"] < float("inf")
    assert record["words_per_sec"] <= record["words"] / 2  # over two seconds at least
    assert [record["elapsed"] for record in train_word2vec([small], config).history] == [0, 0]


def test_ctrl_c_inside_an_epoch_counts_every_word_of_it_trained(small):
    reports: list[float] = []

    def press(step):
        reports.append(step["words"])
        if len(reports) == 2:  # of the three tasks of epoch 1
            raise KeyboardInterrupt

    config = Word2VecConfig(dim=8, epochs=2, threads=1)
    with pytest.raises(Interrupted) as info:
        train_word2vec([small], config, progress=press)
    total = sum(reports)
    assert 0 < reports[1] < total
    assert re.search(rf"^training stopped in epoch 1 of 2, after {total:,.0f} of [\d,]+ words",
                     str(info.value)), str(info.value)


@pytest.mark.parametrize("every", [2, 5])
def test_the_checkpoint_holds_the_last_epoch_whatever_the_cadence(small, tmp_path, every):
    # 3 epochs, a checkpoint due every 2 (or 5): the file must still hold the finished run,
    # not epoch 2 (or nothing), so resuming it trains nothing more
    checkpoint = tmp_path / "ck.npz"
    config = Word2VecConfig(dim=8, epochs=3, threads=1)
    full = train_word2vec([small], config, checkpoint=checkpoint, checkpoint_every=every)
    with np.load(checkpoint) as archive:
        assert np.array_equal(archive["vectors"], full.vectors)
        assert np.array_equal(archive["output"], full.output)
    epochs: list[dict] = []
    resumed = train_word2vec([small], config, callback=epochs.append, resume=checkpoint)
    assert epochs == [] and resumed.history == full.history
