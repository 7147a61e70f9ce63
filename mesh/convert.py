"""Lossless conversion between :class:`mesh.Mesh`, ``meshio.Mesh`` and pyvista.

pyvista has no notion of cell blocks, 2D points or named groups, so
:func:`to_pyvista` records them in the grid (field data ``_mesh_dim`` and
``_block_sizes``, integer cell arrays ``cellset:NAME``, point arrays
``pointset:NAME``) and :func:`from_pyvista` restores them. A grid that did not
come from here converts too, with one block per run of equal cell types.
"""
from __future__ import annotations

import numpy as np

from .celltypes import CELL_TYPES, VTK_TO_NAME, cell_type
from .core import CellBlock, Mesh
from .errors import MeshError

_CELLSET = "cellset:"
_VTK_ALIASES = {11: [0, 1, 3, 2, 4, 5, 7, 6], 8: [0, 1, 3, 2]}  # VTK_VOXEL, VTK_PIXEL
_POINTSET = "pointset:"


def from_meshio(m) -> Mesh:
    """Build a :class:`Mesh` from a ``meshio.Mesh``.

    Parameters
    ----------
    m : meshio.Mesh. Points of shape (N, 3) whose last column is all zero are
        kept 3D (call :func:`mesh.io.read` with ``dim=2`` to drop it).

    Returns
    -------
    Mesh with the same blocks, data and sets (``cell_sets`` entries of None become
    empty arrays).
    """
    blocks = []
    for b in m.cells:
        if b.type not in CELL_TYPES:
            raise MeshError(f"unsupported cell type '{b.type}'; supported: {', '.join(CELL_TYPES)}")
        blocks.append(CellBlock(b.type, np.asarray(b.data)))
    cell_sets = {}
    for name, per_block in (m.cell_sets or {}).items():
        cell_sets[name] = [np.zeros(0, np.int64) if a is None else np.asarray(a) for a in per_block]
    field_data = dict(m.field_data or {})
    return Mesh(
        np.asarray(m.points),
        tuple(blocks),
        {k: np.asarray(v) for k, v in m.point_data.items()},
        {k: [np.asarray(a) for a in v] for k, v in m.cell_data.items()},
        field_data,
        {k: np.asarray(v) for k, v in (m.point_sets or {}).items()},
        cell_sets,
    )


def with_gmsh_groups(mesh: Mesh, m) -> Mesh:
    """``mesh`` with cell sets made from the Gmsh physical tags of the meshio mesh ``m``.

    Gmsh name/tag pairs are removed from the field data once they became groups.
    """
    field_data = dict(mesh.field_data)
    sets = _gmsh_groups(m, list(mesh.cells), field_data)
    for name in sets:
        field_data.pop(name, None)
    return Mesh(mesh.points, mesh.cells, mesh.point_data, mesh.cell_data, field_data,
                mesh.point_sets, {**sets, **mesh.cell_sets})


def _gmsh_groups(m, blocks: list[CellBlock], field_data: dict) -> dict[str, list[np.ndarray]]:
    """Cell sets from Gmsh physical tags: named after ``$PhysicalNames`` where present.

    meshio stores the names as ``field_data[name] = [tag, dim]`` and each cell's
    tag in ``cell_data["gmsh:physical"]``; unnamed tags become ``physical_<tag>``.
    """
    tags = [np.asarray(a).ravel() for a in m.cell_data["gmsh:physical"]]
    named = {}
    for name, v in field_data.items():
        v = np.asarray(v).ravel()
        if v.size == 2 and np.issubdtype(v.dtype, np.integer):
            named[(int(v[0]), int(v[1]))] = name
    out: dict[str, list[np.ndarray]] = {}
    seen = {(int(t), b.info.dim) for b, tb in zip(blocks, tags) for t in np.unique(tb)}
    for tag, dim in sorted(seen):
        name = named.get((tag, dim), f"physical_{tag}" if (tag, dim) not in named else None)
        if name in out:  # same tag number used in two dimensions, unnamed
            name = f"physical_{tag}_{dim}d"
        out[name] = [np.flatnonzero(tb == tag) if b.info.dim == dim else np.zeros(0, np.int64)
                     for b, tb in zip(blocks, tags)]
    return out


def to_meshio(mesh: Mesh):
    """Convert to a ``meshio.Mesh`` with the same blocks, data and sets."""
    import meshio

    return meshio.Mesh(
        mesh.points,
        [(b.type, b.data) for b in mesh.cells],
        point_data=dict(mesh.point_data),
        cell_data={k: list(v) for k, v in mesh.cell_data.items()},
        field_data=dict(mesh.field_data),
        point_sets=dict(mesh.point_sets),
        cell_sets={k: list(v) for k, v in mesh.cell_sets.items()},
    )


