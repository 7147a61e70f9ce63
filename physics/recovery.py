"""Recovery of quadrature-point quantities (stresses, fluxes) as nodal fields.

The nodal field is the L2 projection onto the mesh's nodal basis (P1/Q1 on
straight cells, the isoparametric P2/Q2 basis on quadratic cells): find s_h with
(s_h, v) = (s, v) for all v, one consistent-mass solve per component.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import scipy.sparse.linalg as spla
import skfem
from skfem.quadrature import get_quadrature

from .errors import ConvergenceError
from .forms import mass, projection_rhs
from .linsolve import blas_single_thread
from .skfem_mesh import FEMesh


def project_to_nodes(femesh: FEMesh, basis: skfem.CellBasis,
                     values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """L2-project quadrature values onto the nodal basis and return nodal fields.

    Parameters
    ----------
    femesh : the converted mesh.
    basis : the basis whose quadrature the values live on (scalar or vector).
    values : name -> (nel, nqp) values at ``basis``'s quadrature points.

    Returns
    -------
    name -> (N,) values at the project mesh's nodes (same unit as the input).

    Raises
    ------
    ConvergenceError
        If the CG solve of a large mass matrix fails.
    """
    element = femesh.nodal_element()
    nb = basis.with_element(element)
    # the mass matrix is integrated exactly even when ``basis`` uses fewer points
    exact = femesh.intorder(element.maxdeg)
    n_exact = get_quadrature(element.refdom, exact)[0].shape[1]
    mb = nb if basis.X.shape[1] >= n_exact else skfem.Basis(femesh.skmesh, element,
                                                            intorder=exact)
    M = mass.assemble(mb).tocsr()
    solve = _mass_solver(M)
    out = {}
    for name, v in values.items():
        v = np.asarray(v, dtype=np.float64)
        if v.shape != (nb.nelems, nb.X.shape[1]):
            raise ValueError(
                f"'{name}' must have shape (nel, nqp) = ({nb.nelems}, {nb.X.shape[1]}); "
                f"got {v.shape}"
            )
        rhs = projection_rhs.assemble(nb, s=v)
        out[name] = femesh.to_nodes(nb, solve(rhs, name))
    return out


def _mass_solver(M):
    """CG with a Jacobi preconditioner: mass matrices are well conditioned (h-independent)."""
    dinv = 1.0 / M.diagonal()
    P = spla.LinearOperator(M.shape, matvec=lambda x: dinv * x)

    def cg(b, name):
        with blas_single_thread():
            x, flag = spla.cg(M, b, x0=dinv * b, rtol=1e-12, atol=0.0, maxiter=1000, M=P)
        if flag != 0:
            raise ConvergenceError(
                f"L2 projection of '{name}' did not converge in 1000 CG iterations"
            )
        return x

    return cg


def von_mises(s11: np.ndarray, s22: np.ndarray, s33: np.ndarray | float = 0.0,
              s12: np.ndarray | float = 0.0, s23: np.ndarray | float = 0.0,
              s13: np.ndarray | float = 0.0) -> np.ndarray:
    """Von Mises equivalent stress of a symmetric stress tensor, any shape [Pa].

    Examples
    --------
    >>> float(von_mises(1.0, 0.0))  # uniaxial
    1.0
    >>> round(float(von_mises(0.0, 0.0, s12=1.0)), 6)  # pure shear: sqrt(3)
    1.732051
    """
    return np.sqrt(0.5 * ((s11 - s22) ** 2 + (s22 - s33) ** 2 + (s33 - s11) ** 2)
                   + 3.0 * (s12 ** 2 + s23 ** 2 + s13 ** 2))
