"""Dataset generation (physics/generate.py, physics/recipes.py, apps/generate_command.py).

Tiny sizes throughout: coarse plate2d meshes (~300-450 nodes), two load steps, 1 to 4
samples. One Dask LocalCluster (2 worker processes) is started for the whole module;
the other runs use the in-process mode (``workers=0``).
"""
from __future__ import annotations

import copy
import json
import time

import numpy as np
import pytest
import yaml

from mesh.dataset import Dataset
from physics.generate import GenerateError, generate, run_sample, sample_id, sample_streams
from physics.recipes import RECIPES_DIR, Recipe, RecipeError, available_recipes, load_recipe

FIELDS = ["U1", "U2", "sig11", "sig22", "sig12", "p", "von_mises"]
SCALARS = ["max_von_mises", "max_p", "max_U2_top"]


def tiny(name: str = "plate2d", **geometry) -> dict:
    """The bundled recipe with a coarse mesh and two load steps, as a dict."""
    raw = yaml.safe_load((RECIPES_DIR / f"{name}.yaml").read_text())
    raw["geometry"].update({"mesh_size": 0.12, **geometry})
    if raw["physics"]["solver"] == "viscoplastic":
        raw["physics"]["load"]["steps"] = 2
    return raw


@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory):
    """4 plate2d samples on 2 worker processes, sample 1 made to fail inside its worker."""
    raw = tiny()
    raw["debug"] = {"fail_samples": [1], "error": "ConvergenceError"}
    out = tmp_path_factory.mktemp("gen") / "plate"
    events = []
    ds = generate(load_recipe(raw), 4, out, seed=3, workers=2, test_fraction=0.34,
                  progress=events.append)
    return ds, out, events


def test_plate2d_dataset_has_declared_finite_fields_and_consistent_scalars(cluster_run):
    ds = cluster_run[0]
    assert ds.ids == ["s00000", "s00002", "s00003"]
    assert list(ds.problem.outputs) == FIELDS and list(ds.problem.output_scalars) == SCALARS
    assert ds.problem.inputs["P"].unit == "MPa"
    sizes = {e.n_points for e in ds.entries}
    assert len(sizes) == 3, f"every sample has its own mesh; node counts {sizes}"
    for s in ds:
        assert s.mesh.dim == 2 and "top" in s.mesh.groups
        for name in FIELDS:
            assert s.fields[name].shape == (s.n_points,) and np.isfinite(s.fields[name]).all()
        assert s.scalars["max_von_mises"] == pytest.approx(s.fields["von_mises"].max(), rel=1e-12)
        assert s.scalars["max_p"] == pytest.approx(s.fields["p"].max(), rel=1e-12, abs=1e-15)
        top = s.mesh.group_nodes("top")
        assert s.scalars["max_U2_top"] == pytest.approx(s.fields["U2"][top].max(), rel=1e-12)
        assert 100.0 <= s.inputs["P"] <= 250.0 and 200.0 <= s.inputs["sigma_y"] <= 350.0
        # physics: the plate is pulled upwards and the top moves up; stresses are MPa-scale
        assert s.scalars["max_U2_top"] > 0 and 1e7 < s.scalars["max_von_mises"] < 2e9
        assert (s.fields["p"] >= -1e-12).all()
    assert sorted(ds.splits["train"] + ds.splits["test"]) == ds.ids and len(ds.splits["test"]) == 1
    assert any(s.scalars["max_p"] > 0 for s in ds), "plasticity develops in some samples"


def test_failure_is_recorded_and_the_others_are_written(cluster_run):
    ds, out, events = cluster_run
    prov = ds.manifest.provenance
    assert prov["failures"] == [{"id": "s00001", "index": 1, "error": "ConvergenceError",
                                 "message": "injected failure of sample 1 (recipe debug.fail_samples)"}]
    assert prov["counts"]["failed"] == 1 and prov["counts"]["written"] == 3
    assert sorted(e.status for e in events) == ["done", "done", "done", "failed"]
    assert not (out / "samples" / "s00001.vtu").exists()


