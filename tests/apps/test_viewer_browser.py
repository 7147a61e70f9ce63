"""The live viewer in a real browser: Playwright drives Debian's headless Chromium.

The app runs in a subprocess on a free port (server-side rendering), the page is
opened, and the pictures of the view area are checked: the mesh coloured by the
chosen field (not a blank page or a splash screen), and a different picture after
switching the field, the sample and the layout through the UI.

Set ``SV_SHOT_DIR`` to keep the screenshots.
"""
from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
REPO = Path(__file__).resolve().parents[2]
SERVE = "import sys; from apps.view_command import run_view; run_view(sys.argv[1], port=int(sys.argv[2]))"


def _plate(nx: int, ny: int, bulge: float):
    from mesh import CellBlock, Mesh

    x, y = np.meshgrid(np.linspace(0, 2, nx), np.linspace(0, 1, ny), indexing="ij")
    y = y * (1 + bulge * np.sin(np.pi * x / 2))
    idx = np.arange(nx * ny).reshape(nx, ny)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    return Mesh(np.stack([x.ravel(), y.ravel()], 1),
                (CellBlock("triangle", np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])),))


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """Two validation cases (cases/<id>.vtu + summary.json), c1 the worse."""
    from mesh.io import write

    root = tmp_path_factory.mktemp("browser-report")
    for k, cid in enumerate(("c0", "c1")):
        m = _plate(40 + 10 * k, 20 + 5 * k, 0.3 * k)
        x, y = m.points[:, 0], m.points[:, 1]
        ref = np.sin(3 * x + k) * (1 + y)
        pred = ref + 0.1 * (k + 1) * np.cos(6 * y)
        write(m.with_point_data(p=pred, p_ref=ref, p_err=pred - ref, p_std=0.05 + 0.1 * np.abs(pred - ref),
                                U=np.stack([y * (1 - x / 2), x * y * (k + 1)], 1)),
              root / "cases" / f"{cid}.vtu")
    (root / "summary.json").write_text(json.dumps({
        "cases": [{"id": "c0", "score": 0.01}, {"id": "c1", "score": 0.2}],
        "outputs": {"p": {"unit": "Pa"}, "U": {"unit": "m"}}}))
    return root


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium); "
                    "the viewer's browser tests drive it")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (PyPI) is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def url(report, tmp_path_factory):
    """The viewer serving ``report`` in a subprocess; terminated at teardown."""
    from apps.view_command import free_port

    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    env = {**os.environ, "VTK_DEFAULT_OPENGL_WINDOW": "vtkEGLRenderWindow",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-c", SERVE, str(report), str(port)], cwd=REPO,
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the viewer exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            with socket.socket() as s:
                if s.connect_ex(("localhost", port)) == 0:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"the viewer did not listen on port {port} within 60 s:\n{log.read_text()}")
            time.sleep(0.2)
        assert f"open http://localhost:{port}/" in log.read_text()
        yield f"http://localhost:{port}/"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _picture(page, name: str, selector: str = ".sv-view") -> np.ndarray:
    from PIL import Image

    png = page.locator(selector).first.screenshot()
    if os.environ.get("SV_SHOT_DIR"):
        Path(os.environ["SV_SHOT_DIR"]).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(os.environ["SV_SHOT_DIR"]) / f"{name}.png"))
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int16)


def _coloured(img: np.ndarray) -> float:
    """Share of strongly coloured pixels (the background and text are grey)."""
    return float(((img.max(axis=2) - img.min(axis=2)) > 60).mean())


def _wait_for(page, name: str, check, timeout: float = 20.0, selector: str = ".sv-view") -> np.ndarray:
    deadline = time.monotonic() + timeout
    while True:
        img = _picture(page, name, selector)
        if check(img):
            return img
        if time.monotonic() > deadline:
            pytest.fail(f"{name}: the view did not show what was expected within {timeout} s "
                        f"(coloured share {_coloured(img):.3f})")
        page.wait_for_timeout(300)


def _panes(img: np.ndarray) -> int:
    """Coloured blocks side by side in the upper three quarters (meshes and vertical bars)."""
    top = img[: int(0.75 * img.shape[0])]
    cols = (((top.max(axis=2) - top.min(axis=2)) > 60).mean(axis=0) > 0.02).astype(int)
    starts = np.flatnonzero(np.diff(np.concatenate([[0], cols])) == 1)
    ends = np.flatnonzero(np.diff(np.concatenate([cols, [0]])) == -1)
    return int(((ends - starts) >= 5).sum())


def _changed(before: np.ndarray):
    return lambda img: img.shape != before.shape or (np.abs(img - before).max(axis=2) > 30).mean() > 0.02


def _choose(page, select: str, option: str) -> None:
    page.locator(select).click()
    page.get_by_role("option", name=option, exact=True).click()


def test_view_shows_the_field_and_follows_the_controls(browser, url):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        page.goto(url)
        # a report opens on its worst case, prediction | reference | abs error
        first = _wait_for(page, "1-worst-case-p", lambda img: _panes(img) == 3)
        assert all(_coloured(t) > 0.05 for t in np.array_split(first, 3, axis=1))
        assert len(np.unique(first.reshape(-1, 3), axis=0)) > 200
        assert "c1 - mean RRMSE 0.2" in page.locator(".sv-sample").inner_text()

        _choose(page, ".sv-field", "U")  # no reference: one pane, the mesh and its bar
        by_field = _wait_for(page, "2-field-U", lambda img: _panes(img) == 2)
        assert _coloured(by_field) > 0.05

        _choose(page, ".sv-sample", "c0 - mean RRMSE 0.01")
        by_sample = _wait_for(page, "3-sample-c0", _changed(by_field))
        assert _coloured(by_sample) > 0.05 and _panes(by_sample) == 2

        _choose(page, ".sv-field", "p")
        side = _wait_for(page, "4-side-by-side", lambda img: _panes(img) == 3)
        _choose(page, ".sv-layout", "one field")
        _wait_for(page, "5-toggled-to-one", lambda img: _panes(img) == 2 and _changed(side)(img))

        with page.expect_download() as download:
            page.locator(".sv-screenshot").click()
        png = Path(download.value.path()).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
        assert download.value.suggested_filename == "c0_p_prediction.png"
    finally:
        page.close()


def test_exported_html_renders_offline(browser, report, tmp_path):
    from apps.viewer.export import export

    page_file = export(report, "html", tmp_path / "c1.html", field="p")
    page = browser.new_page(viewport={"width": 900, "height": 600})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.route(lambda url: not url.startswith(("file:", "data:", "blob:")), lambda route: route.abort())
    try:
        page.goto(page_file.as_uri())
        _wait_for(page, "6-exported-html", lambda img: _coloured(img) > 0.05, selector="canvas")
        assert page.locator("#legend").inner_text().startswith("p prediction [Pa]")
        remote = [u for u in requests if not u.startswith(("file:", "data:", "blob:"))]
        assert remote == [], f"the exported page fetched {remote}"
    finally:
        page.close()
