"""How MMGP's GP hyperparameters are optimised: likelihood, validation error and time.

The GP training data (standardised geometry coefficients + inputs, POD coefficients,
log-amplitudes, scalars) of a validation split (the last ``--n-val`` training samples
are held out) are fitted three ways, in the same run:

- ``joint``: one ``torch.optim.LBFGS`` (strong Wolfe) on the *sum* of the negative log
  likelihoods of every output and restart, 100 iterations on a 128-point subset and 40 on
  all points for the best subset restart: the optimiser and schedule MMGP used before
  :mod:`surrogates.mmgp.lbfgs`, but in the current log hyperparameters (the old softplus
  parametrisation is gone; it stopped at worse optima, see :mod:`surrogates.mmgp.gp`);
- ``separate``: the same schedule, but one L-BFGS history and line search per GP and restart
  (:func:`surrogates.mmgp.lbfgs.minimise`);
- ``default``: the current defaults (``GPConfig()``: separate L-BFGS, 60 subset iterations,
  25 on all points, plus a cold start refined on all points).

For each output: the negative log likelihood per value on all training points (lower is
better) and the validation RMSE of its standardised targets (POD coefficients in units of
the field's scale; log-amplitudes; scalars).

Usage::

    python benchmarks/bench_gp_fit.py --data runs/bench/holeplate2d_700 --n-val 100
    python benchmarks/bench_gp_fit.py --data runs/bench/plate2d_700 --json runs/bench/gp_fit_plate.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from floors_mmgp import splits

from mesh.boundary import planar_points
from mesh.dataset import Dataset
from surrogates.mmgp import MMGP
from surrogates.mmgp import gp as gp_module
from surrogates.mmgp.config import GPConfig
from surrogates.mmgp.lbfgs import BatchResult
from surrogates.mmgp.model import support_amplitude
from surrogates.mmgp.support import flatten


def joint_lbfgs(fun, x0: torch.Tensor, *, max_iter: int = 100, **_) -> BatchResult:
    """One torch L-BFGS on the summed losses (one history, one step for every problem);
    iterations and evaluations are not counted (zeros in the result)."""
    x = x0.detach().clone().requires_grad_(True)
    everyone = torch.arange(x.shape[0])
    opt = torch.optim.LBFGS([x], lr=1.0, max_iter=max_iter, history_size=20, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-7, tolerance_change=1e-11)

    def closure() -> torch.Tensor:
        loss, grad = fun(x.detach(), everyone)
        bad = ~torch.isfinite(loss)
        x.grad = torch.where(bad[:, None], 0.0, grad)
        return torch.where(bad, 1e10, loss).sum()

    opt.step(closure)
    loss = fun(x.detach(), everyone)[0]
    return BatchResult(x.detach(), loss, torch.zeros(len(loss), dtype=torch.long), 0)


def gp_training_data(data: Dataset, n_val: int, config: dict) -> dict:
    """Standardised GP inputs/targets of the fit split and of the validation samples."""
    if config.get("amplitude_inputs"):
        raise SystemExit("bench_gp_fit compares optimisers on fixed GP inputs; amplitude_inputs makes the "
                         "validation inputs depend on a first GP: leave it out of --config")
    fit_set, val_set = splits(data, "val", n_val)
    cheap = {**config, "uncertainty": "none", "gp": {"restarts": 1, "max_iter": 1, "refine_iter": 1}}
    model = MMGP(cheap)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(fit_set)
    tr = model._trained
    names = tr.outputs

    xv, yv = [], [[] for _ in names]
    for s in val_set:
        mm = tr.support.morph_and_transfer(s.mesh, back=False)
        geo = tr.geometry.project(flatten(mm.to_support @ planar_points(s.mesh)))
        x = np.hstack([geo[0], [s.inputs[n] for n in model.problem.scalar_names]])
        xv.append((x - tr.x_mean) / tr.x_std)
        for b, name in enumerate(names):
            if name in tr.fields:
                ref = np.asarray(s.fields[name], dtype=np.float64).reshape(s.mesh.n_points, -1)
                u = flatten(mm.to_support @ ref)
                a = support_amplitude(tr, model.config.amplitude, name, u) if name in tr.amplitude else 1.0
                y = tr.fields[name].project(u / a)[0]
            elif name.startswith("amplitude:"):
                field = name.split(":", 1)[1]
                ref = np.asarray(s.fields[field], dtype=np.float64).reshape(s.mesh.n_points, -1)
                u = flatten(mm.to_support @ ref)
                y = np.array([np.log(support_amplitude(tr, model.config.amplitude, field, u))])
            else:
                y = np.array([s.scalars[name]])
            yv[b].append((y - tr.y_mean[b]) / tr.y_scale[b])
    return {"names": names, "x": tr.x_train, "targets": tr.y_train, "mask": tr.posterior.mask.numpy(),
            "x_val": np.array(xv), "y_val": [np.array(v) for v in yv]}


def run(gpd: dict, cfg: GPConfig, joint: bool) -> dict:
    """Fit with ``cfg`` (joint: through :func:`joint_lbfgs`); times, likelihoods, validation errors."""
    original = gp_module.minimise
    if joint:
        gp_module.minimise = joint_lbfgs
    try:
        t = time.perf_counter()
        hyper, report = gp_module.fit_hyperparameters(gpd["x"], gpd["targets"], cfg, 0, threads=1,
                                                      mask=gpd["mask"])
        seconds = time.perf_counter() - t
    finally:
        gp_module.minimise = original
    post = gp_module.Posterior(gpd["x"], gpd["targets"], hyper, mask=gpd["mask"], threads=1)
    means = post.predict(gpd["x_val"])[0]
    out = {"seconds": seconds, "outputs": {}}
    for b, name in enumerate(gpd["names"]):
        err = float(np.sqrt(np.mean(np.sum((means[b] - gpd["y_val"][b]) ** 2, axis=1))))
        out["outputs"][name] = {"nll": float(report.loss[b]), "val_rmse": err,
                                "best_restart": int(report.best_restart[b])}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO / "runs" / "bench" / "holeplate2d_700")
    ap.add_argument("--n-val", type=int, default=100)
    ap.add_argument("--config", default='{"n_modes_geometry": 16, "n_modes_fields": 24, "amplitude": "max", '
                                        '"amplitude_fields": ["U1", "U2"]}', help="MMGP options as JSON")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if not (args.data / "dataset.yaml").exists():
        raise SystemExit(f"no dataset in {args.data}; make one first, e.g. surrogate data generate holeplate2d "
                         f"--n 700 --out {args.data} --workers 2 --test-fraction 0.2857142857")
    torch.set_num_threads(1)
    gpd = gp_training_data(Dataset(args.data), args.n_val, json.loads(args.config))
    old = GPConfig(max_iter=100, refine_iter=40, refine_cold=False)
    results = {"joint": run(gpd, old, True), "separate": run(gpd, old, False), "default": run(gpd, GPConfig(), False)}
    print(f"{len(gpd['x'])} fit / {len(gpd['x_val'])} validation samples, {len(gpd['names'])} GP outputs x "
          f"{GPConfig().restarts} restarts ({args.data})\n")
    print("| output | " + " | ".join(f"{k} nll | {k} val" for k in results) + " |")
    print("|---|" + "---|---|" * len(results))
    for name in gpd["names"]:
        cells = [f"{r['outputs'][name]['nll']:.3f} | {r['outputs'][name]['val_rmse']:.4f}" for r in results.values()]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\nfit seconds: " + ", ".join(f"{k} {r['seconds']:.1f}" for k, r in results.items())
          + f"; default / joint = {results['default']['seconds'] / results['joint']['seconds']:.2f}x")
    if args.json:
        args.json.write_text(json.dumps({"data": str(args.data), "config": args.config, **results}, indent=1))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
