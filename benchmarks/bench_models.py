"""Graph transformer vs MeshGraphNet: accuracy, training step time, size, memory.

    python -m benchmarks.bench_models --part speed|plate|ensemble|posenc|heat|memory
        [--plate DIR] [--heat DIR] [--threads 1] [--epochs E] [--json out.json]

Parts (each a few minutes on 2 CPU cores; run them one at a time):

``speed``
    Parameters and the median time of one training step (forward, backward, AdamW) of
    MeshGraphNet (paper configuration: 15 steps, latent 128, 2-hidden-layer MLPs) and
    of the graph transformer (default config) on the same batches of plate2d meshes,
    timed interleaved (A B A B ...) so that load changes hit both alike.
``plate``
    Both models trained on the same plate2d training samples with the same budget
    (epochs, batch size, learning-rate schedule), evaluated on the same test samples:
    RRMSE per field and per scalar (DESIGN.md section 5:
    ``sqrt(mean_i (1/N_i)||u_ref - u_pred||^2 / ||u_ref||_inf^2)``, scalars
    ``sqrt(mean_i (w_ref - w_pred)^2 / w_ref^2)``) and Q2. Samples whose reference is
    identically 0 for a quantity (e.g. no plasticity) are left out of that RRMSE.
``ensemble``
    The transformer as a deep ensemble of ``--members`` networks (same budget as
    ``plate`` per member; the last ``--calib`` training samples held out): per field,
    the share of test node values inside mean -+ 1.96 std, raw and with the spread
    scaled on the held-out samples, RMS std / RMS error, the rank correlation over test
    samples of spread and error, and the RRMSE of the ensemble mean against its members.
``posenc``
    The transformer with ``pos_encoding`` = bias / rope / both / none (``--encodings``),
    same budget as ``plate``, ``--seeds`` training seeds each (mean and std of the mean
    field RRMSE): the measurement behind the default positional encoding.
``heat``
    Both models trained as autoregressive time steppers on heat2d (normalised
    increments, Gaussian input noise); one-step RMSE (from the true state, every
    ``--one-step-stride``-th step) and all-rollout RMSE (100 steps from the true initial
    state, RMSE over every step and node), in kelvin.
``memory``
    Forward + backward of one mesh of N nodes (a structured triangulated square) in a
    fresh process per size, peak RSS measured by the kernel (``ru_maxrss``, with glibc's
    ``MALLOC_MMAP_THRESHOLD_`` at 128 KiB so that freed tensors leave the RSS); sizes grow
    x2 (nodes) until the next is predicted to pass ``--mem-cap`` GB; a least-squares line
    through the measured peaks is extrapolated to ``--mem-target`` GB (24: reported as an
    extrapolation, not a measurement). With and without activation checkpointing.

Data: plate2d and heat2d datasets made by ``surrogate data generate`` (generated into
the given folders when missing: ``--n-plate`` / ``--n-heat`` samples, seed 1).
Threads: ``--threads`` (default 1: on a 2-core machine shared with other jobs, one
intra-op thread per process was faster and far steadier than two).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MGN = {"hidden": 128, "layers": 15, "mlp_layers": 2}            # Pfaff et al.
GT: dict[str, Any] = {}                                      # the family's defaults


# ------------------------------------------------------------------ data
def dataset(path: Path, recipe: str, n: int):
    """The dataset at ``path``, generated with the project's FEM pipeline when missing."""
    from mesh.dataset import Dataset

    if not (path / "dataset.yaml").exists():
        cli = Path(sys.executable).with_name("surrogate")
        subprocess.run([str(cli), "data", "generate", recipe, "--n", str(n),
                        "--out", str(path), "--workers", "2", "--seed", "1"], check=True, cwd=REPO)
    return Dataset(path)


def subset(ds, split: str, n: int | None):
    ids = ds.split(split).ids
    return ds.subset(ids[:n] if n else ids)


