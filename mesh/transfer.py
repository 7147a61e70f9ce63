"""Field transfer between meshes by linear finite-element interpolation.

The source mesh is split into simplices (triangles in 2D, tetrahedra in 3D;
quads, hexahedra, wedges, pyramids and the quadratic cells are split into linear
sub-simplices through all their nodes). Each target point is located in a
simplex with a k-d tree on simplex centroids (k nearest candidates, barycentric
test, widening until the search is certified complete), and gets that simplex's
barycentric coordinates as weights. Points outside the source are clamped to the
closest point of the source boundary (exact point-to-segment / point-to-triangle
projection), or to the nearest node.

The result is a sparse CSR matrix ``W`` of shape (n_target, n_source) with rows
summing to one: ``W @ u_source`` is the interpolated field. Both directions of a
transfer are two calls.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from .boundary import facets_used_once
from .core import Mesh
from .errors import MeshError
from .types import BoolArray, FloatArray, IntArray

Outside = Literal["clamp", "nearest_node", "error"]

# local sub-simplices of each supported volume cell type (linear on each piece)
SIMPLEX_SPLITS: dict[str, tuple[tuple[int, ...], ...]] = {
    "line": ((0, 1),),
    "line3": ((0, 2), (2, 1)),
    "triangle": ((0, 1, 2),),
    "triangle6": ((0, 3, 5), (3, 1, 4), (5, 4, 2), (3, 4, 5)),
    "quad": ((0, 1, 2), (0, 2, 3)),
    "quad8": ((0, 4, 7), (4, 1, 5), (5, 2, 6), (6, 3, 7), (4, 5, 7), (5, 6, 7)),
    "quad9": ((0, 4, 8), (0, 8, 7), (4, 1, 5), (4, 5, 8), (8, 5, 2), (8, 2, 6),
              (7, 8, 6), (7, 6, 3)),
    "tetra": ((0, 1, 2, 3),),
    "tetra10": ((0, 4, 6, 7), (4, 1, 5, 8), (6, 5, 2, 9), (7, 8, 9, 3),
                (6, 8, 4, 5), (6, 8, 5, 9), (6, 8, 9, 7), (6, 8, 7, 4)),
    "hexahedron": ((0, 1, 2, 6), (0, 2, 3, 6), (0, 3, 7, 6), (0, 7, 4, 6), (0, 4, 5, 6),
                   (0, 5, 1, 6)),
    "wedge": ((0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5)),
    "pyramid": ((0, 1, 2, 4), (0, 2, 3, 4)),
}
_CHUNK = 65536  # targets per vectorised batch (bounds the (M, k, d+1) temporaries)


def simplex_split(mesh: Mesh) -> tuple[IntArray, IntArray]:
    """Split the volume cells of a mesh into linear simplices.

    Parameters
    ----------
    mesh : mesh whose volume cells are of a supported type: line(3), triangle(6),
        quad(8, 9), tetra(10), hexahedron, wedge, pyramid.

    Returns
    -------
    simplices : (S, d+1) int64 node indices, d = ``mesh.topological_dim``.
    parent : (S,) int64 index of the parent cell among the volume cells
        (block order, cells stacked).

    Raises
    ------
    MeshError
        For a mesh without volume cells or with a cell type that has no split.

    Examples
    --------
    >>> from mesh.core import CellBlock
    >>> m = Mesh(np.array([[0., 0.], [1., 0.], [1., 1.], [0., 1.]]), [CellBlock("quad", np.array([[0, 1, 2, 3]]))])
    >>> simplex_split(m)[0].tolist()
    [[0, 1, 2], [0, 2, 3]]
    """
    parts, parents, offset = [], [], 0
    for block in mesh.volume_blocks():
        split = SIMPLEX_SPLITS.get(block.type)
        if split is None:
            raise MeshError(
                f"cell type '{block.type}' cannot be split into simplices for interpolation; "
                f"supported: {', '.join(SIMPLEX_SPLITS)}"
            )
        c = len(block)
        sub = block.data[:, np.array(split)]  # (C, n_sub, d+1)
        parts.append(sub.reshape(-1, sub.shape[-1]))
        parents.append(np.repeat(np.arange(offset, offset + c, dtype=np.int64), len(split)))
        offset += c
    if not parts or mesh.topological_dim == 0:
        raise MeshError(f"the mesh has no volume cells to interpolate on: {mesh!r}")
    return np.concatenate(parts), np.concatenate(parents)


def _working_points(mesh: Mesh) -> FloatArray:
    """Coordinates in the mesh's own dimension: drop a constant z for planar meshes."""
    tdim, pts = mesh.topological_dim, mesh.points
    if tdim == mesh.dim:
        return pts
    if tdim == 2 and mesh.dim == 3:
        z = pts[:, 2]
        if float(np.ptp(z)) <= 1e-12 * max(float(np.ptp(pts[:, :2])), 1.0):
            return pts[:, :2]
    raise MeshError(
        f"interpolation needs cells of the space dimension; the mesh has {tdim}D cells in "
        f"{mesh.dim}D space (surfaces in 3D are not supported)"
    )


