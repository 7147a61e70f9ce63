"""The main job of the README on the built-in default data.

What exists end to end today: import the bundled example dataset (six real car
surfaces in PLAID format, CFD pressure), summarise it, check every mesh, build
the graphs the neural surrogates train on, and write one VTU per sample with the
graph's node features so the result opens in ParaView.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from rich.table import Table

from .console import console, progress_bar

EXAMPLE = Path(__file__).resolve().parent.parent / "data" / "examples" / "car_surface_plaid"


def run_demo(out: Path, example: Path = EXAMPLE) -> dict:
    """Run the demo into ``out``; return a summary dict (also printed)."""
    from mesh.dataset import Dataset
    from mesh.graph import to_graph
    from mesh.io import write
    from mesh.quality import check_quality

    from .data_commands import run_import

    out = Path(out)
    console.rule("[bold]1. import the bundled example data (PLAID, 6 car surfaces with CFD pressure)")
    ds_dir = out / "car_surface"
    run_import(str(example), ds_dir, outputs=None, inputs=None, test_fraction=0.0, seed=0)
    ds = Dataset(ds_dir)

    console.rule("[bold]2. check the meshes and build their graphs")
    table = Table("sample", "nodes", "cells", "edges", "bnd nodes", "degree", "ms", "quality")
    vtu_dir = out / "graphs"
    rows = []
    with progress_bar("graphs", len(ds)) as advance:
        for sample in ds:
            m = sample.mesh
            t0 = time.perf_counter()
            g = to_graph(m)
            dt = (time.perf_counter() - t0) * 1e3
            q = check_quality(m)
            write(m.with_point_data(**sample.fields, degree=g.degree, boundary=g.boundary.astype(np.uint8)),
                  vtu_dir / f"{sample.id}.vtu")
            rows.append((sample.id, m.n_points, m.n_cells, g.num_edges, int(g.boundary.sum()),
                         float(g.degree.mean()), dt, "ok" if q.ok else q.summary(limit=2)))
            advance(sample.id)
    from .render import render_field

    first = ds[0]
    picture = render_field(first.mesh.with_point_data(**first.fields), "pressure", out / "car_pressure.png",
                           title="pressure")
    for r in rows:
        table.add_row(r[0], str(r[1]), str(r[2]), str(r[3]), str(r[4]), f"{r[5]:.2f}", f"{r[6]:.1f}", r[7])
    console.print(table)
    console.rule("[bold]done")
    console.print(f"dataset:    [bold]{ds_dir}[/]  (inspect: surrogate data info {ds_dir})")
    console.print(f"graph VTUs: [bold]{vtu_dir}[/]  (open in ParaView; fields: pressure, degree, boundary)")
    console.print(f"picture:    [bold]{picture}[/]")
    return {"dataset": str(ds_dir), "samples": len(ds), "graphs": rows, "picture": str(picture)}
