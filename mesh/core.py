"""The ``Mesh`` data model: points, typed cell blocks, data and named groups.

A mesh is immutable in spirit: transforms return a new mesh named for the
result (``with_points``, ``with_point_data``), as scikit-fem's ``Mesh`` does.
Conversions to and from meshio and pyvista live in :mod:`mesh.convert`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

import numpy as np

from .celltypes import CellType, cell_type
from .errors import MeshError
from .types import FloatArray, IntArray


@dataclass(frozen=True, eq=False)
class CellBlock:
    """Cells of one type.

    Attributes
    ----------
    type : meshio cell type name, e.g. ``"triangle"`` or ``"tetra10"``.
    data : (C, k) int64 node indices, meshio/VTK node order.
    """

    type: str
    data: IntArray

    @property
    def info(self) -> CellType:
        """Static description of this block's cell type."""
        return cell_type(self.type)

    def __len__(self) -> int:
        return int(self.data.shape[0])


@dataclass(eq=False)
class Mesh:
    """An unstructured mesh with fields and named groups.

    Attributes
    ----------
    points : (N, dim) float64 node coordinates, dim 2 or 3, in the dataset's length unit.
    cells : cell blocks, in file order; several blocks may share a type.
    point_data : name -> (N,) or (N, c) array.
    cell_data : name -> one array per cell block, (C_b,) or (C_b, c).
    field_data : name -> global value (scalar, array or string), e.g. input scalars.
    point_sets : group name -> (M,) int64 node indices.
    cell_sets : group name -> one (M_b,) int64 array of cell indices per block.

    Raises
    ------
    MeshError
        On inconsistent shapes or node indices out of range.

    Examples
    --------
    >>> m = Mesh(np.array([[0., 0.], [1., 0.], [0., 1.]]), [CellBlock("triangle", np.array([[0, 1, 2]]))])
    >>> m.n_points, m.n_cells, m.dim, m.topological_dim
    (3, 1, 2, 2)
    """

    points: FloatArray
    cells: tuple[CellBlock, ...] = ()
    point_data: dict[str, np.ndarray] = field(default_factory=dict)
    cell_data: dict[str, list[np.ndarray]] = field(default_factory=dict)
    field_data: dict[str, Any] = field(default_factory=dict)
    point_sets: dict[str, IntArray] = field(default_factory=dict)
    cell_sets: dict[str, list[IntArray]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        pts = np.asarray(self.points)
        if pts.ndim != 2 or pts.shape[1] not in (1, 2, 3):
            raise MeshError(f"points must have shape (N, 2) or (N, 3); got {pts.shape}")
        if not np.issubdtype(pts.dtype, np.number):
            raise MeshError(f"points must be numeric; got dtype {pts.dtype}")
        self.points = np.ascontiguousarray(pts, dtype=np.float64)
        blocks = []
        for i, b in enumerate(self.cells):
            if not isinstance(b, CellBlock):
                b = CellBlock(*b)
            info = cell_type(b.type)
            data = np.asarray(b.data)
            if data.ndim != 2 or data.shape[1] != info.n_nodes:
                raise MeshError(
                    f"cell block {i} ('{b.type}') must have shape (C, {info.n_nodes}); "
                    f"got {data.shape}"
                )
            if data.size and not np.issubdtype(data.dtype, np.integer):
                raise MeshError(f"cell block {i} ('{b.type}') has non-integer dtype {data.dtype}")
            data = np.ascontiguousarray(data, dtype=np.int64)
            if data.size and (data.min() < 0 or data.max() >= len(pts)):
                bad = int(data.max()) if data.max() >= len(pts) else int(data.min())
                raise MeshError(
                    f"cell block {i} ('{b.type}') refers to node {bad}, but the mesh has "
                    f"{len(pts)} nodes"
                )
            blocks.append(CellBlock(b.type, data))
        self.cells = tuple(blocks)
        self._check_data()

    def _check_data(self) -> None:
        n = self.n_points
        for name, arr in self.point_data.items():
            arr = np.asarray(arr)
            if arr.shape[:1] != (n,):
                raise MeshError(
                    f"point field '{name}' has {arr.shape[0] if arr.ndim else 0} values, "
                    f"but the mesh has {n} nodes"
                )
            self.point_data[name] = arr
        for name, per_block in self.cell_data.items():
            if len(per_block) != len(self.cells):
                raise MeshError(
                    f"cell field '{name}' has {len(per_block)} blocks, but the mesh has "
                    f"{len(self.cells)} cell blocks"
                )
            arrs = [np.asarray(a) for a in per_block]
            for b, a in zip(self.cells, arrs):
                if a.shape[:1] != (len(b),):
                    raise MeshError(
                        f"cell field '{name}' has {a.shape[0] if a.ndim else 0} values for "
                        f"block '{b.type}' of {len(b)} cells"
                    )
            self.cell_data[name] = arrs
        for name, idx in self.point_sets.items():
            idx = np.asarray(idx, dtype=np.int64).ravel()
            if idx.size and (idx.min() < 0 or idx.max() >= n):
                raise MeshError(f"point set '{name}' refers to nodes outside 0..{n - 1}")
            self.point_sets[name] = idx
        for name, per_block in self.cell_sets.items():
            if len(per_block) != len(self.cells):
                raise MeshError(
                    f"cell set '{name}' has {len(per_block)} blocks, but the mesh has "
                    f"{len(self.cells)} cell blocks"
                )
            self.cell_sets[name] = [
                np.zeros(0, np.int64) if a is None else np.asarray(a, dtype=np.int64).ravel()
                for a in per_block
            ]

    # ----------------------------------------------------------------- sizes
    @property
    def n_points(self) -> int:
        """Number of nodes N."""
        return int(self.points.shape[0])

    @property
    def n_cells(self) -> int:
        """Total number of cells over all blocks."""
        return sum(len(b) for b in self.cells)

    @property
    def dim(self) -> int:
        """Spatial dimension (columns of ``points``)."""
        return int(self.points.shape[1])

    @property
    def topological_dim(self) -> int:
        """Largest cell dimension present (0 if there are no cells)."""
        return max((b.info.dim for b in self.cells), default=0)

    @property
    def cell_types(self) -> list[str]:
        """Distinct cell type names, in block order."""
        return list(dict.fromkeys(b.type for b in self.cells))

    def cells_of_type(self, name: str) -> IntArray:
        """Connectivity of every cell of type ``name``, all blocks stacked: (C, k) int64."""
        info = cell_type(name)
        parts = [b.data for b in self.cells if b.type == name]
        return np.concatenate(parts) if parts else np.zeros((0, info.n_nodes), np.int64)

    def volume_blocks(self) -> Iterator[CellBlock]:
        """Blocks whose dimension equals the mesh's topological dimension."""
        d = self.topological_dim
        return (b for b in self.cells if b.info.dim == d)

    # ---------------------------------------------------------------- groups
    @property
    def groups(self) -> list[str]:
        """Names of every named group (cell sets, then point sets)."""
        return list(dict.fromkeys([*self.cell_sets, *self.point_sets]))

    def group_nodes(self, name: str) -> IntArray:
        """Sorted unique node indices of group ``name``: (M,) int64.

        Raises
        ------
        KeyError
            If the group does not exist; the message lists the groups there are.
        """
        if name in self.point_sets:
            return np.unique(self.point_sets[name])
        if name in self.cell_sets:
            parts = [b.data[idx].ravel() for b, idx in zip(self.cells, self.cell_sets[name])]
            return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
        raise KeyError(
            f"no group named '{name}' in the mesh; groups: {', '.join(self.groups) or '(none)'}"
        )

    def group_cells(self, name: str) -> list[CellBlock]:
        """The cells of cell set ``name``, as one block per cell type present."""
        if name not in self.cell_sets:
            raise KeyError(
                f"no cell group named '{name}'; cell groups: "
                f"{', '.join(self.cell_sets) or '(none)'}"
            )
        out: dict[str, list[np.ndarray]] = {}
        for b, idx in zip(self.cells, self.cell_sets[name]):
            if len(idx):
                out.setdefault(b.type, []).append(b.data[idx])
        return [CellBlock(t, np.concatenate(v)) for t, v in out.items()]

    # ------------------------------------------------------------ transforms
    def copy(self) -> "Mesh":
        """Deep copy."""
        return Mesh(
            self.points.copy(),
            tuple(CellBlock(b.type, b.data.copy()) for b in self.cells),
            {k: v.copy() for k, v in self.point_data.items()},
            {k: [a.copy() for a in v] for k, v in self.cell_data.items()},
            dict(self.field_data),
            {k: v.copy() for k, v in self.point_sets.items()},
            {k: [a.copy() for a in v] for k, v in self.cell_sets.items()},
        )

    def with_points(self, points: FloatArray) -> "Mesh":
        """A mesh with the same topology and data on new coordinates ``points`` (N, dim)."""
        points = np.asarray(points, dtype=np.float64)
        if points.shape[0] != self.n_points:
            raise MeshError(f"new points have {points.shape[0]} rows; the mesh has {self.n_points} nodes")
        return Mesh(points, self.cells, dict(self.point_data), dict(self.cell_data),
                    dict(self.field_data), dict(self.point_sets), dict(self.cell_sets))

    def with_point_data(self, **fields: np.ndarray) -> "Mesh":
        """A mesh with extra or replaced point fields, each (N,) or (N, c)."""
        return Mesh(self.points, self.cells, {**self.point_data, **fields}, dict(self.cell_data),
                    dict(self.field_data), dict(self.point_sets), dict(self.cell_sets))

    def with_field_data(self, **values: Any) -> "Mesh":
        """A mesh with extra or replaced global values (scalars, small arrays, strings)."""
        return Mesh(self.points, self.cells, dict(self.point_data), dict(self.cell_data),
                    {**self.field_data, **values}, dict(self.point_sets), dict(self.cell_sets))

    def without_data(self) -> "Mesh":
        """The same geometry, topology and groups, with no point, cell or field data."""
        return Mesh(self.points, self.cells, {}, {}, {}, dict(self.point_sets),
                    dict(self.cell_sets))

    # ----------------------------------------------------------- conversions
    def to_meshio(self):
        """Convert to a ``meshio.Mesh`` (lossless; see :func:`mesh.convert.to_meshio`)."""
        from .convert import to_meshio

        return to_meshio(self)

    @classmethod
    def from_meshio(cls, m) -> "Mesh":
        """Build from a ``meshio.Mesh`` (see :func:`mesh.convert.from_meshio`)."""
        from .convert import from_meshio

        return from_meshio(m)

    def to_pyvista(self):
        """Convert to a ``pyvista.UnstructuredGrid`` (see :func:`mesh.convert.to_pyvista`)."""
        from .convert import to_pyvista

        return to_pyvista(self)

    @classmethod
    def from_pyvista(cls, grid) -> "Mesh":
        """Build from a pyvista dataset (see :func:`mesh.convert.from_pyvista`)."""
        from .convert import from_pyvista

        return from_pyvista(grid)

    def __repr__(self) -> str:
        blocks = ", ".join(f"{b.type}:{len(b)}" for b in self.cells)
        return (
            f"Mesh(n_points={self.n_points}, dim={self.dim}, cells=[{blocks}], "
            f"point_data={list(self.point_data)}, cell_data={list(self.cell_data)}, "
            f"groups={self.groups})"
        )


def equal(a: Mesh, b: Mesh, *, rtol: float = 0.0, atol: float = 0.0) -> bool:
    """True if two meshes have the same points, cells, data and groups (within tolerances)."""
    if a.points.shape != b.points.shape or not np.allclose(a.points, b.points, rtol=rtol, atol=atol):
        return False
    if [x.type for x in a.cells] != [x.type for x in b.cells]:
        return False
    if any(not np.array_equal(x.data, y.data) for x, y in zip(a.cells, b.cells)):
        return False

    def same(u: Mapping, v: Mapping) -> bool:
        if set(u) != set(v):
            return False
        for k in u:
            x, y = u[k], v[k]
            if isinstance(x, list):
                if len(x) != len(y) or any(not _arr_equal(p, q, rtol, atol) for p, q in zip(x, y)):
                    return False
            elif not _arr_equal(x, y, rtol, atol):
                return False
        return True

    return (same(a.point_data, b.point_data) and same(a.cell_data, b.cell_data)
            and same(a.point_sets, b.point_sets) and same(a.cell_sets, b.cell_sets))


def _arr_equal(x: Any, y: Any, rtol: float, atol: float) -> bool:
    x, y = np.asarray(x), np.asarray(y)
    if x.shape != y.shape:
        return False
    if np.issubdtype(x.dtype, np.number) and np.issubdtype(y.dtype, np.number):
        return bool(np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=True))
    return bool(np.array_equal(x, y))
