"""Mesh morphing onto a common support (the first stage of MMGP).

Strategies, picked by :func:`morph`:

- **disk mappings** of a 2D mesh bounded by one loop: boundary nodes on the unit
  circle by arc length from the deterministic start node (smallest x, then y),
  interior nodes by one sparse solve with Tutte (uniform, 1/deg) or Floater
  mean-value convex-combination weights. For a strictly convex target both give
  a valid embedding (no inverted triangle).
- **loop matching + harmonic extension** for 2D meshes with several loops (a
  plate with holes): each loop is mapped onto its counterpart in a reference
  mesh by normalised arc length from the deterministic starts, and the boundary
  displacement is extended to the interior by one sparse Laplace solve.
- **RBF morphing** with the compactly supported Wendland C2 kernel
  (1 - r)^4 (4 r + 1), sparse through a k-d tree, for 3D meshes given a surface
  correspondence (or as an alternative in 2D).

Every morph is checked for inverted cells (signed measures at the cell corners,
compared with the orientation of the original cells).
"""
from __future__ import annotations

from dataclasses import dataclass
from math import factorial
from typing import Literal

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu
from scipy.spatial import cKDTree

from .boundary import (
    boundary_facets,
    boundary_loops,
    loop_arc_length,
    loop_signed_areas,
    planar_points,
)
from .core import Mesh
from .errors import MorphingError
from .transfer import SIMPLEX_SPLITS, closest_boundary_points, simplex_split
from .types import FloatArray, IntArray

Method = Literal["auto", "tutte", "floater", "harmonic", "rbf"]

# --------------------------------------------------------------------------- renumbering


def boundary_last_permutation(mesh: Mesh) -> IntArray:
    """Node permutation that puts the boundary nodes last, in loop order.

    Parameters
    ----------
    mesh : 2D mesh (see :func:`mesh.boundary.boundary_loops`).

    Returns
    -------
    (N,) int64 ``perm`` with ``new node i = old node perm[i]``: interior nodes in their
    original order, then the outer loop from its start (smallest x, then y),
    counter-clockwise, then the holes. ``renumbered(mesh, perm)`` applies it.
    """
    loops = boundary_loops(mesh)
    bnd = np.concatenate(loops) if loops else np.zeros(0, np.int64)
    is_bnd = np.zeros(mesh.n_points, bool)
    is_bnd[bnd] = True
    return np.concatenate([np.flatnonzero(~is_bnd), bnd]).astype(np.int64)


def renumbered(mesh: Mesh, perm: IntArray) -> Mesh:
    """A new mesh with nodes renumbered by ``perm`` (new node i = old node perm[i]).

    Parameters
    ----------
    mesh : any mesh.
    perm : (N,) int64 permutation of 0..N-1.

    Returns
    -------
    Mesh with permuted points and point data, and cells and point sets remapped.

    Raises
    ------
    MorphingError
        If ``perm`` is not a permutation of the mesh's nodes.
    """
    perm = np.asarray(perm, dtype=np.int64)
    n = mesh.n_points
    if perm.shape != (n,) or not np.array_equal(np.sort(perm), np.arange(n)):
        raise MorphingError(f"perm must be a permutation of 0..{n - 1}; got shape {perm.shape}")
    inv = np.empty(n, np.int64)
    inv[perm] = np.arange(n)
    cells = tuple(type(b)(b.type, inv[b.data]) for b in mesh.cells)
    return Mesh(
        mesh.points[perm], cells,
        {k: np.asarray(v)[perm] for k, v in mesh.point_data.items()},
        dict(mesh.cell_data), dict(mesh.field_data),
        {k: inv[v] for k, v in mesh.point_sets.items()}, dict(mesh.cell_sets),
    )


# ------------------------------------------------------------------- sparse operators


