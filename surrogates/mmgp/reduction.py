"""Mass-weighted POD of snapshots on the common support (geometry and output fields)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from rom.pod import pod

from ..errors import ModelFormatError, SurrogateError


@dataclass(frozen=True, eq=False)
class Reduction:
    """A centred POD basis, orthonormal in the support's mass-matrix inner product.

    Attributes
    ----------
    modes : (k, n_dof) float64, ``modes @ M @ modes.T = I``.
    mean : (n_dof,) float64 snapshot mean.
    dual : (n_dof, k) float64 ``M @ modes.T`` (projection without the mass matrix).
    singular_values : (k,) float64.
    energy : (k,) float64 share of the centred snapshot energy captured by the first
        1..k modes.
    """

    modes: np.ndarray
    mean: np.ndarray
    dual: np.ndarray
    singular_values: np.ndarray
    energy: np.ndarray

    @property
    def n_modes(self) -> int:
        """Number of modes k."""
        return int(self.modes.shape[0])

    def project(self, u: np.ndarray) -> np.ndarray:
        """Coefficients of snapshots u (n, n_dof) or (n_dof,): (n, k)."""
        return (np.atleast_2d(u) - self.mean) @ self.dual

    def reconstruct(self, coefficients: np.ndarray) -> np.ndarray:
        """Snapshots from coefficients (n, k): (n, n_dof)."""
        return np.atleast_2d(coefficients) @ self.modes + self.mean

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """Named arrays for the model folder."""
        return {f"{prefix}.modes": self.modes, f"{prefix}.mean": self.mean, f"{prefix}.dual": self.dual,
                f"{prefix}.singular_values": self.singular_values, f"{prefix}.energy": self.energy}

    @classmethod
    def from_arrays(cls, prefix: str, arrays: dict[str, np.ndarray]) -> Reduction:
        """Inverse of :meth:`arrays`."""
        try:
            return cls(*(np.asarray(arrays[f"{prefix}.{k}"], dtype=np.float64)
                         for k in ("modes", "mean", "dual", "singular_values", "energy")))
        except KeyError as exc:
            raise ModelFormatError(f"the model folder lacks the array {exc}") from None


def fit_reduction(snapshots: np.ndarray, product: sp.spmatrix, modes: int, rtol: float | None,
                  name: str) -> Reduction:
    """Centred POD of snapshots in the inner product ``product``.

    Parameters
    ----------
    snapshots : (n, n_dof) float64, one snapshot per row, in the layout of ``product``.
    product : (n_dof, n_dof) SPD sparse mass matrix.
    modes : maximum number of modes.
    rtol : optional relative energy tolerance (see :func:`rom.pod.pod`).
    name : what is reduced (for messages).

    Returns
    -------
    Reduction with at least one mode (a constant set gets one zero-energy mode).
    """
    snapshots = np.asarray(snapshots, dtype=np.float64)
    n, n_dof = snapshots.shape
    try:
        basis = pod(snapshots, product=product, modes=min(modes, max(n - 1, 1)), rtol=rtol,
                    center=True, method="svd")
    except ValueError as exc:
        raise SurrogateError(f"POD of {name} failed: {exc}") from None
    if basis.n_modes == 0:  # all snapshots equal: keep one (null) direction so shapes stay valid
        m = np.zeros((1, n_dof))
        return Reduction(m, basis.mean, m.T.copy(), np.zeros(1), np.ones(1))
    total = basis.total_energy if basis.total_energy > 0 else 1.0
    energy = np.cumsum(basis.singular_values ** 2) / total
    dual = np.asarray(product @ basis.modes.T)
    return Reduction(np.ascontiguousarray(basis.modes), basis.mean, np.ascontiguousarray(dual),
                     basis.singular_values.copy(), energy)


__all__ = ["Reduction", "fit_reduction"]
