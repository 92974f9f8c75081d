"""A grid index over (valence, arousal): the songs near a point without looking at every song.

Songs are bucketed into a square grid of cells over [0, 1]² and stored cell by cell, row-major. The cells
of one grid row that a query box overlaps are then one contiguous slice, so a query gathers a handful of
slices and measures only the songs in them. At a million songs that is a few thousand distances per query
instead of a million, and no sort of the whole library.
"""

from __future__ import annotations

import math

import numpy as np

#: A radius that covers the whole unit square from any point inside it.
WHOLE_SQUARE = math.sqrt(2.0)


class GridIndex:
    """Songs' (valence, arousal) positions bucketed into a ``side`` × ``side`` grid.

    Parameters
    ----------
    positions : np.ndarray, shape (N, 2)
        Valence and arousal of each song on [0, 1]; row ``i`` is song ``i``.
    per_cell : int
        Songs per cell on average; it sets ``side`` to about ``sqrt(N / per_cell)``.

    Notes
    -----
    Built once per library in O(N log N) (one numpy sort); each query costs O(side · radius + songs found).
    """

    def __init__(self, positions: np.ndarray, *, per_cell: int = 16):
        positions = np.asarray(positions, dtype=np.float64).reshape(-1, 2)
        self.size = len(positions)
        self.side = int(np.clip(round(math.sqrt(self.size / per_cell)), 1, 1024))
        cells = self._cell(positions[:, 0]) * self.side + self._cell(positions[:, 1])
        order = np.argsort(cells, kind="stable")
        self._rows = order  # (N,) song row of each stored entry
        self._points = positions[order]  # (N, 2) stored cell by cell, so a slice is contiguous in memory
        # _starts[c] .. _starts[c + 1] are the entries of cell c.
        self._starts = np.searchsorted(cells[order], np.arange(self.side * self.side + 1))

    def _cell(self, values) -> np.ndarray:
        return np.clip(np.floor(np.asarray(values) * self.side).astype(np.int64), 0, self.side - 1)

    def _cell_of(self, value: float) -> int:
        # The scalar form of _cell: four of these per query, where numpy's call overhead would dominate.
        return min(max(math.floor(value * self.side), 0), self.side - 1)

    def within(self, point, radius: float) -> tuple[np.ndarray, np.ndarray]:
        """All songs at most ``radius`` from ``point``.

        Parameters
        ----------
        point : array-like, shape (2,)
            Valence and arousal.
        radius : float
            Euclidean distance in (valence, arousal).

        Returns
        -------
        rows : np.ndarray of int, shape (M,)
            Song rows, in no particular order.
        distances : np.ndarray of float, shape (M,)
            Their distances from ``point``.
        """
        v, a = float(point[0]), float(point[1])
        if self.size == 0:
            return np.zeros(0, dtype=np.intp), np.zeros(0)
        i0, i1, j0, j1 = (self._cell_of(x) for x in (v - radius, v + radius, a - radius, a + radius))
        grid_rows = np.arange(i0, i1 + 1) * self.side
        firsts, lasts = self._starts[grid_rows + j0], self._starts[grid_rows + j1 + 1]
        lengths = lasts - firsts
        # Concatenate the slices [first, last) without a Python loop: entry k of slice s is first_s + k.
        offsets = np.cumsum(lengths) - lengths
        entries = np.arange(int(lengths.sum())) + np.repeat(firsts - offsets, lengths)
        points = self._points[entries]
        distances = np.hypot(points[:, 0] - v, points[:, 1] - a)
        keep = distances <= radius
        return self._rows[entries[keep]], distances[keep]

    def nearest(self, point, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` songs nearest to ``point`` (fewer when the index holds fewer).

        Returns
        -------
        rows, distances : np.ndarray, shape (min(k, N),)
            Nearest first; equal distances in row order, so the answer is deterministic.
        """
        k = min(int(k), self.size)
        if k <= 0:
            return np.zeros(0, dtype=np.intp), np.zeros(0)
        # Start with the radius that would hold about 2k songs if they were spread evenly, then double.
        radius = max(math.sqrt(2 * k / (math.pi * self.size)), 1e-3)
        while True:
            rows, distances = self.within(point, radius)
            if len(rows) >= k or radius >= WHOLE_SQUARE:
                break
            radius = min(2 * radius, WHOLE_SQUARE)
        order = np.lexsort((rows, distances))[:k]
        return rows[order], distances[order]
