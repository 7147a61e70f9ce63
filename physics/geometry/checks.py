"""Validity checks of generated meshes: orientation, Jacobians, groups, sizes.

The geometry families run :func:`oriented` then :func:`check_mesh` on every
mesh they return; a failure raises :class:`MeshCheckError`, which the families
treat as a failed draw and retry with a new random shape.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from mesh import CellBlock, Mesh
from mesh.types import FloatArray, IntArray

__all__ = [
    "MeshCheckError",
    "jacobian_determinants",
    "cell_measures",
    "oriented",
    "boundary_loops",
    "check_mesh",
]


class MeshCheckError(RuntimeError):
    """A generated mesh failed a validity check (the message says which and where)."""


# Barycentric edge pairs of the mid-side nodes, meshio/VTK order.
_MID_EDGES = {
    "triangle6": ((0, 1), (1, 2), (2, 0)),
    "tetra10": ((0, 1), (1, 2), (2, 0), (0, 3), (1, 3), (2, 3)),
}
_SIMPLEX_DIM = {"triangle": 2, "triangle6": 2, "tetra": 3, "tetra10": 3}
# Node permutation that reverses the orientation of a cell (swap corners 1 and 2).
_FLIP = {
    "triangle": [0, 2, 1],
    "triangle6": [0, 2, 1, 5, 4, 3],
    "tetra": [0, 2, 1, 3],
    "tetra10": [0, 2, 1, 3, 6, 5, 4, 7, 9, 8],
}


def _reference_nodes(cell: str) -> FloatArray:
    """Barycentric coordinates of the nodes of a simplex cell: (k, dim + 1)."""
    d = _SIMPLEX_DIM[cell]
    corners = np.eye(d + 1)
    mids = [0.5 * (corners[a] + corners[b]) for a, b in _MID_EDGES.get(cell, ())]
    return np.vstack([corners, *mids]) if mids else corners


def _shape_gradients(cell: str, lam: FloatArray) -> FloatArray:
    """Gradients of the nodal shape functions w.r.t. the barycentric coordinates.

    Parameters
    ----------
    lam : (G, d + 1) evaluation points in barycentric coordinates.

    Returns
    -------
    (G, k, d + 1) dN_i / dlambda_j.
    """
    g, nb = lam.shape
    if cell in ("triangle", "tetra"):
        return np.broadcast_to(np.eye(nb), (g, nb, nb)).copy()
    edges = _MID_EDGES[cell]
    out = np.zeros((g, nb + len(edges), nb))
    for i in range(nb):  # corners: lambda_i (2 lambda_i - 1)
        out[:, i, i] = 4.0 * lam[:, i] - 1.0
    for m, (a, b) in enumerate(edges):  # mid-side: 4 lambda_a lambda_b
        out[:, nb + m, a] = 4.0 * lam[:, b]
        out[:, nb + m, b] = 4.0 * lam[:, a]
    return out


def jacobian_determinants(points: FloatArray, block: CellBlock) -> FloatArray:
    """Signed Jacobian determinants of simplex cells at their nodes and centroid.

    For linear cells the determinant is constant (twice the signed area of a
    triangle, six times the signed volume of a tetrahedron); for quadratic cells
    it is evaluated at every node and at the centroid, which detects inverted
    curved cells in practice.

    Parameters
    ----------
    points : (N, d) node coordinates, d = 2 for triangles, 3 for tetrahedra.
    block : a block of type triangle, triangle6, tetra or tetra10.

    Returns
    -------
    (C, G) determinants (length unit to the power d), G evaluation points per cell.

    Raises
    ------
    ValueError
        For another cell type or a point dimension that does not match.
    """
    if block.type not in _SIMPLEX_DIM:
        raise ValueError(
            f"Jacobians are implemented for {sorted(_SIMPLEX_DIM)}; got '{block.type}'"
        )
    d = _SIMPLEX_DIM[block.type]
    if points.shape[1] != d:
        raise ValueError(f"'{block.type}' cells need (N, {d}) points; got {points.shape}")
    lam = _reference_nodes(block.type)
    lam = np.vstack([lam, np.full((1, d + 1), 1.0 / (d + 1))])
    dlam = _shape_gradients(block.type, lam)  # (G, k, d+1)
    # reference coordinates xi_j = lambda_{j+1}; dlambda_0/dxi_j = -1.
    dxi = dlam[:, :, 1:] - dlam[:, :, :1]  # (G, k, d)
    x = points[block.data]  # (C, k, d)
    jac = np.einsum("cki,gkj->cgij", x, dxi)  # (C, G, d, d)
    return np.linalg.det(jac)


def cell_measures(mesh: Mesh) -> FloatArray:
    """Signed areas (2D) or volumes (3D) of the volume cells, all blocks stacked.

    Parameters
    ----------
    mesh : mesh with simplex volume cells (triangle, triangle6, tetra, tetra10).

    Returns
    -------
    (C,) signed measures of the straight-sided cells (corners only), in length
    unit squared or cubed; positive when counter-clockwise (2D) or right-handed (3D).
    """
    out = []
    for b in mesh.volume_blocks():
        d = _SIMPLEX_DIM[b.type]
        corners = CellBlock("triangle" if d == 2 else "tetra", b.data[:, : d + 1])
        out.append(jacobian_determinants(mesh.points, corners)[:, 0] / (2.0 if d == 2 else 6.0))
    return np.concatenate(out) if out else np.zeros(0)


def oriented(mesh: Mesh) -> Mesh:
    """A mesh whose simplex volume cells all have a positive orientation.

    Triangles become counter-clockwise and tetrahedra right-handed; quadratic
    cells are permuted consistently (mid-side nodes follow their edges). Facet
    cells and named groups are kept as they are.

    Parameters
    ----------
    mesh : 2D mesh of triangles/triangle6 or 3D mesh of tetra/tetra10.

    Returns
    -------
    Mesh, a new mesh (the input is not modified).
    """
    blocks = []
    tdim = mesh.topological_dim
    for b in mesh.cells:
        if b.info.dim == tdim and b.type in _FLIP:
            d = _SIMPLEX_DIM[b.type]
            corners = CellBlock("triangle" if d == 2 else "tetra", b.data[:, : d + 1])
            neg = jacobian_determinants(mesh.points, corners)[:, 0] < 0
            data = b.data.copy()
            data[neg] = data[neg][:, _FLIP[b.type]]
            blocks.append(CellBlock(b.type, data))
        else:
            blocks.append(b)
    return Mesh(mesh.points, tuple(blocks), dict(mesh.point_data), dict(mesh.cell_data),
                dict(mesh.field_data), dict(mesh.point_sets), dict(mesh.cell_sets))


def boundary_loops(mesh: Mesh, group: str | None = None) -> int:
    """Number of connected components of the boundary edges of a 2D mesh.

    Boundary edges are the corner-to-corner edges of the volume cells that
    belong to exactly one cell; each closed boundary curve is one component.

    Parameters
    ----------
    mesh : 2D mesh of triangles or triangle6.
    group : ignored when None; otherwise count the components of this facet group
        (its line cells) instead of the whole boundary.

    Returns
    -------
    int, the number of connected boundary curves.
    """
    if group is not None:
        edges = np.concatenate([b.data[:, :2] for b in mesh.group_cells(group)])
    else:
        tri = np.concatenate([b.data[:, :3] for b in mesh.volume_blocks()])
        all_edges = np.sort(np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]]), 1)
        uniq, counts = np.unique(all_edges, axis=0, return_counts=True)
        edges = uniq[counts == 1]
    if len(edges) == 0:
        return 0
    nodes, inv = np.unique(edges, return_inverse=True)
    inv = inv.reshape(-1, 2)
    n = len(nodes)
    adj = coo_matrix((np.ones(len(inv)), (inv[:, 0], inv[:, 1])), shape=(n, n))
    return int(connected_components(adj, directed=False)[0])


def check_mesh(
    mesh: Mesh,
    groups: Iterable[str],
    n_points_range: tuple[int, int] | None = None,
    n_loops: int | None = None,
    min_relative_measure: float = 1e-10,
) -> None:
    """Raise :class:`MeshCheckError` unless ``mesh`` is valid for the geometry families.

    Checks, in order: every named group exists and is non-empty; every volume
    cell has a positive Jacobian determinant at its nodes and centroid (after
    :func:`oriented`), larger than ``min_relative_measure`` times the mean; the
    number of corner nodes lies in ``n_points_range``; a 2D mesh has ``n_loops``
    boundary curves.

    Parameters
    ----------
    mesh : the generated mesh.
    groups : names of the groups that must be present and non-empty.
    n_points_range : inclusive (low, high) bound on the number of corner
        (vertex) nodes, or None to skip.
    n_loops : expected number of boundary curves (2D only), or None to skip.
    min_relative_measure : smallest allowed determinant relative to the mean.

    Raises
    ------
    MeshCheckError
        On the first failed check, saying which and with the numbers involved.
    """
    missing = [g for g in groups if g not in mesh.groups]
    if missing:
        raise MeshCheckError(f"groups {missing} missing; the mesh has {mesh.groups}")
    empty = [g for g in groups if len(mesh.group_nodes(g)) == 0]
    if empty:
        raise MeshCheckError(f"groups {empty} are empty")
    vol = list(mesh.volume_blocks())
    if not vol:
        raise MeshCheckError("the mesh has no volume cells")
    dets = [jacobian_determinants(mesh.points, b) for b in vol]
    mean = float(np.mean(np.concatenate([d[:, -1] for d in dets])))
    worst = min(float(d.min()) for d in dets)
    if not mean > 0 or worst <= min_relative_measure * mean:
        n_bad = sum(int((d.min(axis=1) <= min_relative_measure * mean).sum()) for d in dets)
        raise MeshCheckError(
            f"{n_bad} inverted or degenerate cells (smallest Jacobian {worst:.3e}, "
            f"mean {mean:.3e})"
        )
    corner = _corner_nodes(vol)
    if n_points_range is not None:
        lo, hi = n_points_range
        if not lo <= len(corner) <= hi:
            raise MeshCheckError(
                f"{len(corner)} vertex nodes, outside the expected range [{lo}, {hi}]"
            )
    if n_loops is not None and mesh.topological_dim == 2:
        got = boundary_loops(mesh)
        if got != n_loops:
            raise MeshCheckError(f"{got} boundary curves; expected {n_loops}")


def _corner_nodes(blocks: list[CellBlock]) -> IntArray:
    return np.unique(np.concatenate([b.data[:, : b.info.n_corners].ravel() for b in blocks]))
