"""``embedkit plot``, ``map`` and ``export-projector``: pictures of training runs and vectors."""

from __future__ import annotations

import os
from collections.abc import Callable

import click

from embedkit.cli.options import seed_option
from embedkit.cli.vectors import vector_options
from embedkit.io import check_writable, describe
from embedkit.plots.render import Fonts, missing_glyphs_message, parse_size
from embedkit.plots.wordmap import DEFAULT_NEIGHBORS, DEFAULT_TOP, MAP_FORMATS, METHODS
from embedkit.vectors import load_vectors


class SizeType(click.ParamType):
    """``WIDTHxHEIGHT`` in pixels."""

    name = "WIDTHxHEIGHT"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        try:
            return parse_size(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def size_option(default: str) -> Callable:
    return click.option("--size", type=SizeType(), default=default, metavar="WxH",
                        help="Picture size in pixels (PNG exactly; SVG/PDF at 100 per inch).")


def _warn_missing_glyphs(fonts: Fonts) -> None:
    if fonts.missing:
        click.echo(f"embedkit: warning: {missing_glyphs_message(fonts.missing)}", err=True)


@click.command("plot")
@click.argument("logs", nargs=-1, required=True, metavar="LOG.jsonl...",
                type=click.Path(dir_okay=False, allow_dash=True))
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True,
              metavar="FILE", help="The picture: .png, .svg or .pdf.")
@size_option("900x700")
def plot(logs, output, size) -> None:
    """Draw training curves from the per-epoch logs of `train-w2v --log-json` and
    `autoencode --log-json`: the loss against the epoch (training solid, validation dashed),
    the learning rate, and the corpus words per second of train-w2v, each on its own axis.

    Several logs are overlaid with a legend, one colour and marker per run (colours
    readable with colour-vision deficiencies). `-` reads a log from stdin. Needs
    matplotlib (`pip install 'embedkit[plot]'`). Example:

        embedkit plot skipgram.jsonl cbow.jsonl -o curves.png
    """
    from embedkit.plots.curves import PLOT_FORMATS, plot_curves, read_logs
    from embedkit.plots.render import plot_format, require_matplotlib

    plot_format(output, PLOT_FORMATS)
    require_matplotlib()
    _warn_missing_glyphs(plot_curves(read_logs(logs), output, size))


@click.command("export-projector")
@vector_options
@click.option("-o", "--output", "directory", type=click.Path(file_okay=False), required=True,
              metavar="DIR", help="Directory for the three files (made when missing).")
def export_projector(vectors, directory, **loading) -> None:
    """Write VECTORS as files for the TensorFlow Embedding Projector: DIR/tensors.tsv (one
    vector per line, tab-separated), DIR/metadata.tsv (header `word<TAB>count`; `rank`
    instead of count when VECTORS records no counts) and DIR/projector_config.pbtxt.

    Load the two TSV files in the standalone projector ("Load"), or give DIR to TensorBoard
    (`tensorboard --logdir DIR`, Projector tab). --limit N keeps the N most frequent words;
    the files are written block by block and land together. Example:

        embedkit export-projector vectors.npz -o projector --limit 10000
    """
    from embedkit.vectors.projector import export_projector as export

    kv = load_vectors(vectors, **loading)  # the options of vector_options, by their names
    name = os.path.splitext(os.path.basename(describe(vectors)))[0] or "embedding"
    export(kv, directory, name=name)


@click.command("map")
@vector_options
@click.argument("words", nargs=-1, metavar="[WORDS]...")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True,
              metavar="FILE", help="The map: .png, .svg, or .html (an interactive page).")
@click.option("--top", type=click.IntRange(min=2), default=DEFAULT_TOP, metavar="N",
              help="Without WORDS: map the N most frequent words.")
@click.option("--neighbors", type=click.IntRange(min=0), default=DEFAULT_NEIGHBORS,
              metavar="K", help="With WORDS: add the K nearest words of each.")
@click.option("--method", type=click.Choice(METHODS), default="pca",
              help="Projection to 2-D: PCA, or t-SNE (keeps neighbourhoods, not distances).")
@seed_option
@size_option("1000x800")
def map_command(vectors, words, output, top, neighbors, method, seed, size, **loading) -> None:
    """Draw a 2-D map of words from VECTORS: the --top N most frequent, or the given WORDS
    with their --neighbors K nearest words (one colour per word's group).

    Vectors are scaled to unit length, so that closeness on the map follows cosine
    similarity, then projected by scikit-learn's PCA or t-SNE (--seed fixes t-SNE). VECTORS
    is any vector file the other commands read, autoencoder codes written as .vec/.bin too.

    .png/.svg: every point labelled, labels moved apart so none overlaps another (with a
    leader line when moved away; the font shrinks on crowded maps); needs matplotlib.
    .html: one self-contained page (no network): pan, zoom, hover a word for its nearest
    words, search a word (FILE.html#search=WORD searches on opening). Example:

        embedkit map vectors.vec paris king cats --neighbors 8 -o map.html
    """
    from embedkit.plots.render import plot_format, require_matplotlib
    from embedkit.plots.wordmap import draw_map, word_map

    fmt = plot_format(output, MAP_FORMATS)
    if fmt != "html":
        require_matplotlib()
    check_writable(output)  # before t-SNE, not after it
    kv = load_vectors(vectors, **loading)  # the options of vector_options, by their names
    wmap = word_map(kv, words, top=top, neighbors=neighbors, method=method, seed=seed,
                    name=describe(vectors))
    if fmt == "html":
        from embedkit.plots.page import write_map_page
        write_map_page(wmap, output)
        return
    drawn = draw_map(wmap, output, fmt, size)
    _warn_missing_glyphs(drawn.fonts)
    if drawn.overlapping:
        click.echo(f"embedkit: warning: {drawn.overlapping} of {len(wmap.words)} labels found "
                   "no free place and overlap: use a larger --size or fewer words", err=True)