def _inverse_edges(edges: FloatArray) -> tuple[FloatArray, BoolArray]:
    """Inverses of the (S, d, d) edge matrices, and a mask of the degenerate ones.

    Degenerate simplices (|det| tiny against the product of edge lengths) get a zero
    inverse and are flagged so that no point is ever located in them.
    """
    d = edges.shape[1]
    if d == 2:
        a, b, c, e = edges[:, 0, 0], edges[:, 0, 1], edges[:, 1, 0], edges[:, 1, 1]
        det = a * e - b * c
        adj = np.stack([np.stack([e, -b], 1), np.stack([-c, a], 1)], 1)
    elif d == 3:
        # columns of inv(E) are (e2 x e3, e3 x e1, e1 x e2) / det for rows e1, e2, e3
        e1, e2, e3 = edges[:, 0], edges[:, 1], edges[:, 2]
        cols = np.stack([np.cross(e2, e3), np.cross(e3, e1), np.cross(e1, e2)], axis=2)
        det = np.einsum("si,si->s", e1, cols[:, :, 0])
        adj = cols
    else:
        det = edges[:, 0, 0]
        adj = np.ones_like(edges)
    scale = np.prod(np.linalg.norm(edges, axis=2), axis=1)
    bad = ~(np.abs(det) > 1e-13 * np.maximum(scale, np.finfo(float).tiny))
    r = np.where(bad, 0.0, 1.0 / np.where(bad, 1.0, det))
    return adj * r[:, None, None], bad


@dataclass(frozen=True)
class _SimplexSet:
    """Geometry of the source simplices, precomputed once."""

    simplices: IntArray   # (S, d+1)
    origin: FloatArray    # (S, d) first vertex
    inv: FloatArray       # (S, d, d) inverse edge matrices (zero for degenerate simplices)
    degenerate: BoolArray  # (S,)
    tree: cKDTree         # on the centroids
    radius: float         # max centroid-to-vertex distance over all simplices

    @classmethod
    def build(cls, points: FloatArray, simplices: IntArray) -> _SimplexSet:
        x = points[simplices]  # (S, d+1, d)
        origin = x[:, 0]
        inv, bad = _inverse_edges(x[:, 1:] - origin[:, None, :])
        centroid = x.mean(axis=1)
        r2 = np.max(np.sum((x - centroid[:, None]) ** 2, axis=2)) if len(x) else 0.0
        tree = cKDTree(centroid, balanced_tree=False, compact_nodes=False)
        return cls(simplices, origin, inv, bad, tree, float(np.sqrt(r2)))

    def barycentric(self, p: FloatArray, cand: IntArray) -> FloatArray:
        """Barycentric coordinates of points p (M, d) in candidates cand (M, k): (M, k, d+1)."""
        v = p[:, None, :] - self.origin[cand]  # (M, k, d)
        lam = np.einsum("mkj,mkji->mki", v, self.inv[cand])
        return np.concatenate([1.0 - lam.sum(axis=2, keepdims=True), lam], axis=2)


@dataclass(frozen=True)
class PointLocation:
    """Where target points fall in a source mesh, and their interpolation weights.

    Attributes
    ----------
    nodes : (M, d+1) int64 source nodes whose values are combined for each target.
    weights : (M, d+1) float64 weights in [0, 1], each row summing to 1.
    simplex : (M,) int64 index of the containing simplex of :func:`simplex_split`,
        -1 for targets outside the source.
    outside : (M,) bool, True for targets not inside any source cell.
    distance : (M,) float64 distance from each target to the source mesh (0 inside),
        in the mesh's length unit.
    """

    nodes: IntArray
    weights: FloatArray
    simplex: IntArray
    outside: BoolArray
    distance: FloatArray


