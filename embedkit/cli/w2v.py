"""``embedkit train-w2v``: word2vec skip-gram and CBOW with negative sampling."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator

import click
from click.core import ParameterSource

from embedkit.cli.options import (
    check_archive_names,
    checkpoint_options,
    progress_bar,
    seed_option,
    vector_format_option,
)
from embedkit.cli.text import corpus_options, corpus_vocabulary, note
from embedkit.errors import EmbedkitError, ParameterError
from embedkit.formats import output_format
from embedkit.io import atomic_output, check_writable, is_stream, to_json
from embedkit.text.corpus import spool_streams
from embedkit.text.noise import DEFAULT_NS_EXPONENT
from embedkit.text.subwords import MAX_BUCKETS, parse_range
from embedkit.text.tokenize import Tokenizer
from embedkit.text.vocab import check_vocab_name
from embedkit.text.windows import MODELS
from embedkit.w2v.cluster import (  # Dask is imported only when used
    DEFAULT_SYNC_EVERY,
    DEFAULT_SYNC_EVERY_MANY,
)
from embedkit.w2v.config import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_KERNEL,
    DEFAULT_LR,
    KERNELS,
    SUBWORD_LR,
    SUBWORD_NS_EXPONENT,
    Word2VecConfig,
)
from embedkit.w2v.train import Word2Vec, train_word2vec

#: The library's defaults, which the options show and pass on.
DEFAULTS = Word2VecConfig()


def _per_model(defaults: dict) -> str:
    """A per-model default for the help, e.g. ``0.025 skipgram, 0.05 cbow``."""
    return ", ".join(f"{value} {model}" for model, value in defaults.items())


@click.command("train-w2v")
@corpus_options
@click.option("--model", type=click.Choice(MODELS), default=DEFAULTS.model,
              help="skipgram: each word predicts its context words; cbow: the mean of the "
                   "context predicts the word.")
@click.option("--dim", type=click.IntRange(min=1), default=DEFAULTS.dim, metavar="D",
              help="Vector dimension.")
@click.option("--window", type=click.IntRange(min=1), default=DEFAULTS.window, metavar="W",
              help="Largest distance between a word and a context word (drawn from 1..W "
                   "per word, as word2vec does).")
@click.option("--negative", type=click.IntRange(min=1), default=DEFAULTS.negative, metavar="K",
              help="Noise words per training pair.")
@click.option("--ns-exponent", type=float, default=None, metavar="X",
              help="Noise words are drawn with probability proportional to count^X  "
                   f"[default: {DEFAULT_NS_EXPONENT}; {SUBWORD_NS_EXPONENT} with --subwords, "
                   "fastText's]")
@click.option("--subsample", type=click.FloatRange(min=0), default=DEFAULTS.subsample,
              metavar="T", help="Threshold of frequent-word subsampling (0: off).")
@click.option("--epochs", type=click.IntRange(min=1), default=DEFAULTS.epochs, metavar="N",
              help="Passes over the corpus.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="RATE", help=f"Starting learning rate  [default: {_per_model(DEFAULT_LR)}; "
                                   f"{SUBWORD_LR} with --subwords, fastText's]")
@click.option("--min-lr", type=click.FloatRange(min=0), default=DEFAULTS.min_lr, metavar="RATE",
              help="The learning rate decays linearly to this over all epochs.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, metavar="N",
              help="Pairs (skipgram) or context bags (cbow) per minibatch  "
                   f"[default: {_per_model(DEFAULT_BATCH_SIZE)}]")
@click.option("--cbow-mean/--cbow-sum", default=DEFAULTS.cbow_mean,
              help="CBOW averages (or sums) the context vectors.")
@click.option("--kernel", type=click.Choice(KERNELS), default=None,
              help="pair: noise words shared by groups of consecutive pairs (bags); window: "
                   "drawn once per window (per CBOW bag), windows trained by batched matrix "
                   f"products  [default: {_per_model(DEFAULT_KERNEL)}]")
@click.option("--subwords", "subwords", default=None, metavar="MIN-MAX",
              help="fastText's subword model: a word's input vector is the mean of its own "
                   "row and the rows of its character n-grams of MIN to MAX characters (such "
                   "as 3-6), which also give vectors to unseen words  [default: none, plain "
                   "word2vec]")
@click.option("--buckets", type=click.IntRange(min=1, max=MAX_BUCKETS),
              default=DEFAULTS.buckets, metavar="N",
              help="With --subwords: rows the n-grams are hashed into.")
@seed_option
@click.option("--threads", type=click.IntRange(min=1), default=None, metavar="N",
              help="Worker threads  [default: all cores]; only --threads 1 is "
                   "bit-for-bit reproducible.")
@click.option("--cluster", default=None, metavar="ADDRESS",
              help="Train on a Dask cluster (the 'cluster' extra): local:N starts N local "
                   "worker processes for the run, tcp://HOST:PORT uses a running scheduler. "
                   "The workers read CORPUS themselves; --threads is then the number of "
                   "tasks per round  [default: the cluster's worker threads].")
@click.option("--sync-every", type=click.IntRange(min=1), default=None, metavar="WORDS",
              help="With --cluster: words of the whole cluster between two merges of the "
                   f"workers' changes  [default: {DEFAULT_SYNC_EVERY:,} with 2 tasks per "
                   f"round or fewer, {DEFAULT_SYNC_EVERY_MANY:,} with more].")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True),
              default=None, metavar="FILE",
              help="Write the vectors here (.vec/.txt: word2vec text, .bin: word2vec "
                   "binary, .npz: vocabulary, counts and both matrices, with --subwords the "
                   "n-gram rows; --format fasttext: fastText's .bin model)  [default: text on "
                   "stdout]")
@vector_format_option
@click.option("--save-vocab", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Also write the vocabulary (word<TAB>count lines) here (.tsv, .txt, "
                   ".vocab or another suffix; .npz, .npy and other formats' are refused).")
@click.option("--log-json", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Write the per-epoch records as JSON lines here.")
@checkpoint_options("CORPUS")
def train_w2v(corpus, min_count, max_vocab, no_lowercase, tokenizer, count_limit, model, dim,
              window, negative, ns_exponent, subsample, epochs, lr, min_lr, batch_size,
              cbow_mean, kernel, subwords, buckets, seed, threads, cluster, sync_every, output,
              fmt, save_vocab, log_json, checkpoint, checkpoint_every, resume) -> None:
    """Train word vectors on CORPUS with word2vec (negative sampling) and write them.

    CORPUS is one or more files (plain, .gz or .bz2; `-` for stdin, and pipes such as a FIFO
    or `<(...)`, spooled to a temporary file since it is read once per epoch) with one sentence
    per line. After each epoch a line
    on stderr gives the exact mean loss per training pair (summed in float64), the corpus
    words per second and the elapsed time; a progress bar shows on a terminal.

    Minibatches run on embedkit's backprop core with sparse SGD updates. Skip-gram's default
    --kernel window trains whole windows whose pairs share noise words drawn for that window
    alone (pWord2Vec's formulation), as batched matrix products; --kernel pair (CBOW's default)
    shares noise words among groups of 16 consecutive pairs (CBOW: 4 bags). Example:

        embedkit train-w2v corpora/kjv.txt.gz -o vectors.vec

    Long runs: --checkpoint FILE saves the state after every --checkpoint-every epochs;
    --resume FILE continues it (with --threads 1 and the same --epochs, bit-identical to an
    uninterrupted run). Ctrl-C writes nothing, says in which epoch and after how many words
    training stopped, stops the worker processes and exits with 130.
    """
    if sync_every is not None and cluster is None:
        raise ParameterError("sync_every sets how often the workers of a cluster merge their "
                             "changes: give it with cluster, or leave it out",
                             params=("sync_every", "cluster"))
    if subwords is None and click.get_current_context().get_parameter_source("buckets") \
            is ParameterSource.COMMANDLINE:
        raise ParameterError("buckets sets the rows of the n-grams of subwords: give it with "
                             "subwords, or leave it out", params=("buckets", "subwords"))
    check_archive_names(checkpoint)
    check_vocab_name(save_vocab)
    check_writable(output, save_vocab, log_json, checkpoint)
    minn, maxn = parse_range(subwords) if subwords is not None else (0, 0)
    config = Word2VecConfig(model=model, dim=dim, window=window, negative=negative,
                            ns_exponent=ns_exponent, min_count=min_count, max_vocab=max_vocab,
                            subsample=subsample, epochs=epochs, lr=lr, min_lr=min_lr,
                            batch_size=batch_size, cbow_mean=cbow_mean, seed=seed,
                            threads=threads, kernel=kernel, minn=minn, maxn=maxn,
                            buckets=buckets)
    config.resolved()  # checked before anything starts; with --cluster, threads stays open
    settings = Tokenizer(tokenizer, not no_lowercase)
    if cluster is not None:
        trained = _train_on_cluster(corpus, config, cluster, sync_every, settings, count_limit,
                                    output, fmt, checkpoint, checkpoint_every, resume)
        _write(trained, output, fmt, save_vocab, log_json)
        return
    with spool_streams(corpus) as paths:
        vocab = corpus_vocabulary(paths, min_count, max_vocab, settings, count_limit)
        output_format(output, vocab.words, need_words=True, fmt=fmt)  # before training
        with _progress(vocab.total * epochs, epochs) as (report, advance):
            trained = train_word2vec(paths, config, vocab, settings, callback=report,
                                     progress=advance, checkpoint=checkpoint,
                                     checkpoint_every=checkpoint_every, resume=resume)
    _write(trained, output, fmt, save_vocab, log_json)


@contextlib.contextmanager
def _progress(total: int, epochs: int) -> Iterator[tuple[Callable, Callable]]:
    """The epoch line on stderr and the progress bar of ``total`` words: the ``callback``
    and ``progress`` of training."""
    with progress_bar(total=total, unit="word", unit_scale=True, desc="train-w2v") as bar:
        def report(record: dict) -> None:
            bar.write(f"epoch {record['epoch']}/{epochs}  loss {record['loss']:.6f}  "
                      f"{record['words_per_sec']:,.0f} words/s  {record['elapsed']:.1f} s",
                      file=sys.stderr)

        def advance(step: dict) -> None:
            bar.update(step["words"])
            loss = "n/a" if step["loss"] is None else f"{step['loss']:.4f}"
            bar.set_postfix(lr=f"{step['lr']:.5f}", loss=loss, refresh=False)

        yield report, advance


def _train_on_cluster(corpus, config: Word2VecConfig, cluster: str, sync_every: int | None,
                      settings: Tokenizer, count_limit: int, output, fmt, checkpoint,
                      checkpoint_every, resume) -> Word2Vec:
    """``--cluster``: the vocabulary counted by the workers, then training in rounds."""
    from embedkit.w2v.cluster import cluster_client, cluster_vocabulary, train_on_cluster

    for path in corpus:
        if is_stream(path):  # a worker cannot open stdin, and a pipe gives its data once
            what = "stdin (-)" if os.fspath(path) == "-" else f"{os.fspath(path)}: a pipe"
            raise EmbedkitError(f"cluster: the workers read the corpus themselves and cannot "
                                f"read {what}: give file paths or URLs", params=("cluster",))
    with cluster_client(cluster) as client:
        vocab = cluster_vocabulary(client, corpus, config.min_count, config.max_vocab,
                                   settings, count_limit)
        if vocab.pruned_below:
            note(f"more than {count_limit} distinct words in a part of the corpus; words "
                 f"seen at most {vocab.pruned_below} times there were pruned while counting "
                 "(raise --count-limit to keep them)")
        output_format(output, vocab.words, need_words=True, fmt=fmt)  # before training
        with _progress(vocab.total * config.epochs, config.epochs) as (report, advance):
            return train_on_cluster(corpus, config, client, vocab, settings, report, advance,
                                    sync_every=sync_every, checkpoint=checkpoint,
                                    checkpoint_every=checkpoint_every, resume=resume,
                                    max_size=count_limit)


def _write(trained: Word2Vec, output, fmt, save_vocab, log_json) -> None:
    """The outputs of a finished training."""
    trained.save(output, fmt)
    if save_vocab:
        trained.vocab.save(save_vocab)
    if log_json:
        with atomic_output(log_json) as out:
            out.writelines(to_json(record) + "\n" for record in trained.history)
