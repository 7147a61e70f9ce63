"""Graphs from meshes: unique edges, both directions, edge features, boundary nodes.

Everything is vectorised over cells: the local edges of each cell type
(:mod:`mesh.celltypes`) are gathered for all cells at once, encoded as one
int64 key per node pair and deduplicated by a sort. No Python loop runs over cells.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .core import Mesh
from .errors import MeshError
from .types import BoolArray, FloatArray, IntArray


@dataclass(frozen=True, eq=False)
class MeshGraph:
    """A mesh as a graph.

    Attributes
    ----------
    edge_index : (2, E) int64, both directions of every mesh edge; row 0 the source
        node j, row 1 the target node i (PyG convention); sorted by target then
        source, so the edges into each node are contiguous (a CSR over incoming edges).
    edge_attr : (E, dim + 1) float64, ``[x_i - x_j, |x_i - x_j|]`` (target minus source,
        then length), in the mesh's length unit.
    boundary : (N,) bool, True on nodes of boundary facets (facets used by one cell).
    degree : (N,) int64, number of neighbours of each node.
    pos : (N, dim) float64 node coordinates.
    """

    edge_index: IntArray
    edge_attr: FloatArray
    boundary: BoolArray
    degree: IntArray
    pos: FloatArray

    @property
    def num_nodes(self) -> int:
        """Number of nodes N."""
        return int(self.pos.shape[0])

    @property
    def num_edges(self) -> int:
        """Number of directed edges E (twice the number of mesh edges)."""
        return int(self.edge_index.shape[1])

    @property
    def csr_offsets(self) -> IntArray:
        """(N + 1,) int64 offsets of each target node's incoming edges in ``edge_index``."""
        return np.concatenate([[0], np.cumsum(self.degree)])


