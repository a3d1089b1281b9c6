"""train-w2v --cluster: byte ranges, the vocabulary counted by workers, deterministic rounds on
a LocalCluster of 2 processes, a killed worker, the one-line errors."""

from __future__ import annotations

import contextlib
import gzip
import json
import math
import os
import signal
import sys
import threading
import time
from typing import Any

import numpy as np
import pytest

from embedkit.errors import EmbedkitError, Interrupted
from embedkit.text.corpus import iter_text_blocks, iter_token_blocks
from embedkit.text.ranges import ByteRange, file_size, iter_range_blocks, split_ranges
from embedkit.text.stream import iter_id_chunks
from embedkit.text.synthetic import planted_analogies, write_planted_corpus
from embedkit.text.tokenize import Tokenizer
from embedkit.text.vocab import build_vocabulary, count_words
from embedkit.vectors.evaluate import evaluate_analogies
from embedkit.vectors.formats import load_vectors
from embedkit.vectors.keyed import KeyedVectors
from embedkit.w2v.cluster import (
    ModelVersion,
    RoundResult,
    _concatenate,
    _encode_range,
    _merged,
    _share,
    _TaskHeap,
    cluster_vocabulary,
    merge_changes,
    train_on_cluster,
)
from embedkit.w2v.config import Word2VecConfig

# Odd lines on purpose: a byte-order mark, CRLF and lone CR line ends, a line far longer than a
# block, non-ASCII words, an empty line, no line end at the end of the file.
AWKWARD = ("\ufeffthe cat sat on the mat\r\nthe dog ran\rÉcole été café the cat\n\n"
           + " ".join(["word"] * 300 + ["end"]) + "\nthe last line without end")


def _tokens(blocks) -> list[str]:
    tokenizer = Tokenizer()
    return [token for block in blocks for token in tokenizer.tokens(block)]


