"""Benchmark: MMGP accuracy, calibration and speed on plate2d, against two baselines.

In one run, on the same train/test split of a plate2d dataset (generated once into a
cache folder, by default ``runs/bench/plate2d_180``: 130 train / 50 test):

- **MMGP** (this project): fit on the training split, predict every test sample on its
  own mesh with uncertainty; field and scalar RRMSE and Q2 (DESIGN.md section 5),
  calibration (share of test nodes whose reference lies in the 95 % interval; share of
  scalars within 1.96 std), fit time, inference time per test mesh and on a 5k-node
  plate mesh (with sampled, closed-form and no uncertainty);
- **grid baseline**: POD + GP without morphing: every field interpolated to a fixed
  triangulated grid of the training bounding box (clamped outside), mass-weighted
  POD, the same batched GPs on the input scalars only, decoded and interpolated back
  to the test meshes;
- **learning curve**: RRMSE of both for 8, 16, 32, 64, ... training samples;
- **peer**: the MMGP authors' stack (``../shared/tools/peer_mmgp.py``: Muscat + GPy,
  fields only, mean only) on the same files, if its virtual environment ``.peer``
  exists; its errors are recomputed here from its saved predictions with the same
  metric code, and the time ratios are reported.

Field RRMSE skips test samples whose reference is identically zero (e.g. the plastic
strain ``p`` of an elastic sample; the count is given); scalar RRMSE skips zero
references likewise.

Usage::

    python benchmarks/bench_mmgp.py                         # full run, table + JSON
    python benchmarks/bench_mmgp.py --quick                 # 16 train / 8 test, no peer
    python benchmarks/bench_mmgp.py --data runs/bench/plate2d_180 --json runs/bench/mmgp.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mesh import CellBlock, Mesh
from mesh.dataset import Dataset
from mesh.mass import mass_matrix
from mesh.transfer import interpolation_matrix
from surrogates.mmgp import MMGP
from surrogates.mmgp.config import GPConfig
from surrogates.mmgp.gp import Posterior, fit_hyperparameters
from surrogates.mmgp.reduction import fit_reduction

PEER = REPO.parent / "shared" / "tools" / "peer_mmgp.py"


# --------------------------------------------------------------------------- metrics
def field_rrmse(refs: list[np.ndarray], preds: list[np.ndarray]) -> tuple[float, int]:
    """sqrt(mean_i (1/N_i)|u_ref - u_pred|^2 / |u_ref|_inf^2) over samples with a nonzero
    reference; returns (RRMSE, number of samples skipped)."""
    terms = [np.mean((r - p) ** 2) / np.max(np.abs(r)) ** 2 for r, p in zip(refs, preds)
             if np.max(np.abs(r)) > 0]
    return float(np.sqrt(np.mean(terms))) if terms else float("nan"), len(refs) - len(terms)


def scalar_rrmse(ref: np.ndarray, pred: np.ndarray) -> tuple[float, int]:
    """sqrt(mean_i (w_ref - w_pred)^2 / w_ref^2) over nonzero references; (RRMSE, skipped)."""
    ok = ref != 0
    return float(np.sqrt(np.mean((ref[ok] - pred[ok]) ** 2 / ref[ok] ** 2))), int((~ok).sum())


def q2(refs, preds) -> float:
    """1 - sum (ref - pred)^2 / sum (ref - mean ref)^2, all values pooled."""
    r, p = np.concatenate([np.ravel(x) for x in refs]), np.concatenate([np.ravel(x) for x in preds])
    return float(1.0 - np.sum((r - p) ** 2) / np.sum((r - r.mean()) ** 2))


def evaluate(test: list, fields: list[str], scalars: list[str], preds: list[dict]) -> dict:
    """Metrics of predictions ``preds[i] = {"fields": {...}, "scalars": {...}, ...}`` on ``test``."""
    out = {}
    for n in fields:
        refs = [s.fields[n] for s in test]
        ps = [p["fields"][n] for p in preds]
        r, skipped = field_rrmse(refs, ps)
        out[n] = {"rrmse": r, "q2": q2(refs, ps), "skipped_zero_ref": skipped}
        if preds[0].get("lower"):
            inside = [(s.fields[n] >= p["lower"][n]) & (s.fields[n] <= p["upper"][n]) for s, p in zip(test, preds)]
            out[n]["coverage95"] = float(np.mean(np.concatenate(inside)))
    for n in scalars:
        if n not in preds[0].get("scalars", {}):
            continue
        ref = np.array([s.scalars[n] for s in test])
        pr = np.array([p["scalars"][n] for p in preds])
        r, skipped = scalar_rrmse(ref, pr)
        out[n] = {"rrmse": r, "q2": q2([ref], [pr]), "skipped_zero_ref": skipped}
        if preds[0].get("scalars_std"):
            sd = np.array([p["scalars_std"][n] for p in preds])
            out[n]["coverage95"] = float(np.mean(np.abs(ref - pr) <= 1.959964 * sd))
    return out


# --------------------------------------------------------------------------- data
def dataset(path: Path, n: int, n_test: int) -> Dataset:
    """The cached plate2d dataset, generated (2 worker processes) if absent."""
    if not (path / "dataset.yaml").exists():
        from physics.generate import generate

        print(f"generating {n} plate2d samples into {path} (2 workers) ...", flush=True)
        t = time.perf_counter()
        generate("plate2d", n, path, seed=0, workers=2, test_fraction=n_test / n)
        print(f"  {time.perf_counter() - t:.0f} s", flush=True)
    return Dataset(path)


def big_mesh(family: str = "plate2d", target_nodes: int = 5000) -> Mesh:
    """A mesh of geometry family ``family`` with about ``target_nodes`` nodes (no fields), for
    inference timing: one trial mesh, then the element size rescaled by sqrt(nodes / target)."""
    from physics.geometry import make_geometry

    size = 0.04 * np.sqrt(1560 / target_nodes)
    mesh = make_geometry(family, 12345, mesh_size=size)[0]
    size *= np.sqrt(mesh.n_points / target_nodes)
    return make_geometry(family, 12345, mesh_size=size)[0]


# --------------------------------------------------------------------------- MMGP
def run_mmgp(train: Dataset, test: list, config: dict, *, uncertainty: bool = True) -> dict:
    cfg = dict(config, uncertainty="gaussian" if uncertainty else "none")
    model = MMGP(cfg)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model.fit(train)
    fit_s = time.perf_counter() - t
    preds, times, stages = [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # test inputs slightly outside the range
        for s in test:
            t = time.perf_counter()
            p = model.predict(s.mesh, s.inputs)
            times.append(time.perf_counter() - t)
            stages.append(p.timings)
            preds.append({"fields": p.fields, "scalars": p.scalars, "lower": p.lower, "upper": p.upper,
                          "scalars_std": p.scalars_std})
    return {"model": model, "fit_s": fit_s, "preds": preds, "predict_s": float(np.mean(times)),
            "stages_s": {k: float(np.mean([st[k] for st in stages])) for k in stages[0]}}


def mean_only_time(model: MMGP, test: list) -> float:
    """Mean time (s) of a prediction without uncertainty on the test meshes."""
    meta, arrays = model.state()
    m = MMGP.from_state(model.config.model_copy(update={"uncertainty": "none"}), meta, arrays)
    m.problem, m.input_ranges, m.metrics = model.problem, model.input_ranges, model.metrics
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for s in test:
            t = time.perf_counter()
            m.predict(s.mesh, s.inputs)
            times.append(time.perf_counter() - t)
    return float(np.mean(times))


def time_big_mesh(model: MMGP, mesh: Mesh, inputs: dict, repeat: int = 5) -> dict:
    """Best-of-``repeat`` prediction time (s) on ``mesh`` for each uncertainty mode."""
    out = {"nodes": mesh.n_points}
    meta, arrays = model.state()
    for mode in ("samples", "gaussian", "none"):
        m = MMGP.from_state(model.config.model_copy(update={"uncertainty": mode}), meta, arrays)
        m.problem, m.input_ranges, m.metrics = model.problem, model.input_ranges, model.metrics
        best, stages = np.inf, {}
        for _ in range(repeat):
            t = time.perf_counter()
            p = m.predict(mesh, inputs)
            dt = time.perf_counter() - t
            if dt < best:
                best, stages = dt, p.timings
        out[mode] = {"total_s": best, "stages_s": stages}
    return out


# --------------------------------------------------------------------------- grid baseline
def grid_mesh(lo: np.ndarray, hi: np.ndarray, n_nodes: int) -> Mesh:
    """Structured triangulation of the box [lo, hi] with about ``n_nodes`` nodes."""
    aspect = (hi[1] - lo[1]) / (hi[0] - lo[0])
    nx = max(round(float(np.sqrt(n_nodes / aspect))), 2)
    ny = max(round(float(nx * aspect)), 2)
    x, y = np.meshgrid(np.linspace(lo[0], hi[0], nx), np.linspace(lo[1], hi[1], ny), indexing="ij")
    idx = np.arange(nx * ny).reshape(nx, ny)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    tri = np.concatenate([np.column_stack([a, b, c]), np.column_stack([a, c, d])])
    return Mesh(np.column_stack([x.ravel(), y.ravel()]), (CellBlock("triangle", tri),))


def run_grid_baseline(train: Dataset, test: list, n_modes: int, gp: dict) -> dict:
    """POD + GP on fields interpolated to a fixed bounding-box grid; GP on input scalars only."""
    t0 = time.perf_counter()
    samples = list(train)
    pts = np.concatenate([s.mesh.points for s in samples])
    grid = grid_mesh(pts.min(0), pts.max(0), int(np.median([s.n_points for s in samples])))
    mass = mass_matrix(grid)
    fields, scalars = list(train.problem.outputs), list(train.problem.output_scalars)
    snaps = {n: [] for n in fields}
    for s in samples:
        w = interpolation_matrix(s.mesh, grid.points, outside="clamp")
        for n in fields:
            snaps[n].append(w @ s.fields[n])
    x = train.inputs_array()
    x_mean, x_std = x.mean(0), x.std(0)
    xs = (x - x_mean) / x_std
    reds, targets, scales = {}, [], []
    for n in fields:
        red = fit_reduction(np.array(snaps[n]), mass, n_modes, None, n)
        c = red.project(np.array(snaps[n]))
        mu, sd = c.mean(0), np.full(c.shape[1], max(c.std(0).max(), 1e-300))
        reds[n] = red
        targets.append((c - mu) / sd)
        scales.append((mu, sd))
    y = train.scalars_array()
    for j in range(len(scalars)):
        mu, sd = y[:, j].mean(), y[:, j].std()
        targets.append(((y[:, j] - mu) / sd)[:, None])
        scales.append((np.array([mu]), np.array([sd])))
    hyper, _ = fit_hyperparameters(xs, targets, GPConfig(**gp))
    post = Posterior(xs, targets, hyper)
    fit_s = time.perf_counter() - t0
    preds, times = [], []
    for s in test:
        t = time.perf_counter()
        xq = ((np.array([s.inputs[n] for n in train.problem.scalar_names]) - x_mean) / x_std)[None]
        means, _, _ = post.predict(xq)
        back = interpolation_matrix(grid, s.mesh.points, outside="clamp")
        out = {"fields": {}, "scalars": {}}
        for b, n in enumerate(fields):
            out["fields"][n] = back @ reds[n].reconstruct(means[b][0] * scales[b][1] + scales[b][0])[0]
        for j, n in enumerate(scalars):
            b = len(fields) + j
            out["scalars"][n] = float(means[b][0, 0] * scales[b][1][0] + scales[b][0][0])
        times.append(time.perf_counter() - t)
        preds.append(out)
    return {"fit_s": fit_s, "preds": preds, "predict_s": float(np.mean(times)), "grid_nodes": grid.n_points}


# --------------------------------------------------------------------------- peer
def run_peer(data: Dataset, train_ids: list[str], test: list, fields: list[str], modes_geo: int,
             modes_field: int, restarts: int, work: Path) -> dict | None:
    """Run the authors' stack on the same files; None when its environment is missing."""
    python = REPO / ".peer" / "bin" / "python"
    if not python.exists() or not PEER.exists():
        print(f"peer skipped: {python} or {PEER} missing", flush=True)
        return None
    shutil.rmtree(work, ignore_errors=True)
    for split, ids in (("train", train_ids), ("test", [s.id for s in test])):
        (work / split).mkdir(parents=True)
        for i in ids:
            (work / split / f"{i}.vtu").symlink_to((data.root / "samples" / f"{i}.vtu").resolve())
    cmd = [str(python), str(PEER), "--train", str(work / "train" / "*.vtu"), "--test", str(work / "test" / "*.vtu"),
           "--fields", ",".join(fields), "--inputs", ",".join(f"input:{n}" for n in data.problem.scalar_names),
           "--modes-geo", str(modes_geo), "--modes-field", str(modes_field), "--restarts", str(restarts),
           "--json", str(work / "peer.json"), "--save-pred", str(work / "pred")]
    print("peer:", " ".join(cmd), flush=True)
    t = time.perf_counter()
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        print(f"peer failed ({proc.returncode}):\n{proc.stderr[-3000:]}", flush=True)
        return None
    doc = json.loads((work / "peer.json").read_text())
    preds = []
    for s in test:
        z = np.load(work / "pred" / f"{s.id}.npz")
        if not np.allclose(z["points"], s.mesh.points[:, :2]):
            raise RuntimeError(f"peer reordered the nodes of {s.id}")
        preds.append({"fields": {n: z["pred"][:, j] for j, n in enumerate(fields)}})
    t = doc["timings"]
    return {"preds": preds, "fit_s": t["preprocess_train_s"] + t["train_s"], "timings": t,
            "predict_s": t["inference_per_sample_s"], "wall_s": wall, "restarts": restarts}


