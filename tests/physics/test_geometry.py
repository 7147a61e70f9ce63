"""Tests of the random gmsh geometry families (physics.geometry)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("gmsh")

import gmsh  # noqa: E402

from mesh import CellBlock, Mesh  # noqa: E402
from physics import geometry  # noqa: E402
from physics.geometry import (  # noqa: E402
    FAMILIES,
    MeshingError,
    make_blade3d,
    make_geometry,
    make_heat2d,
    make_holeplate2d,
    make_plate2d,
)
from physics.geometry import plate2d as plate_module  # noqa: E402
from physics.geometry.checks import jacobian_determinants, oriented  # noqa: E402

# coarse sizes keep the whole module to a few seconds
COARSE = {"plate2d": 0.1, "holeplate2d": 0.1, "heat2d": 0.2, "blade3d": 0.25}
GROUPS = {
    "plate2d": {"bottom", "top", "left", "right", "plate"},
    "holeplate2d": {"bottom", "top", "left", "right", "hole", "plate"},
    "heat2d": {"cooled", "insulated", "boundary", "domain"},
    "blade3d": {"root", "tip", "surface", "blade"},
}
DEFAULT_RANGE = {
    "plate2d": geometry.plate2d.PLATE2D_NODES,
    "holeplate2d": geometry.holeplate2d.HOLEPLATE2D_NODES,
    "heat2d": geometry.heat2d.HEAT2D_NODES,
    "blade3d": geometry.blade3d.BLADE3D_NODES,
}


def _volume_cells(mesh: Mesh) -> np.ndarray:
    return np.concatenate([b.data for b in mesh.volume_blocks()])


def _signed_measures(mesh: Mesh) -> np.ndarray:
    """Triangle areas by the cross product, tetrahedron volumes by the triple product."""
    c = _volume_cells(mesh)
    p = mesh.points
    if mesh.dim == 2:
        a, b, d = p[c[:, 0]], p[c[:, 1]], p[c[:, 2]]
        return 0.5 * ((b[:, 0] - a[:, 0]) * (d[:, 1] - a[:, 1])
                      - (b[:, 1] - a[:, 1]) * (d[:, 0] - a[:, 0]))
    a, b, d, e = (p[c[:, i]] for i in range(4))
    return np.einsum("ij,ij->i", np.cross(b - a, d - a), e - a) / 6.0


def _trapezoid(y: np.ndarray, x: np.ndarray) -> float:
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(x)))


def _boundary_components(mesh: Mesh) -> int:
    """Connected components of the edges used by exactly one triangle (union-find)."""
    tri = _volume_cells(mesh)[:, :3]
    edges = np.sort(np.vstack([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]]), axis=1)
    uniq, count = np.unique(edges, axis=0, return_counts=True)
    parent: dict[int, int] = {}

    def find(i: int) -> int:
        parent.setdefault(i, i)
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in uniq[count == 1]:
        parent[find(int(i))] = find(int(j))
    return len({find(i) for i in parent})


@pytest.fixture(scope="module")
def coarse() -> dict[str, tuple[Mesh, dict]]:
    return {name: FAMILIES[name](3, mesh_size=COARSE[name]) for name in FAMILIES}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_same_seed_gives_identical_mesh(family, coarse):
    mesh, params = coarse[family]
    again, params2 = FAMILIES[family](3, mesh_size=COARSE[family])
    assert np.array_equal(mesh.points, again.points)
    assert all(np.array_equal(a.data, b.data) for a, b in zip(mesh.cells, again.cells))
    assert params == params2
    assert params["seed"] == 3 and params["family"] == family


@pytest.mark.parametrize("family", list(FAMILIES))
def test_different_seeds_give_different_shapes_and_meshes(family, coarse):
    meshes = [coarse[family][0]] + [FAMILIES[family](s, mesh_size=COARSE[family])[0]
                                    for s in (11, 12)]
    counts = {m.n_points for m in meshes}
    assert len(counts) >= 2, counts
    sizes = [float(np.abs(_signed_measures(m)).sum()) for m in meshes]
    assert len({round(v, 6) for v in sizes}) == 3, sizes


@pytest.mark.parametrize("family", list(FAMILIES))
def test_groups_present_and_cells_positive(family, coarse):
    mesh, params = coarse[family]
    assert GROUPS[family] <= set(mesh.cell_sets)
    for g in GROUPS[family]:
        assert len(mesh.group_nodes(g)) > 0, g
    meas = _signed_measures(mesh)
    assert meas.min() > 0
    assert params["n_points"] == mesh.n_points
    assert mesh.dim == (3 if family == "blade3d" else 2)


def test_plate2d_groups_located(coarse):
    mesh, params = coarse["plate2d"]
    p, g = mesh.points, params["geometry"]
    assert np.all(p[mesh.group_nodes("bottom"), 1] == 0.0)
    assert np.allclose(p[mesh.group_nodes("top"), 1], g["height"], atol=1e-12)
    left, right = p[mesh.group_nodes("left")], p[mesh.group_nodes("right")]
    assert left[:, 0].max() <= 0.35 * g["width"] + 1e-9 and left[:, 0].min() >= -0.35
    assert right[:, 0].min() >= 0.65 * g["width"] - 1e-9
    # the free edges are really perturbed, and the plate keeps its 40 % ligament
    assert np.ptp(left[:, 0]) + np.ptp(right[:, 0]) > 1e-3
    ys = np.linspace(0.0, g["height"], 50)
    width = np.interp(ys, *right[np.argsort(right[:, 1])][:, ::-1].T) - np.interp(
        ys, *left[np.argsort(left[:, 1])][:, ::-1].T)
    assert width.min() >= 0.4 * g["width"] - 1e-6
    assert _boundary_components(mesh) == 1


def test_plate2d_area_matches_the_parametrised_edges(coarse):
    mesh, params = coarse["plate2d"]
    left, right = plate_module.plate2d_edges(params["geometry"], n=2001)
    area = _trapezoid(right[:, 0] - left[:, 0], left[:, 1])
    assert _signed_measures(mesh).sum() == pytest.approx(area, rel=2e-3)


def test_holeplate2d_has_two_boundary_loops_and_hole_inside(coarse):
    mesh, params = coarse["holeplate2d"]
    g = params["geometry"]
    assert _boundary_components(mesh) == 2
    p = mesh.points
    assert np.all(p[mesh.group_nodes("left"), 0] == 0.0)
    assert np.allclose(p[mesh.group_nodes("right"), 0], g["width"], atol=1e-12)
    hole = p[mesh.group_nodes("hole")]
    assert hole[:, 0].min() >= 0.08 * g["width"] - 1e-6
    assert hole[:, 0].max() <= 0.92 * g["width"] + 1e-6
    r = np.linalg.norm(hole - g["center"], axis=1)
    assert r.min() >= 0.6 * g["radius"] and r.max() <= 1.4 * g["radius"]
    # area = rectangle minus the star-shaped hole (polar area formula)
    th = np.linspace(0.0, 2 * np.pi, 4001)
    from physics.geometry.curves import star_curve

    rr = np.linalg.norm(star_curve(th, g["center"], g["radius"], g["cos"], g["sin"],
                                   g["first_mode"]) - g["center"], axis=1)
    hole_area = 0.5 * _trapezoid(rr**2, th)
    assert _signed_measures(mesh).sum() == pytest.approx(
        g["width"] * g["height"] - hole_area, rel=2e-3)


def test_heat2d_arcs_split_the_boundary(coarse):
    mesh, params = coarse["heat2d"]
    g = params["geometry"]
    assert _boundary_components(mesh) == 1
    cooled, insulated = mesh.group_nodes("cooled"), mesh.group_nodes("insulated")
    assert len(np.intersect1d(cooled, insulated)) == 2  # the two arc junctions
    assert np.array_equal(np.union1d(cooled, insulated), mesh.group_nodes("boundary"))
    r = np.linalg.norm(mesh.points[mesh.group_nodes("boundary")], axis=1)
    assert r.min() >= 0.6 * g["radius"] - 1e-9 and r.max() <= 1.4 * g["radius"] + 1e-9
    ang = np.arctan2(*mesh.points[cooled][:, ::-1].T)
    rel = np.mod(ang - g["cooled_start"], 2 * np.pi)
    assert rel.max() <= g["cooled_span"] + 1e-6


def test_blade3d_volume_root_and_tip(coarse):
    mesh, params = coarse["blade3d"]
    g = params["geometry"]
    vol = _signed_measures(mesh)
    assert vol.min() > 0
    # about 0.685 t c^2 per unit span for a NACA section, tapered chord
    mean_chord_sq = (1 + g["taper"] + g["taper"] ** 2) / 3
    approx = 0.685 * g["thickness"] * mean_chord_sq * g["span"]
    assert vol.sum() == pytest.approx(approx, rel=0.3)
    p = mesh.points
    assert np.abs(p[mesh.group_nodes("root"), 2]).max() < 1e-12
    assert np.allclose(p[mesh.group_nodes("tip"), 2], g["span"], atol=1e-9)
    assert p[:, 2].min() >= -1e-12 and p[:, 2].max() <= g["span"] + 1e-9
    surface = p[mesh.group_nodes("surface")]
    assert np.ptp(surface[:, 2]) == pytest.approx(g["span"])

    # the tip section is rotated by the twist: principal axes of the end faces
    def axis_angle(group):
        tri = mesh.group_cells(group)[0].data
        x = p[tri][:, :, :2]
        u, w = x[:, 1] - x[:, 0], x[:, 2] - x[:, 0]
        area = 0.5 * np.abs(u[:, 0] * w[:, 1] - u[:, 1] * w[:, 0])
        c = x.mean(axis=1)
        c0 = (area[:, None] * c).sum(0) / area.sum()
        d = c - c0
        cov = np.einsum("i,ij,ik->jk", area, d, d)
        v = np.linalg.eigh(cov)[1][:, -1]
        return np.arctan2(v[1], v[0])

    turn = np.mod(axis_angle("tip") - axis_angle("root") + np.pi / 2, np.pi) - np.pi / 2
    assert turn == pytest.approx(g["twist"], abs=0.06)


@pytest.mark.parametrize("family", ["plate2d", "blade3d"])
def test_quadratic_cells_have_positive_jacobians(family):
    size = {"plate2d": 0.1, "blade3d": 0.3}[family]
    mesh, params = FAMILIES[family](5, mesh_size=size, order=2)
    want = "triangle6" if family == "plate2d" else "tetra10"
    assert mesh.cell_types[0] == want
    for b in mesh.volume_blocks():
        assert jacobian_determinants(mesh.points, b).min() > 0
    assert params["mesh"]["order"] == 2


@pytest.mark.parametrize("family", list(FAMILIES))
def test_node_count_in_documented_range_at_default_size(family):
    mesh, params = FAMILIES[family](0)
    lo, hi = DEFAULT_RANGE[family]
    assert lo <= mesh.n_points <= hi


def test_generator_is_advanced_and_int_seed_matches_generator():
    rng = np.random.default_rng(4)
    a, _ = make_heat2d(rng, mesh_size=0.4)
    b, _ = make_heat2d(rng, mesh_size=0.4)
    c, pc = make_heat2d(np.random.default_rng(4), mesh_size=0.4)
    d, pd = make_heat2d(4, mesh_size=0.4)
    assert not (a.points.shape == b.points.shape and np.allclose(a.points, b.points))
    assert np.array_equal(a.points, c.points) and np.array_equal(c.points, d.points)
    assert pc["seed"] is None and pd["seed"] == 4
    # the recorded generator state replays the call
    replay = np.random.default_rng()
    replay.bit_generator.state = pc["rng_state"]
    e, _ = make_heat2d(replay, mesh_size=0.4)
    assert np.array_equal(e.points, c.points)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_params_are_plain_yaml_and_json(family, coarse):
    import json

    yaml = pytest.importorskip("yaml")
    _, params = coarse[family]
    assert yaml.safe_load(yaml.safe_dump(params)) == params
    assert json.loads(json.dumps(params)) == params
    assert params["mesh"]["mesh_size"] == COARSE[family]
    assert params["attempts"] == 1 + len(params["rejected"])


def test_failed_geometry_is_retried_deterministically_and_recorded(monkeypatch):
    real = plate_module._build
    calls = {"n": 0}

    def flaky(gmsh_, geometry, size):
        calls["n"] += 1
        if calls["n"] % 2 == 1:
            raise Exception("synthetic meshing failure")
        real(gmsh_, geometry, size)

    monkeypatch.setattr(plate_module, "_build", flaky)
    m1, p1 = make_plate2d(9, mesh_size=0.15)
    m2, p2 = make_plate2d(9, mesh_size=0.15)
    assert p1["attempts"] == 2 and len(p1["rejected"]) == 1
    assert "synthetic" in p1["rejected"][0]["reason"]
    assert p1["rejected"][0]["geometry"] != p1["geometry"]
    assert np.array_equal(m1.points, m2.points)
    assert not gmsh.isInitialized()


def test_meshing_error_after_max_attempts_and_gmsh_finalised(monkeypatch):
    def broken(gmsh_, geometry, size):
        raise Exception("always fails")

    monkeypatch.setattr(plate_module, "_build", broken)
    with pytest.raises(MeshingError, match="no valid mesh after 3") as err:
        make_plate2d(1, mesh_size=0.2, max_attempts=3)
    assert len(err.value.rejected) == 3
    assert not gmsh.isInitialized()


def test_callers_gmsh_session_is_left_as_found():
    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add("callers_model")
        gmsh.option.setNumber("Mesh.MeshSizeMax", 123.0)
        mesh, _ = make_plate2d(2, mesh_size=0.2)
        assert gmsh.isInitialized()
        assert gmsh.model.getCurrent() == "callers_model"
        assert gmsh.option.getNumber("Mesh.MeshSizeMax") == 123.0
        assert gmsh.model.getEntities() == []
    finally:
        gmsh.finalize()
    fresh, _ = make_plate2d(2, mesh_size=0.2)
    assert np.array_equal(mesh.points, fresh.points)


def test_bad_arguments_are_rejected_with_clear_messages():
    with pytest.raises(ValueError, match="mesh_size must be a positive"):
        make_plate2d(0, mesh_size=-1.0)
    with pytest.raises(ValueError, match="order must be 1"):
        make_holeplate2d(0, order=3)
    with pytest.raises(ValueError, match="unknown 3D gmsh algorithm 6"):
        make_blade3d(0, algorithm=6)
    with pytest.raises(ValueError, match="unknown geometry family 'plate'; known: plate2d"):
        make_geometry("plate", 0)
    with pytest.raises(TypeError, match="rng must be"):
        make_plate2d("seed")  # type: ignore[arg-type]
    assert not gmsh.isInitialized()


def test_oriented_flips_clockwise_quadratic_cells_consistently():
    pts = np.array([[0, 0], [1, 0], [0, 1], [0.5, 0], [0.5, 0.5], [0, 0.5]], float)
    cw = np.array([[0, 2, 1, 5, 4, 3]])  # clockwise triangle6, mid-nodes on its edges
    mesh = oriented(Mesh(pts, (CellBlock("triangle6", cw),)))
    data = mesh.cells[0].data[0]
    assert jacobian_determinants(pts, mesh.cells[0]).min() > 0
    for m, (a, b) in zip(data[3:], ((0, 1), (1, 2), (2, 0))):
        assert np.allclose(pts[m], 0.5 * (pts[data[a]] + pts[data[b]]))
