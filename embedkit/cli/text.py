"""Commands from text to training data: ``vocab``, ``windows``, ``phrases`` and ``synth-corpus``."""

from __future__ import annotations

import tempfile

import click
import numpy as np

from embedkit.cli.options import progress_bar, seed_option
from embedkit.io import atomic_output, atomic_outputs, check_writable
from embedkit.text.corpus import spool_streams
from embedkit.text.export import save_windows_npz, windows_format, write_windows_tsv
from embedkit.text.noise import DEFAULT_NS_EXPONENT, NoiseDistribution
from embedkit.text.phrases import (
    DEFAULT_MAX_PAIRS,
    DEFAULT_THRESHOLDS,
    SCORINGS,
    CodeCache,
    check_settings,
    learn_phrases,
    read_common_words,
    write_phrased,
)
from embedkit.text.stream import DEFAULT_MAX_SENTENCE_LENGTH
from embedkit.text.subsample import DEFAULT_SUBSAMPLE
from embedkit.text.synthetic import write_planted_corpus
from embedkit.text.tokenize import TOKENIZERS, Tokenizer
from embedkit.text.vocab import (
    DEFAULT_MAX_SIZE,
    DEFAULT_MIN_COUNT,
    Vocabulary,
    build_vocabulary,
    check_vocab_name,
)
from embedkit.text.windows import DEFAULT_WINDOW, MODELS, iter_windows

corpus_argument = click.argument("corpus", nargs=-1, required=True, metavar="CORPUS...")

#: How lines become words, and how many distinct words counting holds.
_TOKENIZER_OPTIONS = (
    click.option("--no-lowercase", is_flag=True, help="Keep the case of the text."),
    click.option("--tokenizer", type=click.Choice(TOKENIZERS), default=Tokenizer().kind,
                 help="regex: words of letters, digits and combining marks with inner ', - "
                      "and _, punctuation dropped; whitespace: split on white space only. "
                      "Both compare words in Unicode NFC."),
    click.option("--count-limit", type=click.IntRange(min=1), default=DEFAULT_MAX_SIZE,
                 metavar="N", help="Distinct words held while counting; beyond it the "
                                   "rarest are pruned (and a note is printed)."),
)


def _decorate(command, options):
    for option in reversed(options):
        command = option(command)
    return command


def tokenizer_options(command):
    """The options that say how lines become words (those of ``vocab``)."""
    return _decorate(command, _TOKENIZER_OPTIONS)


def corpus_options(command):
    """The corpus argument and the options that decide the vocabulary."""
    return _decorate(command, (
        corpus_argument,
        click.option("--min-count", type=click.IntRange(min=1), default=DEFAULT_MIN_COUNT,
                     metavar="N",
                     help="Ignore words seen fewer than N times."),
        click.option("--max-vocab", type=click.IntRange(min=1), default=None, metavar="N",
                     help="Keep only the N most frequent words (ties broken by word)."),
        *_TOKENIZER_OPTIONS,
    ))


def corpus_vocabulary(corpus, min_count, max_vocab, tokenizer: Tokenizer,
                      count_limit) -> Vocabulary:
    """The vocabulary of the corpus options, with a note on stderr if counting pruned words."""
    vocab = build_vocabulary(corpus, min_count, max_vocab, tokenizer, count_limit)
    if vocab.pruned_below:
        note(f"more than {count_limit} distinct words; words seen at most "
             f"{vocab.pruned_below} times were pruned while counting (raise --count-limit to "
             "keep them)")
    return vocab


def note(message: str) -> None:
    """A remark on stderr that does not stop the command."""
    click.echo(f"embedkit: note: {message}", err=True)


@click.command("vocab")
@corpus_options
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Write the vocabulary here instead of stdout (word<TAB>count text: .tsv, "
                   ".txt, .vocab or another suffix; .npz, .npy and other formats' suffixes "
                   "are refused).")
def vocab(corpus, min_count, max_vocab, no_lowercase, tokenizer, count_limit, output) -> None:
    """Count the words of CORPUS and print the vocabulary as `word<TAB>count` lines, most
    frequent first.

    CORPUS is one or more files (plain, .gz or .bz2; `-` for stdin) with one sentence per
    line, read in one streaming pass.
    """
    check_vocab_name(output)
    check_writable(output)
    corpus_vocabulary(corpus, min_count, max_vocab, Tokenizer(tokenizer, not no_lowercase),
                      count_limit).save(output)


