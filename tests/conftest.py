"""Shared fixtures: paths to the real external data and small hand-built meshes."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

# Importing triton after VTK has rendered off-screen through Mesa's EGL crashes the process
# (both load LLVM); torch imports triton when the first optimizer is built. Load it first.
try:
    import triton  # noqa: F401
except ImportError:
    pass

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


@pytest.fixture
def tet_box_mesh():
    """A 4x4x4 tetrahedral cube as a Mesh."""
    from mesh.structured import box_tetra

    return box_tetra(4)