def _edges(mesh: Mesh) -> IntArray:
    """Unique undirected edges (a < b) of the volume cells: (E, 2) int64."""
    parts = [b.data[:, np.array(b.info.edges)].reshape(-1, 2) for b in mesh.volume_blocks()]
    e = np.sort(np.concatenate(parts), axis=1)
    n = np.int64(max(mesh.n_points, 1))
    key = np.sort(e[:, 0] * n + e[:, 1])
    key = key[np.concatenate([[True], key[1:] != key[:-1]])] if len(key) else key
    return np.column_stack([key // n, key % n])


def uniform_weights(mesh: Mesh) -> sp.csr_matrix:
    """Tutte weights: adjacency of the mesh graph (1 per edge), (N, N) CSR, symmetric.

    Row i divided by deg(i) gives the convex-combination weights 1/deg(i); the
    row scaling does not change the solution, so the symmetric form is solved.
    """
    e = _edges(mesh)
    n = mesh.n_points
    w = sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    return (w + w.T).tocsr()


def mean_value_weights(points: FloatArray, triangles: IntArray) -> sp.csr_matrix:
    """Floater's mean-value weights w_ij = (tan(a_ij/2) + tan(b_ij/2)) / |x_j - x_i|.

    Parameters
    ----------
    points : (N, 2) coordinates.
    triangles : (T, 3) node indices (quads and quadratic cells split beforehand).

    Returns
    -------
    (N, N) CSR, non-symmetric, positive on every edge; unit 1/L.

    Raises
    ------
    MorphingError
        For a degenerate triangle (a zero-length edge or a flat angle); names it.
    """
    n = len(points)
    x = points[triangles]  # (T, 3, 2)
    rows, cols, vals = [], [], []
    for i in range(3):  # the three corners of every triangle at once
        j, k = (i + 1) % 3, (i + 2) % 3
        a, b = x[:, j] - x[:, i], x[:, k] - x[:, i]
        la, lb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
        cross = np.abs(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])
        den = la * lb + np.einsum("ti,ti->t", a, b)
        bad = (la == 0) | (lb == 0) | ~(den > 0)
        if bad.any():
            t = int(np.flatnonzero(bad)[0])
            raise MorphingError(
                f"mean-value weights need non-degenerate triangles; triangle {t} "
                f"(nodes {triangles[t].tolist()}) has a zero-length edge or a flat angle"
            )
        tan_half = cross / den
        rows += [triangles[:, i], triangles[:, i]]
        cols += [triangles[:, j], triangles[:, k]]
        vals += [tan_half / la, tan_half / lb]
    w = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(n, n))
    return w.tocsr()


def stiffness_matrix(points: FloatArray, simplices: IntArray,
                     cell_weights: FloatArray | None = None) -> sp.csr_matrix:
    """P1 Laplace stiffness matrix K_ij = sum_K w_K |K| grad(l_i) . grad(l_j): (N, N) CSR.

    Parameters
    ----------
    points : (N, d) coordinates.
    simplices : (S, d+1) node indices.
    cell_weights : optional (S,) positive diffusivity w_K per simplex (default 1).
    """
    x = points[simplices]
    e = x[:, 1:] - x[:, :1]  # (S, d, d)
    d = e.shape[1]
    if d == 2:  # closed form: 20x faster than the batched LAPACK calls on small matrices
        det = e[:, 0, 0] * e[:, 1, 1] - e[:, 0, 1] * e[:, 1, 0]
        inv = np.stack([np.stack([e[:, 1, 1], -e[:, 0, 1]], 1),
                        np.stack([-e[:, 1, 0], e[:, 0, 0]], 1)], 1) / det[:, None, None]
    else:
        det = np.linalg.det(e)
        inv = np.linalg.inv(e)  # grad l_j (j >= 1) is column j-1 of inv(e)
    g = np.concatenate([-inv.sum(axis=2, keepdims=True), inv], axis=2).transpose(0, 2, 1)
    vol = np.abs(det) / factorial(d) if cell_weights is None else np.abs(det) / factorial(d) * cell_weights
    ke = vol[:, None, None] * np.einsum("sik,sjk->sij", g, g)
    d1 = d + 1
    rows = np.repeat(simplices, d1, axis=1).ravel()
    cols = np.tile(simplices, (1, d1)).ravel()
    return sp.csr_matrix((ke.ravel(), (rows, cols)), shape=(len(points),) * 2)


def _laplacian(w: sp.csr_matrix) -> sp.csr_matrix:
    """L = D - W with D the row sums of W."""
    return (sp.diags(np.asarray(w.sum(axis=1)).ravel()) - w).tocsr()


def _check_used(mesh: Mesh) -> None:
    """Raise if some nodes belong to no volume cell (their rows would be empty)."""
    used = np.zeros(mesh.n_points, bool)
    for b in mesh.volume_blocks():
        used[b.data.ravel()] = True
    if not used.all():
        bad = np.flatnonzero(~used)
        raise MorphingError(
            f"{len(bad)} node(s) belong to no cell (first: node {int(bad[0])}); remove "
            "unused nodes before morphing"
        )


