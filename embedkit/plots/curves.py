"""Training curves from the per-epoch JSON Lines logs of ``train-w2v`` and ``autoencode``.

``train-w2v --log-json`` writes ``{"epoch", "loss", "pairs", "words", "words_per_sec",
"elapsed", "lr"}`` per epoch (``loss``: mean loss per training pair in nats; ``lr``: the
learning rate reached at the end of the epoch); ``autoencode --log-json`` writes ``{"epoch",
"epochs", "train_loss", "train_mse", "val_mse", "lr", "seconds"}`` (``val_mse`` is null without
a validation split; ``train_loss`` adds the penalties to ``train_mse``). A null, NaN or infinite
value is a gap in its curve.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from embedkit.errors import EmbedkitError
from embedkit.io import check_stdin_once, describe, open_input
from embedkit.plots.render import DPI, MARKERS, PALETTE, Fonts, drawing, plot_format, save_figure

PLOT_FORMATS = ("png", "svg", "pdf")
#: Fields each command's records must have, in the order error messages list them.
FIELDS = {"train-w2v": ("epoch", "loss", "words_per_sec", "lr"),
          "autoencode": ("epoch", "train_loss", "train_mse", "val_mse", "lr")}
LOSS_LABELS = {"train-w2v": "loss per training pair\n(nats)",
               "autoencode": "mean squared error\n(data units²)"}
EXPECTED = ("the JSON lines written by `embedkit train-w2v --log-json` or "
            "`embedkit autoencode --log-json`")


@dataclass
class TrainingLog:
    """The curves of one run, one entry per epoch record (NaN where a value is missing).

    Attributes
    ----------
    name : str
        How the legend names the run.
    command : {"train-w2v", "autoencode"}
    epoch : ndarray of float, shape (n,)
    loss : ndarray, shape (n,)
        Training loss: ``loss`` (train-w2v) or ``train_mse`` (autoencode).
    validation : ndarray or None
        ``val_mse`` of autoencode, when some epoch has one.
    penalised : ndarray or None
        Autoencode's ``train_loss`` when penalties make it differ from ``train_mse``.
    lr : ndarray, shape (n,)
    words_per_sec : ndarray or None
        Corpus words per second (train-w2v only).
    """

    name: str
    command: str
    epoch: np.ndarray
    loss: np.ndarray
    validation: np.ndarray | None
    penalised: np.ndarray | None
    lr: np.ndarray
    words_per_sec: np.ndarray | None


def _command_of(record: dict) -> str | None:
    for command, fields in FIELDS.items():
        if set(fields) <= set(record):
            return command
    return None


def _number(value, where: str, field: str) -> float:
    """A field's value as a float: NaN for null (or non-finite), an error for anything else."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise EmbedkitError(f"{where}: field {field!r} must be a number or null, "
                            f"found {json.dumps(value)[:40]}")
    return float(value) if math.isfinite(value) else math.nan


def read_log(path: str | os.PathLike, name: str | None = None) -> TrainingLog:
    """Read one ``--log-json`` file (``-`` for stdin, ``.gz``/``.bz2`` decompressed).

    Parameters
    ----------
    path : str or path-like
    name : str, optional
        The run's name in the legend (default: the file name).

    Raises
    ------
    EmbedkitError
        Naming the file and line: for an empty log, a line that is not a JSON object, records of
        another command, a record of another kind than the first, or a field that is not a
        number.
    """
    where = describe(path)
    records: list[tuple[int, dict]] = []
    command = None
    with open_input(path) as stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            at = f"{where}: line {number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise EmbedkitError(f"{at}: not JSON ({exc.msg} at column {exc.colno}): "
                                    f"expected {EXPECTED}") from None
            if not isinstance(record, dict):
                raise EmbedkitError(f"{at}: expected a JSON object per line, found "
                                    f"{type(record).__name__}")
            kind = _command_of(record)
            if kind is None:
                keys = ", ".join(sorted(record)) or "none"
                raise EmbedkitError(
                    f"{at}: not a per-epoch training record (keys: {keys}): expected "
                    + " or ".join(f"{c} records with {', '.join(f)}" for c, f in FIELDS.items()))
            if command is not None and kind != command:
                raise EmbedkitError(f"{at}: a {kind} record in a log of {command} records: "
                                    "give each run's log as its own file")
            command = kind
            records.append((number, record))
    if command is None:
        raise EmbedkitError(f"{where}: empty log: no per-epoch records; expected {EXPECTED}")
    columns = {field: np.array([_number(record[field], f"{where}: line {number}", field)
                                for number, record in records])
               for field in FIELDS[command]}
    if np.isnan(columns["epoch"]).any():
        line = records[int(np.argmax(np.isnan(columns["epoch"])))][0]
        raise EmbedkitError(f"{where}: line {line}: field 'epoch' must be a number")
    name = name or os.path.basename(where)
    if command == "train-w2v":
        return TrainingLog(name, command, columns["epoch"], columns["loss"], None, None,
                           columns["lr"], columns["words_per_sec"])
    validation = columns["val_mse"] if not np.isnan(columns["val_mse"]).all() else None
    penalised = columns["train_loss"]
    same = np.allclose(penalised, columns["train_mse"], rtol=1e-9, atol=0, equal_nan=True)
    return TrainingLog(name, command, columns["epoch"], columns["train_mse"], validation,
                       None if same else penalised, columns["lr"], None)


