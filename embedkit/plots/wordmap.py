"""Word maps: a set of words from a vector file projected to two dimensions.

The words are the most frequent ones, or given words with their nearest neighbours. Rows are
scaled to unit length first, so that distances on the map follow the cosine similarity that
``neighbors`` ranks by; scikit-learn's PCA or t-SNE then projects them. :func:`draw_map` draws
the map as PNG or SVG (matplotlib) with every point labelled; :mod:`embedkit.plots.page`
writes it as an interactive HTML page.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from embedkit.errors import EmbedkitError, ParameterError
from embedkit.plots.labels import leader_lines, place_labels
from embedkit.plots.render import DPI, MARKERS, PALETTE, Fonts, drawing, save_figure
from embedkit.vectors.keyed import KeyedVectors
from embedkit.vectors.query import Query, top_k

METHODS = ("pca", "tsne")
MAP_FORMATS = ("png", "svg", "html")
DEFAULT_TOP = 300
DEFAULT_NEIGHBORS = 10
#: Nearest words (in the whole vocabulary) listed when hovering a word on the HTML page.
HOVER_NEIGHBORS = 8
#: Label size in points, and the smallest it shrinks to when labels would cover too much.
FONT_SIZE = 8.0
MIN_FONT_SIZE = 5.0
#: Share of the plot area labels may cover before their font shrinks.
LABEL_COVER = 0.3
#: Largest map for exact t-SNE: below this it is faster than the Barnes-Hut approximation
#: (several times, on 20 to 300 words here) and its memory (n² floats) is small.
EXACT_TSNE = 1000
#: t-SNE's perplexity, lowered for small maps (it must stay below the number of words).
PERPLEXITY = 30.0


@dataclass
class WordMap:
    """Words placed on a plane.

    Attributes
    ----------
    name : str
        The vector file, for titles.
    words : list of str
    xy : ndarray, shape (n, 2)
        The projected positions.
    group : ndarray of int, shape (n,)
        Index in ``queries`` of the given word each word belongs to (-1 on a map of the most
        frequent words).
    queries : list of str
        The given words (empty for a map of the most frequent words).
    method : {"pca", "tsne"}
    axis_labels : (str, str)
    neighbors : list of list of (str, float)
        Each word's nearest words in the whole vocabulary, with their cosine similarity.
    """

    name: str
    words: list[str]
    xy: np.ndarray
    group: np.ndarray
    queries: list[str]
    method: str
    axis_labels: tuple[str, str]
    neighbors: list[list[tuple[str, float]]]

    @property
    def title(self) -> str:
        how = {"pca": "PCA", "tsne": "t-SNE"}[self.method]
        if self.queries:
            shown = ", ".join(self.queries[:6]) + (" …" if len(self.queries) > 6 else "")
            return f"{self.name}: {shown} and their neighbours ({how} of unit vectors)"
        return f"{self.name}: the {len(self.words)} most frequent words ({how} of unit vectors)"


def choose_rows(kv: KeyedVectors, words: Sequence[str] = (), top: int = DEFAULT_TOP,
                neighbors: int = DEFAULT_NEIGHBORS, name: str = "") -> tuple[np.ndarray,
                                                                              np.ndarray]:
    """The rows to draw and the group of each (see :class:`WordMap`).

    Without ``words``: the ``top`` most frequent (by the file's counts when it has them, else
    its first rows, which are the most frequent by convention). With ``words``: each, then its
    ``neighbors`` nearest words; a word in several groups stays in the first.

    Raises
    ------
    EmbedkitError
        Naming every given word that is not in the vocabulary.
    """
    if not words:
        if kv.counts is not None:
            rows = np.argsort(-np.asarray(kv.counts), kind="stable")[:top]
        else:
            rows = np.arange(min(top, len(kv)))
        return rows.astype(np.intp), np.full(len(rows), -1)
    unknown = [w for w in dict.fromkeys(words) if w not in kv]
    if unknown:
        shown = ", ".join(repr(w) for w in unknown[:10])
        more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        raise EmbedkitError(f"{name}: not in the vocabulary ({len(kv)} words): {shown}{more}")
    given = np.array(kv.rows(list(dict.fromkeys(words))), dtype=np.intp)
    if neighbors > 0:
        found, _ = top_k(kv, [Query(kv.words[r], (int(r),)) for r in given], k=neighbors)
        groups = np.column_stack([given, found])  # each given word, then its neighbours
    else:
        groups = given[:, None]
    group_of = np.repeat(np.arange(len(given)), groups.shape[1])
    # Given words first (as groups), then the neighbours in group order, each row once.
    flat = np.concatenate([given, groups[:, 1:].ravel()])
    flat_group = np.concatenate([np.arange(len(given)),
                                 group_of.reshape(groups.shape)[:, 1:].ravel()])
    keep = flat >= 0
    _, first = np.unique(flat[keep], return_index=True)
    order = np.sort(first)
    return flat[keep][order], flat_group[keep][order]


def project(vectors: np.ndarray, method: str = "pca",
            seed: int = 1) -> tuple[np.ndarray, tuple[str, str]]:
    """Two coordinates per row of unit vectors, and how to label the axes.

    PCA's axes name the share of variance each component holds; t-SNE's coordinates have no
    meaning of their own. ``seed`` fixes t-SNE (scikit-learn's ``random_state``).

    Raises
    ------
    EmbedkitError
        For an unknown method, or fewer than 2 words (3 for t-SNE).
    """
    from sklearn.decomposition import PCA

    if method not in METHODS:
        raise ParameterError(f"method {method!r}: expected one of {', '.join(METHODS)}",
                             params=("method",))
    n, dim = vectors.shape
    least = 3 if method == "tsne" else 2
    if n < least:
        raise EmbedkitError(f"a {method} map needs at least {least} words, got {n}: give more "
                            "words or more neighbors", params=("neighbors",))
    data = np.asarray(vectors, dtype=np.float64)
    components = min(2, n, dim)
    if method == "pca":
        pca = PCA(n_components=components, svd_solver="full")
        xy = pca.fit_transform(data)
        labels = [f"PC{i + 1} ({share:.0%} of variance)"
                  for i, share in enumerate(pca.explained_variance_ratio_)]
    else:
        from sklearn.manifold import TSNE
        tsne = TSNE(n_components=2, perplexity=min(PERPLEXITY, (n - 1) / 3),
                    init="pca" if dim >= 2 else "random", learning_rate="auto",
                    random_state=seed, method="exact" if n <= EXACT_TSNE else "barnes_hut")
        xy = tsne.fit_transform(data)
        labels = ["t-SNE 1", "t-SNE 2"]
    if xy.shape[1] < 2:  # one-dimensional vectors: a line
        xy = np.column_stack([xy, np.zeros(n)])
        labels.append("")
    return xy, (labels[0], labels[1])


def word_map(kv: KeyedVectors, words: Sequence[str] = (), top: int = DEFAULT_TOP,
             neighbors: int = DEFAULT_NEIGHBORS, method: str = "pca", seed: int = 1,
             name: str = "") -> WordMap:
    """Choose the words (:func:`choose_rows`), project them (:func:`project`) and find each
    one's :data:`HOVER_NEIGHBORS` nearest words in the whole vocabulary."""
    rows, group = choose_rows(kv, words, top, neighbors, name)
    xy, axis_labels = project(kv.unit(rows), method, seed)
    found, similarity = top_k(kv, [Query(kv.words[r], (int(r),)) for r in rows],
                              k=min(HOVER_NEIGHBORS, max(len(kv) - 1, 1)))
    near = [[(kv.words[r], round(float(s), 4)) for r, s in zip(f, sims, strict=True) if r >= 0]
            for f, sims in zip(found.tolist(), similarity.tolist(), strict=True)]
    return WordMap(name, [kv.words[r] for r in rows], xy, group,
                   list(dict.fromkeys(words)), method, axis_labels, near)


@dataclass(frozen=True)
class Drawn:
    """What :func:`draw_map` reports: the fonts used (with characters none holds), the label
    size chosen, and how many labels found no free place."""

    fonts: Fonts
    font_size: float
    overlapping: int


def draw_map(wmap: WordMap, path: str | os.PathLike, fmt: str,
             size: tuple[int, int] = (1000, 800)) -> Drawn:
    """Draw the map with every word labelled beside its point (:mod:`embedkit.plots.labels`)
    and write it atomically as PNG or SVG.

    Given words are larger points with a dark edge and bold labels; each group has one colour
    and marker. Labels shrink from :data:`FONT_SIZE` (down to :data:`MIN_FONT_SIZE`) when
    they would cover more than :data:`LABEL_COVER` of the plot. Each label's SVG element has
    the id ``label-<i>`` and the points' group the id ``points``.

    Raises
    ------
    EmbedkitError
        Without matplotlib.
    """
    n = len(wmap.words)
    with drawing([*wmap.words, wmap.title, *wmap.axis_labels]) as fonts:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.collections import LineCollection
        from matplotlib.figure import Figure

        figure = Figure(figsize=(size[0] / DPI, size[1] / DPI), dpi=DPI, layout="constrained")
        canvas = FigureCanvasAgg(figure)
        ax = figure.subplots()
        grouped = wmap.group >= 0
        colours = np.array(PALETTE)[np.where(grouped, wmap.group, 0) % len(PALETTE)]
        given = np.zeros(n, dtype=bool)
        given[:len(wmap.queries)] = bool(wmap.queries)
        for marker in range(len(MARKERS)):
            mine = (np.where(grouped, wmap.group, 0) % len(MARKERS)) == marker
            if mine.any():
                ax.scatter(wmap.xy[mine, 0], wmap.xy[mine, 1], c=colours[mine],
                           s=np.where(given[mine], 42, 14), marker=MARKERS[marker],
                           edgecolors=np.where(given[mine], "#000000", "none").tolist(),
                           linewidths=0.8, zorder=3,
                           gid="points" if marker == 0 else f"points-{marker}")
        ax.set_title(wmap.title, fontsize="medium")
        ax.set_xlabel(wmap.axis_labels[0])
        ax.set_ylabel(wmap.axis_labels[1])
        if wmap.method == "tsne":
            ax.set_xticks([])
            ax.set_yticks([])
        low, high = wmap.xy.min(axis=0), wmap.xy.max(axis=0)
        span = np.where(high > low, high - low, 1.0)
        ax.set_xlim(low[0] - 0.06 * span[0], high[0] + 0.06 * span[0])
        ax.set_ylim(low[1] - 0.06 * span[1], high[1] + 0.06 * span[1])
        figure.draw_without_rendering()
        figure.set_layout_engine("none")  # the axes stay where the labels are placed
        renderer = canvas.get_renderer()
        texts = [ax.text(x, y, word, fontsize=FONT_SIZE, ha="center", va="center",
                         fontweight="bold" if g else "normal", color="#222222", zorder=4,
                         gid=f"label-{i}")
                 for i, (word, x, y, g) in enumerate(zip(wmap.words, wmap.xy[:, 0],
                                                         wmap.xy[:, 1], given, strict=True))]
        sizes = np.array([[t.get_window_extent(renderer).width,
                           t.get_window_extent(renderer).height] for t in texts])
        box = ax.get_window_extent(renderer)
        scale = min(1.0, float(np.sqrt(LABEL_COVER * box.width * box.height
                                       / max(float(np.prod(sizes, axis=1).sum()), 1.0))))
        font_size = max(MIN_FONT_SIZE, FONT_SIZE * scale)
        sizes *= font_size / FONT_SIZE
        anchors = ax.transData.transform(wmap.xy)
        centres, overlapping = place_labels(anchors, sizes, box.extents,
                                            marker=np.where(given, 6.0, 4.0))
        positions = ax.transData.inverted().transform(centres)
        for text, (x, y) in zip(texts, positions.tolist(), strict=True):
            text.set_position((x, y))
            text.set_fontsize(font_size)
        which, segments = leader_lines(anchors, centres, sizes, reach=6.0)
        if len(which):
            data_segments = ax.transData.inverted().transform(segments.reshape(-1, 2))
            ax.add_collection(LineCollection(list(data_segments.reshape(-1, 2, 2)),
                                             colors="#999999", linewidths=0.5, zorder=2,
                                             gid="leaders"),
                              autolim=False)
        save_figure(figure, path, fmt)
    return Drawn(fonts, font_size, int(overlapping.sum()))
