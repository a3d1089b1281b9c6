"""The worker pool of train-w2v (embedkit.w2v.pool) with toy workers: every task trained once,
tallies and progress reported to the training process, errors, warnings, dead workers and
Ctrl-C handled there."""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading
import time
import warnings

import numpy as np
import pytest

from embedkit.errors import EmbedkitError
from embedkit.w2v.pool import (
    QUEUED_TASKS,
    _serve,
    interrupt_between_tasks,
    run_tasks,
    shared_zeros,
)


class Adder:
    """Adds each task's number into row ``task`` of a shared matrix; tallies its tasks."""

    def __init__(self, matrix, fail_on=None, warn=False, exit_on=None):
        self.matrix, self.fail_on, self.warn, self.exit_on = matrix, fail_on, warn, exit_on
        self.tally = []

    def run(self, task, progress):
        if task == self.exit_on:
            os._exit(3)
        if self.warn:
            warnings.warn(f"task parity {task % 2}", RuntimeWarning, stacklevel=1)
        if task == self.fail_on:
            raise ValueError(f"task {task} failed")
        self.matrix[task] += task
        self.tally.append(task)
        if progress is not None:
            progress({"task": task, "pid": os.getpid()})


def _never():
    pass


@pytest.mark.parametrize("workers", [1, 2])
def test_every_task_is_trained_once_and_reported(workers):
    matrix = shared_zeros((40, 3), shared=workers > 1)
    team = [Adder(matrix) for _ in range(workers)]
    seen = []
    tallies = run_tasks(iter(range(40)), team, seen.append, _never)
    assert len(tallies) == workers
    assert sorted(t for tally in tallies for t in tally) == list(range(40))
    np.testing.assert_array_equal(matrix[:, 0], np.arange(40))  # written where all can see it
    assert sorted(record["task"] for record in seen) == list(range(40))
    if workers == 1:  # inline, in order, in this process
        assert tallies == [list(range(40))] and team[0].tally == list(range(40))
        assert {record["pid"] for record in seen} == {os.getpid()}
    else:  # in forked processes, each on its own copy of the worker
        assert os.getpid() not in {record["pid"] for record in seen}
        assert team[0].tally == []
    run_tasks(iter(range(3)), team, None, _never)  # no progress hook: nothing to report


def test_shared_zeros_are_float32_zeros_the_forked_workers_write_into():
    for shape in [(4, 3), (0, 5)]:
        for shared in (False, True):
            matrix = shared_zeros(shape, shared)
            assert matrix.shape == shape and matrix.dtype == np.float32
            assert not matrix.any()
    private = shared_zeros((2, 2), shared=False)
    run_tasks(iter([1]), [Adder(private), Adder(private)], None, _never)
    assert not private.any()  # a private matrix: the forked process's writes stay there


def test_a_workers_error_is_raised_in_the_training_process():
    matrix = shared_zeros((2000, 1), shared=True)
    with pytest.raises(ValueError, match="^task 7 failed$"):
        run_tasks(iter(range(2000)), [Adder(matrix, fail_on=7), Adder(matrix, fail_on=7)],
                  None, _never)
    assert np.count_nonzero(matrix) < 1000  # the other worker stopped too


def test_a_worker_that_dies_is_an_error_naming_it():
    matrix = shared_zeros((10, 1), shared=True)
    with pytest.raises(EmbedkitError, match="^a training worker process ended unexpectedly$"):
        run_tasks(iter(range(10)), [Adder(matrix, exit_on=4), Adder(matrix, exit_on=4)], None,
                  _never)


class Dier:
    """Ends its process at its first task without a word, as one the kernel killed."""

    tally: list = []

    def run(self, task, progress):
        os._exit(3)


class Hung:
    """Never finishes its task: a worker that hangs, as one waiting on a lock a dead worker
    held."""

    tally: list = []

    def run(self, task, progress):
        time.sleep(3600)


@pytest.mark.timeout(60)
def test_a_dead_worker_stops_the_run_though_another_never_finishes():
    started = time.monotonic()
    with pytest.raises(EmbedkitError, match="^a training worker process ended unexpectedly$"):
        run_tasks(iter(range(2)), [Dier(), Hung()], None, _never)  # one task each
    assert time.monotonic() - started < 30


@pytest.mark.timeout(60)
def test_when_every_worker_dies_the_run_stops_with_tasks_left_to_send():
    with pytest.raises(EmbedkitError, match="^a training worker process ended unexpectedly$"):
        run_tasks(iter(range(10 * QUEUED_TASKS)), [Dier(), Dier()], None, _never)