def _workers(n_queries: int) -> int:
    """Threads of a KD-tree query: 1 below 50,000 points (starting a thread pool per call
    costs more than it saves on the meshes of a few thousand nodes MMGP transfers by the
    hundred), all cores above."""
    return 1 if n_queries < 50_000 else -1


def _locate_inside(
    sset: _SimplexSet, p: FloatArray, tol: float, k0: int, k_max: int
) -> tuple[IntArray, FloatArray]:
    """Containing simplex and barycentric weights of each point, -1 where none is found.

    Candidates are the k nearest centroids; k grows (x4) for points not yet found
    until the k-th candidate is farther than the largest simplex radius (then no
    unchecked simplex can contain the point) or k reaches ``k_max``.
    """
    m, d1 = len(p), sset.simplices.shape[1]
    found = np.full(m, -1, np.int64)
    lam_out = np.zeros((m, d1))
    pending = np.arange(m)
    n_s = len(sset.simplices)
    k = min(k0, n_s)
    while len(pending):
        dist, cand = sset.tree.query(p[pending], k=k, workers=_workers(len(pending)))
        if k == 1:
            dist, cand = dist[:, None], cand[:, None]
        lam = sset.barycentric(p[pending], cand)
        score = np.where(sset.degenerate[cand], -np.inf, lam.min(axis=2))
        best = np.argmax(score, axis=1)
        rows = np.arange(len(pending))
        hit = score[rows, best] >= -tol
        found[pending[hit]] = cand[rows[hit], best[hit]]
        lam_out[pending[hit]] = lam[rows[hit], best[hit]]
        complete = dist[:, -1] > sset.radius
        pending = pending[~hit & ~complete]
        if k >= min(k_max, n_s):
            break
        k = min(4 * k, k_max, n_s)
    lam_out = np.clip(lam_out, 0.0, None)
    lam_out /= np.where(found >= 0, lam_out.sum(axis=1), 1.0)[:, None]
    return found, lam_out


