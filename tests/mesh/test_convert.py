"""Lossless conversion to and from meshio and pyvista."""
from __future__ import annotations

import numpy as np
import pytest

from mesh import CellBlock, Mesh, MeshError
from mesh.core import equal
from mesh.io import read


def _quadratic_mixed() -> Mesh:
    pts = np.random.default_rng(0).random((12, 3))
    cells = (CellBlock("tetra10", np.arange(10)[None]), CellBlock("triangle6", np.array([[0, 1, 2, 4, 5, 6]])),
             CellBlock("tetra10", np.arange(2, 12)[None]), CellBlock("line", np.array([[0, 1], [1, 2]])))
    return Mesh(pts, cells, point_data={"u": np.arange(36.0).reshape(12, 3)},
                cell_data={"c": [np.array([1.0]), np.array([2.0]), np.array([3.0]), np.array([4.0, 5.0])]},
                cell_sets={"edge": [np.zeros(0, np.int64)] * 3 + [np.array([1])]},
                point_sets={"corner": np.array([0, 3])})


@pytest.mark.parametrize("make", [_quadratic_mixed])
def test_meshio_roundtrip(make):
    m = make()
    assert equal(Mesh.from_meshio(m.to_meshio()), m)


def test_pyvista_roundtrip_mixed_quadratic_and_groups():
    m = _quadratic_mixed()
    grid = m.to_pyvista()
    assert grid.n_cells == 5 and grid.n_points == 12
    assert equal(Mesh.from_pyvista(grid), m)


def test_pyvista_roundtrip_2d_with_groups(shared_data):
    m = read(shared_data / "meshes" / "dent.msh")
    back = Mesh.from_pyvista(m.to_pyvista())
    assert back.dim == 2 and equal(back, m)


def test_foreign_pyvista_grid_is_split_into_blocks():
    import pyvista as pv

    grid = pv.ImageData(dimensions=(3, 3, 3)).cast_to_unstructured_grid()
    m = Mesh.from_pyvista(grid)
    assert [b.type for b in m.cells] == ["hexahedron"] and len(m.cells[0]) == 8


def test_bad_shapes_are_named():
    with pytest.raises(MeshError, match=r"shape \(C, 3\)"):
        Mesh(np.zeros((3, 2)), (CellBlock("triangle", np.array([[0, 1]])),))
    with pytest.raises(MeshError, match="refers to node 7"):
        Mesh(np.zeros((3, 2)), (CellBlock("triangle", np.array([[0, 1, 7]])),))
    with pytest.raises(MeshError, match="point field 'T' has 2 values"):
        Mesh(np.zeros((3, 2)), (CellBlock("triangle", np.array([[0, 1, 2]])),), point_data={"T": np.zeros(2)})
    with pytest.raises(MeshError, match="unsupported cell type 'polygon'"):
        Mesh(np.zeros((3, 2)), (CellBlock("polygon", np.array([[0, 1, 2]])),))
