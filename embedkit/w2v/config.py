"""The hyper-parameters of a word2vec training, with word2vec's defaults."""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass

from embedkit.errors import ParameterError
from embedkit.text.noise import DEFAULT_NS_EXPONENT
from embedkit.text.subsample import DEFAULT_SUBSAMPLE
from embedkit.text.subwords import DEFAULT_BUCKETS, MAX_BUCKETS, MAX_NGRAM, RANGE_EXPECTED, Subwords
from embedkit.text.vocab import DEFAULT_MIN_COUNT
from embedkit.text.windows import DEFAULT_WINDOW, MODELS

#: The training kernels: ``window`` draws the noise words once per window (per CBOW bag) and
#: trains runs of windows of one size with batched matrix products
#: (:func:`~embedkit.w2v.sgns.window_loss`); ``pair`` shares them among consecutive pairs
#: (bags) and trains pairs (:func:`~embedkit.w2v.sgns.sgns_loss`).
KERNELS = ("window", "pair")
#: Each model's default kernel, by measurement (benchmarks/bench_w2v.py, wordnet-glosses, 2
#: workers, whole commands, seeds 1-3, load average 1.3-3.1): skip-gram windows ran 0.93x gensim
#: corpus_file's words/s (pairs 0.89x) and scored 0.407 WordSim353 / 0.066 analogies (pairs
#: 0.417 / 0.061, gensim 0.405 / 0.074); CBOW bags drawing their own noise words ran 0.67x
#: (pairs 0.94x) for 0.450 / 0.061 (pairs 0.457 / 0.056, gensim 0.476 / 0.070).
DEFAULT_KERNEL = {"skipgram": "window", "cbow": "pair"}
#: word2vec's starting learning rates.
DEFAULT_LR = {"skipgram": 0.025, "cbow": 0.05}
#: With subwords, fastText's defaults for both models: starting learning rate 0.05 and noise
#: words drawn ∝ count^0.5 (src/args.cc, src/loss.cc). On wordnet-glosses (skip-gram, 2
#: workers, one seed, rows capped as :func:`~embedkit.w2v.subwords.fasttext_rows` does) they
#: scored 0.566 on WordSim353 and 0.600 on the analogies, word2vec's 0.025 and count^0.75
#: 0.408 and 0.366 (fastText's own tool: 0.514 and 0.568 in an earlier run).
SUBWORD_LR = 0.05
SUBWORD_NS_EXPONENT = 0.5
#: Training pairs (skip-gram) or context bags (CBOW) per minibatch: summed gradients stay
#: stable and score like word2vec's per-pair updates up to about these sizes (CBOW touches a
#: frequent word in many bags at once: on wordnet-glosses with two workers, medians of 3,
#: 384 bags scored 0.459 on WordSim353 and 0.061 on the analogies, gensim 0.449 and 0.064;
#: 256 scored about the same, 25% slower; 512 fell to 0.42 and 0.043 (before bags were
#: grouped by size)).
DEFAULT_BATCH_SIZE = {"skipgram": 1024, "cbow": 384}


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
        Noise words per training pair (0: positives only, for tests; the command asks for at
        least 1, since without noise words nothing keeps the vectors apart).
    ns_exponent : float or None
        Noise distribution ∝ count ** ns_exponent (None: 0.75, word2vec's; 0.5, fastText's,
        with subwords).
    min_count, max_vocab : int
        Vocabulary: words seen at least ``min_count`` times, the ``max_vocab`` most frequent.
    subsample : float
        Threshold of frequent-word subsampling (0: off).
    epochs : int
    lr : float or None
        Starting learning rate (None: 0.025 for skip-gram, 0.05 for CBOW and with subwords),
        decaying linearly to ``min_lr`` over all epochs.
    min_lr : float
    batch_size : int or None
        Pairs (skip-gram) or bags (CBOW) per minibatch (None: 1024 / 384).
    cbow_mean : bool
        CBOW averages its context vectors (True) or sums them.
    seed : int
    threads : int or None
        Parallel workers (None: every core); more than one runs forked processes.
    kernel : {"window", "pair"} or None
        How noise words are shared and pairs batched (see :data:`KERNELS`; None: the model's
        :data:`DEFAULT_KERNEL`).
    minn, maxn : int
        Subword n-gram lengths in characters, fastText's way (``maxn`` 0: no subwords, plain
        word2vec): a word's input vector is the mean of its own row and its n-gram rows.
    buckets : int
        Hashed n-gram rows of the input matrix (used only with subwords).
    """

    model: str = "skipgram"
    dim: int = 100
    window: int = DEFAULT_WINDOW
    negative: int = 5
    ns_exponent: float | None = None
    min_count: int = DEFAULT_MIN_COUNT
    max_vocab: int | None = None
    subsample: float = DEFAULT_SUBSAMPLE
    epochs: int = 5
    lr: float | None = None
    min_lr: float = 1e-4
    batch_size: int | None = None
    cbow_mean: bool = True
    seed: int = 1
    threads: int | None = None
    kernel: str | None = None
    minn: int = 0
    maxn: int = 0
    buckets: int = DEFAULT_BUCKETS

    @property
    def subwords(self) -> Subwords | None:
        """The n-gram settings, or None without subwords."""
        return Subwords(self.minn, self.maxn, self.buckets) if self.maxn else None

    @property
    def initial_lr(self) -> float:
        """``lr``, or the model's default (fastText's with subwords) when it is None."""
        if self.lr is not None:
            return self.lr
        return SUBWORD_LR if self.maxn else DEFAULT_LR[self.model]

    @property
    def noise_exponent(self) -> float:
        """``ns_exponent``, or word2vec's (fastText's with subwords) when it is None."""
        if self.ns_exponent is not None:
            return self.ns_exponent
        return SUBWORD_NS_EXPONENT if self.maxn else DEFAULT_NS_EXPONENT

    @property
    def minibatch_size(self) -> int:
        """``batch_size``, or the model's default when it is None."""
        return DEFAULT_BATCH_SIZE[self.model] if self.batch_size is None else self.batch_size

    @property
    def training_kernel(self) -> str:
        """``kernel``, or the model's default when it is None."""
        return DEFAULT_KERNEL[self.model] if self.kernel is None else self.kernel

    @property
    def worker_count(self) -> int:
        """``threads``, or every core when it is None."""
        return (os.cpu_count() or 1) if self.threads is None else self.threads

    def resolved(self) -> Word2VecConfig:
        """The configuration with defaults filled in, validated.

        Raises
        ------
        ParameterError
            Naming the first invalid hyper-parameter.
        """
        if self.model not in MODELS:
            raise ParameterError(f"model {self.model!r}: expected one of {', '.join(MODELS)}",
                                params=("model",))
        if self.training_kernel not in KERNELS:
            raise ParameterError(f"kernel {self.kernel!r}: expected one of {', '.join(KERNELS)}",
                                params=("kernel",))
        filled = Word2VecConfig(**{**asdict(self), "lr": self.initial_lr,
                                   "ns_exponent": self.noise_exponent,
                                   "kernel": self.training_kernel,
                                   "batch_size": self.minibatch_size,
                                   "threads": self.worker_count})
        for name, value, low in (("dim", filled.dim, 1), ("window", filled.window, 1),
                                 ("negative", filled.negative, 0), ("epochs", filled.epochs, 1),
                                 ("min_count", filled.min_count, 1),
                                 ("batch_size", filled.minibatch_size, 1),
                                 ("threads", filled.worker_count, 1)):
            if value < low:
                raise ParameterError(f"{name} {value}: expected at least {low}", params=(name,))
        if filled.maxn and not 1 <= filled.minn <= filled.maxn <= MAX_NGRAM:
            raise ParameterError(f"subwords {filled.minn}-{filled.maxn}: {RANGE_EXPECTED}",
                                 params=("subwords",))
        if filled.maxn and not 1 <= filled.buckets <= MAX_BUCKETS:
            raise ParameterError(f"buckets {filled.buckets}: expected 1 to {MAX_BUCKETS}",
                                 params=("buckets",))
        if filled.max_vocab is not None and filled.max_vocab < 1:
            raise ParameterError(f"max_vocab {filled.max_vocab}: expected at least 1",
                                params=("max_vocab",))
        if not 0 < filled.initial_lr < math.inf:
            raise ParameterError(f"lr {filled.lr}: expected a finite learning rate > 0",
                                 params=("lr",))
        if not 0 <= filled.min_lr <= filled.initial_lr:
            raise ParameterError(f"min_lr {filled.min_lr}: expected between 0 and lr "
                                f"({filled.lr})", params=("min_lr", "lr"))
        if not filled.subsample >= 0:
            raise ParameterError(f"subsample {filled.subsample}: expected a threshold >= 0",
                                params=("subsample",))
        if not math.isfinite(filled.noise_exponent):
            raise ParameterError(f"ns_exponent {filled.ns_exponent}: expected a finite number",
                                params=("ns_exponent",))
        return filled