def _closest_on_segments(p: FloatArray, a: FloatArray, b: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Closest points on segments [a, b] to p, all (..., dim): returns (dist2 (...), t (...))."""
    ab = b - a
    den = np.einsum("...i,...i->...", ab, ab)
    t = np.einsum("...i,...i->...", p - a, ab) / np.where(den > 0, den, 1.0)
    t = np.clip(t, 0.0, 1.0)
    q = a + t[..., None] * ab
    return np.einsum("...i,...i->...", p - q, p - q), t


def _closest_on_triangles(p: FloatArray, x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Exact closest point on triangles (Voronoi regions of vertices, edges, face).

    Vectorised form of Ericson's ClosestPtPointTriangle (Real-Time Collision
    Detection, 5.1.5): p (..., dim), x (..., 3, dim) -> (dist2 (...), weights (..., 3)).
    """
    a, b, c = x[..., 0, :], x[..., 1, :], x[..., 2, :]
    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = np.einsum("...i,...i->...", ab, ap), np.einsum("...i,...i->...", ac, ap)
    abab, acac = np.einsum("...i,...i->...", ab, ab), np.einsum("...i,...i->...", ac, ac)
    abac = np.einsum("...i,...i->...", ab, ac)
    d3, d4 = d1 - abab, d2 - abac  # ab.(p-b), ac.(p-b)
    d5, d6 = d1 - abac, d2 - acac  # ab.(p-c), ac.(p-c)
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2

    def ratio(num: FloatArray, den: FloatArray) -> FloatArray:
        return np.clip(num / np.where(den != 0, den, 1.0), 0.0, 1.0)

    v_ab = ratio(d1, d1 - d3)
    w_ac = ratio(d2, d2 - d6)
    w_bc = ratio(d4 - d3, (d4 - d3) + (d5 - d6))
    tot = va + vb + vc
    v_f, w_f = ratio(vb, tot), ratio(vc, tot)
    one, zero = np.ones_like(d1), np.zeros_like(d1)
    regions = [
        ((d1 <= 0) & (d2 <= 0), (one, zero, zero)),
        ((d3 >= 0) & (d4 <= d3), (zero, one, zero)),
        ((vc <= 0) & (d1 >= 0) & (d3 <= 0), (1 - v_ab, v_ab, zero)),
        ((d6 >= 0) & (d5 <= d6), (zero, zero, one)),
        ((vb <= 0) & (d2 >= 0) & (d6 <= 0), (1 - w_ac, zero, w_ac)),
        ((va <= 0) & (d4 >= d3) & (d5 >= d6), (zero, 1 - w_bc, w_bc)),
    ]
    conds = [r[0] for r in regions]
    w = np.stack([np.select(conds, [r[1][i] for r in regions], default=face)
                  for i, face in enumerate((1 - v_f - w_f, v_f, w_f))], axis=-1)
    q = np.einsum("...j,...jd->...d", w, x)
    return np.einsum("...i,...i->...", p - q, p - q), w


def _closest_on_facets(p: FloatArray, x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Exact closest point of p (M, k, dim) on facets x (M, k, nf, dim), nf = 2 or 3.

    Returns
    -------
    dist2 : (M, k) squared distances.
    weights : (M, k, nf) barycentric weights of the closest point in each facet.
    """
    if x.shape[-2] == 2:
        d2, t = _closest_on_segments(p, x[..., 0, :], x[..., 1, :])
        return d2, np.stack([1.0 - t, t], axis=-1)
    return _closest_on_triangles(p, x)


@dataclass(frozen=True)
class _FacetSet:
    """Boundary facets of the simplex split, for clamping outside points."""

    facets: IntArray  # (F, d)
    tree: cKDTree
    radius: float

    @classmethod
    def build(cls, points: FloatArray, simplices: IntArray) -> _FacetSet:
        d1 = simplices.shape[1]
        local = [tuple(j for j in range(d1) if j != i) for i in range(d1)]
        fac = simplices[:, np.array(local)].reshape(-1, d1 - 1)
        fac = fac[facets_used_once(fac, d1 - 1)]
        x = points[fac]
        centroid = x.mean(axis=1)
        radius = float(np.max(np.linalg.norm(x - centroid[:, None], axis=2))) if len(x) else 0.0
        return cls(fac, cKDTree(centroid), radius)


def _clamp(
    points: FloatArray, fset: _FacetSet, p: FloatArray, k0: int = 8, k_max: int = 1024
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Closest point of each p on the boundary facets: (nodes (M, d), weights (M, d), dist (M,))."""
    m, nf = len(p), fset.facets.shape[1]
    nodes = np.zeros((m, nf), np.int64)
    weights = np.zeros((m, nf))
    best_d = np.full(m, np.inf)
    pending = np.arange(m)
    n_f = len(fset.facets)
    k = min(k0, n_f)
    while len(pending):
        dist, cand = fset.tree.query(p[pending], k=k, workers=_workers(len(pending)))
        if k == 1:
            dist, cand = dist[:, None], cand[:, None]
        fac = fset.facets[cand]  # (M', k, nf)
        d2, w = _closest_on_facets(p[pending][:, None, :], points[fac])
        j = np.argmin(d2, axis=1)
        rows = np.arange(len(pending))
        dj = np.sqrt(d2[rows, j])
        better = dj < best_d[pending]
        upd = pending[better]
        best_d[upd] = dj[better]
        nodes[upd] = fac[rows[better], j[better]]
        weights[upd] = w[rows[better], j[better]]
        # certified once every unchecked facet is farther than the best distance
        done = dist[:, -1] > best_d[pending] + fset.radius
        pending = pending[~done]
        if k >= min(k_max, n_f):
            break
        k = min(4 * k, k_max, n_f)
    return nodes, weights, best_d


class Locator:
    """Point location in one source mesh, its search structures built once.

    :func:`locate` and :func:`interpolation_matrix` build a KD-tree of the source
    simplices (and of its boundary facets for clamping) on every call; a ``Locator``
    keeps them, for a source that receives many sets of targets (e.g. the common
    support of a surrogate, to which every new mesh's nodes are mapped back).

    Parameters
    ----------
    source : mesh with volume cells (see :func:`simplex_split`); a 2D mesh may have
        (N, 3) points with constant z.
    """

    def __init__(self, source: Mesh) -> None:
        self.source = source
        self.points = _working_points(source)
        self.simplices, _ = simplex_split(source)
        self._sset = _SimplexSet.build(self.points, self.simplices)
        self._fset: _FacetSet | None = None

    def facets(self) -> _FacetSet:
        """The boundary facets and their KD-tree (built on first use)."""
        if self._fset is None:
            self._fset = _FacetSet.build(self.points, self.simplices)
        return self._fset

    def locate(self, targets: FloatArray, *, outside: Outside = "clamp", tol: float = 1e-10,
               k: int | None = None) -> PointLocation:
        """:func:`locate` of ``targets`` (M, d) in the source (same arguments and errors)."""
        pts = self.points
        d = pts.shape[1]
        p = np.asarray(targets, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] not in (d, 3) or (p.shape[1] == 3 and d == 2 and p.size
                                                         and np.ptp(p[:, 2]) > 0):
            raise MeshError(
                f"targets must have shape (M, {d}) for this {d}D source mesh; got {p.shape}"
            )
        p = np.ascontiguousarray(p[:, :d])
        if outside not in ("clamp", "nearest_node", "error"):
            raise MeshError(f"outside must be 'clamp', 'nearest_node' or 'error'; got {outside!r}")
        sset = self._sset
        k0 = k or (4 if d <= 2 else 8)
        m = len(p)
        simplex = np.full(m, -1, np.int64)
        lam = np.zeros((m, d + 1))
        for s in range(0, m, _CHUNK):
            sl = slice(s, s + _CHUNK)
            simplex[sl], lam[sl] = _locate_inside(sset, p[sl], tol, k0, 1024)
        nodes = sset.simplices[np.maximum(simplex, 0)]
        out = simplex < 0
        dist = np.zeros(m)
        if out.any():
            nodes, lam, dist = _handle_outside(self, p, out, nodes, lam, outside)
        return PointLocation(nodes, lam, simplex, out, dist)

    def interpolation_matrix(self, targets: FloatArray | Mesh, *, outside: Outside = "clamp",
                             tol: float = 1e-10) -> sp.csr_matrix:
        """:func:`interpolation_matrix` from the source to ``targets`` (same arguments and result)."""
        pts = targets.points if isinstance(targets, Mesh) else targets
        loc = self.locate(pts, outside=outside, tol=tol)
        m, d1 = loc.weights.shape
        rows = np.repeat(np.arange(m, dtype=np.int64), d1)
        w = sp.csr_matrix(
            (loc.weights.ravel(), (rows, loc.nodes.ravel())), shape=(m, self.source.n_points)
        )
        w.sum_duplicates()
        w.eliminate_zeros()
        return w


def locate(
    source: Mesh,
    targets: FloatArray,
    *,
    outside: Outside = "clamp",
    tol: float = 1e-10,
    k: int | None = None,
) -> PointLocation:
    """Locate target points in a source mesh and compute linear interpolation weights.

    Parameters
    ----------
    source : mesh with volume cells (see :func:`simplex_split`); a 2D mesh may have
        (N, 3) points with constant z.
    targets : (M, d) or (M, 3) float64 target coordinates, same length unit as the
        source (a constant z column is ignored for 2D sources).
    outside : what to do with targets outside the source: ``"clamp"`` (closest point
        of the source boundary, interpolated there), ``"nearest_node"`` (value of the
        nearest source node), ``"error"`` (raise).
    tol : barycentric tolerance (dimensionless): a target with all barycentric
        coordinates >= -tol counts as inside (weights are then clipped to [0, 1]).
    k : initial number of candidate simplices per target (default 4 in 2D, 8 in 3D;
        the search widens by 4x for targets not found, until it is certified complete).

    Returns
    -------
    PointLocation

    Raises
    ------
    MeshError
        On a dimension mismatch, an unsupported cell type, or outside targets with
        ``outside="error"`` (the message gives how many and the first one).
    """
    return Locator(source).locate(targets, outside=outside, tol=tol, k=k)


def _handle_outside(
    locator: Locator, p: FloatArray, out: BoolArray,
    nodes: IntArray, lam: FloatArray, outside: Outside,
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Fill rows of targets outside the source according to the ``outside`` policy.

    Returns (nodes (M, d+1), weights (M, d+1), distance (M,)).
    """
    pts, simplices = locator.points, locator.simplices
    idx = np.flatnonzero(out)
    if outside == "error":
        first = ", ".join(f"{v:.6g}" for v in p[idx[0]])
        raise MeshError(
            f"{len(idx)} target point(s) lie outside the source mesh, the first is target "
            f"{int(idx[0])} at ({first}); use outside='clamp' or 'nearest_node'"
        )
    nodes, lam = nodes.copy(), lam.copy()
    dist = np.zeros(len(p))
    if outside == "nearest_node":
        used = np.unique(simplices)
        dd, j = cKDTree(pts[used]).query(p[idx])
        nodes[idx] = used[j][:, None]
        lam[idx] = 0.0
        lam[idx, 0] = 1.0
        dist[idx] = dd
        return nodes, lam, dist
    fn, fw, fd = _clamp(pts, locator.facets(), p[idx])
    nf = fn.shape[1]
    nodes[idx, :nf], lam[idx, :nf] = fn, fw
    nodes[idx, nf:], lam[idx, nf:] = fn[:, :1], 0.0
    dist[idx] = fd
    return nodes, lam, dist


def closest_boundary_points(source: Mesh, points: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Exact closest point of the source mesh boundary to each query point.

    Parameters
    ----------
    source : mesh with volume cells (boundary = facets of its simplex split used once).
    points : (M, d) float64 query coordinates, same length unit as the source.

    Returns
    -------
    closest : (M, d) float64 closest boundary points.
    distance : (M,) float64 distances to them.
    """
    pts = _working_points(source)
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != pts.shape[1]:
        raise MeshError(f"points must have shape (M, {pts.shape[1]}); got {p.shape}")
    simplices, _ = simplex_split(source)
    fset = _FacetSet.build(pts, simplices)
    nodes, w, dist = _clamp(pts, fset, p)
    return np.einsum("mk,mkd->md", w, pts[nodes]), dist


def interpolation_matrix(
    source: Mesh,
    targets: FloatArray | Mesh,
    *,
    outside: Outside = "clamp",
    tol: float = 1e-10,
) -> sp.csr_matrix:
    """Sparse linear FE interpolation operator from source nodes to target points.

    Parameters
    ----------
    source : mesh carrying the field (triangles/tetra, or cells split into them).
    targets : (M, d) float64 target coordinates, or a mesh whose nodes are the targets.
    outside : policy for targets outside the source (see :func:`locate`).
    tol : barycentric inside tolerance (see :func:`locate`).

    Returns
    -------
    (M, N) scipy.sparse.csr_matrix of weights, rows summing to 1, at most d+1
    nonzeros per row; ``W @ u`` maps a nodal field u (N,) or (N, c) of the source
    to the targets. The reverse transfer is ``interpolation_matrix(target, source.points)``.

    Examples
    --------
    >>> from mesh.core import CellBlock
    >>> m = Mesh(np.array([[0., 0.], [1., 0.], [0., 1.]]), [CellBlock("triangle", np.array([[0, 1, 2]]))])
    >>> W = interpolation_matrix(m, np.array([[0.25, 0.25], [2.0, 0.0]]))
    >>> (W @ np.array([0., 1., 2.])).round(12).tolist()   # u = x + 2y; second point clamped to (1, 0)
    [0.75, 1.0]
    """
    return Locator(source).interpolation_matrix(targets, outside=outside, tol=tol)


def transfer_point_data(
    source: Mesh,
    target: Mesh,
    names: Sequence[str] | None = None,
    *,
    outside: Outside = "clamp",
) -> Mesh:
    """Interpolate point fields of ``source`` onto the nodes of ``target``.

    Parameters
    ----------
    source : mesh whose ``point_data`` holds the fields, each (N_s,) or (N_s, c).
    target : mesh receiving the fields at its nodes.
    names : fields to transfer (default: all point fields of the source).
    outside : policy for target nodes outside the source (see :func:`locate`).

    Returns
    -------
    A new mesh: ``target`` with the transferred fields, each (N_t,) or (N_t, c).

    Raises
    ------
    KeyError
        If a requested field is missing; the message lists the available fields.
    """
    names = list(source.point_data) if names is None else list(names)
    missing = [n for n in names if n not in source.point_data]
    if missing:
        raise KeyError(
            f"point field(s) {missing} not in the source mesh; available: "
            f"{', '.join(source.point_data) or '(none)'}"
        )
    w = interpolation_matrix(source, target.points, outside=outside)
    return target.with_point_data(**{n: w @ np.asarray(source.point_data[n]) for n in names})


__all__ = [
    "Locator",
    "PointLocation",
    "closest_boundary_points",
    "interpolation_matrix",
    "locate",
    "simplex_split",
    "transfer_point_data",
]
