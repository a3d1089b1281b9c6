"""Autoencoder commands: ``autoencode``, ``encode``, ``decode`` and ``compare-pca``."""

from __future__ import annotations

import sys

import click

from embedkit.ae import Autoencoder, load_model
from embedkit.ae.data import Matrix, output_format, read_matrix, write_matrix
from embedkit.ae.models import ACTIVATIONS, KINDS, OUTPUT_ACTIVATIONS
from embedkit.ae.pca import SOLVERS, Comparison, compare_with_pca
from embedkit.ae.plot import plot_comparison, plot_format
from embedkit.ae.training import FINAL_LR_FRACTION, HOLD_FRACTION
from embedkit.cli.options import (
    check_archive_names,
    checkpoint_options,
    json_option,
    matrix_format_option,
    progress_bar,
    seed_option,
)
from embedkit.errors import EmbedkitError
from embedkit.io import (
    atomic_output,
    atomic_outputs,
    check_stdin_once,
    check_writable,
    describe,
    to_json,
)
from embedkit.plots.render import require_matplotlib
from embedkit.streaming import check_variance

#: The library's defaults, which the options show and pass on.
DEFAULTS = Autoencoder()

key_option = click.option("--key", default=None, metavar="NAME",
                          help="Array to read from an .npz archive holding several.")
header_option = click.option(
    "--header/--no-header", default=None, show_default=False,
    help="The first line of CSV/TSV (or word2vec text) is, or is not, a header; detected "
         "without either (a CSV header holds no number; use --header for pandas' ',0,1,2').")
output_option = click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
                             metavar="FILE", help="Write a .npy file (or .csv, or .vec/.bin for "
                                                  "word vectors) instead of CSV on stdout.")


def _read(data: str, key: str | None, header: bool | None) -> Matrix:
    """:func:`read_matrix` with a progress bar of the rows read from a file that cannot be
    memory-mapped, and the note of its conversion to a temporary file."""
    with progress_bar(unit="row", unit_scale=True, desc=f"reading {describe(data)}",
                      leave=False) as bar:
        return read_matrix(data, key, header,
                           lambda message: bar.write(f"embedkit: note: {message}",
                                                     file=sys.stderr), bar.update)


def _fit(model: Autoencoder, data, quiet: bool = False, **fit_options) -> list[dict]:
    """Train with progress bars (batches; rows of the other passes over the data) and, unless
    ``quiet``, one log line per epoch on stderr."""
    with progress_bar(unit="batch", desc="autoencode") as bar, \
            progress_bar(unit="row", unit_scale=True, desc="other passes") as rows:
        def report(record: dict) -> None:
            if record["event"] == "rows":
                rows.update(record["rows"])
            elif record["event"] == "start":
                bar.reset(total=record["total_steps"])
                bar.update(record["steps_done"])
            elif record["event"] == "batch":
                bar.update(record["steps"])
            elif not quiet:
                val = "" if record["val_mse"] is None else f"  val mse {record['val_mse']:.6g}"
                bar.write(f"epoch {record['epoch']}/{record['epochs']}  loss "
                          f"{record['train_loss']:.6g}  mse {record['train_mse']:.6g}{val}  "
                          f"lr {record['lr']:.3g}  {record['seconds']:.2f}s", file=sys.stderr)
        model.fit(data, callback=report, **fit_options)
    return model.history_


@click.command("autoencode")
@click.argument("data", metavar="DATA")
@click.option("--hidden", "n_components", type=click.IntRange(min=1), required=True, metavar="K",
              help="Size of the code (below the number of features for linear models).")
@click.option("--kind", type=click.Choice(KINDS), default=DEFAULTS.kind,
              help="linear: x̂ = WᵀWx (tied) or UWx; nonlinear: x̂ = g(U f(Wx + b) + c).")
@click.option("--tied/--untied", default=DEFAULTS.tied,
              help="Decoder weights are the encoder's transposed.")
@click.option("--activation", type=click.Choice(list(ACTIVATIONS)), default=DEFAULTS.activation,
              help="Hidden activation f of the nonlinear kind.")
@click.option("--output-activation", type=click.Choice(OUTPUT_ACTIVATIONS),
              default=DEFAULTS.output_activation,
              help="Output activation g of the nonlinear kind.")
@click.option("--noise", default=None, metavar="gaussian:SIGMA|mask:P",
              help="Denoising: corrupt each batch's input, reconstruct the clean one.")
