"""Vectorised assembly of the P1 tetrahedron elasticity stiffness (constant strain).

scikit-fem's generic assembly evaluates the form at quadrature points and builds
a COO matrix of (12 x 12) x C entries; for P1 tetrahedra the strain is constant
per element, so the element matrices have a closed form from the gradients of
the barycentric coordinates. Here they are summed straight into a block-sparse
(BSR, 3 x 3 node blocks) matrix with one ``bincount`` per block entry, which is
several times faster and lighter for million-DOF meshes. The DOF order is
scikit-fem's ``ElementVector(ElementTetP1())``: node-major, components interleaved.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def tet_gradients(points: np.ndarray, tets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of the 4 barycentric functions and the volume of each tetrahedron.

    Parameters
    ----------
    points : (N, 3) node coordinates [m].
    tets : (C, 4) node indices (any orientation).

    Returns
    -------
    grads : (C, 4, 3) [1/m]; volumes : (C,) [m^3], positive.
    """
    X = points[tets]
    D = X[:, 1:] - X[:, :1]  # (C, 3, 3): rows are edge vectors from node 0
    Dinv = np.linalg.inv(D)  # columns: gradients of lambda_1..3
    g = np.empty((len(tets), 4, 3))
    g[:, 1:] = np.swapaxes(Dinv, 1, 2)
    g[:, 0] = -g[:, 1:].sum(axis=1)
    vol = np.abs(np.linalg.det(D)) / 6.0
    return g, vol


def tet_p1_stiffness(points: np.ndarray, tets: np.ndarray, lam: float | np.ndarray,
                     mu: float | np.ndarray) -> sp.bsr_matrix:
    """Global P1 elasticity stiffness of a tetrahedral mesh, (3N, 3N) BSR [N/m].

    Parameters
    ----------
    points : (N, 3) node coordinates [m].
    tets : (C, 4) node indices.
    lam, mu : Lame parameters [Pa], scalars or (C,) per element.

    Returns
    -------
    scipy.sparse.bsr_matrix with 3 x 3 blocks, equal to
    ``elasticity.assemble(Basis(m, ElementVector(ElementTetP1())), lam=lam, mu=mu)``.
    """
    n = len(points)
    tets = np.asarray(tets, dtype=np.int64)
    g, vol = tet_gradients(points, tets)
    lam_v = np.broadcast_to(np.asarray(lam, float), vol.shape) * vol
    mu_v = np.broadcast_to(np.asarray(mu, float), vol.shape) * vol
    gt = np.ascontiguousarray(np.transpose(g, (2, 1, 0)))  # (3, 4, C)

    def blocks(ga: np.ndarray, gb: np.ndarray, out: np.ndarray, index: np.ndarray) -> None:
        """Sum element blocks K_ab (rows: node a, gradients ga (3, m, C)) into ``out``."""
        dots = np.einsum("kac,kac->ac", ga, gb)
        for i in range(3):
            for j in range(3):
                w = lam_v * ga[i] * gb[j] + mu_v * ga[j] * gb[i]
                if i == j:
                    w += mu_v * dots
                out[:, i, j] = np.bincount(index, weights=w.ravel(), minlength=len(out))

    # diagonal blocks, summed per node
    diag = np.empty((n, 3, 3))
    blocks(gt, gt, diag, tets.T.ravel())
    # off-diagonal blocks: one per mesh edge (lo < hi); K_ba = K_ab^T is block (b, a),
    # so an edge met as (hi, lo) contributes with the roles of a and b exchanged
    la, lb = np.array([0, 0, 0, 1, 1, 2]), np.array([1, 2, 3, 2, 3, 3])
    ta, tb = tets.T[la], tets.T[lb]  # (6, C)
    swap = ta > tb
    keys, inv = np.unique(np.where(swap, tb, ta) * n + np.where(swap, ta, tb),
                          return_inverse=True)
    upper = np.empty((len(keys), 3, 3))
    blocks(np.where(swap, gt[:, lb], gt[:, la]), np.where(swap, gt[:, la], gt[:, lb]), upper,
           inv.ravel())
    lo, hi = keys // n, keys % n
    rows = np.concatenate([lo, hi, np.arange(n)])
    cols = np.concatenate([hi, lo, np.arange(n)])
    order = np.argsort(rows * n + cols, kind="stable")
    data = np.concatenate([upper, np.swapaxes(upper, 1, 2), diag])[order]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))])
    return sp.bsr_matrix((data, cols[order], indptr), shape=(3 * n, 3 * n))


