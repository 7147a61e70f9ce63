"""Finite-element mass matrices (P1 on the simplex split of the volume cells).

The mass matrix ``M`` gives the L2 inner product of nodal fields,
``(u, v)_L2 = u @ M @ v``; it is the ``product`` of a POD weighted by the mesh
(MMGP). Vector fields use a block-diagonal matrix, in one of two layouts that
must match the layout of the snapshot vectors (a pitfall of the MMGP reference
stack): ``"blocked"`` (all x, then all y) or ``"interleaved"`` (x0, y0, x1, y1, ...).
"""
from __future__ import annotations

from math import factorial
from typing import Literal

import numpy as np
import scipy.sparse as sp

from .core import Mesh
from .errors import MeshError
from .transfer import simplex_split
from .types import FloatArray, IntArray


def simplex_measures(points: FloatArray, simplices: IntArray) -> FloatArray:
    """Unsigned measure (length, area, volume) of each simplex: (S,) float64.

    Parameters
    ----------
    points : (N, dim) coordinates, length unit L.
    simplices : (S, d+1) node indices, d <= dim (surfaces in 3D are allowed).

    Returns
    -------
    (S,) measures in L^d, from the Gram determinant of the edge vectors.
    """
    x = points[simplices]
    e = x[:, 1:] - x[:, :1]  # (S, d, dim)
    d = e.shape[1]
    gram = np.einsum("sik,sjk->sij", e, e)
    return np.sqrt(np.clip(np.linalg.det(gram), 0.0, None)) / factorial(d)


def mass_matrix(
    mesh: Mesh,
    *,
    lumped: bool = False,
    n_components: int = 1,
    layout: Literal["blocked", "interleaved"] = "blocked",
) -> sp.csr_matrix:
    """P1 mass matrix of a mesh (consistent or lumped), optionally for vector fields.

    Parameters
    ----------
    mesh : mesh with volume cells; quads, hexahedra, wedges, pyramids and quadratic
        cells are split into linear simplices (P1 on the split, exact for fields
        linear on each piece). Surfaces in 3D are allowed.
    lumped : if True, the diagonal row-sum matrix (|K|/(d+1) per simplex node).
    n_components : c, the number of components per node (2 for a 2D displacement).
    layout : ordering of a vector field's entries: ``"blocked"`` (all component 0,
        then all component 1, ...; ``kron(I_c, M)``) or ``"interleaved"`` (node by
        node; ``kron(M, I_c)``).

    Returns
    -------
    (c N, c N) scipy.sparse.csr_matrix, symmetric positive semi-definite (definite on
    the nodes used by cells), entries in L^d (mesh length unit to the power d).

    Raises
    ------
    MeshError
        For an unsupported cell type, n_components < 1 or an unknown layout.

    Examples
    --------
    >>> from mesh.core import CellBlock
    >>> m = Mesh(np.array([[0., 0.], [1., 0.], [0., 1.]]), [CellBlock("triangle", np.array([[0, 1, 2]]))])
    >>> round(float(mass_matrix(m).sum()), 12)   # area of the triangle
    0.5
    """
    if n_components < 1:
        raise MeshError(f"n_components must be >= 1; got {n_components}")
    if layout not in ("blocked", "interleaved"):
        raise MeshError(f"layout must be 'blocked' or 'interleaved'; got {layout!r}")
    simplices, _ = simplex_split(mesh)
    vol = simplex_measures(mesh.points, simplices)
    d1 = simplices.shape[1]
    n = mesh.n_points
    if lumped:
        diag = np.bincount(simplices.ravel(), np.repeat(vol / d1, d1), minlength=n)
        m = sp.diags(diag).tocsr()
    else:
        # local matrix |K| (1 + delta_ij) / ((d+1)(d+2))
        local = (np.ones((d1, d1)) + np.eye(d1)) / (d1 * (d1 + 1))
        rows = np.repeat(simplices, d1, axis=1).ravel()
        cols = np.tile(simplices, (1, d1)).ravel()
        vals = (vol[:, None, None] * local[None]).ravel()
        m = sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
        m.sum_duplicates()
    if n_components == 1:
        return m
    eye = sp.identity(n_components, format="csr")
    out = sp.kron(eye, m) if layout == "blocked" else sp.kron(m, eye)
    return out.tocsr()


__all__ = ["mass_matrix", "simplex_measures"]