def test_manifest_provenance(cluster_run):
    ds, out, _ = cluster_run
    prov = ds.manifest.provenance
    assert prov["seed"] == 3 and prov["n"] == 4 and prov["recipe"]["name"] == "plate2d"
    assert prov["recipe"]["geometry"]["mesh_size"] == 0.12
    assert prov["solver_settings"]["load"]["steps"] == 2
    assert {"numpy", "scipy", "scikit-fem", "gmsh", "mesh-surrogates"} <= set(prov["packages"])
    assert prov["wall_time_s"] > 0
    records = json.loads((out / prov["samples_file"]).read_text())
    assert sorted(records) == ds.ids
    for sid, rec in records.items():
        assert rec["geometry"]["family"] == "plate2d"
        assert rec["geometry"]["seed"] == rec["geometry_seed"]
        assert rec["n_points"] == ds[sid].n_points
        assert rec["timings"]["solve_s"] > 0 and rec["solver"]["time_steps"] >= 2


def test_same_seed_gives_identical_samples_in_process_and_on_two_workers(cluster_run, tmp_path):
    ds2, _, _ = cluster_run
    raw = tiny()
    a = generate(load_recipe(raw), 3, tmp_path / "a", seed=3, workers=0, test_fraction=0.34)
    b = generate(load_recipe(raw), 3, tmp_path / "b", seed=3, workers=0, test_fraction=0.34)
    for sid in ("s00000", "s00002"):
        sa, sb, s2 = a[sid], b[sid], ds2[sid]
        np.testing.assert_array_equal(sa.mesh.points, sb.mesh.points)
        np.testing.assert_array_equal(sa.mesh.points, s2.mesh.points)
        assert sa.inputs == sb.inputs == s2.inputs
        for name in FIELDS:
            np.testing.assert_array_equal(sa.fields[name], sb.fields[name])
            np.testing.assert_array_equal(sa.fields[name], s2.fields[name])  # bit-identical
    assert a.splits == b.splits
    c = generate(load_recipe(raw), 1, tmp_path / "c", seed=4, workers=0)
    assert c[0].inputs != a[0].inputs


def test_sample_streams_do_not_depend_on_n():
    g1, r1, _ = sample_streams(7, 5)
    child = np.random.SeedSequence(7).spawn(6)[5]
    geo, inp, _ = child.spawn(3)
    assert g1 == int(geo.generate_state(1, np.uint32)[0])
    assert r1.random() == np.random.default_rng(inp).random()
    assert sample_streams(7, 4)[0] != g1 and sample_streams(8, 5)[0] != g1
    assert sample_id(12) == "s00012"


def test_resume_skips_complete_samples_and_cleans_leftovers(tmp_path):
    recipe = load_recipe(tiny())
    out = tmp_path / "ds"
    first = generate(recipe, 4, out, seed=1, workers=0)
    ref = first["s00002"].fields["von_mises"].copy()
    files = {i: out / "samples" / f"{sample_id(i)}.vtu" for i in range(4)}
    old = {i: files[i].stat().st_mtime_ns for i in range(4)}
    files[2].unlink()
    leftover = out / "samples" / ".tmp-s00002.vtu-abc123"
    leftover.mkdir()
    (leftover / "s00002.vtu").write_text("<VTKFile half-written")
    time.sleep(0.01)
    events = []
    ds = generate(recipe, 4, out, seed=1, workers=0, progress=events.append)
    assert [(e.id, e.status) for e in events] == [
        ("s00000", "skipped"), ("s00001", "skipped"), ("s00003", "skipped"), ("s00002", "done")]
    for i in (0, 1, 3):
        assert files[i].stat().st_mtime_ns == old[i], f"sample {i} was recomputed"
    assert not leftover.exists()
    assert ds.ids == [sample_id(i) for i in range(4)] and len(Dataset(out)) == 4
    np.testing.assert_array_equal(ds["s00002"].fields["von_mises"], ref)
    assert ds.manifest.provenance["counts"]["resumed"] == 3
    with pytest.raises(GenerateError, match=r"seed 1 \(not 2\)"):
        generate(recipe, 4, out, seed=2, workers=0)
    other = tiny()
    other["inputs"]["P"]["high"] = 300.0
    with pytest.raises(GenerateError, match="another recipe"):
        generate(load_recipe(other), 4, out, seed=1, workers=0)


