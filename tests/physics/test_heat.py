"""Heat conduction: steady solutions in closed form, transient schemes, conditions, errors."""
from __future__ import annotations

import numpy as np
import pytest
from test_skfem_mesh import structured

from mesh import CellBlock, Mesh
from physics.errors import CaseError, GroupError, IllPosedError
from physics.heat import (
    Convection,
    HeatCase,
    HeatFlux,
    Temperature,
    solve_heat,
    solve_heat_transient,
)


def _bar(n: int) -> Mesh:
    """[0, 1] in n line cells; its ends are boundary (vertex) groups 'left' and 'right'."""
    x = np.linspace(0.0, 1.0, n + 1)
    none = np.zeros(0, np.int64)
    return Mesh(x[:, None], [CellBlock("line", np.c_[np.arange(n), np.arange(1, n + 1)]),
                             CellBlock("vertex", np.array([[0], [n]]))],
                cell_sets={"left": [none, np.array([0])], "right": [none, np.array([1])]})


@pytest.mark.parametrize("order", [1, 2])
def test_steady_source_1d(order):
    k, s = 2.0, 8.0
    m = _bar(8)
    r = solve_heat(m, HeatCase(k=k, source=s, order=order, temperatures=(
        Temperature("left", 0.0), Temperature("right", 0.0))))
    x = m.points[:, 0]
    assert np.allclose(r.fields["temperature"], s / (2 * k) * x * (1 - x))
    assert r.physics == "heat" and r.info.n_dofs == (9 if order == 1 else 17)


@pytest.mark.parametrize("kind", ["quad", "triangle", "tetra", "hexahedron"])
def test_steady_convection_and_flux_slab(kind):
    m = structured(kind, 2)
    k, h, T0, Tinf = 5.0, 20.0, 100.0, 20.0
    r = solve_heat(m, HeatCase(k=k, order=2, temperatures=(Temperature("xmin", T0),),
                               convections=(Convection("xmax", h, Tinf),)))
    T1 = (k * T0 + h * Tinf) / (k + h)  # heat through the slab = heat convected away
    assert np.allclose(r.fields["temperature"], T0 + (T1 - T0) * m.points[:, 0])
    q = 300.0
    r = solve_heat(m, HeatCase(k=k, order=1, temperatures=(Temperature("xmin", 0.0),),
                               fluxes=(HeatFlux("xmax", q),)))
    assert np.allclose(r.fields["temperature"], q / k * m.points[:, 0])


@pytest.mark.parametrize("theta", [0.5, 1.0])
def test_transient_space_time_linear_field_is_exact(theta):
    """T = x t solves rho c T' - k T'' = rho c x: both schemes are exact for it."""
    m = structured("triangle", 3)
    rc = 4.0e6
    case = HeatCase(k=50.0, rho=8000.0, c=500.0, order=1,
                    temperatures=tuple(Temperature(g, lambda x, t: x[:, 0] * t)
                                       for g in ("xmin", "xmax", "ymin", "ymax")),
                    source=lambda x: rc * x[0])
    r = solve_heat_transient(m, case, t_end=10.0, dt=2.5, theta=theta, T0=0.0)
    assert np.allclose(r.times, [0, 2.5, 5, 7.5, 10])
    assert r.history["temperature"].shape == (5, m.n_points)
    exact = m.points[:, 0][None, :] * r.times[:, None]
    assert np.allclose(r.history["temperature"], exact, atol=1e-9)


def test_transient_decay_mode_crank_nicolson_second_order():
    """T = sin(pi x) exp(-k pi^2 t / (rho c)); CN error drops ~4x when dt halves."""
    m = _bar(40)
    k, rc, t_end = 1.0, 1.0, 0.1
    case = HeatCase(k=k, rho=1.0, c=rc, order=2, temperatures=(
        Temperature("left", 0.0), Temperature("right", 0.0)))
    x = m.points[:, 0]
    exact = np.sin(np.pi * x) * np.exp(-k * np.pi**2 * t_end / rc)
    err = []
    for dt in (0.02, 0.01):
        r = solve_heat_transient(m, case, t_end=t_end, dt=dt, theta=0.5, T0=np.sin(np.pi * x))
        err.append(np.abs(r.fields["temperature"] - exact).max())
    assert err[1] < err[0] / 3.5 and err[1] < 2e-4
    r = solve_heat_transient(m, case, t_end=t_end, dt=0.01, theta=1.0, T0=np.sin(np.pi * x))
    assert np.abs(r.fields["temperature"] - exact).max() > 5 * err[1]  # Euler: first order


def test_save_every_keeps_last_state():
    m = _bar(4)
    case = HeatCase(k=1.0, rho=1.0, c=1.0, temperatures=(Temperature("left", 1.0),))
    r = solve_heat_transient(m, case, t_end=1.0, dt=0.1, save_every=4)
    assert np.allclose(r.times, [0.0, 0.4, 0.8, 1.0])


def test_insulated_transient_conserves_energy():
    """No Dirichlet condition is fine in time: a heat flux raises the mean temperature."""
    from physics.skfem_mesh import FEMesh

    m = _bar(10)
    q, rc, t_end = 50.0, 2.0e6, 100.0
    case = HeatCase(k=10.0, rho=1000.0, c=2000.0, fluxes=(HeatFlux("right", q),))
    r = solve_heat_transient(m, case, t_end=t_end, dt=10.0, theta=1.0, T0=20.0)
    b = FEMesh.from_mesh(m).basis(2)
    mean = float((np.asarray(b.interpolate(r.dofs)) * b.dx).sum())  # bar of length 1 m
    assert np.isclose(mean, 20.0 + q * t_end / rc, rtol=1e-12)  # energy in = q t per m^2
    assert r.fields["temperature"][-1] > r.fields["temperature"][0]


def test_heat_errors():
    m = _bar(4)
    with pytest.raises(IllPosedError, match="neither a prescribed temperature"):
        solve_heat(m, HeatCase(k=1.0, source=1.0))
    with pytest.raises(GroupError, match="'top' is not in the mesh; groups: left, right"):
        solve_heat(m, HeatCase(k=1.0, temperatures=(Temperature("top", 0.0),)))
    with pytest.raises(CaseError, match="rho > 0 and c > 0"):
        solve_heat_transient(m, HeatCase(k=1.0, temperatures=(Temperature("left", 0.0),)),
                             t_end=1.0, dt=0.1)
    with pytest.raises(CaseError, match="conductivity k must be > 0"):
        HeatCase(k=0.0)
