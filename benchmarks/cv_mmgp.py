"""K-fold cross-validation of MMGP settings on a dataset's training split.

A single validation split of a few hundred plates is noisy: the field RRMSE is a root
mean square over samples, and on plate2d a handful of samples near the limit load
carry most of the U1 error. This script fits on K-1 folds, predicts the held-out fold
through :meth:`MMGP.predict` (the user's path), and pools the K held-out folds: every
training sample is predicted once, by a model that never saw it, and the test split
is never touched.

Prints one JSON line per configuration: pooled field RRMSE (DESIGN.md section 5) and
scalar RRMSE, then the per-fold U1 and U2 figures.

Usage::

    python benchmarks/cv_mmgp.py --data runs/bench/plate2d_700 --config '{"n_modes_geometry": 32}' \\
        --config '{"n_modes_geometry": 64}'
    python benchmarks/cv_mmgp.py --data runs/bench/plate2d_700 --yaml data/configs/mmgp_plate2d.yaml
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_mmgp import field_rrmse  # noqa: E402

from mesh.dataset import Dataset  # noqa: E402
from surrogates.mmgp import MMGP  # noqa: E402


def cross_validate(train: Dataset, config: dict, folds: int) -> dict:
    """Pooled held-out errors of ``config`` over ``folds`` contiguous folds of ``train``.

    Returns
    -------
    {"fields": {name: RRMSE}, "scalars": {name: RRMSE}, "per_fold": [{name: RRMSE}],
    "seconds": wall time}
    """
    ids = train.ids
    bounds = np.linspace(0, len(ids), folds + 1).astype(int)
    names = list(train.problem.field_names)
    refs, preds = {n: [] for n in names}, {n: [] for n in names}
    rel = {n: [] for n in train.problem.output_scalars}
    per_fold = []
    t = time.perf_counter()
    for k in range(folds):
        held = ids[bounds[k]:bounds[k + 1]]
        fit = [i for i in ids if i not in set(held)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            model = MMGP({**config, "uncertainty": "none"}).fit(train.subset(fit))
            pairs = [(s, model.predict(s.mesh, s.inputs)) for s in train.subset(held)]
        fold = {}
        for n in names:
            r, q = [np.asarray(s.fields[n]) for s, _ in pairs], [p.fields[n] for _, p in pairs]
            refs[n] += r
            preds[n] += q
            fold[n] = field_rrmse(r, q)[0]
        for n in rel:
            rel[n] += [(p.scalars[n] - s.scalars[n]) / s.scalars[n] for s, p in pairs if s.scalars[n] != 0]
        per_fold.append(fold)
    return {"fields": {n: field_rrmse(refs[n], preds[n])[0] for n in names},
            "scalars": {n: float(np.sqrt(np.mean(np.square(v)))) for n, v in rel.items() if v},
            "per_fold": per_fold, "seconds": time.perf_counter() - t}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="dataset folder (its train split is used)")
    ap.add_argument("--config", action="append", default=[], help="MMGP options as JSON (repeatable)")
    ap.add_argument("--yaml", action="append", default=[], type=Path, help="MMGP settings file (repeatable)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--json", type=Path, help="write all results here")
    args = ap.parse_args()
    configs = [json.loads(c) for c in args.config]
    for path in args.yaml:
        raw = yaml.safe_load(path.read_text()) or {}
        raw.pop("model", None)
        configs.append(raw)
    if not configs:
        raise SystemExit("give at least one --config or --yaml")
    train = Dataset(args.data).split("train")
    if not 2 <= args.folds <= len(train):
        raise SystemExit(f"--folds {args.folds} must be between 2 and {len(train)}")
    results = []
    for cfg in configs:
        res = cross_validate(train, cfg, args.folds)
        results.append({"config": cfg, **res})
        flat = {**res["fields"], **res["scalars"]}
        print(json.dumps({k: float(f"{v:.4g}") for k, v in flat.items()}), f"({res['seconds']:.0f} s)")
        for n in ("U1", "U2"):
            if n in res["fields"]:
                print(f"  per fold {n}: " + " ".join(f"{f[n]:.3g}" for f in res["per_fold"]))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
