"""How accurate is a generated dataset itself? Mesh noise and discretisation error.

Every sample of a generated dataset is meshed on its own, so its FEM fields carry a
discretisation error that changes from mesh to mesh. A surrogate is scored against
those fields (DESIGN.md section 5 RRMSE), so this error is a floor under any score:
a surrogate that predicted the exact solution would still be off by about it.

This script regenerates the first ``--n`` samples of a dataset with the same recipe
and seed -- hence the same geometries and inputs -- on two other meshes:

- **remesh** (``mesh_size x --remesh``, default 0.9): a mesh as coarse as the data's,
  but another one. The RRMSE between the two solutions (transferred by linear FE
  interpolation onto the dataset's nodes) is the mesh-to-mesh noise of the data;
  each solution carries about 1/sqrt(2) of it.
- **fine** (``mesh_size x --fine``, default 0.5): the discretisation error of the data
  against a finer reference (a lower bound of the error against the exact solution).

Usage::

    python benchmarks/data_floor.py --data runs/bench/plate2d_700 --n 40 --json runs/bench/data_floor_plate2d.json

The regenerated datasets are kept next to ``--json`` (or in ``--work``); a re-run
resumes them.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mesh.dataset import Dataset  # noqa: E402
from mesh.transfer import interpolation_matrix  # noqa: E402
from physics.generate import generate  # noqa: E402
from physics.recipes import Recipe  # noqa: E402

from bench_mmgp import field_rrmse, scalar_rrmse  # noqa: E402


def remeshed(data: Dataset, factor: float, n: int, out: Path) -> Dataset:
    """The first ``n`` samples of ``data`` regenerated (same recipe and seed) with the
    element size multiplied by ``factor``, in ``out`` (resumed when present)."""
    prov = data.manifest.provenance
    recipe = Recipe.model_validate(prov["recipe"])
    size = recipe.geometry.mesh_size
    if size is None:
        raise SystemExit(f"{data.root}: its recipe has no explicit geometry.mesh_size to scale")
    geometry = recipe.geometry.model_copy(update={"mesh_size": float(f"{size * factor:.12g}")})
    recipe = recipe.model_copy(update={"geometry": geometry})
    return generate(recipe, n, out, seed=int(prov["seed"]), workers=2, test_fraction=0.0)


def compare(data: Dataset, other: Dataset) -> dict:
    """RRMSE of ``other``'s fields (interpolated onto ``data``'s nodes) and scalars
    against ``data``'s, over the samples they share; node counts of both."""
    fields = list(data.problem.field_names)
    scalars = list(data.problem.output_scalars)
    refs, preds = {f: [] for f in fields}, {f: [] for f in fields}
    sref, spred = {s: [] for s in scalars}, {s: [] for s in scalars}
    nodes = [], []
    for s2 in other:
        s = data[s2.id]
        for k, v in s.inputs.items():
            if not np.isclose(v, s2.inputs[k], rtol=1e-12):
                raise SystemExit(f"sample {s.id}: input {k} = {v} here but {s2.inputs[k]} regenerated: "
                                 "not the same recipe and seed")
        w = interpolation_matrix(s2.mesh, s.mesh.points)
        for f in fields:
            refs[f].append(np.asarray(s.fields[f], dtype=float))
            preds[f].append(w @ np.asarray(s2.fields[f], dtype=float))
        for k in scalars:
            sref[k].append(s.scalars[k])
            spred[k].append(s2.scalars[k])
        nodes[0].append(s.mesh.n_points)
        nodes[1].append(s2.mesh.n_points)
    return {"samples": len(other), "nodes_data": float(np.mean(nodes[0])), "nodes_other": float(np.mean(nodes[1])),
            "fields": {f: field_rrmse(refs[f], preds[f])[0] for f in fields},
            "scalars": {k: scalar_rrmse(np.array(sref[k]), np.array(spred[k]))[0] for k in scalars}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="a dataset made by `surrogate data generate`")
    ap.add_argument("--n", type=int, default=40, help="samples to regenerate")
    ap.add_argument("--remesh", type=float, default=0.9, help="element-size factor of the other coarse mesh")
    ap.add_argument("--fine", type=float, default=0.5, help="element-size factor of the fine reference")
    ap.add_argument("--work", type=Path, help="folder of the regenerated datasets (default: next to --json)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    data = Dataset(args.data)
    work = args.work or (args.json.parent if args.json else Path("runs/bench")) / f"{data.root.name}_floor"
    res = {"data": str(args.data), "n": args.n}
    for label, factor in (("remesh", args.remesh), ("fine", args.fine)):
        other = remeshed(data, factor, args.n, work / f"h{factor:g}")
        res[label] = {"size_factor": factor, **compare(data, other)}
    print(f"{data.root}: first {args.n} samples regenerated on other meshes "
          f"({res['remesh']['nodes_data']:.0f} nodes on average; remesh {res['remesh']['nodes_other']:.0f}, "
          f"fine {res['fine']['nodes_other']:.0f})\n")
    print(f"| quantity | RRMSE vs another mesh of the same size (x{args.remesh:g}) "
          f"| per-sample noise (/sqrt 2) | RRMSE vs fine mesh (x{args.fine:g}) |")
    print("|---|---|---|---|")
    for kind in ("fields", "scalars"):
        for q, v in res["remesh"][kind].items():
            print(f"| {q} | {v:.2e} | {v / np.sqrt(2):.2e} | {res['fine'][kind][q]:.2e} |")
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
