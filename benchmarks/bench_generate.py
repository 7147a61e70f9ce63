"""Dataset generation benchmark: `data generate plate2d --n 64` on 1 and on 2 workers, one run.

    python -m benchmarks.bench_generate [--recipe plate2d] [--n 64] [--workers 1 2] [--json out.json]

For each worker count, the whole :func:`physics.generate.generate` call is timed
(Dask LocalCluster start-up, meshing, solving, writing the VTU files and the
manifest) into a fresh folder, with the same seed, so both runs make the same
samples. Reported: wall time, samples per minute, mean per-sample cost split into
meshing and solving (as measured inside the workers), node counts, how many samples
developed plasticity, and the speed-up of each worker count over the first.
Target (2-core machine): n = 64 plate2d samples in at most 120 s with 2 workers.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def run(recipe: str, n: int, workers: int, root: Path, seed: int = 0) -> dict:
    """Generate ``n`` samples with ``workers`` processes; return the measurements."""
    from physics.generate import generate

    out = root / f"{recipe}-w{workers}"
    shutil.rmtree(out, ignore_errors=True)
    outcomes = []
    t0 = time.perf_counter()
    ds = generate(recipe, n, out, seed=seed, workers=workers, progress=outcomes.append)
    wall = time.perf_counter() - t0
    done = [o for o in outcomes if o.status == "done"]
    mesh_s = np.array([o.mesh_s for o in done])
    solve_s = np.array([o.solve_s for o in done])
    nodes = np.array([e.n_points for e in ds.entries])
    res = {
        "recipe": recipe, "n": n, "workers": workers, "wall_s": round(wall, 2),
        "samples_per_min": round(60.0 * len(done) / wall, 1),
        "written": len(ds), "failed": len(outcomes) - len(done),
        "mesh_s_mean": round(float(mesh_s.mean()), 3), "solve_s_mean": round(float(solve_s.mean()), 3),
        "sample_s_mean": round(float((mesh_s + solve_s).mean()), 3),
        "sample_s_max": round(float((mesh_s + solve_s).max()), 3),
        "nodes_min": int(nodes.min()), "nodes_max": int(nodes.max()),
    }
    if "max_p" in ds.problem.output_scalars:
        p = ds.scalars_array()[:, list(ds.problem.output_scalars).index("max_p")]
        res["plastic_samples"] = int((p > 1e-4).sum())
        res["max_p_median"] = float(np.median(p))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", default="plate2d")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    print(f"{os.cpu_count()} CPU cores; recipe {args.recipe}, n = {args.n}")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-generate-") as tmp:
        for w in args.workers:
            r = run(args.recipe, args.n, w, Path(tmp))
            results.append(r)
            print(f"workers={w}: {r['wall_s']:.1f} s wall, {r['samples_per_min']} samples/min; per sample "
                  f"mesh {r['mesh_s_mean']:.2f} s + solve {r['solve_s_mean']:.2f} s (max "
                  f"{r['sample_s_max']:.2f} s); nodes {r['nodes_min']}..{r['nodes_max']}; "
                  f"written {r['written']}, failed {r['failed']}"
                  + (f"; plastic (max p > 1e-4) in {r['plastic_samples']}/{r['written']}"
                     if "plastic_samples" in r else ""), flush=True)
    base = results[0]["wall_s"]
    for r in results:
        r["speedup"] = round(base / r["wall_s"], 2)
    print(f"speed-up over workers={results[0]['workers']}: "
          + ", ".join(f"workers={r['workers']}: {r['speedup']}x" for r in results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
