"""The viewer without a browser: targets, field discovery, scene, exports, bad input."""
from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import numpy as np
import pytest

from apps.view_command import check_port, free_port, run_view
from apps.viewer.errors import ExportError, FieldNotFoundError, NothingToViewError, PortInUseError
from apps.viewer.export import export
from apps.viewer.fields import COMPUTED, discover, resolve, values
from apps.viewer.scene import ViewOptions, draw, make_plotter
from apps.viewer.targets import load, open_target, read_metrics
from mesh import CellBlock, Mesh
from mesh.dataset import DatasetWriter, Sample
from mesh.io import write, write_series
from mesh.problem import Feature, ProblemDefinition


# ------------------------------------------------------------------ data
def plate(nx: int = 16, ny: int = 8, bulge: float = 0.0) -> Mesh:
    """A 2 x 1 plate of triangles whose top edge bulges by ``bulge``."""
    x, y = np.meshgrid(np.linspace(0, 2, nx), np.linspace(0, 1, ny), indexing="ij")
    y = y * (1 + bulge * np.sin(np.pi * x / 2))
    idx = np.arange(nx * ny).reshape(nx, ny)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    tris = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    return Mesh(np.stack([x.ravel(), y.ravel()], 1), (CellBlock("triangle", tris),))


def case_mesh(k: int) -> Mesh:
    """A validation case file: NAME, NAME_ref, NAME_err, NAME_std (+ a vector without _err)."""
    m = plate(16 + 2 * k, 8 + k, 0.1 * k)
    x, y = m.points[:, 0], m.points[:, 1]
    ref = np.sin(2 * x) * (1 + y) * 1e6
    pred = ref + (k + 1) * 0.05e6 * np.cos(5 * y)
    u_ref = np.stack([0.01 * x * y, -0.02 * y], 1)
    return m.with_point_data(von_mises=pred, von_mises_ref=ref, von_mises_err=pred - ref,
                             von_mises_std=np.abs(pred - ref) + 1e4, U=u_ref * (1 + 0.1 * k),
                             U_ref=u_ref).with_field_data(**{"input:P": np.array([1.0 + k])})


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """A report folder in the layout of ``surrogate validate``: cases/<id>.vtu + summary.json."""
    root = tmp_path_factory.mktemp("report")
    scores = {"c0": 0.01, "c1": 0.05, "c2": 0.02}
    for k, cid in enumerate(scores):
        write(case_mesh(k), root / "cases" / f"{cid}.vtu")
        (root / "cases" / f"{cid}.json").write_text(json.dumps({"id": cid, "score": scores[cid]}))
    (root / "summary.json").write_text(json.dumps({
        "cases": [{"id": c, "score": s} for c, s in scores.items()],
        "outputs": {"von_mises": {"unit": "Pa"}, "U": {"unit": "m"}}}))
    (root / "metrics.csv").write_text("output,kind,unit,rrmse\nvon_mises,field,Pa,0.03\nU,field,m,0.1\n")
    return root


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ds")
    problem = ProblemDefinition(inputs={"P": Feature(unit="MPa")},
                                outputs={"T": Feature(unit="K")})
    with DatasetWriter(root, "tiny", problem) as w:
        for k in range(3):
            m = plate(10 + k, 6, 0.05 * k)
            t = 300 + 10 * m.points[:, 0] * (k + 1)
            q = np.arange(m.n_cells, dtype=float) * (k + 1)  # a cell field outside the problem
            m = Mesh(m.points, m.cells, cell_data={"q": [q]})
            w.add(Sample(f"s{k}", m, inputs={"P": 1.0 + k}, fields={"T": t}))
        w.finish(splits={"train": ["s0", "s1"], "test": ["s2"]})
    return root


