"""Linear elasticity: patch tests on every element, loads, thermal strain, errors, rates."""
from __future__ import annotations

import numpy as np
import pytest
import skfem
from test_skfem_mesh import structured

from physics.elasticity import Displacement, ElasticCase, Pressure, Traction, solve_elasticity
from physics.errors import CaseError, GroupError, IllPosedError
from physics.fast_p1 import tet_p1_stiffness
from physics.forms import elasticity

E, NU = 200e9, 0.3
KINDS = ["triangle", "quad", "tetra", "hexahedron"]


def _rollers(dim: int) -> tuple[Displacement, ...]:
    """Symmetry planes x = 0, y = 0 (, z = 0): statically determinate support."""
    out = []
    for d, axis in enumerate("xyz"[:dim]):
        value = [None] * dim
        value[d] = 0.0
        out.append(Displacement(f"{axis}min", tuple(value)))
    return tuple(out)


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("kind", KINDS)
def test_uniaxial_patch(kind, order):
    m = structured(kind, 2)
    dim = m.dim
    s = 5e6
    t = (s,) + (0.0,) * (dim - 1)
    case = ElasticCase(E=E, nu=NU, order=order, plane="stress", displacements=_rollers(dim),
                       tractions=(Traction("xmax", t),))
    r = solve_elasticity(m, case)
    u, x = r.fields["displacement"], m.points
    assert np.allclose(u[:, 0], s / E * x[:, 0], atol=1e-14)
    for d in range(1, dim):
        assert np.allclose(u[:, d], -NU * s / E * x[:, d], atol=1e-14)
    assert np.allclose(r.fields["sig11"], s, rtol=1e-8)
    for name in ("sig22", "sig12") + (("sig33", "sig23", "sig13") if dim == 3 else ()):
        assert np.allclose(r.fields[name], 0.0, atol=1e-8 * s)
    assert np.allclose(r.fields["von_mises"], s, rtol=1e-8)
    assert r.info.n_dofs == dim * (m.n_points if order == 1 else r.info.n_dofs // dim)


def test_plane_strain_patch_has_sig33():
    m = structured("quad", 2)
    s = 1e6
    case = ElasticCase(E=E, nu=NU, order=2, plane="strain", displacements=_rollers(2),
                       tractions=(Traction("xmax", (s, 0.0)),))
    r = solve_elasticity(m, case)
    u = r.fields["displacement"]
    assert np.allclose(u[:, 0], (1 - NU**2) * s / E * m.points[:, 0])
    assert np.allclose(u[:, 1], -NU * (1 + NU) * s / E * m.points[:, 1])
    assert np.allclose(r.fields["sig33"], NU * s)
    vm = np.sqrt(s**2 + (NU * s) ** 2 - s * NU * s)
    assert np.allclose(r.fields["von_mises"], vm)


def test_pressure_sign_compresses():
    m = structured("triangle", 2)
    case = ElasticCase(E=E, nu=NU, order=1, displacements=_rollers(2),
                       pressures=(Pressure("xmax", 3e6),))
    r = solve_elasticity(m, case)
    assert np.allclose(r.fields["sig11"], -3e6)
    assert r.fields["displacement"][:, 0].min() < 0


@pytest.mark.parametrize("kind,plane", [("tetra", None), ("hexahedron", None),
                                        ("triangle", "stress"), ("quad", "strain")])
def test_free_thermal_expansion_is_stress_free(kind, plane):
    m = structured(kind, 2)
    alpha, dT = 1.2e-5, 150.0
    case = ElasticCase(E=E, nu=NU, order=2, plane=plane or "stress", displacements=_rollers(m.dim),
                       temperature=np.full(m.n_points, 20.0 + dT), T_ref=20.0, alpha=alpha)
    r = solve_elasticity(m, case)
    factor = 1 + NU if plane == "strain" else 1.0  # eps_zz = 0 pushes in-plane
    assert np.allclose(r.fields["displacement"], factor * alpha * dT * m.points, atol=1e-14)
    for name in ("sig11", "sig22", "sig12"):
        assert np.allclose(r.fields[name], 0.0, atol=1e-12 * E * alpha * dT)
    if plane == "strain":
        assert np.allclose(r.fields["sig33"], -E * alpha * dT)


def test_thermal_gradient_linear_field_in_3d():
    """A linear temperature field is compatible: with 3-2-1 point supports, no stress.

    The free displacement of T = a x is u = alpha a ((x^2 - y^2 - z^2) / 2, x y, x z),
    quadratic, so P2 reproduces it exactly.
    """
    m = structured("tetra", 2)
    x = m.points
    pick = {name: np.nonzero((x == p).all(axis=1))[0]
            for name, p in (("o", [0, 0, 0]), ("a", [1, 0, 0]), ("b", [0, 1, 0]))}
    m.point_sets.update(pick)
    supports = (Displacement("o", (0.0, 0.0, 0.0)), Displacement("a", (None, 0.0, 0.0)),
                Displacement("b", (None, None, 0.0)))
    a, alpha = 100.0, 1e-5
    case = ElasticCase(E=E, nu=NU, order=2, displacements=supports, temperature=a * x[:, 0],
                       alpha=alpha)
    r = solve_elasticity(m, case)
    exact = alpha * a * np.stack([(x[:, 0]**2 - x[:, 1]**2 - x[:, 2]**2) / 2,
                                  x[:, 0] * x[:, 1], x[:, 0] * x[:, 2]], 1)
    assert np.allclose(r.fields["displacement"], exact, atol=1e-12 * alpha * a)
    assert np.abs(r.fields["von_mises"]).max() < 1e-8 * E * alpha * a


def test_gravity_column_p2_exact():
    """Column under its weight, nu = 0: sigma_yy = -b (H - y), u_y = -b/E (H y - y^2/2)."""
    m = structured("quad", 3)
    b = 7.85e4
    case = ElasticCase(E=E, nu=0.0, order=2, displacements=_rollers(2), body_force=(0.0, -b))
    r = solve_elasticity(m, case)
    y = m.points[:, 1]
    assert np.allclose(r.fields["displacement"][:, 1], -b / E * (y - y**2 / 2), atol=1e-16)
    assert np.allclose(r.fields["sig22"], -b * (1 - y), atol=1e-6 * b)


def test_balanced_tractions_with_rigid_body_constraint():
    m = structured("hexahedron", 2)
    s = 2e6
    loads = (Traction("xmax", (s, 0.0, 0.0)), Traction("xmin", (-s, 0.0, 0.0)))
    with pytest.raises(IllPosedError, match="no Dirichlet condition"):
        solve_elasticity(m, ElasticCase(E=E, nu=NU, order=1, tractions=loads))
    r = solve_elasticity(m, ElasticCase(E=E, nu=NU, order=1, tractions=loads,
                                        rigid_body_constraint=True))
    assert np.allclose(r.fields["sig11"], s)
    assert np.allclose(r.fields["displacement"].mean(axis=0), 0.0, atol=1e-16)


def test_errors_name_the_item():
    m = structured("triangle", 2)
    with pytest.raises(GroupError, match="'left' is not in the mesh; groups: xmax, xmin"):
        solve_elasticity(m, ElasticCase(E=E, nu=NU, displacements=(Displacement("left", (0, 0)),)))
    with pytest.raises(IllPosedError, match="fixes the y component"):
        solve_elasticity(m, ElasticCase(E=E, nu=NU, displacements=(Displacement("xmin", (0, None)),)))
    with pytest.raises(CaseError, match="must have 2 components"):
        solve_elasticity(m, ElasticCase(E=E, nu=NU, displacements=(Displacement("xmin", (0,)),)))
    with pytest.raises(CaseError, match="Poisson's ratio nu must be in"):
        ElasticCase(E=E, nu=0.5)
    with pytest.raises(CaseError, match="E must be > 0"):
        ElasticCase(E=-1.0, nu=0.3)


def test_fast_p1_tetra_stiffness_equals_skfem():
    sk = skfem.MeshTet.init_tensor(*[np.linspace(0, 1, 4)] * 3)
    t = sk.t.copy()
    t[[1, 2], ::2] = t[[2, 1], ::2]  # mixed orientation must not matter
    sk = skfem.MeshTet(sk.p, t)
    lam = 1.0 + np.arange(sk.t.shape[1]) / 100.0  # per element
    basis = skfem.Basis(sk, skfem.ElementVector(skfem.ElementTetP1()))
    K_ref = elasticity.assemble(basis, lam=np.repeat(lam[:, None], basis.X.shape[1], 1), mu=0.7)
    K = tet_p1_stiffness(sk.p.T, sk.t.T, lam, 0.7)
    assert abs(K.tocsr() - K_ref).max() < 1e-12 * abs(K_ref).max()


def test_iterative_and_direct_agree():
    m = structured("tetra", 4)
    case = {"E": E, "nu": NU, "order": 2,
            "displacements": (Displacement("xmin", (0.0, 0.0, 0.0)),),
            "tractions": (Traction("xmax", (0.0, 0.0, -1e6)),)}
    rd = solve_elasticity(m, ElasticCase(**case, solver="direct"))
    ri = solve_elasticity(m, ElasticCase(**case, solver="iterative", rtol=1e-10))
    assert ri.info.method == "iterative" and 0 < ri.info.iterations < 100
    ud, ui = rd.fields["displacement"], ri.fields["displacement"]
    assert np.abs(ud - ui).max() < 1e-7 * np.abs(ud).max()


def _manufactured_error(n: int, order: int) -> float:
    """Max nodal displacement error for u1 = u2 = sin(pi x) sin(pi y), plane strain."""
    m = structured("triangle", n)
    c = ElasticCase(E=1.0, nu=0.3, plane="strain", order=order)
    lam, mu, _ = c.lame(2)
    pi = np.pi

    def body(x):
        s = np.sin(pi * x[0]) * np.sin(pi * x[1])
        cc = np.cos(pi * x[0]) * np.cos(pi * x[1])
        b = 2 * pi**2 * mu * s - (lam + mu) * pi**2 * (cc - s)  # -div sigma
        return np.stack([b, b])

    fixed = tuple(Displacement(g, (0.0, 0.0)) for g in ("xmin", "xmax", "ymin", "ymax"))
    case = ElasticCase(E=1.0, nu=0.3, plane="strain", order=order, displacements=fixed,
                       body_force=body)
    u = solve_elasticity(m, case).fields["displacement"]
    exact = np.sin(pi * m.points[:, 0]) * np.sin(pi * m.points[:, 1])
    return float(np.abs(u - exact[:, None]).max())


def test_convergence_rates_p1_p2():
    ns = [4, 8, 16]
    rates = {}
    for order in (1, 2):
        err = [_manufactured_error(n, order) for n in ns]
        rates[order] = np.log2(np.array(err[:-1]) / np.array(err[1:]))
        print(f"P{order}: nodal max errors {err}, rates {rates[order]}")
    assert (rates[1] > 1.8).all()  # O(h^2) at the nodes
    assert (rates[2] > 2.8).all()  # O(h^3) or better
