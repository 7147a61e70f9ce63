"""PLAID import/export on the real car-surface dataset, read back with pyplaid itself."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from mesh.core import CellBlock, Mesh
from mesh.dataset import Dataset, DatasetWriter, Sample
from mesh.errors import DatasetError
from mesh.plaid import export_plaid, import_plaid
from mesh.problem import Feature, ProblemDefinition

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CAR = DATA / "plaid_car_surface"
BASE = "Base_2_3"


@pytest.fixture(scope="module")
def car() -> Path:
    if not CAR.is_dir():
        pytest.skip(f"real PLAID data not found at {CAR} (the shared data folder is absent)")
    return CAR


@pytest.fixture(scope="module")
def car_ds(car, tmp_path_factory) -> Dataset:
    return import_plaid(car, tmp_path_factory.mktemp("car") / "ds")


@pytest.fixture(scope="module")
def car_export(car_ds, tmp_path_factory) -> Path:
    return export_plaid(car_ds, tmp_path_factory.mktemp("car_export") / "plaid")


def _h5_sample(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(points (N, 3), triangles (C, 3) 0-based, pressure (N,)) read directly with h5py."""
    import h5py

    with h5py.File(path, "r") as f:
        z = f[f"{BASE}/Zone"]
        pts = np.stack([z[f"GridCoordinates/Coordinate{c}/ data"][()] for c in "XYZ"], axis=1)
        tri = z["Elements_TRI_3/ElementConnectivity/ data"][()].reshape(-1, 3) - 1
        return pts, tri, z["VertexFields/pressure/ data"][()]


def _source_file(split: str, number: int) -> Path:
    return CAR / "data" / split / f"sample_{number:09d}" / "meshes" / "mesh_000000000.cgns"


def _copy_plaid(src: Path, dst: Path, per_split: int | None = None) -> Path:
    """Writable copy of a PLAID folder (the shared data is read-only), optionally fewer samples."""
    dst.mkdir(parents=True)
    shutil.copyfile(src / "infos.yaml", dst / "infos.yaml")
    (dst / "problem_definitions").mkdir()
    for p in (src / "problem_definitions").iterdir():
        shutil.copyfile(p, dst / "problem_definitions" / p.name)
    for split_dir in sorted((src / "data").iterdir()):
        for sample in sorted(split_dir.iterdir())[:per_split]:
            target = dst / "data" / split_dir.name / sample.name / "meshes"
            target.mkdir(parents=True)
            for m in (sample / "meshes").iterdir():
                shutil.copyfile(m, target / m.name)
    return dst


def _square(n: int = 3) -> Mesh:
    """An n x n grid of the unit square in triangles, with a 'left' point group."""
    g = np.linspace(0.0, 1.0, n + 1)
    X, Y = np.meshgrid(g, g, indexing="ij")
    pts = np.stack([X.ravel(), Y.ravel()], 1)
    idx = np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    tri = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    return Mesh(pts, (CellBlock("triangle", tri),), point_sets={"left": np.flatnonzero(pts[:, 0] == 0)})


def _synthetic(root: Path, *, time_dependent: bool = False) -> Dataset:
    problem = ProblemDefinition(inputs={"P": Feature(), "Re": Feature()},
                                input_fields={"sdf": Feature()},
                                outputs={"u": Feature()}, output_scalars={"drag": Feature()})
    mesh = _square()
    x = mesh.points[:, 0]
    times = np.array([0.0, 0.5, 1.0])
    with DatasetWriter(root, "synthetic", problem, time_dependent=time_dependent) as w:
        for k in range(4):
            P, Re = 1.0 + k, 100.0 * (k + 1)
            u = np.sin(P * x) + Re
            if time_dependent:
                u, sdf = np.stack([u * (1 + t) for t in times]), np.stack([x + t for t in times])
            else:
                sdf = x - 0.5
            w.add(Sample(f"s{k}", mesh, {"P": P, "Re": Re}, {"u": u}, {"drag": 0.1 * k},
                         {"sdf": sdf}, times if time_dependent else None))
        return w.finish({"train": ["s0", "s1", "s2"], "test": ["s3"]})


# ------------------------------------------------------------------------ import
def test_import_car_layout(car_ds, car):
    assert len(car_ds) == 20
    assert {k: len(v) for k, v in car_ds.splits.items()} == {"train": 10, "test": 10}
    assert car_ds.splits["train"][0] == "train_000000000" and car_ds.splits["test"][9] == "test_000000009"
    assert list(car_ds.problem.outputs) == ["pressure"] and not car_ds.problem.inputs
    assert all(e.n_points == 3586 and e.n_cells == 7168 for e in car_ds.entries)
    prov = car_ds.manifest.provenance
    assert prov["source"] == str(car.resolve())
    assert prov["license"] == "cc-by-4.0" and prov["owner"].startswith("NeuralOperator")
    assert prov["plaid_problem_definition"] == "regression_1"
    assert prov["plaid_samples"]["test_000000003"] == "data/test/sample_000000003"
    assert prov["plaid_features"]["outputs"] == {"pressure": f"{BASE}/Zone/VertexFields/pressure"}


