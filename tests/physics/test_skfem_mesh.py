"""Mesh -> scikit-fem conversion: boundaries, node <-> DOF maps, cell checks."""
from __future__ import annotations

import numpy as np
import pytest
import skfem

from mesh import CellBlock, Mesh
from mesh.errors import MeshError
from physics.errors import GroupError, InvertedCellsError
from physics.gmsh_mesh import gmsh_session, mesh_from_gmsh_model
from physics.skfem_mesh import FEMesh, check_cells, node_map, signed_measures, to_skfem

SKFEM_TO_VTK_HEX = [0, 3, 6, 2, 1, 5, 7, 4]
FACET_TYPE = {2: "line", 3: "triangle", 4: "quad"}


def structured(kind: str, n: int = 3) -> Mesh:
    """Unit square/cube of ``kind`` cells with side groups xmin, xmax, ymin, ymax[, zmin, zmax]."""
    cls = {"triangle": skfem.MeshTri, "quad": skfem.MeshQuad, "tetra": skfem.MeshTet,
           "hexahedron": skfem.MeshHex}[kind]
    dim = 2 if kind in ("triangle", "quad") else 3
    sk = cls.init_tensor(*[np.linspace(0, 1, n + 1)] * dim)
    t = sk.t.T[:, SKFEM_TO_VTK_HEX] if kind == "hexahedron" else sk.t.T.copy()
    if kind in ("triangle", "tetra"):  # skfem sorts simplex nodes: orient them all positively
        neg = signed_measures(Mesh(sk.p.T, [CellBlock(kind, t)]))[0][:, 0] < 0
        t[neg, 1], t[neg, 2] = t[neg, 2], t[neg, 1].copy()
    blocks, sets = [CellBlock(kind, t)], {}
    for d, axis in enumerate("xyz"[:dim]):
        for side, val in (("min", 0.0), ("max", 1.0)):
            f = sk.facets_satisfying(lambda x, d=d, v=val: np.isclose(x[d], v))
            blocks.append(CellBlock(FACET_TYPE[sk.facets.shape[0]], sk.facets[:, f].T))
            sets[f"{axis}{side}"] = [np.zeros(0, np.int64)] * (len(blocks) - 1) + [np.arange(len(f))]
    sets = {k: v + [np.zeros(0, np.int64)] * (len(blocks) - len(v)) for k, v in sets.items()}
    return Mesh(sk.p.T, blocks, cell_sets=sets)


def _disk(order: int, quads: bool = False) -> Mesh:
    with gmsh_session() as gmsh:
        gmsh.model.occ.addDisk(0, 0, 0, 1, 1)
        gmsh.model.occ.synchronize()
        gmsh.model.addPhysicalGroup(1, [1], name="rim")
        gmsh.model.addPhysicalGroup(2, [1], name="disk")
        gmsh.option.setNumber("Mesh.MeshSizeMax", 0.3)
        if quads:
            gmsh.option.setNumber("Mesh.RecombineAll", 1)
        gmsh.model.mesh.generate(2)
        gmsh.model.mesh.setOrder(order)
        return mesh_from_gmsh_model(2)


@pytest.mark.parametrize("kind", ["triangle", "quad", "tetra", "hexahedron"])
def test_boundaries_match_sides(kind):
    m = structured(kind, 3)
    fe = FEMesh.from_mesh(m)
    sk = fe.skmesh
    assert fe.boundary_groups == sorted(m.cell_sets)
    for name in m.cell_sets:
        d, v = "xyz".index(name[0]), 0.0 if name.endswith("min") else 1.0
        f = fe.facets(name)
        assert len(f) == 3 ** (fe.dim - 1) * (2 if kind in ("triangle", "tetra") and fe.dim == 3 else 1)
        assert np.allclose(sk.p[d, sk.facets[:, f]], v)
    # untwisted cells (constant Jacobian): the hexahedra were reordered correctly
    basis = skfem.Basis(sk, fe.element(1))
    assert np.isclose(basis.dx.sum(), 1.0)
    det = np.abs(basis.mapping.detDF(basis.X))
    assert np.allclose(det, det.flat[0])


