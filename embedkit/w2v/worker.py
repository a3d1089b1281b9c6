"""A word2vec worker: turns a task (a span of the id cache in an epoch) into samples and
trains their minibatches on the core.

A task's subsampling, windows and negatives come from a generator seeded by the run's seed,
the epoch and the task's number, so what a task trains on does not depend on which worker
takes it. Each minibatch runs the fused :func:`~embedkit.w2v.sgns.sgns_loss` over pairs (or,
with ``kernel="window"``, :func:`~embedkit.w2v.sgns.window_loss` over whole windows, each
with negatives drawn for it alone: pWord2Vec's formulation), after
:func:`~embedkit.w2v.sgns.context_bags` for CBOW, which reads the rows of its word ids straight
from the two matrices; ``backward()`` returns sparse-row gradients on those ids, and a sparse
:class:`~embedkit.core.optim.SGD` step adds them back (repeated ids and all: no ``np.unique``,
no gathered copies, no merging pass) at the learning rate of the words processed so far.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from embedkit.core.optim import SGD
from embedkit.core.tensor import SparseRows, Tensor
from embedkit.errors import DivergenceError
from embedkit.text.idcache import Span, SpanReader
from embedkit.text.noise import NoiseDistribution
from embedkit.text.windows import CbowSamples, SkipgramPairs, chunk_samples
from embedkit.w2v.config import Word2VecConfig
from embedkit.w2v.sgns import context_bags, sgns_loss, window_loss
from embedkit.w2v.subwords import (
    ROW_PAIRS,
    bag_rows,
    fasttext_rows,
    row_touches,
    subword_mean,
    word_rows,
)

#: With ``kernel="pair"``: consecutive pairs (bags) that share their noise words, and noise
#: words per group per word2vec negative (see :mod:`embedkit.w2v.sgns`). CBOW shares less: on
#: wordnet-glosses (1 worker, seed 1) groups of 16 / 4 / 1 bags scored 0.040 / 0.053 / 0.059
#: on the analogies (gensim 0.064), and 4 costs about a quarter of an epoch's time over 16.
NOISE_GROUP = {"skipgram": 16, "cbow": 4}
NOISE_PER_NEGATIVE = 1
#: A minibatch whose mean loss per pair exceeds this many nats per scored term (the true word
#: and each negative: ``1 + negative`` terms) has diverged: every score is off by about this
#: much, where training starts at log 2 per term. Such runs once ended at 1e35, finite.
DIVERGED = 30.0


class Task(NamedTuple):
    """A span for a worker to train in a given epoch (a few numbers: cheap to send)."""

    epoch: int
    number: int           # the span's number: with the seed and epoch, seeds its generator
    span: Span
    words_before: float   # in-vocabulary words processed before this task (for the rate)

    @property
    def words(self) -> int:
        """In-vocabulary words this task stands for."""
        return self.span.stop - self.span.start


def by_bag_size(bags: CbowSamples) -> CbowSamples:
    """The bags reordered by size (stably), so that a minibatch holds bags of one size.

    word2vec moves each context row of a bag by the bag's whole hidden-layer gradient: the
    true gradient of the mean times the bag's size. That is no gradient of any loss, but
    with bags of one size per minibatch it is exactly the true gradient with the input
    table's learning rate times that size (see ``Worker._cbow``).
    """
    sizes = np.diff(bags.indptr)
    # the smallest unsigned type that holds the sizes (at most 2 windows): NumPy's stable
    # sort of 8- and 16-bit integers is a radix sort, 5-10x faster than on int64, same order
    order = np.argsort(sizes.astype(np.min_scalar_type(int(sizes.max(initial=0)))),
                       kind="stable")
    sizes = sizes[order]
    indptr = np.concatenate([[0], np.cumsum(sizes)])
    # position k of new bag i is old position indptr[order[i]] + k
    members = np.repeat(bags.indptr[order] - indptr[:-1], sizes) + np.arange(indptr[-1])
    return CbowSamples(bags.centres[order], indptr, bags.contexts[members])


@dataclass
class Tally:
    """What one worker did in the current epoch: summed loss (float64) and pairs."""

    loss: float = 0.0
    pairs: int = 0


class Worker:
    """Turns tasks into samples and trains their minibatches, on its own tensors and
    optimizers over the shared matrices.

    A task's subsampling, windows and negatives come from a generator seeded by the run's
    seed, the epoch and the task's number, so they do not depend on which worker (or how
    many) trains it.
    """

    def __init__(self, config: Word2VecConfig, corpus: SpanReader, vectors: np.ndarray,
                 output: np.ndarray, noise: NoiseDistribution, keep: np.ndarray | None,
                 rate: Callable[[float], float],
                 subword_rows: tuple[np.ndarray, np.ndarray] | None = None):
        self.config = config
        # with subwords: each word's rows of the input matrix (indptr, members)
        self.subword_rows = subword_rows
        # with subwords: the pairs' worth a row moves by at most, this worker's share
        self.row_pairs = ROW_PAIRS[config.model] / config.worker_count
        self.corpus = corpus
        self.noise = noise
        self.keep = keep
        self.rng = np.random.default_rng(config.seed)  # replaced by each task's (_samples)
        self.rate = rate
        self.words_done = 0.0
        self.shared = max(1, config.negative * NOISE_PER_NEGATIVE)
        # Tensors of its own (their .grad is per worker) over the same arrays (Hogwild).
        self.vectors = Tensor(vectors, requires_grad=True)
        self.output = Tensor(output, requires_grad=True)
        # the rate of every step is given to step(): word2vec's decays with the words done
        self.input_sgd = SGD([self.vectors], config.initial_lr)
        self.output_sgd = SGD([self.output], config.initial_lr)
        self.tally = Tally()

    def start_epoch(self) -> None:
        """Reset the tally."""
        self.tally = Tally()

    def run(self, task: Task, progress: Callable[[dict], None] | None) -> None:
        """Train every minibatch of ``task``."""
        # overflow happens only on the way to a non-finite loss: DivergenceError, no warning
        with np.errstate(over="ignore", invalid="ignore"):
            self._run(task)
        if progress is not None:
            progress({"words": task.words, "lr": self.rate(self.words_done),
                      "loss": self.tally.loss / self.tally.pairs if self.tally.pairs
                      else None})

    def _samples(self, task: Task) -> SkipgramPairs | CbowSamples:
        """Read the task's ids, subsample them and window them, as the epoch's first pass
        over the corpus would: skip-gram pairs for the pair kernel, else each centre's
        window (CBOW's bag layout), sorted by size."""
        self.rng = np.random.default_rng(np.random.SeedSequence(
            self.config.seed, spawn_key=(task.epoch, task.number)))
        layout = "cbow" if self.config.kernel == "window" else self.config.model
        samples, _ = chunk_samples(self.corpus.read(task.span), layout, self.config.window,
                                   self.keep, self.rng)
        return by_bag_size(samples) if isinstance(samples, CbowSamples) else samples

    def _run(self, task: Task) -> None:
        samples = self._samples(task)
        step, n = self.config.minibatch_size, len(samples.centres)
        if isinstance(samples, CbowSamples) and self.config.model == "skipgram":
            # the window kernel: whole windows, about `step` pairs per minibatch; positions
            # count pairs
            positions = samples.indptr
            bounds = np.union1d(np.searchsorted(positions, np.arange(0, positions[-1], step)),
                                [n]).tolist()
        else:
            positions = np.arange(n + 1)
            bounds = [*range(0, n, step), n]
        per_position = task.words / max(int(positions[-1]), 1)
        noise, noise_bounds = self._task_noise(samples.centres, bounds)
        for (lo, hi), (n_lo, n_hi) in zip(itertools.pairwise(bounds),
                                          itertools.pairwise(noise_bounds), strict=True):
            self.words_done = task.words_before + int(positions[lo]) * per_position
            loss = (self._skipgram(samples, lo, hi, noise[n_lo:n_hi])
                    if self.config.model == "skipgram"
                    else self._cbow(samples, lo, hi, noise[n_lo:n_hi]))
            pairs = int(positions[hi] - positions[lo])
            # a finite loss can be garbage too: scores of ±DIVERGED on every term
            if not math.isfinite(loss) or loss > DIVERGED * (1 + self.config.negative) * pairs:
                raise DivergenceError(f"training diverged (loss {loss}) at learning rate "
                                      f"{self.rate(self.words_done):.4g}: lower lr or "
                                      "batch_size", params=("lr", "batch_size"))
            self.tally.loss += loss
            self.tally.pairs += pairs

    def _task_noise(self, centres: np.ndarray, bounds: list[int]
                    ) -> tuple[np.ndarray, list[int]]:
        """The noise words of a whole task in one draw (a call per minibatch cost a twentieth
        of CBOW's time), and where each minibatch's rows start and end.

        The window kernel: per window (bag) its centre, then ``negative`` noise words of its
        own (rows as the windows). The pair kernel: one row of shared draws per group of
        pairs (bags) of a minibatch. Drawn in minibatch order, these are the very numbers
        that one draw per minibatch gave.
        """
        if self.config.kernel == "window":
            targets = np.empty((len(centres), 1 + self.config.negative), dtype=np.int32)
            targets[:, 0] = centres
            targets[:, 1:] = self.noise.sample(self.rng, (len(centres), self.config.negative))
            return targets, bounds
        sizes = np.diff(bounds)
        groups = np.concatenate([[0], np.cumsum(-(-sizes // NOISE_GROUP[self.config.model]))])
        shape = (int(groups[-1]), self.shared if self.config.negative else 0)
        return self.noise.sample(self.rng, shape), groups.tolist()

    def _step(self, loss: Tensor, input_gain: float = 1.0, rows: np.ndarray | None = None,
              pairs: np.ndarray | None = None) -> float:
        """Backpropagate ``loss`` and update both matrices: the output one at the current
        rate, the input one at ``input_gain`` times it. With subwords the input rows move by
        fastText's rule (:func:`~embedkit.w2v.subwords.fasttext_rows`): ``rows`` numbers the
        gradient's entries among its distinct rows; ``pairs`` are the positions of
        skip-gram's distinct input words (its rows capped by norm), None for CBOW's bags."""
        self.input_sgd.zero_grad()
        self.output_sgd.zero_grad()
        loss.backward()
        if self.subword_rows is not None:
            grad = self.vectors.grad
            assert isinstance(grad, SparseRows) and rows is not None
            # the gradient has a group per distinct word (in sorted order) or per bag;
            # skip-gram's rows shared by words whose gradients disagree move further (CBOW's
            # cap was measured as a count only)
            self.vectors.grad = fasttext_rows(grad, row_touches(grad, pairs, rows),
                                              self.row_pairs, rows, by_norm=pairs is not None)
        rate = self.rate(self.words_done)
        self.input_sgd.step(lr=rate * input_gain)
        self.output_sgd.step(lr=rate)
        return float(loss.data)

    def _skipgram(self, samples, lo: int, hi: int, noise: np.ndarray) -> float:
        # word2vec's orientation: the context word's vector predicts the centre word
        if self.config.kernel == "window":  # samples: windows lo:hi; noise: their targets
            first, last = samples.indptr[lo], samples.indptr[hi]
            inputs, members = self.vectors, samples.contexts[first:last]
            if self.subword_rows is None:
                return self._step(window_loss(inputs, self.output,
                                              samples.indptr[lo:hi + 1] - first, members,
                                              noise))
            # the window's words, by position
            layout = word_rows(members, *self.subword_rows)
            inputs = subword_mean(self.vectors, members, *self.subword_rows, layout=layout)
            return self._step(window_loss(inputs, self.output,
                                          samples.indptr[lo:hi + 1] - first,
                                          np.arange(len(members)), noise),
                              rows=layout.local, pairs=layout.counts)
        centres, contexts = samples.centres[lo:hi], samples.contexts[lo:hi]  # pairs lo:hi
        if self.subword_rows is not None:
            layout = word_rows(contexts, *self.subword_rows)
            loss = sgns_loss(subword_mean(self.vectors, contexts, *self.subword_rows,
                                          layout=layout),
                             self.output, None, centres, noise,
                             self.config.negative / self.shared)
            return self._step(loss, rows=layout.local, pairs=layout.counts)
        else:
            loss = sgns_loss(self.vectors, self.output, contexts, centres, noise,
                             self.config.negative / self.shared)
        return self._step(loss)

    def _cbow(self, bags, lo: int, hi: int, noise: np.ndarray) -> float:
        first, last = bags.indptr[lo], bags.indptr[hi]
        indptr, contexts = bags.indptr[lo:hi + 1] - first, bags.contexts[first:last]
        centres = bags.centres[lo:hi]
        if self.subword_rows is not None:
            # fastText's bag: the mean of every row of every context word, each row moved by
            # the bag's whole gradient (fasttext_rows in _step)
            bag_indptr, members = bag_rows(*self.subword_rows, indptr, contexts)
            distinct, rows = np.unique(members, return_inverse=True)
            hidden = context_bags(self.vectors, bag_indptr, rows.reshape(-1), distinct=distinct)
            return self._finish_cbow(hidden, centres, noise, 1.0, rows.reshape(-1))
        hidden = context_bags(self.vectors, indptr, contexts, mean=self.config.cbow_mean)
        # word2vec moves every context row by the hidden layer's full gradient with a mean
        # (by 1/size of it with a sum): the true gradient times the bag size, which is one
        # size for the whole minibatch (by_bag_size) but where sizes change. With the
        # square root of it glosses scored 0.06 lower on WordSim353 than gensim at the same
        # learning rate; with bags of mixed sizes and their mean size, Lee's CBOW scored
        # 0.05 lower than with one size per minibatch.
        mean_size = (last - first) / (hi - lo)
        return self._finish_cbow(hidden, centres, noise,
                                 mean_size if self.config.cbow_mean else 1 / mean_size)

    def _finish_cbow(self, hidden: Tensor, centres: np.ndarray, noise: np.ndarray,
                     gain: float, rows: np.ndarray | None = None) -> float:
        """The loss of the bags' hidden vectors against their centres (the window kernel:
        ``noise`` holds the bags' targets), one step (``rows``: see :meth:`_step`)."""
        if self.config.kernel == "window":
            return self._step(window_loss(hidden, self.output, None, None, noise), gain, rows)
        loss = sgns_loss(hidden, self.output, None, centres, noise,
                         self.config.negative / self.shared)
        return self._step(loss, gain, rows)

