"""The `surrogate` command line as a user runs it."""
from __future__ import annotations

import numpy as np
from typer.testing import CliRunner

from apps.cli import NOT_BUILT, app
from mesh.io import write

runner = CliRunner()


def test_help_lists_the_command_groups():
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0
    for group in ("data", "train", "predict", "validate", "view", "solve"):
        assert group in r.output


def test_unbuilt_commands_say_so_and_fail():
    for cmd in (["train", "--model", "mmgp"], ["predict", "run", "x.vtu"], ["validate"], ["view", "x"]):
        r = runner.invoke(app, cmd)
        assert r.exit_code == NOT_BUILT, cmd
        assert "not built yet" in r.output


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
