"""Structured meshes of simple shapes, for tests, benchmarks and examples."""
from __future__ import annotations

import numpy as np

from .core import CellBlock, Mesh

# six tetrahedra around the main diagonal 0-6 of a hexahedron (Kuhn split, VTK corner order)
_KUHN = np.array([[0, 1, 2, 6], [0, 2, 3, 6], [0, 3, 7, 6], [0, 7, 4, 6], [0, 4, 5, 6], [0, 5, 1, 6]])


def box_tetra(n: int, *, shuffle_seed: int | None = None) -> Mesh:
    """The unit cube cut into n^3 sub-cubes of 6 tetrahedra each (conforming, all positive).

    Parameters
    ----------
    n : sub-cubes per side; the mesh has (n + 1)^3 nodes and 6 n^3 tetrahedra.
    shuffle_seed : if given, renumber the nodes randomly with this seed (to measure code
        that must not profit from a structured numbering).

    Returns
    -------
    Mesh with points (N, 3) in [0, 1]^3 and one 'tetra' block (6 n^3, 4).
    """
    idx = np.arange((n + 1) ** 3).reshape(n + 1, n + 1, n + 1)
    hexes = np.stack([idx[:-1, :-1, :-1], idx[1:, :-1, :-1], idx[1:, 1:, :-1], idx[:-1, 1:, :-1],
                      idx[:-1, :-1, 1:], idx[1:, :-1, 1:], idx[1:, 1:, 1:], idx[:-1, 1:, 1:]], -1)
    tets = hexes.reshape(-1, 8)[:, _KUHN].reshape(-1, 4)
    g = np.linspace(0.0, 1.0, n + 1)
    X, Y, Z = np.meshgrid(g, g, g, indexing="ij")
    pts = np.stack([X.ravel(), Y.ravel(), Z.ravel()], 1)
    if shuffle_seed is not None:
        perm = np.random.default_rng(shuffle_seed).permutation(len(pts))
        inv = np.empty_like(perm)
        inv[perm] = np.arange(len(perm))
        pts, tets = pts[perm], inv[tets]
    return Mesh(pts, (CellBlock("tetra", tets),))