@pytest.mark.parametrize("range_bytes", [1, 7, 40, 10**6])
def test_byte_ranges_read_every_line_once_as_a_single_pass(tmp_path, range_bytes):
    path = tmp_path / "awkward.txt"
    path.write_bytes(AWKWARD.encode())
    pieces = split_ranges(str(path), file_size(str(path)), range_bytes)
    assert len(pieces) == -(-path.stat().st_size // range_bytes)
    whole = _tokens(iter_text_blocks([path]))
    assert _tokens(block for piece in pieces for block in iter_range_blocks(piece, 16)) == whole


def test_a_compressed_file_is_one_range_read_whole(tmp_path):
    path = tmp_path / "awkward.txt.gz"
    path.write_bytes(gzip.compress(AWKWARD.encode()))
    assert file_size(str(path)) is None
    assert split_ranges(str(path), None, 7) == [ByteRange(str(path), 0, None)]
    assert _tokens(iter_range_blocks(ByteRange(str(path), 0, None), 16)) == \
        _tokens(iter_text_blocks([path]))


def test_fsspec_urls_are_cut_and_read_as_local_files(tmp_path):
    fsspec = pytest.importorskip("fsspec", reason="fsspec (with the 'cluster' extra) is absent")
    local = tmp_path / "awkward.txt"
    local.write_bytes(AWKWARD.encode())
    with fsspec.open("memory://embedkit-ranges/awkward.txt.gz", "wb", compression="gzip") as out:
        out.write(AWKWARD.encode())
    with fsspec.open("memory://embedkit-ranges/awkward.txt", "wb") as out:
        out.write(AWKWARD.encode())
    whole = _tokens(iter_text_blocks([local]))
    for url in (local.as_uri(), "memory://embedkit-ranges/awkward.txt"):
        assert file_size(url) == local.stat().st_size
        pieces = split_ranges(url, file_size(url), 7)
        assert len(pieces) > 10
        assert _tokens(block for piece in pieces for block in iter_range_blocks(piece, 16)) == \
            whole
    compressed = "memory://embedkit-ranges/awkward.txt.gz"
    assert file_size(compressed) is None  # decompressed by fsspec, read whole
    assert _tokens(iter_range_blocks(ByteRange(compressed, 0, None), 16)) == whole
    with pytest.raises(EmbedkitError, match="embedkit-ranges/absent.txt: no such file"):
        file_size("memory://embedkit-ranges/absent.txt")


def test_undecodable_bytes_name_the_file_and_byte(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"good line\nbad \xff here\n")
    with pytest.raises(EmbedkitError, match=r"bad.txt: byte 15: not valid UTF-8"):
        list(iter_range_blocks(ByteRange(str(path), 3, None)))


def test_shares_cut_the_ids_into_runs_of_whole_sentences(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(AWKWARD)
    vocab = build_vocabulary([path], 1)
    pieces = split_ranges(str(path), file_size(str(path)), 20)
    encoded = [_encode_range(piece, vocab, Tokenizer()) for piece in pieces]
    whole = _concatenate(list(iter_id_chunks([path], vocab)))
    np.testing.assert_array_equal(_concatenate(encoded).ids, whole.ids)
    # the same sentence boundaries (numbers may skip where a line held no word)
    np.testing.assert_array_equal(np.diff(_concatenate(encoded).sentences) != 0,
                                  np.diff(whole.sentences) != 0)
    lengths = np.cumsum([0] + [len(e.ids) for e in encoded])
    for shares in (1, 2, 3, 7):
        parts = []
        for s in range(shares):
            a, b = lengths[-1] * s // shares, lengths[-1] * (s + 1) // shares
            overlap = [i for i in range(len(encoded)) if lengths[i] < b and lengths[i + 1] > a]
            first = int(lengths[overlap[0]]) if overlap else 0
            parts.append(_share(first, a, b, *[encoded[i] for i in overlap]))
        np.testing.assert_array_equal(np.concatenate([p.ids for p in parts]), whole.ids)
        for part in parts:  # no sentence cut in two between shares
            assert not len(part.ids) or part.sentences[0] == 0 or \
                np.diff(part.sentences).min() >= 0


def test_merge_adds_in_order_or_averages_the_rows_each_task_changed():
    base = np.zeros((4, 2), dtype=np.float32)
    changes = [(np.array([0, 2]), np.array([[1, 1], [2, 2]], np.float32)),
               (np.array([2, 3]), np.array([[4, 4], [1, 0]], np.float32))]
    summed = base.copy()
    merge_changes(summed, changes, "sum")
    np.testing.assert_array_equal(summed, [[1, 1], [0, 0], [6, 6], [1, 0]])
    averaged = base.copy()
    merge_changes(averaged, changes, "average")
    np.testing.assert_array_equal(averaged, [[1, 1], [0, 0], [3, 3], [1, 0]])
    damped = base.copy()
    merge_changes(damped, changes, "sqrt")
    np.testing.assert_allclose(damped, [[1, 1], [0, 0], [6 / 2**0.5] * 2, [1, 0]], rtol=1e-6)
    # block momentum: the mean change over the two tasks, then half the last round's step
    # again plus the new mean
    model, momentum = base.copy(), base.copy()
    merge_changes(model, changes, "momentum", momentum)
    np.testing.assert_array_equal(model, [[0.5, 0.5], [0, 0], [3, 3], [0.5, 0]])
    merge_changes(model, changes, "momentum", momentum)
    np.testing.assert_array_equal(momentum, [[0.75, 0.75], [0, 0], [4.5, 4.5], [0.75, 0]])
    np.testing.assert_array_equal(model, [[1.25, 1.25], [0, 0], [7.5, 7.5], [1.25, 0]])


def _result(rows, change) -> RoundResult:
    rows, change = np.array(rows), np.array(change, np.float32)
    return RoundResult(rows, change, rows, change, 0.0, 0, 0, 0.0)


def test_an_epochs_last_merge_adds_what_the_momentum_would_still_add():
    base = np.zeros((3, 2), dtype=np.float32)
    start = ModelVersion(base, base, None, 0.0)
    results = [_result([0, 1], [[4, 4], [2, 0]]), _result([1], [[2, 8]]),
               _result([2], [[1, 1]]), _result([0], [[0, 4]])]
    # one round per epoch: the momentum's whole series at once, as summing would move it
    alone = _merged(start, "momentum", True, True, *results)
    np.testing.assert_allclose(alone.vectors, [[4, 8], [4, 8], [1, 1]])
    np.testing.assert_array_equal(alone.output, alone.vectors)
    # two rounds: the first applies a quarter (the mean), the last what is left of both
    first = _merged(start, "momentum", True, False, *results)
    np.testing.assert_allclose(first.vectors, [[1, 2], [1, 2], [0.25, 0.25]])
    last = _merged(first, "momentum", False, True, *results)
    momentum = 0.75 * first.momentum[0] + first.vectors  # decayed, plus the new mean
    np.testing.assert_allclose(last.vectors, first.vectors + momentum + 3 * momentum)
    assert base.sum() == 0  # the model of a round is not changed: a rerun task reads it
    # the next epoch's first round starts the momentum again
    again = _merged(last, "momentum", True, False, *results)
    np.testing.assert_allclose(again.vectors - last.vectors, first.vectors)


def test_a_task_keeps_freed_memory_in_the_heap_and_gives_it_back_after(monkeypatch):
    calls: list[tuple] = []

    class FakeLibc:
        def mallopt(self, parameter, value):
            calls.append(("mallopt", parameter, value))

        def malloc_trim(self, pad):
            calls.append(("trim", pad))

    heap = _TaskHeap()
    monkeypatch.setattr(_TaskHeap, "_libc", staticmethod(FakeLibc))
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")  # as a Dask nanny starts a worker
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    with heap.kept():
        with heap.kept():  # a second task of a worker with two threads
            pass
        # the first task still runs: its heap is still kept
        assert calls == [("mallopt", -3, 32 << 20), ("mallopt", -1, 64 << 20)]
    assert calls[2:] == [("mallopt", -3, 128 << 10), ("mallopt", -1, 65536), ("trim", 0)]


# ---- on a LocalCluster of two worker processes -------------------------------------------

distributed = pytest.importorskip("distributed", reason="the 'cluster' extra (Dask) is absent")


@pytest.fixture(scope="module")
def client():
    import logging

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", silence_logs=logging.CRITICAL
                                  ) as cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Two files, one plain and one compressed, of a planted corpus (~45k tokens)."""
    directory = tmp_path_factory.mktemp("cluster")
    with open(directory / "a.txt", "w") as out:
        write_planted_corpus(out, 3_000, np.random.default_rng(3))
    with gzip.open(directory / "b.txt.gz", "wt") as out:
        write_planted_corpus(out, 3_000, np.random.default_rng(4))
    return [directory / "a.txt", directory / "b.txt.gz"]


#: Small enough that every file is several ranges, the training rounds several per epoch.
SMALL = {"range_bytes": 20_000, "sync_every": 8_000}
CONFIG = Word2VecConfig(dim=16, epochs=2, seed=5, threads=3)


def test_vocabulary_counted_by_the_workers_equals_the_single_machine_one(client, corpus):
    for min_count, max_vocab in ((1, None), (5, 50)):
        single = build_vocabulary(corpus, min_count, max_vocab)
        counted = cluster_vocabulary(client, corpus, min_count, max_vocab, range_bytes=20_000)
        assert counted.words == single.words
        np.testing.assert_array_equal(counted.counts, single.counts)
    # the workers open file:// URLs through fsspec
    counted = cluster_vocabulary(client, [p.as_uri() for p in corpus], 1, range_bytes=20_000)
    assert counted.words == build_vocabulary(corpus, 1).words


@pytest.fixture(scope="module")
def rounds() -> list[dict]:
    return []


@pytest.fixture(scope="module")
def expected(client, corpus, rounds):
    """The model of CONFIG on the corpus, trained by the two workers in rounds."""
    return train_on_cluster(corpus, CONFIG, client, on_round=rounds.append, **SMALL)


def test_training_is_deterministic_and_follows_the_seed(client, corpus, expected, rounds):
    first = expected
    second = train_on_cluster(corpus, CONFIG, client, range_bytes=10**6,
                              sync_every=SMALL["sync_every"])  # other ranges, same shares
    assert np.array_equal(first.vectors, second.vectors)
    assert np.array_equal(first.output, second.output)
    assert first.history[-1]["loss"] == second.history[-1]["loss"]
    other = train_on_cluster(corpus, Word2VecConfig(dim=16, epochs=2, seed=6, threads=3),
                             client, **SMALL)
    assert not np.array_equal(first.vectors, other.vectors)
    # several rounds per epoch, each merging the changes of all three tasks
    assert len(rounds) == 2 * round(first.vocab.total / SMALL["sync_every"]) > 2
    assert sum(r["words"] for r in rounds) == 2 * first.vocab.total
    assert [r["epoch"] for r in rounds].count(2) == len(rounds) // 2
    tokens = count_words(iter_token_blocks(corpus)).tokens
    assert [h["words"] for h in first.history] == [tokens, tokens]


def test_a_finished_run_holds_nothing_on_the_cluster(client, corpus):
    import gc

    # a result held after the run stays on a worker, and is computed again if it is lost
    gc.disable()  # what the run leaves must go without the cycle collector
    try:
        train_on_cluster(corpus, Word2VecConfig(dim=16, epochs=1, seed=5, threads=3), client,
                         **SMALL)
        deadline = time.monotonic() + 10
        while client.futures and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not client.futures, sorted(client.futures)[:5]
    finally:
        gc.enable()


def test_progress_comes_from_the_tasks_between_rounds(client, corpus, expected, rounds,
                                                     monkeypatch):
    import embedkit.w2v.cluster as cluster

    monkeypatch.setattr(cluster, "PROGRESS_SECONDS", 0.0)  # a task reports every minibatch
    steps: list[dict] = []
    trained = train_on_cluster(corpus, CONFIG, client, progress=steps.append, **SMALL)
    assert np.array_equal(trained.vectors, expected.vectors)  # the reports change nothing
    # more often than once a round, and every word of the cluster once in all
    assert len(steps) > len(rounds)
    assert all(step["words"] >= 0 for step in steps)
    assert sum(step["words"] for step in steps) == 2 * trained.vocab.total
    lrs = [step["lr"] for step in steps]
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] < lrs[0]


def test_more_than_two_tasks_merge_by_momentum_in_shorter_rounds(client, corpus):
    rounds: list[dict] = []
    one_epoch = Word2VecConfig(dim=16, epochs=1, seed=5, threads=3)
    trained = train_on_cluster(corpus, one_epoch, client, on_round=rounds.append,
                               range_bytes=20_000)
    assert len(rounds) == round(trained.vocab.total / 25_000) >= 2  # one at 400,000
    by_name = train_on_cluster(corpus, one_epoch, client, merge="momentum",
                               sync_every=25_000, range_bytes=20_000)
    assert np.array_equal(trained.vectors, by_name.vectors)


class _Runs(distributed.diagnostics.plugin.SchedulerPlugin):
    """Every task run to its end: (key, worker), in order (a rerun appears again); ``rerun``
    is set when a task that ran to its end is sent to a worker again."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, str]] = []
        self.finished: set[str] = set()
        self.rerun = threading.Event()

    def transition(self, key, start, finish, *args, **kwargs) -> None:
        if (start, finish) == ("processing", "memory"):
            self.runs.append((key, kwargs["worker"]))
            self.finished.add(key)
        elif finish == "processing" and key in self.finished:
            self.rerun.set()


def _round_of(key: str) -> tuple[int, int]:
    """(epoch, round) of a task ``round-RUN-EPOCH-ROUND-SHARE`` or ``model-RUN-EPOCH-ROUND``."""
    epoch, number = key.split("-")[2:4]
    return int(epoch), int(number)


@pytest.mark.parametrize("victim", ["busy in the first round", "holding the newest version"])
def test_a_killed_worker_costs_the_rerun_of_its_tasks_only_with_the_same_bits(
        corpus, expected, victim):
    import logging
    import multiprocessing

    killed: list[str] = []
    rounds = 1 if victim.startswith("busy") else 3  # reported before the kill (of 5 an epoch)
    reported: list[dict] = []

    def kill_a_worker(step: dict) -> None:
        reported.append(step)
        if killed or len(reported) < rounds:
            return
        if victim.startswith("busy"):
            # one still training a task if there is one, else either
            busy = [w for w, keys in client.processing().items() if keys]
            worker = (busy or sorted(client.nthreads()))[0]
        else:
            # the one holding the last version merged: losing it used to rerun every round
            # back to the epoch's start
            merged = {_round_of(key): holders for key, holders in client.who_has().items()
                      if key.startswith("model-") and holders}
            worker = merged[max(merged)][0]
        for pid in client.run(os.getpid, workers=[worker]).values():
            os.kill(pid, signal.SIGKILL)
            killed.append(worker)

    processes = len(multiprocessing.active_children())
    runs = _Runs()
    # a cluster of its own: under load its nanny may fail to start the worker again, and
    # the run must then finish on the other one
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", silence_logs=logging.CRITICAL
                                  ) as cluster, distributed.Client(cluster) as client:
        cluster.scheduler.add_plugin(runs)
        trained = train_on_cluster(corpus, CONFIG, client, on_round=kill_a_worker, **SMALL)
    assert len(multiprocessing.active_children()) == processes  # no worker left behind
    assert killed
    assert np.array_equal(trained.vectors, expected.vectors)
    assert np.array_equal(trained.output, expected.output)
    assert trained.history[-1]["loss"] == expected.history[-1]["loss"]
    # only what the killed worker held reran: its training tasks of the last round reported
    # and of those in flight (never one that ran on the other worker, nor an older round)
    first: dict[str, str] = {}
    reran = set()
    for key, worker in runs.runs:
        if key.startswith("round-"):
            if key in first:
                reran.add(key)
            first.setdefault(key, worker)
    assert {first[key] for key in reran} <= {killed[0]}, sorted(reran)
    assert all(_round_of(key) >= (0, rounds - 1) for key in reran), sorted(reran)