@click.option("--l1", type=float, default=DEFAULTS.l1, metavar="LAMBDA",
              help="L1 penalty on the codes (mean over rows of Σ|h|).")
@click.option("--contractive", type=float, default=DEFAULTS.contractive, metavar="LAMBDA",
              help="Penalty on the squared Frobenius norm of the encoder's Jacobian.")
@click.option("--weight-decay", type=float, default=DEFAULTS.weight_decay, metavar="LAMBDA",
              help="Penalty Σw² on the weight matrices.")
@click.option("--lr", type=float, default=DEFAULTS.lr, metavar="RATE",
              help=f"Adam learning rate, held for {HOLD_FRACTION:.0%} of the steps, then "
                   f"annealed along a cosine to RATE/{1 / FINAL_LR_FRACTION:g}.")
@click.option("--epochs", type=click.IntRange(min=1), default=DEFAULTS.epochs, metavar="N",
              help="Passes over the data.")
@click.option("--batch-size", type=click.IntRange(min=1), default=DEFAULTS.batch_size,
              metavar="N",
              help="Rows per minibatch (reshuffled each epoch).")
@click.option("--val-split", type=click.FloatRange(0, 1, max_open=True),
              default=DEFAULTS.val_split, metavar="FRACTION",
              help=f"Hold out this share of rows; stop after {DEFAULTS.patience} epochs "
                   "without a lower validation error, keep the best.")
@seed_option
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              metavar="MODEL.npz",
              help="Write the model (an .npz archive) here instead of stdout; other formats' "
                   "suffixes (.vec, .csv, ...) are refused.")
