"""``embedkit neighbors``, ``analogy`` and ``evaluate``: querying and scoring vector files."""

from __future__ import annotations

import codecs
import os
import select
import sys
from collections.abc import Callable, Iterator
from itertools import islice

import click

from embedkit.cli.options import json_option, vector_format_option
from embedkit.errors import ParameterError
from embedkit.io import (
    STDIO,
    UndecodableLines,
    check_stdin_once,
    check_writable,
    decode_lines,
    names_stdin,
    to_json,
    tsv_field,
)
from embedkit.vectors import KeyedVectors, load_vectors
from embedkit.vectors.ann import (
    CONNECTIVITY,
    EXPANSION_ADD,
    EXPANSION_SEARCH,
    PRECISIONS,
    VectorIndex,
    build_index,
    check_index_output,
)
from embedkit.vectors.evaluate import (
    OOV_RULES,
    RESTRICT_VOCAB,
    evaluate_analogies,
    evaluate_similarity,
)
from embedkit.vectors.formats import convert_vectors
from embedkit.vectors.query import METHODS, Answer, Search, answer, parse_analogy, parse_query

#: Most stdin lines answered together when more are already waiting.
STDIN_BATCH = 1024


def vector_options(command: Callable) -> Callable:
    """The VECTORS argument and the options that say how to load it."""
    for option in reversed([
        click.argument("vectors", metavar="VECTORS",
                       type=click.Path(dir_okay=False, allow_dash=True)),
        click.option("--limit", type=click.IntRange(min=1), metavar="N",
                     help="Load only the first N (most frequent) vectors."),
        click.option("--mmap", is_flag=True,
                     help="Memory-map .npy/.npz matrices instead of reading them."),
        click.option("--vocab", type=click.Path(dir_okay=False), metavar="FILE",
                     help="Vocabulary of a .npy matrix: 'word [count]' per line "
                          "[default: VECTORS with .vocab]."),
        click.option("--unicode-errors", type=click.Choice(["strict", "replace", "ignore"]),
                     default="strict", help="What to do with words that are not valid UTF-8."),
        click.option("--no-header", "header", flag_value=False, default=None,
                     help="word2vec text without the '<count> <dim>' line (GloVe); detected "
                          "from the first line without this option."),
    ]):
        command = option(command)
    return command


def _stdin_batches() -> Iterator[list[str]]:
    """Lines of stdin in batches: whatever has arrived (up to STDIN_BATCH lines), so a pipe
    fed by hand is answered line by line and a file is answered in large batches. A leading
    UTF-8 byte-order mark is skipped; undecodable bytes are an error naming their line and
    byte, raised after the batch of the lines before them."""
    line, offset = 1, 0

    def decoded(block: bytes) -> Iterator[list[str]]:
        nonlocal line, offset
        try:
            lines = decode_lines(block, "<stdin>", line, offset)
        except UndecodableLines as exc:
            if exc.lines:  # answered before the error, as they would be had they come alone
                yield exc.lines
            raise
        line, offset = line + len(lines), offset + len(block) + 1
        yield lines

    stream = sys.stdin.buffer
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        first = True
        while batch := list(islice(stream, STDIN_BATCH)):
            if first and batch[0].startswith(codecs.BOM_UTF8):
                batch[0], offset = batch[0][len(codecs.BOM_UTF8):], len(codecs.BOM_UTF8)
            first = False
            block = b"".join(batch)
            yield from decoded(block[:-1] if block.endswith(b"\n") else block)
        return
    pending, started = b"", False
    while chunk := os.read(fd, 1 << 16):
        pending += chunk
        if not started:
            if len(pending) < len(codecs.BOM_UTF8) and codecs.BOM_UTF8.startswith(pending):
                continue  # not enough bytes yet to tell a byte-order mark
            if pending.startswith(codecs.BOM_UTF8):
                pending, offset = pending[len(codecs.BOM_UTF8):], len(codecs.BOM_UTF8)
            started = True
        while pending.count(b"\n") < STDIN_BATCH and select.select([fd], [], [], 0)[0]:
            more = os.read(fd, 1 << 16)
            if not more:
                break
            pending += more
        block, newline, pending = pending.rpartition(b"\n")
        if newline:
            yield from decoded(block)
    if pending:
        yield from decoded(pending)


