"""`surrogate train` and `surrogate predict`: any model family, through the Surrogate interface."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .console import console, err_console


def load_config(path: Path | None) -> dict[str, Any]:
    """Read a YAML model configuration (a mapping); {} when no file is given."""
    if path is None:
        return {}
    if not Path(path).exists():
        raise FileNotFoundError(f"config file '{path}' does not exist")
    try:
        doc = yaml.safe_load(Path(path).read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"config file '{path}' is not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError(f"config file '{path}' must hold a mapping of options")
    return doc


def parse_assignments(items: list[str] | None, what: str) -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}`` (values parsed as YAML scalars)."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"{what} '{item}' must look like NAME=VALUE")
        k, v = item.split("=", 1)
        out[k.strip()] = yaml.safe_load(v)
    return out


def check_options(config_class: Any, family: str, from_file: dict[str, Any],
                  from_cli: dict[str, Any], path: Path | None) -> None:
    """Validate model options; the error names each bad option, its value and its source.

    Raises
    ------
    ValueError
        One line per problem: ``config file 'f.yaml': option 'hiden' = 64: unknown option
        of model 'graph-transformer' (did you mean 'hidden'?)``, then the valid options.
    """
    import difflib

    from pydantic import ValidationError

    try:
        config_class.model_validate({**from_file, **from_cli})
    except ValidationError as exc:
        names = list(config_class.model_fields)
        lines, unknown = [], False
        for err in exc.errors():
            key = str(err["loc"][0]) if err["loc"] else "?"
            source = "command line" if key in from_cli else f"config file '{path}'"
            value = {**from_file, **from_cli}.get(key, err.get("input"))
            if err["type"] == "extra_forbidden":
                unknown = True
                close = difflib.get_close_matches(key, names, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                lines.append(f"{source}: option '{key}' = {value!r}: unknown option of model "
                             f"'{family}'{hint}")
            else:
                where = ".".join(str(x) for x in err["loc"])
                lines.append(f"{source}: option '{where}' = {value!r}: {err['msg']}")
        if unknown:
            lines.append(f"options of '{family}': {', '.join(names)}")
        raise ValueError("invalid model options\n  " + "\n  ".join(lines)) from None


def _is_main_process() -> bool:
    """False on the ranks > 0 of a torchrun/torch.distributed job (``RANK`` or the group)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return int(os.environ.get("RANK", "0")) == 0


class _Bar:
    """Adapter from the models' progress(stage, done, total) callback to rich progress bars."""

    def __init__(self, bar: Progress) -> None:
        self.bar, self.tasks = bar, {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.bar.add_task(stage, total=total)
        self.bar.update(self.tasks[stage], completed=done, total=total)
        if done >= total:  # freeze its clock: later stages must not count as this one's time
            self.bar.stop_task(self.tasks[stage])


def run_train(model: str | None, dataset: Path, out: Path, config: Path | None,
              overrides: dict[str, Any], resume: bool, split: str | None) -> Path | None:
    """Train a model on a dataset split and write the run folder.

    Under ``torchrun`` every rank trains; only rank 0 prints and writes the run folder
    (the others return None).
    """
    import surrogates
    from mesh.dataset import Dataset

    cfg = load_config(config)
    family = model or cfg.pop("model", None)
    cfg.pop("model", None)
    if family is None:
        raise ValueError("say which model to train: --model NAME or 'model: NAME' in the config file "
                         f"(families: {', '.join(surrogates.FAMILIES)})")
    cls = surrogates.family_class(family)
    check_options(cls.config_class, family, cfg, overrides, config)
    ds = Dataset(dataset)
    split = split or ("train" if "train" in ds.splits else None)
    train = ds.split(split) if split else ds
    m = surrogates.create(family, {**cfg, **overrides})
    main = _is_main_process()
    if main:
        console.print(f"training [bold]{family}[/] on {len(train)} samples of '{ds.name}'"
                      f"{f' (split {split})' if split else ''}")
    t0 = time.perf_counter()
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err_console, disable=not main) as bar:
        m.fit(train, progress=_Bar(bar) if main else None, workdir=Path(out) / "work", resume=resume)
    if not main:  # under torchrun: rank 0 alone writes the run folder
        return None
    m.metrics.setdefault("train_seconds", time.perf_counter() - t0)
    m.metrics.setdefault("train_samples", len(train))
    m.metrics.setdefault("dataset", str(dataset))
    path = m.save(out)
    console.print(f"trained in {time.perf_counter() - t0:.1f} s; model written to [bold]{path}[/]")
    return path


