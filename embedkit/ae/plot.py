"""The comparison with PCA as a picture (needs the optional matplotlib: ``embedkit[plot]``)."""

from __future__ import annotations

import importlib.util
import os

from embedkit.ae.pca import Comparison
from embedkit.errors import EmbedkitError
from embedkit.io import atomic_output

PLOT_FORMATS = ("png", "svg")
INSTALL_HINT = "pip install 'embedkit[plot]'"


def plotting_available() -> bool:
    """Whether matplotlib can be imported."""
    return importlib.util.find_spec("matplotlib") is not None


def plot_format(path: str | os.PathLike) -> str:
    """``png`` or ``svg`` from the extension of ``path``.

    Raises
    ------
    EmbedkitError
        For any other extension.
    """
    extension = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    if extension not in PLOT_FORMATS:
        raise EmbedkitError(f"{path}: plot files must end in .png or .svg")
    return extension


def plot_comparison(comparison: Comparison, path: str | os.PathLike) -> None:
    """Principal angles and PCA's explained variance side by side, written atomically.

    Raises
    ------
    EmbedkitError
        Without matplotlib (the message says how to install it) or for a bad extension.
    """
    fmt = plot_format(path)
    if not plotting_available():
        raise EmbedkitError(f"plotting needs matplotlib: {INSTALL_HINT}")
    import matplotlib
    matplotlib.use("Agg")  # files only, never a window
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 3.6), layout="constrained")
    angles, variance = figure.subplots(1, 2)
    index = range(1, comparison.k + 1)
    angles.bar(index, comparison.principal_angles_deg, color="tab:red")
    angles.set(xlabel="principal angle index", ylabel="degrees",
               title=f"angles to the PCA subspace (eigen-gap {comparison.eigengap:.1%})")
    variance.bar(index, comparison.explained_variance_ratio, color="tab:blue",
                 label=f"PCA (total {sum(comparison.explained_variance_ratio):.1%})")
    variance.axhline(comparison.captured_variance_ratio / comparison.k, color="tab:red",
                     ls="--", label=f"model, per component "
                                   f"(total {comparison.captured_variance_ratio:.1%})")
    variance.set(xlabel="component", ylabel="share of variance",
                 title="explained variance")
    variance.legend(fontsize="small")
    with atomic_output(path, binary=True) as out:
        figure.savefig(out, format=fmt)