def test_a_second_worker_lost_during_the_reruns_gives_the_same_bits(corpus, expected):
    import logging
    import multiprocessing

    killed: list[str] = []
    runs = _Runs()

    def kill_two_workers(step: dict) -> None:
        if killed or step["round"] < 3:
            return
        pids = client.run(os.getpid)
        merged = {_round_of(key): holders for key, holders in client.who_has().items()
                  if key.startswith("model-") and holders}
        first = merged[max(merged)][0]  # the newest version's merger, then the other one
        for worker in (first, *(w for w in pids if w != first)):
            if killed and not runs.rerun.wait(60):  # once the first one's reruns started
                break
            os.kill(pids[worker], signal.SIGKILL)
            killed.append(worker)

    processes = len(multiprocessing.active_children())
    # both workers lost (their nannies start them again): every copy of a version goes with
    # them, and no worker may be there when the next round is submitted
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", silence_logs=logging.CRITICAL
                                  ) as cluster, distributed.Client(cluster) as client:
        cluster.scheduler.add_plugin(runs)
        trained = train_on_cluster(corpus, CONFIG, client, on_round=kill_two_workers, **SMALL)
    assert len(multiprocessing.active_children()) == processes
    assert len(killed) == 2
    assert np.array_equal(trained.vectors, expected.vectors)
    assert np.array_equal(trained.output, expected.output)
    assert trained.history[-1]["loss"] == expected.history[-1]["loss"]


