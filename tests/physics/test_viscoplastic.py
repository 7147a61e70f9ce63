"""Verification of the elasto-viscoplastic solver (physics/constitutive.py, viscoplastic/).

Each test compares with an independent reference: closed forms or scipy ODE solutions of
the uniaxial law, scikit-fem's own linear elasticity, finite differences of the
residual, and the consistency condition of the flow rule.
"""
from __future__ import annotations

import numpy as np
import pytest
import skfem
from scipy.integrate import solve_ivp

from mesh import CellBlock, Mesh
from physics.constitutive import (
    P_DEV,
    TemperatureTable,
    ViscoplasticMaterial,
    integrate,
    von_mises,
)
from physics.errors import CaseError, ConvergenceError, GroupError
from physics.viscoplastic import (
    BodyForce,
    Dirichlet,
    LoadCurve,
    NodalTemperature,
    Pressure,
    QPState,
    SolverOptions,
    Traction,
    ViscoplasticLoading,
    ViscoplasticModel,
    solve_viscoplastic,
)

E, NU = 200e9, 0.3
T0 = 293.15


# ---------------------------------------------------------------------------- meshes
def _named_blocks(sk: skfem.Mesh, volume: CellBlock, sides: dict, facet_type: str) -> Mesh:
    """Project mesh: the volume block plus one facet block per named side."""
    blocks = [volume]
    for where in sides.values():
        idx = sk.facets_satisfying(where)
        blocks.append(CellBlock(facet_type, sk.facets[:, idx].T))
    cell_sets = {}
    for i, name in enumerate(sides):
        per = [np.zeros(0, np.int64) for _ in blocks]
        per[i + 1] = np.arange(len(blocks[i + 1]))
        cell_sets[name] = per
    return Mesh(sk.p.T, blocks, cell_sets=cell_sets)


def plate(nx: int, ny: int, lx: float = 1.0, ly: float = 1.0) -> Mesh:
    """Rectangle of P1 triangles with facet groups left/right/bottom/top."""
    sk = skfem.MeshTri.init_tensor(np.linspace(0, lx, nx + 1), np.linspace(0, ly, ny + 1))
    sides = {"left": lambda x: np.isclose(x[0], 0), "right": lambda x: np.isclose(x[0], lx),
             "bottom": lambda x: np.isclose(x[1], 0), "top": lambda x: np.isclose(x[1], ly)}
    return _named_blocks(sk, CellBlock("triangle", sk.t.T), sides, "line")


def plate_p2(nx: int, ny: int) -> tuple[Mesh, skfem.Mesh]:
    """Unit square of quadratic triangles (triangle6), built from scikit-fem's P2 dofs."""
    sk = skfem.MeshTri.init_tensor(np.linspace(0, 1, nx + 1), np.linspace(0, 1, ny + 1))
    b = skfem.Basis(sk, skfem.ElementTriP2())
    pts = b.doflocs.T
    # skfem P2 local dofs: 3 vertices then edges (0,1), (1,2), (0,2) = VTK triangle6 order
    m = Mesh(pts, [CellBlock("triangle6", b.element_dofs.T)],
             point_sets={"bottom": np.flatnonzero(np.isclose(pts[:, 1], 0)),
                         "top": np.flatnonzero(np.isclose(pts[:, 1], 1))})
    return m, sk


def cube() -> Mesh:
    """Unit cube of 6 P1 tetrahedra with face groups x0, x1, y0, y1, z0, z1."""
    sk = skfem.MeshTet.init_tensor(*[np.linspace(0, 1, 2)] * 3)
    sides = {f"{a}{v}": (lambda x, k=k, v=v: np.isclose(x[k], v))
             for k, a in enumerate("xyz") for v in (0, 1)}
    return _named_blocks(sk, CellBlock("tetra", sk.t.T), sides, "triangle")


def cube_p2() -> Mesh:
    """Unit cube of 2x2x2x6 quadratic tetrahedra (tetra10) with face point sets."""
    sk = skfem.MeshTet.init_tensor(*[np.linspace(0, 1, 3)] * 3)
    b = skfem.Basis(sk, skfem.ElementTetP2())  # local dofs: corners, then VTK edge order
    pts = b.doflocs.T
    sets = {f"{a}{v}": np.flatnonzero(np.isclose(pts[:, k], v))
            for k, a in enumerate("xyz") for v in (0, 1)}
    return Mesh(pts, [CellBlock("tetra10", b.element_dofs.T)], point_sets=sets)