def _print_answers(answers: list[Answer], as_json: bool) -> bool:
    """Print answers (TSV or JSON lines) and flush; report errors on stderr. True if all ok."""
    ok = True
    for item in answers:
        if item.error:
            click.echo(f"embedkit: error: {item.error}", err=True)
            ok = False
        elif as_json:
            click.echo(to_json({"query": item.query, "neighbors": [
                {"word": word, "similarity": sim} for word, sim in item.neighbors]}))
        else:
            query = tsv_field(item.query)
            click.echo("".join(f"{query}\t{rank}\t{tsv_field(word)}\t{sim:.6f}\n"
                               for rank, (word, sim) in enumerate(item.neighbors, 1)), nl=False)
    sys.stdout.flush()
    return ok


def check_query_source(vectors: str, vocab: str | None, given: tuple[str, ...]) -> None:
    """Refuse to read the queries from stdin when the vectors (or their vocabulary) come from
    it: stdin is read once, and would be all vectors and no queries.

    Raises
    ------
    ParameterError
        Naming what reads stdin and asking for the queries as arguments.
    """
    if given:
        return
    for name, path in (("VECTORS", vectors), ("--vocab", vocab)):
        if path is not None and names_stdin(path):
            shown = STDIO if path == STDIO else f"{path} is stdin"
            raise ParameterError(f"{name} is read from stdin ({shown}), which then holds no "
                                 "queries: give the queries as arguments")


def _run_queries(kv: KeyedVectors, given: list[str], k: int, method: str, as_json: bool,
                 parse, search: Search | None = None) -> None:
    batches = iter([given]) if given else _stdin_batches()
    ok = True
    kv.oov_ngrams = kv.subwords is not None  # a subword model answers for unseen words
    for lines in batches:
        told = len(kv.ngram_words)
        answers = answer(kv, lines, k, method, parse, search)
        for word in list(kv.ngram_words)[told:]:
            click.echo(f"embedkit: note: {word!r} is not in the vocabulary: its vector is the "
                       f"mean of its character n-grams", err=True)
        ok &= _print_answers(answers, as_json)
    if not ok:
        raise click.exceptions.Exit(1)


k_option = click.option("-k", "k", type=click.IntRange(min=1), default=10, metavar="K",
                        help="Number of answers per query.")


@click.command()
@vector_options
@click.argument("queries", nargs=-1, metavar="[QUERY]...")
@k_option
@click.option("--index", "index_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Answer approximately from an index made by `embedkit index` (needs the "
                   "'ann' extra).")
@click.option("--ef", type=click.IntRange(min=1), default=EXPANSION_SEARCH, metavar="N",
              help="With --index: candidates kept while searching; more is slower and finds "
                   "more of the exact answers.")
@json_option
def neighbors(vectors, limit, mmap, vocab, unicode_errors, header, queries, k, index_path, ef,
              as_json):
    """Print the nearest neighbours of words by cosine similarity.

    Each QUERY argument (or, with none, each line of stdin, answered as it arrives) is one
    query: a word, or several words whose unit vectors are averaged; a word written `-word`
    is subtracted instead (`"king -man woman"`; put queries starting with `-` after `--`).
    The query words themselves are never listed. A word outside the vocabulary of a subword
    model (a fastText .bin, an .npz from train-w2v --subwords) gets the mean of its character
    n-gram rows as its vector, fastText's way, and a note on stderr says so.

    Output: TSV lines `query<TAB>rank<TAB>word<TAB>similarity` (a tab, line break or backslash
    inside a word is written \\t, \\n, \\r, \\\\), or with --json one JSON object per query
    (JSON lines, words as they are). A query with an unknown word gets a message on stderr,
    the others are still answered, and the exit status is 1.

    Large vocabularies: `embedkit index VECTORS -o VECTORS.index` once, then `--index
    VECTORS.index` answers each query in about a millisecond from a memory-mapped HNSW graph
    instead of comparing it with every vector (approximate: most, not always all, of the exact
    neighbours). With an .npy matrix add --mmap: the matrix is mapped, never read whole, and
    each batch of queries streams it 1 MB at a time (two threads), so memory holds the words,
    one norm per word (from <stem>.norms.npz, which `convert` writes) and two buffers.
    """
    check_query_source(vectors, vocab, queries)
    kv = load_vectors(vectors, limit, mmap, unicode_errors, vocab, header=header)
    search = None if index_path is None else VectorIndex(index_path, kv, ef).top_k
    _run_queries(kv, list(queries), k, "add", as_json, parse_query, search)


@click.command("index")
@vector_options
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="The index file to write (VECTORS.index by convention; never .gz or .bz2: "
                   "it is memory-mapped when opened).")
@click.option("--connectivity", type=click.IntRange(min=2), default=CONNECTIVITY, metavar="M",
              help="Edges per word in the graph (HNSW's M): more finds more exact neighbours "
                   "and makes a bigger index.")
@click.option("--expansion", type=click.IntRange(min=2), default=EXPANSION_ADD, metavar="N",
              help="Candidates kept while inserting (HNSW's efConstruction).")