class DirichletSolver:
    """A factorised interior system ``lap[free, free]``: solves for any Dirichlet values.

    Parameters
    ----------
    lap : (N, N) sparse operator (a graph or FE Laplacian).
    fixed : (B,) int64 indices of the Dirichlet nodes.
    symmetric : whether ``lap`` is symmetric (None: checked); symmetric systems are
        factorised without pivoting, with a symmetric ordering (about 30 % faster).

    Raises
    ------
    MorphingError
        If the interior system is singular (e.g. a part of the mesh not connected to
        any fixed node).
    """

    def __init__(self, lap: sp.spmatrix, fixed: IntArray, symmetric: bool | None = None) -> None:
        n = lap.shape[0]
        is_fixed = np.zeros(n, bool)
        is_fixed[fixed] = True
        self.n, self.fixed, self.free = n, np.asarray(fixed), np.flatnonzero(~is_fixed)
        self._lu = None
        if len(self.free) == 0:
            return
        rows = sp.csr_matrix(lap)[self.free]
        a = rows[:, self.free].tocsc()
        self._coupling = rows[:, self.fixed]
        if symmetric is None:
            symmetric = abs(a - a.T).max() <= 1e-13 * abs(a).max()
        opts = {"diag_pivot_thresh": 0.0, "options": {"SymmetricMode": True}} if symmetric else {}
        try:
            self._lu = splu(a, permc_spec="MMD_AT_PLUS_A", **opts)
        except RuntimeError as exc:  # "Factor is exactly singular"
            raise MorphingError(
                f"the interior system ({len(self.free)} unknowns) is singular: {exc}; is every part "
                "of the mesh connected to the boundary?"
            ) from None

    def solve(self, values: FloatArray) -> FloatArray:
        """(N, c) solution of ``lap[free] @ x = 0`` with ``x[fixed] = values`` ((B, c))."""
        x = np.zeros((self.n, values.shape[1]))
        x[self.fixed] = values
        if self._lu is None:
            return x
        x[self.free] = self._lu.solve(np.ascontiguousarray(-(self._coupling @ values)))
        if not np.all(np.isfinite(x)):
            raise MorphingError("the interior solve produced non-finite coordinates")
        return x


def dirichlet_solve(lap: sp.spmatrix, fixed: IntArray, values: FloatArray,
                    symmetric: bool | None = None) -> FloatArray:
    """Solve ``lap[free] @ x = 0`` with ``x[fixed] = values`` in one sparse factorisation.

    Parameters
    ----------
    lap : (N, N) sparse operator (a graph or FE Laplacian).
    fixed : (B,) int64 indices of the Dirichlet nodes.
    values : (B, c) float64 values at them.
    symmetric : see :class:`DirichletSolver`.

    Returns
    -------
    (N, c) float64 solution.

    Raises
    ------
    MorphingError
        If the interior system is singular (e.g. a part of the mesh not connected to
        any fixed node).
    """
    return DirichletSolver(lap, fixed, symmetric).solve(values)


# ---------------------------------------------------------------------- disk mappings


def circle_positions(points: FloatArray, loop: IntArray, start_angle: float = 0.0) -> FloatArray:
    """Unit-circle positions of a loop's nodes by normalised arc length: (L, 2).

    The loop's first node goes to angle ``start_angle`` (radians) and the walk
    proceeds counter-clockwise, so a counter-clockwise loop keeps its orientation.
    """
    theta = start_angle + 2.0 * np.pi * loop_arc_length(points, loop)
    return np.column_stack([np.cos(theta), np.sin(theta)])


