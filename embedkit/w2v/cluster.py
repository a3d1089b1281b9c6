"""word2vec trained by a Dask cluster: one model, in synchronous rounds, deterministic.

The driver (this process) never reads the corpus. Workers size the files, which are cut into
line-aligned byte ranges (:mod:`embedkit.text.ranges`; a compressed file is one range):

1. **Vocabulary**: one counting task per range, the counts merged pairwise by a tree of tasks;
   the driver receives only the merged counts and selects the vocabulary as ``embedkit
   vocab`` does, so it is the same, bit for bit (when no range had to prune its counts).
2. **Encoding**: one task per range turns its text into vocabulary ids; the corpus's ids
   are then cut into ``shares`` (``config.threads``) equal runs of whole sentences, one per
   task of a round. Ids stay on the workers; a lost one is recomputed by Dask from its range.
3. **Rounds**: an epoch is cut into rounds of about ``sync_every`` words of the whole
   cluster. In round ``r`` every share trains the ``r``-th of its slices on its own copy of
   the current model with the single-machine trainer (:class:`~embedkit.w2v.worker.Worker`,
   in one thread, like ``threads=1``) and returns the rows it changed and by how much; a
   merge task on a worker adds the changes to the model in task order (:data:`MERGES`),
   and its result is the next version, which the next round's tasks fetch from that worker.
   Neither the changes nor the model pass through the driver within an epoch: it submits
   the rounds ahead (:data:`AHEAD`), so a round starts as soon as the merge before it ends,
   and receives a few figures per round. Each epoch starts from the driver's model, handed
   out as the result of a task (which Dask can rerun if the worker holding it dies;
   scattered data it could not make again), and the driver fetches the model at its end.

A task is a pure function of the model version, its share, the seed, the epoch and the round:
its subsampling, windows and negatives come from a generator seeded by (seed, epoch, task
number). So the same seed, number of shares and round length give the same bits whatever the
number of workers, and a task rerun by Dask after its worker died gives the same result.
A lost worker costs the rerun of what it held that is still needed, and nothing older: its
running tasks, its results of the rounds not yet safe, and a model version it merged
(:func:`_train` says how: consecutive merges run on different workers, and each version
stays on two of them until the next one does).
The learning rate follows the words of the whole cluster: a task at a fraction ``f`` of its slice
trains at the rate of the cluster's words before the round plus ``f`` times the round's words.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import math
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from threadpoolctl import threadpool_limits

from embedkit.core.schedules import linear_decay
from embedkit.errors import EmbedkitError
from embedkit.text.corpus import CorpusPaths, corpus_name
from embedkit.text.idcache import Span
from embedkit.text.noise import NoiseDistribution
from embedkit.text.ranges import DEFAULT_RANGE_BYTES, ByteRange, file_size, iter_range_blocks
from embedkit.text.ranges import split_ranges as _split_ranges
from embedkit.text.stream import IdChunk, id_chunks
from embedkit.text.subsample import keep_probabilities
from embedkit.text.tokenize import Tokenizer
from embedkit.text.vocab import (
    DEFAULT_MAX_SIZE,
    Vocabulary,
    WordCounts,
    count_words,
    prune_counts,
    vocabulary_from_counts,
)
from embedkit.training import DEFAULT_CHECKPOINT_EVERY, Checkpoints, training_stopped
from embedkit.w2v.checkpoint import Word2VecState, load_checkpoint, run_context, save_checkpoint
from embedkit.w2v.config import Word2VecConfig
from embedkit.w2v.pool import interrupt_between_tasks
from embedkit.w2v.train import Word2Vec, check_finite, initialize
from embedkit.w2v.worker import Task, Worker

if TYPE_CHECKING:
    from distributed import Client, Future

__all__ = ["DEFAULT_SYNC_EVERY", "DEFAULT_SYNC_EVERY_MANY", "MERGES", "cluster_client",
           "cluster_vocabulary", "train_on_cluster"]

#: Words of the whole cluster between two merges, with at most 2 tasks per round and with
#: more (see :func:`default_merge` and the README's cluster section for the measurements).
DEFAULT_SYNC_EVERY = 400_000
DEFAULT_SYNC_EVERY_MANY = 25_000
#: How a round's merge combines the changes of its tasks: ``sum`` adds them all (what
#: Hogwild threads do to a shared model), ``average`` divides each row's summed change by the
#: number of tasks that changed it (model averaging restricted to the touched rows), ``sqrt``
#: by the square root of that number (between the two), ``momentum`` is block momentum
#: (Chen & Huo, ICASSP 2016): the round's mean change over all tasks is added to a
#: momentum decayed by ``1 - 1/tasks`` each round, and the momentum to the model, so that a
#: row moving steadily moves as summed changes would move it, and a row every task brought
#: to its equilibrium is not thrown past it; at an epoch's end the rest the momentum would
#: add is added at once (:func:`flush_momentum`), and it starts again from zero.
MERGES = ("sum", "average", "sqrt", "momentum")
#: Rounds submitted ahead of the one the driver waits for (so that the next round starts as
#: soon as the merge before it ends).
AHEAD = 2
#: Seconds between a task's reports of its words to the driver's progress bar: events sent
#: through the scheduler (``Worker.log_event``), which the task does not wait for.
PROGRESS_SECONDS = 0.5
#: The extra that brings Dask, as the error without it names it.
EXTRA = "pip install 'embedkit[cluster]'"
#: Seconds to reach a scheduler before giving up.
CONNECT_TIMEOUT = 10
#: Seconds the driver waits while no worker is connected to the scheduler (every one lost,
#: none started again or added) before it stops the run with an error: Dask would keep the
#: tasks waiting for a worker forever.
NO_WORKER_SECONDS = 60.0
#: Seconds between the driver's questions to the scheduler about its workers.
WORKER_POLL_SECONDS = 1.0


@contextlib.contextmanager
def cluster_client(address: str | Client, connect_timeout: float | None = None
                   ) -> Iterator[Client]:
    """A Dask client for ``address``: ``local:N`` starts a local cluster of N worker
    processes of one thread each and stops it on leaving; ``tcp://HOST:PORT`` (or another
    scheme Dask knows) connects to a running scheduler, waiting at most ``connect_timeout``
    seconds (None: :data:`CONNECT_TIMEOUT`); a ``Client`` is used as it is.

    Raises
    ------
    EmbedkitError
        When Dask is not installed (naming the extra), the address is not of these forms or
        the scheduler cannot be reached.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise EmbedkitError(f"training on a cluster needs Dask: {EXTRA}") from None
    if isinstance(address, Client):
        yield address
        return
    if address.startswith("local:"):
        count = address.removeprefix("local:")
        if not (count.isascii() and count.isdigit() and int(count) >= 1):
            raise EmbedkitError(f"cluster {address}: expected local:N with N >= 1 worker "
                                "processes, or a scheduler address tcp://HOST:PORT",
                                params=("cluster",))
        with LocalCluster(n_workers=int(count), threads_per_worker=1, processes=True,
                          dashboard_address=":0",  # any free port: no warning
                          # a task's error reaches the driver, which reports it in one line
                          silence_logs=logging.CRITICAL) as local, \
                Client(local) as client:
            yield client
        return
    if "://" not in address:
        raise EmbedkitError(f"cluster {address}: expected local:N or a scheduler address "
                            "tcp://HOST:PORT", params=("cluster",))
    try:
        client = Client(address, timeout=connect_timeout or CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise EmbedkitError(f"cluster {address}: cannot reach the Dask scheduler ({reason})",
                            params=("cluster",)) from None
    with client:
        yield client


def corpus_ranges(client: Client, paths: CorpusPaths, range_bytes: int = DEFAULT_RANGE_BYTES
                  ) -> list[ByteRange]:
    """The corpus's byte ranges, in corpus order; the files are opened and sized by the
    workers (so a path they cannot read fails here)."""
    names = [os.fspath(p) for p in paths]
    run = uuid.uuid4().hex
    try:
        sizes = _gather(client, [client.submit(file_size, name, key=f"size-{run}-{i}")
                                 for i, name in enumerate(names)], WorkerWatch(client))
    except WorkersGone:
        raise
    except EmbedkitError as exc:
        raise EmbedkitError(f"{exc} (a worker of the cluster could not open it: every worker "
                            "must reach the corpus by the same path or URL)") from None
    return [piece for name, size in zip(names, sizes, strict=True)
            for piece in _split_ranges(name, size, range_bytes)]


def _count_range(piece: ByteRange, tokenizer: Tokenizer, max_size: int) -> WordCounts:
    return count_words((tokenizer.tokens(text) for text in iter_range_blocks(piece)), max_size)


def _merge_counts(max_size: int, *parts: WordCounts) -> WordCounts:
    merged = WordCounts()
    for part in parts:
        merged.counts.update(part.counts)
        merged.tokens += part.tokens
        merged.sentences += part.sentences
        merged.pruned_below = max(merged.pruned_below, part.pruned_below)
    prune_counts(merged, max_size)
    return merged


def cluster_vocabulary(client: Client, paths: CorpusPaths, min_count: int,
                       max_vocab: int | None = None, tokenizer: Tokenizer = Tokenizer(),
                       max_size: int = DEFAULT_MAX_SIZE, range_bytes: int = DEFAULT_RANGE_BYTES,
                       ranges: Sequence[ByteRange] | None = None) -> Vocabulary:
    """:func:`~embedkit.text.vocab.build_vocabulary` on the cluster: one counting task per
    byte range, merged pairwise by a tree of tasks; only the merged counts reach the driver.

    Equal to the single-machine vocabulary when no range pruned its counts (``max_size``
    distinct words are never exceeded within a range); else pruning is per range.

    Raises
    ------
    EmbedkitError
        As :func:`~embedkit.text.vocab.build_vocabulary`, when a worker cannot read a
        file, and when no worker has been connected for :data:`NO_WORKER_SECONDS`.
    """
    if ranges is None:
        ranges = corpus_ranges(client, paths, range_bytes)
    run = uuid.uuid4().hex
    level = [client.submit(_count_range, piece, tokenizer, max_size, key=f"count-{run}-{i}")
             for i, piece in enumerate(ranges)]
    depth = 0
    while len(level) > 1:  # pairs merged in order: a tree of depth log2(ranges)
        depth += 1
        level = [client.submit(_merge_counts, max_size, *level[i:i + 2],
                               key=f"merge-counts-{run}-{depth}-{i}")
                 for i in range(0, len(level), 2)]
    merged = _gather(client, level, WorkerWatch(client))[0] if level else WordCounts()
    return vocabulary_from_counts(merged, paths, min_count, max_vocab)


def _encode_range(piece: ByteRange, vocab: Vocabulary, tokenizer: Tokenizer) -> IdChunk:
    """The range's ids, sentences numbered from 0 across its blocks."""
    return _concatenate(list(id_chunks(iter_range_blocks(piece), vocab, tokenizer)))


def _concatenate(chunks: list[IdChunk]) -> IdChunk:
    """Chunks of whole sentences as one, sentence numbers increasing across them."""
    offsets = np.cumsum([0] + [int(c.sentences[-1]) + 1 if len(c.ids) else 0
                               for c in chunks])[:len(chunks)]
    return IdChunk(np.concatenate([np.empty(0, np.int32)] + [c.ids for c in chunks]),
                   np.concatenate([np.empty(0, np.int32)] +
                                  [c.sentences + np.int32(o) for c, o in
                                   zip(chunks, offsets.tolist(), strict=True)]),
                   sum(c.tokens for c in chunks))


def _sizes(chunk: IdChunk) -> tuple[int, int]:
    return len(chunk.ids), chunk.tokens


def _sentence_starts(sentences: np.ndarray) -> np.ndarray:
    """Where each sentence starts, then the length: increasing positions from 0 to n."""
    return np.concatenate([[0], np.flatnonzero(np.diff(sentences)) + 1, [len(sentences)]])


def _at_sentence(starts: np.ndarray, position: int) -> int:
    """The first sentence start at or after ``position`` (the length if none)."""
    return int(starts[np.searchsorted(starts, position)])


class Share(NamedTuple):
    """The ids a task trains over an epoch, one slice per round, and where sentences start
    (found once, so that a round finds its slice in O(log n))."""

    ids: np.ndarray
    sentences: np.ndarray
    starts: np.ndarray


def _share(first: int, start: int, stop: int, *pieces: IdChunk) -> Share:
    """Ids ``start:stop`` of the corpus (moved on to sentence starts), from the encoded ranges
    that overlap them, the first of which begins at ``first``."""
    whole = _concatenate(list(pieces))
    starts = _sentence_starts(whole.sentences)
    lo, hi = (_at_sentence(starts, p - first) for p in (start, stop))
    sentences = whole.sentences[lo:hi]
    return Share(whole.ids[lo:hi], sentences, _sentence_starts(sentences))


class _Slice:
    """A share read as the id cache is (the trainer reads a ``span`` of it)."""

    def __init__(self, share: Share):
        self.share = share

    def read(self, span: Span) -> IdChunk:
        return IdChunk(self.share.ids[span.start:span.stop],
                       self.share.sentences[span.start:span.stop], span.stop - span.start)


class RoundResult(NamedTuple):
    """What a task sends back: the rows of each matrix it changed and their changes."""

    rows: np.ndarray            # int64 (k,): changed rows of the input matrix
    change: np.ndarray          # float32 (k, dim)
    output_rows: np.ndarray     # int64 (m,)
    output_change: np.ndarray   # float32 (m, dim)
    loss: float                 # summed loss (float64)
    pairs: int
    words: int                  # in-vocabulary words trained
    seconds: float              # compute time


class RoundPlan(NamedTuple):
    """Where a round stands in the run (the same for every task of the round)."""

    epoch: int
    round: int
    rounds: int            # rounds per epoch
    shares: int
    words_before: float    # in-vocabulary words of the cluster before this round
    round_words: float     # the cluster's words per round
    total_words: int       # of all epochs (the rate reaches min_lr there)


def _changed(new: np.ndarray, old: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows where ``new`` differs from ``old``, and by how much.

    One subtraction of the whole matrices, whose rows are then kept where the largest
    absolute difference is not zero (for finite values ``x - y == 0`` exactly when
    ``x == y``, -0.0 and 0.0 included; a NaN counts as changed): a third less time than
    comparing the matrices, reducing the comparison per row and subtracting the rows kept.
    """
    change = new - old
    rows = np.flatnonzero(np.abs(change).max(axis=1))
    return rows, change[rows]


#: The allocator's thresholds while a worker trains a task (bytes; see :class:`_TaskHeap`):
#: glibc's own ceiling for the mmap threshold it adapts, and twice it for trimming, as glibc
#: sets them when it adapts.
TASK_MMAP_THRESHOLD = 32 << 20
#: glibc's ``mallopt`` parameters, and its defaults for both thresholds (bytes).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _GLIBC_THRESHOLD = -1, -3, 128 << 10


class _TaskHeap:
    """While a training task runs in this process, freed memory stays in the heap.

    A Dask worker's nanny starts it with ``MALLOC_TRIM_THRESHOLD_=65536`` (to return memory
    to the system), and any fixed threshold stops glibc from raising its mmap threshold as
    it sees large blocks freed: every minibatch's temporaries above 128 KiB were then mapped
    and unmapped again, faulting in every page, and a task trained 3.5-4.5x slower than the
    same function in a plain process (cProfile: ``take``, the VJPs' scatter and the model's
    copy, all memory-bound, each 4-5x slower). During the task the thresholds are those
    glibc adapts to (:data:`TASK_MMAP_THRESHOLD`); when the last task of the process ends
    they are set back to the environment's (``MALLOC_*_THRESHOLD_``, else glibc's default)
    and the heap is trimmed. Without glibc (no ``mallopt``) nothing is done.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tasks = 0

    @staticmethod
    def _libc() -> Any:
        libc = ctypes.CDLL(None)
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None

    @contextlib.contextmanager
    def kept(self) -> Iterator[None]:
        libc = self._libc()
        if libc is None:
            yield
            return
        with self.lock:
            if not self.tasks:
                libc.mallopt(_M_MMAP_THRESHOLD, TASK_MMAP_THRESHOLD)
                libc.mallopt(_M_TRIM_THRESHOLD, 2 * TASK_MMAP_THRESHOLD)
            self.tasks += 1
        try:
            yield
        finally:
            with self.lock:
                self.tasks -= 1
                if not self.tasks:
                    for name, parameter in (("MALLOC_MMAP_THRESHOLD_", _M_MMAP_THRESHOLD),
                                            ("MALLOC_TRIM_THRESHOLD_", _M_TRIM_THRESHOLD)):
                        value = os.environ.get(name, "")
                        libc.mallopt(parameter, int(value) if value.isdigit()
                                     else _GLIBC_THRESHOLD)
                    libc.malloc_trim(0)


