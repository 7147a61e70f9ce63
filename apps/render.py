"""Off-screen pictures of meshes coloured by a field (pyvista; no window, no Qt)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def preload_triton() -> None:
    """Import triton (if installed) before VTK renders off-screen.

    Mesa's EGL and triton both load LLVM: importing triton after an off-screen VTK render
    crashes the process, and torch imports triton when the first optimizer is built. Any
    process that renders and later trains must call this first.
    """
    try:
        import triton  # noqa: F401
    except ImportError:
        pass


def render_field(mesh, field: str, path: Path, *, title: str | None = None,
                 view: tuple[float, float] = (-130.0, 25.0), size: tuple[int, int] = (1000, 520)) -> Path:
    """Render ``mesh`` coloured by point field ``field`` to a PNG; return its path.

    The colour range is the 1-99 % quantile range, so a few extreme nodes do not wash
    out the picture. ``view`` is (azimuth, elevation) in degrees for 3D meshes.
    """
    preload_triton()
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import pyvista as pv

    grid = mesh.to_pyvista()
    values = np.asarray(mesh.point_data[field])
    if values.ndim > 1:
        values = np.linalg.norm(values, axis=1)
    grid.point_data[field] = values
    lo, hi = np.quantile(values, [0.01, 0.99])
    p = pv.Plotter(off_screen=True, window_size=size)
    p.set_background("white")
    p.add_mesh(grid, scalars=field, cmap="coolwarm", clim=(lo, hi), show_edges=True,
               edge_color="#555555", line_width=0.2,
               scalar_bar_args={"title": title or field, "color": "black", "fmt": "%.3g"})
    if mesh.dim == 2:
        p.view_xy()
    else:
        p.camera_position = "xy"
        p.camera.azimuth, p.camera.elevation = view
        p.reset_camera()
        p.camera.zoom(1.35)
    try:
        return save_screenshot(p, path)
    finally:
        p.close()


def save_screenshot(plotter, path: str | os.PathLike) -> Path:
    """Write the plotter's picture to ``path`` (PNG; its folder is created) atomically
    (:func:`mesh.io.atomic_write`): a failed render never leaves a truncated picture."""
    from mesh.io import atomic_write

    return atomic_write(Path(path), lambda tmp: plotter.screenshot(str(tmp)))