def disk_mapping(
    mesh: Mesh,
    *,
    weights: Literal["uniform", "mean_value"] = "uniform",
    start_angle: float = 0.0,
) -> FloatArray:
    """Map a 2D mesh bounded by one loop onto the unit disk (Tutte or Floater).

    Parameters
    ----------
    mesh : 2D mesh with one boundary loop, every node in some cell.
    weights : ``"uniform"`` (Tutte, 1/deg(i)) or ``"mean_value"`` (Floater 2003).
    start_angle : angle (radians) of the loop's start node on the circle; 0 as in
        the MMGP reference code.

    Returns
    -------
    (N, 2) float64 coordinates in the unit disk (dimensionless). Boundary nodes lie
    on the unit circle, spaced by the arc length of the original boundary.

    Raises
    ------
    MorphingError
        If the mesh does not have exactly one boundary loop, has unused nodes or
        degenerate triangles (mean-value weights), or the solve is singular.

    Examples
    --------
    >>> from mesh.core import CellBlock
    >>> pts = np.array([[0., 0.], [1., 0.], [1., 1.], [0., 1.], [0.5, 0.5]])
    >>> tri = np.array([[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]])
    >>> np.abs(disk_mapping(Mesh(pts, [CellBlock("triangle", tri)]))[4]).round(12).tolist()
    [0.0, 0.0]
    """
    loops = boundary_loops(mesh)
    if len(loops) != 1:
        raise MorphingError(
            f"a disk mapping needs a mesh bounded by one loop; this mesh has {len(loops)} "
            f"boundary loops; morph it onto a reference mesh instead (method='harmonic')"
        )
    _check_used(mesh)
    pts = planar_points(mesh)
    if weights == "uniform":
        w = uniform_weights(mesh)
    elif weights == "mean_value":
        w = mean_value_weights(pts, simplex_split(mesh)[0])
    else:
        raise MorphingError(f"weights must be 'uniform' or 'mean_value'; got {weights!r}")
    loop = loops[0]
    return dirichlet_solve(_laplacian(w), loop, circle_positions(pts, loop, start_angle))


# ------------------------------------------------------- loop matching onto a reference


def _match_holes(pts_m: FloatArray, holes_m: list[IntArray], pts_r: FloatArray,
                 holes_r: list[IntArray], outer_m: IntArray, outer_r: IntArray) -> list[int]:
    """For each hole of the mesh, the index of its counterpart among the reference holes.

    Holes are matched by their centroids in the frame of each domain's outer-loop
    bounding box (normalised to the unit square), by a linear assignment.
    """
    from scipy.optimize import linear_sum_assignment

    def frame(pts: FloatArray, outer: IntArray, holes: list[IntArray]) -> FloatArray:
        lo, hi = pts[outer].min(axis=0), pts[outer].max(axis=0)
        c = np.array([pts[h].mean(axis=0) for h in holes])
        return (c - lo) / np.where(hi > lo, hi - lo, 1.0)

    cm, cr = frame(pts_m, outer_m, holes_m), frame(pts_r, outer_r, holes_r)
    cost = np.linalg.norm(cm[:, None] - cr[None], axis=2)
    _, cols = linear_sum_assignment(cost)
    return [int(c) for c in cols]


def _loop_targets(pts_m: FloatArray, loop_m: IntArray, pts_r: FloatArray,
                  loop_r: IntArray) -> FloatArray:
    """Positions on the reference loop at the mesh loop's normalised arc lengths: (L, 2)."""
    t = loop_arc_length(pts_m, loop_m)
    tr = np.concatenate([loop_arc_length(pts_r, loop_r), [1.0]])
    pr = pts_r[np.concatenate([loop_r, loop_r[:1]])]
    return np.column_stack([np.interp(t, tr, pr[:, 0]), np.interp(t, tr, pr[:, 1])])


def _check_loops(loops_m: list[IntArray], areas_m: FloatArray, loops_r: list[IntArray],
                 areas_r: FloatArray) -> None:
    """Both meshes must be one connected domain with the same number of holes."""
    for name, areas in (("mesh", areas_m), ("reference", areas_r)):
        if len(areas) == 0:
            raise MorphingError(f"the {name} has no boundary")
        if np.sum(areas > 0) != 1:
            raise MorphingError(
                f"the {name} has {int(np.sum(areas > 0))} outer boundary loops (several "
                "connected components); loop matching needs one domain"
            )
    if len(loops_m) != len(loops_r):
        raise MorphingError(
            f"the mesh has {len(loops_m)} boundary loops ({len(loops_m) - 1} hole(s)) but the "
            f"reference has {len(loops_r)} ({len(loops_r) - 1} hole(s)); they must match"
        )