def read_logs(paths: Sequence[str | os.PathLike]) -> list[TrainingLog]:
    """Read several logs; runs with the same file name are told apart by their full paths.

    Raises
    ------
    EmbedkitError
        As :func:`read_log`; also when ``-`` (stdin) is given twice.
    """
    check_stdin_once(paths)
    names = [os.path.basename(describe(p)) for p in paths]
    return [read_log(p, name if names.count(name) == 1 else describe(p))
            for p, name in zip(paths, names, strict=True)]


def plot_curves(logs: Sequence[TrainingLog], path: str | os.PathLike,
                size: tuple[int, int] = (900, 700)) -> Fonts:
    """Draw the runs' curves against the epoch and write them atomically (PNG, SVG or PDF).

    Panels, sharing the epoch axis: the loss (training solid, validation dashed, autoencode's
    loss with penalties dotted; one panel per command when both are given, as their units
    differ), the learning rate, and corpus words per second when a train-w2v run is among
    them. Each run has one colour and marker; every curve's SVG group
    has the id ``curve-<run>-<kind>`` (kind: train, validation, penalised, lr, speed).

    Parameters
    ----------
    logs : sequence of TrainingLog
    path : str or path-like
        The picture; its extension (.png, .svg, .pdf) picks the format.
    size : (int, int)
        Width and height in pixels (a PNG's exact size; 1/100 inch each in SVG and PDF).

    Returns
    -------
    Fonts
        The fonts used, with the characters (of run names) no installed font holds.

    Raises
    ------
    EmbedkitError
        For another extension, no logs, or without matplotlib.
    """
    fmt = plot_format(path, PLOT_FORMATS)
    if not logs:
        raise EmbedkitError("no training logs to plot")
    commands = [c for c in FIELDS if any(log.command == c for log in logs)]
    speed = any(log.words_per_sec is not None for log in logs)
    ratios = [2] * len(commands) + [1] + [1] * speed
    with drawing([log.name for log in logs]) as fonts:
        from matplotlib.figure import Figure
        from matplotlib.ticker import EngFormatter, MaxNLocator

        figure = Figure(figsize=(size[0] / DPI, size[1] / DPI), dpi=DPI, layout="constrained")
        axes = figure.subplots(len(ratios), 1, sharex=True, height_ratios=ratios,
                               squeeze=False)[:, 0]
        loss_axes = dict(zip(commands, axes[:len(commands)], strict=True))
        lr_axes = axes[len(commands)]
        for run, log in enumerate(logs):
            style = {"color": PALETTE[run % len(PALETTE)], "marker": MARKERS[run % len(MARKERS)],
                     "markersize": 4}
            many = len(log.epoch) > 30  # markers would hide the line
            if many:
                style["markevery"] = max(1, len(log.epoch) // 15)
            label = log.name if log.validation is None and log.penalised is None \
                else f"{log.name}: training"
            ax = loss_axes[log.command]
            ax.plot(log.epoch, log.loss, label=label, gid=f"curve-{run}-train", **style)
            if log.validation is not None:
                ax.plot(log.epoch, log.validation, ls="--", label=f"{log.name}: validation",
                               gid=f"curve-{run}-validation", **style)
            if log.penalised is not None:
                ax.plot(log.epoch, log.penalised, ls=":",
                               label=f"{log.name}: loss with penalties",
                               gid=f"curve-{run}-penalised", **style)
            lr_axes.plot(log.epoch, log.lr, gid=f"curve-{run}-lr", **style)
            if log.words_per_sec is not None:
                axes[-1].plot(log.epoch, log.words_per_sec, gid=f"curve-{run}-speed", **style)
        for command, ax in loss_axes.items():
            ax.set_ylabel(LOSS_LABELS[command])
            ax.legend(fontsize="small", title=command, title_fontsize="small")
        axes[0].set_title("training curves")
        lr_axes.set(ylabel="learning rate\n(at epoch end)")
        if speed:
            axes[-1].set(ylabel="speed\n(corpus words/s)")
            axes[-1].yaxis.set_major_formatter(EngFormatter(sep=""))
            axes[-1].set_ylim(bottom=0)
        axes[-1].set_xlabel("epoch")
        axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
        for ax in axes:
            ax.grid(alpha=0.3)
        save_figure(figure, path, fmt)
    return fonts
