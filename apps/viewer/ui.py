"""The page layout of the viewer: a left drawer of controls, the 3D view filling the rest.

Only widgets and their bindings to state names live here; what the state means and
how a change is drawn is :mod:`.app`'s business. Every control carries a ``sv-*`` CSS
class so that browser tests (and users' scripts) can find it.
"""
from __future__ import annotations

from trame.ui.vuetify3 import SinglePageWithDrawerLayout
from trame.widgets import html
from trame.widgets import vuetify3 as v

from .scene import AXES, CUTS

_SELECT = {"density": "compact", "variant": "outlined", "hide_details": True, "classes": "mb-3"}
_SCREENSHOT = "utils.download(screenshot_name, trigger('screenshot'), 'image/png')"


def _section(title: str) -> None:
    html.Div(title, classes="text-overline text-medium-emphasis mt-1")


def _icon_button(icon: str, tip: str, click: str, cls: str, **kw) -> None:
    v.VBtn(icon=icon, variant="text", density="comfortable", click=click, classes=cls,
           title=tip, **kw)


def build(server, view_factory) -> SinglePageWithDrawerLayout:
    """Lay out the page; ``view_factory()`` creates the remote render view in place."""
    with SinglePageWithDrawerLayout(server, width=330) as layout:
        layout.title.set_text("surrogate view")
        layout.footer.hide()
        _toolbar(layout)
        with layout.drawer as drawer:
            drawer.classes = "pa-3"
            _sample_controls()
            _field_controls()
            _colour_controls()
            _geometry_controls()
            _info_panel()
        with layout.content, v.VContainer(fluid=True, classes="pa-0 fill-height",
                                          style="position:relative"):
            view_factory()
            v.VProgressLinear(indeterminate=True, v_show="busy", absolute=True,
                              location="top", color="primary", classes="sv-busy")
        with v.VSnackbar(v_model=("error_show", False), color="error", timeout=8000,
                         classes="sv-error"):
            html.Span("{{ error_text }}")
    return layout


def _toolbar(layout) -> None:
    with layout.toolbar:
        v.VChip("{{ target_title }}", size="small", variant="tonal", classes="ml-2 sv-target")
        v.VSpacer()
        _icon_button("mdi-axis-x-arrow", "look along x", "ctrl.view_along('x')", "sv-view-x")
        _icon_button("mdi-axis-y-arrow", "look along y", "ctrl.view_along('y')", "sv-view-y")
        _icon_button("mdi-axis-z-arrow", "look along z", "ctrl.view_along('z')", "sv-view-z")
        _icon_button("mdi-cube-outline", "isometric view", "ctrl.view_along('iso')", "sv-view-iso")
        _icon_button("mdi-fit-to-screen-outline", "reset camera", "ctrl.view_along('reset')",
                     "sv-reset")
        v.VBtn("screenshot", prepend_icon="mdi-camera", variant="tonal", click=_SCREENSHOT,
               classes="ml-2 mr-2 sv-screenshot")


def _sample_controls() -> None:
    _section("sample")
    with html.Div(classes="d-flex align-center"):
        v.VSelect(label="sample", v_model=("sample_id", None), items=("sample_items", []),
                  **{**_SELECT, "classes": "mb-3 sv-sample"})
        _icon_button("mdi-chevron-left", "previous sample", "ctrl.step_sample(-1)",
                     "mb-3 sv-prev")
        _icon_button("mdi-chevron-right", "next sample", "ctrl.step_sample(1)", "mb-3 sv-next")
    with html.Div(v_if="n_steps > 1", classes="d-flex align-center mb-2"):
        _icon_button(("playing ? 'mdi-pause' : 'mdi-play'",), "play the time steps",
                     "playing = !playing", "sv-play")
        v.VSlider(v_model=("step", 0), min=0, max=("n_steps - 1",), step=1, hide_details=True,
                  density="compact", classes="sv-time")
        html.Span("{{ time_label }}", classes="text-caption ml-2", style="min-width:70px")


def _field_controls() -> None:
    _section("field")
    v.VSelect(label="field", v_model=("field", None), items=("field_items", []),
              **{**_SELECT, "classes": "mb-3 sv-field"})
    v.VSelect(label="show", v_model=("role", None), items=("role_items", []),
              v_show="role_items.length > 1", **{**_SELECT, "classes": "mb-3 sv-role"})
    v.VSelect(label="component", v_model=("component", "magnitude"),
              items=("component_items", []), v_show="component_items.length > 0",
              **{**_SELECT, "classes": "mb-3 sv-component"})
    v.VSelect(label="layout", v_model=("layout", "single"), items=("layout_items", []),
              v_show="can_compare", **{**_SELECT, "classes": "mb-3 sv-layout"})


def _colour_controls() -> None:
    _section("colours")
    v.VSelect(label="colour map", v_model=("cmap", "turbo"), items=("cmap_items", []),
              **{**_SELECT, "classes": "mb-3 sv-cmap"})
    v.VSelect(label="range", v_model=("range_mode", "auto"), items=("range_items", []),
              **{**_SELECT, "classes": "mb-3 sv-range"})
    with html.Div(classes="d-flex", style="gap:8px"):
        for name in ("vmin", "vmax"):
            v.VTextField(label=name[1:], v_model=(name, ""), disabled=("range_mode != 'manual'",),
                         **{**_SELECT, "classes": f"mb-3 sv-{name}"})


def _geometry_controls() -> None:
    _section("geometry")
    v.VSwitch(label="cell edges", v_model=("edges", False), color="primary", hide_details=True,
              density="compact", classes="sv-edges")
    with html.Div(v_if="is3d"):
        _toggle("cut", "none", CUTS, "mb-2 sv-cut")
        with html.Div(v_if="cut != 'none'", classes="d-flex align-center"):
            _toggle("cut_axis", "x", AXES, "mr-2 sv-cut-axis")
            v.VSlider(v_model=("cut_pos", 0.5), min=0.0, max=1.0, step=0.01, hide_details=True,
                      density="compact", classes="sv-cut-pos")


def _toggle(name: str, default: str, choices: tuple[str, ...], cls: str) -> None:
    with v.VBtnToggle(v_model=(name, default), mandatory=True, density="compact",
                      variant="outlined", divided=True, classes=cls):
        for c in choices:
            v.VBtn(c, value=c, size="small")


def _info_panel() -> None:
    with html.Div(v_if="info.length"):
        _section("sample data")
        with v.VTable(density="compact", classes="text-caption sv-info"), html.Tbody(), \
                html.Tr(v_for="row in info", key="row.name"):
            html.Td("{{ row.name }}", classes="text-medium-emphasis")
            html.Td("{{ row.value }}", classes="text-right")