@click.option("--precision", type=click.Choice(PRECISIONS), default="f32",
              help="How the index stores vectors: f16 halves its size.")
@click.option("--threads", type=click.IntRange(min=0), default=0, metavar="N",
              help="Threads inserting vectors (0: every core).")
def index_command(vectors, limit, mmap, vocab, unicode_errors, header, output, connectivity,
                  expansion, precision, threads):
    """Build an approximate-neighbour index of VECTORS for `neighbors --index`.

    The index is an HNSW graph (usearch, the 'ann' extra: pip install 'embedkit[ann]') of
    every vector under its row number, with the cosine metric; it holds a copy of the vectors
    (4 bytes per value, 2 with --precision f16) plus about 2 x M x 4 bytes of edges per word.
    It belongs to this vector file (and --limit): `neighbors` checks the count, the dimension
    and a few vectors when it opens it. Building is the slow part: about 45 s per 100,000
    300-dimensional vectors on two cores, more per vector as the graph grows (2.2 ms of CPU
    per vector at a million); --expansion 64 builds about twice as fast for slightly lower
    recall, and --precision f16 --expansion 64 about three times, the choice for millions of
    words. --threads changes how long a build takes, not how much CPU it uses.
    """
    check_index_output(output)
    check_writable(output)
    kv = load_vectors(vectors, limit, mmap, unicode_errors, vocab, header=header)
    build_index(kv, output, connectivity=connectivity, expansion_add=expansion,
                precision=precision, threads=threads)


@click.command()
@vector_options
@click.argument("words", nargs=-1, metavar="[A B C]")
@click.option("--method", type=click.Choice(METHODS), default="add",
              help="add: 3CosAdd, rank by cos(x, b - a + c); cosmul: 3CosMul (Levy and "
                   "Goldberg), rank by cos'(x,b) cos'(x,c) / (cos'(x,a) + 1e-6) with "
                   "cos' = (1 + cos) / 2.")
@k_option
@json_option
def analogy(vectors, limit, mmap, vocab, unicode_errors, header, words, method, k, as_json):
    """Answer analogies a : b :: c : ? (for example `man king woman` -> queen).

    Give A B C as arguments, or none and one `a b c` line per analogy on stdin (answered as it
    arrives). Output as for `embedkit neighbors`, with `a b c` as the query.
    """
    if words and len(words) != 3:
        raise click.UsageError(f"expected three words A B C or none (stdin), got {len(words)}")
    check_query_source(vectors, vocab, words)
    kv = load_vectors(vectors, limit, mmap, unicode_errors, vocab, header=header)
    _run_queries(kv, [" ".join(words)] if words else [], k, method, as_json, parse_analogy)


@click.command()
@vector_options
@click.option("--similarity", "similarity_files", multiple=True, metavar="FILE",
              type=click.Path(dir_okay=False, allow_dash=True),
              help="Word-pair file: two words and a score per line, tab-, comma- or "
                   "space-separated, header line optional (WordSim353, SimLex-999, MEN); "
                   "repeatable.")
@click.option("--pair-columns", type=str, default=None, metavar="I,J",
              help="Columns of the two words in --similarity files  [default: 1,2]")
@click.option("--score-column", type=click.IntRange(min=1), default=None, metavar="K",
              help="Column of the score in --similarity files  [default: the first column "
                   "after the words holding a number]")
@click.option("--analogies", "analogy_files", multiple=True, metavar="FILE",
              type=click.Path(dir_okay=False, allow_dash=True),
              help="Analogy questions (questions-words format); repeatable.")
@click.option("--restrict-vocab", type=click.IntRange(min=1), default=RESTRICT_VOCAB,
              metavar="N", help="Use only the first N words, as gensim does.")
@click.option("--oov", type=click.Choice(OOV_RULES), default="skip",
              help="Pairs and questions with words outside the vocabulary: skip them (as "
                   "gensim), or score them with the words' n-gram vectors (subword models: "
                   "fastText .bin, train-w2v --subwords).")