def loop_targets(mesh: Mesh, reference: Mesh) -> tuple[IntArray, FloatArray]:
    """Where the boundary nodes of a 2D mesh go on the boundary of a reference with the same loops.

    Each boundary loop of ``mesh`` is matched to its counterpart in ``reference`` (outer to
    outer; holes by normalised centroid position) and its nodes are placed by normalised
    arc length from the deterministic starts.

    Returns
    -------
    (the boundary nodes of ``mesh``, loop after loop (M,); their target positions (M, 2)
    in the reference's length unit).

    Raises
    ------
    MorphingError
        If the loop structures differ or the mesh has several components or unused nodes.
    """
    pts_m, pts_r = planar_points(mesh), planar_points(reference)
    loops_m, loops_r = boundary_loops(mesh), boundary_loops(reference)
    _check_loops(loops_m, loop_signed_areas(pts_m, loops_m), loops_r,
                 loop_signed_areas(pts_r, loops_r))
    _check_used(mesh)
    order = [0]
    if len(loops_m) > 1:
        order += [1 + j for j in _match_holes(pts_m, loops_m[1:], pts_r, loops_r[1:],
                                              loops_m[0], loops_r[0])]
    targets = [_loop_targets(pts_m, lm, pts_r, loops_r[j]) for lm, j in zip(loops_m, order)]
    return np.concatenate(loops_m), np.concatenate(targets)


def loop_matched_morph(
    mesh: Mesh,
    reference: Mesh,
    *,
    laplacian: Literal["fe", "graph"] = "fe",
) -> FloatArray:
    """Morph a 2D mesh onto the domain of a reference mesh with the same loops.

    Each boundary loop of ``mesh`` is mapped onto its counterpart in ``reference``
    (outer to outer; holes matched by normalised centroid position) by normalised
    arc length from the deterministic starts; the boundary displacement is then
    extended to the interior by one sparse Laplace solve (both components at once).

    Parameters
    ----------
    mesh : 2D mesh (one domain, any number of holes, every node in some cell).
    reference : 2D mesh with the same number of holes; its domain is the target.
    laplacian : ``"fe"`` (P1 stiffness, harmonic in physical distance; default) or
        ``"graph"`` (uniform graph Laplacian).

    Returns
    -------
    (N, 2) float64 morphed coordinates in the reference's length unit.

    Raises
    ------
    MorphingError
        If the loop structures differ, a mesh has several components, or the solve
        is singular.
    """
    pts_m = planar_points(mesh)
    fixed, targets = loop_targets(mesh, reference)
    disp_b = targets - pts_m[fixed]
    if laplacian == "fe":
        lap = stiffness_matrix(pts_m, simplex_split(mesh)[0])
    elif laplacian == "graph":
        lap = _laplacian(uniform_weights(mesh))
    else:
        raise MorphingError(f"laplacian must be 'fe' or 'graph'; got {laplacian!r}")
    return pts_m + dirichlet_solve(lap, fixed, disp_b)


# ------------------------------------------------------------------------ RBF morphing


def wendland_c2(r: FloatArray) -> FloatArray:
    """Wendland C2 kernel (1 - r)^4 (4 r + 1) for r < 1, else 0 (r = distance / radius)."""
    r = np.asarray(r, dtype=np.float64)
    return np.where(r < 1.0, (1.0 - r) ** 4 * (4.0 * r + 1.0), 0.0)


def _kernel_pairs(tree_a: cKDTree, tree_b: cKDTree, radius: float) -> sp.csr_matrix:
    """Sparse kernel matrix phi(|a_i - b_j| / radius) for pairs closer than radius."""
    pairs = tree_a.sparse_distance_matrix(tree_b, radius, output_type="ndarray")
    vals = wendland_c2(pairs["v"] / radius)
    return sp.csr_matrix((vals, (pairs["i"], pairs["j"])), shape=(tree_a.n, tree_b.n))


