"""Linear FE interpolation between meshes, clamping outside points, and mass matrices."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.interpolate import LinearNDInterpolator
from scipy.spatial import ConvexHull, Delaunay

from mesh.core import CellBlock, Mesh
from mesh.errors import MeshError
from mesh.mass import mass_matrix
from mesh.morphing import morph
from mesh.transfer import (
    Locator,
    closest_boundary_points,
    interpolation_matrix,
    locate,
    transfer_point_data,
)


def square(n: int, jitter: float = 0.0, seed: int = 0, quads: bool = False) -> Mesh:
    g = np.linspace(0.0, 1.0, n + 1)
    x, y = np.meshgrid(g, g, indexing="ij")
    pts = np.column_stack([x.ravel(), y.ravel()])
    if jitter:
        inner = (pts > 0).all(1) & (pts < 1).all(1)
        pts[inner] += np.random.default_rng(seed).uniform(-jitter, jitter, (inner.sum(), 2)) / n
    idx = np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    if quads:
        return Mesh(pts, [CellBlock("quad", np.column_stack([a, b, c, d]))])
    tri = np.concatenate([np.column_stack([a, b, c]), np.column_stack([a, c, d])])
    return Mesh(pts, [CellBlock("triangle", tri)])


def delaunay_square(n_interior: int, seed: int) -> Mesh:
    """Delaunay mesh of random points in the unit square, with its corners and edge points."""
    rng = np.random.default_rng(seed)
    edge = np.linspace(0, 1, 9)[1:-1]
    z, o = np.zeros_like(edge), np.ones_like(edge)
    bnd = np.vstack([[[0, 0], [1, 0], [1, 1], [0, 1]],
                     np.column_stack([edge, z]), np.column_stack([o, edge]),
                     np.column_stack([edge, o]), np.column_stack([z, edge])])
    pts = np.vstack([bnd, rng.uniform(0.02, 0.98, (n_interior, 2))])
    return Mesh(pts, [CellBlock("triangle", Delaunay(pts).simplices.astype(np.int64))])


def cube(n: int, hexes: bool = False) -> Mesh:
    idx = np.arange((n + 1) ** 3).reshape(n + 1, n + 1, n + 1)
    c = np.stack([idx[:-1, :-1, :-1], idx[1:, :-1, :-1], idx[1:, 1:, :-1], idx[:-1, 1:, :-1],
                  idx[:-1, :-1, 1:], idx[1:, :-1, 1:], idx[1:, 1:, 1:], idx[:-1, 1:, 1:]],
                 -1).reshape(-1, 8)
    g = np.linspace(0.0, 1.0, n + 1)
    X, Y, Z = np.meshgrid(g, g, g, indexing="ij")
    pts = np.stack([X.ravel(), Y.ravel(), Z.ravel()], 1)
    if hexes:
        return Mesh(pts, [CellBlock("hexahedron", c)])
    kuhn = np.array([[0, 1, 2, 6], [0, 2, 3, 6], [0, 3, 7, 6], [0, 7, 4, 6], [0, 4, 5, 6],
                     [0, 5, 1, 6]])
    return Mesh(pts, [CellBlock("tetra", c[:, kuhn].reshape(-1, 4))])


def linear(p: np.ndarray) -> np.ndarray:
    coef = np.array([1.5, -2.0, 0.7])[: p.shape[1]]
    return 0.3 + p @ coef


def tri6_square() -> Mesh:
    """Two quadratic triangles on the unit square, mid-nodes slightly off-centre is not allowed
    (linear interpolation on sub-triangles), so they are exact midpoints."""
    c = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float)
    tri = np.array([[0, 1, 2], [0, 2, 3]])
    mids, cells = {}, []
    pts = list(c)
    for t in tri:
        row = list(t)
        for a, b in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
            key = tuple(sorted((a, b)))
            if key not in mids:
                mids[key] = len(pts)
                pts.append((c[a] + c[b]) / 2)
            row.append(mids[key])
        cells.append(row)
    return Mesh(np.array(pts), [CellBlock("triangle6", np.array(cells))])


# ------------------------------------------------------------------ exactness
@pytest.mark.parametrize("source", [square(7, jitter=0.15), square(5, quads=True), tri6_square(),
                                    cube(3), cube(3, hexes=True)],
                         ids=["tri", "quad", "tri6", "tet", "hex"])
def test_linear_field_reproduced_at_interior_points(source):
    d = source.dim
    p = np.random.default_rng(0).uniform(0.0, 1.0, (500, d))
    w = interpolation_matrix(source, p)
    assert w.shape == (500, source.n_points)
    np.testing.assert_allclose(w @ linear(source.points), linear(p), atol=1e-12)
    np.testing.assert_allclose(np.asarray(w.sum(1)).ravel(), 1.0, atol=1e-14)
    assert w.data.min() >= 0 and np.diff(w.indptr).max() <= d + 1


def test_round_trip_a_b_a_is_exact_for_linear_fields():
    a, b = square(9, jitter=0.15, seed=1), delaunay_square(150, seed=4)
    w_ab, w_ba = interpolation_matrix(a, b.points), interpolation_matrix(b, a.points)
    u = linear(a.points)
    np.testing.assert_allclose(w_ba @ (w_ab @ u), u, atol=1e-12)
    assert not locate(a, b.points).outside.any()


def test_matches_linear_nd_interpolator_on_the_same_triangulation():
    src = delaunay_square(400, seed=2)
    tgt = np.random.default_rng(5).uniform(0, 1, (2000, 2))
    u = np.sin(3 * src.points[:, 0]) * np.cos(2 * src.points[:, 1])
    ref = LinearNDInterpolator(Delaunay(src.points), u)(tgt)
    np.testing.assert_allclose(interpolation_matrix(src, tgt) @ u, ref, atol=1e-12)


# ------------------------------------------------------------------ outside points
def test_outside_points_are_clamped_to_the_closest_boundary_point():
    m = square(6, jitter=0.15)
    p = np.array([[1.5, 0.3], [-0.2, -0.3], [0.4, 1.25], [0.5, 0.5]])
    loc = locate(m, p)
    np.testing.assert_array_equal(loc.outside, [True, True, True, False])
    np.testing.assert_allclose(loc.distance, [0.5, np.hypot(0.2, 0.3), 0.25, 0.0], atol=1e-14)
    w = interpolation_matrix(m, p)
    clamped = np.array([[1.0, 0.3], [0.0, 0.0], [0.4, 1.0], [0.5, 0.5]])
    np.testing.assert_allclose(w @ linear(m.points), linear(clamped), atol=1e-12)


def test_a_locator_reuses_its_trees_and_matches_the_one_shot_functions():
    m = square(8, jitter=0.2)
    loc = Locator(m)
    assert loc._fset is None  # the facet tree is built on the first outside point only
    inside = np.random.default_rng(1).uniform(0.05, 0.95, (40, 2))
    assert (loc.interpolation_matrix(inside) != interpolation_matrix(m, inside)).nnz == 0
    assert loc._fset is None
    outside = np.array([[1.5, 0.3], [-0.2, -0.3], [0.4, 1.25]])
    for _ in range(2):
        w = loc.interpolation_matrix(outside)
        assert abs(w - interpolation_matrix(m, outside)).max() == 0
    first = loc._fset
    loc.locate(outside)
    assert loc._fset is first
    with pytest.raises(MeshError, match="targets must have shape"):
        loc.locate(np.zeros((2, 4)))


def test_outside_nearest_node_and_error_options():
    m = square(4)
    p = np.array([[1.3, 0.26]])
    w = interpolation_matrix(m, p, outside="nearest_node")
    assert w.nnz == 1 and np.allclose(m.points[w.indices[0]], [1.0, 0.25])
    with pytest.raises(MeshError, match=r"1 target point\(s\) lie outside .* target 0"):
        interpolation_matrix(m, p, outside="error")


def test_clamp_in_3d_matches_brute_force():
    m = cube(3)
    rng = np.random.default_rng(1)
    p = rng.uniform(-0.5, 1.5, (300, 3))
    q, _ = closest_boundary_points(m, p)
    expected = np.clip(p, 0.0, 1.0)
    inside = np.all((p > 0) & (p < 1), axis=1)
    np.testing.assert_allclose(q[~inside], expected[~inside], atol=1e-12)
    w = interpolation_matrix(m, p)
    np.testing.assert_allclose(w @ linear(m.points), linear(expected), atol=1e-12)


def test_clamp_into_a_hole_of_a_nonconvex_domain():
    m = square(8)
    tri = m.cells[0].data
    c = m.points[tri].mean(1)
    hole = (np.abs(c - 0.5) < 0.25).all(1)  # remove the central 4x4 block of cells
    m = Mesh(m.points, [CellBlock("triangle", tri[~hole])])
    loc = locate(m, np.array([[0.5, 0.3]]))
    assert loc.outside[0] and loc.distance[0] == pytest.approx(0.05)


# ------------------------------------------------------------------ hypothesis
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(3, 200), m=st.integers(1, 300))
def test_random_point_clouds(seed, n, m):
    rng = np.random.default_rng(seed)
    pts = rng.uniform(-1, 1, (n, 2))
    tri = Delaunay(pts)
    src = Mesh(pts, [CellBlock("triangle", tri.simplices.astype(np.int64))])
    tgt = rng.uniform(-1.5, 1.5, (m, 2))
    w = interpolation_matrix(src, tgt)
    np.testing.assert_allclose(np.asarray(w.sum(1)).ravel(), 1.0, atol=1e-12)
    assert w.data.min() >= -1e-15
    # distance of every target to the hull boundary (brute force over hull edges)
    hull = tri.convex_hull
    a, b = pts[hull[:, 0]], pts[hull[:, 1]]
    ab = b - a
    t = np.clip(np.einsum("mkd,kd->mk", tgt[:, None] - a, ab) / np.einsum("kd,kd->k", ab, ab),
                0, 1)
    q = a + t[..., None] * ab
    dist = np.linalg.norm(tgt[:, None] - q, axis=2)
    best = dist.min(1)
    eq = ConvexHull(pts).equations  # outward half-planes n . x + c <= 0
    in_hull = np.all(tgt @ eq[:, :2].T + eq[:, 2] <= 0, axis=1)
    inside = in_hull & (best > 1e-9)  # strictly inside
    u = linear(pts)
    np.testing.assert_allclose((w @ u)[inside], linear(tgt[inside]), atol=1e-9)
    # outside targets: value at the closest point of the hull boundary
    loc = locate(src, tgt)
    out = loc.outside
    assert not out[inside].any()  # strictly inside: located
    assert out[~in_hull & (best > 1e-9)].all()  # clearly outside: flagged
    np.testing.assert_allclose(loc.distance[out], best[out], atol=1e-9)
    qbest = q[np.arange(m), dist.argmin(1)]
    np.testing.assert_allclose((w @ u)[out], linear(qbest[out]), atol=1e-9)


# ------------------------------------------------------------------ fields and MMGP use
def test_transfer_point_data_and_missing_field():
    a, b = square(6, jitter=0.15), delaunay_square(50, seed=1)
    a = a.with_point_data(T=linear(a.points), V=np.column_stack([a.points[:, 0], 2 * a.points[:, 1]]))
    out = transfer_point_data(a, b)
    np.testing.assert_allclose(out.point_data["T"], linear(b.points), atol=1e-12)
    np.testing.assert_allclose(out.point_data["V"][:, 1], 2 * b.points[:, 1], atol=1e-12)
    with pytest.raises(KeyError, match="available: T, V"):
        transfer_point_data(a, b, ["U"])


def test_mmgp_style_common_support_round_trip():
    """Coordinates transferred to a morphed common support and back stay close."""
    a, ref = square(12, jitter=0.15, seed=1), square(10, jitter=0.15, seed=2)
    ma, mref = morph(a, method="floater").mesh, morph(ref, method="floater").mesh
    to_common = interpolation_matrix(ma, mref.points)
    back = interpolation_matrix(mref, ma.points)
    xa = back @ (to_common @ a.points)
    assert np.abs(xa - a.points).max() < 0.05


# ------------------------------------------------------------------ mass matrices
def test_mass_matrix_integrates_polynomials():
    m = square(6, jitter=0.15)
    mm = mass_matrix(m)
    one = np.ones(m.n_points)
    x = m.points[:, 0]
    assert one @ mm @ one == pytest.approx(1.0)
    assert one @ mm @ x == pytest.approx(0.5)
    assert x @ mm @ x == pytest.approx(1 / 3)  # exact for P1 fields
    assert mass_matrix(m, lumped=True).diagonal().sum() == pytest.approx(1.0)
    assert abs(mm - mm.T).max() < 1e-15


def test_mass_matrix_3d_and_quads():
    assert mass_matrix(cube(3)).sum() == pytest.approx(1.0)
    assert mass_matrix(cube(2, hexes=True)).sum() == pytest.approx(1.0)
    assert mass_matrix(square(3, quads=True)).sum() == pytest.approx(1.0)


def test_mass_matrix_vector_layouts_agree():
    m = square(3)
    n = m.n_points
    blocked = mass_matrix(m, n_components=2)
    inter = mass_matrix(m, n_components=2, layout="interleaved")
    u = np.random.default_rng(0).normal(size=(n, 2))
    ub, ui = u.T.ravel(), u.ravel()  # all-x then all-y / x0, y0, x1, y1, ...
    assert ub @ blocked @ ub == pytest.approx(ui @ inter @ ui)
    assert sp.issparse(blocked) and blocked.shape == (2 * n, 2 * n)
    with pytest.raises(MeshError, match="layout"):
        mass_matrix(m, n_components=2, layout="zigzag")


@pytest.mark.parametrize("dim", [2, 3])
def test_strongly_graded_delaunay_locates_every_point(dim):
    """Tiny cells next to huge ones: the widening search still finds every containing cell."""
    rng = np.random.default_rng(7)
    pts = rng.uniform(0, 1, (3000, dim)) ** 4  # very dense near the origin
    pts = np.vstack([pts, np.eye(dim), np.zeros((1, dim)), np.ones((1, dim))])
    tri = Delaunay(pts)
    src = Mesh(pts, [CellBlock("triangle" if dim == 2 else "tetra", tri.simplices.astype(np.int64))])
    tgt = np.vstack([rng.uniform(0, 1, (1000, dim)), rng.uniform(0, 0.01, (1000, dim))])
    eq = ConvexHull(pts).equations
    inside = np.all(tgt @ eq[:, :dim].T + eq[:, dim] < -1e-9, axis=1)
    loc = locate(src, tgt)
    assert not loc.outside[inside].any()
    # independent check that the returned simplex contains the point
    x = pts[tri.simplices[loc.simplex[inside]]]  # (M, d+1, d)
    lam = np.linalg.solve(np.swapaxes(x[:, 1:] - x[:, :1], 1, 2), (tgt[inside] - x[:, 0])[..., None])
    assert lam.min() >= -1e-9 and (1 - lam.sum(axis=(1, 2))).min() >= -1e-9
    w = interpolation_matrix(src, tgt)
    np.testing.assert_allclose((w @ linear(pts))[inside], linear(tgt[inside]), atol=1e-10)


def _closest_reference(p, a, b, c):
    """Closest point on triangle abc: the plane projection if inside, else the best edge."""
    e1, e2 = b - a, c - a
    g = np.array([[e1 @ e1, e1 @ e2], [e1 @ e2, e2 @ e2]])
    u, w = np.linalg.solve(g, [(p - a) @ e1, (p - a) @ e2])
    if u >= 0 and w >= 0 and u + w <= 1:
        return np.linalg.norm(p - (a + u * e1 + w * e2))
    best = np.inf
    for s, t in ((a, b), (b, c), (c, a)):
        lam = np.clip((p - s) @ (t - s) / ((t - s) @ (t - s)), 0, 1)
        best = min(best, np.linalg.norm(p - (s + lam * (t - s))))
    return best


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_closest_point_on_triangles_matches_reference(seed):
    from mesh.transfer import _closest_on_triangles

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(50, 3, 3))
    p = rng.normal(size=(50, 3)) * 2
    d2, w = _closest_on_triangles(p, x)
    ref = [_closest_reference(p[i], *x[i]) for i in range(50)]
    np.testing.assert_allclose(np.sqrt(d2), ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(w.sum(1), 1.0)
    assert w.min() >= 0
    q = np.einsum("mj,mjd->md", w, x)
    np.testing.assert_allclose(np.linalg.norm(p - q, axis=1), ref, rtol=1e-9, atol=1e-12)