def test_import_car_values_equal_h5py(car_ds):
    for split in ("train", "test"):
        for number in range(10):
            s = car_ds[f"{split}_{number:09d}"]
            pts, tri, p = _h5_sample(_source_file(split, number))
            assert s.mesh.points.shape == (3586, 3) and s.mesh.cell_types == ["triangle"]
            np.testing.assert_array_equal(s.mesh.points, pts)
            np.testing.assert_array_equal(s.mesh.cells_of_type("triangle"), tri)
            np.testing.assert_array_equal(s.fields["pressure"], p)


# ------------------------------------------------------------------------ export
def test_export_car_loads_in_pyplaid(car_export, car_ds):
    from plaid.storage import init_from_disk, load_infos_from_disk, load_problem_definitions_from_disk

    datasets, converters = init_from_disk(car_export)
    assert sorted(datasets) == ["test", "train"]
    infos = load_infos_from_disk(car_export)
    assert infos.license == "cc-by-4.0" and infos.num_samples == {"train": 10, "test": 10}
    pb = load_problem_definitions_from_disk(car_export)["regression_1"]
    assert pb.output_features == [f"{BASE}/Zone/VertexFields/pressure"]
    assert f"{BASE}/Zone/GridCoordinates/CoordinateZ" in pb.input_features
    assert pb.train_split == {"train": "all"} and pb.test_split == {"test": "all"}
    for split in ("train", "test"):
        assert list(datasets[split].ids) == list(range(10))
        for idx in datasets[split].ids:
            ps = converters[split].to_plaid(datasets[split], int(idx))
            pts, tri, p = _h5_sample(_source_file(split, int(idx)))
            ours = car_ds[car_ds.splits[split][int(idx)]]
            for ref in (pts, ours.mesh.points):
                np.testing.assert_array_equal(ps.get_nodes(zone="Zone", base=BASE), ref)
            np.testing.assert_array_equal(ps.get_elements(zone="Zone", base=BASE)["TRI_3"], tri)
            np.testing.assert_array_equal(ps.get_field("pressure", zone="Zone", base=BASE), p)
            np.testing.assert_array_equal(ps.get_feature_by_path(pb.output_features[0]), p)


def test_export_car_reimports_identically(car_export, car_ds, tmp_path):
    again = import_plaid(car_export, tmp_path / "again")
    assert again.splits == car_ds.splits and again.problem.outputs.keys() == car_ds.problem.outputs.keys()
    for sid in ("train_000000004", "test_000000007"):
        a, b = again[sid], car_ds[sid]
        np.testing.assert_array_equal(a.mesh.points, b.mesh.points)
        np.testing.assert_array_equal(a.mesh.cells[0].data, b.mesh.cells[0].data)
        np.testing.assert_array_equal(a.fields["pressure"], b.fields["pressure"])


def test_export_scalars_read_by_pyplaid(tmp_path):
    from plaid.storage import init_from_disk, load_problem_definitions_from_disk

    ds = _synthetic(tmp_path / "syn")
    out = export_plaid(ds, tmp_path / "plaid")
    pb = load_problem_definitions_from_disk(out)["problem"]
    assert {"Global/P", "Global/Re", "Base_2_2/Zone/VertexFields/sdf"} <= set(pb.input_features)
    assert set(pb.output_features) == {"Global/drag", "Base_2_2/Zone/VertexFields/u"}
    datasets, converters = init_from_disk(out)
    assert {k: len(v) for k, v in datasets.items()} == {"train": 3, "test": 1}
    for split, ids in ds.splits.items():
        for idx, sid in enumerate(ids):
            ps, s = converters[split].to_plaid(datasets[split], idx), ds[sid]
            assert ps.get_global("P") == s.inputs["P"] and ps.get_global("Re") == s.inputs["Re"]
            assert ps.get_global("drag") == s.scalars["drag"]
            np.testing.assert_array_equal(ps.get_nodes(zone="Zone", base="Base_2_2"), s.mesh.points)
            np.testing.assert_array_equal(ps.get_field("u", zone="Zone", base="Base_2_2"), s.fields["u"])
            np.testing.assert_array_equal(ps.get_field("sdf", zone="Zone", base="Base_2_2"),
                                          s.input_fields["sdf"])
    back = import_plaid(out, tmp_path / "back")
    assert back.problem.scalar_names == ["P", "Re"] and list(back.problem.output_scalars) == ["drag"]
    assert list(back.problem.input_fields) == ["sdf"]
    s = back["train_000000001"]
    assert s.inputs == ds["s1"].inputs and s.scalars == ds["s1"].scalars
    np.testing.assert_array_equal(s.mesh.point_sets["left"], ds["s1"].mesh.point_sets["left"])
    order = [f"train_00000000{k}" for k in range(3)] + ["test_000000000"]
    np.testing.assert_array_equal(back.subset(order).inputs_array(), ds.inputs_array())
    np.testing.assert_array_equal(back.subset(order).scalars_array(), ds.scalars_array())