@click.option("--codes", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Also write the codes of DATA: .npy, .csv, or .vec/.bin for word vectors.")
@matrix_format_option("--codes")
@key_option
@header_option
@click.option("--log-json", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Write one JSON object per epoch (JSON Lines).")
@checkpoint_options("DATA")
def autoencode(data, n_components, kind, tied, activation, output_activation, noise, l1,
               contractive, weight_decay, lr, epochs, batch_size, val_split, seed, output, codes,
               fmt, key, header, log_json, checkpoint, checkpoint_every, resume) -> None:
    """Train an autoencoder on the rows of DATA and write the model (.npz).

    DATA is .npy, .npz (--key), .csv/.tsv (header detected, or --header), a word2vec vector file
    (.vec, .bin) or `-` for stdin. With no options this fits the tied linear autoencoder
    x̂ = WᵀW(x − mean), whose optimum spans the PCA subspace; linear models end with an
    exact full-batch polish. NaN or divergence stops the run and writes nothing.

    Long runs: --checkpoint FILE saves the state every --checkpoint-every epochs;
    --resume FILE continues it, bit-identical to an uninterrupted run when --epochs is
    unchanged. Ctrl-C writes nothing, says in which epoch training stopped and exits with 130.
    """
    check_archive_names(output, checkpoint)
    check_writable(output, codes, log_json, checkpoint)  # before training, not after it
    matrix = _read(data, key, header)
    check_variance(matrix.values, describe(data))
    output_format(codes, matrix.words, fmt)
    model = Autoencoder(n_components, kind=kind, tied=tied, activation=activation,
                        output_activation=output_activation, noise=noise, l1=l1,
                        contractive=contractive, weight_decay=weight_decay, lr=lr,
                        epochs=epochs, batch_size=batch_size, val_split=val_split,
                        random_state=seed)
    history = _fit(model, matrix.values, name=describe(data), checkpoint=checkpoint,
                   checkpoint_every=checkpoint_every, resume=resume)
    with atomic_outputs(output, codes, log_json) as (model_out, codes_out, log_out):
        model.save(model_out)
        if codes:
            write_matrix(codes_out, model.transform_blocks(matrix.values), matrix.words, fmt)
        if log_json:
            with atomic_output(log_out) as out:
                out.writelines(to_json({k: v for k, v in record.items() if k != "event"})
                               + "\n" for record in history)


def _apply_command(name: str, metavar: str, method: str, doc: str) -> click.Command:
    """A command ``NAME MODEL <metavar>`` writing ``model.<method>(matrix)`` (words kept)."""
    @click.command(name, help=doc)
    @click.argument("model_path", metavar="MODEL")
    @click.argument("data", metavar=metavar)
    @key_option
    @header_option
    @output_option
    @matrix_format_option("the output")
    def command(model_path, data, key, header, output, fmt) -> None:
        check_stdin_once([model_path, data])
        model = load_model(model_path)
        matrix = _read(data, key, header)
        output_format(output, matrix.words, fmt)
        check_writable(output)  # before the pass over DATA, not after it
        # encode reads rows of the model's features, decode rows of its codes
        width, what = ((model.n_features_in_, "features") if method == "transform"
                       else (len(model.components_), "columns (one per hidden unit)"))
        if matrix.values.shape[1] != width:
            raise EmbedkitError(f"{describe(data)}: rows of {matrix.values.shape[1]} {what}, "
                                f"the model expects {width} {what}")
        with progress_bar(unit="row", unit_scale=True, desc=name,
                          total=len(matrix.values)) as bar:
            # written as computed, one block at a time: never the whole output in memory;
            # read_matrix checked the values (a map is not read for that again)
            rows = getattr(model, f"{method}_blocks")(matrix.values, progress=bar.update,
                                                      finite=True)
            write_matrix(output, rows, matrix.words, fmt)
    return command


encode = _apply_command("encode", "DATA", "transform",
                        "Print the codes of the rows of DATA under MODEL (from `embedkit "
                        "autoencode`).")
decode = _apply_command("decode", "CODES", "inverse_transform",
                        "Print the reconstructions of the code rows in CODES under MODEL.")


@click.command("compare-pca")
@click.argument("inputs", nargs=-1, required=True, metavar="[MODEL] DATA")
@click.option("--fit", "n_components", type=click.IntRange(min=1), default=None, metavar="K",
              help="Train a tied linear autoencoder with K hidden units on DATA first "
                   "(then give DATA only).")
@key_option
@header_option
@seed_option
@json_option
@click.option("--plot", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Draw angles and explained variance to FILE (.png or .svg; needs "
                   "matplotlib).")
@click.option("--solver", type=click.Choice(SOLVERS), default="auto",
              help="How PCA is computed: auto picks covariance for up to 1000 features "
                   "(exact, streamed), randomized for wider data in memory up to 256 MB, "
                   "incremental (streamed) otherwise; full is the exact SVD in float64.")
def compare_pca(inputs, n_components, key, header, seed, as_json, plot, solver) -> None:
    """Compare MODEL's subspace with scikit-learn PCA's on DATA, with the same k.

    Reports every principal angle (degrees), the mean squared reconstruction error of PCA and
    of the model, PCA's explained-variance ratios, the share of variance inside the model's
    subspace, and the relative eigen-gap (λk − λk+1)/λk: below about 10% the PCA subspace is
    ill-determined and large angles say little. `--json` keys: k, principal_angles_deg,
    pca_mse, model_mse, explained_variance_ratio, captured_variance_ratio, eigengap.
    """
    if len(inputs) != (1 if n_components else 2):
        raise click.UsageError("give MODEL DATA, or DATA with --fit K")
    check_stdin_once(inputs)
    if plot:  # as plot and map do: before the work, not a note after it
        plot_format(plot)
        require_matplotlib()
        check_writable(plot)
    matrix = _read(inputs[-1], key, header)
    check_variance(matrix.values, describe(inputs[-1]))  # before training, not after it
    if n_components:
        model = Autoencoder(n_components, random_state=seed)
        _fit(model, matrix.values, quiet=as_json, name=describe(inputs[-1]))
    else:
        model = load_model(inputs[0])
    with progress_bar(unit="row", unit_scale=True, desc="compare-pca (every pass)") as bar:
        comparison = compare_with_pca(model, matrix.values, solver, seed, bar.update,
                                      describe(inputs[-1]))
    click.echo(to_json(comparison.to_dict()) if as_json else _table(comparison))
    if plot:
        plot_comparison(comparison, plot)


def _table(c: Comparison) -> str:
    lines = [f"k\t{c.k}", f"eigengap\t{c.eigengap:.4f}", f"pca_mse\t{c.pca_mse:.6g}",
             f"model_mse\t{c.model_mse:.6g}",
             f"captured_variance_ratio\t{c.captured_variance_ratio:.6f}",
             f"pca_variance_ratio\t{sum(c.explained_variance_ratio):.6f}",
             "component\tangle_deg\texplained_variance_ratio"]
    lines += [f"{i}\t{angle:.4f}\t{ratio:.6f}" for i, (angle, ratio) in
              enumerate(zip(c.principal_angles_deg, c.explained_variance_ratio, strict=True), 1)]
    return "\n".join(lines)
