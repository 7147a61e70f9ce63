"""The ``surrogate`` command line: data, train, predict, validate, view, solve, demo.

Every command turns the project's named errors into one red line naming the
file, sample or field, and a non-zero exit code; no library traceback is shown.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable, List, Optional

import typer

from .console import err_console

app = typer.Typer(
    name="surrogate",
    help="Surrogate models of physical simulations on meshes: datasets, training, prediction, "
         "validation against FEM, and a web viewer.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Inspect, import, export and generate datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")

DEFAULT_VIEW_PORT = 8080  # the same as apps.view_command.DEFAULT_PORT


def _fail(message: str, code: int = 1) -> None:
    err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(code)


def _physics_errors() -> type[Exception]:
    """The base class of physics' named errors (imported only when an error is handled)."""
    from physics.errors import PhysicsError

    return PhysicsError


def handles_errors(fn: Callable) -> Callable:
    """Report the project's named errors as one clear line and exit 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from mesh.errors import DatasetError, MeshError

        try:
            return fn(*args, **kwargs)
        except (DatasetError, MeshError, FileNotFoundError, KeyError, ValueError, OSError,
                _physics_errors()) as exc:
            msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            _fail(msg)

    return wrapper


# ---------------------------------------------------------------- data
@data_app.command("info")
@handles_errors
def data_info(root: Path = typer.Argument(..., help="Dataset folder (with dataset.yaml).")) -> None:
    """Summarise a dataset: samples, node counts, fields, splits."""
    from .data_commands import print_info

    print_info(root)


@data_app.command("import")
@handles_errors
def data_import(
    src: str = typer.Argument(..., help="Folder or glob of mesh files, an XDMF time series, or a PLAID dataset folder."),
    out: Path = typer.Option(..., "--out", "-o", help="Dataset folder to create (re-running resumes)."),
    outputs: Optional[str] = typer.Option(None, help="Comma-separated output point fields (default: all common ones)."),
    inputs: Optional[str] = typer.Option(None, help="Comma-separated input scalars from the files' field data."),
    test_fraction: float = typer.Option(0.2, help="Share of samples in the test split (mesh files)."),
    seed: int = typer.Option(0, help="Seed of the train/test split."),
) -> None:
    """Import meshes, an XDMF time series or a PLAID dataset into a dataset folder."""
    from .data_commands import run_import

    run_import(src, out, outputs=outputs, inputs=inputs, test_fraction=test_fraction, seed=seed)


@data_app.command("export")
@handles_errors
def data_export(
    root: Path = typer.Argument(..., help="Dataset folder."),
    fmt: str = typer.Option("plaid", "--format", help="Target format: plaid."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
) -> None:
    """Export a dataset to another format (PLAID, CGNS backend)."""
    from .data_commands import run_export

    run_export(root, fmt, out)


@data_app.command("generate")
@handles_errors
def data_generate(
    recipe: str = typer.Argument(..., help="Recipe name (plate2d, holeplate2d, blade3d, heat2d) or a recipe YAML file."),
    n: int = typer.Option(..., "--n", help="Number of samples."),
    out: Path = typer.Option(..., "--out", "-o", help="Dataset folder (re-running resumes)."),
    seed: int = typer.Option(0, help="Seed: the same seed gives the same dataset, whatever the workers."),
    workers: Optional[int] = typer.Option(None, help="Dask local worker processes (default: CPU count)."),
    scheduler: Optional[str] = typer.Option(None, help="Address of a running dask.distributed scheduler."),
    test_fraction: float = typer.Option(0.2, help="Share of samples in the test split."),
) -> None:
    """Generate a dataset with the FEM solvers on random geometries, through Dask."""
    if workers is not None and scheduler is not None:
        _fail("give either --workers or --scheduler, not both")
    from .generate_command import run_generate

    run_generate(recipe, n, out, seed=seed, workers=workers, scheduler=scheduler, test_fraction=test_fraction)


# ---------------------------------------------------------------- models
@app.command()
@handles_errors
def train(
    dataset: Path = typer.Option(..., "--dataset", "-d", help="Dataset folder."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder to write the trained model to."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model family: mmgp, meshgraphnet, graph-transformer."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML file of model options (may name the model)."),
    epochs: Optional[int] = typer.Option(None, help="Training epochs (neural models)."),
    batch_size: Optional[int] = typer.Option(None, help="Batch size (neural models)."),
    lr: Optional[float] = typer.Option(None, help="Learning rate (neural models)."),
    option: Optional[List[str]] = typer.Option(None, "--set", help="Any model option as NAME=VALUE (repeatable)."),
    split: Optional[str] = typer.Option(None, help="Split to train on (default: 'train' if present, else all)."),
    resume: bool = typer.Option(False, help="Continue an interrupted training from its last checkpoint."),
    tensorboard: bool = typer.Option(False, "--tensorboard", help="Also log metrics as TensorBoard events in RUN/work/tensorboard (neural models)."),
) -> None:
    """Train a surrogate on a dataset and save it to a run folder."""
    from .train_command import parse_assignments, run_train

    overrides = parse_assignments(option, "option")
    overrides.update({k: v for k, v in (("epochs", epochs), ("batch_size", batch_size), ("lr", lr))
                      if v is not None})
    if tensorboard:
        overrides["tensorboard"] = True
    run_train(model, dataset, out, config, overrides, resume, split)


@app.command()
@handles_errors
def predict(
    run: Path = typer.Argument(..., help="Run folder of a trained model."),
    mesh: Optional[Path] = typer.Argument(None, help="Mesh file to predict on (any meshio format)."),
    inputs: Optional[List[str]] = typer.Option(None, "--input", "-i", help="Input scalar as NAME=VALUE (repeatable)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output VTU (one mesh) or folder (--dataset)."),
    dataset: Optional[Path] = typer.Option(None, "--dataset", "-d", help="Predict every sample of this dataset."),
    split: Optional[str] = typer.Option(None, help="Only this split of --dataset."),
    steps: Optional[int] = typer.Option(None, help="Rollout steps (time-dependent models); writes XDMF."),
) -> None:
    """Predict fields (with their uncertainty) on a new mesh or on a whole dataset."""
    from .train_command import parse_assignments, run_predict

    run_predict(run, mesh, parse_assignments(inputs, "input"), out, dataset, split, steps)


@app.command()
@handles_errors
def validate(
    run: Path = typer.Argument(..., help="Run folder of a trained model."),
    dataset: Path = typer.Option(..., "--dataset", "-d", help="Dataset with reference solutions (or its recipe for --solve)."),
    out: Path = typer.Option(..., "--out", "-o", help="Report folder (re-running resumes)."),
    solve: bool = typer.Option(False, "--solve", help="Run the FEM solver on new held-out cases (through Dask) as references."),
    n_solve: Optional[int] = typer.Option(None, "--n-solve", help="How many held-out cases to solve with --solve (default 4)."),
    workers: Optional[int] = typer.Option(None, help="Dask local worker processes for --solve."),
    scheduler: Optional[str] = typer.Option(None, help="Address of a running dask.distributed scheduler."),
    split: Optional[str] = typer.Option(None, help="Dataset split to validate on (default: test, else all)."),
    max_rrmse: Optional[List[str]] = typer.Option(None, "--max-rrmse", help="FIELD=VALUE: exit non-zero when RRMSE exceeds VALUE."),
    compare: Optional[List[Path]] = typer.Option(None, "--compare", help="Other run folders to put in the same report."),
) -> None:
    """Validate a model against FEM references and write a report (metrics.csv, summary.json, report.html)."""
    if workers is not None and scheduler is not None:
        _fail("give either --workers or --scheduler, not both")
    from .validate_command import run_validate

    code = run_validate(run, dataset, out, solve=solve, workers=workers, scheduler=scheduler, split=split,
                        max_rrmse=max_rrmse, compare=compare, n_solve=n_solve)
    raise typer.Exit(code)


@app.command()
@handles_errors
def view(
    target: str = typer.Argument(..., help="Run predictions, dataset, validation report folder, or mesh file(s)."),
    port: int = typer.Option(DEFAULT_VIEW_PORT, help="Port of the web app on localhost."),
    host: str = typer.Option("localhost", help="Interface to serve on."),
    field: Optional[str] = typer.Option(None, help="Field shown first."),
    sample: Optional[str] = typer.Option(None, help="Sample shown first."),
    export: Optional[str] = typer.Option(None, help="Write a static file instead of serving: png or html."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output file of --export."),
    open_browser: bool = typer.Option(False, "--open", help="Open the page in the default browser."),
    step: Optional[int] = typer.Option(None, help="Time step of a series for --export (default: the last; "
                                                  "negative counts from the end)."),
) -> None:
    """Open the web viewer (server-side rendering, no Qt) or export a picture / offline HTML."""
    from .view_command import run_view

    run_view(target, port=port, host=host, field=field, export=export, out=out,
             open_browser=open_browser, sample=sample, step=step)


@app.command()
@handles_errors
def solve(
    case: Path = typer.Argument(..., help="Case YAML: mesh, physics, material, boundary conditions, output."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Result file (overrides the case's 'output')."),
) -> None:
    """Solve one FEM case file (elasticity, heat) and write the result (VTU, or XDMF for transients)."""
    from .solve_command import run_solve

    run_solve(case, out)


@app.command()
@handles_errors
def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", "-o", help="Where the demo writes its results."),
    n: int = typer.Option(64, "--n", help="Samples to generate (80 % train, 20 % test)."),
    n_solve: int = typer.Option(4, "--n-solve", help="New FEM cases solved during validation."),
    workers: int = typer.Option(2, help="Dask worker processes for the FEM solves."),
) -> None:
    """The main job on the default problem: generate, train MMGP, predict on a new mesh, validate, report."""
    from .demo import run_demo

    run_demo(out, n=n, n_solve=n_solve, workers=workers)


def main() -> None:
    """Entry point of the ``surrogate`` command."""
    app()


@app.callback()
def _setup() -> None:
    """Process-wide set-up of every command (the CLI owns process state, not the library)."""
    from .render import preload_triton

    preload_triton()


if __name__ == "__main__":
    main()