def test_export_time_series_round_trip(tmp_path):
    from plaid.storage import init_from_disk

    ds = _synthetic(tmp_path / "syn", time_dependent=True)
    out = export_plaid(ds, tmp_path / "plaid")
    datasets, converters = init_from_disk(out)
    ps, s = converters["test"].to_plaid(datasets["test"], 0), ds["s3"]
    assert ps.get_all_time_values() == [0.0, 0.5, 1.0]
    for k, t in enumerate(s.times):
        np.testing.assert_array_equal(ps.get_field("u", zone="Zone", base="Base_2_2", time=t), s.fields["u"][k])
        assert ps.get_global("P", time=t) == s.inputs["P"]
    assert [p.name for p in sorted((out / "data/test/sample_000000000/meshes").iterdir())] == [
        f"mesh_00000000{k}.cgns" for k in range(3)]
    back = import_plaid(out, tmp_path / "back")
    assert back.time_dependent
    b = back["test_000000000"]
    np.testing.assert_array_equal(b.times, s.times)
    np.testing.assert_array_equal(b.fields["u"], s.fields["u"])
    np.testing.assert_array_equal(b.input_fields["sdf"], s.input_fields["sdf"])
    assert b.inputs == s.inputs and b.scalars == s.scalars


def test_import_global_base_written_first(tmp_path):
    """pyplaid puts the Global base first when scalars are added before the mesh."""
    import CGNS.PAT.cgnslib as CGL
    from plaid import Infos, ProblemDefinition as PlaidProblem, Sample as PlaidSample
    from plaid.storage import save_to_disk

    mesh = _square(2)

    def make(k: int) -> PlaidSample:
        ps = PlaidSample()
        ps.add_global("angle", np.array([0.1 * k]), time=0.0)
        ps.init_base(2, 2, "Base_2_2", time=0.0)
        zone = ps.init_zone(np.array([[mesh.n_points, mesh.n_cells, 0]]), zone="Zone", base="Base_2_2")
        ps.set_nodes(mesh.points, zone="Zone", base="Base_2_2")
        CGL.newElements(zone, "Elements_TRI_3", "TRI_3", np.array([1, mesh.n_cells]),
                        mesh.cells[0].data.ravel() + 1)
        ps.add_field("T", mesh.points[:, 0] * k, zone="Zone", base="Base_2_2")
        return ps

    pb = PlaidProblem(input_features=["Global/angle"], output_features=["Base_2_2/Zone/VertexFields/T"],
                      train_split={"train": [0, 2]}, test_split={"train": [1]})
    save_to_disk(tmp_path / "src", make, ids={"train": [0, 1, 2]}, infos=Infos(owner="o", license="l"),
                 backend="cgns", pb_defs={"pb": pb})
    import h5py

    with h5py.File(tmp_path / "src/data/train/sample_000000000/meshes/mesh_000000000.cgns") as f:
        assert [k for k in f if not k.startswith(" ")] == ["CGNSLibraryVersion", "Global", "Base_2_2"]
    ds = import_plaid(tmp_path / "src", tmp_path / "ds")
    assert ds.splits == {"train": ["train_000000000", "train_000000002"], "test": ["train_000000001"]}
    s = ds["train_000000002"]
    assert s.inputs == {"angle": pytest.approx(0.2)}
    np.testing.assert_array_equal(s.mesh.points, mesh.points)
    np.testing.assert_array_equal(s.mesh.cells[0].data, mesh.cells[0].data)
    np.testing.assert_array_equal(s.fields["T"], mesh.points[:, 0] * 2)


def test_export_is_atomic(car_ds, tmp_path, monkeypatch):
    import mesh.plaid as mp

    out = tmp_path / "plaid"
    calls = []
    real = mp._to_plaid_sample

    def failing(*args):
        calls.append(1)
        if len(calls) > 3:
            raise RuntimeError("simulated failure")
        return real(*args)

    monkeypatch.setattr(mp, "_to_plaid_sample", failing)
    with pytest.raises(RuntimeError, match="simulated"):
        export_plaid(car_ds, out)
    assert not out.exists() and list(tmp_path.iterdir()) == []
    out.mkdir()
    with pytest.raises(DatasetError, match="already exists"):
        export_plaid(car_ds, out)