# --------------------------------------------------------------------------- report
def table(results: dict, names: list[str]) -> str:
    cols = [k for k in ("mmgp", "grid", "peer") if results.get(k)]
    lines = ["| output | " + " | ".join(f"{c} RRMSE | {c} Q2" for c in cols) + " | MMGP 95% cover |",
             "|---" * (2 * len(cols) + 2) + "|"]
    for n in names:
        row = [n]
        for c in cols:
            m = results[c]["metrics"].get(n)
            row += [f"{m['rrmse']:.2e}" if m else "-", f"{m['q2']:.4f}" if m else "-"]
        cov = results["mmgp"]["metrics"][n].get("coverage95")
        row.append(f"{cov:.3f}" if cov is not None else "-")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO / "runs" / "bench" / "plate2d_180")
    ap.add_argument("--n", type=int, default=180, help="samples to generate when the cache is absent")
    ap.add_argument("--n-test", type=int, default=50)
    ap.add_argument("--curve", default="8,16,32,64,125,250", help="learning-curve sizes (the full set is added)")
    ap.add_argument("--modes-geometry", type=int, default=8)
    ap.add_argument("--modes-fields", type=int, default=12)
    ap.add_argument("--config", default="{}", help="further MMGP options as JSON, e.g. "
                    "'{\"amplitude\": \"max\", \"amplitude_fields\": [\"U1\", \"U2\"]}'")
    ap.add_argument("--peer-restarts", type=int, default=10)
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--quick", action="store_true", help="16 train / 8 test, no peer, short curve")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    data = dataset(args.data, args.n, args.n_test)
    train, test_ds = data.split("train"), data.split("test")
    if args.quick:
        train, test_ds = train.subset(train.ids[:16]), test_ds.subset(test_ds.ids[:8])
        args.curve, args.no_peer = "8", True
    test = list(test_ds)
    fields, scalars = list(data.problem.outputs), list(data.problem.output_scalars)
    config = {"n_modes_geometry": args.modes_geometry, "n_modes_fields": args.modes_fields,
              **json.loads(args.config)}
    gp = GPConfig(**config.get("gp", {})).model_dump()
    env = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
           "load_avg_start": os.getloadavg()}
    print(f"{len(train)} train / {len(test)} test samples ({min(e.n_points for e in data.entries)}-"
          f"{max(e.n_points for e in data.entries)} nodes); load average {env['load_avg_start']}", flush=True)

    results: dict = {"config": config, "n_train": len(train), "n_test": len(test), "env": env}
    mm = run_mmgp(train, test, config)
    results["mmgp"] = {"fit_s": mm["fit_s"], "predict_s": mm["predict_s"], "stages_s": mm["stages_s"],
                       "metrics": evaluate(test, fields, scalars, mm["preds"]),
                       "train_metrics": mm["model"].metrics}
    results["mmgp"]["predict_mean_only_s"] = mean_only_time(mm["model"], test)
    print(f"MMGP: fit {mm['fit_s']:.2f} s, predict {mm['predict_s'] * 1e3:.1f} ms per test mesh "
          f"({results['mmgp']['predict_mean_only_s'] * 1e3:.1f} ms without uncertainty)", flush=True)
    mid = {n: float(np.mean(r)) for n, r in mm["model"].input_ranges.items()}
    results["mmgp"]["big_mesh"] = time_big_mesh(mm["model"], big_mesh(data.name), mid)
    print(f"5k mesh: {json.dumps({k: v['total_s'] for k, v in results['mmgp']['big_mesh'].items() if k != 'nodes'})}",
          flush=True)

    gb = run_grid_baseline(train, test, args.modes_fields, gp)
    results["grid"] = {"fit_s": gb["fit_s"], "predict_s": gb["predict_s"], "grid_nodes": gb["grid_nodes"],
                       "metrics": evaluate(test, fields, scalars, gb["preds"])}
    print(f"grid baseline: fit {gb['fit_s']:.2f} s", flush=True)

    curve = {}
    sizes = sorted({int(k) for k in args.curve.split(",") if int(k) < len(train)} | {len(train)})
    for k in sizes:
        sub = train.subset(train.ids[:k])
        m = mm if k == len(train) else run_mmgp(sub, test, config, uncertainty=False)
        g = gb if k == len(train) else run_grid_baseline(sub, test, args.modes_fields, gp)
        curve[k] = {"mmgp": {n: v["rrmse"] for n, v in evaluate(test, fields, scalars, m["preds"]).items()},
                    "grid": {n: v["rrmse"] for n, v in evaluate(test, fields, scalars, g["preds"]).items()},
                    "mmgp_fit_s": m["fit_s"]}
        print(f"curve n={k}: " + ", ".join(f"{n} {curve[k]['mmgp'][n]:.3e} (grid {curve[k]['grid'][n]:.3e})"
                                           for n in fields), flush=True)
    results["curve"] = curve

    if not args.no_peer:
        pr = run_peer(data, train.ids, test, fields, args.modes_geometry, args.modes_fields,
                      args.peer_restarts, REPO / "runs" / "bench" / f"peer_work_{data.root.name}")
        if pr is not None:
            results["peer"] = {"fit_s": pr["fit_s"], "predict_s": pr["predict_s"], "timings": pr["timings"],
                               "restarts": pr["restarts"], "metrics": evaluate(test, fields, [], pr["preds"])}
            results["ratios"] = {
                "fit_peer_over_mmgp": pr["fit_s"] / mm["fit_s"],
                "inference_peer_over_mmgp_with_uq": pr["predict_s"] / mm["predict_s"],
                "inference_peer_over_mmgp_mean_only": pr["predict_s"] / results["mmgp"]["predict_mean_only_s"],
            }
    results["env"]["load_avg_end"] = os.getloadavg()

    print("\n" + table(results, fields + scalars))
    print(f"\nMMGP fit {mm['fit_s']:.2f} s; predict per test mesh {mm['predict_s'] * 1e3:.1f} ms, "
          f"{results['mmgp']['predict_mean_only_s'] * 1e3:.1f} ms without uncertainty "
          f"(stages {', '.join(f'{k} {v * 1e3:.1f}' for k, v in mm['stages_s'].items())} ms)")
    big = results["mmgp"]["big_mesh"]
    print(f"5k-node mesh ({big['nodes']} nodes): " + ", ".join(
        f"{k} {big[k]['total_s'] * 1e3:.1f} ms" for k in ("samples", "gaussian", "none")))
    print(f"grid baseline: fit {gb['fit_s']:.2f} s, predict {gb['predict_s'] * 1e3:.1f} ms")
    if results.get("peer"):
        p = results["peer"]
        print(f"peer (Muscat + GPy, {p['restarts']} restarts): fit {p['fit_s']:.2f} s, inference "
              f"{p['predict_s'] * 1e3:.1f} ms per mesh; ratios {json.dumps(results['ratios'])}")
    print("\nlearning curve (RRMSE, MMGP / grid):")
    for k, v in curve.items():
        print(f"  n={k:4d}: " + ", ".join(f"{n} {v['mmgp'][n]:.2e}/{v['grid'][n]:.2e}" for n in fields + scalars))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=float))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