def cube_hex() -> Mesh:
    """One hexahedron (VTK node order) with face point sets."""
    pts = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0],
                    [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]], float)
    sets = {f"{a}{v}": np.flatnonzero(pts[:, k] == v) for k, a in enumerate("xyz") for v in (0, 1)}
    return Mesh(pts, [CellBlock("hexahedron", np.arange(8)[None])], point_sets=sets)


def uniaxial_bcs(*extra: Dirichlet) -> tuple[Dirichlet, ...]:
    """Symmetry conditions that leave a homogeneous uniaxial stress state free."""
    return (Dirichlet("x0", (0,)), Dirichlet("y0", (1,)), Dirichlet("z0", (2,))) + extra


def fixed_steps(dt: float, **kw) -> SolverOptions:
    return SolverOptions(grow=1.0, dt_max=dt, **kw)


# ------------------------------------------------------------------ constitutive law
MATERIALS = {
    "norton-voce": ViscoplasticMaterial(young=E, poisson=NU, sigma_y=200e6, K=100e6, n=5.0,
                                        H=2e9, R_inf=50e6, b=20.0),
    "rate-independent": ViscoplasticMaterial(young=E, poisson=NU, sigma_y=200e6, H=2e9,
                                             R_inf=50e6, b=20.0),
    "norton-n20": ViscoplasticMaterial(young=E, poisson=NU, sigma_y=200e6, K=20e6, n=20.0),
    "thermal-tables": ViscoplasticMaterial(
        young=TemperatureTable((300.0, 900.0), (E, 0.6 * E)), poisson=NU,
        sigma_y=TemperatureTable((300.0, 900.0), (250e6, 80e6)), K=80e6, n=4.0,
        H=TemperatureTable((300.0, 900.0), (3e9, 1e9)), alpha=1.2e-5, T_ref=300.0),
}


