"""Options and helpers shared by several commands, so each is spelled and documented once."""

from __future__ import annotations

import sys

import click
from tqdm import tqdm

seed_option = click.option("--seed", type=int, default=1, metavar="INT",
                           help="Seed of the random generator: same seed, same bits.")
json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print JSON instead of a table.")


def progress_bar(**kwargs) -> tqdm:
    """A tqdm bar on stderr that stays silent when stderr is not a terminal."""
    return tqdm(file=sys.stderr, disable=not sys.stderr.isatty(), dynamic_ncols=True, **kwargs)
