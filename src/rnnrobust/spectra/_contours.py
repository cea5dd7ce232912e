"""sigma_min(zI - A) on a grid, exact only where contours at given levels need it (the ``levels`` mode).

sigma_min(zI - A) is 1-Lipschitz in z (Weyl: |sigma_min(zI - A) - sigma_min(wI - A)| <= |z - w|), so the
exact values at the corners of a cell of the grid bound every point z inside it:

    lo(z) = max_c (s_c - |z - z_c|)  <=  sigma_min(zI - A)  <=  hi(z) = min_c (s_c + |z - z_c|).

A cell is *certified* when, for every level eps, every grid point of the (closed) cell has lo > eps, or every
one has hi < eps: no grid edge inside it can cross a contour.  The grid is refined as a quadtree from a coarse
grid (every ``coarse``-th point, plus the last): uncertified cells are split in four, their new corners
computed exactly, until cells have no interior points.  Every grid point then is either exact or lies in a
certified cell, where it gets the bilinear interpolant of that cell's corners clipped to [lo, hi].

What this guarantees: at every grid point the value lies on the same side of every level as the exact
sigma_min, and both end points of every grid edge that a contour crosses are exact.  Marching squares
(matplotlib's ``contour`` and ``contourf``) therefore draws the same contours from this grid as from the
fully computed one; the values away from the contours are certified brackets, not full-accuracy values.
A computed value counts as exact to within ``_SLACK_PER_TOL`` times the tolerance it was computed to (relative),
plus the solvers' rounding floor, which widens every bracket by that much.

Points are first computed to a screening tolerance, ``_SCREEN_TOL`` (when ``tol`` is finer): enough to certify
cells and to tell on which side of each level a point lies.  Once the quadtree is done, the points that are an
end of a grid edge a contour crosses, or that lie within their slack of a level, are polished to ``tol``, each
from its own singular vector (about 3 Lanczos steps), until no such point is left.  On the benchmark's randn
n = 128 grid, 12,667 points are screened and 3,262 polished: 66,657 Lanczos steps against 77,881 when every
point is computed to 1e-10, and 1.23x less time (min of 4 interleaved runs; Grcar 1.09x).

Each generation of new points is one batched evaluation; a new point starts inverse Lanczos from the singular
vector of the corner whose edge it halves (``_sweep.started``, with its wrong-branch check).  For real A and a
grid symmetric about the real axis a point below the axis shares its mirror point's evaluation.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from ._grid import sigma_min_with_vectors
from ._schur import Prepared

# Measured errors stay below the Lanczos tolerance (tol 1e-8: at most 5.3e-9, on Grcar); 100 times it is the margin.
_SLACK_PER_TOL = 100.0
_SCREEN_TOL = 1e-5
_POLISH_MIX = 1e-8
_VECTOR_BYTES = 256 * 2**20


def _axis_is_increasing(v: np.ndarray) -> bool:
    return v.size < 2 or bool(np.all(np.diff(v) > 0))


def _mirror_rows(ys: np.ndarray, prep: Prepared) -> np.ndarray:
    """For each row, the row that evaluates it: for real A the row at -y (to within rounding) when y < 0 and
    such a row exists (sigma_min is the same at conjugate points), otherwise the row itself."""
    rows = np.arange(ys.size)
    if not prep.is_real:
        return rows
    tol = 1e-14 * prep.normF / np.sqrt(prep.n)
    order = np.argsort(ys)
    for i in np.flatnonzero(ys < 0):
        k = int(np.searchsorted(ys[order], -ys[i]))
        for c in (k - 1, k):
            if 0 <= c < ys.size and ys[order[c]] >= 0 and abs(ys[order[c]] + ys[i]) <= tol:
                rows[i] = order[c]
                break
    return rows


def _coarse_indices(size: int, stride: int) -> np.ndarray:
    return np.unique(np.r_[np.arange(0, size, stride), size - 1])


class _Refinement:
    """The grid values, the tolerance each was computed to (inf: not computed, a certified interpolant), their
    singular vectors, and the evaluator (batched)."""

    def __init__(self, prep: Prepared, xs: np.ndarray, ys: np.ndarray, levels: np.ndarray, tol: float):
        self.prep, self.xs, self.ys, self.levels, self.tol = prep, xs, ys, levels, tol
        self.screen_tol = max(tol, _SCREEN_TOL)
        self.S = np.full((ys.size, xs.size), np.nan)
        self.tol_at = np.full(self.S.shape, np.inf)
        self.floor = 4 * prep.floor
        # each exact point's singular vector starts its neighbours (a third fewer Lanczos steps), if it fits
        fits = prep.n * self.S.size * 8 <= _VECTOR_BYTES
        # point-major, so that gathering and storing a point's vector moves one contiguous row
        self.vectors = np.zeros((*self.S.shape, prep.n), dtype=np.complex64) if fits else None
        self.stats = {"iterations": 0, "fallback": 0, "warm_started": 0, "recomputed": 0}
        self.mirror = _mirror_rows(ys, prep)

    @property
    def exact(self) -> np.ndarray:
        return np.isfinite(self.tol_at)

    def compute(
        self, ii, jj, parents: tuple[np.ndarray, np.ndarray] | None = None, tol: float | None = None, mix=None
    ) -> None:
        """Evaluate the grid points (ii, jj) not yet computed to ``tol`` (default: the screening tolerance), each
        started from its ``parents`` point's singular vector when given, plus ``mix`` times the cold start vector
        (default ``_sweep._MIX``).  A point whose mirror row holds the conjugate point (real A) shares that
        point's evaluation."""
        tol = self.screen_tol if tol is None else tol
        ii, jj = np.asarray(ii).ravel(), np.asarray(jj).ravel()
        pi, pj = (ii, jj) if parents is None else (parents[0].ravel(), parents[1].ravel())
        todo = self.tol_at[ii, jj] > tol
        ii, jj, pi, pj = ii[todo], jj[todo], pi[todo], pj[todo]
        if ii.size == 0:
            return
        ci = self.mirror[ii]
        flat, first, back = np.unique(ci * self.xs.size + jj, return_index=True, return_inverse=True)
        ui, uj = np.divmod(flat, self.xs.size)
        z = self.xs[uj] + 1j * self.ys[ui]
        starts = None
        if parents is not None and self.vectors is not None:
            starts = self.vectors[pi[first], pj[first]].T
        vals, vecs = sigma_min_with_vectors(self.prep, z, tol=tol, starts=starts, stats=self.stats, mix=mix)
        self._store(ui, uj, vals, vecs, tol)  # the evaluated points
        self._store(ii, jj, vals[back], None if vecs is None else vecs[:, back], tol)  # and the requested ones

    def polish(self) -> None:
        """Recompute to ``tol``, from their own singular vectors, the screened points that a contour needs: an
        end of a grid edge whose ends lie on different sides of a level, or within their slack of a level.  A
        polished value can move a point across a level only if it was within its slack, so the edges at such
        points are looked at again, until no point is left."""
        while True:
            need = ~np.isfinite(self.S)  # (a point left without any value would be computed too)
            slack = np.where(self.exact, _SLACK_PER_TOL * self.tol_at, 0.0)
            for eps in self.levels:
                above = self.S > eps
                for axis in (0, 1):
                    crossed = np.moveaxis(above, axis, 0)
                    crossed = crossed[1:] != crossed[:-1]
                    ends = np.moveaxis(need, axis, 0)
                    ends[1:] |= crossed
                    ends[:-1] |= crossed
                need |= np.abs(self.S - eps) <= slack * self.S + self.floor
            ii, jj = np.nonzero(need & (self.tol_at > self.tol))
            if ii.size == 0:
                return
            # from its own screened vector, which passed the wrong-branch check already: 1e-8 of the cold vector
            # instead of the warm starts' 1e-5 saves a step (randn n = 128: polish steps 10,103 -> 8,209)
            self.compute(ii, jj, parents=(ii, jj), tol=self.tol, mix=_POLISH_MIX)

    def _store(self, rows, cols, vals, vecs, tol) -> None:
        self.S[rows, cols] = vals
        self.tol_at[rows, cols] = tol
        if vecs is not None and self.vectors is not None:
            self.vectors[rows, cols] = vecs.T

    def visit(self, cells: np.ndarray) -> np.ndarray:
        """Certify or split cells (rows i0, i1, j0, j1 with exact corners); return the cells to refine next."""
        children = []
        for shape in np.unique(np.c_[cells[:, 1] - cells[:, 0], cells[:, 3] - cells[:, 2]], axis=0):
            same = cells[(cells[:, 1] - cells[:, 0] == shape[0]) & (cells[:, 3] - cells[:, 2] == shape[1])]
            if shape[0] <= 1 and shape[1] <= 1:
                continue  # no interior, no edge points: the cell is its four exact corners
            certified = self._certify_and_fill(same, int(shape[0]), int(shape[1]))
            children.append(self._split(same[~certified]))
        return np.concatenate(children) if children else np.empty((0, 4), dtype=int)

    def _certify_and_fill(self, cells: np.ndarray, di: int, dj: int) -> np.ndarray:
        """Which cells (all of shape di x dj) are certified; fill their non-exact points."""
        i0, i1, j0, j1 = cells.T
        ii = i0[:, None, None] + np.arange(di + 1)[None, :, None]
        jj = j0[:, None, None] + np.arange(dj + 1)[None, None, :]
        ii, jj = np.broadcast_arrays(ii, jj)
        z = self.xs[jj] + 1j * self.ys[ii]
        lo = np.zeros(z.shape)
        hi = np.full(z.shape, np.inf)
        corners = []
        for ci, cj in ((i0, j0), (i0, j1), (i1, j0), (i1, j1)):
            s = self.S[ci, cj][:, None, None]
            err = _SLACK_PER_TOL * self.tol_at[ci, cj][:, None, None] * s + self.floor
            dist = np.abs(z - (self.xs[cj] + 1j * self.ys[ci])[:, None, None])
            lo = np.maximum(lo, s - err - dist)
            hi = np.minimum(hi, s + err + dist)
            corners.append(s)
        lvl = self.levels[None, None, None, :]
        above = np.all(lo[..., None] > lvl, axis=(1, 2))
        below = np.all(hi[..., None] < lvl, axis=(1, 2))
        certified = np.all(above | below, axis=1)
        # bilinear interpolant of the corners, clipped into the bracket: on the certified side of every level
        ty = (np.arange(di + 1) / di)[None, :, None] if di else np.zeros((1, 1, 1))
        tx = (np.arange(dj + 1) / dj)[None, None, :] if dj else np.zeros((1, 1, 1))
        s00, s01, s10, s11 = corners
        interp = (1 - ty) * ((1 - tx) * s00 + tx * s01) + ty * ((1 - tx) * s10 + tx * s11)
        fill = np.clip(interp, lo, np.maximum(lo, hi))
        c = certified
        ic, jc, fc = ii[c], jj[c], fill[c]
        free = ~self.exact[ic, jc]
        self.S[ic[free], jc[free]] = fc[free]
        return certified

    def _split(self, cells: np.ndarray) -> np.ndarray:
        """Split cells at their middle row and column; compute the new corners exactly."""
        if cells.size == 0:
            return np.empty((0, 4), dtype=int)
        i0, i1, j0, j1 = cells.T
        mi, mj = (i0 + i1) // 2, (j0 + j1) // 2
        # each new point starts from the corner it halves an edge from
        parents = (np.r_[i0, i1, i0, i0, i0], np.r_[j0, j1, j0, j1, j0])
        self.compute(np.r_[i0, i1, mi, mi, mi], np.r_[mj, mj, j0, j1, mj], parents)
        quads = [(i0, mi, j0, mj), (i0, mi, mj, j1), (mi, i1, j0, mj), (mi, i1, mj, j1)]
        out = np.concatenate([np.stack(q, axis=1) for q in quads])
        # halving a 1-wide side leaves a degenerate child of width 0: drop it (its points are in its twin)
        return out[(out[:, 1] > out[:, 0]) | (out[:, 3] > out[:, 2])]


