"""The word map as one self-contained HTML page: data and script inline, nothing fetched.

The page draws the points on a canvas; one can pan (drag), zoom (wheel, + and -), hover a
point for its word and nearest words, and search a word (``#search=WORD`` in the address
searches on load). Labels are drawn where they overlap no other, so zooming in shows more.
The data sits in a ``<script type="application/json" id="data">`` element.
"""

from __future__ import annotations

import html
import json
import os
from importlib import resources

import numpy as np

from embedkit.io import atomic_output
from embedkit.plots.render import PALETTE
from embedkit.plots.wordmap import WordMap

#: The colour of the word found by a search; groups of words get the palette's other colours.
HIGHLIGHT = "#D55E00"
#: Significant digits kept of the coordinates (far below a pixel at any sensible zoom).
DIGITS = 6


def page_data(wmap: WordMap) -> dict:
    """The JSON the page reads: title, method, axes, words, x, y, group, queries, neighbors,
    palette, highlight."""
    xy = np.asarray(wmap.xy, dtype=np.float64)
    rounded = [[float(f"{v:.{DIGITS}g}") for v in column] for column in xy.T.tolist()]
    return {"title": wmap.title, "method": wmap.method, "axes": list(wmap.axis_labels),
            "words": wmap.words, "x": rounded[0], "y": rounded[1],
            "group": wmap.group.tolist(), "queries": wmap.queries,
            "neighbors": [[[word, sim] for word, sim in near] for near in wmap.neighbors],
            "palette": [colour for colour in PALETTE if colour != HIGHLIGHT],
            "highlight": HIGHLIGHT}


def map_page(wmap: WordMap) -> str:
    """The page's text."""
    text = json.dumps(page_data(wmap), ensure_ascii=False, allow_nan=False,
                      separators=(",", ":"))
    # Inside <script>, "</script>" or "<!--" in a word would end or confuse the element.
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    template = resources.files("embedkit.plots").joinpath("map.html").read_text("utf-8")
    head, tail = template.split("__DATA__")
    return head.replace("__TITLE__", html.escape(wmap.title)) + text + tail


def write_map_page(wmap: WordMap, path: str | os.PathLike) -> None:
    """Write :func:`map_page` atomically to ``path``."""
    with atomic_output(path) as out:
        out.write(map_page(wmap))
