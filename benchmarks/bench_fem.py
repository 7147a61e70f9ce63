"""Solve-time scaling of 3D linear elasticity on P1 tetrahedra, iterative vs direct.

A steel cube [0, 1]^3 m (E = 210 GPa, nu = 0.3) clamped on x = 0 under its own
weight, on structured tetrahedral meshes from ~10k to ~1M DOFs. For each size:

- assembly: the vectorised P1-tetra stiffness (``physics.fast_p1``) and the load
  vector, timed together; scikit-fem's generic assembly of the same matrix is
  timed too up to ``--skfem-max-dof`` and checked equal;
- iterative: pyamg smoothed aggregation (rigid body modes as near-nullspace)
  preconditioned scipy CG to ``--rtol``; setup (hierarchy) and solve timed apart;
- direct: scipy SuperLU (``splu``, the factorisation ``spsolve`` uses) up to
  ``--direct-max-dof``; factorisation and solve timed apart, and the two solutions
  compared.

All in one process, one size after the other. Usage::

    python benchmarks/bench_fem.py                       # up to ~1M DOFs
    python benchmarks/bench_fem.py --max-dof 100000 --json bench_fem.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mesh.structured import box_tetra
from physics.fast_p1 import tet_gradients, tet_p1_stiffness
from physics.linsolve import DirichletSolver, rigid_body_modes

E, NU, RHO, G = 210e9, 0.3, 7850.0, 9.81
TARGETS = (1e4, 3e4, 1e5, 3e5, 1e6)


def sizes(max_dof: float) -> list[int]:
    """Cells per cube side for the target DOF counts 3 (n + 1)^3 <= max_dof."""
    ns = [max(1, round((t / 3) ** (1 / 3)) - 1) for t in TARGETS if t <= max_dof * 1.05]
    return sorted(set(ns))


def assemble(points: np.ndarray, tets: np.ndarray):
    """Stiffness (BSR 3x3 blocks) and gravity load vector [N] (3N,)."""
    lam = E * NU / ((1 + NU) * (1 - 2 * NU))
    mu = E / (2 * (1 + NU))
    K = tet_p1_stiffness(points, tets, lam, mu)
    _, vol = tet_gradients(points, tets)
    f = np.zeros(3 * len(points))
    f[2::3] = -RHO * G * np.bincount(tets.ravel(), np.repeat(vol / 4, 4), len(points))
    return K, f, lam, mu


def skfem_reference(points, tets, lam, mu, K) -> tuple[float, float]:
    """Time scikit-fem's assembly of the same stiffness; return (seconds, max rel diff)."""
    import skfem

    from physics.forms import elasticity

    t0 = time.perf_counter()
    m = skfem.MeshTet(np.ascontiguousarray(points.T), np.ascontiguousarray(tets.T))
    basis = skfem.Basis(m, skfem.ElementVector(skfem.ElementTetP1()), intorder=2)
    K_ref = elasticity.assemble(basis, lam=lam, mu=mu)
    dt = time.perf_counter() - t0
    return dt, float(abs(K_ref - K.tocsr()).max() / abs(K_ref).max())


def run_size(n: int, args) -> dict:
    m = box_tetra(n)
    p, t = m.points, m.cells[0].data
    ndof = 3 * len(p)
    row: dict = {"n": n, "nodes": len(p), "tets": len(t), "dofs": ndof}
    t0 = time.perf_counter()
    K, f, lam, mu = assemble(p, t)
    row["assembly_s"] = time.perf_counter() - t0
    if ndof <= args.skfem_max_dof:
        row["skfem_assembly_s"], row["skfem_rel_diff"] = skfem_reference(p, t, lam, mu, K)
    clamped = np.nonzero(p[:, 0] == 0.0)[0]
    fixed = (3 * clamped[:, None] + np.arange(3)).ravel()
    B = rigid_body_modes(np.repeat(p.T, 3, axis=1))
    it = DirichletSolver(K, fixed, method="iterative", near_nullspace=B, blocksize=3,
                         rtol=args.rtol, maxiter=1000)
    u = it.solve(f, 0.0)
    row.update(iter_setup_s=it.info.setup_time, iter_solve_s=it.info.solve_time,
               iterations=it.info.iterations, residual=it.info.residual,
               tip_deflection_m=float(u[2::3].min()))
    row["iter_total_s"] = row["assembly_s"] + it.info.setup_time + it.info.solve_time
    del it
    if ndof <= args.direct_max_dof:
        d = DirichletSolver(K, fixed, method="direct")
        ud = d.solve(f, 0.0)
        row.update(direct_setup_s=d.info.setup_time, direct_solve_s=d.info.solve_time,
                   direct_vs_iter_rel_diff=float(np.abs(ud - u).max() / np.abs(ud).max()))
        row["direct_total_s"] = row["assembly_s"] + d.info.setup_time + d.info.solve_time
        row["ratio_direct_over_iter"] = (d.info.setup_time + d.info.solve_time) / (
            row["iter_setup_s"] + row["iter_solve_s"])
        del d
    return row


