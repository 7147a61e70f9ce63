"""Boundary of a mesh: facets used by one volume cell, boundary nodes, 2D boundary loops.

The boundary of a mesh is the set of facets (edges in 2D, faces in 3D) of its
volume cells (the cells of the topological dimension) that belong to exactly
one cell. For planar meshes the boundary edges are chained into closed loops,
walked with the domain on the left: the outer loop counter-clockwise, holes
clockwise. Each loop starts at its node of smallest x, then smallest y (exact
comparison), as in the MMGP reference code.

Everything here is vectorised: facets are matched by sorting, loops are built by
list ranking (pointer jumping) on the successor permutation.
"""
from __future__ import annotations

import numpy as np

from .core import CellBlock, Mesh
from .errors import MeshError, MorphingError
from .types import FloatArray, IntArray

# (nodes per facet, corners per facet) -> meshio name of the facet cell type
_FACET_TYPES = {
    (1, 1): "vertex",
    (2, 2): "line",
    (3, 2): "line3",
    (3, 3): "triangle",
    (6, 3): "triangle6",
    (4, 4): "quad",
    (9, 4): "quad9",
    (8, 4): "quad8",
}


def unique_rows(keys: IntArray) -> tuple[IntArray, IntArray]:
    """Group identical rows of an integer array.

    Parameters
    ----------
    keys : (F, k) int64 array.

    Returns
    -------
    inverse : (F,) int64, the group index of each row (groups in lexicographic order).
    counts : (G,) int64, the number of rows in each group.
    """
    keys = np.ascontiguousarray(keys, dtype=np.int64)
    n, k = keys.shape
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    lo, hi = int(keys.min()), int(keys.max())
    if lo >= 0 and (hi + 1) ** k < 2**62:  # pack each row into one int64: a fast 1D sort
        code = keys[:, 0].copy()
        for j in range(1, k):
            code = code * (hi + 1) + keys[:, j]
        _, inverse, counts = np.unique(code, return_inverse=True, return_counts=True)
        return inverse.astype(np.int64), counts.astype(np.int64)
    order = np.lexsort(keys.T[::-1])
    sk = keys[order]
    new = np.ones(n, dtype=bool)
    new[1:] = np.any(sk[1:] != sk[:-1], axis=1)
    group_sorted = np.cumsum(new) - 1
    inverse = np.empty(n, np.int64)
    inverse[order] = group_sorted
    counts = np.bincount(group_sorted)
    return inverse, counts


def facets_used_once(facets: IntArray, n_corners: int) -> IntArray:
    """Mask of the facets whose corner set occurs exactly once.

    Parameters
    ----------
    facets : (F, k) int64 node indices, corners first.
    n_corners : number of leading columns that are corners (the matching key).

    Returns
    -------
    (F,) bool, True for facets that belong to a single cell.
    """
    key = np.sort(facets[:, :n_corners], axis=1)
    inverse, counts = unique_rows(key)
    return counts[inverse] == 1


def _facet_groups(mesh: Mesh) -> dict[tuple[int, int], list[tuple[IntArray, IntArray, IntArray]]]:
    """All facets of the volume cells, grouped by (nodes per facet, corners per facet).

    Returns
    -------
    {(k, nc): [(facets (F, k), parent block index (F,), parent cell index in block (F,)), ...]}
    """
    groups: dict[tuple[int, int], list[tuple[IntArray, IntArray, IntArray]]] = {}
    tdim = mesh.topological_dim
    for bi, block in enumerate(mesh.cells):
        info = block.info
        if info.dim != tdim or len(block) == 0:
            continue
        cells = np.arange(len(block), dtype=np.int64)
        for local, nc in zip(info.facets, info.facet_corners):
            fac = block.data[:, list(local)]
            groups.setdefault((len(local), nc), []).append(
                (fac, np.full(len(block), bi, np.int64), cells)
            )
    return groups