def test_a_round_submitted_while_no_worker_is_connected_goes_to_any(client, corpus, expected,
                                                                     monkeypatch):
    # every worker lost and not yet started again when the driver submits a round
    monkeypatch.setattr(client, "nthreads", dict)
    monkeypatch.setattr("embedkit.w2v.cluster.NO_WORKER_SECONDS", math.inf)
    trained = train_on_cluster(corpus, CONFIG, client, **SMALL)
    assert np.array_equal(trained.vectors, expected.vectors)


def test_the_planted_analogies_are_recovered(client, tmp_path):
    corpus = tmp_path / "planted.txt"
    with open(corpus, "w") as out:
        write_planted_corpus(out, 20_000, np.random.default_rng(3))
    questions = tmp_path / "questions.txt"
    questions.write_text(": planted\n" + "".join(" ".join(q) + "\n" for q in planted_analogies()))
    trained = train_on_cluster([corpus], Word2VecConfig(dim=50, epochs=4, threads=2), client,
                               sync_every=40_000)
    result = evaluate_analogies(KeyedVectors(trained.vocab.words, trained.vectors), questions)
    # measured 0.80 (deterministic); one thread on one machine: 0.86; one round per epoch
    # (sync_every 200,000): 0.54
    assert result.overall.accuracy >= 0.7
    losses = [record["loss"] for record in trained.history]
    assert losses == sorted(losses, reverse=True)


