"""``embedkit gradcheck``: every registered gradient checked against central differences."""

from __future__ import annotations

import dataclasses
import importlib

import click
import numpy as np

from embedkit.cli.options import json_option, seed_option
from embedkit.core.gradcheck import FLOOR, RTOL, CheckResult, registered_checks, run_checks
from embedkit.errors import ParameterError
from embedkit.io import to_json

#: Model packages whose import registers their gradient checks with
#: ``embedkit.core.gradcheck.register_check`` (word2vec losses, autoencoders). Add each package
#: new model packages here.
MODEL_PACKAGES: tuple[str, ...] = ("embedkit.w2v", "embedkit.ae")


@click.command()
@click.option("--op", "ops", multiple=True, metavar="NAME",
              help="Check only this primitive or model (repeatable); default: all.")
@seed_option
@json_option
@click.pass_context
def gradcheck(ctx: click.Context, ops: tuple[str, ...], seed: int, as_json: bool) -> None:
    """Check every primitive's gradient (and every registered model's) against central
    differences in float64, on random inputs of several shapes.

    Prints one row per case: op, input shapes, largest absolute and relative error, PASS or
    FAIL. The relative error is |analytic - numeric| / max(|analytic|, |numeric|, 1e-3)
    elementwise; a case passes when it is at most 1e-5. Exits with status 1 if any case fails.
    """
    for package in MODEL_PACKAGES:
        importlib.import_module(package)
    unknown = [name for name in ops if name not in registered_checks()]
    if unknown:
        raise ParameterError(f"ops {unknown[0]!r}: no such gradient check; known: "
                             f"{', '.join(registered_checks())}", params=("ops",))
    results = run_checks(np.random.default_rng(seed), ops or None)
    if as_json:
        click.echo(to_json([dataclasses.asdict(r) for r in results], indent=1))
    else:
        click.echo(_table(results))
    failed = sum(not r.passed for r in results)
    click.echo(f"{len(results)} cases, {failed} failed (rtol {RTOL:g}, floor {FLOOR:g})",
               err=True)
    if failed:
        ctx.exit(1)


def _table(results: list[CheckResult]) -> str:
    rows = [("op", "shapes", "max abs err", "max rel err", "result")]
    rows += [(r.op, r.shapes, f"{r.max_abs_err:.2e}", f"{r.max_rel_err:.2e}",
              "PASS" if r.passed else "FAIL") for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                     for row in rows)