def tri_gradients(points: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of the 3 barycentric functions and the area of each triangle.

    Parameters
    ----------
    points : (N, 2) node coordinates [m].
    triangles : (C, 3) node indices (any orientation).

    Returns
    -------
    grads : (C, 3, 2) [1/m]; areas : (C,) [m^2], positive.
    """
    x = points[np.asarray(triangles, dtype=np.int64)]
    d1, d2 = x[:, 1] - x[:, 0], x[:, 2] - x[:, 0]
    det = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]
    g1 = np.stack([d2[:, 1], -d2[:, 0]], 1) / det[:, None]
    g2 = np.stack([-d1[:, 1], d1[:, 0]], 1) / det[:, None]
    return np.stack([-g1 - g2, g1, g2], 1), 0.5 * np.abs(det)


def tri_p1_element_matrices(points: np.ndarray, triangles: np.ndarray, lam: float,
                            mu: float) -> tuple[np.ndarray, np.ndarray]:
    """Element stiffness matrices of P1 plane (strain) elasticity on triangles.

    Parameters
    ----------
    points : (N, 2) node coordinates [m].
    triangles : (C, 3) node indices (any orientation).
    lam, mu : Lame parameters [Pa] (plane strain: the 3D values; unit thickness).

    Returns
    -------
    Ke : (C, 6, 6) [N/m], ``A B^T D B`` of each constant-strain triangle;
    dofs : (C, 6) int64 global DOFs of its rows, scikit-fem's
    ``ElementVector(ElementTriP1())`` order (node-major, DOF ``2 i + c``).
    """
    tri = np.asarray(triangles, dtype=np.int64)
    g, area = tri_gradients(points, tri)
    # K[(a, i), (b, j)] = A (lam g_a,i g_b,j + mu g_a,j g_b,i + mu delta_ij g_a . g_b)
    outer = g[:, :, None, :, None] * g[:, None, :, None, :]  # (C, a, b, i, j): g_a,i g_b,j
    dots = outer[..., 0, 0] + outer[..., 1, 1]
    K = lam * outer + mu * np.swapaxes(outer, 3, 4)
    K[..., 0, 0] += mu * dots
    K[..., 1, 1] += mu * dots
    K = np.transpose(K, (0, 1, 3, 2, 4)) * area[:, None, None, None, None]  # (C, a, i, b, j)
    dofs = (2 * tri[:, :, None] + np.arange(2)).reshape(len(tri), 6)
    return K.reshape(len(tri), 6, 6), dofs


def tri_p1_stiffness(points: np.ndarray, triangles: np.ndarray, lam: float, mu: float) -> sp.csr_matrix:
    """Global P1 plane (strain) elasticity stiffness of a triangle mesh, (2N, 2N) CSR [N/m].

    Takes the arguments of :func:`tri_p1_element_matrices` and returns the sum of its
    element matrices, in the same DOF order (scikit-fem's ``ElementVector(ElementTriP1())``).
    """
    K, dofs = tri_p1_element_matrices(points, triangles, lam, mu)
    rows = np.repeat(dofs, 6, axis=1).ravel()
    cols = np.tile(dofs, (1, 6)).ravel()
    n = 2 * len(points)
    return sp.coo_matrix((K.ravel(), (rows, cols)), shape=(n, n)).tocsr()