def boundary_facet_table(mesh: Mesh) -> list[tuple[str, IntArray, IntArray, IntArray]]:
    """Boundary facets with their parent cells.

    Parameters
    ----------
    mesh : any mesh with volume cells (cells of its topological dimension).

    Returns
    -------
    list of (facet type name, facets (F, k) int64, parent block (F,) int64,
    parent cell index within that block (F,) int64), one entry per facet type.
    Facet nodes keep the parent cell's local order, so for consistently oriented
    cells they are oriented with the domain on the left (2D) or outward (3D).
    """
    out = []
    for (k, nc), parts in _facet_groups(mesh).items():
        fac = np.concatenate([p[0] for p in parts])
        blk = np.concatenate([p[1] for p in parts])
        cel = np.concatenate([p[2] for p in parts])
        once = facets_used_once(fac, nc)
        name = _FACET_TYPES.get((k, nc))
        if name is None:  # pragma: no cover - every supported cell has known facets
            raise MeshError(f"facet with {k} nodes and {nc} corners has no cell type")
        if once.any():
            out.append((name, fac[once], blk[once], cel[once]))
    return out


def boundary_facets(mesh: Mesh) -> tuple[CellBlock, ...]:
    """Facets of the volume cells that belong to exactly one cell.

    Parameters
    ----------
    mesh : a mesh with cells; lower-dimensional blocks (e.g. tagged boundary lines)
        are ignored, only the cells of ``mesh.topological_dim`` count.

    Returns
    -------
    One :class:`CellBlock` per facet type (``"line"``/``"line3"`` in 2D,
    ``"triangle"``/``"quad"`` and quadratic variants in 3D), (F, k) int64 node
    indices in the parent cell's local order. Empty for a closed mesh.

    Examples
    --------
    >>> m = Mesh(np.array([[0., 0.], [1., 0.], [0., 1.]]), [CellBlock("triangle", np.array([[0, 1, 2]]))])
    >>> [(b.type, b.data.tolist()) for b in boundary_facets(m)]
    [('line', [[0, 1], [1, 2], [2, 0]])]
    """
    return tuple(CellBlock(name, fac) for name, fac, _, _ in boundary_facet_table(mesh))


def boundary_nodes(mesh: Mesh) -> IntArray:
    """Sorted unique indices of the nodes on boundary facets: (B,) int64."""
    parts = [b.data.ravel() for b in boundary_facets(mesh)]
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)


def planar_points(mesh: Mesh) -> FloatArray:
    """The (x, y) coordinates of a planar mesh: (N, 2) float64.

    Raises
    ------
    MorphingError
        If the mesh is 3D with a non-constant z (a surface or a volume).
    """
    pts = mesh.points
    if mesh.dim == 2:
        return pts
    if mesh.dim == 3:
        z = pts[:, 2]
        scale = max(float(np.ptp(pts[:, :2])) if len(pts) else 0.0, 1.0)
        if len(pts) == 0 or float(np.ptp(z)) <= 1e-12 * scale:
            return pts[:, :2]
        raise MorphingError(
            f"the mesh is not planar: z varies by {float(np.ptp(z)):.3g}; boundary loops and "
            "disk mappings need a planar (x, y) mesh"
        )
    raise MorphingError(f"boundary loops need a 2D mesh; points have dim {mesh.dim}")


def _cell_orientation(points: FloatArray, block: CellBlock) -> FloatArray:
    """Twice the signed area of each cell's corner polygon (shoelace): (C,) float64."""
    nc = block.info.n_corners
    corners = points[block.data[:, :nc]]  # (C, nc, 2)
    x, y = corners[..., 0], corners[..., 1]
    xn, yn = np.roll(x, -1, axis=1), np.roll(y, -1, axis=1)
    return np.sum(x * yn - xn * y, axis=1)