def to_pyvista(mesh: Mesh):
    """Convert to a ``pyvista.UnstructuredGrid`` that :func:`from_pyvista` inverts exactly.

    2D points are padded with z = 0. Cell data blocks are concatenated in block order.
    """
    import pyvista as pv

    pts = mesh.points
    if mesh.dim < 3:
        pts = np.hstack([pts, np.zeros((mesh.n_points, 3 - mesh.dim))])
    flat, types = [], []
    for b in mesh.cells:
        k = b.info.n_nodes
        flat.append(np.hstack([np.full((len(b), 1), k, np.int64), b.data]).ravel())
        types.append(np.full(len(b), b.info.vtk_id, np.uint8))
    cells = np.concatenate(flat) if flat else np.zeros(0, np.int64)
    celltypes = np.concatenate(types) if types else np.zeros(0, np.uint8)
    grid = pv.UnstructuredGrid(cells, celltypes, pts)
    for k, v in mesh.point_data.items():
        grid.point_data[k] = v
    for k, v in mesh.cell_data.items():
        grid.cell_data[k] = np.concatenate(v)
    offsets = np.cumsum([0] + [len(b) for b in mesh.cells])
    for k, per_block in mesh.cell_sets.items():
        mask = np.zeros(mesh.n_cells, np.uint8)
        for off, idx in zip(offsets, per_block):
            mask[off + idx] = 1
        grid.cell_data[_CELLSET + k] = mask
    for k, idx in mesh.point_sets.items():
        mask = np.zeros(mesh.n_points, np.uint8)
        mask[idx] = 1
        grid.point_data[_POINTSET + k] = mask
    grid.field_data["_mesh_dim"] = np.array([mesh.dim])
    grid.field_data["_block_sizes"] = np.array([len(b) for b in mesh.cells], np.int64)
    for k, v in mesh.field_data.items():
        grid.field_data[k] = np.atleast_1d(np.asarray(v))
    return grid


def from_pyvista(grid) -> Mesh:
    """Build a :class:`Mesh` from a pyvista dataset (any type castable to UnstructuredGrid).

    Raises
    ------
    MeshError
        For cell types without a fixed node count (polygons, polyhedra) or unknown VTK ids.
    """
    import pyvista as pv

    if not isinstance(grid, pv.UnstructuredGrid):
        grid = grid.cast_to_unstructured_grid()
    fd = grid.field_data
    dim = int(fd["_mesh_dim"][0]) if "_mesh_dim" in fd else 3
    pts = np.asarray(grid.points, dtype=np.float64)[:, :dim]
    ctypes = np.asarray(grid.celltypes)
    conn = np.asarray(grid.cell_connectivity, dtype=np.int64)
    offs = np.asarray(grid.cell_offsets, dtype=np.int64)
    if "_block_sizes" in fd:
        sizes = np.asarray(fd["_block_sizes"], np.int64)
    else:
        change = np.flatnonzero(np.diff(ctypes)) + 1
        bounds = np.concatenate([[0], change, [len(ctypes)]])
        sizes = np.diff(bounds)
    blocks, start = [], 0
    conn = conn.copy()
    for vtk_id, perm in _VTK_ALIASES.items():  # voxels and pixels: hexahedra and quads, renumbered
        which = np.flatnonzero(ctypes == vtk_id)
        if len(which):
            k = len(perm)
            rows = offs[which][:, None] + np.arange(k)
            conn[rows] = conn[rows][:, perm]
            ctypes = ctypes.copy()
            ctypes[which] = 12 if k == 8 else 9
    for n in sizes:
        n = int(n)
        vtk = int(ctypes[start]) if n else 0
        if n and vtk not in VTK_TO_NAME:
            raise MeshError(f"VTK cell type {vtk} (polygon/polyhedron or unknown) is not supported")
        if n:
            name = VTK_TO_NAME[vtk]
            k = cell_type(name).n_nodes
            data = conn[offs[start]: offs[start + n]].reshape(n, k)
            blocks.append(CellBlock(name, data))
        start += n
    offsets = np.cumsum([0] + [len(b) for b in blocks])
    point_data, point_sets, cell_data, cell_sets = {}, {}, {}, {}
    for k in grid.point_data.keys():
        v = np.asarray(grid.point_data[k])
        if k.startswith(_POINTSET):
            point_sets[k[len(_POINTSET):]] = np.flatnonzero(v)
        else:
            point_data[k] = v
    for k in grid.cell_data.keys():
        v = np.asarray(grid.cell_data[k])
        if k.startswith(_CELLSET):
            cell_sets[k[len(_CELLSET):]] = [
                np.flatnonzero(v[a:b]) for a, b in zip(offsets[:-1], offsets[1:])
            ]
        elif k != "vtkOriginalCellIds":
            cell_data[k] = [v[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
    field_data = {k: np.asarray(fd[k]) for k in fd.keys() if k not in ("_mesh_dim", "_block_sizes")}
    return Mesh(pts, tuple(blocks), point_data, cell_data, field_data, point_sets, cell_sets)
