"""The `surrogate` command line as a user runs it."""
from __future__ import annotations

import numpy as np
from typer.testing import CliRunner

from apps.cli import app
from mesh.io import write

runner = CliRunner()


def test_help_lists_the_command_groups():
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0
    for group in ("data", "train", "predict", "validate", "view", "solve"):
        assert group in r.output


def test_model_commands_give_clear_errors(tmp_path, two_triangles):
    write(two_triangles.with_point_data(u=np.zeros(4)), tmp_path / "src" / "a.vtu")
    runner.invoke(app, ["data", "import", str(tmp_path / "src"), "--out", str(tmp_path / "ds")])
    r = runner.invoke(app, ["train", "--model", "nope", "--dataset", str(tmp_path / "ds"), "--out", str(tmp_path / "run")])
    assert r.exit_code == 1 and "unknown model family 'nope'; families: mmgp" in r.output
    r = runner.invoke(app, ["train", "--dataset", str(tmp_path / "ds"), "--out", str(tmp_path / "run")])
    assert r.exit_code == 1 and "say which model to train" in r.output
    r = runner.invoke(app, ["predict", str(tmp_path / "nope"), str(tmp_path / "src" / "a.vtu"), "--out", str(tmp_path / "p.vtu")])
    assert r.exit_code == 1 and "is not a model folder" in r.output
    r = runner.invoke(app, ["view", str(tmp_path / "empty_folder_that_does_not_exist")])
    assert r.exit_code == 1 and "Traceback" not in r.output


def test_import_info_and_clear_errors(tmp_path, two_triangles):
    for i in range(3):
        write(two_triangles.with_point_data(u=np.full(4, float(i))), tmp_path / "src" / f"c{i}.vtu")
    r = runner.invoke(app, ["data", "import", str(tmp_path / "src" / "*.vtu"), "--out", str(tmp_path / "ds")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["data", "info", str(tmp_path / "ds")])
    assert r.exit_code == 0 and "samples" in r.output and "4 .. 4" in r.output and "c2" in r.output
    r = runner.invoke(app, ["data", "info", str(tmp_path / "nowhere")])
    assert r.exit_code == 1 and "does not exist" in r.output and "Traceback" not in r.output
    (tmp_path / "ds" / "samples" / "c1.vtu").unlink()
    r = runner.invoke(app, ["data", "import", str(tmp_path / "empty*"), "--out", str(tmp_path / "x")])
    assert r.exit_code == 1 and "no mesh files found" in r.output and "Traceback" not in r.output


def test_plaid_import_export_through_the_cli(shared_data, tmp_path):
    src = shared_data / "plaid_car_surface"
    r = runner.invoke(app, ["data", "import", str(src), "--out", str(tmp_path / "cars")])
    assert r.exit_code == 0, r.output
    assert "3586 .. 3586" in r.output and "train: 10, test: 10" in r.output
    r = runner.invoke(app, ["data", "export", str(tmp_path / "cars"), "--format", "plaid", "--out", str(tmp_path / "p")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "p" / "infos.yaml").exists()
    r = runner.invoke(app, ["data", "export", str(tmp_path / "cars"), "--format", "nope", "--out", str(tmp_path / "q")])
    assert r.exit_code == 1 and "unknown export format 'nope'" in r.output


def test_demo_runs_the_main_job_end_to_end(tmp_path):
    """The README's main job, small: generate, train MMGP, predict on a new mesh, validate, report."""
    import json

    import numpy as np
    from PIL import Image

    r = runner.invoke(app, ["demo", "--out", str(tmp_path), "--n", "6", "--n-solve", "1", "--workers", "0"])
    assert r.exit_code == 0, r.output
    from mesh.io import read

    pred = read(tmp_path / "new_plate_prediction.vtu")
    assert {"von_mises", "von_mises_std", "von_mises_q025", "von_mises_q975"} <= set(pred.point_data)
    assert np.all(pred.point_data["von_mises_q975"] >= pred.point_data["von_mises_q025"])
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary  # metrics of the solved case
    html = (tmp_path / "report" / "report.html").read_text()
    assert "parity plot of von_mises" in html and "http://" not in html and "https://" not in html
    img = np.asarray(Image.open(tmp_path / "new_plate_von_mises.png").convert("RGB")).reshape(-1, 3)
    assert len(img[(img.max(1) - img.min(1)) > 60]) > 5000  # the coloured plate, not a blank picture
