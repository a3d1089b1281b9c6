"""Placing text labels beside their points so that none overlaps another label or covers a point.

Greedy placement over candidate positions, in priority order: each label tries, nearest
first, positions around its point (16 directions, on rings growing by one label height), and
takes the first whose box overlaps no label placed before it and covers no point. The test of
all of a label's candidates against all placed boxes and all points is one vectorised
comparison, so a label costs a few array operations whatever the number of candidates; the
loop runs once per label (hundreds on a readable map), never per candidate or pair. Labels
placed away from their point get a leader line. A label with no free candidate takes the one
that overlaps least and is reported, so callers can ask for a larger picture or fewer words.
(A force-directed repel, tried first, oscillated in dense clusters and left labels overlapping.)
"""

from __future__ import annotations

import numpy as np

#: Directions tried on each ring, starting to the right of the point and going round.
DIRECTIONS = 16
#: Rings of candidates: the far ones reach across a map of hundreds of label heights.
RINGS = 48
#: Candidates tested together (two rings).
CHUNK = 2 * DIRECTIONS


def _candidate_offsets(half: np.ndarray, marker: float, ring_step: float) -> np.ndarray:
    """Offsets (from the point to the label's centre) to try, nearest first, shape (C, 2)."""
    angle = 2 * np.pi * np.arange(DIRECTIONS) / DIRECTIONS
    radius = np.arange(RINGS)[:, None] * ring_step
    dx = np.cos(angle) * (half[0] + marker + radius)
    dy = np.sin(angle) * (half[1] + marker + radius)
    offsets = np.stack([dx.ravel(), dy.ravel()], axis=1)
    # Nearest first; among equals, the direction order (right, then round).
    order = np.argsort(np.hypot(*(offsets - np.sign(offsets) * (half + marker)).T),
                       kind="stable")
    return offsets[order]


def place_labels(anchors: np.ndarray, sizes: np.ndarray, bounds: tuple[float, ...],
                 marker: float | np.ndarray = 3.0,
                 gap: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Centres for labels of the given sizes, in priority order (first placed first).

    Parameters
    ----------
    anchors : ndarray, shape (n, 2)
        The points, in pixels.
    sizes : ndarray, shape (n, 2)
        Width and height of each label, in pixels.
    bounds : (x0, y0, x1, y1)
        The area labels must stay in, in pixels.
    marker : float or ndarray of shape (n,)
        Half the size of each point's marker: labels keep this far from the point.
    gap : float
        Least space between two labels, in pixels.

    Returns
    -------
    centres : ndarray, shape (n, 2)
    overlapping : ndarray of bool, shape (n,)
        Labels that had no free place and overlap another label or cover a point.
    """
    anchors = np.asarray(anchors, dtype=np.float64).reshape(-1, 2)
    half = np.asarray(sizes, dtype=np.float64).reshape(-1, 2) / 2 + gap / 2
    n = len(anchors)
    reach = np.broadcast_to(np.asarray(marker, dtype=np.float64), (n,))[:, None]
    low = np.asarray(bounds[:2], dtype=np.float64)
    high = np.asarray(bounds[2:], dtype=np.float64)
    placed_low = np.empty((n, 2))
    placed_high = np.empty((n, 2))
    centres = np.empty((n, 2))
    overlapping = np.zeros(n, dtype=bool)
    ring_step = float(np.median(half[:, 1]) * 2) if n else 1.0
    for i in range(n):
        box_half = half[i]
        offsets = _candidate_offsets(box_half, float(reach[i, 0]), ring_step)
        best_cost, best = n + n + 1, anchors[i]
        # Near candidates first, a chunk at a time: most labels find room in the first rings.
        for start in range(0, len(offsets), CHUNK):
            candidates = np.clip(anchors[i] + offsets[start:start + CHUNK], low + box_half,
                                 np.maximum(high - box_half, low + box_half))
            lo, hi = candidates - box_half, candidates + box_half
            clash = ((lo[:, None, :] < placed_high[None, :i]) &
                     (hi[:, None, :] > placed_low[None, :i])).all(axis=2).sum(axis=1)
            covered = ((lo[:, None, :] < anchors[None] + reach) &
                       (hi[:, None, :] > anchors[None] - reach)).all(axis=2).sum(axis=1)
            cost = clash + covered
            j = int(np.argmin(cost))  # the first free one, or the least bad
            if cost[j] < best_cost:
                best_cost, best = int(cost[j]), candidates[j]
            if best_cost == 0:
                break
        overlapping[i] = best_cost > 0
        centres[i] = best
        placed_low[i], placed_high[i] = best - box_half, best + box_half
    return centres, overlapping


def leader_lines(anchors: np.ndarray, centres: np.ndarray, sizes: np.ndarray,
                 reach: float) -> tuple[np.ndarray, np.ndarray]:
    """Segments from each point to the nearest edge of its label, for labels farther than
    ``reach`` pixels from their point.

    Returns
    -------
    which : ndarray of intp
        The labels that get a line.
    segments : ndarray, shape (len(which), 2, 2)
        Start (the point) and end (on the label's box) of each line, in pixels.
    """
    half = np.asarray(sizes, dtype=np.float64) / 2
    nearest = np.clip(anchors, centres - half, centres + half)
    far = np.linalg.norm(nearest - anchors, axis=1) > reach
    which = np.flatnonzero(far)
    return which, np.stack([anchors[which], nearest[which]], axis=1)
