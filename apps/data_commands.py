"""`surrogate data ...`: info, import, export."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.markup import escape
from rich.table import Table

from .console import console, progress_bar


def dataset_summary(root: Path) -> dict:
    """Counts, node-count range, features and splits of a dataset, from its manifest only."""
    from mesh.dataset import Dataset

    ds = Dataset(root)
    n_points = np.array([e.n_points for e in ds.entries]) if len(ds) else np.zeros(1, int)
    return {
        "name": ds.name, "samples": len(ds), "time_dependent": ds.time_dependent,
        "nodes_min": int(n_points.min()), "nodes_max": int(n_points.max()),
        "inputs": {k: f.unit for k, f in ds.problem.inputs.items()},
        "outputs": {k: f.unit for k, f in ds.problem.outputs.items()},
        "output_scalars": {k: f.unit for k, f in ds.problem.output_scalars.items()},
        "splits": {k: len(v) for k, v in ds.splits.items()},
        "dataset": ds,
    }


def print_info(root: Path, max_rows: int = 20) -> dict:
    """Print a dataset's summary and its first samples as tables; return the summary."""
    s = dataset_summary(root)
    ds = s["dataset"]
    unit = lambda d: ", ".join(escape(f"{k} [{u}]") if u else k for k, u in d.items()) or "-"  # noqa: E731
    head = Table(title=f"dataset '{s['name']}' ({root})", show_header=False)
    head.add_row("samples", str(s["samples"]) + (" (time series)" if s["time_dependent"] else ""))
    head.add_row("nodes per sample", f"{s['nodes_min']} .. {s['nodes_max']}")
    head.add_row("input scalars", unit(s["inputs"]))
    head.add_row("output fields", unit(s["outputs"]))
    head.add_row("output scalars", unit(s["output_scalars"]))
    head.add_row("splits", ", ".join(f"{k}: {v}" for k, v in s["splits"].items()) or "-")
    console.print(head)
    table = Table(title=f"samples (first {min(max_rows, len(ds))} of {len(ds)})")
    for col in ("id", "nodes", "cells", *ds.problem.inputs, *ds.problem.output_scalars):
        table.add_column(col, justify="right" if col != "id" else "left")
    for e in ds.entries[:max_rows]:
        table.add_row(e.id, str(e.n_points), str(e.n_cells),
                      *[f"{e.inputs[k]:.4g}" for k in ds.problem.inputs],
                      *[f"{e.scalars[k]:.4g}" if k in e.scalars else "-" for k in ds.problem.output_scalars])
    console.print(table)
    return s


def _names(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def run_import(src: str, out: Path, *, outputs: str | None, inputs: str | None,
               test_fraction: float, seed: int):
    """Import from mesh files, an XDMF series or a PLAID folder, with a progress bar."""
    from mesh.importers import find_mesh_files, import_meshes, import_series

    p = Path(src)
    if p.is_dir() and (p / "infos.yaml").exists():
        from mesh.plaid import import_plaid

        n = len(list(p.glob("data/*/sample_*")))
        with progress_bar("importing PLAID", n) as advance:
            ds = import_plaid(p, out, progress=advance)
    else:
        files = find_mesh_files(src)
        series = all(f.suffix.lower() in (".xdmf", ".xmf") and _is_series(f) for f in files)
        with progress_bar("importing", len(files)) as advance:
            if series:
                ds = import_series(src, out, outputs=_names(outputs), progress=advance)
            else:
                ds = import_meshes(src, out, outputs=_names(outputs), inputs=_names(inputs),
                                   test_fraction=test_fraction, seed=seed, progress=advance)
    console.print(f"wrote dataset '{ds.name}' with {len(ds)} samples to [bold]{out}[/]")
    print_info(out, max_rows=5)
    return ds


def _is_series(f: Path) -> bool:
    text = f.read_text(errors="replace")
    return 'CollectionType="Temporal"' in text


def run_export(root: Path, fmt: str, out: Path) -> Path:
    """Export a dataset (PLAID only for now)."""
    from mesh.dataset import Dataset

    if fmt.lower() != "plaid":
        raise ValueError(f"unknown export format '{fmt}'; formats: plaid")
    from mesh.plaid import export_plaid

    path = export_plaid(Dataset(root), out)
    console.print(f"exported to PLAID at [bold]{path}[/]")
    return path