def boundary_edges(mesh: Mesh) -> IntArray:
    """Directed boundary edges of a planar mesh, domain on the left: (E, 2) int64.

    Quadratic facets (``line3``) are split into their two sub-edges through the
    mid-side node, so every boundary node appears in the chain. Each edge takes
    its direction from its parent cell, flipped when that cell is clockwise, so
    the result does not depend on the orientation of the input cells.

    Raises
    ------
    MorphingError
        If the mesh is not 2D (topological dimension 2, planar coordinates).
    """
    if mesh.topological_dim != 2:
        raise MorphingError(
            f"boundary loops need a 2D mesh of surface cells; topological dimension is "
            f"{mesh.topological_dim}"
        )
    pts = planar_points(mesh)
    blocks = mesh.cells
    signs = [np.sign(_cell_orientation(pts, b)) if b.info.dim == 2 else None for b in blocks]
    edges = []
    for name, fac, blk, cel in boundary_facet_table(mesh):
        if name == "line":
            e = fac
            sgn = np.empty(len(fac))
        else:  # line3: (a, b, mid) -> (a, mid), (mid, b)
            e = np.concatenate([fac[:, [0, 2]], fac[:, [2, 1]]])
            blk, cel = np.concatenate([blk, blk]), np.concatenate([cel, cel])
            sgn = np.empty(len(e))
        for bi in np.unique(blk):
            sel = blk == bi
            sgn[sel] = signs[bi][cel[sel]]
        e = np.where((sgn < 0)[:, None], e[:, ::-1], e)
        edges.append(e)
    return np.concatenate(edges) if edges else np.zeros((0, 2), np.int64)


def _check_manifold(edges: IntArray, points: FloatArray) -> None:
    """Raise if a node has other than one incoming and one outgoing boundary edge."""
    n = len(points)
    out_deg = np.bincount(edges[:, 0], minlength=n)
    in_deg = np.bincount(edges[:, 1], minlength=n)
    deg = out_deg + in_deg
    bad = np.flatnonzero((deg > 0) & ((out_deg != 1) | (in_deg != 1)))
    if len(bad):
        node = int(bad[0])
        xy = ", ".join(f"{v:.6g}" for v in points[node])
        raise MorphingError(
            f"non-manifold boundary: node {node} at ({xy}) has {int(deg[node])} boundary edges "
            f"({int(out_deg[node])} out, {int(in_deg[node])} in); loops need exactly 2 per node "
            f"({len(bad)} such node(s) in all)"
        )


def _list_rank(succ: IntArray, is_start: np.ndarray) -> IntArray:
    """Position of each element along its cycle, counted from the cycle's start.

    Parameters
    ----------
    succ : (B,) int64 successor permutation made of disjoint cycles.
    is_start : (B,) bool, exactly one True per cycle.

    Returns
    -------
    (B,) int64 position, 0 at the start.
    """
    b = len(succ)
    nxt = succ.copy()
    ends = is_start[succ]  # elements whose successor is a start: the end of each path
    nxt[ends] = np.flatnonzero(ends)
    dist = (~ends).astype(np.int64)  # steps to the end of the path
    for _ in range(int(np.ceil(np.log2(max(b, 2)))) + 1):
        dist = dist + dist[nxt]  # both updates read the old ``nxt``
        nxt = nxt[nxt]
    # now nxt[i] is the end of i's path, succ of that end is the path's start,
    # and a cycle of length L has its start at L - 1 steps from its end
    start_of = succ[nxt]
    return dist[start_of] - dist