def _random_points(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    eps = rng.normal(size=(n, 6)) * 3e-3
    eps_p = (rng.normal(size=(n, 6)) * 1e-3) @ P_DEV
    p = np.abs(rng.normal(size=n)) * 1e-2
    T = rng.uniform(300.0, 900.0, size=n)
    return eps, eps_p, p, T


@pytest.mark.parametrize("name", list(MATERIALS))
@pytest.mark.parametrize("dt", [1e-6, 1.0, 1e4])
def test_local_tangent_matches_finite_differences(name, dt):
    mat = MATERIALS[name]
    eps, eps_p, p, T = _random_points(40)
    up = integrate(eps, eps_p, p, T, dt, mat)
    assert up.converged.all() and (up.dp > 0).mean() > 0.5
    h = 1e-8
    fd = np.empty_like(up.tangent)
    for j in range(6):
        e = np.zeros(6)
        e[j] = h
        fd[:, :, j] = (integrate(eps + e, eps_p, p, T, dt, mat).stress
                       - integrate(eps - e, eps_p, p, T, dt, mat).stress) / (2 * h)
    err = np.abs(fd - up.tangent).max() / np.abs(up.tangent).max()
    print(f"{name} dt={dt:g}: max |C_alg - FD| / max |C_alg| = {err:.2e}")
    assert err < 1e-6
    np.testing.assert_allclose(up.tangent, np.swapaxes(up.tangent, 1, 2), atol=1e-6 * E)


@pytest.mark.parametrize("name", list(MATERIALS))
def test_local_update_satisfies_the_flow_rule(name):
    mat = MATERIALS[name]
    eps, eps_p, p, T = _random_points(200, seed=1)
    dt = 0.1
    up = integrate(eps, eps_p, p, T, dt, mat)
    par = mat.at(T)
    R = par.H * up.p + par.R_inf * (1 - np.exp(-par.b * up.p))
    over = par.K * (up.dp / dt) ** (1 / par.n)
    q = von_mises(up.stress)
    pl = up.dp > 0
    np.testing.assert_allclose(q[pl], (par.sigma_y + R + over)[pl], rtol=1e-9)
    assert np.all(q[~pl] <= (par.sigma_y + R)[~pl] * (1 + 1e-12))
    # plastic flow is deviatoric and |d eps_p| = sqrt(3/2) dp
    d_eps_p = up.eps_p - eps_p
    np.testing.assert_allclose(d_eps_p[:, :3].sum(1), 0, atol=1e-15)
    np.testing.assert_allclose(np.linalg.norm(d_eps_p, axis=1), np.sqrt(1.5) * up.dp, atol=1e-15)


def test_tiny_overstress_with_large_exponent_converges():
    """dp = dt (f/K)^n underflows far below any bisection tolerance; still solved exactly."""
    mat = MATERIALS["norton-n20"]
    G = E / (2 * (1 + NU))
    q = 200e6 * (1 + 1e-4)  # 20 kPa above yield, K = 20 MPa, n = 20: dp ~ 1e-60
    e = q / (3 * G)
    eps = np.array([[e, -e / 2, -e / 2, 0, 0, 0]])
    up = integrate(eps, np.zeros((1, 6)), np.zeros(1), np.full(1, T0), 1.0, mat)
    assert up.converged.all()
    np.testing.assert_allclose(up.dp, (2e4 / 20e6) ** 20, rtol=1e-6)


# ------------------------------------------------------------------- uniaxial tests
def _uniaxial_ramp_reference(mat, rate, times):
    """sigma(t), p(t) of the uniaxial law under a constant strain rate (scipy Radau)."""

    def rhs(t, y):
        s, p = y
        pdot = max((s - mat.hardening(np.array(p)) - mat.sigma_y) / mat.K, 0.0) ** mat.n
        return [mat.young * (rate - pdot), pdot]

    sol = solve_ivp(rhs, (0, times[-1]), [0.0, 0.0], method="Radau", rtol=1e-11,
                    atol=[1e-3, 1e-15], t_eval=times, max_step=0.01)
    return sol.y


def test_uniaxial_strain_rate_ramp_matches_ode():
    mat = ViscoplasticMaterial(young=E, poisson=NU, sigma_y=100e6, K=100e6, n=3.0, H=5e9,
                               R_inf=50e6, b=50.0)
    rate, t_end = 2e-3, 5.0
    check = np.array([0.3, 0.5, 1.0, 2.0, 5.0])
    s_ref, p_ref = _uniaxial_ramp_reference(mat, rate, check)
    m = cube()
    case = ViscoplasticLoading(uniaxial_bcs(
        Dirichlet("x1", (0,), rate * t_end, LoadCurve((0.0, t_end), (0.0, 1.0)))))
    errors = []
    for dt in (0.05, 0.025):
        res = solve_viscoplastic(m, mat, case, check, dt0=dt, options=fixed_steps(dt))
        s = res.fields["sig11"]
        # homogeneous uniaxial stress: every other stress component vanishes
        assert np.abs(s - s.mean(1, keepdims=True)).max() < 1e-6 * s.max()
        for other in ("sig22", "sig33", "sig12", "sig23", "sig13"):
            assert np.abs(res.fields[other]).max() < 1e-5 * s.max()
        p = res.fields["p"].mean(1)
        err_s = np.abs(s.mean(1) - s_ref).max() / s_ref.max()
        err_p = np.abs(p - p_ref).max() / p_ref.max()
        errors.append((err_s, err_p))
        # lateral contraction: eps_22 = -nu sigma / E - p / 2 (plastic incompressibility)
        u2 = res.fields["U2"][:, m.points[:, 1] == 1].mean(1)
        np.testing.assert_allclose(u2, -NU * s.mean(1) / E - p / 2, rtol=1e-8)
        print(f"dt={dt}: rel. error sigma {err_s:.2e}, p {err_p:.2e}; "
              f"{res.n_steps} steps, {res.newton_iterations} Newton iterations")
    (es1, ep1), (es2, ep2) = errors
    order_s, order_p = np.log2(es1 / es2), np.log2(ep1 / ep2)
    print(f"backward-Euler order: sigma {order_s:.2f}, p {order_p:.2f}")
    assert es2 < 0.01 and ep2 < 0.01
    assert 0.8 < order_s < 1.3 and 0.8 < order_p < 1.3


@pytest.mark.parametrize("make_mesh", [cube, cube_p2, cube_hex], ids=["tet4", "tet10", "hex8"])
def test_uniaxial_rate_independent_linear_hardening_is_exact(make_mesh):
    """K = 0, R = H p: radial return is exact for monotone uniaxial loading."""
    H, sy = 10e9, 250e6
    mat = ViscoplasticMaterial(young=E, poisson=NU, sigma_y=sy, H=H)
    times = np.linspace(0.1, 1.0, 10)
    strain = 0.01 * times
    case = ViscoplasticLoading(uniaxial_bcs(
        Dirichlet("x1", (0,), 0.01, LoadCurve((0.0, 1.0), (0.0, 1.0)))))
    m = make_mesh()
    res = solve_viscoplastic(m, mat, case, times, dt0=0.1, options=fixed_steps(0.1))
    np.testing.assert_allclose(res.fields["U1"][-1], 0.01 * m.points[:, 0], atol=1e-15)
    eps_y = sy / E
    s_exact = np.where(strain < eps_y, E * strain, sy + H * E / (E + H) * (strain - eps_y))
    p_exact = np.maximum(strain - s_exact / E, 0.0)
    np.testing.assert_allclose(res.fields["sig11"].mean(1), s_exact, rtol=1e-9)
    np.testing.assert_allclose(res.fields["p"].mean(1), p_exact, rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(res.fields["von_mises"].mean(1), s_exact, rtol=1e-9)


def test_temperature_dependent_parameters_in_a_global_solve():
    """Uniform T between table points: interpolated E, sigma_y, H and alpha (T - T_ref)."""
    T, Tref = 500.0, 300.0
    mat = ViscoplasticMaterial(
        young=TemperatureTable((300.0, 900.0), (E, 0.7 * E)), poisson=NU,
        sigma_y=TemperatureTable((300.0, 900.0), (300e6, 150e6)),
        H=TemperatureTable((300.0, 900.0), (9e9, 3e9)),
        alpha=TemperatureTable((300.0, 900.0), (1.1e-5, 1.7e-5)), T_ref=Tref)
    w = (T - 300.0) / 600.0
    E_T, sy_T, H_T = (1 - w) * E + w * 0.7 * E, (1 - w) * 300e6 + w * 150e6, (1 - w) * 9e9 + w * 3e9
    eps_th = ((1 - w) * 1.1e-5 + w * 1.7e-5) * (T - Tref)
    m = cube()
    times = np.linspace(0.2, 1.0, 5)
    total = 0.008 * times
    case = ViscoplasticLoading(
        uniaxial_bcs(Dirichlet("x1", (0,), 0.008, LoadCurve((0.0, 1.0), (0.0, 1.0)))),
        temperature=NodalTemperature(np.full(m.n_points, T)))
    res = solve_viscoplastic(m, mat, case, times, dt0=0.2, options=fixed_steps(0.2))
    mech = total - eps_th
    eps_y = sy_T / E_T
    s_exact = np.where(mech < eps_y, E_T * mech, sy_T + H_T * E_T / (E_T + H_T) * (mech - eps_y))
    np.testing.assert_allclose(res.fields["sig11"].mean(1), s_exact, rtol=1e-9)
    assert res.fields["p"][-1].min() > 0 and res.fields["p"][0].max() == 0


def test_creep_at_constant_stress_matches_closed_form():
    """dp/dt = ((s0 - H p - sy) / K)^n  =>  p(t) in closed form; backward Euler is order 1."""
    H, sy, K, n, s0 = 2e9, 100e6, 100e6, 3.0, 150e6
    mat = ViscoplasticMaterial(young=E, poisson=NU, sigma_y=sy, K=K, n=n, H=H)
    a = s0 - sy
    times = np.array([2.0, 5.0, 20.0])
    x = (a ** (1 - n) + (n - 1) * H * times / K**n) ** (1 / (1 - n))
    p_exact = (a - x) / H
    m = cube()
    case = ViscoplasticLoading(uniaxial_bcs(), (Traction("x1", (s0, 0.0, 0.0)),))
    errs = []
    for dt in (0.5, 0.25):
        res = solve_viscoplastic(m, mat, case, times, dt0=dt, options=fixed_steps(dt, rtol=1e-11))
        np.testing.assert_allclose(res.fields["sig11"], s0, rtol=1e-8)
        p = res.fields["p"].mean(1)
        u1 = res.fields["U1"][:, m.points[:, 0] == 1].mean(1)
        np.testing.assert_allclose(u1, s0 / E + p, rtol=1e-9)  # eps_11 = s0/E + p
        errs.append(np.abs(p - p_exact) / p_exact)
        print(f"creep dt={dt}: rel. error of p at t={times.tolist()}: {errs[-1]}")
    order = np.log2(errs[0] / errs[1])
    print(f"creep backward-Euler order: {order}")
    assert errs[1].max() < 0.05 and errs[1][-1] < 2e-3
    assert np.all((order > 0.8) & (order < 1.3))


def test_creep_without_hardening_is_linear_in_time_and_exact():
    sy, K, n, s0 = 100e6, 100e6, 4.0, 160e6
    mat = ViscoplasticMaterial(young=E, poisson=NU, sigma_y=sy, K=K, n=n)
    case = ViscoplasticLoading(uniaxial_bcs(), (Traction("x1", (s0, 0.0, 0.0)),))
    times = np.array([0.5, 1.0, 3.0])
    res = solve_viscoplastic(cube(), mat, case, times, dt0=0.25, options=SolverOptions(rtol=1e-12))
    np.testing.assert_allclose(res.fields["p"].mean(1), ((s0 - sy) / K) ** n * times, rtol=1e-10)


# -------------------------------------------------------------------- elastic limit
def _skfem_elastic(sk, element, traction_y):
    """Independent plane-strain linear elasticity with scikit-fem's own forms."""
    from skfem.models.elasticity import lame_parameters, linear_elasticity

    basis = skfem.Basis(sk, skfem.ElementVector(element))
    K = linear_elasticity(*lame_parameters(E, NU)).assemble(basis)
    fb = skfem.FacetBasis(sk, skfem.ElementVector(element),
                          facets=sk.facets_satisfying(lambda x: np.isclose(x[1], 1.0)))
    f = skfem.LinearForm(lambda v, w: traction_y * v[1]).assemble(fb)
    D = basis.get_dofs(lambda x: np.isclose(x[1], 0.0)).all()
    return skfem.solve(*skfem.condense(K, f, D=D)), basis


@pytest.mark.parametrize("order", [1, 2])
def test_below_yield_equals_linear_elasticity(order):
    traction = 50e6
    mat = ViscoplasticMaterial(young=E, poisson=NU, sigma_y=1e9, K=10e6, n=3.0)
    if order == 1:
        m = plate(6, 4)
        sk = skfem.MeshTri.init_tensor(np.linspace(0, 1, 7), np.linspace(0, 1, 5))
        element = skfem.ElementTriP1()
        surface = (Traction("top", (0.0, traction)),)
        bottom = Dirichlet("bottom", (0, 1))
    else:
        m, sk = plate_p2(4, 3)
        top = _top_edges_p2(m)
        m = Mesh(m.points, list(m.cells) + [CellBlock("line3", top)], point_sets=m.point_sets,
                 cell_sets={"top_edge": [np.zeros(0, np.int64), np.arange(len(top))]})
        element = skfem.ElementTriP2()
        surface = (Traction("top_edge", (0.0, traction)),)
        bottom = Dirichlet("bottom", (0, 1))
    u_ref, basis = _skfem_elastic(sk, element, traction)
    res = solve_viscoplastic(m, mat, ViscoplasticLoading((bottom,), surface), [1.0])
    assert res.fields["p"].max() == 0.0
    # compare at the project nodes: map skfem dofs by coordinates
    ref_nodes = basis.doflocs[:, ::2].T  # vector dofs are interleaved (u1, u2) per node
    ref_u = u_ref.reshape(-1, 2)
    idx = _match_points(m.points, ref_nodes)
    for k in (0, 1):
        err = np.abs(res.fields[f"U{k + 1}"][0] - ref_u[idx, k]).max() / np.abs(ref_u).max()
        print(f"P{order} U{k + 1}: max rel. difference to scikit-fem linear elasticity {err:.1e}")
        assert err < 1e-10
    # plane strain: sig33 = nu (sig11 + sig22)
    f = res.at(0)
    np.testing.assert_allclose(f["sig33"], NU * (f["sig11"] + f["sig22"]),
                               atol=1e-8 * traction)


def _top_edges_p2(m: Mesh) -> np.ndarray:
    """line3 cells along y = 1 of the P2 plate (corner, corner, mid)."""
    tri = m.cells[0].data
    out = []
    for a, b, mid in ((0, 1, 3), (1, 2, 4), (2, 0, 5)):
        on = np.isclose(m.points[tri[:, a], 1], 1) & np.isclose(m.points[tri[:, b], 1], 1)
        out.append(tri[on][:, [a, b, mid]])
    return np.concatenate(out)


def _match_points(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Index into ``b`` of each point of ``a`` (same point sets)."""
    d = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    idx = d.argmin(1)
    assert d[np.arange(len(a)), idx].max() < 1e-12
    return idx


# ------------------------------------------------------------------- global Newton
def _plastic_plate(nx=8, ny=4):
    m = plate(nx, ny, 2.0, 1.0)
    mat = ViscoplasticMaterial(young=70e9, poisson=0.3, sigma_y=200e6, K=50e6, n=4.0,
                               H=1e9, R_inf=80e6, b=30.0)
    case = ViscoplasticLoading((Dirichlet("bottom", (0, 1)),),
                               (Pressure("top", -250e6, LoadCurve((0.0, 1.0), (0.0, 1.0))),))
    return m, mat, case


def test_newton_converges_quadratically_on_plastic_steps():
    m, mat, case = _plastic_plate()
    res = solve_viscoplastic(m, mat, case, np.linspace(0.2, 1.0, 5), dt0=0.2,
                             options=SolverOptions(rtol=1e-12, grow=1.0))
    orders = []
    for rec in res.records:
        r = np.array(rec.residuals[1:])  # the first is before the Dirichlet/predictor update
        print(f"t={rec.t + rec.dt:.2f}: residuals " + " ".join(f"{x:.1e}" for x in rec.residuals))
        r = r[r > 1e-14]
        if len(r) >= 3:
            q = np.log(r[2:] / r[1:-1]) / np.log(r[1:-1] / r[:-2])
            orders.append(q[-1])
            assert np.all(r[2:] / r[1:-1] ** 2 < 1e3)
    print(f"estimated convergence orders (last iterations): {np.round(orders, 2)}")
    assert len(orders) >= 2 and min(orders) >= 1.8
    assert res.fields["p"][-1].max() > 0


def test_global_tangent_matches_finite_differences():
    m, mat, _ = _plastic_plate(4, 2)
    fom = ViscoplasticModel(m, mat)
    rng = np.random.default_rng(3)
    state = QPState(np.zeros((fom.n_elements, fom.n_qp, 6)),
                    np.abs(rng.normal(size=(fom.n_elements, fom.n_qp))) * 1e-3)
    u = rng.normal(size=fom.n_dofs) * 4e-3
    T = np.full((fom.n_elements, fom.n_qp), T0)
    res = fom.internal_forces(u, state, T, 0.1)
    assert res.response.dp.max() > 0 and (res.response.dp > 0).mean() > 0.3
    v = rng.normal(size=fom.n_dofs)
    h = 1e-9
    fd = (fom.internal_forces(u + h * v, state, T, 0.1, tangent=False).force
          - fom.internal_forces(u - h * v, state, T, 0.1, tangent=False).force) / (2 * h)
    err = np.linalg.norm(res.stiffness @ v - fd) / np.linalg.norm(fd)
    print(f"|K v - FD| / |FD| = {err:.1e}")
    assert err < 1e-6


def test_subset_assembly_adds_up_to_the_full_residual():
    """The restricted (hyper-reduction) path: element subsets and weights."""
    m, mat, _ = _plastic_plate(4, 2)
    fom = ViscoplasticModel(m, mat)
    rng = np.random.default_rng(4)
    u = rng.normal(size=fom.n_dofs) * 4e-3
    state = QPState.zeros(fom.n_elements, fom.n_qp)
    full = fom.internal_forces(u, state, None, 0.1)
    a, b = np.arange(0, fom.n_elements, 2), np.arange(1, fom.n_elements, 2)
    fa = fom.internal_forces(u, state.take(a), None, 0.1, elements=a)
    fb = fom.internal_forces(u, state.take(b), None, 0.1, elements=b)
    np.testing.assert_allclose(fa.force + fb.force, full.force,
                               atol=1e-9 * np.abs(full.force).max())
    np.testing.assert_allclose((fa.stiffness + fb.stiffness).toarray(), full.stiffness.toarray(),
                               atol=1e-9 * abs(full.stiffness).max())
    # per-point integrands times weights = element contributions
    fq, kq = fom.qp_contributions(fa.response, a)
    w = 2.0 * fom.weights[a]
    fe, ke = fom.element_contributions(fa.response, a, weights=w)
    np.testing.assert_allclose(np.einsum("eq,eqj->ej", w, fq), fe, rtol=1e-12)
    np.testing.assert_allclose(np.einsum("eq,eqij->eij", w, kq), ke, rtol=1e-12)


def test_amg_linear_solver_agrees_with_direct():
    m, mat, case = _plastic_plate(8, 4)
    times = [0.5, 1.0]
    direct = solve_viscoplastic(m, mat, case, times, dt0=0.25)
    amg = solve_viscoplastic(m, mat, case, times, dt0=0.25,
                             options=SolverOptions(linear_solver="amg"))
    for k in ("U2", "p"):
        np.testing.assert_allclose(amg.fields[k], direct.fields[k],
                                   atol=1e-6 * np.abs(direct.fields[k]).max())


# --------------------------------------------------------------- adaptive stepping
def test_too_large_step_is_cut_and_the_solve_converges():
    m, mat, case = _plastic_plate()
    mat = ViscoplasticMaterial(young=70e9, poisson=0.3, sigma_y=200e6, K=20e6, n=10.0,
                               R_inf=80e6, b=30.0)
    opts = SolverOptions(max_iter=4)
    res = solve_viscoplastic(m, mat, case, [1.0], dt0=1.0, options=opts)
    first = res.records[0]
    print(f"{res.n_cuts} cuts, {res.n_steps} steps; first attempt: dt={first.dt}, "
          f"{first.reason!r}, residuals {first.residuals}")
    assert not first.converged and "iterations" in first.reason
    assert res.n_cuts >= 1 and res.records[-1].converged
    fine = solve_viscoplastic(m, mat, case, [1.0], dt0=0.05, options=fixed_steps(0.05))
    rel = abs(res.fields["p"].max() - fine.fields["p"].max()) / fine.fields["p"].max()
    assert rel < 0.3  # different time grids, same physics (backward Euler is order 1)


def test_load_beyond_the_limit_raises_convergence_error_with_history():
    """Perfect plasticity (K = 0, no hardening) pulled past sigma_y has no equilibrium."""
    mat = ViscoplasticMaterial(young=E, poisson=NU, sigma_y=200e6)
    case = ViscoplasticLoading(uniaxial_bcs(),
                               (Traction("x1", (300e6, 0.0, 0.0), LoadCurve((0, 1), (0, 1))),))
    with pytest.raises(ConvergenceError) as info:
        solve_viscoplastic(cube(), mat, case, [1.0], dt0=0.25,
                           options=SolverOptions(dt_min=1e-4, max_iter=8))
    err = info.value
    print(err)
    assert "residual history" in str(err) and f"step {err.step}" in str(err)
    assert 0.6 <= err.time <= 0.7  # the limit load is reached at t = 200/300
    assert len(err.residuals) >= 1 and err.records[-1].converged is False


# ------------------------------------------------------------------------ 2D plate
def test_plate_pulled_beyond_yield_localises_and_respects_the_yield_surface():
    m, mat, case = _plastic_plate(16, 8)
    dt = 0.1
    res = solve_viscoplastic(m, mat, case, np.arange(1, 11) * dt, dt0=dt,
                             options=fixed_steps(dt), keep_qp=True)
    p, s = res.qp["p"], res.qp["stress"]
    dp = p[-1] - p[-2]
    q = von_mises(s[-1])
    R = mat.hardening(p[-1])
    bound = mat.sigma_y + R + mat.K * (dp / dt) ** (1 / mat.n)
    plastic = dp > 0
    print(f"plastic points: {plastic.mean():.0%}, p max {p[-1].max():.2e}, "
          f"von Mises max {q.max() / 1e6:.1f} MPa")
    assert 0.05 < plastic.mean() < 0.95  # localised, not everywhere
    assert np.all(q <= bound * (1 + 1e-9))
    np.testing.assert_allclose(q[plastic], bound[plastic], rtol=1e-8)
    # nodal outputs: positive p, concentrated at the clamped corners
    f = res.at(-1)
    assert f["p"].min() >= 0 and f["p"].max() > 0
    corners = np.isclose(m.points[:, 1], 0) & (np.isclose(m.points[:, 0], 0)
                                               | np.isclose(m.points[:, 0], 2))
    assert f["p"][corners].min() > np.median(f["p"])
    assert set(res.fields) >= {"U1", "U2", "sig11", "sig22", "sig33", "sig12", "p", "von_mises"}
    assert res.fields["U1"].shape == (10, m.n_points)


# ------------------------------------------------------------------ thermal, loads
def test_free_thermal_expansion_is_stress_free_in_plane():
    """Plane strain, uniform dT: eps_11 = eps_22 = (1 + nu) alpha dT, sig33 = -E alpha dT."""
    alpha, dT = 1.2e-5, 100.0
    mat = ViscoplasticMaterial(young=E, poisson=NU, sigma_y=1e9, alpha=alpha, T_ref=T0)
    m = plate(2, 2)
    T = NodalTemperature(np.array([[T0] * m.n_points, [T0 + dT] * m.n_points]), times=(0.0, 1.0))
    case = ViscoplasticLoading((Dirichlet("left", (0,)), Dirichlet("bottom", (1,))),
                               temperature=T)
    res = solve_viscoplastic(m, mat, case, [0.5, 1.0])
    f = res.at(-1)
    e = (1 + NU) * alpha * dT
    np.testing.assert_allclose(f["U1"], e * m.points[:, 0], atol=1e-12)
    np.testing.assert_allclose(f["U2"], e * m.points[:, 1], atol=1e-12)
    for k in ("sig11", "sig22", "sig12"):
        assert np.abs(f[k]).max() < 1e-3
    np.testing.assert_allclose(f["sig33"], -E * alpha * dT, rtol=1e-10)
    np.testing.assert_allclose(res.fields["T"][0], T0 + dT / 2)


def test_body_force_resultant():
    m = plate(3, 2, 2.0, 1.0)
    mat = ViscoplasticMaterial(young=E, poisson=NU, sigma_y=1e9)
    fom = ViscoplasticModel(m, mat)
    rho, omega = 8000.0, 100.0
    bf = BodyForce(density=rho, gravity=(0.0, -9.81), omega=omega, center=(0.0, 0.0))
    loads = fom.assemble_loading(ViscoplasticLoading((Dirichlet("left", (0, 1)),), body_force=bf))
    f = loads.external_force(0.0)
    # area 2, centroid (1, 0.5): resultant rho (g A + omega^2 A x_c)
    np.testing.assert_allclose(f[0::2].sum(), rho * omega**2 * 2 * 1.0, rtol=1e-12)
    np.testing.assert_allclose(f[1::2].sum(), rho * (-9.81 * 2 + omega**2 * 2 * 0.5), rtol=1e-12)


# -------------------------------------------------------------------- validation
@pytest.mark.parametrize("kw, word", [
    (dict(poisson=0.5), "poisson"),
    (dict(young=-1.0), "young"),
    (dict(n=0.5), "'n'"),
    (dict(R_inf=10e6), "'b'"),
    (dict(sigma_y=TemperatureTable((300.0, 400.0), (1e6, -1e6))), "sigma_y"),
])
def test_material_validation_names_the_parameter(kw, word):
    base = dict(young=E, poisson=NU, sigma_y=1e8)
    with pytest.raises(CaseError, match=word):
        ViscoplasticMaterial(**{**base, **kw})


def test_loading_errors_name_the_group():
    mat = ViscoplasticMaterial(young=E, poisson=NU, sigma_y=1e8)
    with pytest.raises(GroupError, match="nowhere"):
        solve_viscoplastic(plate(2, 2), mat, ViscoplasticLoading((Dirichlet("nowhere", (0,)),)),
                           [1.0])
    with pytest.raises(CaseError, match="components"):
        Dirichlet("left", (3,))
    with pytest.raises(CaseError, match="output times"):
        solve_viscoplastic(plate(2, 2), mat, ViscoplasticLoading((Dirichlet("left"),)), [0.0])
    with pytest.raises(CaseError, match="hypothesis 'plane_stress' is not implemented"):
        ViscoplasticModel(plate(2, 2), mat, hypothesis="plane_stress")
