"""The linear elastic limit of a recipe (physics/elastic_limit.py, physics/fast_p1.py).

Coarse single samples of the bundled recipes (~300-500 nodes) made with run_sample.
"""
from __future__ import annotations

import numpy as np
import pytest
import skfem
import yaml
from skfem.models.elasticity import lame_parameters, linear_elasticity

from physics.elastic_limit import ElasticLimit, lumped_stresses
from physics.errors import CaseError
from physics.fast_p1 import tri_p1_stiffness
from physics.generate import run_sample, solve_physics
from physics.recipes import RECIPES_DIR, load_recipe

STRESS = ["sig11", "sig22", "sig12", "von_mises"]


def recipe(name: str, **inputs) -> dict:
    """A bundled recipe, coarse, two load steps; ``inputs`` replace input ranges by values."""
    raw = yaml.safe_load((RECIPES_DIR / f"{name}.yaml").read_text())
    raw["geometry"]["mesh_size"] = 0.12
    if raw["physics"]["solver"] == "viscoplastic":
        raw["physics"]["load"]["steps"] = 2
    for k, v in inputs.items():
        raw["inputs"][k] = {"distribution": "constant", "value": v, "unit": raw["inputs"][k]["unit"]}
    return raw


def sample(raw: dict, index: int = 0):
    out = run_sample(load_recipe(raw), index, seed=3)
    assert out.status == "done", out.failure
    return out.sample


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def test_limit_of_a_viscoplastic_sample_that_stays_elastic_is_its_solution():
    """Same discretisation and nodal recovery as the recipe's own solver: equal to round-off."""
    raw = recipe("plate2d", P=40.0, sigma_y=2000.0)  # far below yield everywhere
    s = sample(raw)
    assert np.abs(s.fields["p"]).max() == 0.0
    limit = ElasticLimit(raw)
    assert limit.fields == ["U1", "U2", "sig11", "sig22", "sig12", "von_mises"]
    got = limit.solve(s.mesh, s.inputs)
    for name in limit.fields:
        assert rel(got[name], s.fields[name]) < 1e-9, name
    # and the limit scales with the load, as a linear solution does
    double = limit.solve(s.mesh, {**s.inputs, "P": 80.0})
    np.testing.assert_allclose(double["U2"], 2.0 * got["U2"], rtol=1e-9, atol=1e-15)


def test_limit_of_a_plastic_sample_differs_where_it_yields():
    raw = recipe("plate2d", P=240.0, sigma_y=200.0)
    s = sample(raw)
    got = ElasticLimit(raw).solve(s.mesh, s.inputs)
    assert s.fields["p"].max() > 1e-3
    assert np.abs(s.fields["U2"]).max() > 1.2 * np.abs(got["U2"]).max()  # plastic flow adds displacement


def test_fast_p1_solve_equals_the_scikit_fem_solver():
    """The vectorised P1 plane-strain assembly and solve against physics.elasticity's."""
    raw = recipe("plate2d", P=150.0, sigma_y=250.0)
    s = sample(raw, 1)
    limit = ElasticLimit(raw)
    fast = limit.solve(s.mesh, s.inputs)
    si = limit.recipe.inputs_si(s.inputs)
    ref = solve_physics(s.mesh, limit.physics, si, np.random.default_rng(0)).fields
    for name in ("U1", "U2"):
        assert rel(fast[name], ref[name]) < 1e-9, name
    # the stresses are recovered differently (lumped, not consistent, mass), but agree in the mean
    for name in ("sig11", "sig22", "sig12"):
        err = np.sqrt(np.mean((fast[name] - ref[name]) ** 2)) / np.abs(ref[name]).max()
        assert 1e-6 < err < 0.05, name


def test_triangle_stiffness_equals_scikit_fem_assembly():
    m = skfem.MeshTri().refined(2)
    m = skfem.MeshTri(m.p + 0.05 * np.sin(3 * m.p[::-1]), m.t)  # distorted cells
    basis = skfem.Basis(m, skfem.ElementVector(skfem.ElementTriP1()))
    lam, mu = lame_parameters(200e9, 0.3)
    ref = linear_elasticity(lam, mu).assemble(basis).toarray()
    got = tri_p1_stiffness(m.p.T, m.t.T, lam, mu).toarray()
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10 * np.abs(ref).max())


def test_lumped_stresses_of_a_uniform_strain_are_exact():
    m = skfem.MeshTri().refined(2)
    e11, e22, e12 = 1e-3, -4e-4, 2.5e-4
    x, y = m.p
    u = np.stack([e11 * x + e12 * y, e12 * x + e22 * y], axis=1)
    E, nu = 200e9, 0.3
    s = lumped_stresses(m.p.T, m.t.T, u, E, nu)
    lam, mu = E * nu / ((1 + nu) * (1 - 2 * nu)), E / (2 * (1 + nu))
    expect = {"sig11": lam * (e11 + e22) + 2 * mu * e11, "sig22": lam * (e11 + e22) + 2 * mu * e22,
              "sig33": lam * (e11 + e22), "sig12": 2 * mu * e12}
    for k, v in expect.items():
        np.testing.assert_allclose(s[k], v, rtol=1e-10)
    vm = np.sqrt(0.5 * ((expect["sig11"] - expect["sig22"]) ** 2 + (expect["sig22"] - expect["sig33"]) ** 2
                        + (expect["sig33"] - expect["sig11"]) ** 2) + 3 * expect["sig12"] ** 2)
    np.testing.assert_allclose(s["von_mises"], vm, rtol=1e-10)


def test_an_elasticity_recipe_is_its_own_limit():
    raw = recipe("holeplate2d")
    s = sample(raw)
    got = ElasticLimit(raw).solve(s.mesh, s.inputs)
    for name in ("U1", "U2", *STRESS):
        assert rel(got[name], s.fields[name]) < 1e-9, name


def test_bad_recipes_meshes_and_inputs_get_clear_errors():
    with pytest.raises(CaseError, match="solves 'heat_transient'; an elastic limit exists for elasticity"):
        ElasticLimit("heat2d")
    raw = recipe("plate2d", P=40.0, sigma_y=2000.0)
    s = sample(raw)
    limit = ElasticLimit(raw)
    with pytest.raises(CaseError, match="needs input.*sigma_y"):
        limit.solve(s.mesh, {"P": 40.0})
    bare = s.mesh.without_data()
    bare.cell_sets.pop("top")
    with pytest.raises(CaseError, match="lacks group.*top"):
        limit.solve(bare, s.inputs)