# ------------------------------------------------------------------------ resume
def test_import_resumes_after_crash(car, tmp_path, monkeypatch):
    out = tmp_path / "ds"
    real_add = DatasetWriter.add
    written: list[str] = []

    def crash_after_5(self, sample):
        if len(written) == 5:
            raise RuntimeError("simulated crash")
        written.append(sample.id)
        return real_add(self, sample)

    monkeypatch.setattr(DatasetWriter, "add", crash_after_5)
    with pytest.raises(RuntimeError, match="simulated crash"):
        import_plaid(car, out)
    samples = out / "samples"
    assert sorted(p.stem for p in samples.iterdir()) == sorted(written)  # nothing half-written
    assert not (out / "dataset.yaml").exists()
    # a crash in the middle of a write leaves a temp folder; a truncated file must not count
    (samples / ".tmp-train_000000009.vtu-x").mkdir()
    (samples / ".tmp-train_000000009.vtu-x" / "train_000000009.vtu").write_text("<VTKFile")
    whole = (samples / f"{written[0]}.vtu").read_bytes()
    (samples / "train_000000009.vtu").write_bytes(whole[: len(whole) // 2])

    redone: list[str] = []

    def counting(self, sample):
        redone.append(sample.id)
        return real_add(self, sample)

    monkeypatch.setattr(DatasetWriter, "add", counting)
    seen: list[str] = []
    ds = import_plaid(car, out, progress=seen.append)
    assert len(ds) == 20 and len(seen) == 20
    assert sorted(redone) == sorted(set(ds.ids) - set(written))
    assert "train_000000009" in redone
    assert not [p for p in samples.iterdir() if p.name.startswith(".tmp-")]
    for sid in ds.ids:
        split, number = sid.split("_")
        pts, tri, p = _h5_sample(_source_file(split, int(number)))
        s = ds[sid]
        np.testing.assert_array_equal(s.mesh.points, pts)
        np.testing.assert_array_equal(s.fields["pressure"], p)


# ------------------------------------------------------------------------ errors
def test_missing_infos_is_named(car, tmp_path):
    src = _copy_plaid(car, tmp_path / "src", per_split=1)
    (src / "infos.yaml").unlink()
    with pytest.raises(DatasetError, match=r"infos\.yaml"):
        import_plaid(src, tmp_path / "ds")


def test_corrupted_cgns_is_named(car, tmp_path):
    src = _copy_plaid(car, tmp_path / "src", per_split=2)
    bad = src / "data/train/sample_000000001/meshes/mesh_000000000.cgns"
    bad.write_bytes(bad.read_bytes()[:5000])
    with pytest.raises(DatasetError) as err:
        import_plaid(src, tmp_path / "ds")
    assert str(bad) in str(err.value) and "train_000000001" in str(err.value)
    bad.write_bytes(b"not an HDF5 file at all")
    with pytest.raises(DatasetError, match="not a readable HDF5"):
        import_plaid(src, tmp_path / "ds")


def test_missing_feature_and_bad_definitions(car, tmp_path):
    src = _copy_plaid(car, tmp_path / "src", per_split=1)
    pb_path = src / "problem_definitions" / "regression_1.yaml"
    pb = yaml.safe_load(pb_path.read_text())
    pb["output_features"].append(f"{BASE}/Zone/VertexFields/velocity")
    pb_path.write_text(yaml.safe_dump(pb))
    with pytest.raises(DatasetError, match=r"'velocity' is missing.*pressure"):
        import_plaid(src, tmp_path / "ds1")
    pb["output_features"][-1] = f"{BASE}/Zone/CellCenterFields/wss"
    pb_path.write_text(yaml.safe_dump(pb))
    with pytest.raises(DatasetError, match="not a nodal field"):
        import_plaid(src, tmp_path / "ds2")
    shutil.copyfile(pb_path, src / "problem_definitions" / "other.yaml")
    with pytest.raises(DatasetError, match="several problem definitions"):
        import_plaid(src, tmp_path / "ds3")
    infos = yaml.safe_load((src / "infos.yaml").read_text())
    infos["storage_backend"] = "zarr"
    (src / "infos.yaml").write_text(yaml.safe_dump(infos))
    with pytest.raises(DatasetError, match="only the 'cgns' backend"):
        import_plaid(src, tmp_path / "ds4", problem="regression_1")