_task_heap = _TaskHeap()


def _train_round(config: Word2VecConfig, parameters: tuple[np.ndarray, np.ndarray],
                 noise: NoiseDistribution, keep: np.ndarray | None, share: Share,
                 index: int, plan: RoundPlan, topic: str | None = None,
                 every: float = PROGRESS_SECONDS) -> RoundResult:
    """Train share ``index``'s slice of round ``plan.round`` on a copy of the model
    (``parameters``: its input and output matrices); with a ``topic``, report the words
    done every ``every`` seconds as events of that topic: ``[epoch, round, index, words]``
    (see :class:`_Reports`)."""
    start = time.perf_counter()
    vectors, output = parameters
    n = len(share.ids)
    lo, hi = (_at_sentence(share.starts, r * n // plan.rounds)
              for r in (plan.round, plan.round + 1))
    words = hi - lo
    base = linear_decay(config.initial_lr, config.min_lr, max(1, plan.total_words))

    reported = time.monotonic()

    def rate(done: float) -> float:  # the cluster's words: this task's fraction of the round
        nonlocal reported
        if topic is not None and time.monotonic() - reported >= every:  # once a minibatch
            reported = time.monotonic()
            from distributed import get_worker

            get_worker().log_event(topic, [plan.epoch, plan.round, index, int(done)])
        return base(plan.words_before + done / max(1, words) * plan.round_words)

    number = plan.round * plan.shares + index
    with _task_heap.kept(), threadpool_limits(limits=1):
        mine, my_output = vectors.copy(), output.copy()
        worker = Worker(config, _Slice(share), mine, my_output, noise, keep, rate)
        worker.run(Task(plan.epoch, number, Span(lo, hi, words), 0.0), None)
        rows, change = _changed(mine, vectors)
        output_rows, output_change = _changed(my_output, output)
    return RoundResult(rows, change, output_rows, output_change, worker.tally.loss,
                       worker.tally.pairs, words, time.perf_counter() - start)


class ModelVersion(NamedTuple):
    """A model version, held by a worker as the result of a task: the two matrices, block
    momentum's two (None: zero, at the start of an epoch or with another rule), and how long
    its merge took (seconds)."""

    vectors: np.ndarray
    output: np.ndarray
    momentum: tuple[np.ndarray, np.ndarray] | None
    merge_seconds: float


def _merged(model: ModelVersion, merge: str, first: bool, last: bool, *results: RoundResult
            ) -> ModelVersion:
    """The next model version: ``model`` plus the round's changes merged in task order.

    With block momentum the momentum starts from zero in an epoch's ``first`` round, and
    after its ``last`` what it would still add over the rounds to come, were no change to
    come, is added at once (:func:`flush_momentum`): an epoch's last changes count as
    fully as its first. Runs on a worker, so the changes go from worker to worker and never
    through the driver; on copies, as a rerun task may still read ``model``.
    """
    start = time.perf_counter()
    vectors, output = model.vectors.copy(), model.output.copy()
    momentum = None
    if merge == "momentum":
        momentum = ((np.zeros_like(vectors), np.zeros_like(output))
                    if first or model.momentum is None
                    else (model.momentum[0].copy(), model.momentum[1].copy()))
    for matrix, changes, velocity in (
            (vectors, [(x.rows, x.change) for x in results],
             None if momentum is None else momentum[0]),
            (output, [(x.output_rows, x.output_change) for x in results],
             None if momentum is None else momentum[1])):
        merge_changes(matrix, changes, merge, velocity)
        if last and velocity is not None:
            flush_momentum(matrix, velocity, len(results))
    return ModelVersion(vectors, output, momentum, time.perf_counter() - start)


def _next_version(parameters: tuple[np.ndarray, np.ndarray],
                  momentum: tuple[np.ndarray, np.ndarray] | None, merge: str, first: bool,
                  last: bool, *results: RoundResult) -> ModelVersion:
    """:func:`_merged` from a version's two parts, each a result of its own (see
    :func:`_train`: a version's parts are what stays on two workers)."""
    return _merged(ModelVersion(*parameters, momentum, 0.0), merge, first, last, *results)


def _parameters(model: ModelVersion) -> tuple[np.ndarray, np.ndarray]:
    """What a round's tasks fetch: the matrices, without the momentum (no copy)."""
    return model.vectors, model.output


def _momentum(model: ModelVersion) -> tuple[np.ndarray, np.ndarray] | None:
    return model.momentum


def _fetched(*values: Any) -> None:
    """Nothing: run on a worker, it makes the worker fetch ``values`` (see :func:`_train`)."""


class RoundFigures(NamedTuple):
    """What the driver receives of a round (a few numbers per task, in task order)."""

    losses: list[float]
    pairs: list[int]
    words: list[int]
    seconds: list[float]        # compute time of each task
    bytes_back: int             # of all tasks' changes
    merge_seconds: float


def _figures(model: ModelVersion, *results: RoundResult) -> RoundFigures:
    """The round's figures, on the worker that merged it (the results are already there)."""
    return RoundFigures([x.loss for x in results], [x.pairs for x in results],
                        [x.words for x in results], [x.seconds for x in results],
                        sum(x.rows.nbytes + x.change.nbytes + x.output_rows.nbytes +
                            x.output_change.nbytes for x in results), model.merge_seconds)


def merge_changes(matrix: np.ndarray, changes: Sequence[tuple[np.ndarray, np.ndarray]],
                  merge: str, momentum: np.ndarray | None = None) -> None:
    """Add the tasks' row changes to ``matrix`` in place, in the order given.

    Parameters
    ----------
    matrix : ndarray, shape (n, dim), float32
    changes : sequence of (rows, change)
        Per task: distinct row numbers (k,) and their changes (k, dim).
    merge : {"sum", "average", "sqrt", "momentum"}
        See :data:`MERGES`.
    momentum : ndarray, shape (n, dim), float32, optional
        With ``momentum``: the momentum of the earlier rounds (zero at first), updated in
        place.
    """
    if merge == "sum":
        for rows, change in changes:
            matrix[rows] += change
        return
    total = np.zeros_like(matrix)
    count = np.zeros(len(matrix), dtype=np.int32)
    for rows, change in changes:
        total[rows] += change
        count[rows] += 1
    if merge == "momentum":
        assert momentum is not None
        tasks = np.float32(len(changes))
        momentum *= 1 - 1 / tasks
        total /= tasks
        momentum += total
        matrix += momentum
        return
    touched = np.flatnonzero(count)
    divisor = count[touched, None].astype(np.float32)
    matrix[touched] += total[touched] / (np.sqrt(divisor) if merge == "sqrt" else divisor)


def flush_momentum(matrix: np.ndarray, momentum: np.ndarray, tasks: int) -> None:
    """Add to ``matrix`` in place what block ``momentum`` would still add over the rounds to
    come if no change came: decaying by ``1 - 1/tasks`` a round, ``tasks - 1`` times it (the
    geometric series). Without it an epoch ending with the momentum's restart loses the part
    of its last rounds' changes not yet applied (on wordnet-glosses with 4 tasks, rounds of
    25,000 words: WordSim353 0.387 without, 0.400 with; see :func:`default_merge`)."""
    matrix += momentum * np.float32(tasks - 1)


def train_on_cluster(paths: CorpusPaths, config: Word2VecConfig = Word2VecConfig(),
                     cluster: str | Client = "local:2", vocab: Vocabulary | None = None,
                     tokenizer: Tokenizer = Tokenizer(),
                     callback: Callable[[dict], None] | None = None,
                     progress: Callable[[dict], None] | None = None, *,
                     sync_every: int | None = None, merge: str | None = None,
                     checkpoint: str | os.PathLike | None = None,
                     checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
                     resume: str | os.PathLike | None = None,
                     max_size: int = DEFAULT_MAX_SIZE,
                     range_bytes: int = DEFAULT_RANGE_BYTES,
                     on_round: Callable[[dict], None] | None = None) -> Word2Vec:
    """:func:`~embedkit.w2v.train.train_word2vec` on a Dask cluster, in synchronous rounds.

    Parameters
    ----------
    paths, config, vocab, tokenizer, callback, progress, checkpoint, checkpoint_every, resume
        As :func:`~embedkit.w2v.train.train_word2vec`; ``config.threads`` is the number of
        tasks of a round (shares of the corpus; None: the cluster's worker threads), which
        with the seed and ``sync_every`` decides the bits. Paths must be readable by every
        worker (a shared file system, or fsspec URLs).
    cluster : str or distributed.Client
        ``local:N``, a scheduler address ``tcp://HOST:PORT``, or a client
        (see :func:`cluster_client`). The scheduler's active memory manager is stopped
        during the run, and started again after (see :func:`_train`).
    sync_every : int, optional
        Words of the whole cluster per round (between merges); None:
        :data:`DEFAULT_SYNC_EVERY` with at most 2 tasks per round, else
        :data:`DEFAULT_SYNC_EVERY_MANY`.
    merge : {"sum", "average", "sqrt", "momentum"}, optional
        See :data:`MERGES` (None: :func:`default_merge`).
    max_size : int
        Distinct words held while counting a range (see
        :func:`~embedkit.text.vocab.count_words`).
    range_bytes : int
        Bytes per range of a plain file.
    on_round : callable, optional
        Called after each round's merge with ``{"epoch", "round", "seconds", "compute",
        "compute_max", "merge", "bytes_out", "bytes_back", "words"}``: wall time since the
        previous round was reported (rounds overlap: the next is already submitted), summed
        and longest task compute time, the merge task's time (s), bytes of the model (fetched
        by the workers from the one that merged it), bytes of changes sent to that worker by
        all tasks, words trained.

    Returns
    -------
    Word2Vec

    Raises
    ------
    EmbedkitError
        As :func:`~embedkit.w2v.train.train_word2vec`, for a ``cluster`` that cannot be used
        (see :func:`cluster_client`), a file a worker cannot read, ``sync_every`` below 1, an
        unknown ``merge``, or subwords (not trained on a cluster yet); when no worker has
        been connected for :data:`NO_WORKER_SECONDS` (:class:`WorkersGone`).
    Interrupted
        On Ctrl-C: the cluster's tasks are cancelled (and a cluster started here stopped).
    """
    threads = config.threads
    config = config.resolved()  # settings checked before any cluster starts
    if sync_every is not None and sync_every < 1:
        raise EmbedkitError(f"sync_every {sync_every}: expected at least 1",
                            params=("sync_every",))
    if config.subwords:
        raise EmbedkitError("subwords are not trained on a cluster yet: train without "
                            "subwords, or on one machine", params=("subwords",))
    if merge is not None and merge not in MERGES:
        raise EmbedkitError(f"merge {merge!r}: expected one of {', '.join(MERGES)}",
                            params=("merge",))
    checkpoints = Checkpoints(checkpoint, checkpoint_every)
    with cluster_client(cluster) as client:
        ranges = corpus_ranges(client, paths, range_bytes)
        if vocab is None:
            vocab = cluster_vocabulary(client, paths, config.min_count, config.max_vocab,
                                       tokenizer, max_size, ranges=ranges)
        # one task per worker thread unless told: each thread trains a share
        config = replace(config, threads=threads or sum(client.nthreads().values()))
        if sync_every is None:
            sync_every = (DEFAULT_SYNC_EVERY if config.worker_count <= 2
                          else DEFAULT_SYNC_EVERY_MANY)
        return _train(client, paths, ranges, config, vocab, tokenizer, callback, progress,
                      sync_every, merge or default_merge(config.worker_count), checkpoints,
                      resume, on_round)


def default_merge(tasks: int) -> str:
    """The merge rule for ``tasks`` tasks per round, as measured on wordnet-glosses
    (skip-gram, 5 epochs, seed 1; one task, one round per epoch: WS353 0.423, analogies
    0.067; the README's cluster section has the figures): summing the changes of 2 tasks
    keeps that quality (0.428 / 0.068 at rounds of 100,000 words). Summing 4 tasks' changes
    moves a row that every task brought to its equilibrium four times as far, and training
    falls apart; averaging (each row over the tasks that changed it, 0.23-0.26 on WS353),
    its square root (0.32-0.34) and half the sum (0.34-0.35) slow down the rows that every
    task moves a little; block momentum recovers them and does not overshoot (0.400 / 0.058
    at rounds of 25,000 words with its rest added at each epoch's end, 0.387 / 0.054
    without; one machine, one thread: 0.413 / 0.061)."""
    return "sum" if tasks <= 2 else "momentum"


class _Reports:
    """The words done by the tasks of each round, as their reports arrive (called by the
    client's event loop with each event of the run's topic; see :func:`_train_round`). A
    rerun task reports from zero again: the largest report of a task counts."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done: dict[tuple[int, int], dict[int, int]] = {}

    def __call__(self, event: tuple[float, list]) -> None:
        epoch, number, index, words = event[1]
        with self.lock:
            tasks = self.done.setdefault((epoch, number), {})
            tasks[index] = max(tasks.get(index, 0), words)

    def words(self, epoch: int, number: int) -> int:
        """The words reported so far by round ``number`` of ``epoch``."""
        with self.lock:
            return sum(self.done.get((epoch, number), {}).values())

    def forget(self, epoch: int, number: int) -> None:
        with self.lock:
            self.done.pop((epoch, number), None)


class _Round(NamedTuple):
    """A round submitted: the futures the driver holds while it is in flight."""

    plan: RoundPlan
    figures: Future
    tasks: list[Future]
    others: list[Future]                 # the merged version, the next merger's fetch
    version: tuple[Future, Future]       # what the next round needs (see _version)


def _version(client: Client, model: Future, name: str) -> tuple[Future, Future]:
    """A version's matrices and its momentum, each a result of its own: the next round's
    tasks fetch the matrices only, the next merge both."""
    return (client.submit(_parameters, model, key=f"parameters-{name}"),
            client.submit(_momentum, model, key=f"momentum-{name}"))


def _train(client: Client, paths: CorpusPaths, ranges: list[ByteRange],
           config: Word2VecConfig, vocab: Vocabulary, tokenizer: Tokenizer,
           callback: Callable[[dict], None] | None, progress: Callable[[dict], None] | None,
           sync_every: int, merge: str, checkpoints: Checkpoints,
           resume: str | os.PathLike | None, on_round: Callable[[dict], None] | None
           ) -> Word2Vec:
    """The rounds of :func:`train_on_cluster`, arranged so that a lost worker costs only what
    it held that is still needed.

    Dask recomputes a lost result from its inputs, and those from theirs, as far back as
    needed: if the one worker merging every round held the versions, losing it recomputed
    every round back to the last version held elsewhere. So consecutive merges run on
    different workers (each merge restricted, loosely, to the next worker in turn), and the
    worker of the next merge fetches the version as soon as it exists (:func:`_fetched`),
    while the next round trains. A version then stays on two workers until the next one is
    also on two: the driver holds it, the results it was merged from and the version before
    it until the next round's figures arrive (by then the next merge has fetched it), and the
    scheduler's active memory manager, which would drop the second copy of a result nothing
    waits for, is stopped during the run (:func:`_copies_kept`). Any one worker lost then
    costs: the tasks it was running, its results of the rounds in flight and of the last one
    reported, and a version it merged that is not yet on a second worker (its merge rerun
    from the version before, which is). Dask reruns them with the same bits. Losing a second
    worker before those reruns end may cost the epoch's rounds back to the newest version a
    living worker holds (to the epoch's start if none does), with the same bits. With one
    worker there is no second copy.
    """
    from distributed import KilledWorker

    run = uuid.uuid4().hex  # task keys only: nothing of the results depends on it
    shares = config.threads or 1
    context = {**run_context(config, vocab), "sync_every": sync_every, "merge": merge}
    state = Word2VecState(0, np.empty(0), np.empty(0), vocab)
    if resume is None:
        state.vectors = np.empty((len(vocab), config.dim), dtype=np.float32)
        initialize(state.vectors, config.seed)
        state.output = np.zeros_like(state.vectors)
    else:
        state = load_checkpoint(resume, context)
        state.vocab = vocab
        checkpoints.holds = state.epoch
    noise = NoiseDistribution(vocab.counts, config.noise_exponent)
    keep = keep_probabilities(vocab.counts, config.subsample) if config.subsample else None
    words_per_epoch = vocab.total
    rounds = max(1, round(words_per_epoch / sync_every))
    total_words = words_per_epoch * config.epochs
    base = linear_decay(config.initial_lr, config.min_lr, max(1, total_words))
    inflight: deque[_Round] = deque()  # rounds submitted and not yet reported
    # the words the progress bar was given of each round in flight, from the tasks' reports
    reports = _Reports()
    shown: dict[tuple[int, int], int] = {}
    given = state.epoch * words_per_epoch  # words of the run given to progress (resumed too)

    def advance(words: int) -> None:
        nonlocal given
        assert progress is not None
        given += words
        progress({"words": words, "lr": base(given), "loss": loss / pairs if pairs else None})
    topic = f"embedkit-progress-{run}" if progress is not None else None

    watch = WorkerWatch(client)

    def waiting() -> None:
        """While the driver waits: Ctrl-C, a cluster left without workers, and the progress
        the tasks of the rounds in flight report."""
        interrupted()
        watch()
        if progress is None:
            return
        for pending in inflight:
            at = (pending.plan.epoch, pending.plan.round)
            words = reports.words(*at)
            if words > shown.get(at, 0):
                advance(words - shown.get(at, 0))
                shown[at] = words
    epoch_words = 0.0
    start = time.perf_counter()
    elapsed_before = state.history[-1]["elapsed"] if state.history else 0.0
    try:
        with interrupt_between_tasks() as interrupted, _copies_kept(client), \
                _subscribed(client, topic, reports):
            constants = _held(client, f"constants-{run}", vocab, noise, keep)
            encoded = [client.submit(_encode_range, piece, constants[0], tokenizer,
                                     key=f"encode-{run}-{i}") for i, piece in enumerate(ranges)]
            sizes = _gather(client, [client.submit(_sizes, e, key=f"sizes-{run}-{i}")
                                     for i, e in enumerate(encoded)], waiting)
            lengths = np.cumsum([0] + [n for n, _ in sizes])
            tokens = sum(t for _, t in sizes)
            data = []
            for s in range(shares):
                a, b = lengths[-1] * s // shares, lengths[-1] * (s + 1) // shares
                overlap = [i for i in range(len(ranges)) if lengths[i] < b and lengths[i + 1] > a]
                first = int(lengths[overlap[0]]) if overlap else 0
                data.append(client.submit(_share, first, int(a), int(b),
                                          *[encoded[i] for i in overlap], key=f"share-{run}-{s}"))
            del encoded  # Dask keeps what it needs to rebuild a lost share
            if state.epoch and progress is not None:
                progress({"words": state.epoch * words_per_epoch,
                          "lr": base(state.epoch * words_per_epoch),
                          "loss": state.history[-1]["loss"]})
            while state.epoch < config.epochs:
                epoch_start = time.perf_counter()
                epoch_words, loss, pairs = 0.0, 0.0, 0
                # each epoch starts from the driver's model: Dask's lineage of model
                # versions (what it recomputes after losing a worker) goes back to it only
                start_model = _held(client, f"start-{run}-{state.epoch}",
                                    ModelVersion(state.vectors, state.output, None, 0.0))[0]
                previous = reported = _version(client, start_model,
                                               f"{run}-{state.epoch}-start")
                round_end = epoch_start
                submitted = 0
                for r in range(rounds):
                    # rounds are submitted ahead: a round's tasks start as soon as the
                    # merge before them ends, without waiting for the driver
                    while submitted < min(rounds, r + AHEAD):
                        plan = RoundPlan(state.epoch, submitted, rounds, shares,
                                         state.epoch * words_per_epoch +
                                         submitted * words_per_epoch / rounds,
                                         words_per_epoch / rounds, total_words)
                        name = f"{run}-{state.epoch}-{submitted}"
                        tasks = [client.submit(_train_round, config, previous[0], constants[1],
                                               constants[2], data[s], s, plan, topic,
                                               PROGRESS_SECONDS, key=f"round-{name}-{s}")
                                 for s in range(shares)]
                        # none while every worker is lost and restarting: anywhere
                        workers = sorted(client.nthreads())
                        merger, after = ([workers[(state.epoch * rounds + submitted + i)
                                                  % len(workers)]] if workers else None
                                         for i in (0, 1))
                        model = client.submit(_next_version, *previous, merge, submitted == 0,
                                              submitted == rounds - 1, *tasks, workers=merger,
                                              allow_other_workers=bool(workers),
                                              key=f"model-{name}")
                        previous = _version(client, model, name)
                        # the next merger fetches this version while the next round trains
                        fetch = client.submit(_fetched, *previous, workers=after,
                                              allow_other_workers=bool(workers),
                                              key=f"fetch-{name}")
                        inflight.append(_Round(plan, client.submit(_figures, model, *tasks,
                                                                   key=f"figures-{name}"),
                                               tasks, [model, fetch], previous))
                        submitted += 1
                    done = inflight[0]  # in flight while waited for: its progress shows
                    figures: RoundFigures = _gather(client, [done.figures], waiting)[0]
                    inflight.popleft()
                    # held until the next version is on two workers: this version and the
                    # results it was merged from, the version before it, and the next
                    # merger's fetch (which has only just started: released now, Dask
                    # cancelled it and the merge fetched the version again)
                    settled = (reported, done.version, done.tasks, done.others)
                    reported = done.version
                    for task_loss, task_pairs in zip(figures.losses, figures.pairs,
                                                     strict=True):
                        loss += task_loss
                        pairs += task_pairs
                    epoch_words += sum(figures.words)
                    at = (done.plan.epoch, done.plan.round)
                    reports.forget(*at)
                    if progress is not None:  # the words not shown yet
                        advance(sum(figures.words) - shown.pop(at, 0))
                    if on_round is not None:
                        on_round({"epoch": state.epoch + 1, "round": r + 1,
                                  "seconds": time.perf_counter() - round_end,
                                  "compute": sum(figures.seconds),
                                  "compute_max": max(figures.seconds),
                                  "merge": figures.merge_seconds,
                                  "bytes_out": state.vectors.nbytes + state.output.nbytes,
                                  "bytes_back": figures.bytes_back,
                                  "words": sum(figures.words)})
                    round_end = time.perf_counter()
                version: ModelVersion = _gather(client, [model], waiting)[0]
                state.vectors, state.output = version.vectors, version.output
                del model, previous, reported, settled, done
                if not pairs:
                    raise EmbedkitError(
                        f"{corpus_name(paths)}: epoch {state.epoch + 1} has no training "
                        "pairs: no line holds two words of the vocabulary (or subsampling "
                        "left none); lower min_count or subsample",
                        params=("min_count", "subsample"))
                seconds = time.perf_counter() - epoch_start
                state.epoch += 1
                record = {"epoch": state.epoch, "loss": loss / pairs, "pairs": pairs,
                          "words": tokens,
                          "words_per_sec": tokens / seconds if seconds > 0 else math.inf,
                          "elapsed": elapsed_before + time.perf_counter() - start,
                          "lr": base(state.epoch * words_per_epoch)}
                state.history.append(record)
                epoch_words = 0.0
                checkpoints.after_epoch(state.epoch, state.epoch == config.epochs,
                                        lambda path: save_checkpoint(path, state, context))
                if callback is not None:
                    callback(record)
    except KilledWorker as exc:  # Dask gave up on a task that kept losing its worker
        raise EmbedkitError(f"cluster: a task lost its worker {exc.allowed_failures + 1} times "
                            "in a row (out of memory? every worker must reach the corpus): "
                            "training stopped, nothing written") from None
    except KeyboardInterrupt:
        client.cancel([f for done in inflight
                       for f in (done.figures, *done.tasks, *done.others, *done.version)])
        within = f"{epoch_words:,.0f} of {words_per_epoch:,} words" if epoch_words else None
        raise training_stopped(state.epoch, config.epochs, within, checkpoints) from None
    check_finite(state.vectors, state.output)
    return Word2Vec(vocab, state.vectors, state.output, config, state.history)


@contextlib.contextmanager
def _copies_kept(client: Client) -> Iterator[None]:
    """The scheduler's active memory manager stopped (if it runs), and started again after:
    its default policy drops the extra copies of a result that no task waits for, and
    :func:`_train` keeps a model version on two workers. It is a setting of the scheduler:
    other clients of the cluster see it stopped during the run too."""
    running = client.amm.running()
    if running:
        client.amm.stop()
    try:
        yield
    finally:
        if running:
            with contextlib.suppress(Exception):  # the cluster may be gone: nothing to restore
                client.amm.start()


@contextlib.contextmanager
def _subscribed(client: Client, topic: str | None, handler: Callable[[Any], None]
                ) -> Iterator[None]:
    """``handler`` called with each event of ``topic`` (None: nothing) until leaving."""
    if topic is None:
        yield
        return
    client.subscribe_topic(topic, handler)
    try:
        yield
    finally:
        with contextlib.suppress(Exception):  # the cluster may be gone
            client.unsubscribe_topic(topic)


class WorkersGone(EmbedkitError):
    """No worker was connected to the scheduler for :data:`NO_WORKER_SECONDS`."""


class WorkerWatch:
    """Called while the driver waits for the cluster: raises :class:`WorkersGone` once no
    worker has been connected to the scheduler for :data:`NO_WORKER_SECONDS` (asking it at
    most every :data:`WORKER_POLL_SECONDS`), and an error when the scheduler is gone."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._asked = -math.inf
        self._alone_since: float | None = None

    def __call__(self) -> None:
        now = time.monotonic()
        if now - self._asked < WORKER_POLL_SECONDS:
            return
        self._asked = now
        try:
            connected = bool(self._client.nthreads())
        except OSError as exc:  # the scheduler closed the connection (CommClosedError)
            raise EmbedkitError(f"cluster: the scheduler cannot be reached ({exc}): training "
                                "stopped, nothing written") from None
        if connected:
            self._alone_since = None
        elif self._alone_since is None:
            self._alone_since = now
        elif now - self._alone_since >= NO_WORKER_SECONDS:
            raise WorkersGone(f"cluster: no worker connected to the scheduler for "
                              f"{NO_WORKER_SECONDS:g} s (every worker lost, none started "
                              "again): training stopped, nothing written")


def _value(value: Any) -> Any:
    return value


def _held(client: Client, name: str, *values: Any) -> list[Future]:
    """``values`` on the cluster as the results of tasks that return them.

    Not scattered: scattered data lost with its worker cannot be made again, and Dask then
    cancels every task that needs it (the killed-worker test failed so, now and then); a
    task's arguments stay with the scheduler, which reruns it on another worker. The
    workers fetch a result from the one that holds it, so the driver sends it once.
    """
    import dask

    # the model is in the task: large by design
    with dask.config.set({"distributed.admin.large-graph-warning-threshold": "1TB"}):
        return [client.submit(_value, value, key=f"{name}-{i}")
                for i, value in enumerate(values)]


def _gather(client: Client, futures: list[Future], waiting: Callable[[], None]
            ) -> list[Any]:
    """The futures' results, calling ``waiting`` every 0.1 s or so until they are done (to
    check for Ctrl-C, and show progress).

    Waits on an event the futures set when done, not on Dask's ``wait`` with a timeout: the
    timeout's exception, caught, stayed in a reference cycle within Dask holding the frames
    of its callers, and ``_train``'s frame kept every future of the run (the vocabulary's
    shares, the last rounds' results) on the cluster until Python's garbage collector ran.
    """
    done = threading.Event()
    for future in futures:
        future.add_done_callback(lambda _: done.set())
    while True:
        done.clear()  # before looking: a future done after the look sets it again
        waiting()
        if all(f.done() for f in futures):
            return client.gather(futures)
        done.wait(0.1)