# --------------------------------------------------------------- metrics
def rrmse_fields(refs: list[dict], preds: list[dict], names: list[str]) -> dict[str, dict[str, float]]:
    """RRMSE and Q2 per field over test samples (DESIGN.md section 5)."""
    out = {}
    for f in names:
        terms, num, den = [], 0.0, 0.0
        allref = np.concatenate([np.ravel(r[f]) for r in refs])
        mean = allref.mean()
        for r, p in zip(refs, preds):
            ref, pred = np.ravel(r[f]), np.ravel(p[f])
            scale = np.abs(ref).max()
            if scale > 0:
                terms.append(np.mean((ref - pred) ** 2) / scale**2)
            num += float(((ref - pred) ** 2).sum())
            den += float(((ref - mean) ** 2).sum())
        out[f] = {"rrmse": float(np.sqrt(np.mean(terms))) if terms else float("nan"),
                  "q2": 1.0 - num / den if den > 0 else float("nan"), "samples": len(terms)}
    return out


def rrmse_scalars(refs: list[dict], preds: list[dict], names: list[str]) -> dict[str, dict[str, float]]:
    out = {}
    for s in names:
        ref = np.array([r[s] for r in refs])
        pred = np.array([p[s] for p in preds])
        ok = ref != 0
        q2 = 1 - ((ref - pred) ** 2).sum() / max(((ref - ref.mean()) ** 2).sum(), 1e-300)
        out[s] = {"rrmse": float(np.sqrt(np.mean(((ref - pred)[ok] / ref[ok]) ** 2))) if ok.any() else float("nan"),
                  "q2": float(q2), "samples": int(ok.sum())}
    return out


# ------------------------------------------------------------------ parts
def train(family: str, options: dict, train_ds, epochs: int, batch: int, seed: int = 0, **extra):
    import surrogates

    cfg = dict(options, epochs=epochs, batch_size=batch, lr=1e-3, lr_min=1e-5, seed=seed, **extra)
    model = surrogates.create(family, cfg)
    t0 = time.perf_counter()
    model.fit(train_ds)
    wall = time.perf_counter() - t0
    return model, wall


def evaluate_steady(model, test_ds) -> dict[str, Any]:
    import warnings

    refs, preds, srefs, spreds = [], [], [], []
    t0 = time.perf_counter()
    for s in test_ds:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # inputs outside the (small) training range
            p = model.predict_sample(s)
        refs.append(s.fields), preds.append(p.fields)
        srefs.append(s.scalars), spreds.append(p.scalars)
    pred_s = (time.perf_counter() - t0) / len(test_ds)
    fields = rrmse_fields(refs, preds, test_ds.problem.field_names)
    scalars = rrmse_scalars(srefs, spreds, list(test_ds.problem.output_scalars))
    valid = [v["rrmse"] for v in fields.values() if np.isfinite(v["rrmse"])]
    q2 = [1.0 - v["q2"] for v in fields.values() if np.isfinite(v["q2"])]
    return {"fields": fields, "scalars": scalars, "mean_field_rrmse": float(np.mean(valid)),
            "mean_field_1mq2": float(np.mean(q2)), "predict_s_per_sample": pred_s}


def part_plate(args) -> dict[str, Any]:
    ds = dataset(args.plate, "plate2d", args.n_plate)
    tr, te = subset(ds, "train", args.n_train), subset(ds, "test", args.n_test)
    out: dict[str, Any] = {"train_samples": len(tr), "test_samples": len(te), "epochs": args.epochs,
                           "batch_size": args.batch}
    for name, fam, opts in (("graph-transformer", "graph-transformer", GT), ("meshgraphnet", "meshgraphnet", MGN)):
        if name not in args.families.split(","):
            continue
        model, wall = train(fam, opts, tr, args.epochs, args.batch)
        res = evaluate_steady(model, te)
        res.update(train_s=wall, parameters=model.parameter_count(), final_loss=model.metrics["final_loss"][0])
        out[name] = res
        print(f"{name}: train {wall:.0f} s, mean field RRMSE {res['mean_field_rrmse']:.4f}", flush=True)
    return out