def test_a_run_resumed_from_its_checkpoint_gives_the_same_bits(client, corpus, expected,
                                                              tmp_path):
    checkpoint = tmp_path / "ck.npz"

    def stop_after_the_first_epoch(record: dict) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_on_cluster(corpus, CONFIG, client, callback=stop_after_the_first_epoch,
                         checkpoint=checkpoint, **SMALL)
    resumed = train_on_cluster(corpus, CONFIG, client, resume=checkpoint, **SMALL)
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    assert np.array_equal(resumed.vectors, expected.vectors)
    assert np.array_equal(resumed.output, expected.output)
    with pytest.raises(EmbedkitError, match="written with sync_every = 8000, this run has 9000"):
        train_on_cluster(corpus, CONFIG, client, resume=checkpoint, range_bytes=20_000,
                         sync_every=9_000)


@pytest.mark.usefixtures("default_sigint")
def test_ctrl_c_cancels_and_says_where_training_stopped(client, corpus):
    def press_ctrl_c(step: dict) -> None:
        os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(Interrupted, match=r"training stopped in epoch 1 of 2, after [\d,]+ of"):
        train_on_cluster(corpus, CONFIG, client, on_round=press_ctrl_c, **SMALL)
    # the round's other tasks were cancelled: soon nothing is left to run (a task already
    # running finishes its slice, and its result is dropped)
    deadline = time.monotonic() + 30
    while any(client.processing().values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(client.processing().values())


def test_bad_settings_fail_before_the_cluster_is_used(client, corpus):
    with pytest.raises(EmbedkitError, match="sync_every 0: expected at least 1"):
        train_on_cluster(corpus, CONFIG, client, sync_every=0)
    with pytest.raises(EmbedkitError, match="merge 'mean': expected one of sum, average, sqrt"):
        train_on_cluster(corpus, CONFIG, client, merge="mean")
    with pytest.raises(EmbedkitError, match="subwords are not trained on a cluster yet"):
        train_on_cluster(corpus, Word2VecConfig(minn=3, maxn=6), client)


# ---- the command -------------------------------------------------------------------------

def test_the_command_trains_on_a_local_cluster_and_writes_every_output(cli, corpus, tmp_path,
                                                                       expected):
    out = tmp_path / "v.vec"
    result = cli("train-w2v", *corpus, "--cluster", "local:1", "--dim", 16, "--epochs", 2,
                 "--seed", 5, "--threads", 3, "--sync-every", SMALL["sync_every"], "-o", out,
                 "--log-json", tmp_path / "log.jsonl", "--save-vocab", tmp_path / "vocab.tsv",
                 "--checkpoint", tmp_path / "ck.npz")
    assert result.exit_code == 0, result.stderr
    assert [line.split("  ")[0] for line in result.stderr.splitlines()] == \
        ["epoch 1/2", "epoch 2/2"]
    # one worker process, three tasks per round: the bits of two workers
    vectors = load_vectors(out)
    assert vectors.words == expected.vocab.words
    np.testing.assert_allclose(vectors.vectors, expected.vectors, atol=1e-5)  # text: 6 digits
    records = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["loss"] for r in records] == [h["loss"] for h in expected.history]
    assert (tmp_path / "vocab.tsv").read_text() == cli("vocab", *corpus).stdout
    assert (tmp_path / "ck.npz").exists()


