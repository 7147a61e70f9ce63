"""Several runs in one report: the same cases, one table and one chart per metric.

The first run is validated into ``REPORT_DIR`` as usual; every other run into
``REPORT_DIR/compare/<label>/`` (its own cases, summary and report) against the same
references. :func:`comparison` puts their summaries side by side.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import html as H

COMPARE_DIR = "compare"


def run_labels(runs: Sequence[Path]) -> list[str]:
    """Short distinct labels of run folders: their names, numbered when two are alike."""
    names = [Path(r).resolve().name or "run" for r in runs]
    out = []
    for i, n in enumerate(names):
        out.append(n if names.count(n) == 1 else f"{n}-{i + 1}")
    return out


def comparison(summaries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Side-by-side numbers of several validations of the same cases.

    Parameters
    ----------
    summaries : run label -> its ``summary.json`` content (the first is the main run).

    Returns
    -------
    ``{"runs": [...], "outputs": {name: {run: {rrmse, q2, coverage95}}},
    "timings": {run: {predict_s, speedup}}, "best": {name: run}}`` (best = lowest RRMSE).
    """
    runs = list(summaries)
    names = list(dict.fromkeys(n for s in summaries.values() for n in s["outputs"]))
    outputs: dict[str, Any] = {}
    best: dict[str, str | None] = {}
    for n in names:
        outputs[n] = {r: {k: summaries[r]["outputs"].get(n, {}).get(k)
                          for k in ("rrmse", "q2", "coverage95")} for r in runs}
        scored = [(v["rrmse"], r) for r, v in outputs[n].items() if v["rrmse"] is not None]
        best[n] = min(scored)[1] if scored else None
    timings = {r: {"predict_s": (summaries[r]["timings"]["predict_s"] or {}).get("median"),
                   "speedup": (summaries[r]["timings"]["speedup"] or {}).get("median"),
                   "family": summaries[r]["validation"].get("family"),
                   "run": summaries[r]["validation"].get("run")} for r in runs}
    return {"runs": runs, "outputs": outputs, "timings": timings, "best": best}


def comparison_html(comp: dict[str, Any]) -> str:
    """The comparison section of the main report: tables of RRMSE, Q2, coverage, timings and
    a grouped bar chart of the RRMSE per output."""
    from . import plots

    runs, outputs = comp["runs"], comp["outputs"]
    names = list(outputs)

    def metric_table(key: str, spec: str, lower_better: bool | None) -> str:
        rows = []
        for n in names:
            cells = []
            for r in runs:
                v = outputs[n][r][key]
                text = H.pct(v) if key == "coverage95" else H.num(v, spec)
                cells.append(f"<b>{text}</b>" if lower_better and comp["best"][n] == r else text)
            rows.append([H.esc(n), *cells])
        return H.table(["output", *map(H.esc, runs)], rows)

    t = comp["timings"]
    trows = [[H.esc(r), H.esc(t[r]["family"] or ""), f"<code>{H.esc(t[r]['run'] or '')}</code>",
              H.num(1e3 * t[r]["predict_s"]) + " ms" if t[r]["predict_s"] else "n/a",
              H.num(t[r]["speedup"]) + " &times;" if t[r]["speedup"] else "n/a"] for r in runs]
    chart = plots.grouped_bars(names, runs, {r: [outputs[n][r]["rrmse"] for n in names] for r in runs})
    return ("<h2>Comparison of runs</h2><p class='note'>The same cases predicted by every run; "
            f"the first, <b>{H.esc(runs[0])}</b>, is the one this report details. Every other run has "
            f"its own report under <code>{COMPARE_DIR}/&lt;label&gt;/</code>. Bold: lowest RRMSE.</p>"
            + H.table(["run", "family", "folder", "prediction (median)", "speed-up (median)"], trows, left=3)
            + H.img(chart, "RRMSE per output and run")
            + "<h3>RRMSE</h3>" + metric_table("rrmse", ".3g", True)
            + "<h3>Q2</h3>" + metric_table("q2", ".4f", None)
            + "<h3>Coverage of the 95 % interval</h3>" + metric_table("coverage95", "", None))