def test_real_convergence_failure_of_every_sample_is_reported(tmp_path):
    raw = tiny()
    raw["physics"]["solver_options"] = {"max_iter": 1, "rtol": 1e-14, "dt_min": 0.4}
    with pytest.raises(GenerateError, match="no sample could be made.*ConvergenceError"):
        generate(load_recipe(raw), 1, tmp_path / "ds", workers=0)
    prov = Dataset(tmp_path / "ds").manifest.provenance
    assert prov["failures"][0]["error"] == "ConvergenceError"
    assert "viscoplastic solve failed" in prov["failures"][0]["message"]


def _bad(raw: dict, *fragments: str) -> None:
    with pytest.raises(RecipeError) as exc:
        load_recipe(raw)
    for f in fragments:
        assert f in str(exc.value), str(exc.value)


def test_bad_recipes_give_errors_naming_the_key():
    raw = tiny()
    r = copy.deepcopy(raw); r["geometry"]["meshsize"] = 0.1
    _bad(r, "geometry.meshsize", "unknown key")
    r = copy.deepcopy(raw); r["physics"]["material"]["youngs"] = 1.0
    _bad(r, "physics.viscoplastic.material.youngs", "unknown key")
    r = copy.deepcopy(raw); r["physics"]["boundary_conditions"][1]["group"] = "tpo"
    _bad(r, "physics.boundary_conditions.1.group", "'tpo'", "bottom, top, left, right, plate")
    r = copy.deepcopy(raw); r["outputs"]["scalars"]["max_U2_top"]["group"] = "hole"
    _bad(r, "outputs.scalars.max_U2_top.group", "'hole'")
    r = copy.deepcopy(raw); r["geometry"]["family"] = "plate3d"
    _bad(r, "unknown geometry family 'plate3d'", "plate2d, holeplate2d, blade3d, heat2d")
    r = copy.deepcopy(raw); r["physics"]["boundary_conditions"][1]["vector"] = [0.0, "Q"]
    _bad(r, "physics.boundary_conditions.1.vector.1", "'Q'", "inputs: P, sigma_y")
    r = copy.deepcopy(raw); r["inputs"]["P"]["unit"] = "mm"
    _bad(r, "input 'P' has unit 'mm' (length)", "pressure")
    r = copy.deepcopy(raw); r["inputs"]["T"] = {"low": 1.0, "high": 2.0}
    _bad(r, "inputs: T not used")
    r = copy.deepcopy(raw); r["outputs"]["fields"]["sig33x"] = {}
    _bad(r, "outputs.fields.sig33x", "does not produce")
    r = copy.deepcopy(raw); r["inputs"]["P"]["low"] = 300.0
    _bad(r, "inputs.P", "low must be < high")
    r = copy.deepcopy(raw); r["physics"]["solver"] = "plasticity"
    _bad(r, "physics", "plasticity")
    r = copy.deepcopy(raw); r["geometry"]["options"] = {"widht": 2.0}
    _bad(r, "widht", "width, height")
    with pytest.raises(RecipeError, match="unknown recipe 'plate9d'.*plate2d"):
        load_recipe("plate9d")
    with pytest.raises(RecipeError, match="does not exist"):
        load_recipe("nowhere/recipe.yaml")


def test_bundled_recipes_validate_and_numeric_text_is_a_number():
    assert {"plate2d", "holeplate2d", "blade3d", "heat2d"} <= set(available_recipes())
    for name in available_recipes():
        assert isinstance(load_recipe(name), Recipe)
    raw = tiny()
    raw["physics"]["material"]["young"] = "200e9"  # YAML 1.1 reads this as text
    assert load_recipe(raw).physics.material.young == 200e9


def _tiny_heat(steps: int = 4) -> dict:
    raw = tiny("heat2d", mesh_size=0.25)
    raw["physics"].update(steps=steps, t_end=float(steps))
    return raw


