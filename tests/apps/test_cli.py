"""The `surrogate` command line as a user runs it."""
from __future__ import annotations

import numpy as np
import pytest
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


def test_bad_model_options_name_their_source_value_and_the_valid_ones(tmp_path, two_triangles):
    write(two_triangles.with_point_data(u=np.zeros(4)), tmp_path / "src" / "a.vtu")
    runner.invoke(app, ["data", "import", str(tmp_path / "src"), "--out", str(tmp_path / "ds")])
    cfg = tmp_path / "gt.yaml"
    cfg.write_text("model: graph-transformer\nhiden: 64\nlayers: two\n")
    r = runner.invoke(app, ["train", "--dataset", str(tmp_path / "ds"), "--out", str(tmp_path / "run"),
                            "--config", str(cfg), "--epochs", "-1"])
    out = " ".join(r.output.split())  # rich wraps long lines
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert f"config file '{cfg}': option 'hiden' = 64: unknown option" in out
    assert "(did you mean 'hidden'?)" in out
    assert f"config file '{cfg}': option 'layers' = 'two'" in out
    assert "command line: option 'epochs' = -1" in out
    assert "options of 'graph-transformer': hidden, layers" in out
    assert not (tmp_path / "run").exists()


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


def _train_rank(rank: int, port: int, root: str, out: str) -> None:
    """One torchrun-like rank of `surrogate train` (gloo); its stdout goes to out/../rank{rank}.txt."""
    import contextlib
    import os
    from pathlib import Path

    import torch
    import torch.distributed as dist

    from apps.train_command import run_train

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    log = Path(out).parent / f"rank{rank}.txt"
    try:
        with log.open("w") as f, contextlib.redirect_stdout(f):
            run_train("meshgraphnet", Path(root), Path(out), None,
                      {"hidden": 8, "layers": 2, "mlp_layers": 1, "epochs": 1, "batch_size": 1}, False, None)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_train_under_two_ranks_writes_the_run_once(tmp_path):
    """Under torchrun every rank trains, rank 0 alone reports and writes the run folder."""
    import socket

    import torch.multiprocessing as mp

    import surrogates
    from surrogates.common.synthetic import make_steady_dataset

    ds = make_steady_dataset(tmp_path / "ds", n=6, size=(4, 5))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_train_rank, args=(port, str(ds.root), str(tmp_path / "run")), nprocs=2, join=True)
    assert "model written to" in (tmp_path / "rank0.txt").read_text()
    assert (tmp_path / "rank1.txt").read_text() == ""
    assert surrogates.load(tmp_path / "run").metrics["train_samples"] == len(ds.split("train"))


def test_rollout_from_a_series_file_takes_its_input_fields_and_initial_state(tmp_path):
    """`predict RUN SERIES.xdmf --steps N`: q(t) and T(t=0) come from the file; XDMF out."""
    from mesh.io import read_series, write_series
    from surrogates.common.synthetic import make_transient_dataset
    from surrogates.meshgraphnet import MeshGraphNet

    ds = make_transient_dataset(tmp_path / "ds", n=3, steps=4)
    MeshGraphNet({"hidden": 8, "layers": 2, "mlp_layers": 1, "epochs": 1}).fit(ds).save(tmp_path / "run")
    s = ds[0]
    start = 1.0 + s.mesh.points[:, 0]  # an initial state of our own, not the dataset's
    steps = [{"T": start if t == 0 else s.fields["T"][t], "q": s.input_fields["q"][t]} for t in range(len(s.times))]
    src = write_series(s.mesh, s.times, steps, tmp_path / "case.xdmf")
    args = ["predict", str(tmp_path / "run"), str(src), "--out", str(tmp_path / "roll.xdmf"), "--steps", "3",
            *[a for k, v in s.inputs.items() for a in ("--input", f"{k}={v}")]]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    _, times, out = read_series(tmp_path / "roll.xdmf")
    assert len(times) == 4
    np.testing.assert_allclose(out[0]["T"], start, rtol=1e-5)  # started from the file's state
    r = runner.invoke(app, [*args[:2], str(tmp_path / "ds" / "nope.xdmf"), *args[3:]])
    assert r.exit_code == 1 and "nope.xdmf" in r.output


def test_train_tensorboard_flag_writes_event_files_per_member(tmp_path):
    pytest.importorskip("tensorboard")
    from surrogates.common.synthetic import make_steady_dataset

    ds = make_steady_dataset(tmp_path / "ds", n=4, size=(4, 5))
    r = runner.invoke(app, ["train", "--model", "meshgraphnet", "--dataset", str(ds.root), "--out",
                            str(tmp_path / "run"), "--epochs", "2", "--set", "hidden=8", "--set", "layers=1",
                            "--set", "ensemble=2", "--tensorboard"])
    assert r.exit_code == 0, r.output
    for m in (0, 1):
        assert list((tmp_path / "run" / "work" / "tensorboard" / f"member-{m}").glob("events.out.tfevents.*"))