def calibration(refs: list[dict], preds: list, names: list[str]) -> dict[str, dict[str, float]]:
    """Per field: share of test node values inside mean -+ 1.96 std (95 % target), RMS std
    over RMS error (1 = the spread has the size of the error), and the Spearman rank
    correlation over test samples of the mean std with the RMS error (does a larger
    spread flag a worse prediction?)."""
    from scipy.stats import spearmanr

    from surrogates.common.calibration import coverage

    cover = coverage(refs, [p.fields for p in preds], [p.std for p in preds])
    out = {}
    for f in names:
        err = [np.ravel(r[f]) - np.ravel(p.fields[f]) for r, p in zip(refs, preds)]
        sd = [np.ravel(p.std[f]) for p in preds]
        s_err = [float(np.sqrt((e**2).mean())) for e in err]
        s_std = [float(np.sqrt((v**2).mean())) for v in sd]
        ratio = np.sqrt(sum(float((v**2).sum()) for v in sd) / sum(float((e**2).sum()) for e in err))
        out[f] = {"coverage95": cover[f], "std_over_error": float(ratio),
                  "spearman_std_error": float(spearmanr(s_std, s_err).statistic)}
    return out


def part_ensemble(args) -> dict[str, Any]:
    """Deep-ensemble uncertainty of the graph transformer: calibration of the spread, raw
    and scaled on ``--calib`` held-out training samples (``calibration_samples``)."""
    import warnings

    ds = dataset(args.plate, "plate2d", args.n_plate)
    tr, te = subset(ds, "train", args.n_train), subset(ds, "test", args.n_test)
    model, wall = train("graph-transformer", GT, tr, args.epochs, args.batch, ensemble=args.members,
                        calibration_samples=args.calib)
    scale = model.std_scale

    def predict_all() -> list:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return [model.predict_sample(s) for s in te]

    preds = predict_all()
    model.std_scale = {}
    raw = predict_all()
    model.std_scale = scale
    refs = [s.fields for s in te]
    names = te.problem.field_names
    ens = rrmse_fields(refs, [p.fields for p in preds], names)
    members = model.networks
    single = []
    for k in range(len(members)):  # each member alone, for the gain of the ensemble mean
        model.networks = [members[k]]
        single.append(rrmse_fields(refs, [p.fields for p in predict_all()], names))
    model.networks = members
    out = {"train_samples": len(tr) - args.calib, "calibration_samples": args.calib, "test_samples": len(te),
           "epochs": args.epochs, "members": args.members, "train_s": wall, "uncertainty": preds[0].uncertainty,
           "factors": scale.get("fields", {}), "calibration": calibration(refs, raw, names),
           "calibrated": calibration(refs, preds, names) if scale else None,
           "ensemble_rrmse": {f: v["rrmse"] for f, v in ens.items()},
           "member_rrmse_mean": {f: float(np.mean([m[f]["rrmse"] for m in single])) for f in names}}
    for f in names:
        c = out["calibration"][f]
        cal = f", scaled x{out['factors'][f]:.1f}: coverage {out['calibrated'][f]['coverage95']:.3f}" if scale else ""
        print(f"{f}: coverage {c['coverage95']:.3f}, std/error {c['std_over_error']:.2f}, "
              f"spearman {c['spearman_std_error']:.2f}{cal}; RRMSE ensemble {out['ensemble_rrmse'][f]:.4f} "
              f"vs member mean {out['member_rrmse_mean'][f]:.4f}", flush=True)
    return out

def part_posenc(args) -> dict[str, Any]:
    ds = dataset(args.plate, "plate2d", args.n_plate)
    tr, te = subset(ds, "train", args.n_train), subset(ds, "test", args.n_test)
    out: dict[str, Any] = {"train_samples": len(tr), "test_samples": len(te), "epochs": args.epochs,
                           "seeds": args.seeds}
    for pe in args.encodings.split(","):
        runs = []
        for seed in range(args.seeds):
            model, wall = train("graph-transformer", dict(GT, pos_encoding=pe), tr, args.epochs, args.batch, seed)
            res = evaluate_steady(model, te)
            runs.append({"seed": seed, "mean_field_rrmse": res["mean_field_rrmse"],
                         "mean_field_1mq2": res["mean_field_1mq2"],
                         "final_loss": model.metrics["final_loss"][0], "train_s": wall,
                         "fields": {k: v["rrmse"] for k, v in res["fields"].items()}})
            print(f"pos_encoding={pe} seed {seed}: train {wall:.0f} s, loss {runs[-1]['final_loss']:.4f}, "
                  f"mean field RRMSE {res['mean_field_rrmse']:.4f}", flush=True)
        r = np.array([x["mean_field_rrmse"] for x in runs])
        loss = np.array([x["final_loss"] for x in runs])
        out[pe] = {"runs": runs, "mean_field_rrmse": float(r.mean()), "mean_field_rrmse_std": float(r.std(ddof=1)) if len(r) > 1 else None,
                   "final_loss": float(loss.mean()), "final_loss_std": float(loss.std(ddof=1)) if len(loss) > 1 else None}
        print(f"pos_encoding={pe}: mean field RRMSE {r.mean():.4f} +- {out[pe]['mean_field_rrmse_std'] or 0:.4f} "
              f"over {len(r)} seed(s), loss {loss.mean():.4f}", flush=True)
    out["paired"] = paired_differences(out, args.encodings.split(","))
    return out


