"""POD: orthonormality in the product, Eckart-Young, the three algorithms agree."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from mesh.core import CellBlock, Mesh
from mesh.mass import mass_matrix
from rom import PODBasis, pod


def square(n: int) -> Mesh:
    g = np.linspace(0.0, 1.0, n + 1)
    x, y = np.meshgrid(g, g, indexing="ij")
    pts = np.column_stack([x.ravel(), y.ravel()])
    pts[(pts > 0).all(1) & (pts < 1).all(1)] += 0.02 * np.sin(7 * pts[(pts > 0).all(1) & (pts < 1).all(1)])
    idx = np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    tri = np.concatenate([np.column_stack([a, b, c]), np.column_stack([a, c, d])])
    return Mesh(pts, [CellBlock("triangle", tri)])


@pytest.fixture(scope="module")
def fem_snapshots():
    """Smooth parametric fields on a mesh, with the mesh's mass matrix."""
    m = square(20)
    x, y = m.points.T
    mus = np.linspace(0.5, 3.0, 40)
    u = np.array([np.sin(mu * np.pi * x) * np.exp(-mu * y) + mu * x * y for mu in mus])
    return u, mass_matrix(m)


def weighted_svals(u, product):
    """Reference singular values of U L with M = L L^T (dense Cholesky)."""
    l_factor = np.linalg.cholesky(product.toarray())
    return np.linalg.svd(u @ l_factor, compute_uv=False)


@pytest.mark.parametrize("method", ["svd", "snapshots", "randomized"])
def test_modes_orthonormal_in_mass_product(fem_snapshots, method):
    u, mm = fem_snapshots
    basis = pod(u, mm, modes=8, method=method, random_state=0)
    assert isinstance(basis, PODBasis) and basis.n_modes == 8 and basis.method == method
    gram = basis.modes @ (mm @ basis.modes.T)
    np.testing.assert_allclose(gram, np.eye(8), atol=1e-10)
    ref = weighted_svals(u, mm)[:8]
    np.testing.assert_allclose(basis.singular_values, ref, rtol=1e-7)


def test_eckart_young_identity_product():
    rng = np.random.default_rng(0)
    u = rng.normal(size=(30, 200)) * np.logspace(0, -3, 200)
    s_all = np.linalg.svd(u, compute_uv=False)
    basis = pod(u)
    ks = [0, 1, 5, 10, 29, 30]
    err = basis.projection_error(u, ks)
    expected = [np.sum(s_all[k:] ** 2) for k in ks]
    np.testing.assert_allclose(err, expected, rtol=1e-9, atol=1e-12 * expected[0])


def test_eckart_young_mass_product(fem_snapshots):
    u, mm = fem_snapshots
    basis = pod(u, mm)
    s = weighted_svals(u, mm)
    ks = [1, 3, 6]
    expected = [np.sum(s[k:] ** 2) for k in ks]
    np.testing.assert_allclose(basis.projection_error(u, ks), expected, rtol=1e-6,
                               atol=1e-13 * s[0] ** 2)


def test_svd_method_resolves_small_singular_values():
    rng = np.random.default_rng(1)
    q1, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    q2, _ = np.linalg.qr(rng.normal(size=(300, 12)))
    s = np.logspace(0, -12, 12)
    u = (q1 * s) @ q2.T
    mm = sp.diags(rng.uniform(0.5, 2.0, 300)).tocsr()
    exact = weighted_svals(u, mm)[:12]
    b = pod(u, mm, method="svd")
    np.testing.assert_allclose(b.singular_values, exact[: b.n_modes], rtol=1e-6, atol=1e-15)
    assert b.n_modes >= 11  # down to ~1e-11 relative
    snap = pod(u, mm, method="snapshots")
    assert snap.n_modes < b.n_modes  # the Gram matrix loses what is below sqrt(eps)


def test_randomized_matches_exact_on_low_rank_data():
    rng = np.random.default_rng(2)
    mm = mass_matrix(square(40))  # 1681 nodes
    n_dof = mm.shape[0]
    scales = np.array([[10.0], [5.0], [2.0], [1.0], [0.5]])
    u = rng.normal(size=(200, 5)) @ (rng.normal(size=(5, n_dof)) * scales)
    exact = pod(u, mm, modes=5, method="svd")
    rand = pod(u, mm, modes=5, method="randomized", random_state=3)
    np.testing.assert_allclose(rand.singular_values, exact.singular_values, rtol=1e-10)
    # same subspace: projecting one basis onto the other loses nothing
    cross = rand.modes @ (mm @ exact.modes.T)
    np.testing.assert_allclose(np.linalg.svd(cross, compute_uv=False), 1.0, atol=1e-9)
    np.testing.assert_allclose(rand.projection_error(u, [5]), 0.0, atol=1e-16 * exact.total_energy)