class DaskCommands:
    """A scheduler started by the ``dask`` command (:meth:`scheduler`) and its workers
    (:meth:`worker`), each in a session of its own (a worker's nanny and its worker process
    stop together), as the README's recipe for several machines starts them."""

    def __init__(self, directory) -> None:
        from pathlib import Path

        self.dask = Path(sys.executable).parent / "dask"
        if not self.dask.exists():
            pytest.skip("the dask command (with the 'cluster' extra) is absent")
        self.directory = directory
        self.started: dict[str, Any] = {}

    def _start(self, name: str, directory, *args: object) -> None:
        import subprocess

        self.started[name] = subprocess.Popen([self.dask, *args], cwd=directory,
                                              stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL,
                                              start_new_session=True)

    def scheduler(self) -> str:
        """Start the scheduler; its address."""
        address_file = self.directory / "scheduler.json"
        self._start("scheduler", self.directory, "scheduler", "--host", "127.0.0.1",
                    "--port", "0", "--no-dashboard", "--scheduler-file", address_file)
        deadline = time.monotonic() + 60
        while not address_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        return json.loads(address_file.read_text())["address"]

    def worker(self, name: str) -> None:
        """Start a worker of one thread in a directory of its own."""
        (self.directory / name).mkdir()
        self._start(name, self.directory / name, "worker", "--scheduler-file",
                    self.directory / "scheduler.json", "--nthreads", "1", "--no-dashboard",
                    "--name", name, "--local-directory", self.directory / name)

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        """Stop a command and wait for it (killed after 30 s)."""
        import subprocess

        process = self.started.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def dask_commands(tmp_path):
    commands = DaskCommands(tmp_path)
    try:
        yield commands
    finally:
        for name in reversed(list(commands.started)):  # workers first
            commands.stop(name)