class LateDier:
    """Ends its process half a second into its first task, when the queue of tasks is full."""

    tally: list = []

    def run(self, task, progress):
        time.sleep(0.5)
        os._exit(3)


@pytest.mark.timeout(60)
def test_workers_that_die_while_the_queue_is_full_stop_the_run():
    # the training process must not wait for room in the queue for ever: nobody takes tasks
    with pytest.raises(EmbedkitError, match="^a training worker process ended unexpectedly$"):
        run_tasks(iter(range(10 * QUEUED_TASKS)), [LateDier(), LateDier()], None, _never)


def test_warnings_in_workers_are_raised_once_per_message_in_the_training_process():
    matrix = shared_zeros((30, 1), shared=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_tasks(iter(range(30)), [Adder(matrix, warn=True), Adder(matrix, warn=True)], None,
                  _never)
    messages = [(w.category, str(w.message)) for w in caught]
    # one per message and worker process: at most two of each
    assert set(messages) == {(RuntimeWarning, "task parity 0"),
                             (RuntimeWarning, "task parity 1")}
    assert {os.path.basename(w.filename) for w in caught} == {"pool.py"}  # raised there again
    assert 2 <= len(messages) <= 4


def test_the_warnings_of_a_failing_task_reach_the_training_process_before_its_error():
    matrix = shared_zeros((4, 1), shared=True)
    with warnings.catch_warnings(record=True) as caught, pytest.raises(ValueError):
        warnings.simplefilter("always")
        run_tasks(iter([3]), [Adder(matrix, warn=True, fail_on=3),
                              Adder(matrix, warn=True, fail_on=3)], None, _never)
    assert [str(w.message) for w in caught] == ["task parity 1"]


@pytest.mark.parametrize("workers", [1, 2])
def test_an_interrupt_between_tasks_stops_every_worker(workers):
    matrix = shared_zeros((1000, 1), shared=workers > 1)
    calls = []

    def interrupted():
        calls.append(1)
        if len(calls) > 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_tasks(iter(range(1000)), [Adder(matrix) for _ in range(workers)], None, interrupted)
    assert matrix.sum() < sum(range(1000))
    if workers == 1:
        assert np.count_nonzero(matrix) == 4  # tasks 0 to 4 ran (task 0 adds nothing)


def test_ctrl_c_is_held_until_the_check_and_the_handler_restored(default_sigint):
    before = signal.getsignal(signal.SIGINT)
    with interrupt_between_tasks() as interrupted:
        interrupted()  # nothing pressed yet
        os.kill(os.getpid(), signal.SIGINT)  # no KeyboardInterrupt here
        with pytest.raises(KeyboardInterrupt):
            interrupted()
    assert signal.getsignal(signal.SIGINT) is before


def test_a_callers_own_sigint_handler_is_left_alone():
    pressed = []

    def handler(*_):
        pressed.append(1)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        with interrupt_between_tasks() as interrupted:
            assert signal.getsignal(signal.SIGINT) is handler
            os.kill(os.getpid(), signal.SIGINT)
            interrupted()  # the caller's handler took it: never raises
        assert pressed == [1] and signal.getsignal(signal.SIGINT) is handler
    finally:
        signal.signal(signal.SIGINT, previous)


def test_outside_the_main_thread_ctrl_c_is_not_touched(default_sigint):
    before, found = signal.getsignal(signal.SIGINT), []

    def train():
        with interrupt_between_tasks() as interrupted:
            found.append(signal.getsignal(signal.SIGINT))
            interrupted()

    thread = threading.Thread(target=train)
    thread.start()
    thread.join()
    assert found == [before]


class Sleeper(Adder):
    def run(self, task, progress):
        time.sleep(0.3)
        super().run(task, progress)


def test_the_training_process_waits_for_its_workers_without_spinning():
    calls = []
    matrix = shared_zeros((4, 1), shared=True)
    run_tasks(iter(range(4)), [Sleeper(matrix), Sleeper(matrix)], None,
              lambda: calls.append(1))
    # about 0.6 s of waiting, checked every 0.05 s: a busy loop would check thousands of times
    assert len(calls) < 200
    np.testing.assert_array_equal(matrix[:, 0], np.arange(4))


def test_workers_are_forked_whatever_the_default_start_method():
    # the shared matrices and the workers' state reach the processes by fork, not by pickling
    previous = multiprocessing.get_start_method(allow_none=True)
    multiprocessing.set_start_method("spawn", force=True)
    try:
        matrix = shared_zeros((6, 1), shared=True)
        run_tasks(iter(range(6)), [Adder(matrix), Adder(matrix)], None, _never)
    finally:
        multiprocessing.set_start_method(previous, force=True)
    np.testing.assert_array_equal(matrix[:, 0], np.arange(6))


class SlowFailer(Adder):
    """Fails its first task after ``delay`` seconds: by then every task and the sentinels
    wait for room in a full queue (the other worker hangs)."""

    def __init__(self, delay):
        super().__init__(None)
        self.delay = delay

    def run(self, task, progress):
        time.sleep(self.delay)
        raise ValueError(f"task {task} failed")


@pytest.mark.timeout(60)
def test_a_worker_failing_while_the_sentinels_wait_for_room_is_raised():
    # 2 tasks taken, QUEUED_TASKS fill the queue: the end-of-epoch sentinels wait for room
    # when the error arrives, which must still be raised, not dropped with a None result
    with pytest.raises(ValueError, match="^task 1 failed$"):
        run_tasks(iter(range(QUEUED_TASKS + 2)), [Hung(), SlowFailer(2.0)], None, _never)


def _served(worker, tasks):
    """Run a worker process's loop here, on plain queues, with ``tasks`` and the sentinel
    queued: the messages it sends the training process, and what is left of ``todo``
    (the loop runs forked in training, where no test of this process sees it)."""
    todo, done = queue.Queue(), queue.Queue()
    for task in tasks:
        todo.put(task)
    previous = signal.getsignal(signal.SIGINT)
    try:
        _serve(worker, todo, done)
    finally:
        signal.signal(signal.SIGINT, previous)
    return [done.get_nowait() for _ in range(done.qsize())], [
        todo.get_nowait() for _ in range(todo.qsize())]


class SignalSpy(Adder):
    """Records the SIGINT handler in force while it trains."""

    def run(self, task, progress):
        self.handler = signal.getsignal(signal.SIGINT)
        super().run(task, progress)


def test_a_worker_process_trains_until_the_sentinel_then_sends_its_tally():
    worker = SignalSpy(np.zeros((8, 1)))
    sent, left = _served(worker, [3, 5, None, 7])
    pid = os.getpid()
    assert sent == [("progress", {"task": 3, "pid": pid}), ("progress", {"task": 5, "pid": pid}),
                    ("tally", [3, 5])]
    assert left == [7]  # nothing after the sentinel taken
    np.testing.assert_array_equal(worker.matrix[:, 0], [0, 0, 0, 3, 0, 5, 0, 0])
    # a terminal's Ctrl-C goes to the whole process group: the parent alone handles it
    assert worker.handler is signal.SIG_IGN


def test_a_worker_process_sends_each_warning_once_after_the_task_that_raised_it():
    sent, _ = _served(Adder(np.zeros((8, 1)), warn=True), [2, 4, 3, 1, None])
    pid = os.getpid()
    parity = [("warning", (RuntimeWarning, f"task parity {p}")) for p in (0, 1)]
    assert sent == [("progress", {"task": 2, "pid": pid}), parity[0],
                    ("progress", {"task": 4, "pid": pid}),
                    ("progress", {"task": 3, "pid": pid}), parity[1],
                    ("progress", {"task": 1, "pid": pid}), ("tally", [2, 4, 3, 1])]


def test_a_worker_process_sends_a_failing_tasks_warnings_then_its_error_and_stops():
    sent, left = _served(Adder(np.zeros((8, 1)), warn=True, fail_on=2), [1, 2, 5, None])
    assert [kind for kind, _ in sent] == ["progress", "warning", "warning", "error"]
    assert sent[1:3] == [("warning", (RuntimeWarning, "task parity 1")),
                         ("warning", (RuntimeWarning, "task parity 0"))]
    error = sent[3][1]
    assert isinstance(error, ValueError) and str(error) == "task 2 failed"
    assert left == [5, None]  # no tally: the training process re-raises the error


class Interrupted:
    tally: list = []

    def run(self, task, progress):
        raise KeyboardInterrupt


def test_any_exception_in_a_worker_process_is_sent_not_raised_there():
    sent, _ = _served(Interrupted(), [0, None])
    assert len(sent) == 1 and sent[0][0] == "error"
    assert isinstance(sent[0][1], KeyboardInterrupt)
