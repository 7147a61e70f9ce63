"""Error floors of MMGP: where does the field error come from?

The field error of MMGP on a test mesh is the sum of three parts; this script
measures each on a validation split (carved out of the training split by default, so
that choices made from it never look at the test samples):

- **transfer floor**: the reference field carried to the common support and back to
  its own mesh (``W_back @ W_to @ u``), no POD, no GP: the error of the morphing and
  the linear interpolations alone;
- **POD floor** (k modes): the same round trip through the POD, with the *exact*
  coefficients of the validation field (``W_back @ reconstruct(project(W_to @ u))``):
  the best any regressor of k coefficients can do;
- **model error** (k modes): the MMGP prediction with the first k modes (GP means);
  the gap to the POD floor is the regression (GP) error.

With ``prior: elastic`` the POD floor and the model error include the elastic
solution of each sample (exact on its mesh) and the POD is that of the shape
corrections, as in :meth:`MMGP.predict`.

All errors are the field RRMSE of DESIGN.md section 5. A second table gives the GP
error in coefficient space: RMSE of the predicted minus exact coefficients over the
std of the exact ones, per mode, for the first modes of each field.

Usage::

    python benchmarks/floors_mmgp.py --data runs/bench/plate2d_180 --n-val 30
    python benchmarks/floors_mmgp.py --data runs/bench/plate2d_180 --on test --json runs/bench/floors.json
    python benchmarks/floors_mmgp.py --config '{"n_modes_geometry": 16}'
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mesh.boundary import planar_points  # noqa: E402
from mesh.dataset import Dataset  # noqa: E402
from surrogates.mmgp import MMGP  # noqa: E402
from surrogates.mmgp.model import field_coefficients, support_amplitude  # noqa: E402
from surrogates.mmgp.prior import solve_on_mesh  # noqa: E402
from surrogates.mmgp.support import flatten, unflatten  # noqa: E402

from bench_mmgp import field_rrmse  # noqa: E402


def splits(data: Dataset, on: str, n_val: int) -> tuple[Dataset, Dataset]:
    """(fit set, evaluation set): train minus its last ``n_val`` samples and those, or train and test."""
    train = data.split("train")
    if on == "test":
        return train, data.split("test")
    if not 0 < n_val < len(train) - 1:
        raise SystemExit(f"--n-val {n_val} must be between 1 and {len(train) - 2} (train has {len(train)})")
    return train.subset(train.ids[:-n_val]), train.subset(train.ids[-n_val:])


def sample_floors(model: MMGP, sample, ks: list[int]) -> dict:
    """Per-field errors of one evaluation sample.

    Returns
    -------
    {"transfer": {field: (N, c) prediction}, "pod": {k: {field: ...}}, "model": {k: {field: ...}},
     "coef_err": {field: (K,) predicted - exact coefficients}}
    """
    tr = model._trained
    mm = tr.support.morph_and_transfer(sample.mesh, back=True)
    to, back = mm.to_support, mm.from_support
    geo = tr.geometry.project(flatten(to @ planar_points(sample.mesh)))
    x = np.hstack([geo[0], [sample.inputs[n] for n in model.problem.scalar_names]])
    means, _, var = tr.gp_predict(((x - tr.x_mean) / tr.x_std)[None, :])
    out = {"transfer": {}, "pod": {k: {} for k in ks}, "model": {k: {} for k in ks}, "coef_err": {}}
    prior = {}  # field -> (u_el / a_el on the mesh, a_el, on the support): the elastic prior's part
    if tr.prior_fields:
        for name, u in solve_on_mesh(tr.prior, sample.mesh, sample.inputs, tr.prior_fields).items():
            a_el = support_amplitude(tr, model.config.amplitude, name, to @ u)
            prior[name] = (u / a_el, a_el, (to @ u) / a_el)
    for name, (pred, _, log_amp) in field_coefficients(tr, means, var).items():
        red, c = tr.fields[name], tr.components[name]
        u_s = flatten(to @ np.asarray(sample.fields[name], dtype=np.float64))
        a_exact = support_amplitude(tr, model.config.amplitude, name, u_s) if log_amp is not None else 1.0
        a_pred = np.exp(log_amp[0] + log_amp[1] / 2) if log_amp is not None else 1.0
        el_mesh, el_support = 0.0, 0.0
        if name in prior:  # the GPs learn the ratio to, and the shape difference from, the prior
            el_mesh, a_el, el_support = prior[name]
            a_pred *= a_el
        exact = red.project(u_s / a_exact - el_support)[0]
        out["coef_err"][name] = (pred - exact, exact)

        def on_mesh(vec: np.ndarray) -> np.ndarray:
            return back @ unflatten(vec, c)

        out["transfer"][name] = on_mesh(u_s)
        for k in ks:
            kk = min(k, red.n_modes)
            out["pod"][k][name] = a_exact * (el_mesh + on_mesh(red.mean + exact[:kk] @ red.modes[:kk]))
            out["model"][k][name] = a_pred * (el_mesh + on_mesh(red.mean + pred[:kk] @ red.modes[:kk]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO / "runs" / "bench" / "plate2d_180")
    ap.add_argument("--on", choices=("val", "test"), default="val")
    ap.add_argument("--n-val", type=int, default=30)
    ap.add_argument("--modes", default="4,8,12,16,24,32,48", help="field mode counts to evaluate")
    ap.add_argument("--config", default="{}", help="MMGP options as JSON (n_modes_fields is set to max(--modes))")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    data = Dataset(args.data)
    fit_set, ev = splits(data, args.on, args.n_val)
    ks = sorted(int(k) for k in args.modes.split(","))
    cfg = {**json.loads(args.config), "n_modes_fields": max(ks), "uncertainty": "none"}
    model = MMGP(cfg)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model.fit(fit_set)
        per = [sample_floors(model, s, ks) for s in ev]
    fields = list(model._trained.fields)
    refs = {n: [np.asarray(s.fields[n]) for s in ev] for n in fields}
    res = {"n_fit": len(fit_set), "n_eval": len(ev), "on": args.on, "config": cfg,
           "seconds": time.perf_counter() - t, "train_metrics": model.metrics,
           "transfer": {}, "pod": {}, "model": {}, "coef_rel_rmse": {}}
    for n in fields:
        res["transfer"][n] = field_rrmse(refs[n], [p["transfer"][n] for p in per])[0]
        res["pod"][n] = {k: field_rrmse(refs[n], [p["pod"][k][n] for p in per])[0] for k in ks}
        res["model"][n] = {k: field_rrmse(refs[n], [p["model"][k][n] for p in per])[0] for k in ks}
        err = np.array([p["coef_err"][n][0] for p in per])
        ex = np.array([p["coef_err"][n][1] for p in per])
        res["coef_rel_rmse"][n] = (np.sqrt((err ** 2).mean(0)) / ex.std(0)).tolist()
    print(f"fit on {len(fit_set)}, evaluated on {len(ev)} ({args.on}); config {json.dumps(cfg)}; "
          f"geometry modes {model.metrics['modes_geometry']}, energy {model.metrics['pod_energy_geometry']:.6f}")
    print("\n| field | transfer | " + " | ".join(f"POD k={k}" for k in ks) + " | "
          + " | ".join(f"model k={k}" for k in ks) + " |")
    print("|---" * (2 + 2 * len(ks)) + "|")
    for n in fields:
        print(f"| {n} | {res['transfer'][n]:.2e} | " + " | ".join(f"{res['pod'][n][k]:.2e}" for k in ks) + " | "
              + " | ".join(f"{res['model'][n][k]:.2e}" for k in ks) + " |")
    print("\nGP error per coefficient (RMSE / std of the exact coefficient), modes 1-8:")
    for n in fields:
        print(f"  {n}: " + " ".join(f"{v:.2f}" for v in res["coef_rel_rmse"][n][:8]))
    if args.json:
        args.json.write_text(json.dumps(res, indent=1, default=float))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
