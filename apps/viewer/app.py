"""The trame application of ``surrogate view``: server-side rendering, nothing from the web.

The pyvista plotter renders on the server (EGL/OSMesa, no window, no Qt) and trame's
``VtkRemoteView`` streams its images to the page, so the browser needs no WebGL and
every asset (Vue, Vuetify, icons) is served by the local trame server.

State flows one way: a control changes a state variable; :meth:`ViewerApp.refresh`
reconciles the state (sample, field, role, ...) and redraws when what is shown changed.
"""
from __future__ import annotations

import asyncio
import io
import logging
from collections import OrderedDict
from pathlib import Path

from mesh.io import atomic_write

from .fields import MAGNITUDE, ROLE_LABELS, discover
from .scene import CMAPS, LAYOUTS, RANGE_MODES, ViewOptions, draw, make_plotter, set_view
from .targets import Target, ViewSample, load
from .ui import build

log = logging.getLogger(__name__)
_CACHE = 8
_OPTION_KEYS = ("sample_id", "step", "field", "role", "component", "cmap", "range_mode", "vmin",
                "vmax", "layout", "edges", "cut", "cut_axis", "cut_pos")


def _items(pairs) -> list[dict]:
    return [{"title": t, "value": v} for v, t in pairs]


def _float(text) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