def test_auto_picks_randomized_for_large_sets_with_few_modes():
    from rom.pod import _choose

    assert _choose("auto", 2000, 10_000, 10, 10) == "randomized"
    assert _choose("auto", 2000, 10_000, None, 10) == "svd"
    assert _choose("auto", 50, 10_000, 10, 10) == "svd"


def test_rtol_truncation_and_centering(fem_snapshots):
    u, mm = fem_snapshots
    full = pod(u, mm)
    s2 = full.singular_values ** 2
    for rtol in (1e-1, 1e-3, 1e-6):
        b = pod(u, mm, rtol=rtol)
        k = b.n_modes
        assert np.sqrt(s2[k:].sum() / full.total_energy) <= rtol
        assert np.sqrt(s2[k - 1:].sum() / full.total_energy) > rtol
    c = pod(u, mm, modes=5, center=True)
    np.testing.assert_allclose(c.mean, u.mean(0))
    rec = c.reconstruct(c.project(u))
    direct = c.projection_error(u, [5])[0]
    diff = rec - u
    assert np.einsum("ij,ji->", diff, mm @ diff.T) == pytest.approx(direct, rel=1e-8)


def test_vector_field_with_blocked_mass_matrix():
    m = square(8)
    n = m.n_points
    x, y = m.points.T
    snaps = np.array([np.concatenate([a * x, b * y * y]) for a, b in
                      np.random.default_rng(0).normal(size=(10, 2))])  # all-x then all-y
    mm = mass_matrix(m, n_components=2)
    basis = pod(snaps, mm)
    assert basis.n_modes == 2 and basis.n_dof == 2 * n
    np.testing.assert_allclose(basis.modes @ (mm @ basis.modes.T), np.eye(2), atol=1e-12)


def test_truncated_and_reconstruct_shapes(fem_snapshots):
    u, mm = fem_snapshots
    b = pod(u, mm, modes=6)
    t = b.truncated(3)
    assert t.n_modes == 3 and b.n_modes == 6
    assert b.reconstruct(b.project(u[0])).shape == (1, u.shape[1])
    with pytest.raises(ValueError, match="the basis has 6 modes"):
        b.reconstruct(np.zeros((2, 7)))


def test_errors_name_the_problem():
    u = np.ones((3, 4))
    with pytest.raises(ValueError, match=r"shape \(4, 4\)"):
        pod(u, sp.identity(5))
    with pytest.raises(ValueError, match="symmetric"):
        pod(u, sp.csr_matrix(np.triu(np.ones((4, 4)))))
    bad = u.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="snapshot 1"):
        pod(bad)
    with pytest.raises(ValueError, match="needs modes"):
        pod(u, method="randomized")
    with pytest.raises(ValueError, match="unknown method"):
        pod(u, method="qr")
    with pytest.warns(UserWarning, match="only 1"):
        pod(u, modes=3)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 25), n_dof=st.integers(2, 60), rank=st.integers(1, 8),
       seed=st.integers(0, 2**31 - 1), method=st.sampled_from(["svd", "snapshots"]))
def test_hypothesis_random_snapshot_sets(n, n_dof, rank, seed, method):
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(n, rank)) @ rng.normal(size=(rank, n_dof))
    diag = rng.uniform(0.1, 3.0, n_dof)
    mm = sp.diags(diag).tocsr()
    b = pod(u, mm, method=method)
    assert b.n_modes <= min(n, n_dof, rank)
    np.testing.assert_allclose(b.modes @ (mm @ b.modes.T), np.eye(b.n_modes), atol=1e-8)
    err = b.projection_error(u)
    assert np.all(np.diff(err) <= 1e-9 * max(err[0], 1e-300))
    assert err[-1] <= 1e-10 * max(err[0], 1e-300) + 1e-20
    exact = np.linalg.svd(u * np.sqrt(diag), compute_uv=False)[: b.n_modes]
    np.testing.assert_allclose(b.singular_values, exact, rtol=1e-6)