def paired_differences(out: dict[str, Any], encodings: list[str]) -> dict[str, Any]:
    """Each encoding against the first, seed by seed (same seeds: same data order and
    initial weights elsewhere): mean difference, its standard error and t = mean / se,
    for the mean field RRMSE and the mean field 1 - Q2 (robust to near-zero references)."""
    ref = out[encodings[0]]["runs"]
    res: dict[str, Any] = {}
    for pe in encodings[1:]:
        res[pe] = {}
        for key in ("mean_field_rrmse", "mean_field_1mq2"):
            d = np.array([b[key] - a[key] for a, b in zip(ref, out[pe]["runs"])])
            se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
            res[pe][key] = {"mean": float(d.mean()), "se": se, "t": float(d.mean() / se) if se > 0 else float("nan")}
            print(f"{pe} - {encodings[0]}: {key} {d.mean():+.4f} +- {se:.4f} (t = {res[pe][key]['t']:.2f}, "
                  f"{len(d)} paired seeds)", flush=True)
    return res


def part_heat(args) -> dict[str, Any]:
    import warnings

    ds = dataset(args.heat, "heat2d", args.n_heat)
    tr, te = subset(ds, "train", None), subset(ds, "test", None)
    per_epoch = args.heat_pairs
    out: dict[str, Any] = {"train_samples": len(tr), "test_samples": len(te), "epochs": args.epochs,
                           "pairs_per_epoch": per_epoch, "batch_size": args.batch}
    for name, fam, opts in (("graph-transformer", "graph-transformer", GT), ("meshgraphnet", "meshgraphnet", MGN)):
        model, wall = train(fam, opts, tr, args.epochs, args.batch, samples_per_epoch=per_epoch, noise=0.02)
        one_sq, one_n, roll_sq, roll_n, final = 0.0, 0, 0.0, 0, []
        t0 = time.perf_counter()
        for s in te:
            T, q = s.fields["temperature"], s.input_fields["heat_source"]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for t in range(0, len(s.times) - 1, args.one_step_stride):
                    p = model.predict(s.mesh, s.inputs, input_fields={"temperature": T[t],
                                      "heat_source": q[t:t + 2]}, steps=1)
                    one_sq += float(((p.fields["temperature"][1] - T[t + 1]) ** 2).sum())
                    one_n += T.shape[1]
                p = model.predict_sample(s)
            err = p.fields["temperature"][1:] - T[1:]
            roll_sq += float((err**2).sum())
            roll_n += err.size
            final.append(float(np.sqrt((err[-1] ** 2).mean())))
        out[name] = {"one_step_rmse_K": float(np.sqrt(one_sq / one_n)),
                     "rollout_rmse_K": float(np.sqrt(roll_sq / roll_n)),
                     "final_step_rmse_K": final, "train_s": wall, "eval_s": time.perf_counter() - t0,
                     "parameters": model.parameter_count(), "final_loss": model.metrics["final_loss"][0]}
        print(f"{name}: {out[name]}", flush=True)
    return out