def table(rows: list[dict]) -> str:
    head = (f"{'dofs':>9} {'asm s':>7} {'skfem s':>8} {'AMG setup':>9} {'CG solve':>9} {'its':>4} "
            f"{'iter tot':>9} {'LU fact':>8} {'LU solve':>8} {'dir tot':>8} {'dir/iter':>8}")
    lines = [head, "-" * len(head)]

    def fmt(r, k, w, spec=".2f"):
        return f"{r[k]:{w}{spec}}" if k in r else f"{'-':>{w}}"

    for r in rows:
        lines.append(" ".join([f"{r['dofs']:9d}", fmt(r, "assembly_s", 7), fmt(r, "skfem_assembly_s", 8),
                               fmt(r, "iter_setup_s", 9), fmt(r, "iter_solve_s", 9),
                               f"{r['iterations']:4d}", fmt(r, "iter_total_s", 9),
                               fmt(r, "direct_setup_s", 8), fmt(r, "direct_solve_s", 8),
                               fmt(r, "direct_total_s", 8), fmt(r, "ratio_direct_over_iter", 8)]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-dof", type=float, default=1.05e6, help="largest problem (DOFs)")
    ap.add_argument("--direct-max-dof", type=float, default=1.5e5,
                    help="largest problem solved directly too")
    ap.add_argument("--skfem-max-dof", type=float, default=3.5e4,
                    help="largest problem also assembled by scikit-fem (reference)")
    ap.add_argument("--rtol", type=float, default=1e-8, help="CG relative residual")
    ap.add_argument("--json", type=Path, help="write the rows and machine info here")
    args = ap.parse_args(argv)
    info = {"python": platform.python_version(), "cpus": os.cpu_count(),
            "load_average_at_start": os.getloadavg(), "machine": platform.machine()}
    print(f"3D elasticity, P1 tetrahedra, cube clamped at x=0 under gravity; "
          f"CG rtol {args.rtol:g}; {info['cpus']} CPUs, load average {info['load_average_at_start']}")
    rows = []
    for n in sizes(args.max_dof):
        rows.append(run_size(n, args))
        r = rows[-1]
        print(f"  {r['dofs']:>9d} dofs: assembly {r['assembly_s']:.2f} s, AMG-CG "
              f"{r['iter_setup_s']:.2f} + {r['iter_solve_s']:.2f} s ({r['iterations']} its)"
              + (f", direct {r['direct_setup_s']:.2f} + {r['direct_solve_s']:.2f} s"
                 if "direct_setup_s" in r else ""), flush=True)
    print()
    print(table(rows))
    big = rows[-1]
    print(f"\nlargest: {big['dofs']} dofs, assembly + AMG setup + CG solve = "
          f"{big['iter_total_s']:.1f} s (target <= 90 s at 1M dofs)")
    for r in rows:
        if "skfem_rel_diff" in r:
            print(f"  {r['dofs']} dofs: vectorised assembly {r['skfem_assembly_s'] / r['assembly_s']:.1f}x "
                  f"faster than scikit-fem, max rel diff {r['skfem_rel_diff']:.1e}")
        if "direct_vs_iter_rel_diff" in r:
            print(f"  {r['dofs']} dofs: direct / iterative solve time {r['ratio_direct_over_iter']:.1f}, "
                  f"solutions differ by {r['direct_vs_iter_rel_diff']:.1e} (relative, max)")
    if args.json:
        args.json.write_text(json.dumps({"info": info, "args": {k: str(v) for k, v in vars(args).items()},
                                         "rows": rows}, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
