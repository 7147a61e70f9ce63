"""Case files: schema validation, clear errors, units, expressions, output writing."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from test_skfem_mesh import structured

import physics
from mesh import CellBlock, Mesh
from mesh.io import read, write
from physics.case import expression, load_case, quantity
from physics.errors import CaseError, GroupError, IllPosedError, InvertedCellsError

REPO = Path(__file__).resolve().parents[2]
LE1 = REPO / "data" / "cases" / "le1.yaml"


@pytest.fixture
def square_mesh(tmp_path) -> Path:
    path = tmp_path / "square.vtu"
    write(structured("triangle", 4), path)
    return path


def _elastic(mesh: Path, **over) -> dict:
    case = {
        "mesh": str(mesh), "physics": "elasticity", "order": 2,
        "material": {"E": "200 GPa", "nu": 0.3, "plane": "stress"},
        "boundary_conditions": [
            {"type": "displacement", "group": "xmin", "value": [0, None]},
            {"type": "displacement", "group": "ymin", "value": [None, 0]}],
        "loads": [{"type": "traction", "group": "xmax", "vector": ["5 MPa", 0]}],
    }
    case.update(over)
    return case


def test_le1_example_case_runs_and_writes_vtu(tmp_path):
    out = tmp_path / "le1.vtu"
    r = physics.solve(LE1, output=out)
    m = r.mesh
    D = int(np.argmin(np.linalg.norm(m.points - [2.0, 0.0], axis=1)))
    assert abs(r.fields["sig22"][D] / 92.7e6 - 1) < 0.02
    back = read(out)
    assert back.n_points == m.n_points
    assert np.allclose(back.point_data["sig22"], r.fields["sig22"])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]  # atomic, cleaned
    assert "elasticity" in r.summary() and str(out) in r.summary()


def test_dict_case_with_units_and_output(square_mesh, tmp_path):
    r = physics.solve(_elastic(square_mesh, output=str(tmp_path / "out.vtu")))
    assert np.allclose(r.fields["sig11"], 5e6)
    assert r.output == tmp_path / "out.vtu" and r.output.exists()
    assert set(read(r.output).point_data) >= {"displacement", "sig11", "von_mises"}


def test_yaml_file_relative_mesh_path(square_mesh, tmp_path):
    case = _elastic(square_mesh.name)
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump(case))
    r = physics.solve(path)
    assert np.allclose(r.fields["sig11"], 5e6)


@pytest.mark.parametrize("change,error,match", [
    ({"materiel": {}}, CaseError, "materiel: unknown key"),
    ({"physics": "fluid"}, CaseError, "physics: Input should be 'elasticity', 'heat'"),
    ({"material": {"E": 1e9}}, CaseError, "missing parameter.*nu.*'elasticity'"),
    ({"material": {"E": "5 mm", "nu": 0.3}}, CaseError, "unit 'mm' is a length; expected a pressure"),
    ({"boundary_conditions": []}, IllPosedError, "no displacement boundary condition"),
    ({"loads": [{"type": "pressure", "group": "outer", "value": 1.0}]}, GroupError,
     r"loads.0 \(pressure\): group 'outer' is not in the mesh; groups: xmax, xmin, ymax, ymin"),
    ({"loads": [{"type": "source", "value": 1.0}]}, CaseError,
     "type 'source' does not apply to physics 'elasticity'"),
    ({"loads": [{"type": "traction", "grup": "xmax", "vector": [1, 0]}]}, CaseError,
     "loads.0.traction.grup: unknown key"),
    ({"order": 3}, CaseError, "order: Input should be 1 or 2"),
])
def test_validation_errors_are_clear(square_mesh, change, error, match):
    case = _elastic(square_mesh, **change)
    with pytest.raises(error, match=match):
        physics.solve(case)


def test_missing_mesh_file(tmp_path):
    with pytest.raises(CaseError, match="mesh file .*nowhere.msh' does not exist"):
        physics.solve(_elastic(tmp_path / "nowhere.msh"))


def test_rigid_body_constraint_allows_no_dirichlet(square_mesh):
    case = _elastic(square_mesh, boundary_conditions=[], rigid_body_constraint=True, loads=[
        {"type": "traction", "group": "xmax", "vector": [1e6, 0]},
        {"type": "traction", "group": "xmin", "vector": [-1e6, 0]}])
    assert np.allclose(physics.solve(case).fields["sig11"], 1e6)


def test_inverted_cells_are_rejected(tmp_path):
    m = structured("triangle", 2)
    t = m.cells[0].data.copy()
    t[0] = t[0, ::-1]
    bad = Mesh(m.points, [CellBlock("triangle", t), *m.cells[1:]], cell_sets=m.cell_sets)
    write(bad, tmp_path / "bad.vtu")
    with pytest.raises(InvertedCellsError, match="1 of the 8 'triangle' cells"):
        physics.solve(_elastic(tmp_path / "bad.vtu"))


def test_heat_transient_case_with_expression_and_xdmf(tmp_path):
    """NAFEMS T3 as a case file: time-dependent expression, XDMF time series output."""
    x = np.linspace(0.0, 0.1, 21)
    bar = Mesh(np.c_[x, np.zeros_like(x)], [
        CellBlock("line", np.c_[np.arange(20), np.arange(1, 21)]),
        CellBlock("vertex", np.array([[0], [20]]))],
        cell_sets={"x0": [np.zeros(0, int), np.array([0])], "x1": [np.zeros(0, int), np.array([1])]})
    write(bar, tmp_path / "bar.vtu")
    case = {
        "mesh": "bar.vtu", "physics": "heat_transient", "order": 2,
        "material": {"k": "35 W/(m K)", "rho": 7200, "c": 440.5},
        "boundary_conditions": [
            {"type": "temperature", "group": "x0", "value": 0},
            {"type": "temperature", "group": "x1", "value": "100*sin(pi*t/40)"}],
        "time": {"t_end": 32, "dt": 0.25, "theta": 0.5, "T0": 0, "save_every": 8},
        "output": "t3.xdmf",
    }
    (tmp_path / "t3.yaml").write_text(yaml.safe_dump(case))
    r = physics.solve(tmp_path / "t3.yaml")
    i = int(np.argmin(np.abs(r.mesh.points[:, 0] - 0.08)))
    assert abs(r.fields["temperature"][i] - 36.6) / 36.6 < 0.02
    assert len(r.times) == 17 and r.output.exists()
    from mesh.io import read_series

    _, times, steps = read_series(r.output)
    assert np.allclose(times, r.times) and np.allclose(steps[-1]["temperature"], r.fields["temperature"])


def test_heat_steady_case_convection(square_mesh):
    case = {"mesh": str(square_mesh), "physics": "heat", "order": 1, "material": {"k": 5.0},
            "boundary_conditions": [{"type": "temperature", "group": "xmin", "value": 100},
                                    {"type": "convection", "group": "xmax", "h": 20, "T_inf": 20}]}
    r = physics.solve(case)
    T1 = (5 * 100 + 20 * 20) / 25
    assert np.allclose(r.fields["temperature"], 100 + (T1 - 100) * r.mesh.points[:, 0])


def test_thermal_field_from_mesh_point_data(tmp_path):
    m = structured("quad", 2)
    write(m.with_point_data(T=np.full(m.n_points, 120.0)), tmp_path / "hot.vtu")
    case = _elastic(tmp_path / "hot.vtu", loads=[{"type": "temperature_field", "field": "T"}])
    case["material"] = {"E": 200e9, "nu": 0.3, "plane": "strain", "alpha": "1e-5 1/K", "T_ref": 20}
    r = physics.solve(case)
    assert np.allclose(r.fields["displacement"], 1.3 * 1e-5 * 100 * m.points)  # (1 + nu) a dT x
    assert np.allclose(r.fields["sig33"], -200e9 * 1e-5 * 100)
    case["loads"] = [{"type": "temperature_field", "field": "Temp"}]
    with pytest.raises(CaseError, match="point field 'Temp' is not in the mesh; point fields: T"):
        physics.solve(case)
    case["loads"] = [{"type": "temperature_field", "value": 50}]
    case["material"]["alpha"] = 0
    with pytest.raises(CaseError, match="no effect with material.alpha = 0"):
        physics.solve(case)


def test_heat_source_expression(square_mesh):
    """-k T'' = s(x) with s = 6 k x and T = 0 at x = 0, 1: T = x - x^3."""
    case = {"mesh": str(square_mesh), "physics": "heat", "order": 2, "material": {"k": 2.0},
            "boundary_conditions": [{"type": "temperature", "group": g, "value": 0}
                                    for g in ("xmin", "xmax")],
            "loads": [{"type": "source", "value": "12*x"}]}
    r = physics.solve(case)
    x = r.mesh.points[:, 0]
    assert np.abs(r.fields["temperature"] - (x - x**3)).max() < 1e-3


def test_quantity_and_expression_helpers():
    assert quantity("10 MPa", "pressure", "x") == 1e7
    assert quantity(3, "length", "x") == 3.0
    with pytest.raises(CaseError, match="unknown unit 'parsec'"):
        quantity("1 parsec", "length", "x")
    f = expression("100*sin(pi*t/40) + x", "bc")
    assert np.allclose(f(np.array([[1.0, 0.0]]), 20.0), 101.0)
    with pytest.raises(CaseError, match="unknown name 'os'"):
        expression("os(1)", "bc")
    with pytest.raises(CaseError, match="'Attribute' not allowed"):
        expression("x.__class__", "bc")
    with pytest.raises(CaseError, match="not allowed"):
        expression("(lambda: 1)()", "bc")


def test_load_case_reports_yaml_location(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("mesh: a.msh\nphysics: heat\nmaterial: {k: 1}\nloads: [{type: source}]\n")
    with pytest.raises(CaseError, match=r"loads.0.source.value: Field required"):
        load_case(p)