def test_heat2d_writes_time_series_samples(tmp_path):
    ds = generate(load_recipe(_tiny_heat(4)), 2, tmp_path / "heat", workers=0, test_fraction=0.5)
    assert ds.time_dependent and len(ds) == 2
    s = ds[0]
    np.testing.assert_allclose(s.times, [0.0, 1.0, 2.0, 3.0, 4.0])
    T, q = s.fields["temperature"], s.input_fields["heat_source"]
    assert T.shape == q.shape == (5, s.n_points)
    np.testing.assert_allclose(T[0], 293.15)  # initial state, then heated
    assert (T[-1].max() > T[1].max() > 293.15) and q.max() > 0
    assert s.scalars["max_temperature"] == pytest.approx(T.max())
    cooled = s.mesh.group_nodes("cooled")
    assert s.scalars["max_temperature_cooled"] == pytest.approx(T[:, cooled].max())
    moved = np.argmax(q[1]) != np.argmax(q[-1])
    assert moved, "the source moves"


def test_heat2d_energy_balance_without_convection():
    """Insulated: the heat stored, integral of rho c (T - T0), equals power x time."""
    from mesh.mass import mass_matrix

    raw = _tiny_heat(3)
    raw["inputs"]["h"] = {"distribution": "constant", "value": 0.0, "unit": "W/(m^2 K)"}
    raw["physics"]["source"]["path_radius"] = 0.002  # the Gaussian stays far from the boundary
    raw["geometry"]["mesh_size"] = 0.08
    o = run_sample(load_recipe(raw), 0, 0)
    assert o.status == "done", o.failure
    s = o.sample
    rho_c = 7800.0 * 460.0
    stored = rho_c * mass_matrix(s.mesh).dot(s.fields["temperature"][-1] - 293.15).sum()
    assert stored == pytest.approx(s.inputs["power"] * 3.0, rel=1e-4)


def test_scheduler_address(tmp_path):
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0",
                      scheduler_kwargs={"dashboard": False}) as cluster:
        ds = generate(load_recipe(tiny()), 1, tmp_path / "ds", scheduler=cluster.scheduler_address)
    assert len(ds) == 1 and ds.manifest.provenance["parallel"]["scheduler"] == cluster.scheduler_address
    with pytest.raises(GenerateError, match="not both"):
        generate(load_recipe(tiny()), 1, tmp_path / "x", workers=2, scheduler="tcp://x:1")


def test_holeplate2d_and_blade3d_samples():
    hp = run_sample(load_recipe(tiny("holeplate2d", mesh_size=0.15)), 0, 0)
    assert hp.status == "done", hp.failure
    s = hp.sample
    assert set(s.fields) == {"U1", "U2", "sig11", "sig22", "sig12", "von_mises"}
    assert s.scalars["max_von_mises"] == pytest.approx(s.fields["von_mises"].max())
    assert s.scalars["max_von_mises"] > 1e6 * s.inputs["P"]  # stress concentration at the hole
    bl = run_sample(load_recipe(tiny("blade3d", mesh_size=0.25)), 0, 0)
    assert bl.status == "done", bl.failure
    s = bl.sample
    assert s.fields["U"].shape == (s.n_points, 3) and s.mesh.dim == 3
    T = s.input_fields["temperature"]
    z = s.mesh.points[:, 2]
    assert T.shape == (s.n_points,) and np.corrcoef(z, T)[0, 1] > 0.5  # hotter towards the tip
    root = s.mesh.group_nodes("root")
    np.testing.assert_allclose(s.fields["U"][root], 0.0, atol=1e-15)
    assert 0.0 <= s.mesh.points[:, 2].min() and s.mesh.points[:, 2].max() < 0.25  # length_scale


def test_run_generate_prints_progress_summary_and_location(tmp_path, capsys):
    from apps.generate_command import run_generate

    path = tmp_path / "r.yaml"
    raw = tiny()
    raw["debug"] = {"fail_samples": [0]}
    path.write_text(yaml.safe_dump(raw))
    ds = run_generate(str(path), 2, tmp_path / "ds", seed=0, workers=0, scheduler=None,
                      test_fraction=0.0)
    text = capsys.readouterr()
    out = text.out + text.err
    assert len(ds) == 1 and ds.splits == {"train": ["s00001"], "test": []}
    assert "1 sample(s) failed" in out and "s00000: ConvergenceError" in out
    assert str(tmp_path / "ds") in out.replace("\n", "")