def rbf_morph(
    points: FloatArray,
    control_points: FloatArray,
    control_displacements: FloatArray,
    *,
    radius: float | None = None,
    affine: bool = True,
    max_pairs: int = 50_000_000,
) -> FloatArray:
    """Displace points by a compactly supported RBF interpolant of control displacements.

    Solves ``[K P; P^T 0] [a; b] = [d; 0]`` with the sparse Wendland C2 kernel
    matrix K (M, M) of the control points and, if ``affine``, the affine terms
    P = [1, x]; then evaluates the interpolant at all points chunk by chunk, so no
    dense (N, M) or (M, M) matrix is formed.

    Parameters
    ----------
    points : (N, dim) float64 coordinates to displace, length unit L.
    control_points : (M, dim) float64 control coordinates, distinct.
    control_displacements : (M, dim) float64 prescribed displacements, unit L.
    radius : kernel support radius, unit L (default: half the diagonal of the
        control points' bounding box). Larger is smoother and denser.
    affine : add the affine terms, so affine motions are reproduced exactly and
        points farther than ``radius`` from every control still move affinely.
    max_pairs : refuse (MorphingError) when the kernel matrix would have more
        nonzeros than this; pass a smaller radius or fewer controls.

    Returns
    -------
    (N, dim) float64 displaced points; control points move exactly by their
    displacement.

    Raises
    ------
    MorphingError
        On shape mismatches, duplicate control points, too dense a kernel, or a
        singular system.
    """
    x = np.asarray(points, dtype=np.float64)
    c = np.asarray(control_points, dtype=np.float64)
    d = np.asarray(control_displacements, dtype=np.float64)
    if c.ndim != 2 or d.shape != c.shape or x.ndim != 2 or x.shape[1] != c.shape[1]:
        raise MorphingError(
            f"need points (N, dim), control_points (M, dim) and displacements (M, dim) of the "
            f"same dim; got {x.shape}, {c.shape}, {d.shape}"
        )
    tree_c = cKDTree(c)
    dd, jj = tree_c.query(c, k=2)
    if len(c) > 1 and np.any(dd[:, 1] == 0):
        i = int(np.flatnonzero(dd[:, 1] == 0)[0])
        raise MorphingError(f"control points {i} and {int(jj[i, 1])} coincide")
    if radius is None:
        radius = 0.5 * float(np.linalg.norm(np.ptp(c, axis=0)))
    if not radius > 0:
        raise MorphingError(f"radius must be positive; got {radius}")
    n_pairs = int(tree_c.count_neighbors(tree_c, radius))
    if n_pairs > max_pairs:
        raise MorphingError(
            f"the kernel matrix would have {n_pairs} nonzeros (> max_pairs={max_pairs}) at "
            f"radius {radius:.4g}; use a smaller radius or fewer control points"
        )
    coef, aff, centre, scale = _rbf_solve(tree_c, c, d, radius, affine)
    out = x.copy()
    per_point = max(n_pairs / max(len(c), 1), 1.0)
    chunk = max(256, int(2e7 / per_point))
    for s in range(0, len(x), chunk):  # loop over chunks of points, vectorised inside
        xs = x[s:s + chunk]
        disp = _kernel_pairs(cKDTree(xs), tree_c, radius) @ coef
        if aff is not None:
            disp += np.column_stack([np.ones(len(xs)), (xs - centre) / scale]) @ aff
        out[s:s + chunk] += disp
    return out


def _rbf_solve(tree_c: cKDTree, c: FloatArray, d: FloatArray, radius: float, affine: bool):
    """Coefficients of the RBF interpolant: (kernel coef (M, dim), affine (dim+1, dim) or None)."""
    m, dim = c.shape
    k = _kernel_pairs(tree_c, tree_c, radius)
    centre = c.mean(axis=0)
    scale = max(float(np.ptp(c)), 1e-300)
    use_affine = affine and m > dim + 1
    if use_affine:
        p = sp.csr_matrix(np.column_stack([np.ones(m), (c - centre) / scale]))
        a = sp.bmat([[k, p], [p.T, None]], format="csc")
        rhs = np.vstack([d, np.zeros((dim + 1, dim))])
    else:
        a, rhs = k.tocsc(), d
    try:
        sol = splu(a).solve(np.ascontiguousarray(rhs))
    except RuntimeError as exc:
        raise MorphingError(f"the RBF system is singular: {exc}") from None
    if use_affine:
        return sol[:m], sol[m:], centre, scale
    return sol, None, centre, scale


# -------------------------------------------------------------------- inversion check

_CORNERS: dict[str, tuple[tuple[int, ...], ...]] = {
    "quad": ((0, 1, 3), (1, 2, 0), (2, 3, 1), (3, 0, 2)),
    "hexahedron": ((0, 1, 3, 4), (1, 2, 0, 5), (2, 3, 1, 6), (3, 0, 2, 7),
                   (4, 7, 5, 0), (5, 4, 6, 1), (6, 5, 7, 2), (7, 6, 4, 3)),
}
_CORNERS["quad8"] = _CORNERS["quad9"] = _CORNERS["quad"]
_CORNERS["hexahedron20"] = _CORNERS["hexahedron"]


