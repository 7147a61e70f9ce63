"""L2 recovery of quadrature values to nodes, von Mises, the package's public API."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from test_skfem_mesh import _disk, structured

from physics.recovery import project_to_nodes, von_mises
from physics.skfem_mesh import FEMesh


@pytest.mark.parametrize("kind,order", [("triangle", 1), ("quad", 2), ("tetra", 2),
                                        ("hexahedron", 1)])
def test_projection_reproduces_linear_fields(kind, order):
    m = structured(kind, 3)
    fe = FEMesh.from_mesh(m)
    b = fe.basis(order, vector=True)
    x = np.asarray(b.global_coordinates())
    out = project_to_nodes(fe, b, {"f": 1.0 + 2.0 * x[0] - x[1], "c": np.full(x.shape[1:], 7.0)})
    assert np.allclose(out["f"], 1.0 + 2.0 * m.points[:, 0] - m.points[:, 1])
    assert np.allclose(out["c"], 7.0)


def test_projection_on_curved_mesh_is_quadratic_exact():
    m = _disk(2)
    fe = FEMesh.from_mesh(m)
    b = fe.basis(2)
    x = np.asarray(b.global_coordinates())
    out = project_to_nodes(fe, b, {"q": x[0] ** 2 + x[0] * x[1]})
    # quadratic in the reference coordinates only; close to exact in x on a fine mesh
    assert np.abs(out["q"] - (m.points[:, 0] ** 2 + m.points[:, 0] * m.points[:, 1])).max() < 1e-3


def test_projection_shape_error():
    fe = FEMesh.from_mesh(structured("triangle", 2))
    b = fe.basis(1)
    with pytest.raises(ValueError, match="'s' must have shape"):
        project_to_nodes(fe, b, {"s": np.zeros(3)})


def test_von_mises_invariants():
    rng = np.random.default_rng(0)
    s = rng.normal(size=6)
    S = np.array([[s[0], s[3], s[5]], [s[3], s[1], s[4]], [s[5], s[4], s[2]]])
    dev = S - np.trace(S) / 3 * np.eye(3)
    assert np.isclose(von_mises(*s), np.sqrt(1.5 * (dev * dev).sum()))
    assert np.isclose(von_mises(s[0] + 5, s[1] + 5, s[2] + 5, *s[3:]), von_mises(*s))


def test_public_api_is_lazy():
    code = ("import sys, physics; assert 'skfem' not in sys.modules; "
            "assert 'gmsh' not in sys.modules; physics.solve_elasticity; "
            "assert 'skfem' in sys.modules and 'gmsh' not in sys.modules; "
            "assert {'solve', 'write_result', 'forms', 'mesh_from_gmsh_model'} <= set(dir(physics))")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(__import__("pathlib").Path(
        __file__).resolve().parents[2]))
