"""The pyvista scene: one sample coloured by one field, alone or side by side.

The plotter has three panes whose cameras are linked; the layout decides which are
shown: one pane, prediction | reference (one shared colour range, the same bar under
both), or prediction | reference | absolute error (the error with its own range and bar).
The same code draws the live app (server-side rendering) and the static exports.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from .fields import MAGNITUDE, ROLE_LABELS, FieldGroup, discover, resolve, values
from .targets import ViewSample

CMAPS = ("turbo", "viridis", "coolwarm", "plasma", "inferno", "jet", "RdBu_r", "gray")
LAYOUTS = {"single": "one field", "pred_ref": "prediction | reference",
           "pred_ref_err": "prediction | reference | abs error"}
RANGE_MODES = {"auto": "min - max", "robust": "1 % - 99 % quantiles", "manual": "manual"}
CUTS = ("none", "clip", "slice")
AXES = ("x", "y", "z")
_DIMENSIONLESS = ("-", "1", "")
_TEXT = "#1f2933"
# scalar bar placement; the camera's window centre moves the mesh out of the bar's way
_BAR_SIDE = {"vertical": True, "position_x": 0.87, "position_y": 0.1, "width": 0.05,
             "height": 0.72, "n_labels": 6, "title_font_size": 16, "label_font_size": 14}
_BAR_BOTTOM = {"vertical": False, "position_x": 0.12, "position_y": 0.02, "width": 0.76,
               "height": 0.11, "n_labels": 2, "title_font_size": 13, "label_font_size": 12}
_SHIFT = {"single": (0.14, 0.0), "compare": (0.0, -0.12)}
_ZOOM_3D = {"single": 1.0, "compare": 0.85}
_FREE = {"single": (0.80, 0.86), "compare": (0.92, 0.74)}  # share of a pane a 2D mesh may fill


@dataclass
class ViewOptions:
    """What to show; every control of the app maps to one attribute.

    Attributes
    ----------
    field : key of a :class:`~.fields.FieldGroup`; None picks the first field.
    role : ``prediction``, ``reference``, ``error``, ``std``, ... ; None picks the first.
    component : ``"magnitude"`` or a component name (``"X"``, ``"0"``) of a vector field.
    cmap : matplotlib colour map name.
    range_mode : ``"auto"`` (min-max), ``"robust"`` (1-99 % quantiles) or ``"manual"``.
    vmin, vmax : the manual range (ignored unless ``range_mode == "manual"``).
    layout : ``"single"``, ``"pred_ref"`` or ``"pred_ref_err"`` (needs a reference).
    edges : draw cell edges.
    cut : ``"none"``, ``"clip"`` or ``"slice"`` (3D meshes only).
    cut_axis : normal of the cut plane, ``"x"``, ``"y"`` or ``"z"``.
    cut_pos : position of the plane along the axis, 0 to 1 across the mesh's bounds.
    step : time step of a series.
    """

    field: str | None = None
    role: str | None = None
    component: str = MAGNITUDE
    cmap: str = "turbo"
    range_mode: str = "auto"
    vmin: float | None = None
    vmax: float | None = None
    layout: str = "single"
    edges: bool = False
    cut: str = "none"
    cut_axis: str = "x"
    cut_pos: float = 0.5
    step: int = 0


@dataclass
class Pane:
    """One drawn pane: its label, colour range and scalar-bar title."""

    label: str
    clim: tuple[float, float]
    bar: str | None


@dataclass
class Drawn:
    """What :func:`draw` showed, for the app's controls and the export's metadata.

    ``layout`` is ``"single"`` or ``"compare"`` (what was drawn, whatever was asked).
    """

    group: FieldGroup | None
    role: str
    component: str
    clim: tuple[float, float]
    unit: str | None
    layout: str = "single"
    panes: list[Pane] = field(default_factory=list)


def make_plotter(size: tuple[int, int] = (1200, 800)):
    """An off-screen plotter with three linked panes (only the first is visible at first)."""
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import pyvista as pv

    p = pv.Plotter(off_screen=True, shape=(1, 3), window_size=size, border=False)
    p.link_views()
    for r in p.renderers:
        r.set_background("white", top="#dde3ea")
    return p


def choose(sample: ViewSample, opts: ViewOptions) -> tuple[FieldGroup | None, str, str]:
    """The field group, role and component ``opts`` asks for, with defaults filled in.

    A sample without any field gives ``(None, "", "")`` (its bare mesh is drawn).

    Raises
    ------
    FieldNotFoundError
        When ``opts.field`` is not a field of the sample (the message lists those there are).
    """
    groups = discover(sample.at(opts.step))
    if not groups and opts.field is None:
        return None, "", ""
    if opts.field is None:
        key, role = next(iter(groups)), None
    else:
        key, role = resolve(groups, opts.field, f"sample '{sample.ref.id}'")
        if opts.field == key:
            role = None
    group = groups[key]
    role = opts.role if opts.role in group.arrays else (role or group.roles[0])
    comp = opts.component if opts.component in group.components else MAGNITUDE
    return group, role, comp


def unit_of(name: str, units: dict[str, str]) -> str | None:
    """The unit of a field, None when unknown or dimensionless."""
    u = units.get(name)
    return None if u is None or u.strip() in _DIMENSIONLESS else u


def colour_range(arrays: list[np.ndarray], opts: ViewOptions, manual: bool = True) -> tuple[float, float]:
    """One colour range for all the arrays (never empty: a constant field gets a width)."""
    data = np.concatenate([np.ravel(a) for a in arrays])
    data = data[np.isfinite(data)]
    if manual and opts.range_mode == "manual" and opts.vmin is not None and opts.vmax is not None \
            and opts.vmax > opts.vmin:
        return float(opts.vmin), float(opts.vmax)
    if data.size == 0:
        return 0.0, 1.0
    if opts.range_mode == "robust":
        lo, hi = np.quantile(data, [0.01, 0.99])
    else:
        lo, hi = data.min(), data.max()
    if hi <= lo:  # a constant field: a readable range around its value
        pad = abs(lo) * 0.01 or 0.5
        lo, hi = lo - pad, hi + pad
    return float(lo), float(hi)


def _pane_roles(group: FieldGroup, role: str, layout: str) -> list[str]:
    if layout == "single" or not group.comparable:
        return [role]
    return ["prediction", "reference"] + (["error"] if layout == "pred_ref_err" else [])


def draw(plotter, sample: ViewSample, opts: ViewOptions, units: dict[str, str] | None = None, *,
         reset_camera: bool = True, caption: str | None = None) -> Drawn:
    """Draw ``sample`` into a plotter from :func:`make_plotter`; return what was drawn."""
    units = units or {}
    group, role, comp = choose(sample, opts)
    grid = sample.at(opts.step)
    if group is None:
        return _draw_bare(plotter, grid, sample.dim, opts, reset_camera)
    roles = _pane_roles(group, role, opts.layout)
    kind = "single" if len(roles) == 1 else "compare"
    data = {r: values(grid, group, r, comp) for r in roles}
    shared = [r for r in roles if r != "error"] or roles
    clim = colour_range([data[r] for r in shared], opts)
    unit = unit_of(group.name, units)
    if not group.components:
        name = group.name
    else:
        name = f"{group.name} {comp}"  # "U magnitude", "U X" (VTK's font has no "|")
    suffix = f" [{unit}]" if unit else ""
    single = name if role == "value" else f"{name} {ROLE_LABELS[role]}"

    for title in list(plotter.scalar_bars.keys()):
        plotter.remove_scalar_bar(title, render=False)
    plotter.clear_actors()
    _set_viewports(plotter, len(roles))
    panes = []
    for i, r in enumerate(roles):
        plotter.subplot(0, i)
        if len(roles) == 1:
            pclim, bar, label = clim, single + suffix, single
        elif r == "error":
            pclim, bar = colour_range([data[r]], opts, manual=False), f"abs error{suffix}"
            label = f"{name} abs error"
        else:
            # one range, one bar drawn under both (a trailing space keeps pyvista's keys apart)
            pclim, bar, label = clim, f"{name}{suffix}" + (" " if r == "prediction" else ""), \
                f"{name} {ROLE_LABELS[r]}"
        _add(plotter, grid, group, data[r], pclim, bar, opts, sample.dim, kind)
        plotter.add_text(label, position="upper_left", font_size=11, color=_TEXT, name=f"label{i}")
        panes.append(Pane(label, pclim, bar))
    if caption:
        plotter.add_text(caption, position="upper_right", font_size=8, color="#52606d", name="caption")
    plotter.subplot(0, 0)
    if reset_camera:
        set_view(plotter, sample.dim, grid.bounds, layout=kind)
    return Drawn(group, role, comp, clim, unit, kind, panes)


def _draw_bare(plotter, grid, dim: int, opts: ViewOptions, reset_camera: bool) -> Drawn:
    """A mesh without fields: grey, with its edges."""
    for title in list(plotter.scalar_bars.keys()):
        plotter.remove_scalar_bar(title, render=False)
    plotter.clear_actors()
    _set_viewports(plotter, 1)
    plotter.subplot(0, 0)
    plotter.add_mesh(grid, color="#c5ced8", show_edges=True, edge_color="#3e4c59",
                     smooth_shading=False)
    plotter.add_text("mesh (no fields)", position="upper_left", font_size=11, color=_TEXT,
                     name="label0")
    if reset_camera:
        set_view(plotter, dim, grid.bounds)
    return Drawn(None, "", "", (0.0, 1.0), None, "single", [Pane("mesh (no fields)", (0.0, 1.0), None)])


def _set_viewports(plotter, n: int) -> None:
    for i, r in enumerate(plotter.renderers):
        r.SetViewport(*((i / n, 0.0, (i + 1) / n, 1.0) if i < n else (0.0, 0.0, 0.0, 0.0)))


def _add(plotter, grid, group: FieldGroup, vals: np.ndarray, clim, bar: str | None,
         opts: ViewOptions, dim: int, kind: str) -> None:
    mesh = grid.copy(deep=False)
    mesh.clear_data()
    target = mesh.point_data if group.location == "point" else mesh.cell_data
    target["view"] = vals
    cut = opts.cut if dim == 3 else "none"
    kw = {"scalars": "view", "cmap": opts.cmap, "clim": clim, "show_edges": opts.edges,
          "edge_color": "#3e4c59", "line_width": 1.0, "show_scalar_bar": False,
          "preference": group.location, "smooth_shading": dim == 3 and opts.cut != "slice"}
    if cut != "none":
        normal = AXES.index(opts.cut_axis) if opts.cut_axis in AXES else 0
        lo, hi = mesh.bounds[2 * normal], mesh.bounds[2 * normal + 1]
        origin = list(mesh.center)
        origin[normal] = lo + min(max(opts.cut_pos, 0.0), 1.0) * (hi - lo)
        axis = AXES[normal]
        plotter.add_mesh(_surface(mesh) if cut == "slice" else mesh.outline(),
                         color="#9aa5b1", opacity=0.15 if cut == "slice" else 1.0, pickable=False)
        mesh = mesh.slice(normal=axis, origin=origin) if cut == "slice" \
            else mesh.clip(normal=axis, origin=origin, crinkle=False)
        if mesh.n_points == 0:
            return
        if cut == "slice":
            kw["line_width"] = 3.0
    plotter.add_mesh(mesh, **kw)
    if bar:
        where = _BAR_SIDE if kind == "single" else _BAR_BOTTOM
        actor = plotter.add_scalar_bar(title=bar + ("\n" if where is _BAR_SIDE else ""),
                                       mapper=plotter.mapper, color=_TEXT, fmt="%.3g", bold=False,
                                       **where)
        if where is _BAR_BOTTOM:  # labels under the bar, the title above it
            actor.SetTextPositionToPrecedeScalarBar()


def _surface(mesh):
    """The outer surface, without data (a grey context around a slice)."""
    try:
        surf = mesh.extract_surface(pass_pointid=False, pass_cellid=False, algorithm="dataset_surface")
    except TypeError:  # pyvista < 0.47 has no 'algorithm'
        surf = mesh.extract_surface(pass_pointid=False, pass_cellid=False)
    surf.clear_data()
    return surf


def up_axis(bounds) -> int:
    """Index of the axis a 3D mesh stands on: its smallest extent (y for a car along z)."""
    ext = [bounds[1] - bounds[0], bounds[3] - bounds[2], bounds[5] - bounds[4]]
    return int(np.argmin(ext))


def set_view(plotter, dim: int, bounds, direction: str = "iso", layout: str = "single") -> None:
    """Point the camera: ``"iso"`` or along ``"x"``, ``"y"``, ``"z"``; 2D meshes look down z.

    The camera is fitted to the mesh and shifted out of the scalar bars' way (right of a
    single pane, below side-by-side panes).
    """
    plotter.subplot(0, 0)
    kind = "single" if layout == "single" else "compare"
    if dim == 2:
        plotter.view_xy(render=False)
        plotter.enable_parallel_projection()
    else:
        plotter.disable_parallel_projection()
        up = [0.0, 0.0, 0.0]
        k = up_axis(bounds)
        up[k] = 1.0
        centre = np.array([(bounds[0] + bounds[1]) / 2, (bounds[2] + bounds[3]) / 2,
                           (bounds[4] + bounds[5]) / 2])
        if direction in AXES:
            d = np.zeros(3)
            d[AXES.index(direction)] = 1.0
            if AXES.index(direction) == k:
                up = [0.0, 0.0, 0.0]
                up[(k + 2) % 3] = 1.0
        else:
            d = np.ones(3)
            d[k] = 0.8
            d[(k + 2) % 3] = -1.0
        plotter.camera_position = [tuple(centre + d), tuple(centre), tuple(up)]
    plotter.reset_camera(render=False)
    plotter.camera.SetWindowCenter(*_SHIFT[kind])
    if dim == 2:
        plotter.camera.parallel_scale = _fit_2d(plotter, bounds, kind)
    else:
        plotter.camera.zoom(_ZOOM_3D[kind])


def _fit_2d(plotter, bounds, kind: str) -> float:
    """Parallel scale that fits the mesh in the part of a pane the scalar bars leave free."""
    width, height = plotter.window_size
    x0, _, x1, _ = plotter.renderers[0].GetViewport()
    aspect = max((x1 - x0) * width, 1.0) / max(height, 1)
    free_w, free_h = _FREE[kind]
    half_w, half_h = (bounds[1] - bounds[0]) / 2, (bounds[3] - bounds[2]) / 2
    return max(half_h / free_h, half_w / (aspect * free_w), 1e-12)