def _corner_measures(points: FloatArray, mesh: Mesh) -> list[FloatArray]:
    """Signed corner measures (C_b, n_corner_simplices) of each volume block."""
    out = []
    for b in mesh.volume_blocks():
        local = _CORNERS.get(b.type) or SIMPLEX_SPLITS.get(b.type)
        if local is None:
            raise MorphingError(f"no inversion check for cell type '{b.type}'")
        x = points[b.data[:, np.array(local)]]  # (C, s, d+1, dim)
        e = x[..., 1:, :] - x[..., :1, :]
        if e.shape[-1] != e.shape[-2]:
            raise MorphingError(
                f"inversion check needs {e.shape[-2]}D cells in {e.shape[-2]}D space; "
                f"got points of dim {e.shape[-1]}"
            )
        out.append(np.linalg.det(e) / factorial(e.shape[-1]))
    return out


@dataclass(frozen=True)
class InversionReport:
    """Cells whose orientation flipped (or collapsed) in a morph.

    Attributes
    ----------
    count : number of inverted or degenerate cells.
    cells : (count,) int64 indices among the volume cells (blocks stacked in order).
    min_signed_measure : smallest corner measure, signed so that the original
        orientation is positive (unit L^d of the morphed mesh); <= 0 when count > 0.
    """

    count: int
    cells: IntArray
    min_signed_measure: float

    @property
    def ok(self) -> bool:
        """True when no cell is inverted."""
        return self.count == 0


def inverted_cells(original: Mesh, points: FloatArray) -> InversionReport:
    """Find the cells of ``original`` that are inverted or degenerate at new ``points``.

    Parameters
    ----------
    original : the mesh before morphing; its cell orientations are the reference
        (so clockwise input cells are not reported as inverted).
    points : (N, d) float64 morphed coordinates (d = topological dimension).

    Returns
    -------
    InversionReport
    """
    before = _corner_measures(_plain_points(original), original)
    after = _corner_measures(np.asarray(points, dtype=np.float64), original)
    sign = np.concatenate([np.sign(b.sum(axis=1)) for b in before])
    signed = np.concatenate(after, axis=0) * sign[:, None]
    scale = np.median(np.abs(signed)) if signed.size else 0.0
    worst = signed.min(axis=1)
    bad = np.flatnonzero((worst <= 1e-12 * scale) | (sign == 0))
    return InversionReport(len(bad), bad.astype(np.int64),
                           float(worst.min()) if worst.size else 0.0)


def _plain_points(mesh: Mesh) -> FloatArray:
    """Mesh coordinates in its topological dimension (planar 3D meshes lose z)."""
    return planar_points(mesh) if mesh.topological_dim == 2 else mesh.points


# ----------------------------------------------------------------------- entry point


@dataclass(frozen=True)
class MorphResult:
    """Outcome of :func:`morph`.

    Attributes
    ----------
    mesh : the morphed mesh: same nodes, cells and data, new points (N, d).
    method : the strategy used (``"tutte"``, ``"floater"``, ``"harmonic"``, ``"rbf"``).
    inversions : inverted cells of the morphed mesh.
    """

    mesh: Mesh
    method: str
    inversions: InversionReport

    @property
    def points(self) -> FloatArray:
        """Morphed coordinates (N, d)."""
        return self.mesh.points


def _auto_method(mesh: Mesh, reference: Mesh | None, targets) -> str:
    """Pick the strategy for ``mesh`` (see :func:`morph`) or say why none applies."""
    tdim = mesh.topological_dim
    if tdim == 3:
        if targets is not None or reference is not None:
            return "rbf"
        raise MorphingError(
            "a 3D mesh needs a surface correspondence to be morphed: pass "
            "targets=(boundary node indices, their target positions) for RBF morphing, or a "
            "reference mesh whose boundary the surface nodes are projected onto"
        )
    if tdim != 2:
        raise MorphingError(
            f"morphing needs 2D or 3D cells; the mesh's topological dimension is {tdim}"
        )
    if not boundary_facets(mesh):
        raise MorphingError(
            "the mesh has no boundary (a closed surface): a disk mapping needs a boundary "
            "loop; cut the surface open or use RBF morphing with targets"
        )
    loops = boundary_loops(mesh)  # raises for non-planar or non-manifold boundaries
    if reference is not None:
        return "harmonic"
    if len(loops) == 1:
        return "tutte"
    raise MorphingError(
        f"the mesh has {len(loops)} boundary loops ({len(loops) - 1} hole(s)); a disk mapping "
        "needs one loop: pass a reference mesh with the same holes (method='harmonic')"
    )


