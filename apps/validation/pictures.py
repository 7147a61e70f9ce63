"""Off-screen pictures of validated cases: reference | prediction | error (| std) side by side."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mesh import Mesh

from ..render import save_screenshot


def _values(mesh: Mesh, name: str) -> tuple[np.ndarray | None, str]:
    """(values, "point" | "cell"); vector fields as the norm of each node's vector."""
    if name in mesh.point_data:
        v, where = np.asarray(mesh.point_data[name], float), "point"
    elif name in mesh.cell_data:
        v, where = np.concatenate([np.asarray(a, float) for a in mesh.cell_data[name]]), "cell"
    else:
        return None, "point"
    return (np.linalg.norm(v.reshape(len(v), -1), axis=1) if v.ndim > 1 else v), where


def _panel_size(mesh: Mesh, width: int) -> tuple[int, int]:
    """(width, height) of one panel: as tall as the mesh's 2D extent asks, within limits."""
    if mesh.dim != 2:
        return width, int(0.9 * width)
    span = np.ptp(mesh.points, axis=0)
    ratio = span[1] / span[0] if span[0] > 0 else 1.0
    return width, int(np.clip(width * ratio * 0.9 + 130, 280, 720))


def _frame_2d(p, points: np.ndarray, panel: tuple[int, int]) -> None:
    """Parallel projection seen from +z, the mesh filling the panel above its colour bar."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    w, h = max(hi[0] - lo[0], 1e-30), max(hi[1] - lo[1], 1e-30)
    aspect = panel[0] / panel[1]
    scale = max(h / (2 * 0.70), w / (2 * 0.86 * aspect))  # half the visible height
    cx = 0.5 * (lo[0] + hi[0])
    cy = hi[1] + 0.16 * scale - scale  # top of the mesh just under the panel's label
    p.enable_parallel_projection()
    p.camera.focal_point = (cx, cy, 0.0)
    p.camera.position = (cx, cy, 10.0 * max(w, h))
    p.camera.up = (0.0, 1.0, 0.0)
    p.camera.parallel_scale = scale


def render_case(mesh: Mesh, field: str, path: Path, *, title: str = "", unit: str | None = None,
                panel: tuple[int, int] | None = None) -> Path:
    """Render one case of a validation to a PNG: reference, prediction, error and std panels.

    Parameters
    ----------
    mesh : a case mesh written by the validation, with ``FIELD``, ``FIELD_ref``,
        ``FIELD_err`` and (optionally) ``FIELD_std`` data.
    field : the output field to show (vector fields are shown as magnitudes, the error
        as the norm of the error vector).
    path : the PNG to write.
    title : text over the first panel (e.g. the case id and its error).
    panel : size of one panel, pixels (default: from the mesh's extent).

    Returns
    -------
    ``path``. Reference and prediction share one colour range (1-99 % quantiles of
    both); the error uses a symmetric range.
    """
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import pyvista as pv

    ref, where = _values(mesh, f"{field}_ref")
    pred, _ = _values(mesh, field)
    err_raw = mesh.point_data.get(f"{field}_err") if where == "point" else None
    err, _ = _values(mesh, f"{field}_err")
    signed = err_raw is not None and np.asarray(err_raw).ndim == 1
    if signed:
        err = np.asarray(err_raw, float)  # signed for one-component fields
    std, _ = _values(mesh, f"{field}_std")
    is_vector = not signed and where == "point" and np.asarray(mesh.point_data[field]).ndim > 1
    vector = " magnitude" if is_vector else ""
    panels = [(f"reference{vector}", ref), (f"prediction{vector}", pred),
              ("error (pred - ref)" if signed else "error magnitude", err)]
    if std is not None:
        panels.append((f"std{' norm' if vector else ''}", std))
    grid = mesh.without_data().to_pyvista()
    lo, hi = np.quantile(np.concatenate([ref, pred]), [0.01, 0.99])
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0) * 1e-6
    e = float(np.quantile(np.abs(err), 0.99)) or 1e-30
    panel = panel or _panel_size(mesh, 420)
    p = pv.Plotter(off_screen=True, shape=(1, len(panels)), window_size=(panel[0] * len(panels), panel[1]),
                   border=False)
    p.set_background("white")
    suffix = f" [{unit}]" if unit else ""
    for k, (label, values) in enumerate(panels):
        p.subplot(0, k)
        g = grid.copy()
        key = f"{label}{suffix}"
        (g.point_data if where == "point" else g.cell_data)[key] = values
        if "error" in label:
            clim, cmap = ((-e, e), "RdBu_r") if values.min() < 0 else ((0.0, e), "Reds")
        elif label.startswith("std"):
            clim, cmap = (0.0, float(np.quantile(values, 0.99)) or 1e-30), "viridis"
        else:
            clim, cmap = (lo, hi), "coolwarm"
        p.add_mesh(g, scalars=key, cmap=cmap, clim=clim, show_edges=False,
                   scalar_bar_args={"title": key, "color": "black", "fmt": "%.3g", "vertical": False,
                                    "position_x": 0.1, "position_y": 0.03, "width": 0.8, "height": 0.08,
                                    "title_font_size": 14, "label_font_size": 12, "n_labels": 2})
        p.add_text(f"{title}: {label}" if k == 0 and title else label, position="upper_left",
                   font_size=9, color="black")
        if mesh.dim == 2:
            _frame_2d(p, mesh.points, panel)
        else:
            p.camera_position = "xy"
            p.camera.azimuth, p.camera.elevation = -130.0, 25.0
            p.reset_camera()
            p.camera.zoom(1.3)
    try:
        return save_screenshot(p, path)
    finally:
        p.close()


def _render_jobs(jobs: list[tuple[str, str, str, str | None]]) -> list[str | None]:
    """Render ``(vtu, field, png, unit)`` jobs; one error message (or None) per job."""
    from mesh.io import read

    out: list[str | None] = []
    for vtu, field, png, unit in jobs:
        try:
            render_case(read(vtu), field, Path(png), unit=unit)
            out.append(None)
        except Exception as exc:  # noqa: BLE001 -- reported in the picture's place
            out.append(f"{type(exc).__name__}: {exc}")
    return out


def render_cases(jobs: list[tuple[Path, str, Path, str | None]]) -> list[str | None]:
    """Render several case pictures (see :func:`render_case`) in a child process.

    Off-screen VTK loads Mesa's LLVM into the process; importing triton (which torch
    does when an optimiser is first built) after that crashes the process. Rendering in
    a separate process keeps the caller safe, and a crash of the renderer costs the
    pictures only.

    Parameters
    ----------
    jobs : (case VTU, field, PNG to write, unit) per picture.

    Returns
    -------
    Per job: None when written, else why not.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    if not jobs:
        return []
    plain = [(str(v), f, str(p), u) for v, f, p, u in jobs]
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            return pool.submit(_render_jobs, plain).result()
    except (BrokenProcessPool, OSError) as exc:
        return [f"the renderer process failed ({type(exc).__name__}: {exc})"] * len(jobs)
