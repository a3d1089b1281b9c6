"""Training tasks shared out to forked worker processes over matrices in shared memory.

The tasks of an epoch are handed to one forked process per worker through a bounded queue;
the processes update the same matrices, held in shared memory (:func:`shared_zeros`), without
locks (Hogwild, as word2vec and gensim do with threads). Processes rather than threads: the
per-minibatch Python work holds the GIL, and two threads measured slower than one. With one
worker the tasks run inline, in order.

Ctrl-C is held until a task boundary (:func:`interrupt_between_tasks`), where the training
process raises ``KeyboardInterrupt`` and stops every worker process at once; the workers
themselves ignore SIGINT. A warning raised in a worker process is sent to the training
process and raised again there, once per message, where the caller can see it.
"""

from __future__ import annotations

import contextlib
import mmap
import multiprocessing
import queue
import signal
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

import numpy as np

from embedkit.errors import EmbedkitError

#: Tasks waiting for worker processes: enough to cover tokenising the next chunk.
QUEUED_TASKS = 64

Progress = Callable[[dict], None]


class PoolWorker(Protocol):
    """What :func:`run_tasks` needs of a worker: it trains a task, reporting progress, and
    keeps a tally of the epoch (sent back from a worker process when the epoch ends)."""

    tally: Any

    def run(self, task: Any, progress: Progress | None) -> None: ...


def shared_zeros(shape: tuple[int, int], shared: bool) -> np.ndarray:
    """A float32 zero matrix, in memory shared with forked worker processes if asked."""
    if not shared:
        return np.zeros(shape, dtype=np.float32)
    size = max(1, shape[0] * shape[1] * 4)
    return np.frombuffer(mmap.mmap(-1, size), dtype=np.float32,
                         count=shape[0] * shape[1]).reshape(shape)


@contextlib.contextmanager
def interrupt_between_tasks() -> Iterator[Callable[[], None]]:
    """Hold Ctrl-C until the training loop reaches a task boundary.

    A ``KeyboardInterrupt`` raised at an arbitrary bytecode can be lost (inside a finaliser,
    or turned into another error by a C extension halfway through a call); instead SIGINT
    sets a flag and the returned check raises ``KeyboardInterrupt`` where the loop calls it.
    Only in the main thread, and only over Python's default handler (a caller's own handler
    is left alone, and then the check never raises).
    """
    pressed = threading.Event()

    def check() -> None:
        if pressed.is_set():
            raise KeyboardInterrupt

    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield check
        return
    previous = signal.signal(signal.SIGINT, lambda *_: pressed.set())
    try:
        yield check
    finally:
        signal.signal(signal.SIGINT, previous)


def run_tasks(tasks: Iterable[Any], workers: Sequence[PoolWorker],
              progress: Progress | None, interrupted: Callable[[], None]) -> list[Any]:
    """Train every task, inline with one worker, else in one forked process per worker
    (the matrices they update must be in shared memory); returns each worker's tally.

    Parameters
    ----------
    tasks : iterable
        Consumed here, in order; each is sent to a worker process (pickled: keep it small).
    workers : sequence of PoolWorker
        One per process; forked with their state, so each starts from its own copy.
    progress : callable, optional
        Called in this process with what the workers report.
    interrupted : callable
        Called between tasks (and while waiting for the workers); raises
        ``KeyboardInterrupt`` to stop (see :func:`interrupt_between_tasks`).

    Raises
    ------
    EmbedkitError
        When a worker process ended without reporting its tally.
    BaseException
        The first exception raised in a worker, re-raised here once all have stopped.
    """
    if len(workers) == 1:
        for task in tasks:
            interrupted()
            workers[0].run(task, progress)
        return [workers[0].tally]
    context = multiprocessing.get_context("fork")
    todo, done = context.Queue(maxsize=QUEUED_TASKS), context.Queue()
    processes = [context.Process(target=_serve, args=(w, todo, done), daemon=True)
                 for w in workers]
    tallies: list[Any] = []
    failures: list[BaseException] = []

    def handle(message: tuple) -> None:
        kind, value = message
        if kind == "progress" and progress is not None:
            progress(value)
        elif kind == "tally":
            tallies.append(value)
        elif kind == "error":
            failures.append(value)
        elif kind == "warning":
            category, text = value
            warnings.warn(text, category, stacklevel=1)

    def drain(timeout: float | None = None) -> None:
        try:
            handle(done.get(timeout=timeout) if timeout else done.get_nowait())
            while True:
                handle(done.get_nowait())
        except queue.Empty:
            pass

    def stop() -> bool:
        # A worker killed (out of memory, a signal) or gone with os._exit sends nothing, and
        # it may die holding the lock of the queue the others report on: they would then wait
        # for it for ever, so stop at the first one that ended with a non-zero status.
        return bool(failures) or any(p.exitcode not in (None, 0) for p in processes)

    def send(item: Any) -> bool:
        while not stop():
            interrupted()
            try:
                todo.put(item, timeout=0.05)
                return True
            except queue.Full:
                drain()
        return False

    for process in processes:
        process.start()
    try:
        for task in tasks:
            if not send(task):
                break
            drain()
        else:
            for _ in processes:
                if not send(None):
                    break
        while not stop() and len(tallies) < len(processes):
            interrupted()
            drain(timeout=0.05)
            if not any(p.is_alive() for p in processes) and done.empty():
                break
        drain()  # a failing worker's error may follow its exit
    finally:
        aborted = failures or len(tallies) < len(processes)
        if aborted:  # tasks left in the queue's pipe must not keep the parent from exiting
            todo.cancel_join_thread()
        for process in processes:  # on failure or Ctrl-C, stop the others at once
            if aborted:
                process.terminate()
            process.join()
    if failures:
        raise failures[0]
    if len(tallies) < len(processes):
        raise EmbedkitError("a training worker process ended unexpectedly")
    return tallies


def _serve(worker: PoolWorker, todo: Any, done: Any) -> None:
    """A worker process: train tasks until the None sentinel, then report the tally.

    Ctrl-C is the parent's to handle (it stops every worker): a worker ignores SIGINT, so
    one sent to the whole process group by a terminal does not end it halfway through a
    message.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sent: set[tuple[type[Warning], str]] = set()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # each is sent once below, whatever its origin
        try:
            while (task := todo.get()) is not None:
                worker.run(task, lambda record: done.put(("progress", record)))
                _send_warnings(caught, sent, done)
        except BaseException as exc:  # noqa: BLE001 - sent to the parent, which re-raises it
            _send_warnings(caught, sent, done)
            done.put(("error", exc))
            return
    done.put(("tally", worker.tally))


def _send_warnings(caught: list[warnings.WarningMessage], sent: set, done: Any) -> None:
    """Send the parent each warning not sent before (a forked process's own warnings would
    otherwise go nowhere: the parent's record of them is not shared)."""
    for message in caught:
        key = (message.category, str(message.message))
        if key not in sent:
            sent.add(key)
            done.put(("warning", key))
    caught.clear()
