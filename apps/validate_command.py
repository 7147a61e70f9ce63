"""`surrogate validate`: a trained model against reference solutions, with a report.

Wiring (apps/cli.py)::

    surrogate validate RUN --dataset DIR --out REPORT_DIR [--solve [--n-solve K]]
        [--workers W | --scheduler ADDR] [--split test] [--max-rrmse FIELD=VALUE ...]
        [--compare RUN2 ...]

    raise typer.Exit(run_validate(run, dataset, out, solve, workers, scheduler, split,
                                  parse_thresholds(max_rrmse), compare, n_solve))

Exit codes: 0 every threshold met (or none given); 1 the validation could not run
(the message says why); 2 the report is written but the model failed it: an RRMSE
above its threshold (the outputs are named) or a case the model could not predict.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .console import console, err_console

EXIT_OK, EXIT_ERROR, EXIT_THRESHOLD = 0, 1, 2


def parse_thresholds(items: Sequence[str] | dict[str, Any] | None) -> dict[str, float]:
    """``["U2=0.01", "sig22=2e-3"]`` -> ``{"U2": 0.01, "sig22": 0.002}``.

    Raises
    ------
    ValueError
        An item that is not ``NAME=NUMBER``.
    """
    if isinstance(items, dict):
        return dict(items)
    out: dict[str, float] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--max-rrmse '{item}' must look like FIELD=VALUE (e.g. U2=0.01)")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"--max-rrmse '{item}': '{value}' is not a number") from None
    return out


def run_validate(run: Path, dataset: Path, out: Path, solve: bool = False, workers: int | None = None,
                 scheduler: str | None = None, split: str | None = None,
                 max_rrmse: dict[str, float] | Sequence[str] | None = None,
                 compare: list[Path] | None = None, n_solve: int | None = None, *,
                 progress: bool = True, pictures: bool = True) -> int:
    """Validate, write the report, print the summary table; return the exit code.

    See :func:`apps.validation.validate` for the parameters. Errors of the inputs (missing
    run folder, mismatched dataset, unknown threshold field, ...) are printed as one line
    and give exit code 1; failed thresholds give 2.
    """
    from mesh.errors import DatasetError, MeshError
    from surrogates.errors import SurrogateError

    from .validation import ValidateError, validate

    try:
        result = validate(Path(run), Path(dataset), Path(out), solve=solve, workers=workers,
                          scheduler=scheduler, split=split, max_rrmse=parse_thresholds(max_rrmse),
                          compare=[Path(c) for c in compare or []], n_solve=n_solve,
                          progress=progress, pictures=pictures)
    except (ValidateError, SurrogateError, DatasetError, MeshError, FileNotFoundError) as exc:
        err_console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        return EXIT_ERROR
    print_summary(result.summary)
    console.print(f"report: [bold]{result.report}[/]")
    if not result.passed:
        checks = result.summary["thresholds"]
        why = [f"{k}: RRMSE {_n(checks[k]['rrmse'])} > {_n(checks[k]['max_rrmse'])}" for k in result.failed]
        if result.prediction_failures:
            why.append(f"the model failed to predict {len(result.prediction_failures)} case(s): "
                       + ", ".join(f"{f['id']} ({f['error']})" for f in result.prediction_failures[:5]))
        err_console.print("[bold red]FAILED:[/] " + "; ".join(why), soft_wrap=True)
        return EXIT_THRESHOLD
    if result.summary["thresholds"]:
        console.print("[bold green]PASSED[/]: every RRMSE is within its threshold")
    return EXIT_OK


def _n(v: Any, spec: str = ".3g") -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def print_summary(summary: dict[str, Any]) -> None:
    """The per-output metrics and the timings as rich tables."""
    from rich.table import Table

    v = summary["validation"]
    table = Table(title=f"{v['run_name']} ({v['family']}) on {v['n_cases']} cases: {v['cases']}",
                  title_justify="left")
    for col in ("output", "RRMSE", "Q2", "max abs error", "at", "cov. 95 %", "threshold"):
        table.add_column(col, justify="left" if col in ("output", "at") else "right")
    kinds = [o["kind"] for o in summary["outputs"].values()]
    for k, (name, o) in enumerate(summary["outputs"].items()):
        if k and kinds[k] != kinds[k - 1]:
            table.add_section()
        th = summary["thresholds"].get(name)
        limit = "" if th is None else (f"[green]<= {_n(th['max_rrmse'])} ok[/]" if th["passed"]
                                       else f"[red]> {_n(th['max_rrmse'])} FAIL[/]")
        at = o["max_abs_error_case"] or ""
        if o["max_abs_error_node"] is not None:
            at += f":{o['max_abs_error_node']}"
        cov = "n/a" if o["coverage95"] is None else f"{100 * o['coverage95']:.1f} %"
        unit = f" ({o['unit']})" if o["unit"] else ""
        table.add_row(f"{name}{unit}", _n(o["rrmse"]), _n(o["q2"], ".4f"), _n(o["max_abs_error"]), at,
                      cov, limit)
    console.print(table)
    t = summary["timings"]
    parts = []
    if t["predict_s"]:
        parts.append(f"prediction {1e3 * t['predict_s']['median']:.1f} ms (median)")
    if t["fem_solve_s"]:
        parts.append(f"FEM solve {t['fem_solve_s']['median']:.2f} s (median)")
    if t["speedup"]:
        parts.append(f"speed-up x{t['speedup']['median']:.3g} (median)")
    if parts:
        console.print("timings: " + ", ".join(parts))
    for stage in ("reference solve", "prediction"):
        bad = [f for f in summary.get("failures", []) if f["stage"] == stage]
        if bad:
            console.print(f"[yellow]{len(bad)} {stage}(s) failed[/]: "
                          + "; ".join(f"{f['id']}: {f['error']}: {f['message']}" for f in bad[:5]))
    comp = summary.get("compare")
    if comp:
        ct = Table(title="comparison (RRMSE)", title_justify="left")
        ct.add_column("output")
        for r in comp["runs"]:
            ct.add_column(r, justify="right")
        for name, per in comp["outputs"].items():
            ct.add_row(name, *(("[bold]" if comp["best"][name] == r else "") + _n(per[r]["rrmse"])
                               for r in comp["runs"]))
        console.print(ct)
