"""Options and helpers shared by several commands, so each is spelled and documented once."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click
from tqdm import tqdm

from embedkit.formats import ALIASES, FORMATS
from embedkit.io import check_suffix, refuse_compressed_archive
from embedkit.training import DEFAULT_CHECKPOINT_EVERY
from embedkit.vectors.formats import VECTOR_FORMATS

# NumPy seeds any non-negative integer, but scikit-learn's (t-SNE) stop at 2**32 - 1.
seed_option = click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=1, metavar="INT",
                           help="Seed of the random generator (0 to 2**32 - 1): same seed, "
                                "same bits.")
#: What --format accepts for word vector output: the table's names and their aliases.
VECTOR_FORMAT_CHOICES = (*ALIASES, *VECTOR_FORMATS)
vector_format_option = click.option(
    "--format", "fmt", type=click.Choice(VECTOR_FORMAT_CHOICES), metavar="FORMAT",
    help=f"Format of the output, overriding its suffix ({', '.join(VECTOR_FORMAT_CHOICES)}; "
         "word2vec is text, word2vec-binary is binary, fasttext is Facebook's .bin model) "
         "[default: from the suffix, word2vec text for stdout and other suffixes].")
#: What --format accepts for matrix output (the commands that write codes).
MATRIX_FORMAT_CHOICES = (*ALIASES, *FORMATS)


def matrix_format_option(what: str) -> Callable:
    """``--format`` of a command writing a matrix (``what`` names the output it governs)."""
    return click.option(
        "--format", "fmt", type=click.Choice(MATRIX_FORMAT_CHOICES), metavar="FORMAT",
        help=f"Format of {what}, overriding its suffix ({', '.join(MATRIX_FORMAT_CHOICES)}) "
             "[default: from the suffix, CSV for stdout and other suffixes].")


json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print JSON instead of a table.")


def progress_bar(**kwargs) -> tqdm:
    """A tqdm bar on stderr that stays silent when stderr is not a terminal."""
    return tqdm(file=sys.stderr, disable=not sys.stderr.isatty(), dynamic_ncols=True, **kwargs)


def check_archive_names(*paths: str | None) -> None:
    """Refuse a name a file written as an ``.npz`` archive (a model, a checkpoint) cannot have,
    when the command starts, not when training ends: ``.gz``/``.bz2`` (the archive's writer
    seeks back, which a compressed stream cannot) and the suffix of another kind of file
    (``model.vec`` would hold a zip archive).

    Raises
    ------
    EmbedkitError
        Naming the first such path and the suffix to drop or use.
    """
    for path in paths:
        if path is not None:
            refuse_compressed_archive(path, path)
            check_suffix(path, (".npz",), "a model or checkpoint is an .npz archive")


def checkpoint_options(data: str) -> Callable:
    """``--checkpoint``, ``--checkpoint-every`` and ``--resume`` of a training command whose
    input argument is called ``data`` in the help."""
    options = (
        click.option("--checkpoint", type=click.Path(dir_okay=False), default=None,
                     metavar="FILE",
                     help="Save the training state here (atomically) every --checkpoint-every "
                     "epochs and at the end, to continue with --resume."),
        click.option("--checkpoint-every", type=click.IntRange(min=1),
                     default=DEFAULT_CHECKPOINT_EVERY,
                     metavar="N", help="Epochs between checkpoints."),
        click.option("--resume", type=click.Path(dir_okay=False), default=None,
                     metavar="FILE", help=f"Continue from a checkpoint of a run on the same "
                     f"{data} with the same options (--epochs may differ; the random state "
                     "comes from the checkpoint)."))

    def decorate(command: Callable) -> Callable:
        for option in reversed(options):
            command = option(command)
        return command
    return decorate