def test_group_error_lists_groups():
    fe = FEMesh.from_mesh(structured("triangle"))
    with pytest.raises(GroupError, match="'left' is not in the mesh; groups: xmax, xmin, ymax, ymin"):
        fe.facets("left")


def test_non_facet_group_and_mixed_cells_raise():
    m = structured("triangle", 2)
    bad = Mesh(m.points, [*m.cells, CellBlock("line", np.array([[0, 8]]))],
               cell_sets={"diag": [np.zeros(0, np.int64)] * len(m.cells) + [np.array([0])]})
    with pytest.raises(MeshError, match="group 'diag'"):
        to_skfem(bad)
    q = structured("quad", 2)
    mixed = Mesh(m.points, [m.cells[0], q.cells[0]])
    with pytest.raises(MeshError, match="one volume cell type"):
        to_skfem(mixed)


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("kind", ["triangle", "quad", "tetra", "hexahedron"])
def test_nodal_round_trip_straight(kind, order):
    m = structured(kind, 2)
    fe = FEMesh.from_mesh(m)
    b = fe.basis(order)
    f = m.points @ np.arange(1.0, m.dim + 1) + 0.5  # linear: exact in every basis
    x = fe.from_nodes(b, f)
    assert np.allclose(b.doflocs.T @ np.arange(1.0, m.dim + 1) + 0.5, x)
    assert np.allclose(fe.to_nodes(b, x), f)
    vb = fe.basis(order, vector=True)
    u = np.zeros(vb.N)
    for c in range(fe.dim):
        u[c::fe.dim] = x * (c + 1)
    assert np.allclose(fe.to_nodes(vb, u), f[:, None] * np.arange(1, fe.dim + 1))
    assert np.array_equal(node_map(m), np.arange(m.n_points))


@pytest.mark.parametrize("quads", [False, True])
def test_curved_quadratic_mesh_maps_every_node(quads):
    m = _disk(2, quads)
    fe = FEMesh.from_mesh(m)
    assert fe.curved and fe.cell_type == ("quad9" if quads else "triangle6")
    b = fe.basis(2)
    n2d = fe.node_to_dof(b)
    assert (n2d >= 0).all() and len(np.unique(n2d)) == m.n_points == b.N
    assert np.allclose(b.doflocs.T[n2d], m.points)  # each node maps to the DOF at its place
    # curved boundary: the disk area is pi to high accuracy (straight P1: 3.04)
    assert abs(b.dx.sum() - np.pi) < 1e-4
    f = np.sin(m.points[:, 0]) * m.points[:, 1]
    assert np.allclose(fe.to_nodes(b, fe.from_nodes(b, f)), f)


def test_p1_on_quadratic_mesh_fills_midside_nodes():
    m = _disk(2)
    fe = FEMesh.from_mesh(m, curved=False)
    b = fe.basis(1)
    f = 2.0 * m.points[:, 0] - m.points[:, 1]
    out = fe.to_nodes(b, fe.from_nodes(b, f))
    t = m.cells_of_type("triangle6")
    assert np.allclose(out[t[:, :3]], f[t[:, :3]])
    for k, (a, c) in enumerate([(0, 1), (1, 2), (2, 0)]):  # mid nodes: mean of their edge's ends
        assert np.allclose(out[t[:, 3 + k]], 0.5 * (f[t[:, a]] + f[t[:, c]]))


def test_check_cells_orientation():
    m = structured("triangle", 2)
    check_cells(m)
    flipped = m.cells[0].data[:, ::-1]
    check_cells(Mesh(m.points, [CellBlock("triangle", flipped)]))  # all clockwise: fine
    mixed = m.cells[0].data.copy()
    mixed[3] = mixed[3, ::-1]
    with pytest.raises(InvertedCellsError, match="1 of the 8 'triangle' cells"):
        check_cells(Mesh(m.points, [CellBlock("triangle", mixed)]))
    h = structured("hexahedron", 2)
    assert (signed_measures(h)[0] > 0).all()
    pts = h.points.copy()
    pts[13] = [0.5, 0.5, 1.4]  # pull the centre node out of the top: folds cells
    with pytest.raises(InvertedCellsError, match="'hexahedron' cells"):
        check_cells(h.with_points(pts))