@click.command("windows")
@corpus_options
@click.option("--model", type=click.Choice(MODELS), default="skipgram",
              help="skipgram: one (centre, context) pair per line; cbow: a centre and the "
                   "bag of its context words.")
@click.option("--window", type=click.IntRange(min=1), default=DEFAULT_WINDOW, metavar="W",
              help="Largest distance between a centre and a context word.")
@click.option("--fixed-window", is_flag=True,
              help="Use W for every centre instead of drawing it from 1..W (word2vec).")
@click.option("--subsample", type=click.FloatRange(min=0), default=DEFAULT_SUBSAMPLE,
              metavar="T", help="Keep each occurrence of a word of count f (of T_total "
                                "tokens) with probability (sqrt(f/(T*T_total)) + 1) * "
                                "T*T_total/f, capped at 1 (word2vec); 0 keeps every word.")
@click.option("--max-sentence-length", type=click.IntRange(min=1),
              default=DEFAULT_MAX_SENTENCE_LENGTH, metavar="N",
              help="Split longer lines into sentences of N tokens (never truncated).")
@click.option("--ns-exponent", type=float, default=DEFAULT_NS_EXPONENT, metavar="X",
              help="Exponent of the noise distribution (count^X) stored in a .npz output.")
@click.option("--ids", is_flag=True, help="Write vocabulary ids instead of words.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Write here instead of stdout; a name ending in .npz gets arrays "
                   "(centres, contexts, indptr) with the vocabulary and noise distribution, "
                   "any other tab-separated text, compressed after .gz or .bz2 (.npy, "
                   ".npz.gz and other suffixes of other formats are refused).")
@seed_option
def windows(corpus, min_count, max_vocab, no_lowercase, tokenizer, count_limit, model, window,
            fixed_window, subsample, max_sentence_length, ns_exponent, ids, output,
            seed) -> None:
    """Print the training samples that one epoch of word2vec would see in CORPUS.

    Skip-gram lines are `centre<TAB>context`; CBOW lines are `centre<TAB>context words`
    separated by spaces. Samples are ordered by centre, then by context position;
    windows never cross a line. Words outside the vocabulary are dropped first, then
    frequent words are subsampled, as word2vec does. Stdin (`-`) and pipes (a FIFO, `<(...)`)
    are spooled to a temporary file, since they are read twice (vocabulary, then windows).
    """
    settings = Tokenizer(tokenizer, not no_lowercase)
    arrays = windows_format(output) == "npz"
    check_writable(output)
    with spool_streams(corpus) as paths:
        vocabulary = corpus_vocabulary(paths, min_count, max_vocab, settings, count_limit)
        noise = NoiseDistribution(vocabulary.counts, ns_exponent)
        with progress_bar(unit="tok", unit_scale=True, desc="windows") as bar:
            batches = iter_windows(paths, vocabulary, model, window,
                                   np.random.default_rng(seed), subsample,
                                   dynamic=not fixed_window, tokenizer=settings,
                                   max_sentence_length=max_sentence_length,
                                   callback=lambda record: bar.update(record["tokens"]))
            if arrays:
                save_windows_npz(output, batches, vocabulary, noise)
                return
            labels = [str(i) for i in range(len(vocabulary))] if ids else vocabulary.words
            with atomic_output(output) as out:
                write_windows_tsv(out, batches, labels)


@click.command("synth-corpus")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Write the corpus here instead of stdout.")
@click.option("--sentences", type=click.IntRange(min=1), default=40_000, metavar="N",
              help="Number of lines to write.")
@seed_option
def synth_corpus(output, sentences, seed) -> None:
    """Write a synthetic corpus with planted structure, one sentence per line.

    A small world in template sentences with filler and noise words: countries and their
    capitals, male and female pairs, singular and plural nouns. Training on it should
    recover analogies such as paris : france :: rome : italy and king : queen :: man :
    woman. `corpora/planted.txt` is this command's output with the defaults.
    """
    with atomic_output(output) as out:
        write_planted_corpus(out, sentences, np.random.default_rng(seed))


