"""The comparison with PCA as a picture (needs the optional matplotlib: ``embedkit[plot]``)."""

from __future__ import annotations

import os

from embedkit.ae.pca import Comparison
from embedkit.plots.render import INSTALL_HINT, PALETTE, drawing, plotting_available, save_figure
from embedkit.plots.render import plot_format as _picture_format

PLOT_FORMATS = ("png", "svg")

__all__ = ["INSTALL_HINT", "PLOT_FORMATS", "plot_comparison", "plot_format",
           "plotting_available"]


def plot_format(path: str | os.PathLike) -> str:
    """``png`` or ``svg`` from the extension of ``path``.

    Raises
    ------
    EmbedkitError
        For any other extension.
    """
    return _picture_format(path, PLOT_FORMATS)


def plot_comparison(comparison: Comparison, path: str | os.PathLike) -> None:
    """Principal angles and PCA's explained variance side by side, written atomically.

    Raises
    ------
    EmbedkitError
        Without matplotlib (the message says how to install it) or for a bad extension.
    """
    fmt = plot_format(path)
    with drawing([]):
        from matplotlib.figure import Figure

        figure = Figure(figsize=(9, 3.6), layout="constrained")
        angles, variance = figure.subplots(1, 2)
        index = range(1, comparison.k + 1)
        angles.bar(index, comparison.principal_angles_deg, color=PALETTE[1])
        angles.set(xlabel="principal angle index", ylabel="degrees",
                   title=f"angles to the PCA subspace (eigen-gap {comparison.eigengap:.1%})")
        variance.bar(index, comparison.explained_variance_ratio, color=PALETTE[0],
                     label=f"PCA (total {sum(comparison.explained_variance_ratio):.1%})")
        variance.axhline(comparison.captured_variance_ratio / comparison.k, color=PALETTE[1],
                         ls="--", label=f"model, per component "
                                        f"(total {comparison.captured_variance_ratio:.1%})")
        variance.set(xlabel="component", ylabel="share of variance",
                     title="explained variance")
        variance.legend(fontsize="small")
        save_figure(figure, path, fmt)