def morph(
    mesh: Mesh,
    reference: Mesh | None = None,
    *,
    method: Method = "auto",
    targets: tuple[IntArray, FloatArray] | None = None,
    laplacian: Literal["fe", "graph"] = "fe",
    start_angle: float = 0.0,
    radius: float | None = None,
) -> MorphResult:
    """Morph a mesh onto a common support, choosing the strategy that applies.

    ``method="auto"`` picks: a 2D mesh with one boundary loop and no reference ->
    Tutte disk mapping; a 2D mesh with a reference -> loop matching + harmonic
    extension onto the reference's domain; a 3D mesh with ``targets`` -> RBF from
    that correspondence; a 3D mesh with a reference -> RBF from the projection of
    the boundary nodes onto the reference boundary (small shape changes only).

    Parameters
    ----------
    mesh : the mesh to morph.
    reference : mesh whose domain is the common support (``"harmonic"``, 3D ``"rbf"``).
    method : ``"auto"``, ``"tutte"``, ``"floater"``, ``"harmonic"`` or ``"rbf"``.
    targets : for ``"rbf"``: (node indices (M,), target positions (M, d)).
    laplacian : interior operator of ``"harmonic"`` (see :func:`loop_matched_morph`).
    start_angle : circle angle of the start node for disk mappings (radians).
    radius : RBF support radius (see :func:`rbf_morph`).

    Returns
    -------
    MorphResult with the morphed mesh (same topology and data) and its inversion report.

    Raises
    ------
    MorphingError
        When no strategy applies (closed surface, several loops and no reference, 3D
        without correspondence, mismatched loops), saying what is needed.

    Examples
    --------
    >>> from mesh.core import CellBlock
    >>> pts = np.array([[0., 0.], [1., 0.], [1., 1.], [0., 1.], [0.5, 0.5]])
    >>> tri = np.array([[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]])
    >>> r = morph(Mesh(pts, [CellBlock("triangle", tri)]))
    >>> r.method, r.inversions.count
    ('tutte', 0)
    """
    chosen = _auto_method(mesh, reference, targets) if method == "auto" else method
    if chosen in ("tutte", "floater"):
        weights = "uniform" if chosen == "tutte" else "mean_value"
        new = disk_mapping(mesh, weights=weights, start_angle=start_angle)
    elif chosen == "harmonic":
        if reference is None:
            raise MorphingError("method='harmonic' needs a reference mesh")
        new = loop_matched_morph(mesh, reference, laplacian=laplacian)
    elif chosen == "rbf":
        new = _rbf_from(mesh, reference, targets, radius)
    else:
        raise MorphingError(
            f"unknown morphing method {method!r}; choose auto, tutte, floater, harmonic or rbf"
        )
    report = inverted_cells(mesh, new)
    return MorphResult(mesh.with_points(new), chosen, report)


def _rbf_from(mesh: Mesh, reference: Mesh | None, targets, radius: float | None) -> FloatArray:
    """RBF morph from explicit targets or from boundary projection onto a reference."""
    pts = _plain_points(mesh)
    if targets is not None:
        idx = np.asarray(targets[0], dtype=np.int64)
        goal = np.asarray(targets[1], dtype=np.float64)
        if goal.shape != (len(idx), pts.shape[1]):
            raise MorphingError(
                f"targets positions must have shape ({len(idx)}, {pts.shape[1]}); got {goal.shape}"
            )
    elif reference is not None:
        idx = np.unique(np.concatenate([b.data.ravel() for b in boundary_facets(mesh)]))
        goal, _ = closest_boundary_points(reference, pts[idx])
    else:
        raise MorphingError("method='rbf' needs targets=(indices, positions) or a reference")
    return rbf_morph(pts, pts[idx], goal - pts[idx], radius=radius)


__all__ = [
    "InversionReport",
    "MorphResult",
    "boundary_last_permutation",
    "circle_positions",
    "DirichletSolver",
    "dirichlet_solve",
    "disk_mapping",
    "inverted_cells",
    "loop_matched_morph",
    "loop_targets",
    "mean_value_weights",
    "morph",
    "rbf_morph",
    "renumbered",
    "stiffness_matrix",
    "uniform_weights",
    "wendland_c2",
]