def part_speed(args) -> dict[str, Any]:
    import torch

    from surrogates.common.training import Task, loss_terms

    ds = dataset(args.plate, "plate2d", args.n_plate)
    tr = subset(ds, "train", 2 * args.batch)
    runs = {}
    for name, fam, opts in (("graph-transformer", "graph-transformer", GT), ("meshgraphnet", "meshgraphnet", MGN)):
        model, _ = train(fam, opts, tr, 0, args.batch)
        net = model.networks[0].train()
        task = Task(model.encoder, [model.encoder.example(s, model.extra_edges) for s in tr], 0.0,
                    model.prepare_batch)
        batches = [task.batch(list(range(k, k + args.batch))) for k in range(0, len(tr), args.batch)]
        opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
        runs[name] = (model, net, batches, opt)
    times: dict[str, list[float]] = {k: [] for k in runs}
    for rep in range(args.repeat + 1):
        for name, (model, net, batches, opt) in runs.items():
            b = batches[rep % len(batches)]
            t0 = time.perf_counter()
            f, s = net(b.graph)
            loss, _, _ = loss_terms(f, s, b, 1.0)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if rep > 0:  # the first is a warm-up
                times[name].append(time.perf_counter() - t0)
    out: dict[str, Any] = {"batch_size": args.batch, "repeats": args.repeat}
    for name, (model, net, batches, _) in runs.items():
        g = batches[0].graph
        extra = {"attention_edges": int(g.extras["attn_edges"].edge_index.shape[1])} if "attn_edges" in g.extras else {}
        out[name] = {"parameters": model.parameter_count(), "step_s_median": float(np.median(times[name])),
                     "step_s_all": times[name], "nodes_per_batch": g.num_nodes,
                     "mesh_edges": int(g.edges["mesh"].edge_index.shape[1]), **extra}
    out["speedup"] = out["meshgraphnet"]["step_s_median"] / out["graph-transformer"]["step_s_median"]
    out["size_ratio"] = out["meshgraphnet"]["parameters"] / out["graph-transformer"]["parameters"]
    return out