def test_a_cluster_started_by_the_dask_commands_gives_the_bits_of_a_local_one(
        cli, corpus, tmp_path, expected, dask_commands):
    """The README's recipe for several machines, on this one: a scheduler and two workers
    started as commands, each worker in a directory of its own, the corpus by its path."""
    address = dask_commands.scheduler()
    for name in ("a", "b"):
        dask_commands.worker(name)
    with distributed.Client(address, timeout=60) as client:
        client.wait_for_workers(2, timeout=60)
    out = tmp_path / "v.bin"
    result = cli("train-w2v", *corpus, "--cluster", address, "--dim", 16, "--epochs", 2,
                 "--seed", 5, "--threads", 3, "--sync-every", SMALL["sync_every"], "-o", out)
    assert result.exit_code == 0, result.stderr
    vectors = load_vectors(out)
    assert vectors.words == expected.vocab.words
    assert np.array_equal(vectors.vectors, expected.vectors)


@pytest.mark.timeout(300)
def test_a_run_whose_every_worker_is_lost_stops_with_one_line(cli, corpus, tmp_path,
                                                              dask_commands, monkeypatch):
    # the tasks waited for a worker forever, and so did the command
    monkeypatch.setattr("embedkit.w2v.cluster.NO_WORKER_SECONDS", 3.0)
    address = dask_commands.scheduler()
    dask_commands.worker("only")
    with distributed.Client(address, timeout=60) as client:
        client.wait_for_workers(1, timeout=60)
        lost: list[float] = []

        def lose_the_worker(step: dict) -> None:
            if not lost:  # after the first round: the nanny killed with its worker
                dask_commands.stop("only", signal.SIGKILL)
                lost.append(time.monotonic())
        with pytest.raises(EmbedkitError) as caught:
            train_on_cluster(corpus, CONFIG, client, on_round=lose_the_worker, **SMALL)
        assert lost and time.monotonic() - lost[0] < 60
    assert str(caught.value) == ("cluster: no worker connected to the scheduler for 3 s "
                                 "(every worker lost, none started again): training stopped, "
                                 "nothing written")
    # before training too: the command, whose workers size the files first
    out = tmp_path / "v.vec"
    result = cli("train-w2v", *corpus, "--cluster", address, "-o", out)
    assert result.exit_code == 1
    assert result.stderr == ("embedkit: error: cluster: no worker connected to the scheduler "
                             "for 3 s (every worker lost, none started again): training "
                             "stopped, nothing written\n")
    assert not out.exists()