def _loop_labels(succ: IntArray) -> IntArray:
    """Cycle label of each element of a successor permutation: (B,) int64."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    b = len(succ)
    g = coo_matrix((np.ones(b), (np.arange(b), succ)), shape=(b, b))
    _, labels = connected_components(g, directed=True, connection="weak")
    return labels.astype(np.int64)


def boundary_loops(mesh: Mesh) -> list[IntArray]:
    """Ordered closed boundary loops of a planar mesh.

    Parameters
    ----------
    mesh : 2D mesh (triangles, quads or their quadratic variants; points (N, 2),
        or (N, 3) with constant z).

    Returns
    -------
    list of (L_i,) int64 node-index arrays. Each is a closed walk: its last node
    connects back to its first, which is not repeated. The outer loop (largest
    enclosed area) comes first and runs counter-clockwise; holes follow and run
    clockwise (domain on the left). Every loop starts at its node of smallest x,
    then smallest y. Loops after the first are ordered by their start (x, then y).
    Empty list for a mesh without boundary.

    Raises
    ------
    MorphingError
        If the boundary is not a union of simple closed curves (a node with more
        than two boundary edges; the message names the node), or the mesh is not 2D.

    Examples
    --------
    >>> pts = np.array([[0., 0.], [1., 0.], [1., 1.], [0., 1.]])
    >>> m = Mesh(pts, [CellBlock("triangle", np.array([[0, 1, 2], [0, 2, 3]]))])
    >>> [loop.tolist() for loop in boundary_loops(m)]
    [[0, 1, 2, 3]]
    """
    pts = planar_points(mesh)
    edges = boundary_edges(mesh)
    if len(edges) == 0:
        return []
    _check_manifold(edges, pts)
    nodes = np.unique(edges[:, 0])
    local = np.full(mesh.n_points, -1, np.int64)
    local[nodes] = np.arange(len(nodes))
    succ = np.empty(len(nodes), np.int64)
    succ[local[edges[:, 0]]] = local[edges[:, 1]]
    labels = _loop_labels(succ)
    xy = pts[nodes]
    # start of each loop: smallest x, then smallest y
    order = np.lexsort((xy[:, 1], xy[:, 0], labels))
    first = np.ones(len(order), bool)
    first[1:] = labels[order[1:]] != labels[order[:-1]]
    is_start = np.zeros(len(nodes), bool)
    is_start[order[first]] = True
    pos = _list_rank(succ, is_start)
    # signed areas per loop (shoelace over directed edges)
    nxt = xy[succ]
    area = 0.5 * np.bincount(labels, xy[:, 0] * nxt[:, 1] - nxt[:, 0] * xy[:, 1])
    walk = np.lexsort((pos, labels))
    counts = np.bincount(labels)
    loops = np.split(nodes[walk], np.cumsum(counts)[:-1])
    starts = xy[order[first]]  # one per label, in label order
    outer = int(np.argmax(area))
    rest = [i for i in np.lexsort((starts[:, 1], starts[:, 0])) if i != outer]
    return [loops[outer]] + [loops[i] for i in rest]


def loop_signed_areas(points: FloatArray, loops: list[IntArray]) -> FloatArray:
    """Signed area enclosed by each loop (positive counter-clockwise).

    Parameters
    ----------
    points : (N, 2) or (N, 3) node coordinates (only x, y are used), length unit L.
    loops : node-index arrays of closed walks, as from :func:`boundary_loops`.

    Returns
    -------
    (n_loops,) float64 signed areas, unit L^2.
    """
    out = np.empty(len(loops))
    for i, loop in enumerate(loops):  # loop over loops (a handful), not nodes
        p = points[loop, :2]
        q = np.roll(p, -1, axis=0)
        out[i] = 0.5 * np.sum(p[:, 0] * q[:, 1] - q[:, 0] * p[:, 1])
    return out


def loop_arc_length(points: FloatArray, loop: IntArray) -> FloatArray:
    """Normalised arc-length parameter of each loop node, from the loop's start.

    Parameters
    ----------
    points : (N, dim) node coordinates.
    loop : (L,) node indices of a closed walk.

    Returns
    -------
    (L,) float64 in [0, 1): cumulative length up to each node divided by the
    total length of the closed loop (closing segment included).

    Raises
    ------
    MorphingError
        If the loop has zero length (all its nodes coincide).
    """
    p = points[loop]
    seg = np.linalg.norm(np.roll(p, -1, axis=0) - p, axis=1)
    total = float(seg.sum())
    if not total > 0.0:
        raise MorphingError(f"boundary loop starting at node {int(loop[0])} has zero length")
    s = np.concatenate([[0.0], np.cumsum(seg[:-1])])
    return s / total


__all__ = [
    "boundary_edges",
    "boundary_facet_table",
    "boundary_facets",
    "boundary_loops",
    "boundary_nodes",
    "facets_used_once",
    "loop_arc_length",
    "loop_signed_areas",
    "planar_points",
    "unique_rows",
]