class ViewerApp:
    """One viewer on one target.

    Parameters
    ----------
    target : what to show (from :func:`~.targets.open_target`).
    field : field to show first (base or array name); default: the first field.
    screenshot_dir : folder where the screenshot button also saves its PNG (None: download only).
    server_name : name of the trame server (one per process and name).

    Raises
    ------
    FieldNotFoundError
        When ``field`` is not in the first sample (the message lists the fields there are).
    """

    def __init__(self, target: Target, *, field: str | None = None,
                 screenshot_dir: Path | None = None, server_name: str = "surrogate-view") -> None:
        from trame.app import get_server

        self.target = target
        self.screenshot_dir = screenshot_dir
        self.server = get_server(server_name, client_type="vue3")
        self.state, self.ctrl = self.server.state, self.server.controller
        self.plotter = make_plotter()
        self.sample: ViewSample | None = None
        self.drawn = None
        self._cache: OrderedDict[str, ViewSample] = OrderedDict()
        self._shown: tuple | None = None
        self._player: asyncio.Task | None = None
        self._direction = "iso"  # the last camera direction asked for
        self._fitted: tuple | None = None  # the camera as last fitted, until the user moves it
        self.plotter.render_window.AddObserver("WindowResizeEvent", self._on_resize)
        self.view = None
        self._init_state(field)
        build(self.server, self._make_view)
        self.state.change(*_OPTION_KEYS)(lambda **_: self.refresh())
        self.state.change("playing")(self._on_play)
        self.ctrl.view_along = self.view_along
        self.ctrl.step_sample = self.step_sample
        self.ctrl.trigger("screenshot")(self.screenshot)
        self.refresh()

    # ------------------------------------------------------------- set-up
    def _init_state(self, field: str | None) -> None:
        s = self.state
        s.trame__title = "surrogate view"
        s.target_title = self.target.title
        s.sample_items = [{"title": r.label, "value": r.id} for r in self.target.samples]
        s.update({
            "sample_id": self.target.samples[0].id, "step": 0, "n_steps": 1, "time_label": "",
            "playing": False, "field": field, "role": None, "component": MAGNITUDE,
            "cmap": CMAPS[0], "range_mode": "auto", "vmin": "", "vmax": "",
            "layout": "pred_ref_err" if self.target.kind == "report" else "single",
            "edges": False, "cut": "none", "cut_axis": "x", "cut_pos": 0.5, "field_items": [],
            "role_items": [], "component_items": [], "can_compare": False,
            "layout_items": _items(LAYOUTS.items()), "cmap_items": list(CMAPS),
            "range_items": _items(RANGE_MODES.items()), "is3d": False, "info": [], "busy": False,
            "error_show": False, "error_text": "", "screenshot_name": "view.png"})

    def _make_view(self):
        from trame_pyvista import PyVistaRemoteView

        self.view = PyVistaRemoteView(self.plotter, interactive_ratio=1, still_ratio=1,
                                      interactive_quality=70, still_quality=95,
                                      classes="sv-view", style="width:100%;height:100%")
        # pyvista calls its render callbacks on every add_mesh / add_text: the view would push
        # a half-drawn picture each time. Push once, when :meth:`refresh` has drawn it all.
        self.plotter.clear_on_render_callbacks()
        self.ctrl.view_update = self.view.update
        return self.view

    # ---------------------------------------------------------- reconcile
    def refresh(self) -> None:
        """Bring the picture in line with the state; redraw only when something changed."""
        s = self.state
        new_sample = self.sample is None or s.sample_id != self.sample.ref.id
        if new_sample and not self._switch_sample(s.sample_id):
            return
        sample = self.sample
        s.step = min(max(int(s.step or 0), 0), sample.n_steps - 1)
        self._reconcile_field(sample)
        opts = self.options()
        shown = (sample.ref.id, tuple(vars(opts).items()))
        if shown == self._shown:
            return
        before = self.drawn.layout if self.drawn is not None else None
        try:
            self.drawn = draw(self.plotter, sample, opts, self.target.units, reset_camera=False)
        except Exception as exc:  # keep serving; say what failed
            log.exception("cannot draw %s with %s", sample.ref.id, opts)
            s.error_text, s.error_show = f"cannot draw '{sample.ref.id}': {exc}", True
            return
        self._shown = shown
        if new_sample or self.drawn.layout != before:  # new mesh or new panes: fit the camera
            self._fit()
        if opts.range_mode != "manual":
            s.vmin, s.vmax = (f"{x:.6g}" for x in self.drawn.clim)
        what = f"{self.drawn.group.name}_{self.drawn.role}" if self.drawn.group else "mesh"
        s.screenshot_name = f"{sample.ref.id}_{what}.png"
        if sample.times is not None:
            s.time_label = f"t = {sample.times[s.step]:.4g}"
        if self.ctrl.view_update.exists():
            self.ctrl.view_update()

    def _switch_sample(self, sample_id: str) -> bool:
        s = self.state
        try:
            sample = self._load(sample_id)
        except Exception as exc:  # a broken file must not stop the app: say why, keep the old one
            s.error_text, s.error_show = f"cannot show '{sample_id}': {exc}", True
            if self.sample is None:
                raise
            s.sample_id = self.sample.ref.id
            return False
        self.sample = sample
        s.n_steps, s.is3d = sample.n_steps, sample.dim == 3
        s.info = [{"name": k, "value": v} for k, v in sample.info.items()]
        s.time_label = "" if sample.times is None else f"t = {sample.times[0]:.4g}"
        return True

    def _load(self, sample_id: str) -> ViewSample:
        if sample_id in self._cache:
            self._cache.move_to_end(sample_id)
            return self._cache[sample_id]
        self.state.busy = True
        try:
            sample = load(self.target.sample(sample_id), self.target.units)
        finally:
            self.state.busy = False
        self._cache[sample_id] = sample
        while len(self._cache) > _CACHE:
            self._cache.popitem(last=False)
        return sample

    def _reconcile_field(self, sample: ViewSample) -> None:
        """Keep field, role and component valid for the sample; fill the selectors."""
        s = self.state
        groups = discover(sample.at(s.step))
        s.field_items = list(groups)
        s.can_compare = False
        if s.field not in groups:
            if s.field is not None and self.drawn is None:  # --field: resolve, else raise
                from .fields import resolve

                s.field, s.role = resolve(groups, s.field, f"sample '{sample.ref.id}'")
            else:
                s.field = next(iter(groups), None)
        if s.field is None:
            s.role_items, s.component_items = [], []
            return
        group = groups[s.field]
        s.role_items = _items((r, ROLE_LABELS[r]) for r in group.roles)
        if s.role not in group.arrays:
            s.role = group.roles[0]
        s.component_items = group.components
        if s.component not in group.components:
            s.component = MAGNITUDE
        s.can_compare = group.comparable

    def options(self) -> ViewOptions:
        """The current state as drawing options."""
        s = self.state
        manual = s.range_mode == "manual"
        return ViewOptions(
            field=s.field, role=s.role, component=s.component or MAGNITUDE, cmap=s.cmap,
            range_mode=s.range_mode, vmin=_float(s.vmin) if manual else None,
            vmax=_float(s.vmax) if manual else None, layout=s.layout, edges=bool(s.edges),
            cut=s.cut, cut_axis=s.cut_axis, cut_pos=float(s.cut_pos), step=int(s.step))

    # ------------------------------------------------------------ camera
    def _camera(self) -> tuple:
        c = self.plotter.camera
        return (c.position, c.focal_point, c.up, c.parallel_scale, c.GetWindowCenter())

    def _fit(self) -> None:
        set_view(self.plotter, self.sample.dim, self.sample.grid.bounds, self._direction,
                 self.drawn.layout if self.drawn else "single")
        self._fitted = self._camera()

    def _on_resize(self, *_) -> None:
        """The browser resized the view: refit the camera unless the user has moved it."""
        if self.sample is not None and self._fitted is not None and self._camera() == self._fitted:
            self._fit()

    # ------------------------------------------------------------ actions
    def view_along(self, direction: str) -> None:
        """Camera buttons: ``"x"``, ``"y"``, ``"z"``, ``"iso"`` or ``"reset"`` (the last one)."""
        if self.sample is None:
            return
        self._direction = self._direction if direction == "reset" else direction
        self._fit()
        self.ctrl.view_update()

    def step_sample(self, delta: int) -> None:
        """Previous / next sample buttons (wrapping around)."""
        ids = [r.id for r in self.target.samples]
        i = ids.index(self.state.sample_id) if self.state.sample_id in ids else 0
        self.state.sample_id = ids[(i + delta) % len(ids)]

    def screenshot(self):
        """PNG of the view, sent to the browser as a download (and saved when a folder is set)."""
        from PIL import Image

        img = self.plotter.screenshot(None, return_img=True)
        buffer = io.BytesIO()
        Image.fromarray(img).save(buffer, format="PNG")
        png = buffer.getvalue()
        if self.screenshot_dir is not None:
            atomic_write(Path(self.screenshot_dir) / self.state.screenshot_name, lambda tmp: tmp.write_bytes(png))
        return self.server.protocol.addAttachment(memoryview(png))

    def _on_play(self, playing: bool = False, **_) -> None:
        if playing and self._player is None:
            self._player = asyncio.ensure_future(self._play())

    async def _play(self) -> None:
        try:
            while self.state.playing and self.state.n_steps > 1:
                with self.state:
                    self.state.step = (int(self.state.step) + 1) % int(self.state.n_steps)
                await asyncio.sleep(0.3)
        finally:
            self._player = None

    # -------------------------------------------------------------- serve
    def start(self, port: int, host: str = "localhost", open_browser: bool = False) -> None:
        """Serve until interrupted (blocking)."""
        self.server.start(port=port, host=host, open_browser=open_browser,
                          show_connection_info=False, disable_logging=True, timeout=0)