def unique_edges(mesh: Mesh) -> IntArray:
    """Unique undirected edges of every cell of the mesh.

    Parameters
    ----------
    mesh : any mesh; quadratic cells contribute their sub-edges through mid-side
        nodes; vertex cells contribute nothing.

    Returns
    -------
    (M, 2) int64 node pairs with ``pairs[:, 0] < pairs[:, 1]``, sorted lexicographically.
    """
    n = mesh.n_points
    keys = []
    for b in mesh.cells:
        local = np.asarray(b.info.edges, dtype=np.int64)
        if not len(local) or not len(b):
            continue
        a = b.data[:, local[:, 0]].ravel()
        c = b.data[:, local[:, 1]].ravel()
        keys.append(np.minimum(a, c) * n + np.maximum(a, c))
    if not keys:
        return np.zeros((0, 2), np.int64)
    key = _unique_sorted(np.concatenate(keys) if len(keys) > 1 else keys[0])
    key = key[key // n != key % n]  # drop degenerate (collapsed) edges
    return np.stack([key // n, key % n], axis=1)


def _unique_sorted(key: IntArray) -> IntArray:
    """Sorted unique values of an int64 array (np.sort is far faster than np.unique here)."""
    key = np.sort(key)
    if len(key) == 0:
        return key
    keep = np.empty(len(key), dtype=bool)
    keep[0] = True
    np.not_equal(key[1:], key[:-1], out=keep[1:])
    return key[keep]


def edge_index_from_pairs(pairs: IntArray, n_nodes: int) -> IntArray:
    """Both directions of undirected ``pairs`` (M, 2), sorted by target then source: (2, 2M)."""
    lo, hi = pairs[:, 0], pairs[:, 1]
    # key = target * n + source, for both directions
    key = np.sort(np.concatenate([hi * n_nodes + lo, lo * n_nodes + hi]))
    return np.stack([key % n_nodes, key // n_nodes])


def facet_counts(mesh: Mesh) -> dict[int, tuple[IntArray, IntArray]]:
    """For each facet corner count, the unique facets (sorted corners) and how many cells share each."""
    out = {}
    for ncorner, (corner_sets, _full) in _facets_by_corner_count(mesh).items():
        rows = np.sort(corner_sets, axis=1)
        uniq_rows, inverse, counts = _count_rows(rows, mesh.n_points)
        out[ncorner] = (uniq_rows, counts)
    return out


def _facets_by_corner_count(mesh: Mesh) -> dict[int, tuple[IntArray, IntArray]]:
    """Corner and full-node facet arrays of the top-dimensional cells, by corner count."""
    tdim = mesh.topological_dim
    corners: dict[int, list[IntArray]] = {}
    fulls: dict[int, list[IntArray]] = {}
    width: dict[int, int] = {}
    for b in mesh.volume_blocks():
        if tdim == 0:
            break
        for facet, nc in zip(b.info.facets, b.info.facet_corners):
            f = np.asarray(facet)
            corners.setdefault(nc, []).append(b.data[:, f[:nc]])
            fulls.setdefault(nc, []).append(b.data[:, f])
            width[nc] = max(width.get(nc, 0), len(f))
    out = {}
    for nc in corners:
        full = [np.pad(a, ((0, 0), (0, width[nc] - a.shape[1])), constant_values=-1)
                if a.shape[1] < width[nc] else a for a in fulls[nc]]
        out[nc] = (np.concatenate(corners[nc]), np.concatenate(full))
    return out


def _count_rows(rows: IntArray, n: int) -> tuple[IntArray, IntArray, IntArray]:
    """Unique rows of a small-width int array, inverse indices and counts (via int64 keys)."""
    k = rows.shape[1]
    if n ** k < 2 ** 62:
        key = np.zeros(len(rows), np.int64)
        for j in range(k):
            key = key * n + rows[:, j]
        order = np.argsort(key, kind="stable")
        sk = key[order]
        start = np.empty(len(sk), bool)
        if len(sk):
            start[0] = True
            np.not_equal(sk[1:], sk[:-1], out=start[1:])
        group = np.cumsum(start) - 1
        inverse = np.empty(len(rows), np.int64)
        inverse[order] = group
        counts = np.bincount(group, minlength=int(group[-1]) + 1 if len(group) else 0)
        return rows[order[start]], inverse, counts
    uniq, inverse, counts = np.unique(rows, axis=0, return_inverse=True, return_counts=True)
    return uniq, inverse.ravel(), counts


def boundary_mask(mesh: Mesh) -> BoolArray:
    """(N,) bool mask of nodes on boundary facets (all facet nodes, mid-side ones included).

    Linear cells take a fast path (facets packed into one int64 key each and sorted);
    quadratic cells use :func:`mesh.boundary.boundary_nodes`.
    """
    n = mesh.n_points
    mask = np.zeros(n, dtype=bool)
    if not any(b.info.is_quadratic for b in mesh.volume_blocks()):
        # fast path: a facet is identified by its sorted corners, packed in one int64 key
        for ncorner, (corners, _full) in _facets_by_corner_count(mesh).items():
            if n ** ncorner >= 2 ** 62:
                break
            rows = np.sort(corners, axis=1)
            key = np.zeros(len(rows), np.int64)
            for j in range(ncorner):
                key = key * n + rows[:, j]
            key = np.sort(key)
            first = np.ones(len(key), bool)
            first[1:] = key[1:] != key[:-1]
            last = np.ones(len(key), bool)
            last[:-1] = first[1:]
            single = key[first & last]
            for _ in range(ncorner):
                mask[single % n] = True
                single = single // n
        else:
            return mask
        mask[:] = False
    from .boundary import boundary_nodes

    mask[boundary_nodes(mesh)] = True
    return mask


def to_graph(mesh: Mesh, *, boundary: bool = True) -> MeshGraph:
    """Build the graph of a mesh.

    Parameters
    ----------
    mesh : any mesh with cells.
    boundary : compute the boundary-node mask (costs one more sort over facets).

    Returns
    -------
    MeshGraph with edge_index (2, E), edge_attr (E, dim + 1), boundary (N,), degree (N,).

    Raises
    ------
    MeshError
        If the mesh has no edges (only vertex cells, or no cells).

    Examples
    --------
    >>> import numpy as np
    >>> from mesh import Mesh, CellBlock
    >>> m = Mesh(np.array([[0., 0.], [1., 0.], [0., 1.]]), [CellBlock("triangle", np.array([[0, 1, 2]]))])
    >>> to_graph(m).edge_index
    array([[1, 2, 0, 2, 0, 1],
           [0, 0, 1, 1, 2, 2]])
    """
    pairs = unique_edges(mesh)
    if len(pairs) == 0:
        raise MeshError(f"the mesh has no edges to build a graph from ({mesh!r})")
    n = mesh.n_points
    ei = edge_index_from_pairs(pairs, n)
    src, dst = ei
    rel = mesh.points[dst] - mesh.points[src]
    length = np.sqrt(np.einsum("ij,ij->i", rel, rel))
    attr = np.empty((len(src), mesh.dim + 1))
    attr[:, :-1] = rel
    attr[:, -1] = length
    degree = np.bincount(dst, minlength=n).astype(np.int64)
    bmask = boundary_mask(mesh) if boundary else np.zeros(n, bool)
    return MeshGraph(ei, attr, bmask, degree, mesh.points)


def to_pyg(graph: MeshGraph, **node_fields):
    """Convert to a ``torch_geometric.data.Data`` (float32 features, int64 indices).

    Parameters
    ----------
    graph : a MeshGraph.
    **node_fields : extra (N, ...) arrays stored as attributes (e.g. ``x=features``).

    Returns
    -------
    Data with ``edge_index``, ``edge_attr``, ``pos``, ``boundary``, ``degree`` and the extras.
    """
    import torch
    from torch_geometric.data import Data

    extras = {k: torch.as_tensor(np.asarray(v)) for k, v in node_fields.items()}
    return Data(
        edge_index=torch.from_numpy(graph.edge_index),
        edge_attr=torch.from_numpy(graph.edge_attr).float(),
        pos=torch.from_numpy(graph.pos).float(),
        boundary=torch.from_numpy(graph.boundary),
        degree=torch.from_numpy(graph.degree),
        num_nodes=graph.num_nodes,
        **extras,
    )
