"""gmsh model -> Mesh: cell types, node order, physical groups, threads."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from physics.errors import GmshError
from physics.gmsh_mesh import gmsh_session, mesh_from_gmsh_model


def _rectangle(quads: bool = False, order: int = 1):
    with gmsh_session() as gmsh:
        gmsh.model.occ.addRectangle(0, 0, 0, 2, 1)
        gmsh.model.occ.synchronize()
        groups: dict[str, list[int]] = {"bottom": [], "top": [], "sides": []}
        for _, c in gmsh.model.getEntities(1):
            y = gmsh.model.occ.getCenterOfMass(1, c)[1]
            groups["bottom" if abs(y) < 1e-9 else "top" if abs(y - 1) < 1e-9 else "sides"].append(c)
        for name, curves in groups.items():
            gmsh.model.addPhysicalGroup(1, curves, name=name)
        gmsh.model.addPhysicalGroup(2, [1], name="plate")
        gmsh.model.addPhysicalGroup(0, [1], name="origin")
        gmsh.option.setNumber("Mesh.MeshSizeMax", 0.25)
        if quads:
            gmsh.option.setNumber("Mesh.RecombineAll", 1)
        gmsh.model.mesh.generate(2)
        gmsh.model.mesh.setOrder(order)
        return mesh_from_gmsh_model(2)


@pytest.mark.parametrize("quads,order,vol,face", [
    (False, 1, "triangle", "line"), (False, 2, "triangle6", "line3"),
    (True, 1, "quad", "line"), (True, 2, "quad9", "line3"),
])
def test_rectangle_groups_and_types(quads, order, vol, face):
    m = _rectangle(quads, order)
    assert m.dim == 2 and m.points.shape[1] == 2
    assert m.cell_types == [vol, face]
    assert sorted(m.cell_sets) == ["bottom", "plate", "sides", "top"]
    assert np.allclose(m.points[m.group_nodes("bottom"), 1], 0.0)
    assert np.allclose(m.points[m.group_nodes("top"), 1], 1.0)
    assert set(np.unique(m.points[m.group_nodes("sides"), 0])) == {0.0, 2.0}
    assert np.allclose(m.points[m.point_sets["origin"]], [[0.0, 0.0]])
    # the region group holds every volume cell; every node is used
    assert len(m.cell_sets["plate"][0]) == len(m.cells[0])
    assert np.array_equal(np.unique(np.concatenate([b.data.ravel() for b in m.cells])),
                          np.arange(m.n_points))


def test_tetra10_and_hexahedron_node_order():
    with gmsh_session() as gmsh:
        gmsh.model.occ.addBox(0, 0, 0, 1, 2, 3)
        gmsh.model.occ.synchronize()
        gmsh.model.addPhysicalGroup(2, [1, 2], name="ends")
        gmsh.model.addPhysicalGroup(3, [1], name="solid")
        gmsh.option.setNumber("Mesh.MeshSizeMax", 0.6)
        gmsh.model.mesh.generate(3)
        gmsh.model.mesh.setOrder(2)
        m = mesh_from_gmsh_model(3)
    t = m.cells_of_type("tetra10")
    p = m.points
    edges = [(0, 1), (1, 2), (2, 0), (0, 3), (1, 3), (2, 3)]  # VTK mid-node order
    for k, (a, b) in enumerate(edges):
        assert np.allclose(p[t[:, 4 + k]], 0.5 * (p[t[:, a]] + p[t[:, b]]))
    assert m.cell_types == ["tetra10", "triangle6"]
    assert set(np.unique(p[m.group_nodes("ends"), 0])) == {0.0, 1.0}

    with gmsh_session() as gmsh:
        gmsh.model.occ.addBox(0, 0, 0, 1, 1, 1)
        gmsh.model.occ.synchronize()
        for _, c in gmsh.model.getEntities(1):
            gmsh.model.mesh.setTransfiniteCurve(c, 3)
        for _, s in gmsh.model.getEntities(2):
            gmsh.model.mesh.setTransfiniteSurface(s)
            gmsh.model.mesh.setRecombine(2, s)
        gmsh.model.mesh.setTransfiniteVolume(1)
        gmsh.model.addPhysicalGroup(3, [1], name="cube")
        gmsh.model.mesh.generate(3)
        m = mesh_from_gmsh_model(3)
    assert m.cell_types == ["hexahedron"] and len(m.cells[0]) == 8
    from physics.skfem_mesh import signed_measures

    assert (signed_measures(m)[0] > 0).all()  # VTK order: positive corner Jacobians


def test_unnamed_group_and_errors():
    with gmsh_session() as gmsh:
        gmsh.model.occ.addRectangle(0, 0, 0, 1, 1)
        gmsh.model.occ.synchronize()
        gmsh.model.addPhysicalGroup(1, [1], tag=7)
        with pytest.raises(GmshError, match="no elements of dimension 2"):
            mesh_from_gmsh_model(2)
        gmsh.model.mesh.generate(2)
        m = mesh_from_gmsh_model(2)
    assert "physical_1_7" in m.cell_sets


def test_line_mesh_boundary_vertices():
    with gmsh_session() as gmsh:
        a = gmsh.model.geo.addPoint(0, 0, 0, 0.01)
        b = gmsh.model.geo.addPoint(0.1, 0, 0, 0.01)
        ln = gmsh.model.geo.addLine(a, b)
        gmsh.model.geo.synchronize()
        gmsh.model.addPhysicalGroup(0, [a], name="x0")
        gmsh.model.addPhysicalGroup(0, [b], name="x1")
        gmsh.model.addPhysicalGroup(1, [ln], name="bar")
        gmsh.model.mesh.generate(1)
        m = mesh_from_gmsh_model(1)
    assert m.points.shape[1] == 1 and m.cell_types == ["line", "vertex"]
    assert np.allclose(m.points[m.group_nodes("x1")], 0.1)


def test_session_in_a_thread_finalises():
    out = {}

    def work():
        with gmsh_session() as gmsh:
            gmsh.model.occ.addDisk(0, 0, 0, 1, 1)
            gmsh.model.occ.synchronize()
            gmsh.model.mesh.generate(2)
            out["mesh"] = mesh_from_gmsh_model(2)

    th = threading.Thread(target=work)
    th.start()
    th.join()
    assert out["mesh"].n_points > 10
    import gmsh

    assert not gmsh.isInitialized()