@pytest.mark.usefixtures("default_sigint")
def test_ctrl_c_in_the_command_stops_its_cluster_and_writes_nothing(cli, corpus, tmp_path,
                                                                    monkeypatch):
    import multiprocessing

    import embedkit.w2v.cluster as cluster

    gather = cluster._gather

    def gather_then_press_ctrl_c(*args):  # after the driver receives a round's figures
        results = gather(*args)
        if isinstance(results[0], cluster.RoundFigures):
            os.kill(os.getpid(), signal.SIGINT)
        return results

    monkeypatch.setattr(cluster, "_gather", gather_then_press_ctrl_c)
    processes = len(multiprocessing.active_children())  # the module's cluster's
    result = cli("train-w2v", *corpus, "--cluster", "local:1", "--dim", 16, "--epochs", 2,
                 "--sync-every", SMALL["sync_every"], "-o", tmp_path / "v.vec",
                 "--log-json", tmp_path / "log.jsonl")
    assert result.exit_code == 130
    assert result.stderr.splitlines()[-1].startswith(
        "embedkit: interrupted: training stopped in epoch 1 of 2, after ")
    assert os.listdir(tmp_path) == []
    assert len(multiprocessing.active_children()) == processes  # its worker process stopped


def test_without_dask_the_option_names_the_extra(cli, corpus, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails
    result = cli("train-w2v", *corpus, "--cluster", "local:2", "-o", tmp_path / "v.vec")
    assert result.exit_code == 1
    assert result.stderr == ("embedkit: error: training on a cluster needs Dask: pip install "
                             "'embedkit[cluster]'\n")
    assert os.listdir(tmp_path) == []


def test_an_unreachable_scheduler_is_one_line(cli, corpus, tmp_path, monkeypatch):
    import embedkit.w2v.cluster as cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 1)
    result = cli("train-w2v", *corpus, "--cluster", "tcp://127.0.0.1:1", "-o", tmp_path / "v")
    assert result.exit_code == 1
    assert result.stderr.startswith("embedkit: error: --cluster tcp://127.0.0.1:1: cannot "
                                    "reach the Dask scheduler (")
    assert len(result.stderr.splitlines()) == 1 and os.listdir(tmp_path) == []
    result = cli("train-w2v", *corpus, "--cluster", "local:0", "-o", tmp_path / "v")
    assert result.stderr == ("embedkit: error: --cluster local:0: expected local:N with N >= 1 "
                             "worker processes, or a scheduler address tcp://HOST:PORT\n")


def test_a_path_the_workers_cannot_read_is_one_line(cli, client, corpus, tmp_path):
    missing = tmp_path / "missing.txt"
    result = cli("train-w2v", corpus[0], missing, "--cluster", client.scheduler.address,
                 "-o", tmp_path / "v.vec")
    assert result.exit_code == 1
    assert result.stderr == (f"embedkit: error: {missing}: no such file (a worker of the "
                             "cluster could not open it: every worker must reach the corpus "
                             "by the same path or URL)\n")
    assert os.listdir(tmp_path) == []