@json_option
def evaluate(vectors, limit, mmap, vocab, unicode_errors, header, similarity_files, pair_columns,
             score_column, analogy_files, restrict_vocab, oov, as_json):
    """Score vectors on word-pair similarity and analogy test sets.

    Similarity: Spearman and Pearson correlation between cosine similarity and the human
    scores, with the pairs used and those skipped as out of vocabulary. The delimiter and a
    header line are detected, and how each file was read is said on stderr. A correlation that
    is undefined (fewer than two usable pairs, all scores equal) is `undefined` (JSON: null,
    with a `note` saying why); p-values need three pairs. Analogies: accuracy per section by
    3CosAdd, semantic and syntactic (`gram*` sections) totals, overall, and the questions
    skipped as out of vocabulary (a section with no answerable question has accuracy `n/a`,
    JSON null); blank and malformed lines are ignored and counted. Words are
    compared case-insensitively in NFC and only the first --restrict-vocab words count; the
    numbers equal gensim's evaluate_word_pairs and evaluate_word_analogies on the same vectors.
    """
    if not similarity_files and not analogy_files:
        raise click.UsageError("give at least one --similarity or --analogies file")
    check_stdin_once([vectors, *([vocab] if vocab else []), *similarity_files, *analogy_files])
    columns = _pair_columns(pair_columns)
    kv = load_vectors(vectors, limit, mmap, unicode_errors, vocab, header=header)
    if oov == "ngrams" and not kv.has_ngrams:
        click.echo(f"embedkit: note: {vectors}: no n-grams (not a subword model, or one trained "
                   "without them): --oov ngrams skips unseen words", err=True)
    similarity = [evaluate_similarity(kv, f, restrict_vocab, pair_columns=columns,
                                      score_column=score_column, oov=oov)
                  for f in similarity_files]
    analogies = [evaluate_analogies(kv, f, restrict_vocab, oov=oov) for f in analogy_files]
    for result in similarity:
        click.echo(f"embedkit: note: {result.path}: {result.layout}", err=True)
        if result.note:
            click.echo(f"embedkit: note: {result.path}: {result.note}", err=True)
    for result in analogies:
        if result.ignored:
            click.echo(f"embedkit: note: {result.path}: {result.ignored} lines that are neither "
                       f"': section' nor 'a b c d' ignored", err=True)
    if as_json:
        click.echo(to_json({"similarity": [r.as_dict() for r in similarity],
                               "analogies": [r.as_dict() for r in analogies]}, indent=2))
        return
    for result in similarity:
        ngrams = f"  from n-grams {result.from_ngrams}" if oov == "ngrams" else ""
        click.echo(f"similarity {result.path}: spearman {_number(result.spearman)}  pearson "
                   f"{_number(result.pearson)}  pairs {result.pairs}  skipped {result.skipped}"
                   f"{ngrams}")
    for result in analogies:
        ngrams = (f", {result.from_ngrams} answered from n-grams" if oov == "ngrams" else "")
        click.echo(f"analogies {result.path}: {result.skipped} of {result.questions} "
                   f"questions skipped (out of vocabulary){ngrams}")
        click.echo(f"  {'section':<32}{'correct':>8}{'total':>8}{'accuracy':>10}")
        for row in [*result.sections, result.semantic, result.syntactic, result.overall]:
            accuracy = "n/a" if row.accuracy is None else f"{row.accuracy:.4f}"
            click.echo(f"  {row.name:<32}{row.correct:>8}{row.total:>8}{accuracy:>10}")


def _pair_columns(text: str | None) -> tuple[int, int] | None:
    """``--pair-columns I,J`` as two column numbers."""
    if text is None:
        return None
    try:
        first, second = (int(field) for field in text.split(","))
    except ValueError:
        raise click.BadParameter(f"expected two column numbers I,J, got {text!r}",
                                 param_hint="--pair-columns") from None
    return first, second


def _number(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.4f}"


@click.command()
@vector_options
@click.argument("output", metavar="OUT", type=click.Path(dir_okay=False, allow_dash=True))
@vector_format_option
def convert(vectors, limit, mmap, vocab, unicode_errors, header, output, fmt):
    """Convert the word vectors VECTORS into another format, OUT.

    Formats come from the suffixes, as for every command: word2vec text (.vec, .txt, .w2v)
    and binary (.bin), optionally .gz/.bz2; .npz (words, vectors, counts); .npy with its
    vocabulary written beside it as <stem>.vocab; a fastText model (--format fasttext; read
    by its magic number whatever the suffix) keeps its n-gram rows in .npz and fasttext
    output. --limit N keeps the first (most frequent) N words and stops reading there.
    Binary formats round-trip exactly; word2vec text keeps six significant digits.

    Large files: `embedkit convert GoogleNews-vectors-negative300.bin.gz vectors.npy` once,
    then `neighbors vectors.npy --mmap` maps the matrix instead of reading it (a 3 M x 300
    file's first answer takes about 0.9 s of CPU and 140 MB of memory, the vocabulary kept as
    its text).
    """
    check_writable(output)
    convert_vectors(vectors, output, limit=limit, mmap=mmap, unicode_errors=unicode_errors,
                    vocab=vocab, header=header, fmt=fmt)
