"""Graphs from meshes: edges, both directions, features, boundary, against PyG and VTK."""
from __future__ import annotations

import numpy as np
import pytest

from mesh import CellBlock, Mesh, MeshError
from mesh.graph import to_graph, to_pyg, unique_edges
from mesh.io import read


def test_two_triangles_by_hand(two_triangles):
    g = to_graph(two_triangles)
    # edges 0-1, 1-2, 2-0, 2-3, 3-0 (the 'line' duplicates 0-1)
    assert unique_edges(two_triangles).tolist() == [[0, 1], [0, 2], [0, 3], [1, 2], [2, 3]]
    assert g.num_edges == 10
    assert g.degree.tolist() == [3, 2, 3, 2]
    assert g.boundary.all()
    src, dst = g.edge_index
    assert np.all(np.diff(dst) >= 0)  # sorted by target
    assert set(zip(src.tolist(), dst.tolist())) == {(a, b) for a, b in [(0, 1), (0, 2), (0, 3), (1, 2), (2, 3)]} | {
        (b, a) for a, b in [(0, 1), (0, 2), (0, 3), (1, 2), (2, 3)]}
    rel = two_triangles.points[dst] - two_triangles.points[src]
    assert np.allclose(g.edge_attr[:, :2], rel)
    assert np.allclose(g.edge_attr[:, 2], np.linalg.norm(rel, axis=1))
    assert g.csr_offsets.tolist() == [0, 3, 5, 8, 10]


def test_interior_node_is_not_boundary():
    # a square with a centre node: 4 triangles
    pts = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0.5, 0.5]], float)
    tri = np.array([[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]])
    g = to_graph(Mesh(pts, (CellBlock("triangle", tri),)))
    assert g.boundary.tolist() == [True, True, True, True, False]
    assert g.degree[4] == 4


def test_quadratic_triangle_uses_mid_nodes():
    pts = np.array([[0, 0], [1, 0], [0, 1], [0.5, 0], [0.5, 0.5], [0, 0.5]], float)
    m = Mesh(pts, (CellBlock("triangle6", np.array([[0, 1, 2, 3, 4, 5]])),))
    e = {tuple(x) for x in unique_edges(m).tolist()}
    assert e == {(0, 3), (1, 3), (1, 4), (2, 4), (2, 5), (0, 5)}
    assert to_graph(m).boundary.all()


def test_mixed_cells():
    pts = np.array([[0, 0], [1, 0], [2, 0], [0, 1], [1, 1]], float)
    m = Mesh(pts, (CellBlock("quad", np.array([[0, 1, 4, 3]])), CellBlock("triangle", np.array([[1, 2, 4]]))))
    e = {tuple(x) for x in unique_edges(m).tolist()}
    assert e == {(0, 1), (1, 4), (3, 4), (0, 3), (1, 2), (2, 4)}
    g = to_graph(m)
    assert g.boundary.all() and g.degree[1] == 3


def test_tet_box_boundary_is_the_cube_surface(tet_box_mesh):
    g = to_graph(tet_box_mesh)
    p = tet_box_mesh.points
    on_surface = np.any((p == 0) | (p == 1), axis=1)
    assert np.array_equal(g.boundary, on_surface)


def test_same_edges_as_pyg_face_to_edge(shared_data):
    import torch
    from torch_geometric.data import Data
    from torch_geometric.transforms import FaceToEdge

    m = read(shared_data / "meshes" / "mesh1.msh")
    tri = m.cells_of_type("triangle")
    ref = FaceToEdge()(Data(face=torch.from_numpy(tri.T.copy()), num_nodes=m.n_points)).edge_index
    mine = to_graph(Mesh(m.points, (CellBlock("triangle", tri),))).edge_index
    assert set(map(tuple, ref.T.tolist())) == set(map(tuple, mine.T.tolist()))


def test_same_edge_count_as_vtk(tet_box_mesh):
    grid = tet_box_mesh.to_pyvista()
    assert grid.extract_all_edges().n_cells == len(unique_edges(tet_box_mesh))


def test_hex27_graph_connects_every_node(shared_data):
    m = read(shared_data / "meshes" / "hexa.xdmf")
    g = to_graph(m)
    assert (g.degree > 0).all()
    assert g.boundary.sum() == 26  # all but the body centre


def test_to_pyg(two_triangles):
    import torch

    d = to_pyg(to_graph(two_triangles), x=np.ones((4, 2)))
    assert d.edge_index.dtype == torch.int64 and d.edge_index.shape == (2, 10)
    assert d.x.shape == (4, 2) and d.num_nodes == 4


def test_no_edges_is_an_error():
    with pytest.raises(MeshError, match="no edges"):
        to_graph(Mesh(np.zeros((2, 2)), (CellBlock("vertex", np.array([[0], [1]])),)))
