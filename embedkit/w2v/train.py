"""Training skip-gram and CBOW with negative sampling on the core: the orchestration.

The first epoch tokenises the text chunk by chunk into an id cache
(:class:`~embedkit.text.idcache.IdCache`) cut into tasks: runs of whole sentences of about
:data:`TASK_TOKENS` ids. Later epochs list the same tasks again. A worker
(:mod:`embedkit.w2v.worker`) turns a task into training data itself (read its ids back,
subsample, window pairs for skip-gram or context bags for CBOW) and trains it minibatch by
minibatch on the core. The learning rate decays linearly with the number of corpus words
processed, as in word2vec.

Each task draws its subsampling, window sizes and negatives from its own generator, seeded
by ``seed``, the epoch and the task's number, so what a task trains on does not depend on
which worker takes it. With ``threads > 1`` the tasks are shared out to forked worker
processes (:mod:`embedkit.w2v.pool`) that update the same two matrices, held in shared
memory, without locks; the training process only tokenises (first epoch) and hands out a few
numbers per task. The samples and negatives are the same as with one worker; the
interleaving of updates is not, so results vary slightly from run to run. ``threads=1``
trains in the calling process and is bit-for-bit reproducible for a given seed.

Ctrl-C stops the workers and raises :class:`~embedkit.errors.Interrupted` saying where
training stopped; ``checkpoint`` saves the state after every ``checkpoint_every`` epochs
(:mod:`embedkit.w2v.checkpoint`) and ``resume`` continues from such a file.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from embedkit.core.schedules import linear_decay
from embedkit.errors import DivergenceError, EmbedkitError
from embedkit.streaming import all_finite
from embedkit.text.corpus import CorpusPaths, corpus_name
from embedkit.text.idcache import IdCache
from embedkit.text.noise import NoiseDistribution
from embedkit.text.subsample import keep_probabilities
from embedkit.text.subwords import SubwordModel, subword_rows
from embedkit.text.tokenize import Tokenizer
from embedkit.text.vocab import Vocabulary, build_vocabulary
from embedkit.training import DEFAULT_CHECKPOINT_EVERY, Checkpoints, training_stopped
from embedkit.vectors.formats import save_vectors
from embedkit.w2v.checkpoint import Word2VecState, load_checkpoint, run_context, save_checkpoint
from embedkit.w2v.config import Word2VecConfig
from embedkit.w2v.pool import interrupt_between_tasks, run_tasks, shared_zeros
from embedkit.w2v.worker import Task, Worker

__all__ = ["TASK_TOKENS", "Word2Vec", "Word2VecConfig", "train_word2vec"]

#: In-vocabulary tokens per task (whole sentences, so a task can be longer): a task is
#: read, subsampled, windowed and trained by one worker, so the training process only
#: tokenises the text (first epoch) and hands out a few numbers per task.
TASK_TOKENS = 8192
#: Rows of the input matrix initialised per random draw (subwords: millions of n-gram rows);
#: with subwords each block is drawn from a stream of its own (:func:`fasttext_init`).
INIT_BLOCK = 1 << 16


@dataclass
class Word2Vec:
    """A trained model.

    Attributes
    ----------
    vocab : Vocabulary
    vectors : ndarray, shape (len(vocab), dim), float32
        The word vectors (input matrix; with subwords, the mean of each word's own row and
        n-gram rows), most frequent word first.
    output : ndarray, shape (len(vocab), dim), float32
        The output (context) matrix of negative sampling.
    config : Word2VecConfig
        The resolved hyper-parameters.
    history : list of dict
        One record per epoch (see :func:`train_word2vec`).
    subwords : SubwordModel or None
        With subwords: the words' own rows and the n-gram rows (vectors for unseen words).
    """

    vocab: Vocabulary
    vectors: np.ndarray
    output: np.ndarray
    config: Word2VecConfig
    history: list[dict] = field(default_factory=list)
    subwords: SubwordModel | None = None

    def save(self, path: str | os.PathLike | None, fmt: str | None = None) -> None:
        """Write the vectors (format from the extension: ``.vec``/``.txt`` text, ``.bin``
        binary, ``.npz`` with counts, the output matrix and any n-gram rows; ``fmt``
        ``fasttext``: fastText's model); see :func:`embedkit.vectors.formats.save_vectors`."""
        save_vectors(path, self.vocab.words, self.vectors, counts=self.vocab.counts, fmt=fmt,
                     output=self.output, subwords=self.subwords)


def check_finite(vectors: np.ndarray, output: np.ndarray) -> None:
    """Refuse trained matrices holding NaN or inf (read block by block: no second copy).

    Raises
    ------
    DivergenceError
        Naming ``lr`` as the parameter to lower.
    """
    if not (all_finite(vectors) and all_finite(output)):
        raise DivergenceError("training diverged (non-finite weights): lower lr",
                              params=("lr",))


def initialize(vectors: np.ndarray, seed: int) -> None:
    """word2vec's initialisation of the input matrix ``(n, dim)``, in place: uniform in
    ±0.5/dim, drawn from a generator seeded by ``seed`` (the output matrix starts at zero)."""
    vectors[:] = (np.random.default_rng(seed).random(vectors.shape, dtype=np.float32)
                  - np.float32(0.5))
    vectors /= np.float32(vectors.shape[1])


def train_word2vec(paths: CorpusPaths, config: Word2VecConfig = Word2VecConfig(),
                   vocab: Vocabulary | None = None, tokenizer: Tokenizer = Tokenizer(),
                   callback: Callable[[dict], None] | None = None,
                   progress: Callable[[dict], None] | None = None, *,
                   checkpoint: str | os.PathLike | None = None,
                   checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
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
        the epoch's running mean loss (None before its first pair). A resumed run first
        reports the words of the epochs already done (and the last one's loss).
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
        On invalid hyper-parameters, a corpus without any word of ``min_count``, a
        checkpoint of other settings or another corpus, or an epoch without a single
        training pair (no line with two vocabulary words, or all but lone words subsampled
        away), which would leave the vectors untrained.
    DivergenceError
        When a minibatch's loss is not finite or over ``worker.DIVERGED`` nats per scored
        term, or the trained matrices hold a non-finite value.
    Interrupted
        On Ctrl-C, saying in which epoch and after how many words training stopped and which
        epoch the checkpoint holds.
    """
    config = config.resolved()
    checkpoints = Checkpoints(checkpoint, checkpoint_every)
    if vocab is None:
        vocab = build_vocabulary(paths, config.min_count, config.max_vocab, tokenizer)
    context = run_context(config, vocab) if checkpoint or resume else {}
    subwords = config.subwords
    rows = len(vocab) + (subwords.buckets if subwords else 0)
    vectors = shared_zeros((rows, config.dim), config.worker_count > 1)
    output = shared_zeros((len(vocab), config.dim), config.worker_count > 1)
    state = Word2VecState(0, vectors, output, vocab)
    if resume is None and subwords:
        fasttext_init(vectors, config.seed, config.worker_count)
    elif resume is None:
        initialize(vectors, config.seed)  # the output rows stay zero
    else:
        loaded = load_checkpoint(resume, context)
        vectors[:], output[:] = loaded.vectors, loaded.output
        state.epoch, state.history = loaded.epoch, loaded.history
        checkpoints.holds = state.epoch
    noise = NoiseDistribution(vocab.counts, config.noise_exponent)
    keep = keep_probabilities(vocab.counts, config.subsample) if config.subsample else None
    rate = linear_decay(config.initial_lr, config.min_lr, max(1, vocab.total * config.epochs))
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
                interrupt_between_tasks() as interrupted:
            corpus = IdCache(paths, vocab, tokenizer, tmp, TASK_TOKENS)
            word_rows = subword_rows(vocab.words, subwords, len(vocab)) if subwords else None
            workers = [Worker(config, corpus, vectors, output, noise, keep, rate, word_rows)
                       for _ in range(config.worker_count)]
            while state.epoch < config.epochs:
                epoch_words, epoch_start = 0.0, time.perf_counter()
                for worker in workers:
                    worker.start_epoch()
                before = state.epoch * vocab.total
                tasks = (Task(state.epoch, i, span, before + span.start)
                         for i, span in enumerate(corpus.epoch()))
                tallies = run_tasks(tasks, workers, advance, interrupted)
                tokens = round(sum(span.tokens for span in corpus.epoch()))
                epoch_words = 0.0
                pairs = sum(t.pairs for t in tallies)
                if not pairs:
                    raise _no_pairs(paths, corpus, config, state.epoch + 1)
                seconds = time.perf_counter() - epoch_start
                state.epoch += 1
                record = {"epoch": state.epoch,
                          "loss": math.fsum(t.loss for t in tallies) / pairs,
                          "pairs": pairs, "words": tokens,
                          "words_per_sec": tokens / seconds if seconds > 0 else math.inf,
                          "elapsed": elapsed_before + time.perf_counter() - start,
                          "lr": rate(state.epoch * vocab.total)}
                state.history.append(record)
                checkpoints.after_epoch(state.epoch, state.epoch == config.epochs,
                                        lambda path: save_checkpoint(path, state, context))
                if callback is not None:
                    callback(record)
    except KeyboardInterrupt:
        within = f"{epoch_words:,.0f} of {vocab.total:,} words" if epoch_words else None
        raise training_stopped(state.epoch, config.epochs, within, checkpoints) from None
    check_finite(vectors, output)
    if subwords:
        model = SubwordModel(subwords, vectors[:len(vocab)], vectors[len(vocab):],
                             fasttext_args(config))
        return Word2Vec(vocab, model.word_vectors(vocab.words), output, config, state.history,
                        model)
    return Word2Vec(vocab, vectors, output, config, state.history)


def fasttext_init(vectors: np.ndarray, seed: int, threads: int = 1) -> None:
    """fastText's initialisation of the input matrix, in place: uniform in ±1/dim.

    Block ``k`` of :data:`INIT_BLOCK` rows is drawn straight into the matrix (no copy of any
    size) from its own stream, the ``k``-th child of ``seed``'s ``SeedSequence``, so
    ``threads`` threads draw blocks at once (NumPy's generators and ufuncs release the GIL;
    fastText's threads draw its matrix too) and the matrix is the same whatever their number.
    """
    bound = np.float32(1.0 / vectors.shape[1])
    streams = np.random.SeedSequence(seed).spawn(-(-len(vectors) // INIT_BLOCK))

    def draw(k: int) -> None:
        block = vectors[k * INIT_BLOCK:(k + 1) * INIT_BLOCK]
        np.random.default_rng(streams[k]).random(dtype=np.float32, out=block)
        block *= 2 * bound
        block -= bound

    with ThreadPoolExecutor(max(1, threads)) as pool:
        list(pool.map(draw, range(len(streams))))


def fasttext_args(config: Word2VecConfig) -> dict:
    """The settings a fastText model file records, from ours."""
    return {"ws": config.window, "epoch": config.epochs, "minCount": config.min_count,
            "neg": config.negative, "model": 1 if config.model == "cbow" else 2,
            "t": config.subsample}


def _no_pairs(paths: CorpusPaths, corpus: IdCache, config: Word2VecConfig,
              epoch: int) -> EmbedkitError:
    """The error for an epoch without a single training pair, saying why there was none."""
    name = corpus_name(paths)
    if not corpus.has_pairs():
        return EmbedkitError(f"{name}: no training pairs: no line holds two words of the "
                             "vocabulary, and windows never reach across lines (one word per "
                             "line?); put each sentence on one line, or lower min_count",
                             params=("min_count",))
    return EmbedkitError(f"{name}: epoch {epoch} has no training pairs: subsampling "
                         f"(subsample {config.subsample:g}) left no two words of a line; "
                         "raise subsample, or set it to 0 to keep every word",
                         params=("subsample",))
