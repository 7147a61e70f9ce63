"""Shared fixtures: paths to the real external data and small hand-built meshes."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real external test data (../shared/data); skip when absent."""
    if not SHARED_DATA.exists():
        pytest.skip(f"external test data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def two_triangles():
    """Unit square split into two triangles, with a 'bottom' line group."""
    from mesh import CellBlock, Mesh

    pts = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    return Mesh(pts, (CellBlock("triangle", np.array([[0, 1, 2], [0, 2, 3]])),
                      CellBlock("line", np.array([[0, 1]]))),
                cell_sets={"bottom": [np.array([], np.int64), np.array([0])]})


def tet_box(n: int):
    """A unit cube of n^3 sub-cubes, each split into 6 tetrahedra (Kuhn): (points, tets)."""
    idx = np.arange((n + 1) ** 3).reshape(n + 1, n + 1, n + 1)
    c = np.stack([idx[:-1, :-1, :-1], idx[1:, :-1, :-1], idx[1:, 1:, :-1], idx[:-1, 1:, :-1],
                  idx[:-1, :-1, 1:], idx[1:, :-1, 1:], idx[1:, 1:, 1:], idx[:-1, 1:, 1:]], -1).reshape(-1, 8)
    kuhn = np.array([[0, 1, 2, 6], [0, 2, 3, 6], [0, 3, 7, 6], [0, 7, 4, 6], [0, 4, 5, 6], [0, 5, 1, 6]])
    g = np.linspace(0.0, 1.0, n + 1)
    X, Y, Z = np.meshgrid(g, g, g, indexing="ij")
    return np.stack([X.ravel(), Y.ravel(), Z.ravel()], 1), c[:, kuhn].reshape(-1, 4)


@pytest.fixture
def tet_box_mesh():
    """A 4x4x4 tetrahedral cube as a Mesh."""
    from mesh import CellBlock, Mesh

    p, t = tet_box(4)
    return Mesh(p, (CellBlock("tetra", t),))
