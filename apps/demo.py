"""The main job of the README, on the built-in default problem (``plate2d``).

1. generate a small dataset with the FEM solver (random notched plates, elasto-viscoplastic);
2. train MMGP on its train split;
3. predict on a new plate whose mesh is in no dataset, with the 95 % band;
4. validate against FEM: the stored test cases plus a few new cases solved now;
5. write the report and say where everything is and how to open the viewer.

Each step is resumable: re-running the command reuses what is already on disk.
"""
from __future__ import annotations

import time
from pathlib import Path

import yaml

from .console import console

#: MMGP settings for plate2d, chosen on a validation split of training data (see the file)
MMGP_CONFIG = Path(__file__).resolve().parents[1] / "data" / "configs" / "mmgp_plate2d.yaml"

DEFAULT_SAMPLES = 64
_SMALL_FIELD_MODES = 24  # modes per field when the demo trains on fewer plates than the settings' geometry modes
DEFAULT_SOLVE = 4


def run_demo(out: Path, *, n: int = DEFAULT_SAMPLES, n_solve: int = DEFAULT_SOLVE,
             workers: int | None = 2, seed: int = 0) -> dict:
    """Run the demo into ``out``; return a summary dict with the paths and figures."""
    from mesh.io import write
    from physics.geometry import make_geometry

    from .generate_command import run_generate
    from .render import render_field
    from .train_command import run_predict, run_train
    from .validate_command import run_validate

    out = Path(out)
    t_start = time.perf_counter()
    ds_dir, run_dir, report = out / "plate2d", out / "mmgp", out / "report"

    console.rule(f"[bold]1/5  generate {n} FEM samples of 'plate2d' (random notched plates)")
    ds = run_generate("plate2d", n, ds_dir, seed=seed, workers=workers, scheduler=None, test_fraction=0.2)

    console.rule("[bold]2/5  train MMGP (morphing + POD + Gaussian processes)")
    if (run_dir / "model.yaml").exists():
        console.print(f"reusing the model in {run_dir} (delete it to retrain)")
    else:
        # the settings were chosen on 500 plates: more modes than the demo's few plates carry (the
        # elastic prior's corrections vanish on the plates that stay elastic, a quarter of them)
        n_train = len(ds.split("train"))
        modes = int(yaml.safe_load(MMGP_CONFIG.read_text())["n_modes_geometry"])
        overrides = {"n_modes_geometry": n_train - 1, "n_modes_fields": _SMALL_FIELD_MODES} \
            if n_train <= modes else {}
        if overrides:
            console.print(f"{n_train} training plates: {n_train - 1} geometry modes instead of {modes}, "
                          f"{_SMALL_FIELD_MODES} modes per field")
        run_train("mmgp", ds_dir, run_dir, MMGP_CONFIG, overrides, False, None)

    console.rule("[bold]3/5  predict on a new plate that is in no dataset")
    new_mesh, params = make_geometry("plate2d", 10_000 + seed)
    mesh_file = write(new_mesh, out / "new_plate.vtu")
    inputs = {name: 0.5 * (lo + hi) for name, (lo, hi) in _input_ranges(ds).items()}
    pred_file = out / "new_plate_prediction.vtu"
    run_predict(run_dir, mesh_file, inputs, pred_file, None, None, None)

    console.rule(f"[bold]4/5  validate against FEM on {n_solve} new cases solved now (meshes never seen)")
    code = run_validate(run_dir, ds_dir, report, solve=True, workers=workers, n_solve=n_solve)

    console.rule("[bold]5/5  results")
    from mesh.io import read

    pred_mesh = read(pred_file)
    picture = render_field(pred_mesh, "von_mises", out / "new_plate_von_mises.png",
                           title="predicted von Mises [Pa]")
    elapsed = time.perf_counter() - t_start
    console.print(f"dataset:           [bold]{ds_dir}[/]   (surrogate data info {ds_dir})")
    console.print(f"model:             [bold]{run_dir}[/]")
    console.print(f"prediction:        [bold]{pred_file}[/]  (fields, their std and 95 % bounds)")
    console.print(f"picture:           [bold]{picture}[/]")
    console.print(f"validation report: [bold]{report / 'report.html'}[/]  (open it in a browser)")
    console.print(f"viewer:            [bold]surrogate view {report}[/]  (then open the printed URL)")
    console.print(f"total time {elapsed / 60:.1f} min")
    return {"dataset": str(ds_dir), "run": str(run_dir), "prediction": str(pred_file),
            "report": str(report), "picture": str(picture), "validate_exit_code": code,
            "seconds": elapsed, "samples": len(ds)}


def _input_ranges(dataset) -> dict[str, tuple[float, float]]:
    """(min, max) of every input scalar over a dataset, from its manifest."""
    x = dataset.inputs_array()
    return {n: (float(x[:, i].min()), float(x[:, i].max())) for i, n in enumerate(dataset.problem.scalar_names)}
