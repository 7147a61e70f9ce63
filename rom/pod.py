"""Proper orthogonal decomposition of snapshot sets, in the inner product of a mesh.

``pod(U, product=M)`` returns the leading left singular vectors of the snapshot
set in the inner product ``(u, v)_M = u @ M @ v`` (M = FE mass matrix for an L2
POD), i.e. the modes minimising the summed squared M-norm projection error.
Three algorithms, all free of dense (n_dof, n_dof) matrices:

- ``"svd"``: stabilised method of snapshots. A Householder QR ``U^T = Q R``, the
  Cholesky factor ``C`` of the small well-conditioned ``Q^T M Q``, and an SVD of
  ``C R`` (n_snap x n_snap). Accurate to round-off relative to the largest
  singular value, cost O(n_dof n_snap^2).
- ``"snapshots"``: classical method of snapshots, eigen-decomposition of the
  Gram matrix ``U M U^T``; cheapest, but singular values below about
  sqrt(eps) * s_max are lost (they are dropped). Modes are re-orthonormalised.
- ``"randomized"``: randomised range finder with power iterations in the M inner
  product (Halko, Martinsson, Tropp 2011), cost O(n_dof n_snap (modes + p)).
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Literal

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from numpy.typing import NDArray

FloatArray = NDArray[np.floating]
PODMethod = Literal["auto", "svd", "snapshots", "randomized"]


@dataclass(frozen=True, eq=False)
class PODBasis:
    """A POD basis: modes orthonormal in the product, singular values, optional mean.

    Attributes
    ----------
    modes : (n_modes, n_dof) float64, ``modes @ M @ modes.T = I``.
    singular_values : (n_modes,) float64, non-increasing, in the snapshots' unit
        times sqrt(product unit).
    mean : (n_dof,) float64 subtracted before projection, or None (no centering).
    product : (n_dof, n_dof) sparse or dense SPD matrix, or None (Euclidean).
    total_energy : sum over snapshots of ``|u - mean|_M^2``; the discarded energy is
        ``total_energy - sum(singular_values**2)``.
    method : the algorithm used.
    """

    modes: FloatArray
    singular_values: FloatArray
    mean: FloatArray | None
    product: object
    total_energy: float
    method: str

    @property
    def n_modes(self) -> int:
        """Number of modes."""
        return int(self.modes.shape[0])

    @property
    def n_dof(self) -> int:
        """Length of a snapshot vector."""
        return int(self.modes.shape[1])

    def _apply_product(self, x: FloatArray) -> FloatArray:
        return x if self.product is None else np.asarray(self.product @ x)

    @cached_property
    def _dual(self) -> FloatArray:
        """``M @ modes.T``: (n_dof, n_modes), computed once."""
        return self._apply_product(self.modes.T)

    def _centered(self, u: FloatArray) -> FloatArray:
        u = _as_2d(u, self.n_dof, "U")
        return u if self.mean is None else u - self.mean

    def project(self, u: FloatArray) -> FloatArray:
        """Coefficients of snapshots in the basis: ``(U - mean) @ M @ modes.T``.

        Parameters
        ----------
        u : (n, n_dof) or (n_dof,) snapshots.

        Returns
        -------
        (n, n_modes) float64 coefficients.
        """
        return self._centered(u) @ self._dual

    def reconstruct(self, coefficients: FloatArray) -> FloatArray:
        """Snapshots from coefficients: ``coefficients @ modes + mean``.

        Parameters
        ----------
        coefficients : (n, k) or (k,) float64 with k <= n_modes (the first k modes).

        Returns
        -------
        (n, n_dof) float64.
        """
        c = np.atleast_2d(np.asarray(coefficients, dtype=np.float64))
        k = c.shape[1]
        if k > self.n_modes:
            raise ValueError(f"got {k} coefficients per row; the basis has {self.n_modes} modes")
        out = c @ self.modes[:k]
        return out if self.mean is None else out + self.mean

    def projection_error(
        self, u: FloatArray, n_modes: Sequence[int] | None = None, *, relative: bool = False
    ) -> FloatArray:
        """Summed squared projection error of snapshots for several basis sizes.

        Parameters
        ----------
        u : (n, n_dof) snapshots.
        n_modes : basis sizes k to evaluate (default 0..n_modes).
        relative : divide by the summed squared norm ``sum_i |u_i - mean|_M^2``.

        Returns
        -------
        (len(n_modes),) float64: ``sum_i |u_i - mean - P_k (u_i - mean)|_M^2`` where
        P_k is the M-orthogonal projection on the first k modes. On the training
        snapshots it equals the sum of the discarded squared singular values
        (Eckart-Young).
        """
        ks = list(range(self.n_modes + 1)) if n_modes is None else [int(k) for k in n_modes]
        bad = [k for k in ks if not 0 <= k <= self.n_modes]
        if bad:
            raise ValueError(f"n_modes values {bad} outside 0..{self.n_modes}")
        u0 = self._centered(u)
        coef = u0 @ self._dual
        out = np.empty(len(ks))
        for i, k in enumerate(ks):  # loop over basis sizes, vectorised inside
            r = u0 - coef[:, :k] @ self.modes[:k]
            out[i] = _sq_norm(r, self.product)
        if relative:
            total = _sq_norm(u0, self.product)
            out = out / (total if total > 0 else 1.0)
        return out

    def truncated(self, n_modes: int) -> PODBasis:
        """A basis with the first ``n_modes`` modes only."""
        if not 0 <= n_modes <= self.n_modes:
            raise ValueError(f"n_modes must be in 0..{self.n_modes}; got {n_modes}")
        return replace(self, modes=self.modes[:n_modes],
                       singular_values=self.singular_values[:n_modes])


def _as_2d(u: FloatArray, n_dof: int | None, name: str) -> FloatArray:
    u = np.atleast_2d(np.asarray(u, dtype=np.float64))
    if u.ndim != 2 or (n_dof is not None and u.shape[1] != n_dof):
        raise ValueError(f"{name} must have shape (n, {n_dof or 'n_dof'}); got {u.shape}")
    return u


def _sq_norm(u: FloatArray, product) -> float:
    """Sum over rows of |u_i|_M^2."""
    mu = u.T if product is None else np.asarray(product @ u.T)
    return float(np.einsum("ij,ji->", u, mu))


def _check_product(product, n_dof: int):
    """Validate a product matrix: square (n_dof, n_dof), finite, symmetric."""
    if product is None:
        return None
    if not (sp.issparse(product) or isinstance(product, np.ndarray)):
        raise TypeError(f"product must be a scipy.sparse matrix or ndarray; got {type(product)}")
    if product.shape != (n_dof, n_dof):
        raise ValueError(f"product must have shape ({n_dof}, {n_dof}); got {product.shape}")
    m = sp.csr_matrix(product) if sp.issparse(product) else product
    asym = abs(m - m.T).max()
    size = abs(m).max()
    if not np.isfinite(size) or asym > 1e-10 * size:
        raise ValueError(
            f"product must be symmetric and finite; max |M - M^T| = {asym:.3g}, max |M| = {size:.3g}"
        )
    return m


def _m_orthonormal(y: FloatArray, product) -> tuple[FloatArray, FloatArray]:
    """M-orthonormal basis of the columns of y (n_dof, r) via QR then Cholesky.

    Returns (W (n_dof, r) with W^T M W = I, T (r, r) upper with y = W T).
    """
    q, r = np.linalg.qr(y)
    if product is None:
        return q, r
    g = q.T @ np.asarray(product @ q)
    g = 0.5 * (g + g.T)
    try:
        c = sla.cholesky(g, lower=False)
    except np.linalg.LinAlgError:
        raise ValueError("product is not positive definite on the span of the snapshots") from None
    w = sla.solve_triangular(c, q.T, trans="T", lower=False).T  # Q C^{-1}
    return w, c @ r


def _svd_method(u0: FloatArray, product) -> tuple[FloatArray, FloatArray, float]:
    """(modes (r, n_dof), svals (r,), relative noise level) by QR + Cholesky + SVD."""
    if product is None:
        _, s, vt = np.linalg.svd(u0, full_matrices=False)
        return vt, s, 10 * max(u0.shape) * np.finfo(float).eps
    w, t = _m_orthonormal(u0.T, product)  # u0^T = W T, W M-orthonormal
    a, s, _ = np.linalg.svd(t, full_matrices=False)  # t = A S B^T
    return (w @ a).T, s, 10 * max(u0.shape) * np.finfo(float).eps


def _snapshots_method(u0: FloatArray, product) -> tuple[FloatArray, FloatArray, float]:
    """(modes, svals, relative noise level) by eigh of the Gram matrix U M U^T."""
    mu = u0.T if product is None else np.asarray(product @ u0.T)  # (n_dof, n)
    g = u0 @ mu
    g = 0.5 * (g + g.T)
    lam, v = np.linalg.eigh(g)
    lam, v = lam[::-1], v[:, ::-1]
    noise = np.sqrt(len(g) * np.finfo(float).eps) * 10
    s = np.sqrt(np.clip(lam, 0.0, None))
    keep = s > noise * (s[0] if len(s) else 0.0)
    s, v = s[keep], v[:, keep]
    modes = (v.T @ u0) / s[:, None]
    w, _ = _m_orthonormal(modes.T, product)  # re-orthonormalise (Gram-Schmidt-like)
    modes = w.T * np.sign(np.einsum("ij,ij->i", w.T, modes))[:, None]
    return modes, s, noise


def _randomized_method(u0: FloatArray, product, rank: int, oversampling: int,
                       power_iterations: int, rng: np.random.Generator):
    """(modes, svals, relative noise level) by a randomised range finder in the M product."""
    n, n_dof = u0.shape
    ell = min(rank + oversampling, n, n_dof)
    y = u0.T @ rng.standard_normal((n, ell))  # (n_dof, ell), range of U^T
    w, _ = _m_orthonormal(y, product)
    for _ in range(power_iterations):
        mw = w if product is None else np.asarray(product @ w)
        w, _ = _m_orthonormal(u0.T @ (u0 @ mw), product)
    mw = w if product is None else np.asarray(product @ w)
    b = u0 @ mw  # (n, ell) coefficients of the snapshots in W
    _, s, vt = np.linalg.svd(b, full_matrices=False)
    return (w @ vt.T).T, s, 10 * max(u0.shape) * np.finfo(float).eps


def _n_keep(s: FloatArray, total: float, modes: int | None, rtol: float | None,
            atol_rel: float) -> int:
    """Number of modes to keep: numerically nonzero, then the rtol and modes limits."""
    k = int(np.sum(s > atol_rel * (s[0] if len(s) else 0.0)))
    if rtol is not None and total > 0:
        # discarded energy after j modes, relative: (total - sum_{i<j} s_i^2) / total
        tail = np.clip(total - np.concatenate([[0.0], np.cumsum(s[:k] ** 2)]), 0.0, None)
        ok = np.flatnonzero(np.sqrt(tail / total) <= rtol)
        k = min(k, int(ok[0])) if len(ok) else k
    if modes is not None:
        k = min(k, modes)
    return k


def _choose(method: PODMethod, n: int, n_dof: int, modes: int | None, oversampling: int) -> str:
    if method != "auto":
        return method
    small = modes is not None and 4 * (modes + oversampling) <= min(n, n_dof)
    return "randomized" if small and n * n_dof >= 10_000_000 else "svd"


def pod(
    snapshots: FloatArray,
    product=None,
    modes: int | None = None,
    rtol: float | None = None,
    *,
    center: bool = False,
    method: PODMethod = "auto",
    random_state: int | np.random.Generator | None = None,
    oversampling: int = 10,
    power_iterations: int = 2,
) -> PODBasis:
    """Proper orthogonal decomposition of a snapshot set.

    Parameters
    ----------
    snapshots : (n_snap, n_dof) float64, one snapshot per row (for vector fields the
        layout must match the product: see :func:`mesh.mass.mass_matrix`).
    product : (n_dof, n_dof) symmetric positive definite sparse (or dense) matrix
        defining the inner product, e.g. the FE mass matrix; None for Euclidean.
    modes : maximum number of modes (default: all numerically nonzero ones; required
        for ``method="randomized"``).
    rtol : relative truncation tolerance: keep the fewest modes k such that
        ``sqrt(discarded energy / total energy) <= rtol``, the relative Frobenius-type
        projection error of the snapshot set (energy kept >= 1 - rtol^2).
    center : subtract the snapshot mean first (stored in ``PODBasis.mean``).
    method : ``"svd"`` (stabilised method of snapshots, accurate), ``"snapshots"``
        (Gram matrix eigh), ``"randomized"``, or ``"auto"`` (randomized when ``modes``
        is small against a large set, else svd).
    random_state : seed or generator for ``"randomized"``.
    oversampling : extra random vectors for ``"randomized"``.
    power_iterations : power iterations for ``"randomized"``.

    Returns
    -------
    PODBasis with modes (k, n_dof) orthonormal in the product and singular values (k,).

    Raises
    ------
    ValueError
        For bad shapes, non-finite snapshots, a non-symmetric or indefinite product,
        an unknown method, or ``"randomized"`` without ``modes``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> U = rng.standard_normal((20, 3)) @ rng.standard_normal((3, 50))
    >>> basis = pod(U, rtol=1e-10)
    >>> basis.n_modes, bool(np.allclose(basis.reconstruct(basis.project(U)), U))
    (3, True)
    """
    u = _as_2d(snapshots, None, "snapshots")
    n, n_dof = u.shape
    if not np.all(np.isfinite(u)):
        row = int(np.flatnonzero(~np.all(np.isfinite(u), axis=1))[0])
        raise ValueError(f"snapshot {row} has non-finite values")
    if modes is not None and modes < 0:
        raise ValueError(f"modes must be >= 0; got {modes}")
    if rtol is not None and not rtol >= 0:
        raise ValueError(f"rtol must be >= 0; got {rtol}")
    m = _check_product(product, n_dof)
    mean = u.mean(axis=0) if center else None
    u0 = u - mean if center else u
    total = _sq_norm(u0, m)
    chosen = _choose(method, n, n_dof, modes, oversampling)
    if chosen == "svd":
        vecs, s, noise = _svd_method(u0, m)
    elif chosen == "snapshots":
        vecs, s, noise = _snapshots_method(u0, m)
    elif chosen == "randomized":
        if modes is None:
            raise ValueError("method='randomized' needs modes (the target rank)")
        rng = np.random.default_rng(random_state)
        vecs, s, noise = _randomized_method(u0, m, modes, oversampling, power_iterations, rng)
    else:
        raise ValueError(f"unknown method {method!r}; choose auto, svd, snapshots or randomized")
    k = _n_keep(s, total, modes, rtol, noise)
    if modes is not None and k < modes and rtol is None:
        warnings.warn(f"asked for {modes} modes; the snapshots have only {k} numerically "
                      f"nonzero ones", stacklevel=2)
    return PODBasis(np.ascontiguousarray(vecs[:k]), s[:k].copy(), mean, m, total, chosen)


__all__ = ["PODBasis", "pod"]
