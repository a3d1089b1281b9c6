"""``embedkit plot``, ``map`` and ``export-projector``: pictures of training runs and vectors."""

from __future__ import annotations

from collections.abc import Callable

import click

from embedkit.plots.render import Fonts, missing_glyphs_message, parse_size


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