def sigma_min_levels(
    prep: Prepared, xs: np.ndarray, ys: np.ndarray, levels, *, tol: float, coarse: int = 8, info=None
) -> np.ndarray:
    """sigma_min(zI - A) on the grid z = xs[j] + i ys[i], exact only where contours at ``levels`` need it.

    Returns the (len(ys), len(xs)) grid of :func:`sigma_min_grid`: exact values (to ``tol``) at every point
    that a contour at one of ``levels`` passes next to, values to the screening tolerance at the other points
    it computed, certified brackets' interpolants elsewhere (see the module docstring).  Axes that are not
    strictly increasing get every point computed exactly.
    """
    levels = np.unique(np.asarray(levels, dtype=float))
    ref = _Refinement(prep, xs, ys, levels, tol)
    if not (_axis_is_increasing(xs) and _axis_is_increasing(ys)):
        ii, jj = np.indices(ref.S.shape)
        ref.compute(ii, jj, tol=tol)
    else:
        ci, cj = _coarse_indices(ys.size, coarse), _coarse_indices(xs.size, coarse)
        ref.compute(*np.meshgrid(ci, cj, indexing="ij"))
        cells = np.array([(a, b, c, d) for a, b in pairwise(ci) for c, d in pairwise(cj)], dtype=int)
        if ys.size == 1 or xs.size == 1:
            ii, jj = np.indices(ref.S.shape)  # a single row or column: no cells, compute it all
            ref.compute(ii, jj, tol=tol)
            cells = np.empty((0, 4), dtype=int)
        while cells.size:
            cells = ref.visit(cells)
        if ref.screen_tol > ref.tol:
            ref.polish()
    if info is not None:
        info.update(
            grid_points=int(ref.S.size),
            exact_points=int(np.count_nonzero(ref.exact)),
            polished_points=int(np.count_nonzero(ref.tol_at <= ref.tol)) if ref.screen_tol > ref.tol else 0,
            certified_points=int(ref.S.size - np.count_nonzero(ref.exact)),
        )
    return ref.S
