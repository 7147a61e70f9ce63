"""`surrogate train` and `surrogate predict`: any model family, through the Surrogate interface."""
from __future__ import annotations

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


class _Bar:
    """Adapter from the models' progress(stage, done, total) callback to rich progress bars."""

    def __init__(self, bar: Progress) -> None:
        self.bar, self.tasks = bar, {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.bar.add_task(stage, total=total)
        self.bar.update(self.tasks[stage], completed=done, total=total)


def run_train(model: str | None, dataset: Path, out: Path, config: Path | None,
              overrides: dict[str, Any], resume: bool, split: str | None) -> Path:
    """Train a model on a dataset split and write the run folder."""
    import surrogates
    from mesh.dataset import Dataset

    cfg = load_config(config)
    family = model or cfg.pop("model", None)
    cfg.pop("model", None)
    if family is None:
        raise ValueError("say which model to train: --model NAME or 'model: NAME' in the config file "
                         f"(families: {', '.join(surrogates.FAMILIES)})")
    cls = surrogates.family_class(family)
    fields = cls.config_class.model_fields
    for k in overrides:
        if k not in fields:
            raise ValueError(f"option '{k}' does not apply to model '{family}'; its options: "
                             f"{', '.join(fields)}")
    ds = Dataset(dataset)
    split = split or ("train" if "train" in ds.splits else None)
    train = ds.split(split) if split else ds
    m = surrogates.create(family, {**cfg, **overrides})
    console.print(f"training [bold]{family}[/] on {len(train)} samples of '{ds.name}'"
                  f"{f' (split {split})' if split else ''}")
    t0 = time.perf_counter()
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err_console) as bar:
        m.fit(train, progress=_Bar(bar), workdir=Path(out) / "work", resume=resume)
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
        pred = model.predict(read(mesh_path), {k: float(v) for k, v in inputs.items()}, steps=steps)
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
