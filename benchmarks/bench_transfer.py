"""Benchmark: FE transfer operator build and disk morphing on 2D meshes.

Transfer: build the sparse interpolation operator from a jittered structured
triangulated unit square (10k and 100k nodes) to as many random target points,
and apply it to a field; the baseline, in the same run on the same data, is
``scipy.interpolate.LinearNDInterpolator(points, values)(targets)``, which
triangulates (Delaunay) and locates. Morphing: Tutte and Floater (mean-value)
disk mappings at 5k and 100k nodes, with the inversion count.

Usage::

    python benchmarks/bench_transfer.py            # table
    python benchmarks/bench_transfer.py --json     # machine-readable
    python benchmarks/bench_transfer.py --quick    # small sizes only (smoke test)
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable

import numpy as np
from scipy.interpolate import LinearNDInterpolator

from mesh.core import CellBlock, Mesh
from mesh.morphing import disk_mapping, inverted_cells
from mesh.transfer import interpolation_matrix


def square_mesh(n_nodes: int, seed: int = 0) -> Mesh:
    """Unit square, about n_nodes nodes, structured triangles with jittered interior nodes."""
    n = max(round(float(np.sqrt(n_nodes))) - 1, 1)
    g = np.linspace(0.0, 1.0, n + 1)
    x, y = np.meshgrid(g, g, indexing="ij")
    pts = np.column_stack([x.ravel(), y.ravel()])
    inner = (pts > 0).all(1) & (pts < 1).all(1)
    pts[inner] += np.random.default_rng(seed).uniform(-0.15, 0.15, (inner.sum(), 2)) / n  # < 0.15 h keeps cells valid
    idx = np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    tri = np.concatenate([np.column_stack([a, b, c]), np.column_stack([a, c, d])])
    return Mesh(pts, [CellBlock("triangle", tri)])


def best_of(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Smallest wall time over ``repeat`` runs (seconds) and the last result."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def bench_transfer(n_nodes: int, repeat: int, baseline_repeat: int = 1) -> dict:
    src = square_mesh(n_nodes)
    rng = np.random.default_rng(1)
    targets = rng.uniform(0.0, 1.0, (src.n_points, 2))
    u = np.sin(3 * src.points[:, 0]) * np.cos(2 * src.points[:, 1])
    t_build, w = best_of(lambda: interpolation_matrix(src, targets), repeat)
    t_apply, ours = best_of(lambda: w @ u, repeat)
    t_base, base = best_of(lambda: LinearNDInterpolator(src.points, u)(targets), baseline_repeat)
    # the triangulations differ (ours: the mesh; baseline: Delaunay), so compare on a
    # linear field, which both reproduce exactly
    lin = 0.3 + src.points @ np.array([1.5, -2.0])
    err = float(np.abs(w @ lin - LinearNDInterpolator(src.points, lin)(targets)).max())
    return {
        "case": "transfer", "n_source_nodes": src.n_points, "n_source_cells": src.n_cells,
        "n_targets": len(targets), "build_s": t_build, "apply_s": t_apply,
        "baseline_s": t_base, "baseline_over_build": t_base / t_build,
        "baseline_over_build_plus_apply": t_base / (t_build + t_apply),
        "nnz": int(w.nnz), "max_abs_diff_linear_field": err,
        "max_abs_diff_smooth_field": float(np.abs(ours - base).max()),
    }


def bench_morph(n_nodes: int, repeat: int) -> list[dict]:
    m = square_mesh(n_nodes, seed=2)
    out = []
    for name, weights in (("tutte", "uniform"), ("floater", "mean_value")):
        t, x = best_of(lambda w=weights: disk_mapping(m, weights=w), repeat)
        out.append({"case": f"morph_{name}", "n_nodes": m.n_points, "n_cells": m.n_cells,
                    "time_s": t, "inverted_cells": inverted_cells(m, x).count})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--quick", action="store_true", help="small sizes only")
    ap.add_argument("--repeat", type=int, default=3, help="runs per timing (best is kept)")
    ap.add_argument("--baseline-repeat", type=int, default=1,
                    help="runs of the (slow) LinearNDInterpolator baseline above 20k nodes")
    args = ap.parse_args()
    t_sizes = [2_000] if args.quick else [10_000, 100_000]
    m_sizes = [2_000] if args.quick else [5_000, 100_000]
    # warm-up (imports, first-call overheads) outside the timings
    bench_transfer(500, 1)
    bench_morph(500, 1)
    # the baseline takes tens of seconds at 100k nodes: repeat it fully only on small sizes
    rows = [bench_transfer(n, args.repeat, args.repeat if n <= 20_000 else args.baseline_repeat)
            for n in t_sizes]
    for n in m_sizes:
        rows += bench_morph(n, args.repeat)
    meta = {"python": platform.python_version(), "numpy": np.__version__,
            "cpus": os.cpu_count(), "machine": platform.machine(), "repeat": args.repeat,
            "baseline_repeat": args.baseline_repeat, "load_avg_1min": os.getloadavg()[0]}
    if args.json:
        print(json.dumps({"meta": meta, "results": rows}, indent=2))
        return
    print(f"# {meta}")
    for r in rows:
        if r["case"] == "transfer":
            print(f"transfer {r['n_source_nodes']:>7} nodes -> {r['n_targets']:>7} points: "
                  f"build {r['build_s']:.3f} s, apply {r['apply_s'] * 1e3:.2f} ms, "
                  f"LinearNDInterpolator {r['baseline_s']:.3f} s, "
                  f"ratio baseline/build {r['baseline_over_build']:.2f}x "
                  f"(linear-field diff {r['max_abs_diff_linear_field']:.1e})")
        else:
            print(f"{r['case']:<14} {r['n_nodes']:>7} nodes: {r['time_s']:.3f} s, "
                  f"inverted cells {r['inverted_cells']}")


if __name__ == "__main__":
    main()
