"""Quality checks report each problem by node and cell index."""
from __future__ import annotations

import numpy as np

from mesh import CellBlock, Mesh
from mesh.quality import cell_measures, check_quality


def test_clean_mesh_is_ok(two_triangles, tet_box_mesh):
    assert check_quality(two_triangles).ok
    r = check_quality(tet_box_mesh)
    assert r.ok, r.summary()
    assert np.isclose(cell_measures(tet_box_mesh)[0].sum(), 1.0)


def test_each_problem_is_found_where_it_is():
    pts = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [1, 0], [5, 5], [np.nan, 0], [2, 0], [3, 0]], float)
    tri = np.array([
        [0, 1, 2],   # 0 fine (ccw)
        [0, 2, 3],   # 1 fine
        [0, 3, 2],   # 2 inverted (cw), overlapping: edge 0-2 is shared by three cells
        [1, 7, 8],   # 3 degenerate (collinear)
        [1, 1, 2],   # 4 degenerate (repeated node)
        [6, 1, 2],   # 5 uses a NaN node; edge 1-2 is now in cells 0, 4 (twice) and 5
    ])
    r = check_quality(Mesh(pts, (CellBlock("triangle", tri),)))
    assert r.nonfinite_nodes.tolist() == [6]
    assert r.duplicate_nodes.tolist() == [[1, 4]]
    assert r.unused_nodes.tolist() == [4, 5]
    assert set(r.degenerate_cells.tolist()) == {3, 4, 5}
    assert r.inverted_cells.tolist() == [2]
    assert {tuple(x) for x in r.nonmanifold_facets.tolist()} == {(0, 2), (1, 2)}
    assert not r.ok and "inverted cells: 1" in r.summary()


def test_inverted_tetra_is_found(tet_box_mesh):
    t = tet_box_mesh.cells[0].data.copy()
    t[7] = t[7][[1, 0, 2, 3]]
    r = check_quality(Mesh(tet_box_mesh.points, (CellBlock("tetra", t),)))
    assert r.inverted_cells.tolist() == [7]
