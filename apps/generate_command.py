"""`surrogate data generate RECIPE`: make a dataset of FEM solutions with a progress bar.

The work is done by :func:`physics.generate.generate`; this module shows it: a
rich progress bar labelled with each sample's cost, a summary of the run (samples
written, resumed, failed; time per sample split into meshing and solving), the
failures, and where the dataset is.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from rich.markup import escape
from rich.table import Table

from .console import console, err_console, progress_bar


def run_generate(recipe: str, n: int, out: Path, seed: int = 0, workers: int | None = None,
                 scheduler: str | None = None, test_fraction: float = 0.2):
    """Generate (or resume) a dataset from a recipe, printing progress and a summary.

    Parameters
    ----------
    recipe : bundled recipe name (``plate2d``, ``holeplate2d``, ``blade3d``, ``heat2d``) or
        path to a recipe YAML file.
    n : number of samples.
    out : dataset folder (re-running on it resumes).
    seed : dataset seed.
    workers : local worker processes (None: one per core; 0: in this process).
    scheduler : address of a Dask scheduler to use instead of a local cluster.
    test_fraction : share of samples in the test split.

    Returns
    -------
    The generated :class:`mesh.dataset.Dataset`.

    Raises
    ------
    RecipeError, GenerateError
        From :func:`physics.generate.generate` (invalid recipe, incompatible folder,
        no sample made); the CLI turns them into one red line.
    """
    from physics.generate import check_resumable, check_solver_available
    from physics.recipes import load_recipe

    rec = load_recipe(recipe)
    check_solver_available(rec)
    check_resumable(out, rec, seed)  # fail before the progress bar is drawn
    where = f"scheduler {scheduler}" if scheduler else (
        "this process" if workers == 0 else f"{workers or 'one per core'} local worker process(es)")
    console.print(f"generating [bold]{n}[/] samples of recipe '{escape(rec.name)}' "
                  f"({rec.geometry.family}, {rec.physics.solver}) with seed {seed} on {escape(where)}")
    done: list = []
    failed: list = []
    logger = logging.getLogger("physics.generate")
    level = logger.level
    logger.setLevel(logging.ERROR)  # failures are summarised below, not logged over the bar
    try:
        ds = _run(rec, n, out, seed, workers, scheduler, test_fraction, done, failed)
    finally:
        logger.setLevel(level)
    _summary(ds, done, failed, n - len(done) - len(failed), out)
    return ds


def _run(rec, n: int, out: Path, seed: int, workers: int | None, scheduler: str | None,
         test_fraction: float, done: list, failed: list):
    from physics.generate import generate

    with progress_bar("generate", n) as advance:
        def progress(outcome) -> None:
            if outcome.status == "skipped":
                advance(f"{outcome.id} already on disk")
            elif outcome.status == "done":
                done.append(outcome)
                advance(f"{outcome.id}: {outcome.n_points} nodes, mesh {outcome.mesh_s:.1f} s, "
                        f"solve {outcome.solve_s:.1f} s")
            else:
                failed.append(outcome)
                advance(f"[red]{outcome.id} failed: {escape(outcome.failure.error)}[/]")

        return generate(rec, n, out, seed=seed, workers=workers, scheduler=scheduler,
                        test_fraction=test_fraction, progress=progress)


def _summary(ds, done: list, failed: list, skipped: int, out: Path) -> None:
    prov = ds.manifest.provenance
    table = Table(title="generation", show_header=False)
    table.add_row("samples written", f"{len(ds)} ({len(done)} new, {skipped} already on disk)")
    table.add_row("failed", str(len(failed)))
    table.add_row("wall time", f"{prov.get('wall_time_s', float('nan')):.1f} s")
    if done:
        m = np.array([o.mesh_s for o in done])
        s = np.array([o.solve_s for o in done])
        table.add_row("per sample", f"mesh {m.mean():.2f} s + solve {s.mean():.2f} s (mean), "
                                    f"max total {(m + s).max():.2f} s")
    if len(ds):
        nodes = np.array([e.n_points for e in ds.entries])
        table.add_row("nodes", f"{nodes.min()} .. {nodes.max()}")
    table.add_row("splits", ", ".join(f"{k}: {len(v)}" for k, v in ds.splits.items()))
    console.print(table)
    if failed:
        err_console.print(f"[bold yellow]{len(failed)} sample(s) failed[/] (not written; re-run the "
                          "same command to retry them):")
        for o in sorted(failed, key=lambda o: o.index):
            f = o.failure
            err_console.print(f"  {f.id}: {escape(f.error)}: {escape(f.message.splitlines()[0][:200])}")
    console.print(f"dataset '{escape(ds.name)}' in [bold]{escape(str(out))}[/] "
                  f"(manifest {escape(str(Path(out) / 'dataset.yaml'))}; per-sample provenance "
                  f"{escape(str(Path(out) / prov.get('samples_file', 'generation.json')))})")
