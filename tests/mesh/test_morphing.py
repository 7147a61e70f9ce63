"""Boundary loops, renumbering, disk mappings, loop matching, RBF morphing, inversion checks."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import Delaunay

from mesh.boundary import (
    boundary_facets,
    boundary_loops,
    boundary_nodes,
    loop_arc_length,
    loop_signed_areas,
)
from mesh.core import CellBlock, Mesh
from mesh.errors import MorphingError
from mesh.morphing import (
    boundary_last_permutation,
    dirichlet_solve,
    disk_mapping,
    inverted_cells,
    loop_matched_morph,
    mean_value_weights,
    morph,
    rbf_morph,
    renumbered,
    uniform_weights,
    wendland_c2,
)
from mesh.transfer import simplex_split


# ------------------------------------------------------------------------ mesh builders
def square(n: int, jitter: float = 0.0, seed: int = 0) -> Mesh:
    """Unit square, n x n cells each split in two triangles, interior nodes jittered."""
    g = np.linspace(0.0, 1.0, n + 1)
    x, y = np.meshgrid(g, g, indexing="ij")
    pts = np.column_stack([x.ravel(), y.ravel()])
    if jitter:
        inner = (pts > 0).all(1) & (pts < 1).all(1)
        pts[inner] += np.random.default_rng(seed).uniform(-jitter, jitter, (inner.sum(), 2)) / n
    idx = np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    tri = np.concatenate([np.column_stack([a, b, c]), np.column_stack([a, c, d])])
    return Mesh(pts, [CellBlock("triangle", tri)])


def quad_square(n: int) -> Mesh:
    g = np.linspace(0.0, 1.0, n + 1)
    x, y = np.meshgrid(g, g, indexing="ij")
    idx = np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
    q = np.column_stack([idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(),
                         idx[:-1, 1:].ravel()])
    return Mesh(np.column_stack([x.ravel(), y.ravel()]), [CellBlock("quad", q)])


def l_shape(n: int = 12, seed: int = 1) -> Mesh:
    """Non-convex L-shaped domain [0,1]^2 minus [0.5,1]^2, jittered structured triangles."""
    m = square(n, jitter=0.15, seed=seed)
    tri = m.cells[0].data
    c = m.points[tri].mean(1)
    keep = ~((c[:, 0] > 0.5) & (c[:, 1] > 0.5))
    tri = tri[keep]
    used = np.unique(tri)
    remap = np.full(m.n_points, -1)
    remap[used] = np.arange(len(used))
    return Mesh(m.points[used], [CellBlock("triangle", remap[tri])])


def plate_with_hole(h: float = 0.05, r: float = 0.2, centre=(0.5, 0.5), seed: int = 0,
                    holes=None) -> Mesh:
    """Unit square with circular holes [(centre, radius), ...]: Delaunay of a jittered
    grid plus a ring of nodes on each hole, triangles inside the holes removed."""
    holes = [(centre, r)] if holes is None else holes
    rng = np.random.default_rng(seed)
    n = round(1 / h)
    g = np.linspace(0, 1, n + 1)
    x, y = np.meshgrid(g, g, indexing="ij")
    pts = np.column_stack([x.ravel(), y.ravel()])
    inner = (pts > 0).all(1) & (pts < 1).all(1)
    pts[inner] += rng.uniform(-0.2, 0.2, (inner.sum(), 2)) * h
    rings = []
    for (cx, cy), rad in holes:
        pts = pts[np.hypot(pts[:, 0] - cx, pts[:, 1] - cy) > rad + 0.6 * h]
        k = int(np.ceil(2 * np.pi * rad / h))
        t = np.linspace(0, 2 * np.pi, k, endpoint=False) + 0.1
        rings.append(np.column_stack([cx + rad * np.cos(t), cy + rad * np.sin(t)]))
    pts = np.vstack([pts, *rings])
    tri = Delaunay(pts).simplices
    c = pts[tri].mean(1)
    keep = np.ones(len(tri), bool)
    for (cx, cy), rad in holes:
        keep &= np.hypot(c[:, 0] - cx, c[:, 1] - cy) > rad
    return Mesh(pts, [CellBlock("triangle", tri[keep].astype(np.int64))])


def tet_cube(n: int) -> Mesh:
    idx = np.arange((n + 1) ** 3).reshape(n + 1, n + 1, n + 1)
    c = np.stack([idx[:-1, :-1, :-1], idx[1:, :-1, :-1], idx[1:, 1:, :-1], idx[:-1, 1:, :-1],
                  idx[:-1, :-1, 1:], idx[1:, :-1, 1:], idx[1:, 1:, 1:], idx[:-1, 1:, 1:]],
                 -1).reshape(-1, 8)
    kuhn = np.array([[0, 1, 2, 6], [0, 2, 3, 6], [0, 3, 7, 6], [0, 7, 4, 6], [0, 4, 5, 6],
                     [0, 5, 1, 6]])
    g = np.linspace(0.0, 1.0, n + 1)
    X, Y, Z = np.meshgrid(g, g, g, indexing="ij")
    pts = np.stack([X.ravel(), Y.ravel(), Z.ravel()], 1)
    return Mesh(pts, [CellBlock("tetra", c[:, kuhn].reshape(-1, 4))])


# ------------------------------------------------------------------------- boundary
def test_square_loop_start_direction_and_area():
    m = square(4)
    loops = boundary_loops(m)
    assert len(loops) == 1
    loop = loops[0]
    assert len(loop) == 16
    np.testing.assert_array_equal(m.points[loop[0]], [0.0, 0.0])
    np.testing.assert_allclose(m.points[loop[1]], [0.25, 0.0])  # counter-clockwise
    assert loop_signed_areas(m.points, loops)[0] == pytest.approx(1.0)
    np.testing.assert_array_equal(np.sort(loop), boundary_nodes(m))


def test_loops_do_not_depend_on_cell_orientation():
    m = square(5, jitter=0.15)
    tri = m.cells[0].data.copy()
    tri[::3] = tri[::3, ::-1]  # make a third of the cells clockwise
    flipped = Mesh(m.points, [CellBlock("triangle", tri)])
    assert [lp.tolist() for lp in boundary_loops(flipped)] == [lp.tolist() for lp in boundary_loops(m)]


def test_plate_with_hole_outer_first_hole_clockwise():
    m = plate_with_hole()
    loops = boundary_loops(m)
    assert len(loops) == 2
    areas = loop_signed_areas(m.points, loops)
    assert areas[0] == pytest.approx(1.0)
    assert areas[1] < 0
    assert -areas[1] == pytest.approx(np.pi * 0.2**2, rel=0.02)
    hole = m.points[loops[1]]
    assert m.points[loops[1][0], 0] == hole[:, 0].min()


def test_quadratic_and_quad_loops_include_all_boundary_nodes():
    q = quad_square(3)
    assert len(boundary_loops(q)[0]) == 12
    # one triangle6: boundary walk goes through the mid-side nodes
    pts = np.array([[0, 0], [1, 0], [0, 1], [0.5, 0], [0.5, 0.5], [0, 0.5]], float)
    t6 = Mesh(pts, [CellBlock("triangle6", np.array([[0, 1, 2, 3, 4, 5]]))])
    assert boundary_loops(t6)[0].tolist() == [0, 3, 1, 4, 2, 5]


def test_non_manifold_boundary_names_the_node():
    pts = np.array([[0, 0], [1, 0], [0.5, 0.5], [0, 1], [1, 1]], float)
    bowtie = Mesh(pts, [CellBlock("triangle", np.array([[0, 1, 2], [2, 4, 3]]))])
    with pytest.raises(MorphingError, match=r"node 2 .* 4 boundary edges"):
        boundary_loops(bowtie)


def test_boundary_facets_3d():
    m = tet_cube(2)
    (block,) = boundary_facets(m)
    assert block.type == "triangle" and len(block) == 6 * 4 * 2
    assert len(boundary_nodes(m)) == 26


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000))
def test_loops_invariant_under_node_renumbering(seed):
    m = plate_with_hole(h=0.1, seed=seed % 7)
    perm = np.random.default_rng(seed).permutation(m.n_points)
    loops_a = [m.points[lp] for lp in boundary_loops(m)]
    loops_b = [m.points[perm][lp] for lp in boundary_loops(renumbered(m, perm))]
    for a, b in zip(loops_a, loops_b, strict=True):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------- renumbering
def test_boundary_last_permutation():
    m = plate_with_hole(h=0.1)
    perm = boundary_last_permutation(m)
    r = renumbered(m, perm)
    loops = boundary_loops(r)
    n_b = sum(len(lp) for lp in loops)
    np.testing.assert_array_equal(np.concatenate(loops), np.arange(r.n_points - n_b, r.n_points))
    np.testing.assert_array_equal(r.points, m.points[perm])


# --------------------------------------------------------------------- disk mappings
@pytest.mark.parametrize("weights", ["uniform", "mean_value"])
def test_disk_mapping_nonconvex_domain_has_no_inversion(weights):
    m = l_shape()
    x = disk_mapping(m, weights=weights)
    loop = boundary_loops(m)[0]
    np.testing.assert_allclose(np.linalg.norm(x[loop], axis=1), 1.0, atol=1e-12)
    interior = np.setdiff1d(np.arange(m.n_points), loop)
    assert np.linalg.norm(x[interior], axis=1).max() < 1.0
    report = inverted_cells(m, x)
    assert report.ok and report.count == 0 and report.min_signed_measure > 0


def test_tutte_interior_nodes_are_neighbour_averages():
    m = square(8, jitter=0.15)
    x = disk_mapping(m)
    w = uniform_weights(m)
    deg = np.asarray(w.sum(1)).ravel()
    interior = np.setdiff1d(np.arange(m.n_points), boundary_loops(m)[0])
    avg = (w @ x) / deg[:, None]
    np.testing.assert_allclose(x[interior], avg[interior], atol=1e-12)


def test_boundary_on_circle_by_arc_length_from_start():
    m = square(4, jitter=0.15)
    loop = boundary_loops(m)[0]
    x = disk_mapping(m, start_angle=0.3)
    theta = np.unwrap(np.arctan2(x[loop, 1], x[loop, 0]))
    np.testing.assert_allclose(theta - theta[0], 2 * np.pi * loop_arc_length(m.points, loop),
                               atol=1e-12)
    assert theta[0] == pytest.approx(0.3)


def test_mean_value_weights_have_linear_precision():
    m = square(6, jitter=0.15, seed=3)
    w = mean_value_weights(m.points, m.cells[0].data)
    interior = np.setdiff1d(np.arange(m.n_points), boundary_loops(m)[0])
    resid = w @ m.points - np.asarray(w.sum(1)) * m.points
    np.testing.assert_allclose(resid[interior], 0.0, atol=1e-12)
    # hence a Floater solve with the original boundary reproduces the mesh exactly
    lap = sp.diags(np.asarray(w.sum(1)).ravel()) - w
    loop = boundary_loops(m)[0]
    np.testing.assert_allclose(dirichlet_solve(lap, loop, m.points[loop]), m.points, atol=1e-12)


def test_disk_mapping_quads():
    q = quad_square(6)
    for weights in ("uniform", "mean_value"):
        assert inverted_cells(q, disk_mapping(q, weights=weights)).ok


# -------------------------------------------------------------------- loop matching
def test_loop_matching_onto_reference_with_hole():
    a = plate_with_hole(h=0.05, r=0.2, seed=1)
    ref = plate_with_hole(h=0.04, r=0.25, centre=(0.55, 0.45), seed=2)
    res = morph(a, ref)
    assert res.method == "harmonic"
    assert res.inversions.ok
    loops = boundary_loops(a)
    x = res.points
    outer = x[loops[0]]
    np.testing.assert_allclose(np.abs(outer - 0.5).max(1), 0.5, atol=1e-12)  # on the square
    hole_r = np.hypot(x[loops[1], 0] - 0.55, x[loops[1], 1] - 0.45)
    assert np.all(hole_r <= 0.25 + 1e-12) and np.all(hole_r > 0.25 * np.cos(np.pi / 39) - 1e-9)
    np.testing.assert_allclose(x[loops[0][0]], [0.0, 0.0], atol=1e-12)  # start to start


def test_loop_matching_pairs_holes_by_position_not_by_order():
    a = plate_with_hole(h=0.04, holes=[((0.3, 0.3), 0.1), ((0.35, 0.75), 0.12)], seed=3)
    ref = plate_with_hole(h=0.05, holes=[((0.33, 0.3), 0.1), ((0.3, 0.72), 0.12)], seed=4)
    loops_a, loops_r = boundary_loops(a), boundary_loops(ref)
    # the start order of the holes differs between the two meshes
    assert a.points[loops_a[1][0], 1] < 0.5 and ref.points[loops_r[1][0], 1] > 0.5
    res = morph(a, ref)
    assert res.inversions.ok
    # the hole at (0.3, 0.3) lands on the reference polygon of the hole at (0.33, 0.3),
    # between its chords (sagitta r (1 - cos(pi / k)), k ring nodes) and its circle
    for loop, (cx, cy), rad in ((loops_a[1], (0.33, 0.3), 0.1), (loops_a[2], (0.3, 0.72), 0.12)):
        k = int(np.ceil(2 * np.pi * rad / 0.05))
        dist = np.hypot(res.points[loop, 0] - cx, res.points[loop, 1] - cy)
        assert np.all(dist <= rad + 1e-12) and np.all(dist >= rad * np.cos(np.pi / k) - 1e-12)


@pytest.mark.parametrize("laplacian", ["fe", "graph"])
def test_loop_matching_onto_itself_is_identity(laplacian):
    a = plate_with_hole(h=0.1)
    np.testing.assert_allclose(loop_matched_morph(a, a, laplacian=laplacian), a.points, atol=1e-12)


def test_loop_matching_rejects_different_hole_counts():
    with pytest.raises(MorphingError, match="2 boundary loops .* reference has 1"):
        loop_matched_morph(plate_with_hole(h=0.1), square(4))


# ----------------------------------------------------------------------- auto / errors
def test_morph_auto_dispatch_and_errors():
    assert morph(square(4)).method == "tutte"
    assert morph(square(4), method="floater").inversions.ok
    with pytest.raises(MorphingError, match="2 boundary loops"):
        morph(plate_with_hole(h=0.1))
    # closed surface: the four faces of a tetrahedron in 3D
    p = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float)
    faces = np.array([[0, 2, 1], [0, 1, 3], [1, 2, 3], [0, 3, 2]])
    with pytest.raises(MorphingError, match="no boundary"):
        morph(Mesh(p, [CellBlock("triangle", faces)]))
    with pytest.raises(MorphingError, match="surface correspondence"):
        morph(tet_cube(2))
    with pytest.raises(MorphingError, match="unknown morphing method"):
        morph(square(2), method="magic")


def test_morph_keeps_data_and_returns_new_mesh():
    m = square(4).with_point_data(u=np.arange(25.0))
    res = morph(m)
    assert res.mesh is not m
    np.testing.assert_array_equal(res.mesh.point_data["u"], np.arange(25.0))
    np.testing.assert_array_equal(m.points, square(4).points)


def test_unused_node_is_reported():
    m = square(2)
    m2 = Mesh(np.vstack([m.points, [[5.0, 5.0]]]), m.cells)
    with pytest.raises(MorphingError, match="node 9"):
        disk_mapping(m2)


# -------------------------------------------------------------------------------- RBF
def test_wendland_c2():
    np.testing.assert_allclose(wendland_c2(np.array([0.0, 0.5, 1.0, 2.0])),
                               [1.0, 0.5**4 * 3.0, 0.0, 0.0])


def test_rbf_reproduces_affine_motion_and_controls():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (5000, 3))
    c = rng.uniform(0, 1, (300, 3))
    a = np.array([[0.1, 0.02, 0.0], [0.0, -0.05, 0.03], [0.01, 0.0, 0.08]])
    b = np.array([0.2, -0.1, 0.05])
    out = rbf_morph(x, c, c @ a.T + b, radius=0.3)
    np.testing.assert_allclose(out, x + x @ a.T + b, atol=1e-9)
    d = rng.normal(size=c.shape) * 0.01
    np.testing.assert_allclose(rbf_morph(c, c, d, radius=0.3), c + d, atol=1e-10)


def test_rbf_refuses_duplicate_controls_and_dense_kernels():
    c = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    with pytest.raises(MorphingError, match="coincide"):
        rbf_morph(c, c, np.zeros_like(c))
    c = np.random.default_rng(0).uniform(size=(2000, 2))
    with pytest.raises(MorphingError, match="max_pairs"):
        rbf_morph(c, c, np.zeros_like(c), radius=10.0, max_pairs=1000)


def test_rbf_morph_3d_cube_bump_no_inversion():
    m = tet_cube(6)
    b = boundary_nodes(m)
    p = m.points[b]
    bump = 0.05 * np.sin(np.pi * p[:, 0]) * np.sin(np.pi * p[:, 1]) * (p[:, 2] == 1.0)
    goal = p + np.column_stack([np.zeros(len(b)), np.zeros(len(b)), bump])
    res = morph(m, targets=(b, goal), radius=0.5)
    assert res.method == "rbf" and res.inversions.ok
    np.testing.assert_allclose(res.points[b], goal, atol=1e-9)


def test_rbf_morph_3d_onto_reference_surface():
    m = tet_cube(4)
    ref = tet_cube(5)
    ref = ref.with_points(ref.points * np.array([1.1, 1.0, 0.95]))
    res = morph(m, ref, radius=0.6)
    b = boundary_nodes(m)
    x = res.points[b]
    # every boundary node now lies on a face of the reference box
    on_face = np.min(np.abs(np.column_stack([x, x - [1.1, 1.0, 0.95]])), axis=1)
    np.testing.assert_allclose(on_face, 0.0, atol=1e-9)
    assert res.inversions.ok


# ---------------------------------------------------------------------- inversions
def test_inversion_report_counts_and_indices():
    m = square(3)
    x = m.points.copy()
    centre = 5  # interior node (1, 1) of the 4x4 grid
    np.testing.assert_allclose(x[centre], [1 / 3, 1 / 3])
    x[centre] = [0.9, 0.9]
    rep = inverted_cells(m, x)
    tri = m.cells[0].data
    assert rep.count > 0 and not rep.ok
    assert np.all(np.isin(rep.cells, np.flatnonzero((tri == centre).any(1))))
    assert rep.min_signed_measure < 0


def test_clockwise_input_cells_are_not_inverted():
    m = square(3)
    cw = Mesh(m.points, [CellBlock("triangle", m.cells[0].data[:, ::-1])])
    assert inverted_cells(cw, cw.points).ok
    assert morph(cw).inversions.ok


def test_disk_mapping_on_simplex_split_of_mixed_cells():
    assert simplex_split(quad_square(2))[0].shape == (8, 3)
