"""Static exports without a server: ``surrogate view TARGET --export png|html --out FILE``.

- **png**: the scene rendered off-screen; prediction | reference | abs error side by side
  when the sample has a reference, else the one field.
- **html**: an interactive vtk.js scene (rotate, zoom) in one self-contained file: the
  vtk.js viewer of ``trame-vtk`` and the scene data are embedded (base64), and the one
  network access that viewer makes (favicons from kitware.github.io) is removed, so the
  file opens offline and fetches nothing. A legend (colour bar, range, unit, sample,
  field) is drawn in HTML over the scene, since vtk.js exports carry no scalar bar.
"""
from __future__ import annotations

import html
import io
import os
import re
from pathlib import Path

from ..render import save_screenshot
from .errors import ExportError
from .scene import ViewOptions, draw, make_plotter
from .targets import SampleRef, Target, ViewSample, load, open_target

FORMATS = ("png", "html")
_FAVICON = re.compile(r"https://kitware\.github\.io/vtk-js/icon/favicon-\$\{t\}x\$\{t\}\.png")
_BLANK_ICON = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="


def export(target_path: str | os.PathLike, fmt: str, out: str | os.PathLike, *,
           field: str | None = None, sample: str | None = None, step: int | None = None,
           size: tuple[int, int] = (1600, 900)) -> Path:
    """Write a static picture or page of one sample of a target; return the file's path.

    Parameters
    ----------
    target_path : what ``surrogate view`` accepts (dataset, report, folder, mesh file).
    fmt : ``"png"`` or ``"html"``.
    out : the file to write (its folder is created).
    field : field to colour by (base or array name); default: the first field.
    sample : sample id; default: the first sample (the worst case of a report).
    step : time step of a series; default: the last (a rollout's end state); negative
        values count from the end.
    size : (width, height) in pixels of the PNG.

    Raises
    ------
    ExportError
        Unknown format.
    NothingToViewError, FieldNotFoundError, mesh.MeshReadError
        Bad target, field or file (one-line messages).
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format '{fmt}'; formats: {', '.join(FORMATS)}")
    out = Path(out)
    if out.is_dir():
        raise ExportError(f"--out '{out}' is a folder; give a file name, e.g. {out / ('view.' + fmt)}")
    target = open_target(target_path)
    ref = target.sample(sample) if sample else target.samples[0]
    view = load(ref, target.units)
    k = series_step(view, step)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "png":
        return export_png(view, target, out, ViewOptions(field=field, layout="pred_ref_err", step=k), size)
    return export_html(view, target, out, ViewOptions(field=field, step=k))


def series_step(view: ViewSample, step: int | None) -> int:
    """The 0-based step to show: ``step`` (negative from the end), or the last one."""
    n = view.n_steps
    if step is None:
        return n - 1
    k = step + n if step < 0 else step
    if not 0 <= k < n:
        raise ExportError(f"--step {step} is out of range: '{view.ref.id}' has {n} time step(s) "
                          f"(0..{n - 1})")
    return k


def _caption(target: Target, ref: SampleRef) -> str:
    err = f"  -  {target.metric} {ref.error:.3g}" if ref.error is not None and target.metric else ""
    return f"{ref.id}{err}"


def export_png(view: ViewSample, target: Target, out: Path, opts: ViewOptions,
               size: tuple[int, int] = (1600, 900)) -> Path:
    """Render one sample off-screen to a PNG file."""
    plotter = make_plotter(size)
    try:
        draw(plotter, view, opts, target.units, caption=_caption(target, view.ref))
        return save_screenshot(plotter, out)
    finally:
        plotter.close()


def export_html(view: ViewSample, target: Target, out: Path, opts: ViewOptions) -> Path:
    """Write a self-contained interactive HTML page of one sample (vtk.js, embedded)."""
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import pyvista as pv
    from trame_vtk.tools.vtksz2html import write_html
    from vtkmodules.vtkRenderingCore import vtkActor2D

    plotter = pv.Plotter(off_screen=True, window_size=(1200, 800))
    plotter.set_background("white", top="#dde3ea")
    try:
        drawn = draw(plotter, view, opts, target.units)
        for name, actor in list(plotter.renderer.actors.items()):  # bars, labels: in HTML instead
            if isinstance(actor, vtkActor2D):
                plotter.remove_actor(name, render=False)
        data = vtksz(plotter.render_window)
    finally:
        plotter.close()
    buffer = io.StringIO()
    write_html(data, buffer)
    page = offline(buffer.getvalue())
    page = page.replace("<title>VTK.js | Example - OfflineLocalView</title>",
                        f"<title>{html.escape(view.ref.id)} - {html.escape(drawn.panes[0].label)}</title>")
    legend = _legend(drawn, opts.cmap, _caption(target, view.ref)) if drawn.group else \
        '<div class="content" style="position:fixed;inset:0"></div>'

    page = page.replace("</body>", legend + "\n</body>", 1)
    tmp = out.with_name(f".tmp-{out.name}")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    return out


def vtksz(render_window) -> bytes:
    """The scene of a render window as vtk.js OfflineLocalView data (zipped JSON).

    What trame-vtk's ``viewport.geometry.view.get.export`` protocol does, without
    starting a trame server: serialise the window, then inline every data array.
    """
    import json
    import zipfile

    from trame_vtk.modules.vtk.serializers import (
        SynchronizationContext,
        extract_array_hash,
        initialize_serializers,
        reference_id,
        serialize,
    )

    initialize_serializers()
    context = SynchronizationContext()
    context.set_ignore_last_dependencies(True)
    render_window.Render()
    camera = render_window.GetRenderers().GetFirstRenderer().GetActiveCamera()
    scene = serialize(None, render_window, reference_id(render_window), context, 1)
    scene["extra"] = {"vtkRefId": reference_id(render_window),
                      "centerOfRotation": camera.GetFocalPoint(), "camera": reference_id(camera)}
    hashes = {e["hash"]: dict(**e, content=context.get_cached_data_array(e["hash"], False))
              for e in extract_array_hash(scene)}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("index.json", json.dumps({"hashes": hashes, "scene": scene}))
    return buffer.getvalue()


def offline(page: str) -> str:
    """Remove the network accesses of trame-vtk's static viewer (its favicon links)."""
    return _FAVICON.sub(_BLANK_ICON, page)


def _legend(drawn, cmap: str, caption: str) -> str:
    import matplotlib

    cm = matplotlib.colormaps[cmap]
    stops = ", ".join(f"rgb({int(r * 255)},{int(g * 255)},{int(b * 255)}) {i * 10}%"
                      for i, (r, g, b, _a) in enumerate(cm([k / 10 for k in range(11)])))
    lo, hi = drawn.clim
    unit = f" [{html.escape(drawn.unit)}]" if drawn.unit else ""
    title = html.escape(drawn.panes[0].label) + unit
    return f"""<div class="content" style="position:fixed;inset:0"></div>
<div id="legend" style="position:fixed;left:16px;top:12px;z-index:10;font:13px sans-serif;
color:#1f2933;background:rgba(255,255,255,.85);padding:8px 12px;border-radius:6px;box-shadow:0 1px 4px #0003">
<div style="font-weight:600">{title}</div>
<div style="width:260px;height:14px;margin:6px 0 2px;background:linear-gradient(to right, {stops})"></div>
<div style="display:flex;justify-content:space-between;width:260px"><span>{lo:.4g}</span><span>{hi:.4g}</span></div>
<div style="color:#52606d;font-size:11px;margin-top:4px">{html.escape(caption)}</div></div>"""
