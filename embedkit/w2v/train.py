"""Training skip-gram and CBOW with negative sampling on the core.

The first epoch tokenises the text chunk by chunk into vocabulary ids, appends them to a
temporary id cache and cuts it into tasks: runs of whole sentences of about
:data:`TASK_TOKENS` ids. Later epochs list the same tasks again. A worker turns a task into
training data itself (read its ids back, subsample, window pairs for skip-gram or context
bags for CBOW) and trains it minibatch by minibatch on the core: the fused
:func:`~embedkit.w2v.sgns.sgns_loss` (and :func:`~embedkit.w2v.sgns.context_bags` for CBOW)
reads the rows of its word ids straight from the two matrices, ``backward()`` returns
sparse-row gradients on those ids, and a sparse :class:`~embedkit.core.optim.SGD` step adds
them back (repeated ids and all: no ``np.unique``, no gathered copies, no merging pass).
The learning rate decays linearly with the number of corpus words processed, as in word2vec.

Each task draws its subsampling, window sizes and negatives from its own generator, seeded
by ``seed``, the epoch and the task's number, so what a task trains on does not depend on
which worker takes it. With ``threads > 1`` the tasks are shared out to forked worker
processes that update the same two matrices, held in shared memory, without locks (Hogwild,
as word2vec and gensim do with threads); the training process only tokenises (first epoch)
and hands out a few numbers per task. Processes rather than threads: the per-minibatch
Python work holds the GIL, and two threads measured slower than one. The samples and
negatives are the same as with one worker; the interleaving of updates is not, so results
vary slightly from run to run. ``threads=1`` trains in the calling process and is
bit-for-bit reproducible for a given seed.

Ctrl-C stops the workers and raises :class:`~embedkit.errors.Interrupted` saying where
training stopped; ``checkpoint`` saves the state after every ``checkpoint_every`` epochs
(:mod:`embedkit.w2v.checkpoint`) and ``resume`` continues from such a file.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import mmap
import multiprocessing
import os
import queue
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import numpy as np
from threadpoolctl import threadpool_limits

from embedkit.core.optim import SGD
from embedkit.core.schedules import linear_decay
from embedkit.core.tensor import Tensor
from embedkit.errors import DivergenceError, EmbedkitError, Interrupted
from embedkit.io import describe
from embedkit.text.corpus import CorpusPaths
from embedkit.text.noise import NoiseDistribution
from embedkit.text.stream import IdChunk, iter_id_chunks
from embedkit.text.subsample import keep_probabilities
from embedkit.text.tokenize import Tokenizer
from embedkit.text.vocab import Vocabulary, build_vocabulary
from embedkit.text.windows import MODELS, CbowSamples, SkipgramPairs, chunk_samples
from embedkit.vectors.formats import save_vectors
from embedkit.w2v.checkpoint import Word2VecState, load_checkpoint, run_context, save_checkpoint
from embedkit.w2v.sgns import context_bags, sgns_loss

#: word2vec's starting learning rates.
DEFAULT_LR = {"skipgram": 0.025, "cbow": 0.05}
#: Training pairs (skip-gram) or context bags (CBOW) per minibatch: summed gradients stay
#: stable and score like word2vec's per-pair updates up to about these sizes (CBOW touches a
#: frequent word in many bags at once: on wordnet-glosses with two workers, medians of 3,
#: 384 bags scored 0.459 on WordSim353 and 0.061 on the analogies, gensim 0.449 and 0.064;
#: 256 scored about the same, 25% slower; 512 fell to 0.42 and 0.043 (before bags were
#: grouped by size)).
DEFAULT_BATCH_SIZE = {"skipgram": 1024, "cbow": 384}
#: Consecutive pairs (bags) that share their noise words, and noise words per group per
#: word2vec negative (see :mod:`embedkit.w2v.sgns`). CBOW shares less: on wordnet-glosses
#: (1 worker, seed 1) groups of 16 / 4 / 1 bags scored 0.040 / 0.053 / 0.059 on the
#: analogies (gensim 0.064), and 4 costs about a quarter of an epoch's time over 16.
NOISE_GROUP = {"skipgram": 16, "cbow": 4}
NOISE_PER_NEGATIVE = 1
#: In-vocabulary tokens per task (whole sentences, so a task can be longer): a task is
#: read, subsampled, windowed and trained by one worker, so the training process only
#: tokenises the text (first epoch) and hands out a few numbers per task.
TASK_TOKENS = 8192
#: Tasks waiting for worker processes: enough to cover tokenising the next chunk.
QUEUED_TASKS = 64


@dataclass(frozen=True)
class Word2VecConfig:
    """Hyper-parameters of a word2vec training, with word2vec's defaults.

    Attributes
    ----------
    model : {"skipgram", "cbow"}
    dim : int
        Vector dimension.
    window : int
        Largest distance between a centre and a context word (drawn per centre from
        ``1..window``).
    negative : int
        Noise words per training pair (0: positives only).
    ns_exponent : float
        Noise distribution ∝ count ** ns_exponent.
    min_count, max_vocab : int
        Vocabulary: words seen at least ``min_count`` times, the ``max_vocab`` most frequent.
    subsample : float
        Threshold of frequent-word subsampling (0: off).
    epochs : int
    lr : float or None
        Starting learning rate (None: 0.025 for skip-gram, 0.05 for CBOW), decaying linearly
        to ``min_lr`` over all epochs.
    min_lr : float
    batch_size : int or None
        Pairs (skip-gram) or bags (CBOW) per minibatch (None: 1024 / 384).
    cbow_mean : bool
        CBOW averages its context vectors (True) or sums them.
    seed : int
    threads : int or None
        Parallel workers (None: every core); more than one runs forked processes.
    """

    model: str = "skipgram"
    dim: int = 100
    window: int = 5
    negative: int = 5
    ns_exponent: float = 0.75
    min_count: int = 5
    max_vocab: int | None = None
    subsample: float = 1e-3
    epochs: int = 5
    lr: float | None = None
    min_lr: float = 1e-4
    batch_size: int | None = None
    cbow_mean: bool = True
    seed: int = 1
    threads: int | None = None

    def resolved(self) -> Word2VecConfig:
        """The configuration with defaults filled in, validated.

        Raises
        ------
        EmbedkitError
            Naming the first invalid hyper-parameter.
        """
        if self.model not in MODELS:
            raise EmbedkitError(f"model {self.model!r}: expected one of {', '.join(MODELS)}")
        filled = Word2VecConfig(**{
            **asdict(self),
            "lr": DEFAULT_LR[self.model] if self.lr is None else self.lr,
            "batch_size": (DEFAULT_BATCH_SIZE[self.model] if self.batch_size is None
                           else self.batch_size),
            "threads": (os.cpu_count() or 1) if self.threads is None else self.threads})
        for name, low in (("dim", 1), ("window", 1), ("negative", 0), ("epochs", 1),
                          ("min_count", 1), ("batch_size", 1), ("threads", 1)):
            if getattr(filled, name) < low:
                raise EmbedkitError(f"{name} {getattr(filled, name)}: expected at least {low}")
        if filled.max_vocab is not None and filled.max_vocab < 1:
            raise EmbedkitError(f"max_vocab {filled.max_vocab}: expected at least 1")
        if not filled.lr > 0:
            raise EmbedkitError(f"lr {filled.lr}: expected a learning rate > 0")
        if not 0 <= filled.min_lr <= filled.lr:
            raise EmbedkitError(f"min_lr {filled.min_lr}: expected between 0 and lr "
                                f"({filled.lr})")
        if not filled.subsample >= 0:
            raise EmbedkitError(f"subsample {filled.subsample}: expected a threshold >= 0")
        if not math.isfinite(filled.ns_exponent):
            raise EmbedkitError(f"ns_exponent {filled.ns_exponent}: expected a finite number")
        return filled


@dataclass
class Word2Vec:
    """A trained model.

    Attributes
    ----------
    vocab : Vocabulary
    vectors : ndarray, shape (len(vocab), dim), float32
        The word vectors (input matrix), most frequent word first.
    output : ndarray, shape (len(vocab), dim), float32
        The output (context) matrix of negative sampling.
    config : Word2VecConfig
        The resolved hyper-parameters.
    history : list of dict
        One record per epoch (see :func:`train_word2vec`).
    """

    vocab: Vocabulary
    vectors: np.ndarray
    output: np.ndarray
    config: Word2VecConfig
    history: list[dict] = field(default_factory=list)

    def save(self, path: str | os.PathLike | None, fmt: str | None = None) -> None:
        """Write the vectors (format from the extension: ``.vec``/``.txt`` text, ``.bin``
        binary, ``.npz`` with counts and the output matrix); see
        :func:`embedkit.vectors.formats.save_vectors`."""
        save_vectors(path, self.vocab.words, self.vectors, counts=self.vocab.counts, fmt=fmt,
                     output=self.output)


class _Span(NamedTuple):
    """Whole sentences of the id cache: in-vocabulary token positions ``start:stop``."""

    start: int
    stop: int
    tokens: float  # corpus tokens (out-of-vocabulary words included) they stand for


class _Task(NamedTuple):
    """A span for a worker to train in a given epoch (a few numbers: cheap to send)."""

    epoch: int
    index: int            # the span's number: with the seed and epoch, seeds its generator
    span: _Span
    words_before: float   # in-vocabulary words processed before this task (for the rate)

    @property
    def words(self) -> int:
        """In-vocabulary words this task stands for."""
        return self.span.stop - self.span.start


def _by_bag_size(bags: CbowSamples) -> CbowSamples:
    """The bags reordered by size (stably), so that a minibatch holds bags of one size.

    word2vec moves each context row of a bag by the bag's whole hidden-layer gradient: the
    true gradient of the mean times the bag's size. That is no gradient of any loss, but
    with bags of one size per minibatch it is exactly the true gradient with the input
    table's learning rate times that size (see ``_Worker._cbow``).
    """
    sizes = np.diff(bags.indptr)
    order = np.argsort(sizes, kind="stable")
    sizes = sizes[order]
    indptr = np.concatenate([[0], np.cumsum(sizes)])
    # position k of new bag i is old position indptr[order[i]] + k
    members = np.repeat(bags.indptr[order] - indptr[:-1], sizes) + np.arange(indptr[-1])
    return CbowSamples(bags.centres[order], indptr, bags.contexts[members])


@dataclass
class _Tally:
    """What one worker did in the current epoch: summed loss (float64) and pairs."""

    loss: float = 0.0
    pairs: int = 0


class _Worker:
    """Turns tasks into samples and trains their minibatches, on its own tensors and
    optimizers over the shared matrices.

    A task's subsampling, windows and negatives come from a generator seeded by the run's
    seed, the epoch and the task's number, so they do not depend on which worker (or how
    many) trains it.
    """

    def __init__(self, config: Word2VecConfig, corpus: _IdCache, vectors: np.ndarray,
                 output: np.ndarray, noise: NoiseDistribution, keep: np.ndarray | None,
                 rate: Callable[[float], float]):
        self.config = config
        self.corpus = corpus
        self.noise = noise
        self.keep = keep
        self.rng: np.random.Generator | None = None  # the current task's (see _samples)
        self.rate = rate
        self.words_done = 0.0
        self.shared = max(1, config.negative * NOISE_PER_NEGATIVE)
        # Tensors of its own (their .grad is per worker) over the same arrays (Hogwild).
        self.vectors = Tensor(vectors, requires_grad=True)
        self.output = Tensor(output, requires_grad=True)
        self.input_gain = 1.0
        self.optimizers = (SGD([self.vectors], lambda _: self.rate(self.words_done)
                               * self.input_gain),
                           SGD([self.output], lambda _: self.rate(self.words_done)))
        self.tally = _Tally()

    def start_epoch(self) -> None:
        """Reset the tally."""
        self.tally = _Tally()

    def run(self, task: _Task, progress: Callable[[dict], None] | None) -> None:
        """Train every minibatch of ``task``."""
        # overflow happens only on the way to a non-finite loss: DivergenceError, no warning
        with np.errstate(over="ignore", invalid="ignore"):
            self._run(task)
        if progress is not None:
            progress({"words": task.words, "lr": self.rate(self.words_done),
                      "loss": self.tally.loss / max(self.tally.pairs, 1)})

    def _samples(self, task: _Task) -> SkipgramPairs | CbowSamples:
        """Read the task's ids, subsample them and window them, as the epoch's first pass
        over the corpus would (CBOW's bags then sorted by size)."""
        self.rng = np.random.default_rng(np.random.SeedSequence(
            self.config.seed, spawn_key=(task.epoch, task.index)))
        samples, _ = chunk_samples(self.corpus.read(task.span), self.config.model,
                                   self.config.window, self.keep, self.rng)
        return samples if self.config.model == "skipgram" else _by_bag_size(samples)

    def _run(self, task: _Task) -> None:
        samples = self._samples(task)
        step, n = self.config.batch_size, len(samples.centres)
        per_sample = task.words / max(n, 1)
        for lo in range(0, n, step):
            hi = min(lo + step, n)
            self.words_done = task.words_before + lo * per_sample
            loss = (self._skipgram(samples, lo, hi) if self.config.model == "skipgram"
                    else self._cbow(samples, lo, hi))
            if not math.isfinite(loss):
                raise DivergenceError(f"training diverged (loss {loss}) at learning rate "
                                      f"{self.rate(self.words_done):.4g}: lower --lr or "
                                      "--batch-size")
            self.tally.loss += loss
            self.tally.pairs += hi - lo

    def _negatives(self, n: int) -> np.ndarray:
        """Noise words for ``n`` pairs: one row of shared draws per group of pairs."""
        groups = -(-n // NOISE_GROUP[self.config.model])
        return self.noise.sample(self.rng, (groups, self.shared if self.config.negative else 0))

    def _step(self, loss: Tensor) -> float:
        for optimizer in self.optimizers:
            optimizer.zero_grad()
        loss.backward()
        for optimizer in self.optimizers:
            optimizer.step()
        return float(loss.data)

    def _skipgram(self, pairs, lo: int, hi: int) -> float:
        # word2vec's orientation: the context word's vector predicts the centre word
        centres, contexts = pairs.centres[lo:hi], pairs.contexts[lo:hi]
        loss = sgns_loss(self.vectors, self.output, contexts, centres,
                         self._negatives(len(centres)), self.config.negative / self.shared)
        return self._step(loss)

    def _cbow(self, bags, lo: int, hi: int) -> float:
        first, last = bags.indptr[lo], bags.indptr[hi]
        hidden = context_bags(self.vectors, bags.indptr[lo:hi + 1] - first,
                              bags.contexts[first:last], mean=self.config.cbow_mean)
        # word2vec moves every context row by the hidden layer's full gradient with a mean
        # (by 1/size of it with a sum): the true gradient times the bag size, which is one
        # size for the whole minibatch (_by_bag_size) but where sizes change. With the
        # square root of it glosses scored 0.06 lower on WordSim353 than gensim at the same
        # learning rate; with bags of mixed sizes and their mean size, Lee's CBOW scored
        # 0.05 lower than with one size per minibatch.
        mean_size = (last - first) / (hi - lo)
        self.input_gain = mean_size if self.config.cbow_mean else 1 / mean_size
        loss = sgns_loss(hidden, self.output, None, bags.centres[lo:hi],
                         self._negatives(hi - lo), self.config.negative / self.shared)
        return self._step(loss)


class _IdCache:
    """The corpus as vocabulary ids and sentence numbers in two temporary files.

    The first pass tokenises the text chunk by chunk, appends each chunk's ids and sentence
    numbers and cuts the chunk into spans of whole sentences; the spans are kept (a few
    numbers each), so later epochs just list them again. Workers read their spans back
    themselves: the training process never holds more than one chunk, and disk holds 8
    bytes per in-vocabulary token.
    """

    def __init__(self, paths: CorpusPaths, vocab: Vocabulary, tokenizer: Tokenizer,
                 directory: str):
        self.paths, self.vocab, self.tokenizer = paths, vocab, tokenizer
        self.files = (os.path.join(directory, "ids.int32"),
                      os.path.join(directory, "sentences.int32"))
        self.spans: list[_Span] | None = None  # once the first pass is complete

    def epoch(self) -> Iterator[_Span]:
        """The spans of one pass over the corpus, each readable once yielded."""
        if self.spans is not None:
            yield from self.spans
            return
        spans, position = [], 0
        with open(self.files[0], "wb") as ids_out, open(self.files[1], "wb") as sentences_out:
            for chunk in iter_id_chunks(self.paths, self.vocab, self.tokenizer):
                n = len(chunk.ids)
                for out, values in ((ids_out, chunk.ids), (sentences_out, chunk.sentences)):
                    values.astype(np.int32, copy=False).tofile(out)
                    out.flush()  # the workers read it from the file
                cuts = _sentence_cuts(chunk.sentences, TASK_TOKENS)
                for start, stop in itertools.pairwise(cuts):
                    spans.append(_Span(position + int(start), position + int(stop),
                                       chunk.tokens * (stop - start) / n if n else
                                       chunk.tokens))
                    yield spans[-1]
                position += n
        self.spans = spans

    def read(self, span: _Span) -> IdChunk:
        """The ids and sentence numbers of ``span`` (int32)."""
        ids, sentences = (np.fromfile(path, dtype=np.int32, count=span.stop - span.start,
                                      offset=4 * span.start) for path in self.files)
        return IdChunk(ids, sentences, round(span.tokens))


def _sentence_cuts(sentences: np.ndarray, size: int) -> np.ndarray:
    """Positions that cut a chunk into runs of whole sentences of about ``size`` tokens
    (longer where a sentence is): 0, the first sentence start at or after each multiple of
    ``size``, and the length. An empty chunk gives one empty run."""
    n = len(sentences)
    if not n:
        return np.zeros(2, dtype=np.int64)
    starts = np.append(np.flatnonzero(np.diff(sentences)) + 1, n)
    cuts = starts[np.searchsorted(starts, np.arange(size, n, size))]
    return np.unique(np.concatenate([[0], cuts, [n]]))


def train_word2vec(paths: CorpusPaths, config: Word2VecConfig = Word2VecConfig(),
                   vocab: Vocabulary | None = None, tokenizer: Tokenizer = Tokenizer(),
                   callback: Callable[[dict], None] | None = None,
                   progress: Callable[[dict], None] | None = None, *,
                   checkpoint: str | os.PathLike | None = None, checkpoint_every: int = 1,
                   resume: str | os.PathLike | None = None) -> Word2Vec:
    """Train word vectors on a corpus (one sentence per line; ``.gz``/``.bz2`` read directly).

    Parameters
    ----------
    paths : sequence of str or path-like
        Corpus files, read once per epoch (stdin must be spooled to a file first).
    config : Word2VecConfig
        Hyper-parameters.
    vocab : Vocabulary, optional
        Built from the corpus with ``config.min_count`` / ``config.max_vocab`` when absent.
    tokenizer : Tokenizer
        How lines become words (the vocabulary's tokenizer).
    callback : callable, optional
        Called after each epoch (once its checkpoint is written) with ``{"epoch", "loss",
        "pairs", "words", "words_per_sec", "elapsed", "lr"}``: ``loss`` is the exact mean loss
        per training pair (CBOW: per bag) of the epoch, accumulated in float64; ``words``
        counts corpus tokens read.
    progress : callable, optional
        Called as training advances with ``{"words", "lr", "loss"}``: in-vocabulary words
        since the last call (``vocab.total * epochs`` in all), the current learning rate,
        the epoch's running mean loss. A resumed run first reports the words of the epochs
        already done (and the last one's loss).
    checkpoint : path, optional
        Save the training state here (atomically) after every ``checkpoint_every`` epochs
        and after the last one.
    checkpoint_every : int
    resume : path, optional
        Continue from a checkpoint written with the same corpus and settings (``epochs`` may
        differ); with ``threads=1`` and unchanged ``epochs`` the vectors are bit-identical to
        an uninterrupted run's. The returned history includes the earlier epochs.

    Returns
    -------
    Word2Vec

    Raises
    ------
    EmbedkitError
        On invalid hyper-parameters, a corpus without any word of ``min_count``, or a
        checkpoint of other settings or another corpus.
    DivergenceError
        When the loss becomes NaN or infinite.
    Interrupted
        On Ctrl-C, saying in which epoch and after how many words training stopped and which
        epoch the checkpoint holds.
    """
    config = config.resolved()
    if checkpoint_every < 1:
        raise EmbedkitError(f"checkpoint_every {checkpoint_every}: expected at least 1")
    if vocab is None:
        vocab = build_vocabulary(paths, config.min_count, config.max_vocab, tokenizer)
    context = run_context(config, vocab) if checkpoint or resume else {}
    vectors = _shared_zeros((len(vocab), config.dim), config.threads > 1)
    output = _shared_zeros(vectors.shape, config.threads > 1)
    state = Word2VecState(0, vectors, output, vocab)
    if resume is None:
        # word2vec's initialisation: input rows uniform in ±0.5/dim, output rows zero
        vectors[:] = (np.random.default_rng(config.seed).random(vectors.shape, dtype=np.float32)
                      - np.float32(0.5))
        vectors /= np.float32(config.dim)
    else:
        loaded = load_checkpoint(resume, context)
        vectors[:], output[:] = loaded.vectors, loaded.output
        state.epoch, state.history = loaded.epoch, loaded.history
    noise = NoiseDistribution(vocab.counts, config.ns_exponent)
    keep = keep_probabilities(vocab.counts, config.subsample) if config.subsample else None
    rate = linear_decay(config.lr, config.min_lr, max(1, vocab.total * config.epochs))
    saved = state.epoch if checkpoint else None
    epoch_words = 0.0  # in-vocabulary words of the current epoch trained so far

    def advance(step: dict) -> None:
        nonlocal epoch_words
        epoch_words += step["words"]
        if progress is not None:
            progress(step)

    start = time.perf_counter()
    elapsed_before = state.history[-1]["elapsed"] if state.history else 0.0
    try:
        if state.epoch and progress is not None:
            progress({"words": state.epoch * vocab.total, "lr": rate(state.epoch * vocab.total),
                      "loss": state.history[-1]["loss"]})
        # the workers are the parallelism, so BLAS stays serial
        with threadpool_limits(limits=1), tempfile.TemporaryDirectory(prefix="embedkit-") as tmp, \
                _interrupt_between_tasks() as interrupted:
            corpus = _IdCache(paths, vocab, tokenizer, tmp)
            workers = [_Worker(config, corpus, vectors, output, noise, keep, rate)
                       for _ in range(config.threads)]
            while state.epoch < config.epochs:
                epoch_words, epoch_start = 0.0, time.perf_counter()
                for worker in workers:
                    worker.start_epoch()
                before = state.epoch * vocab.total
                tasks = (_Task(state.epoch, i, span, before + span.start)
                         for i, span in enumerate(corpus.epoch()))
                tokens, tallies = _run_tasks(tasks, workers, advance, interrupted)
                epoch_words = 0.0
                pairs = sum(t.pairs for t in tallies)
                seconds = time.perf_counter() - epoch_start
                state.epoch += 1
                record = {"epoch": state.epoch,
                          "loss": math.fsum(t.loss for t in tallies) / max(pairs, 1),
                          "pairs": pairs, "words": tokens,
                          "words_per_sec": tokens / seconds if seconds > 0 else math.inf,
                          "elapsed": elapsed_before + time.perf_counter() - start,
                          "lr": rate(state.epoch * vocab.total)}
                state.history.append(record)
                last = state.epoch == config.epochs
                if checkpoint and (last or state.epoch % checkpoint_every == 0):
                    save_checkpoint(checkpoint, state, context)
                    saved = state.epoch
                if callback is not None:
                    callback(record)
    except KeyboardInterrupt:
        where = (f"training stopped in epoch {state.epoch + 1} of {config.epochs}, after "
                 f"{epoch_words:,.0f} of {vocab.total:,} words"
                 if epoch_words or not state.epoch
                 else f"training stopped after epoch {state.epoch} of {config.epochs}")
        if saved:
            where += f"; the checkpoint {describe(checkpoint)} holds epoch {saved}"
        elif saved is not None:
            where += "; no checkpoint written yet"
        raise Interrupted(where) from None
    if not (np.isfinite(vectors).all() and np.isfinite(output).all()):
        raise DivergenceError("training diverged (non-finite weights): lower --lr")
    return Word2Vec(vocab, vectors, output, config, state.history)


def _shared_zeros(shape: tuple[int, int], shared: bool) -> np.ndarray:
    """A float32 zero matrix, in memory shared with forked worker processes if asked."""
    if not shared:
        return np.zeros(shape, dtype=np.float32)
    size = max(1, shape[0] * shape[1] * 4)
    return np.frombuffer(mmap.mmap(-1, size), dtype=np.float32,
                         count=shape[0] * shape[1]).reshape(shape)


@contextlib.contextmanager
def _interrupt_between_tasks() -> Iterator[Callable[[], None]]:
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


def _run_tasks(tasks: Iterator[_Task], workers: list[_Worker],
               progress: Callable[[dict], None] | None, interrupted: Callable[[], None]
               ) -> tuple[int, list[_Tally]]:
    """Train every task, inline with one worker, else in one forked process per worker
    (the matrices are in shared memory); returns the corpus tokens the tasks stood for and
    each worker's tally. ``interrupted()`` is called between tasks (and while waiting for
    the workers) to stop on Ctrl-C."""
    tokens = 0.0
    if len(workers) == 1:
        for task in tasks:
            interrupted()
            workers[0].run(task, progress)
            tokens += task.span.tokens
        return round(tokens), [workers[0].tally]
    context = multiprocessing.get_context("fork")
    todo, done = context.Queue(maxsize=QUEUED_TASKS), context.Queue()
    processes = [context.Process(target=_serve, args=(w, todo, done), daemon=True)
                 for w in workers]
    tallies: list[_Tally] = []
    failures: list[BaseException] = []

    def handle(message: tuple) -> None:
        kind, value = message
        if kind == "progress" and progress is not None:
            progress(value)
        elif kind == "tally":
            tallies.append(value)
        elif kind == "error":
            failures.append(value)

    def drain(timeout: float | None = None) -> None:
        try:
            handle(done.get(timeout=timeout) if timeout else done.get_nowait())
            while True:
                handle(done.get_nowait())
        except queue.Empty:
            pass

    for process in processes:
        process.start()
    try:
        for task in tasks:
            while not failures:
                interrupted()
                try:
                    todo.put(task, timeout=0.05)
                    tokens += task.span.tokens
                    break
                except queue.Full:
                    drain()
            if failures:
                break
            drain()
        if not failures:
            for _ in processes:
                todo.put(None)
        while not failures and len(tallies) < len(processes):
            interrupted()
            drain(timeout=0.05)
            if not any(p.is_alive() for p in processes) and done.empty():
                break
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
    return round(tokens), tallies


def _serve(worker: _Worker, todo, done) -> None:
    """A worker process: train tasks until the None sentinel, then report the tally.

    Ctrl-C is the parent's to handle (it stops every worker): a worker ignores SIGINT, so
    one sent to the whole process group by a terminal does not end it halfway through a
    message.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        while (task := todo.get()) is not None:
            worker.run(task, lambda record: done.put(("progress", record)))
    except BaseException as exc:  # noqa: BLE001 - sent to the parent, which re-raises it
        done.put(("error", exc))
        return
    done.put(("tally", worker.tally))