@click.command("phrases")
@corpus_argument
@click.option("--min-count", type=click.IntRange(min=1), default=DEFAULT_MIN_COUNT,
              metavar="N", help="Never join words, or pairs, seen fewer than N times.")
@click.option("--threshold", type=float, default=None, metavar="X",
              help="Join the pairs scoring above X. Default: 100 for word2phrase scores, 0.5 "
                   "for NPMI (which lies in [-1, 1]).")
@click.option("--scoring", type=click.Choice(SCORINGS), default="word2phrase",
              help="word2phrase: (count(ab) - min_count) / (count(a) count(b)) x total tokens; "
                   "npmi: normalised pointwise mutual information.")
@click.option("--passes", type=click.IntRange(min=1), default=1, metavar="N",
              help="Join pairs N times, each pass on the previous one's output: 2 passes make "
                   "trigrams and four-word phrases.")
@click.option("--delimiter", default="_", metavar="TEXT",
              help="Joins the words of a phrase (the regex tokenizer keeps words joined by _, "
                   "- or ').")
@click.option("--common-words", type=click.Path(dir_okay=False), default=None,
              metavar="FILE", help="Connector words (white-space separated; # comment lines) "
                                   "that may stand inside a phrase but never begin or end "
                                   "one: bank of america -> bank_of_america.")
@click.option("--save-phrases", type=click.Path(dir_okay=False), default=None,
              metavar="FILE", help="Also write the phrases found as "
                                   "phrase<TAB>count<TAB>score lines, most frequent first.")
@click.option("--pair-limit", type=click.IntRange(min=1), default=DEFAULT_MAX_PAIRS,
              metavar="N", help="Distinct pairs held while counting; beyond it the rarest "
                                "are pruned (and a note is printed).")
@tokenizer_options
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Write the corpus here instead of stdout.")
def phrases(corpus, min_count, threshold, scoring, passes, delimiter, common_words,
            save_phrases, pair_limit, no_lowercase, tokenizer, count_limit, output) -> None:
    """Write CORPUS with its frequent pairs of adjacent words joined into one token, the way
    the word2vec release's word2phrase does ("new york" -> new_york), one sentence per line.

    Pairs of words seen at least --min-count times that score above --threshold are joined,
    greedily from left to right (a word joined to its left neighbour is not joined to its
    right one); a phrase never spans two lines. Each of --passes joins pairs of the previous
    pass's tokens. Stdin (`-`) and pipes (a FIFO, `<(...)`) are spooled to a temporary file,
    since they are read more than once;
    word ids are kept in a temporary file (4 bytes a token) between passes. The output is
    tokenised and, unless --no-lowercase, lower-cased: `embedkit phrases c.txt | embedkit
    phrases - | embedkit train-w2v -` works with the default tokenizer.
    """
    if threshold is None:
        threshold = DEFAULT_THRESHOLDS[scoring]
    check_settings(min_count, threshold, scoring, passes, delimiter)
    check_writable(output, save_phrases)
    settings = Tokenizer(tokenizer, not no_lowercase)
    common = read_common_words(common_words, settings) if common_words else []
    with spool_streams(corpus) as paths, \
            tempfile.TemporaryDirectory(prefix="embedkit-phrases-") as scratch:
        vocabulary = corpus_vocabulary(paths, min_count, None, settings, count_limit)
        cache = CodeCache(scratch)
        with progress_bar(unit="tok", unit_scale=True, desc="phrases") as bar:
            model = learn_phrases(paths, vocabulary, min_count, threshold, scoring, passes,
                                  common, delimiter, settings, pair_limit,
                                  callback=bar.update, cache=cache)
        for number, done in enumerate(model.passes, 1):
            if done.pruned_below:
                note(f"pass {number}: more than {pair_limit} distinct pairs; pairs seen at most "
                     f"{done.pruned_below} times were pruned while counting (raise "
                     "--pair-limit to keep them)")
        with atomic_outputs(output, save_phrases) as (corpus_out, phrases_out):
            with atomic_output(corpus_out) as out:
                write_phrased(out, paths, model, settings, cache=cache)
            if phrases_out is not None:
                model.save(phrases_out)