def run_predict(run: Path, mesh_path: Path | None, inputs: dict[str, Any], out: Path,
                dataset: Path | None, split: str | None, steps: int | None) -> list[Path]:
    """Predict on one mesh file, or on every sample of a dataset split, and write VTU/XDMF files."""
    import surrogates
    from mesh.dataset import Dataset
    from mesh.io import read, write, write_series

    model = surrogates.load(run)
    written: list[Path] = []
    if (mesh_path is None) == (dataset is None):
        raise ValueError("give either a MESH file or --dataset DIR")
    if mesh_path is not None:
        mesh, fields = read_prediction_mesh(Path(mesh_path), model.problem, rollout=steps is not None)
        pred = model.predict(mesh, {k: float(v) for k, v in inputs.items()}, steps=steps,
                             **({"input_fields": fields} if fields else {}))
        written.append(_write_prediction(pred, Path(out), write, write_series))
        _report(pred, written[-1])
        return written
    ds = Dataset(dataset)
    if split:
        ds = ds.split(split)
    out = Path(out)
    with Progress(TextColumn("[bold]predicting"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err_console) as bar:
        task = bar.add_task("predict", total=len(ds))
        times = []
        for sample in ds:
            t0 = time.perf_counter()
            pred = model.predict_sample(sample, steps=steps)
            times.append(time.perf_counter() - t0)
            suffix = ".xdmf" if pred.times is not None else ".vtu"
            written.append(_write_prediction(pred, out / f"{sample.id}{suffix}", write, write_series))
            bar.advance(task)
    console.print(f"{len(written)} predictions written to [bold]{out}[/] "
                  f"(median {1e3 * float(np.median(times)):.0f} ms per sample)")
    return written


def read_prediction_mesh(path: Path, problem, rollout: bool) -> tuple[Any, dict[str, np.ndarray]]:
    """The mesh to predict on and the fields it carries that the model takes as inputs.

    Parameters
    ----------
    path : a mesh file (VTU, MSH, ...) or an XDMF time series (as ``surrogate predict``
        writes and ``data generate`` stores).
    problem : the model's :class:`~mesh.problem.ProblemDefinition`.
    rollout : also take the model's output fields found in the file, as initial states.

    Returns
    -------
    (mesh, fields): point fields named as the problem's input fields, (N,) / (N, c) from a
    single mesh, stacked over time (T, N) / (T, N, c) from a series; output fields too
    (first state used) when ``rollout``.
    """
    from mesh.io import read, read_series

    wanted = set(problem.input_fields) | (set(problem.outputs) if rollout else set())
    if path.suffix.lower() == ".xdmf" and _is_series(path):
        mesh, _times, steps = read_series(path)
        names = [n for n in steps[0] if n in wanted] if steps else []
        return mesh, {n: np.stack([np.asarray(st[n]) for st in steps]) for n in names}
    mesh = read(path)
    return mesh, {n: np.asarray(v) for n, v in mesh.point_data.items() if n in wanted}


def _is_series(path: Path) -> bool:
    """True when an XDMF file holds a temporal collection (several grids)."""
    head = path.read_text(errors="replace")[:20000]
    return 'CollectionType="Temporal"' in head


def _write_prediction(pred, path: Path, write, write_series) -> Path:
    if pred.times is not None:
        steps = [{k: v[t] for k, v in pred.fields.items()} for t in range(len(pred.times))]
        return write_series(pred.mesh.without_data(), pred.times, steps, path.with_suffix(".xdmf"))
    return write(pred.to_mesh(), path if path.suffix else path.with_suffix(".vtu"))


def _report(pred, path: Path) -> None:
    for name, v in pred.fields.items():
        std = pred.std.get(name)
        extra = f", mean std {float(np.mean(std)):.3g}" if std is not None else ""
        console.print(f"  {name}: min {float(np.min(v)):.4g}, max {float(np.max(v)):.4g}{extra}")
    for name, v in pred.scalars.items():
        s = pred.scalars_std.get(name)
        console.print(f"  {name} = {v:.4g}" + (f" ± {1.96 * s:.3g} (95 %)" if s is not None else ""))
    console.print(f"uncertainty: {pred.uncertainty}; time: "
                  + ", ".join(f"{k} {1e3 * v:.1f} ms" for k, v in pred.timings.items()))
    console.print(f"prediction written to [bold]{path}[/]")