@pytest.fixture(scope="module")
def series(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("rollout")
    m = plate(12, 6)
    times = np.linspace(0.0, 1.0, 4)
    steps = [{"T": np.sin(3 * m.points[:, 0] + 4 * t), "T_ref": np.sin(3 * m.points[:, 0])} for t in times]
    return write_series(m, times, steps, root / "roll.xdmf")


def colourful(path: Path) -> tuple[int, float]:
    """(distinct colours, share of strongly coloured pixels) of a PNG."""
    from PIL import Image

    img = np.asarray(Image.open(path).convert("RGB")).astype(int)
    flat = img.reshape(-1, 3)
    sat = flat.max(1) - flat.min(1)
    return len(np.unique(flat, axis=0)), float((sat > 60).mean())


# ------------------------------------------------------------------ targets
def test_target_kinds(report, dataset, series, tmp_path):
    rep = open_target(report)
    assert rep.kind == "report" and rep.metric == "mean RRMSE"
    assert [s.id for s in rep.samples] == ["c1", "c2", "c0"]  # worst first
    assert rep.units == {"von_mises": "Pa", "U": "m"} and "c1 - mean RRMSE 0.05" in rep.samples[0].label
    ds = open_target(dataset)
    assert ds.kind == "dataset" and [s.id for s in ds.samples] == ["s0", "s1", "s2"]
    assert ds.units["T"] == "K" and "(test)" in ds.samples[2].label
    assert open_target(dataset / "dataset.yaml").kind == "dataset"
    one = open_target(report / "cases" / "c0.vtu")
    assert one.kind == "files" and len(one.samples) == 1
    assert open_target(report / "cases").kind == "folder"
    assert len(open_target(str(report / "cases" / "c*.vtu")).samples) == 3
    roll = open_target(series)
    assert roll.samples[0].series
    run = tmp_path / "run"  # a run folder whose predictions/ subfolder holds the files
    write(case_mesh(0), run / "predictions" / "p0.vtu")
    (run / "model.json").write_text("{}")
    assert open_target(run).kind == "folder" and open_target(run).samples[0].id == "p0"


def test_nothing_to_view_is_one_clear_line(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    for bad, words in ((tmp_path, "holds nothing to view"), (tmp_path / "nope", "does not exist"),
                       (tmp_path / "notes.txt", "not a mesh file"), (str(tmp_path / "*.vtu"), "no mesh file")):
        with pytest.raises(NothingToViewError, match=words) as err:
            open_target(bad)
        assert isinstance(err.value, FileNotFoundError) and "\n" not in str(err.value)


def test_metrics_csv_per_case_long_and_wide(tmp_path):
    long = tmp_path / "long.csv"
    long.write_text("sample,field,rrmse\na,U,0.1\na,p,0.3\nb,U,0.2\nb,p,0.05\n")
    assert read_metrics(long) == ({"a": 0.3, "b": 0.2}, "rrmse")
    wide = tmp_path / "wide.csv"
    wide.write_text("case,U_rrmse,p_rrmse,time\nx,0.1,0.2,5\ny,0.4,nan,7\n")
    assert read_metrics(wide) == ({"x": 0.2, "y": 0.4}, "max rrmse")
    per_output = tmp_path / "out.csv"  # surrogate validate's table: one row per output, no case
    per_output.write_text("output,kind,unit,rrmse\nU,field,m,0.1\n")
    assert read_metrics(per_output) == ({}, None)


# ------------------------------------------------------------------ fields
def test_field_discovery_by_suffix(report, dataset, series):
    g = discover(load(open_target(report).samples[0]).grid)
    assert list(g) == ["von_mises", "U"]
    vm, u = g["von_mises"], g["U"]
    assert vm.roles == ["prediction", "reference", "error", "std"] and vm.comparable
    assert u.roles == ["prediction", "reference", "error"] and u.arrays["error"] == COMPUTED
    assert u.components == ["magnitude", "X", "Y"]
    ds = open_target(dataset)
    g = discover(load(ds.samples[0]).grid)
    assert list(g) == ["T", "q (cell)"] and g["T"].roles == ["value"]  # group arrays are hidden
    roll = load(open_target(series).samples[0])
    assert roll.n_steps == 4 and discover(roll.at(2))["T"].roles == ["prediction", "reference", "error"]
    assert not np.allclose(roll.at(0).point_data["T"], roll.at(3).point_data["T"])


def test_values_magnitude_components_and_abs_error(report):
    s = load(open_target(report).sample("c1"))
    g = discover(s.grid)
    pd = s.grid.point_data
    np.testing.assert_allclose(values(s.grid, g["von_mises"], "error"), np.abs(pd["von_mises_err"]))
    np.testing.assert_allclose(values(s.grid, g["U"], "prediction", "Y"), pd["U"][:, 1])
    np.testing.assert_allclose(values(s.grid, g["U"], "prediction"), np.linalg.norm(pd["U"], axis=1))
    np.testing.assert_allclose(values(s.grid, g["U"], "error"),
                               np.linalg.norm(pd["U"] - pd["U_ref"], axis=1))


def test_resolve_names_and_unknown_field_lists_the_fields(report):
    g = discover(load(open_target(report).samples[0]).grid)
    assert resolve(g, "von_mises") == ("von_mises", "prediction")
    assert resolve(g, "von_mises_std") == ("von_mises", "std")
    assert resolve(g, "U_err") == ("U", "error")  # computed, still reachable by name
    with pytest.raises(FieldNotFoundError, match=r"field 'sig99' is not in .*available: U, U_ref, "):
        resolve(g, "sig99")


# ------------------------------------------------------------------ scene
def test_compare_layout_shares_one_range_and_bar_with_units(report):
    target = open_target(report)
    s = load(target.samples[0], target.units)
    p = make_plotter((900, 300))
    try:
        d = draw(p, s, ViewOptions(field="von_mises", layout="pred_ref_err"), target.units)
        pd = s.grid.point_data
        both = np.concatenate([pd["von_mises"], pd["von_mises_ref"]])
        assert d.clim == pytest.approx((both.min(), both.max()))
        assert [x.label for x in d.panes] == ["von_mises prediction", "von_mises reference",
                                              "von_mises abs error"]
        assert d.panes[0].clim == d.panes[1].clim != d.panes[2].clim
        # one bar per pane, the same range under prediction and reference
        assert sorted(p.scalar_bars.keys()) == ["abs error [Pa]", "von_mises [Pa]", "von_mises [Pa] "]
        d = draw(p, s, ViewOptions(field="U", component="X", range_mode="manual", vmin=-1, vmax=2),
                 target.units, reset_camera=False)
        assert d.clim == (-1.0, 2.0) and list(p.scalar_bars.keys()) == ["U X prediction [m]\n"]
        d = draw(p, s, ViewOptions(field="U", layout="pred_ref"), target.units)
        assert [x.label for x in d.panes] == ["U magnitude prediction", "U magnitude reference"]
    finally:
        p.close()


def test_clip_and_slice_cut_a_3d_mesh(tmp_path, tet_box_mesh):
    pts = tet_box_mesh.points
    write(tet_box_mesh.with_point_data(T=pts[:, 0] + pts[:, 2]), tmp_path / "box.vtu")
    target = open_target(tmp_path / "box.vtu")
    s = load(target.samples[0])
    assert s.dim == 3
    p = make_plotter((400, 300))
    try:
        z = {}
        for cut in ("none", "clip", "slice"):
            draw(p, s, ViewOptions(cut=cut, cut_axis="z", cut_pos=0.3, edges=True))
            shown = [a.mapper.dataset for a in p.renderers[0].actors.values()
                     if getattr(a, "mapper", None) is not None and a.mapper.dataset is not None
                     and "view" in a.mapper.dataset.point_data]
            z[cut] = shown[0].points[:, 2]
        assert z["none"].min() == 0.0 and z["none"].max() == 1.0
        assert np.allclose(z["slice"], 0.3)  # the plane at 30 % of the z extent
        assert z["clip"].max() <= 0.3 + 1e-9 or z["clip"].min() >= 0.3 - 1e-9
    finally:
        p.close()


# ------------------------------------------------------------------ exports
def test_export_png_is_a_coloured_picture(report, dataset, tmp_path):
    out = export(report, "png", tmp_path / "worst.png", size=(900, 400))
    n_colours, coloured = colourful(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert n_colours > 500 and coloured > 0.05
    out = export(dataset, "png", tmp_path / "sub" / "t.png", field="q (cell)", sample="s2",
                 size=(600, 400))
    assert colourful(out)[0] > 100


def test_export_of_a_series_shows_the_last_step_by_default(series, tmp_path):
    from PIL import Image

    from apps.viewer.export import series_step

    assert series_step(load(open_target(series).samples[0]), None) == 3
    last = export(series, "png", tmp_path / "last.png", size=(600, 300))
    first = export(series, "png", tmp_path / "first.png", step=0, size=(600, 300))
    again = export(series, "png", tmp_path / "again.png", step=-4, size=(600, 300))
    pix = [np.asarray(Image.open(p).convert("RGB")).astype(int) for p in (last, first, again)]
    assert np.abs(pix[0] - pix[1]).mean() > 1.0  # another state
    np.testing.assert_array_equal(pix[1], pix[2])  # -4 of 4 steps is step 0
    with pytest.raises(ExportError, match="--step 4 is out of range: 'roll' has 4 time step"):
        export(series, "png", tmp_path / "x.png", step=4)


def test_export_html_is_self_contained(report, tmp_path):
    out = run_view(report, export="html", out=tmp_path / "case.html", field="von_mises_err")
    page = out.read_text()
    external = re.findall(r"""(?:src|href)\s*=\s*["']?\s*(https?:)?//""", page)
    assert external == [] and "kitware.github.io/vtk-js/icon" not in page
    assert "<script" in page and "OfflineLocalView.load" in page and 'base64Str = "' in page
    assert "von_mises abs error" in page and "[Pa]" in page and "c1" in page
    assert not re.search(r"""\bimport\s*\(\s*["']https?:|fetch\(\s*["']https?:""", page)


def test_bad_export_requests(report, tmp_path):
    with pytest.raises(ExportError, match="unknown export format 'pdf'; formats: png, html"):
        export(report, "pdf", tmp_path / "x.pdf")
    with pytest.raises(ExportError, match="needs --out FILE"):
        run_view(report, export="png")
    with pytest.raises(FieldNotFoundError, match="available: .*von_mises"):
        export(report, "png", tmp_path / "x.png", field="pressure")
    with pytest.raises(NothingToViewError, match="no sample 'zz'"):
        export(report, "png", tmp_path / "x.png", sample="zz")


# ------------------------------------------------------------------ server start-up checks
def test_port_in_use_is_one_clear_line(report):
    with socket.socket() as busy:
        busy.bind(("localhost", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"port {port} on localhost is in use") as err:
            run_view(report, port=port)
        assert isinstance(err.value, OSError) and "\n" not in str(err.value)
    check_port("localhost", free_port())  # a free one passes


def test_app_state_follows_controls_without_a_browser(report, tmp_path):
    from apps.viewer.app import ViewerApp

    target = open_target(report)
    with pytest.raises(FieldNotFoundError, match="field 'nope'"):
        ViewerApp(target, field="nope", server_name="sv-test-bad")
    app = ViewerApp(target, field="von_mises_std", screenshot_dir=tmp_path, server_name="sv-test")
    s = app.state
    assert (s.sample_id, s.field, s.role) == ("c1", "von_mises", "std")
    assert [i["value"] for i in s.role_items] == ["prediction", "reference", "error", "std"]
    assert s.can_compare and s.vmin and float(s.vmax) > float(s.vmin)
    s.field = "U"
    app.refresh()
    assert s.component_items == ["magnitude", "X", "Y"] and s.role == "prediction"  # U has no std
    s.update({"layout": "pred_ref", "sample_id": "c0"})
    app.refresh()
    assert app.sample.ref.id == "c0" and len(app.drawn.panes) == 2
    app.step_sample(1)
    app.refresh()
    assert app.sample.ref.id == "c1"  # wraps around to the worst case
    app.plotter.close()


def test_app_reports_a_broken_sample_and_keeps_the_last_one(tmp_path):
    from apps.viewer.app import ViewerApp

    write(case_mesh(0), tmp_path / "a.vtu")
    (tmp_path / "b.vtu").write_text("<VTKFile> truncated")
    app = ViewerApp(open_target(tmp_path), server_name="sv-test-broken")
    app.state.sample_id = "b"
    app.refresh()
    assert app.sample.ref.id == "a" and app.state.sample_id == "a"
    assert app.state.error_show and "cannot show 'b'" in app.state.error_text
    app.plotter.close()


def test_a_mesh_without_fields_is_drawn_bare(tmp_path):
    write(plate(), tmp_path / "bare.vtu")
    out = export(tmp_path / "bare.vtu", "png", tmp_path / "bare.png", size=(500, 300))
    assert colourful(out)[0] > 20  # grey faces, dark edges, the background gradient
    with pytest.raises(FieldNotFoundError, match="field 'T' is not in sample 'bare'; available: none"):
        export(tmp_path / "bare.vtu", "png", tmp_path / "x.png", field="T")


def test_a_prediction_folder_offers_the_uncertainty(tmp_path):
    from surrogates.prediction import Prediction

    m = plate()
    x = m.points[:, 0]
    pred = Prediction(m, fields={"T": x}, std={"T": 0.1 + 0 * x}, lower={"T": x - 0.2},
                      upper={"T": x + 0.2})
    write(pred.to_mesh(), tmp_path / "preds" / "p0.vtu")
    target = open_target(tmp_path / "preds")
    g = discover(load(target.samples[0]).grid)
    assert target.kind == "folder" and g["T"].roles == ["prediction", "std", "q025", "q975"]
    assert not g["T"].comparable


def test_a_failed_screenshot_leaves_no_picture(tmp_path):
    from apps.render import save_screenshot

    class Broken:
        def screenshot(self, name):
            Path(name).write_bytes(b"\x89PNG half")  # the renderer dies mid-write
            raise RuntimeError("EGL context lost")

    from mesh.errors import MeshWriteError

    with pytest.raises(MeshWriteError, match=r"a\.png.*RuntimeError: EGL context lost"):
        save_screenshot(Broken(), tmp_path / "pics" / "a.png")
    assert list((tmp_path / "pics").iterdir()) == []
