"""The dataset format: round trip, lazy loading, clear errors, atomic and resumable writes."""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from mesh import DatasetError
from mesh.dataset import Dataset, DatasetWriter, Sample
from mesh.importers import import_meshes
from mesh.io import write
from mesh.problem import Feature, ProblemDefinition

PROBLEM = ProblemDefinition(inputs={"P": Feature(unit="Pa")}, outputs={"u": Feature(unit="m")},
                            output_scalars={"umax": Feature(unit="m")})


def _make(root, mesh, n=4):
    w = DatasetWriter(root, "demo", PROBLEM)
    for i in range(n):
        w.add(Sample(f"s{i}", mesh, inputs={"P": float(i)}, fields={"u": mesh.points[:, 0] * i},
                     scalars={"umax": float(i)}))
    return w.finish({"train": ["s0", "s1", "s2"], "test": ["s3"]})


def test_roundtrip_and_splits(tmp_path, two_triangles):
    ds = _make(tmp_path / "ds", two_triangles)
    assert len(ds) == 4 and ds.split("test").ids == ["s3"]
    s = ds.split("train")[2]
    assert np.allclose(s.fields["u"], two_triangles.points[:, 0] * 2)
    assert s.inputs == {"P": 2.0} and s.scalars == {"umax": 2.0}
    assert "bottom" in s.mesh.groups
    assert ds.inputs_array().ravel().tolist() == [0, 1, 2, 3]
    text = (tmp_path / "ds" / "dataset.yaml").read_text()
    assert "unit: Pa" in text and "samples/s0.vtu" in text


def test_time_series_dataset(tmp_path, two_triangles):
    p = ProblemDefinition(inputs={"q": Feature()}, outputs={"T": Feature(unit="K")})
    w = DatasetWriter(tmp_path / "ts", "heat", p, time_dependent=True)
    T = np.arange(12.0).reshape(3, 4)
    w.add(Sample("a", two_triangles, inputs={"q": 1.0}, fields={"T": T}, times=np.array([0.0, 1.0, 2.0])))
    ds = w.finish()
    s = ds[0]
    assert s.fields["T"].shape == (3, 4) and np.allclose(s.fields["T"], T)
    assert np.allclose(s.times, [0, 1, 2]) and s.inputs == {"q": 1.0}


def test_missing_field_names_sample_and_field(tmp_path, two_triangles):
    ds = _make(tmp_path / "ds", two_triangles)
    write(two_triangles.with_point_data(v=np.zeros(4)), tmp_path / "ds" / "samples" / "s1.vtu")
    with pytest.raises(DatasetError, match=r"sample 's1'.*field 'u' is missing; fields in the file: v"):
        ds[1]


def test_wrong_length_and_nan(tmp_path, two_triangles):
    import meshio

    ds = _make(tmp_path / "ds", two_triangles)
    pts3 = np.hstack([two_triangles.points, np.zeros((4, 1))])
    path = tmp_path / "ds" / "samples" / "s2.vtu"
    meshio.write(path, meshio.Mesh(pts3, [("triangle", two_triangles.cells[0].data)],
                                   point_data={"u": np.array([7.0, 7.0, 7.0, 7.0])}), binary=False)
    text = path.read_text()
    seven = "7.00000000000e+00\n"
    path.write_text(text.replace(seven * 4, seven * 3))
    assert path.read_text() != text
    with pytest.raises(DatasetError, match=r"sample 's2' \(samples/s2.vtu\).*\"u\"\]\) = 3"):
        ds[2]
    meshio.write(tmp_path / "ds" / "samples" / "s0.vtu",
                 meshio.Mesh(pts3, [("triangle", two_triangles.cells[0].data)],
                             point_data={"u": np.array([0, np.nan, 1, 2])}))
    with pytest.raises(DatasetError, match=r"sample 's0'.*field 'u' has 1 NaN"):
        ds[0]


def test_deleted_sample_file(tmp_path, two_triangles):
    ds = _make(tmp_path / "ds", two_triangles)
    (tmp_path / "ds" / "samples" / "s3.vtu").unlink()
    with pytest.raises(DatasetError, match=r"sample 's3' \(samples/s3.vtu\): the file is missing"):
        ds.split("test")[0]


def test_manifest_errors(tmp_path, two_triangles):
    _make(tmp_path / "ds", two_triangles)
    path = tmp_path / "ds" / "dataset.yaml"
    good = yaml.safe_load(path.read_text())
    bad = dict(good, problem=dict(good["problem"], inputz={}))
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(DatasetError, match=r"problem.inputz: unknown key"):
        Dataset(tmp_path / "ds")
    bad = dict(good, splits={"train": ["s0", "s9"]})
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(DatasetError, match="split 'train' names unknown samples: s9"):
        Dataset(tmp_path / "ds")
    bad = dict(good)
    bad["samples"] = [dict(s, inputs={"P": 1.0, "Q": 2.0}) for s in good["samples"]]
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(DatasetError, match=r"sample 's0' has input\(s\) Q that the problem definition does not declare"):
        Dataset(tmp_path / "ds")
    with pytest.raises(DatasetError, match="has no dataset.yaml"):
        Dataset(tmp_path)


def test_writer_rejects_bad_samples(tmp_path, two_triangles):
    w = DatasetWriter(tmp_path / "ds", "demo", PROBLEM)
    with pytest.raises(DatasetError, match=r"sample 'x': missing output field\(s\) u"):
        w.add(Sample("x", two_triangles, inputs={"P": 1.0}))
    with pytest.raises(DatasetError, match=r"field 'u' has 3 values for 4 nodes"):
        w.add(Sample("x", two_triangles, inputs={"P": 1.0}, fields={"u": np.zeros(3)}))
    with pytest.raises(DatasetError, match=r"input\(s\) Q not declared"):
        w.add(Sample("x", two_triangles, inputs={"P": 1.0, "Q": 1.0}, fields={"u": np.zeros(4)}))


def test_import_crash_leaves_nothing_half_done_and_resumes(tmp_path, two_triangles, monkeypatch):
    src = tmp_path / "src"
    for i in range(6):
        write(two_triangles.with_point_data(u=np.full(4, float(i))).with_field_data(P=np.array([float(i)])),
              src / f"case{i}.vtu")
    calls = {"n": 0}
    real_add = DatasetWriter.add

    def crashing_add(self, sample):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt("killed")
        return real_add(self, sample)

    monkeypatch.setattr(DatasetWriter, "add", crashing_add)
    with pytest.raises(KeyboardInterrupt):
        import_meshes(src, tmp_path / "ds")
    out = tmp_path / "ds"
    assert not (out / "dataset.yaml").exists()
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["case0.vtu", "case1.vtu", "case2.vtu"]
    # a half-written leftover of a killed writer, and a truncated file under a final name
    (out / "samples" / ".tmp-case3.vtu-abc").mkdir()
    (out / "samples" / "case4.vtu").write_text("<VTKFile truncat")
    monkeypatch.setattr(DatasetWriter, "add", real_add)
    ds = import_meshes(src, out, test_fraction=0.5)
    assert len(ds) == 6 and sorted(ds.splits) == ["test", "train"]
    assert [float(s.fields["u"][0]) for s in ds] == [0, 1, 2, 3, 4, 5]
    assert [s.inputs["P"] for s in ds] == [0, 1, 2, 3, 4, 5]
    assert not any(p.name.startswith(".tmp") for p in (out / "samples").iterdir())
