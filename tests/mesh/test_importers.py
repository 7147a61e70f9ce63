"""Importing folders, globs and XDMF time series into datasets."""
from __future__ import annotations

import numpy as np
import pytest

from mesh import DatasetError
from mesh.importers import find_mesh_files, import_meshes, import_series, split_ids
from mesh.io import write, write_series


def test_import_series(tmp_path, two_triangles):
    for k in range(2):
        times = np.linspace(0, 1, 5)
        write_series(two_triangles, times, [{"T": np.full(4, k + t)} for t in times], tmp_path / "src" / f"run{k}.xdmf")
    ds = import_series(tmp_path / "src", tmp_path / "ds")
    assert ds.time_dependent and len(ds) == 2 and list(ds.problem.outputs) == ["T"]
    s = ds["run1"]
    assert s.fields["T"].shape == (5, 4) and np.allclose(s.fields["T"][:, 0], 1 + np.linspace(0, 1, 5))
    assert "bottom" in s.mesh.groups  # the boundary group survives as a node group


def test_import_real_vtu_files(shared_data, tmp_path):
    ds = import_meshes(shared_data / "meshes" / "Cube222.vt*", tmp_path / "ds", test_fraction=0.0)
    assert len(ds) == 2 and set(ds.problem.outputs) == {"DistanceToCenter", "Polynomial"}
    assert all(s.mesh.n_points == 27 for s in ds)


def test_import_names_a_bad_file(tmp_path, two_triangles):
    write(two_triangles.with_point_data(u=np.zeros(4)), tmp_path / "src" / "a.vtu")
    (tmp_path / "src" / "b.vtu").write_text("<VTKFile")
    with pytest.raises(DatasetError, match="b.vtu"):
        import_meshes(tmp_path / "src", tmp_path / "ds")


def test_find_files_and_split(tmp_path):
    with pytest.raises(DatasetError, match="no mesh files found"):
        find_mesh_files(tmp_path)
    s = split_ids([f"s{i}" for i in range(10)], 0.3, seed=1)
    assert len(s["test"]) == 3 and sorted(s["train"] + s["test"]) == sorted(f"s{i}" for i in range(10))
    assert s == split_ids([f"s{i}" for i in range(10)], 0.3, seed=1)