# ----------------------------------------------------------------- memory
def memory_child(family: str, n_side: int, checkpointing: bool) -> None:
    """In a fresh process: one forward + backward on an n_side x n_side node mesh; print JSON."""
    import tempfile

    import torch

    import surrogates
    from surrogates.common.synthetic import make_steady_dataset, plate_mesh
    from surrogates.common.training import Task, loss_terms

    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    with tempfile.TemporaryDirectory() as tmp:
        tiny = make_steady_dataset(Path(tmp) / "ds", n=3)
        opts = MGN if family == "meshgraphnet" else GT
        model = surrogates.create(family, dict(opts, epochs=0, activation_checkpointing=checkpointing))
        model.fit(tiny)
    mesh = plate_mesh(n_side, n_side, np.random.default_rng(0), jitter=0.2)
    x, y = mesh.points.T
    from mesh.dataset import Sample

    s = Sample("big", mesh, {"P": 1.5, "s": 0.5}, {"U": x * y, "S": x + y}, {"max_U": 1.0})
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    task = Task(model.encoder, [model.encoder.example(s, model.extra_edges)], 0.0, model.prepare_batch)
    b = task.batch([0])
    net = model.networks[0].train()
    t1 = time.perf_counter()
    f, sc = net(b.graph)
    loss, _, _ = loss_terms(f, sc, b, 1.0)
    loss.backward()
    t2 = time.perf_counter()
    print(json.dumps({"nodes": mesh.n_points, "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                      "rss_before_gb": base / 2**20, "prepare_s": t1 - t0, "fwd_bwd_s": t2 - t1}))


def linear_extrapolation(measured: list[dict], target_gb: float) -> dict[str, Any]:
    """Least-squares line peak_rss_gb = a + b * nodes over the measured sizes, and the node
    count where it reaches ``target_gb`` (an EXTRAPOLATION beyond the largest measured size)."""
    pts = [(m["nodes"], m["peak_rss_gb"]) for m in measured if "peak_rss_gb" in m]
    if len(pts) < 2:
        return {"note": "fewer than 2 measured sizes: no trend"}
    n, g = np.array(pts, float).T
    b, a = np.polyfit(n, g, 1)
    return {"gb_at_0_nodes": float(a), "gb_per_million_nodes": float(b * 1e6),
            "max_abs_residual_gb": float(np.abs(a + b * n - g).max()),
            "largest_measured_nodes": int(n.max()), "target_gb": target_gb,
            "extrapolated_nodes_at_target": int((target_gb - a) / b) if b > 0 else None}


def part_memory(args) -> dict[str, Any]:
    out: dict[str, Any] = {"cap_gb": args.mem_cap, "sizes": "side x side nodes, side x sqrt(2) per step"}
    # glibc keeps freed heap blocks mapped, so peak RSS would count dead temporaries (it hid
    # the effect of activation checkpointing: MeshGraphNet 2.2 GB with and without at 4.9k
    # nodes); serving every block >= 128 KiB by mmap returns it on free, and the peak RSS
    # then follows the live tensors (1.5 GB without, 0.8 GB with checkpointing)
    env = {**os.environ, "BENCH_THREADS": str(args.threads), "MALLOC_MMAP_THRESHOLD_": "131072"}
    for family in ("graph-transformer", "meshgraphnet"):
        for ckpt in (False, True):
            tried = []
            side = args.mem_start
            while True:
                proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_models", "--memory-child",
                                       family, str(side), str(int(ckpt))], cwd=REPO, env=env,
                                      capture_output=True, text=True, timeout=args.mem_timeout,
                                      check=False)
                if proc.returncode != 0:
                    tried.append({"nodes": side * side, "failed": proc.stderr.strip().splitlines()[-1:]})
                    break
                res = json.loads(proc.stdout.strip().splitlines()[-1])
                tried.append(res)
                print(f"{family} checkpointing={ckpt}: {res}", flush=True)
                grow = res["peak_rss_gb"] - res["rss_before_gb"]
                # next size has ~2x the nodes: stop when its predicted peak passes the cap
                if res["rss_before_gb"] + 2.2 * grow > args.mem_cap or res["fwd_bwd_s"] * 3 > args.mem_timeout:
                    break
                side = int(round(side * 2**0.5))
            key = f"{family}{' +checkpointing' if ckpt else ''}"
            out[key] = {"measured": tried, "trend": linear_extrapolation(tried, args.mem_target)}
            print(f"{key}: {out[key]['trend']}", flush=True)
    return out


PARTS = {"speed": part_speed, "plate": part_plate, "ensemble": part_ensemble, "posenc": part_posenc, "heat": part_heat,
         "memory": part_memory}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--memory-child":
        memory_child(sys.argv[2], int(sys.argv[3]), bool(int(sys.argv[4])))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=list(PARTS), required=True)
    ap.add_argument("--plate", type=Path, default=REPO / "runs" / "bench" / "plate2d")
    ap.add_argument("--heat", type=Path, default=REPO / "runs" / "bench" / "heat2d")
    ap.add_argument("--n-plate", type=int, default=60)
    ap.add_argument("--n-heat", type=int, default=12)
    ap.add_argument("--n-train", type=int, default=16, help="plate2d training samples")
    ap.add_argument("--n-test", type=int, default=12, help="plate2d test samples")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--heat-pairs", type=int, default=32, help="heat2d (sample, step) pairs per epoch")
    ap.add_argument("--one-step-stride", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--members", type=int, default=3, help="ensemble: deep-ensemble members")
    ap.add_argument("--calib", type=int, default=20, help="ensemble: training samples held out to calibrate")
    ap.add_argument("--seeds", type=int, default=1, help="posenc: training seeds per encoding")
    ap.add_argument("--families", default="graph-transformer,meshgraphnet",
                    help="plate: the models to train (run them as separate processes to use two cores)")
    ap.add_argument("--encodings", default="bias,rope,both,none", help="posenc: encodings to compare")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--mem-cap", type=float, default=8.0, help="GB")
    ap.add_argument("--mem-start", type=int, default=100, help="first mesh side (nodes = side^2)")
    ap.add_argument("--mem-target", type=float, default=24.0, help="GB the trend is extrapolated to")
    ap.add_argument("--mem-timeout", type=int, default=300)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    res = PARTS[args.part](args)
    res["wall_s"] = time.perf_counter() - t0
    res["threads"] = args.threads
    text = json.dumps(res, indent=1, default=float)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
