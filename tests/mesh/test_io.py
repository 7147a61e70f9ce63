"""Reading and writing every format, on real external files and generated corruptions."""
from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesh import CellBlock, Mesh, MeshReadError, MeshWriteError
from mesh.core import equal
from mesh.io import read, write, read_series, write_series

# file -> (nodes, {cell type: count}, groups that must exist); None = must fail clearly
EXPECTED = {
    "2TriMesh.cgns": (4, {"triangle": 2, "line": 4}, {"INLET", "OUTLET"}),
    "Cube222.vtk": (27, {"hexahedron": 8}, set()),
    "Cube222.vtu": (27, {"hexahedron": 8}, set()),
    "coneAscii.stl": (7, {"triangle": 10}, set()),
    "stlOpenSphere.stl": (64, {"triangle": 104}, set()),
    "dent.msh": (237, {"line": 38, "triangle": 410}, {"Left", "Right", "Top", "surf"}),
    "mesh1.msh": (427, {"line": 70, "triangle": 772}, {"My surface"}),
    "square2D.mesh": (4, {"line": 5, "triangle": 2}, set()),
    "hexa.xdmf": (27, {"hexahedron27": 1}, set()),
    "Unstructured.xmf": None,
}
FAIL_REASON = {"Unstructured.xmf": "Mixed"}


def _counts(m: Mesh) -> dict[str, int]:
    out: dict[str, int] = {}
    for b in m.cells:
        out[b.type] = out.get(b.type, 0) + len(b)
    return out


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shared_meshes_load_or_fail_clearly(shared_data, name):
    path = shared_data / "meshes" / name
    exp = EXPECTED[name]
    if exp is None:
        with pytest.raises(MeshReadError) as err:
            read(path)
        assert name in str(err.value) and FAIL_REASON[name] in str(err.value)
        return
    m = read(path)
    n, counts, groups = exp
    assert m.n_points == n
    assert _counts(m) == counts
    assert groups <= set(m.groups)


@pytest.mark.parametrize("name", ["Cube222.vtu", "Cube222.vtk", "coneAscii.stl", "stlOpenSphere.stl"])
def test_counts_agree_with_vtk_reader(shared_data, name):
    import pyvista as pv

    path = shared_data / "meshes" / name
    grid = pv.read(path)
    m = read(path)
    assert (m.n_points, m.n_cells) == (grid.n_points, grid.n_cells)


def test_gmsh_groups_are_the_physical_groups(shared_data):
    m = read(shared_data / "meshes" / "dent.msh")
    assert m.dim == 2
    top = m.group_nodes("Top")
    assert len(top) > 1 and np.ptp(m.points[top, 1]) < 1e-12  # a horizontal edge
    tri = m.group_cells("surf")
    assert [b.type for b in tri] == ["triangle"] and len(tri[0]) == 410


def _sample_mesh() -> Mesh:
    pts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]], float)
    cells = (CellBlock("tetra", np.array([[0, 1, 2, 3], [1, 2, 3, 4]])),
             CellBlock("triangle", np.array([[0, 1, 2]])))
    return Mesh(pts, cells, point_data={"T": np.arange(5.0), "U": np.ones((5, 3))},
                cell_data={"id": [np.array([1.0, 2.0]), np.array([3.0])]},
                cell_sets={"bottom": [np.zeros(0, np.int64), np.array([0])]},
                point_sets={"apex": np.array([4])})


@pytest.mark.parametrize("suffix", [".vtu", ".vtk", ".xdmf"])
def test_write_read_roundtrip_keeps_data_and_groups(tmp_path, suffix):
    m = _sample_mesh()
    path = write(m, tmp_path / f"m{suffix}")
    back = read(path)
    assert equal(back, m)


def test_gmsh_roundtrip_keeps_geometry_and_named_groups(tmp_path, shared_data):
    m = _sample_mesh().without_data()
    back = read(write(Mesh(m.points, m.cells, cell_sets=m.cell_sets), tmp_path / "m.msh"))
    assert np.allclose(back.points, m.points)
    assert _counts(back) == _counts(m)
    assert back.group_nodes("bottom").tolist() == [0, 1, 2]
    dent = read(shared_data / "meshes" / "dent.msh")
    again = read(write(dent, tmp_path / "dent.msh"))
    assert set(again.groups) == set(dent.groups)
    assert all(np.array_equal(dent.group_nodes(g), again.group_nodes(g)) for g in dent.groups)


def test_2d_mesh_roundtrip_stays_2d(tmp_path, two_triangles):
    back = read(write(two_triangles, tmp_path / "m.vtu"))
    assert back.dim == 2 and equal(back, two_triangles)


def test_write_is_atomic_on_failure(tmp_path, monkeypatch):
    import meshio

    def broken(path, *a, **k):
        Path(path).write_text("<VTKFile half written")
        raise RuntimeError("disk full")

    monkeypatch.setattr(meshio, "write", broken)
    with pytest.raises(MeshWriteError, match="disk full"):
        write(_sample_mesh(), tmp_path / "out.vtu")
    assert list(tmp_path.iterdir()) == []


def test_series_roundtrip(tmp_path, two_triangles):
    times = [0.0, 0.5, 1.0]
    steps = [{"T": np.full(4, t)} for t in times]
    path = write_series(two_triangles, times, steps, tmp_path / "s.xdmf")
    mesh, t, back = read_series(path)
    assert mesh.n_points == 4 and np.allclose(t, times)
    assert all(np.allclose(b["T"], s["T"]) for b, s in zip(back, steps))


@pytest.mark.parametrize("text, reason", [("", "empty"), ("garbage", "")])
def test_bad_files_name_the_file(tmp_path, text, reason):
    p = tmp_path / "bad.vtu"
    p.write_text(text)
    with pytest.raises(MeshReadError) as err:
        read(p)
    assert "bad.vtu" in str(err.value) and reason in str(err.value)


def test_missing_and_unknown_format(tmp_path):
    with pytest.raises(MeshReadError, match="no such file"):
        read(tmp_path / "nope.vtu")
    p = tmp_path / "x.unknownext"
    p.write_text("1 2 3")
    with pytest.raises(MeshReadError, match="unknown mesh format"):
        read(p)


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


CORRUPTIBLE = ["Cube222.vtu", "Cube222.vtk", "dent.msh", "coneAscii.stl", "square2D.mesh",
               "2TriMesh.cgns"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(CORRUPTIBLE), cut=st.floats(0.0, 1.0),
       flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=8))
def test_corrupted_files_fail_clearly(shared_data, tmp_path_factory, name, cut, flips):
    """Truncated or byte-flipped files load or raise MeshReadError naming the file; never hang."""
    raw = bytearray((shared_data / "meshes" / name).read_bytes())
    raw = raw[: max(1, int(len(raw) * cut))]
    for pos, val in flips:
        raw[min(len(raw) - 1, int(pos * len(raw)))] = val
    path = tmp_path_factory.mktemp("corrupt") / name
    path.write_bytes(bytes(raw))
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(20)
    try:
        m = read(path)
        assert isinstance(m, Mesh)
    except MeshReadError as exc:
        assert str(path) in str(exc)
    except _Timeout:
        pytest.fail(f"reading a corrupted {name} hung")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
